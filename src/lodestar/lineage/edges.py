"""Lineage edges (upstream -> downstream), asserted through the catalog's one write path:
authorised by the write policy, kept per source with first and last seen, announced as
`lineage_updated` on the downstream asset."""

from __future__ import annotations

from collections.abc import Sequence

from lodestar.catalog import Catalog, WriteContext
from lodestar.catalog.edges import LINEAGE, EdgeIn, EdgeResult


def lineage_edges(edges: Sequence[tuple[str, str, str, str]]) -> list[EdgeIn]:
    """(from kind, from FQN, to kind, to FQN) tuples as lineage edges."""
    return [EdgeIn(fk, ff, tk, tf, LINEAGE) for fk, ff, tk, tf in edges]


def add_lineage(
    catalog: Catalog,
    edges: Sequence[tuple[str, str, str, str] | EdgeIn],
    ctx: WriteContext,
) -> EdgeResult:
    """Record lineage edges in one unit of work; ends that do not exist are reported."""
    items = [e if isinstance(e, EdgeIn) else EdgeIn(*e, LINEAGE) for e in edges]
    with catalog.transaction(ctx) as tx:
        return tx.add_edges(items)


def record(catalog: Catalog, items: Sequence[EdgeIn], ctx: WriteContext) -> EdgeResult:
    """Assert lineage edges as given (column pairs and other props in `props`), in one unit of
    work, as the caller's source (a person's edges are `person:<name>`)."""
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

