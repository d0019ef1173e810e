"""Lineage edges (upstream -> downstream), asserted through the catalog's one write path:
authorised by the write policy, kept per source with first and last seen, announced as
`lineage_updated` on the downstream asset."""

from __future__ import annotations

from collections.abc import Sequence

from lodestar.catalog import Catalog, WriteContext
from lodestar.catalog.edges import EdgeIn, EdgeResult


def add_lineage(catalog: Catalog, items: Sequence[EdgeIn], ctx: WriteContext) -> EdgeResult:
    """Assert lineage edges as given (column pairs and other props in `props`) in one unit of
    work, as the caller's source (a person's edges are `person:<name>`); ends that do not
    exist are reported."""
    with catalog.transaction(ctx) as tx:
        return tx.add_edges(items)


def retract(
    catalog: Catalog, item: EdgeIn, ctx: WriteContext, *, source: str | None = None
) -> EdgeResult:
    """Retract one lineage edge as the caller asserted it, or as `source` asserted it (a
    person may retract any source's edge into an asset they may edit; a connector only its
    own: a person's edge is never removed by a connector)."""
    with catalog.transaction(ctx) as tx:
        return tx.retract_edges(items=[item], source=source)
