"""Every table of the catalog's database: the core's (`store.tables`) and each capability's.

A capability keeps the tables of the facts it owns in its own package (`quality/store.py`),
declared on the one `store.tables.metadata`; importing them here is what lets the migrations
and the schema check see them.
"""

from __future__ import annotations

import sqlalchemy as sa

from lodestar.store.tables import metadata as _metadata


def metadata() -> sa.MetaData:
    """The shared metadata with every capability's tables loaded."""
    import lodestar.quality.store
    import lodestar.usage.store  # noqa: F401

    return _metadata
