"""Every table of the catalog's database: the core's (`store.tables`) and each capability's.

A capability keeps the tables of the facts it owns in its own package (`quality/store.py`),
declared on the one `store.tables.metadata`; importing them here is what lets the migrations
and the schema check see them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import lodestar.jobs.store  # noqa: F401 - registers job_runs
from lodestar.store.tables import metadata as _metadata


def metadata() -> sa.MetaData:
    """The shared metadata with every capability's tables loaded."""
    import lodestar.lineage.store
    import lodestar.openlineage.store
    import lodestar.quality.store
    import lodestar.search.store
    import lodestar.usage.queries
    import lodestar.usage.store  # noqa: F401

    return _metadata


def drift(engine: sa.Engine) -> list[Any]:
    """How the database differs from the declared tables (Alembic's comparison), leaving out
    what a derived writer manages and SQLAlchemy cannot describe (FTS5 shadow tables,
    expression indexes): empty when the migrations built exactly the declared schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lodestar.catalog import derived

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return name is None or not derived.managed(name)

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": include_name,
            },
        )
        return list(compare_metadata(ctx, metadata()))


def undeclared_tables(engine: sa.Engine) -> set[str]:
    """Tables in the database that no module declares and no derived writer manages."""
    from lodestar.catalog import derived

    names = set(sa.inspect(engine).get_table_names())
    return {
        n for n in names - set(metadata().tables) - {"alembic_version"} if not derived.managed(n)
    }
