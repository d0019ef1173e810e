"""Queries over edges: body-derived edges replaced with their asset's body, asserted edges
kept per source with first and last seen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.rows import insert_rows
from lodestar.store.tables import assets, edges

BODY = "body"  # derived from the `from` asset's body: owners, tags, terms, domain, ...
PARENT = "parent"  # `contains`, derived from the child's parent field
DERIVED = (BODY, PARENT)

EDGE_COLUMNS = (
    "from_id",
    "relation",
    "to_id",
    "via",
    "source",
    "props",
    "created_at",
    "last_seen",
)
# A row in EDGE_COLUMNS order, props as JSON text.
EdgeRow = tuple[str, str, str, str, str, str | None, int, int]
# What names one edge: (from_id, relation, to_id, via, source).
EdgeKey = tuple[str, str, str, str, str]

# "Not derived" with the two sources as literals, not parameters: ix_edges_source is partial on
# exactly this condition, and PostgreSQL can only use it when it can prove the query's
# condition implies the index's, which it cannot for parameters (a prepared statement's
# generic plan then scanned every edge).
_ASSERTED = edges.c.source.not_in([sa.literal_column(f"'{s}'") for s in DERIVED])

# On PostgreSQL the look-ups by key probe the primary key once per key from a LATERAL
# subquery the planner cannot flatten (LIMIT 1 for a whole key, OFFSET 0 for a prefix), so
# the plan does not depend on statistics (see store/assets.py). The delete of body edges
# finds the rows so and deletes them by ctid.
_EXISTING_POSTGRES = """
SELECT e.from_id, e.relation, e.to_id, e.via, e.source, e.props
FROM unnest(%s::text[], %s::text[], %s::text[]) AS p(f, r, s)
CROSS JOIN LATERAL (
    SELECT from_id, relation, to_id, via, source, props FROM edges
    WHERE from_id = p.f AND relation = p.r AND source = p.s OFFSET 0
) AS e
"""  # by (from, relation, source), each once: with to_id too, ix_edges_to (to_id, relation)
# ties with the key when there are no statistics, and a popular target (an owner) has
# thousands of rows there.
_DELETE_BODY_POSTGRES = """
DELETE FROM edges WHERE ctid = ANY(ARRAY(
    SELECT e.ctid FROM unnest(%s::text[]) AS p(id)
    CROSS JOIN LATERAL (
        SELECT ctid FROM edges WHERE from_id = p.id AND source = 'body' OFFSET 0
    ) AS e
))
"""
_ASSERTED_FROM_POSTGRES = """
SELECT e.from_id, e.relation, e.to_id, e.via, e.source, e.props
FROM unnest(%s::text[]) AS p(id)
CROSS JOIN LATERAL (
    SELECT from_id, relation, to_id, via, source, props FROM edges
    WHERE from_id = p.id AND source NOT IN ('body', 'parent') OFFSET 0
) AS e
"""


def insert_edge_rows(conn: Connection, rows: Sequence[EdgeRow]) -> None:
    insert_rows(conn, "edges", EDGE_COLUMNS, rows)


def replace_body_edges(conn: Connection, from_ids: Sequence[str], rows: Sequence[EdgeRow]) -> None:
    """Drop the body-derived edges of these assets and insert their new ones; edges that other
    sources asserted, and `contains` (from the children's bodies), stay."""
    postgres = conn.dialect.name == "postgresql"
    for i in range(0, len(from_ids), 500):
        chunk = list(from_ids[i : i + 500])
        if postgres:
            conn.exec_driver_sql(_DELETE_BODY_POSTGRES, (chunk,))
        else:
            conn.execute(edges.delete().where(edges.c.from_id.in_(chunk), edges.c.source == BODY))
    insert_edge_rows(conn, rows)


def existing(conn: Connection, keys: Iterable[EdgeKey]) -> dict[EdgeKey, dict[str, Any] | None]:
    """The props of those of these edges that exist."""
    wanted = set(keys)
    out: dict[EdgeKey, dict[str, Any] | None] = {}
    if conn.dialect.name == "postgresql":
        prefixes = sorted({(f, rel, src) for f, rel, _t, _v, src in wanted})
        for i in range(0, len(prefixes), 500):
            chunk = prefixes[i : i + 500]
            arrays = tuple([p[j] for p in chunk] for j in range(3))
            for row in conn.exec_driver_sql(_EXISTING_POSTGRES, arrays):
                key = (str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))
                if key in wanted:
                    out[key] = row[5]
        return out
    by_source: dict[tuple[str, str], set[str]] = {}
    for f, rel, _t, _v, src in wanted:
        by_source.setdefault((rel, src), set()).add(f)
    for (rel, src), froms in by_source.items():
        ids = sorted(froms)
        for i in range(0, len(ids), 500):
            q = sa.select(edges.c.from_id, edges.c.to_id, edges.c.via, edges.c.props).where(
                edges.c.relation == rel,
                edges.c.source == src,
                edges.c.from_id.in_(ids[i : i + 500]),
            )
            for row in conn.execute(q):
                key = (str(row[0]), rel, str(row[1]), str(row[2]), src)
                if key in wanted:
                    out[key] = row[3]
    return out


def refresh(
    conn: Connection, keys: Sequence[EdgeKey], props: Sequence[str | None], last_seen: int
) -> None:
    """Mark asserted edges seen again, with their (possibly new) props as JSON text."""
    if not keys:
        return
    if conn.dialect.name == "sqlite":
        sql = (
            "UPDATE edges SET last_seen = ?, props = ? WHERE from_id = ? AND relation = ? "
            "AND to_id = ? AND via = ? AND source = ?"
        )
    else:
        sql = (
            "UPDATE edges SET last_seen = %s, props = %s::jsonb WHERE from_id = %s "
            "AND relation = %s AND to_id = %s AND via = %s AND source = %s"
        )
    conn.exec_driver_sql(sql, [(last_seen, p, *k) for k, p in zip(keys, props, strict=True)])


def retract(
    conn: Connection,
    *,
    source: str | None = None,
    relation: str | None = None,
    keys: Sequence[EdgeKey] = (),
    seen_before: int | None = None,
    touching: Sequence[str] = (),
) -> list[EdgeKey]:
    """Delete asserted edges and return their keys: the listed ones, or all of a source
    (optionally of one relation, last seen before a time, or touching some assets)."""
    removed: list[EdgeKey] = []
    cols = (edges.c.from_id, edges.c.relation, edges.c.to_id, edges.c.via, edges.c.source)
    conds: list[sa.ColumnElement[bool]] = [_ASSERTED]
    if keys:
        for k in keys:
            cond = sa.and_(*(c == v for c, v in zip(cols, k, strict=True)))
            if conn.execute(edges.delete().where(cond, *conds)).rowcount:
                removed.append(k)
        return removed
    if source is not None:
        conds.append(edges.c.source == source)
    if relation is not None:
        conds.append(edges.c.relation == relation)
    if seen_before is not None:
        conds.append(edges.c.last_seen < seen_before)
    if touching:
        ids = list(touching)
        conds.append(sa.or_(edges.c.from_id.in_(ids), edges.c.to_id.in_(ids)))
    removed = [tuple(r) for r in conn.execute(sa.select(*cols).where(*conds))]  # type: ignore[misc]
    if removed:
        conn.execute(edges.delete().where(*conds))
    return removed


def edges_of(conn: Connection, asset_id: str) -> list[dict[str, Any]]:
    """Edges touching an asset, both directions, with the other end's kind and FQN."""
    out: list[dict[str, Any]] = []
    for direction, mine, other in (
        ("out", edges.c.from_id, edges.c.to_id),
        ("in", edges.c.to_id, edges.c.from_id),
    ):
        q = (
            sa.select(
                edges.c.relation,
                edges.c.via,
                edges.c.source,
                assets.c.kind,
                assets.c.fqn,
                assets.c.id,
            )
            .join(assets, assets.c.id == other)
            .where(mine == asset_id)
            .order_by(edges.c.relation, assets.c.fqn, edges.c.source)
        )
        for relation, via, source, kind, fqn, aid in conn.execute(q):
            out.append(
                {
                    "direction": direction,
                    "relation": relation,
                    "via": via or None,
                    "kind": kind,
                    "fqn": fqn,
                    "id": aid,
                    "source": source,
                    "derived": source in DERIVED,
                }
            )
    return out


def asserted(
    conn: Connection, *, relation: str | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """Asserted edges (not body-derived), for reads and tests."""
    q = sa.select(*edges.c).where(_ASSERTED)
    if relation is not None:
        q = q.where(edges.c.relation == relation)
    if source is not None:
        q = q.where(edges.c.source == source)
    q = q.order_by(edges.c.from_id, edges.c.relation, edges.c.to_id, edges.c.source)
    return [dict(r._mapping) for r in conn.execute(q)]


def asserted_from(
    conn: Connection, from_ids: Sequence[str]
) -> list[tuple[str, str, str, str, str, dict[str, Any] | None]]:
    """Asserted edges leaving these assets: (from, relation, to, via, source, props)."""
    out: list[tuple[str, str, str, str, str, dict[str, Any] | None]] = []
    postgres = conn.dialect.name == "postgresql"
    for i in range(0, len(from_ids), 500):
        chunk = list(from_ids[i : i + 500])
        if postgres:
            rows: Iterable[Any] = conn.exec_driver_sql(_ASSERTED_FROM_POSTGRES, (chunk,))
        else:
            q = sa.select(
                edges.c.from_id,
                edges.c.relation,
                edges.c.to_id,
                edges.c.via,
                edges.c.source,
                edges.c.props,
            ).where(edges.c.from_id.in_(chunk), _ASSERTED)
            rows = conn.execute(q)
        out.extend((str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5]) for r in rows)
    return out


def asserted_ends(
    conn: Connection, *, source: str, relation: str
) -> list[tuple[str, str, str, str, str]]:
    """A source's edges of one relation by their ends' kinds and FQNs:
    (from kind, from FQN, to kind, to FQN, via)."""
    a_from, a_to = assets.alias("a_from"), assets.alias("a_to")
    q = (
        sa.select(a_from.c.kind, a_from.c.fqn, a_to.c.kind, a_to.c.fqn, edges.c.via)
        .select_from(edges)
        .join(a_from, a_from.c.id == edges.c.from_id)
        .join(a_to, a_to.c.id == edges.c.to_id)
        .where(edges.c.source == source, edges.c.relation == relation)
    )
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in conn.execute(q)]
