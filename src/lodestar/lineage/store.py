"""The lineage capability's table and its queries: column-to-column lineage, and the hops of a
traversal over the `lineage` edges.

`lineage_columns` holds one row per column pair of each asserted lineage edge (the pairs in
the edge's `props.columns`), per source, kept by the `lineage_columns` derived writer in the
edge's own write transaction. A column is named by its asset's id and its name, the key of
the catalog's `columns` table, so a pair joins to the column it names with one key probe and
its id is `model.ids.column_id(asset, name)`. A pair naming a column the catalog does not
know (yet) is kept all the same.

A traversal asks for one hop of many nodes at a time (the frontier of a breadth-first walk),
`HOP_CHUNK` keys per statement, never one query per node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import assets, columns, edges, metadata

LINEAGE = "lineage"
HOP_CHUNK = 500

lineage_columns = sa.Table(
    "lineage_columns",
    metadata,
    sa.Column("from_id", sa.String(36), primary_key=True),
    sa.Column("from_column", sa.String(256), primary_key=True),
    sa.Column("to_id", sa.String(36), primary_key=True),
    sa.Column("to_column", sa.String(256), primary_key=True),
    sa.Column("via", sa.String(512), primary_key=True),
    sa.Column("source", sa.String(300), primary_key=True),
    sqlite_with_rowid=False,
)
# Downstream hops read the primary key's prefix (from_id, from_column); upstream hops this.
sa.Index("ix_lineage_columns_to", lineage_columns.c.to_id, lineage_columns.c.to_column)

# (from_id, from_column, to_id, to_column, via, source)
_PAIR_COLUMNS = ("from_id", "from_column", "to_id", "to_column", "via", "source")
PairRow = tuple[str, str, str, str, str, str]
# (from_id, to_id, via, source): the edge a pair belongs to (relation is always lineage).
EdgeOf = tuple[str, str, str, str]
ColumnKey = tuple[str, str]  # (asset id, column name)


# -- the derived writer's side ------------------------------------------------------------------
def insert_pairs(conn: Connection, rows: Sequence[PairRow]) -> None:
    if rows:
        conn.execute(
            lineage_columns.insert(),
            [dict(zip(_PAIR_COLUMNS, r, strict=True)) for r in rows],
        )


def delete_pairs(conn: Connection, keys: Sequence[EdgeOf]) -> None:
    """Drop the pairs of these edges."""
    if not keys:
        return
    t = lineage_columns
    stmt = t.delete().where(
        t.c.from_id == sa.bindparam("f"),
        t.c.to_id == sa.bindparam("t"),
        t.c.via == sa.bindparam("v"),
        t.c.source == sa.bindparam("s"),
    )
    conn.execute(stmt, [{"f": f, "t": to, "v": v, "s": s} for f, to, v, s in keys])


def delete_touching(conn: Connection, asset_ids: Sequence[str]) -> None:
    """Drop the pairs from or into these assets (they were erased with their edges)."""
    t = lineage_columns
    for i in range(0, len(asset_ids), HOP_CHUNK):
        chunk = list(asset_ids[i : i + HOP_CHUNK])
        conn.execute(t.delete().where(t.c.from_id.in_(chunk)))
        conn.execute(t.delete().where(t.c.to_id.in_(chunk)))


def clear(conn: Connection) -> None:
    conn.execute(lineage_columns.delete())


# -- hops ----------------------------------------------------------------------------------------
def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), HOP_CHUNK):
        yield list(items[i : i + HOP_CHUNK])


def asset_hop(
    conn: Connection, ids: Sequence[str], *, downstream: bool, with_deleted: bool
) -> list[tuple[str, str]]:
    """The lineage edges leaving (downstream) or entering (upstream) these assets, as
    (near end, far end) pairs, each pair once; far ends that are soft-deleted are left out
    unless `with_deleted`."""
    near, far = (edges.c.from_id, edges.c.to_id) if downstream else (edges.c.to_id, edges.c.from_id)
    out: set[tuple[str, str]] = set()
    for chunk in _chunks(ids):
        q = sa.select(near, far).where(edges.c.relation == LINEAGE, near.in_(chunk))
        if not with_deleted:
            q = q.join(assets, assets.c.id == far).where(assets.c.deleted.is_(False))
        out.update((str(a), str(b)) for a, b in conn.execute(q))
    return sorted(out)


def column_hop(
    conn: Connection, keys: Sequence[ColumnKey], *, downstream: bool, with_deleted: bool
) -> list[tuple[ColumnKey, ColumnKey]]:
    """The column pairs leaving (downstream) or entering (upstream) these columns, as
    (near column, far column), each once."""
    t = lineage_columns
    if downstream:
        near_id, near_col, far_id, far_col = t.c.from_id, t.c.from_column, t.c.to_id, t.c.to_column
    else:
        near_id, near_col, far_id, far_col = t.c.to_id, t.c.to_column, t.c.from_id, t.c.from_column
    out: set[tuple[ColumnKey, ColumnKey]] = set()
    for chunk in _chunks(keys):
        q = sa.select(near_id, near_col, far_id, far_col).where(
            sa.tuple_(near_id, near_col).in_(chunk)
        )
        if not with_deleted:
            q = q.join(assets, assets.c.id == far_id).where(assets.c.deleted.is_(False))
        out.update(((str(a), str(b)), (str(c), str(d))) for a, b, c, d in conn.execute(q))
    return sorted(out)


def nodes(conn: Connection, ids: Sequence[str], *, with_doc: bool = False) -> dict[str, Any]:
    """id -> row (id, kind, fqn, name, deleted[, doc]) of these assets."""
    cols = [assets.c.id, assets.c.kind, assets.c.fqn, assets.c.name, assets.c.deleted]
    if with_doc:
        cols.append(assets.c.doc)
    out: dict[str, Any] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(sa.select(*cols).where(assets.c.id.in_(chunk))):
            out[str(row[0])] = row
    return out


def known_columns(conn: Connection, keys: Sequence[ColumnKey]) -> set[ColumnKey]:
    """Those of these (asset, column) keys that the catalog knows as columns."""
    out: set[ColumnKey] = set()
    for chunk in _chunks(keys):
        q = sa.select(columns.c.asset_id, columns.c.name).where(
            sa.tuple_(columns.c.asset_id, columns.c.name).in_(chunk)
        )
        out.update((str(a), str(n)) for a, n in conn.execute(q))
    return out


def edge_rows(conn: Connection, ids: Sequence[str], *, downstream: bool) -> list[Any]:
    """Every lineage edge row (all sources) leaving (downstream) or entering these assets:
    from_id, to_id, via, source, props, created_at, last_seen."""
    near = edges.c.from_id if downstream else edges.c.to_id
    cols = (
        edges.c.from_id,
        edges.c.to_id,
        edges.c.via,
        edges.c.source,
        edges.c.props,
        edges.c.created_at,
        edges.c.last_seen,
    )
    out: list[Any] = []
    for chunk in _chunks(ids):
        out.extend(
            conn.execute(sa.select(*cols).where(edges.c.relation == LINEAGE, near.in_(chunk)))
        )
    return out
