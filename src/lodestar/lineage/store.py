"""The lineage capability's table and its queries: column-to-column lineage, and the hops of a
traversal over the `lineage` edges.

`lineage_columns` holds one row per column pair of each asserted lineage edge (the pairs in
the edge's `props.columns`), per source, kept by the `lineage_columns` derived writer in the
edge's own write transaction. A column is named by its asset's id and its name, the key of
the catalog's `columns` table, so a pair joins to the column it names with one key probe and
its id is `model.ids.column_id(asset, name)`. A pair naming a column the catalog does not
know (yet) is kept all the same.

A traversal asks for one hop of many nodes at a time (the frontier of a breadth-first walk)
in one statement, never one query per node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import metadata

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
# The hot reads of a walk, written once per database: a whole frontier goes in as one parameter
# (a JSON array on SQLite, read with json_each; a text array on PostgreSQL, `= ANY` or unnest),
# so a hop is one statement whatever its size, with no IN list to render.


def _rows(conn: Connection, sqlite: str, postgres: str, params: tuple[Any, ...]) -> list[Any]:
    if conn.dialect.name == "postgresql":
        return list(conn.exec_driver_sql(postgres, params).fetchall())
    return list(conn.exec_driver_sql(sqlite, tuple(_json(p) for p in params)).fetchall())


def _json(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, list) else value


def _doc(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def asset_hop(
    conn: Connection, ids: Sequence[str], *, downstream: bool, with_deleted: bool
) -> list[tuple[str, str]]:
    """The lineage edges leaving (downstream) or entering (upstream) these assets, as
    (near end, far end) pairs, each pair once; far ends that are soft-deleted are left out
    unless `with_deleted`."""
    if not ids:
        return []
    near, far = ("from_id", "to_id") if downstream else ("to_id", "from_id")
    live = "" if with_deleted else f" JOIN assets a ON a.id = e.{far} AND NOT a.deleted"
    sqlite = (
        f"SELECT DISTINCT e.{near}, e.{far} FROM edges e{live} WHERE e.relation = 'lineage' "
        f"AND e.{near} IN (SELECT value FROM json_each(?))"
    )
    postgres = (
        f"SELECT DISTINCT e.{near}, e.{far} FROM edges e{live} WHERE e.relation = 'lineage' "
        f"AND e.{near} = ANY(%s::text[])"
    )
    return [(str(a), str(b)) for a, b in _rows(conn, sqlite, postgres, (list(ids),))]


def column_hop(
    conn: Connection, keys: Sequence[ColumnKey], *, downstream: bool, with_deleted: bool
) -> list[tuple[ColumnKey, ColumnKey]]:
    """The column pairs leaving (downstream) or entering (upstream) these columns, as
    (near column, far column), each once."""
    if not keys:
        return []
    ni, nc, fi, fc = (
        ("from_id", "from_column", "to_id", "to_column")
        if downstream
        else ("to_id", "to_column", "from_id", "from_column")
    )
    live = "" if with_deleted else f" JOIN assets a ON a.id = t.{fi} AND NOT a.deleted"
    sqlite = (
        f"SELECT DISTINCT t.{ni}, t.{nc}, t.{fi}, t.{fc} FROM json_each(?) k "
        f"JOIN lineage_columns t ON t.{ni} = json_extract(k.value, '$[0]') "
        f"AND t.{nc} = json_extract(k.value, '$[1]'){live}"
    )
    postgres = (
        f"SELECT DISTINCT t.{ni}, t.{nc}, t.{fi}, t.{fc} "
        f"FROM unnest(%s::text[], %s::text[]) AS k(i, c) "
        f"JOIN lineage_columns t ON t.{ni} = k.i AND t.{nc} = k.c{live}"
    )
    if conn.dialect.name == "postgresql":
        params: tuple[Any, ...] = ([k[0] for k in keys], [k[1] for k in keys])
    else:
        params = ([list(k) for k in keys],)
    rows = _rows(conn, sqlite, postgres, params)
    return [((str(a), str(b)), (str(c), str(d))) for a, b, c, d in rows]


def nodes(conn: Connection, ids: Sequence[str], *, with_owners: bool = False) -> dict[str, Any]:
    """id -> row (id, kind, fqn, name, deleted[, owners]) of these assets."""
    if not ids:
        return {}
    cols = "id, kind, fqn, name, deleted"
    sqlite_owners = ", json_extract(doc, '$.owners')" if with_owners else ""
    postgres_owners = ", doc->'owners'" if with_owners else ""
    sqlite = (
        f"SELECT {cols}{sqlite_owners} FROM assets WHERE id IN (SELECT value FROM json_each(?))"
    )
    postgres = f"SELECT {cols}{postgres_owners} FROM assets WHERE id = ANY(%s::text[])"
    out: dict[str, Any] = {}
    for row in _rows(conn, sqlite, postgres, (list(ids),)):
        owners = _doc(row[5]) if with_owners else None
        out[str(row[0])] = Node(str(row[0]), row[1], row[2], row[3], bool(row[4]), owners)
    return out


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    fqn: str
    name: str
    deleted: bool
    owners: Any = None


def known_columns(conn: Connection, keys: Sequence[ColumnKey]) -> set[ColumnKey]:
    """Those of these (asset, column) keys that the catalog knows as columns."""
    if not keys:
        return set()
    sqlite = (
        "SELECT c.asset_id, c.name FROM json_each(?) k JOIN columns c "
        "ON c.asset_id = json_extract(k.value, '$[0]') AND c.name = json_extract(k.value, '$[1]')"
    )
    postgres = (
        "SELECT c.asset_id, c.name FROM unnest(%s::text[], %s::text[]) AS k(i, n) "
        "JOIN columns c ON c.asset_id = k.i AND c.name = k.n"
    )
    if conn.dialect.name == "postgresql":
        params: tuple[Any, ...] = ([k[0] for k in keys], [k[1] for k in keys])
    else:
        params = ([list(k) for k in keys],)
    return {(str(a), str(n)) for a, n in _rows(conn, sqlite, postgres, params)}


@dataclass(frozen=True, slots=True)
class EdgeRow:
    from_id: str
    to_id: str
    via: str
    source: str
    props: Any
    created_at: int
    last_seen: int


def edge_rows(
    conn: Connection, pairs: Iterable[tuple[str, str]], *, columns: bool = True
) -> list[EdgeRow]:
    """Every lineage edge row (all sources and vias) between these (from, to) pairs; without
    `columns`, their props leave out the column pairs (less JSON to read)."""
    wanted = sorted(set(pairs))
    if not wanted:
        return []
    sqlite_props = "e.props" if columns else "json_remove(e.props, '$.columns')"
    postgres_props = "e.props" if columns else "e.props - 'columns'"
    cols = "e.from_id, e.to_id, e.via, e.source, {props}, e.created_at, e.last_seen"
    sqlite = (
        f"SELECT {cols.format(props=sqlite_props)} FROM json_each(?) k JOIN edges e "
        "ON e.from_id = json_extract(k.value, '$[0]') AND e.relation = 'lineage' "
        "AND e.to_id = json_extract(k.value, '$[1]')"
    )
    postgres = (
        f"SELECT {cols.format(props=postgres_props)} "
        "FROM unnest(%s::text[], %s::text[]) AS k(f, t) JOIN edges e "
        "ON e.from_id = k.f AND e.relation = 'lineage' AND e.to_id = k.t"
    )
    if conn.dialect.name == "postgresql":
        params: tuple[Any, ...] = ([p[0] for p in wanted], [p[1] for p in wanted])
    else:
        params = ([list(p) for p in wanted],)
    return [
        EdgeRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), _doc(r[4]), int(r[5]), int(r[6]))
        for r in _rows(conn, sqlite, postgres, params)
    ]
