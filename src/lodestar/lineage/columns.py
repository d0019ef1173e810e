"""Column lineage as a derived index: the `lineage_columns` writer (entry point
`lodestar.derived_writers`: `lineage_columns`) keeps one row per column pair of every asserted
lineage edge, in the edge's own write transaction, so column-level traversal is an index probe
per hop instead of a JSON scan of every edge. `lodestar db reindex lineage_columns` rebuilds
it from the edges.

Edge props carry the pairs as `"columns": [[upstream_column, downstream_column], ...]`. A
malformed list refuses the write (422), so what the index holds and what the edge says
never differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from lodestar.catalog import Batch, InvalidInput
from lodestar.lineage import store as ls

MAX_COLUMN_NAME = 256


def column_pairs(props: dict[str, Any] | None, where: str = "props") -> list[tuple[str, str]]:
    """The (upstream, downstream) column pairs of an edge's props, each once, in order; a
    malformed `columns` raises InvalidInput saying what to send."""
    raw = (props or {}).get("columns")
    if raw is None:
        return []
    how = 'send "columns" as a list of [upstream_column, downstream_column] name pairs'
    if not isinstance(raw, list):
        raise InvalidInput(
            f"{where}.columns: {how}", errors=[{"loc": [where, "columns"], "msg": how}]
        )
    out: dict[tuple[str, str], None] = {}
    for i, pair in enumerate(raw):
        ok = (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(c, str) and 0 < len(c) <= MAX_COLUMN_NAME for c in pair)
        )
        if not ok:
            msg = f"{how}, each name 1 to {MAX_COLUMN_NAME} characters (item {i}: {pair!r:.80})"
            raise InvalidInput(
                f"{where}.columns: {msg}", errors=[{"loc": [where, "columns", i], "msg": msg}]
            )
        out[(pair[0], pair[1])] = None
    return list(out)


def _rows(from_id: str, to_id: str, via: str, source: str, props: Any) -> Iterable[ls.PairRow]:
    for up, down in column_pairs(props if isinstance(props, dict) else None):
        yield (from_id, up, to_id, down, via, source)


class LineageColumns:
    """The derived writer of `lineage_columns`."""

    name = "lineage_columns"

    def apply(self, conn: Connection, batch: Batch) -> None:
        gone = [a.asset.id for a in batch.assets if a.event_type == "entity_hard_deleted"]
        if gone:
            ls.delete_touching(conn, gone)
        changes = [c for c in batch.edges if c.relation == ls.LINEAGE]
        if not changes:
            return
        stale = [(c.from_id, c.to_id, c.via, c.source) for c in changes if c.action != "added"]
        ls.delete_pairs(conn, stale)
        rows: dict[ls.PairRow, None] = {}
        for c in changes:
            if c.action != "removed":
                rows.update(dict.fromkeys(_rows(c.from_id, c.to_id, c.via, c.source, c.props)))
        ls.insert_pairs(conn, list(rows))

    def clear(self, conn: Connection) -> None:
        ls.clear(conn)

    def manages(self, object_name: str) -> bool:
        return False
