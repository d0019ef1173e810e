"""The hot PostgreSQL queries probe their index whatever the statistics say.

A fresh or restored catalog, or a server with autovacuum off, has no statistics, and a prepared
statement's generic plan never sees its values: an IN list of 500 FQNs was then planned as a
scan of every asset of the kind. Here the tables hold a few thousand rows that were never
analyzed; each test calls the real store function, captures the SQL it sends, and asks
PostgreSQL for both plans it may run it with (custom, with the values; generic, without).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import ClientCursor
from sqlalchemy.engine import Connection

from lodestar.model.ids import column_id, new_id
from lodestar.store import Store, open_store
from lodestar.store import assets as q
from lodestar.store import columns as cq
from lodestar.store import edges as eq
from lodestar.store.asset_rows import PostgresRows

pytestmark = pytest.mark.postgres

N = 3000
KINDS = ("table", "dashboard", "user")


class Catalog:
    def __init__(self, store: Store, url: str) -> None:
        self.store = store
        self.libpq = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
        self.ids: list[str] = []
        self.fqns: list[str] = []


@pytest.fixture
def unanalyzed(pg_migrated_database: str) -> Iterator[Catalog]:
    """N assets (a third of each kind, under 30 parents), their body and lineage edges and
    three columns each, written straight to the tables: nothing analyzed them."""
    store = open_store(pg_migrated_database)
    store.statistics = None  # as if this process had not written them (tests/test_statistics)
    cat = Catalog(store, pg_migrated_database)
    rows, edge_rows, column_rows = [], [], []
    for i in range(N):
        aid, fqn = new_id(), f"wh.db.s{i % 30}.t{i:05d}"
        parent = cat.ids[i % 30] if i >= 30 else None
        cat.ids.append(aid)
        cat.fqns.append(fqn)
        kind = KINDS[i % len(KINDS)]
        rows.append((aid, kind, fqn, f"t{i}", parent, 1, "{}", "{}", False, 1, 1, "x"))
        # Every asset owned by the first one: a popular target in ix_edges_to.
        edge_rows.append((aid, "owned_by", cat.ids[0], "", eq.BODY, None, 1, 1))
        edge_rows.append((aid, "lineage", cat.ids[i - 1], "", "ingestion:shop", None, 1, 1))
        column_rows.extend((aid, f"c{c}", column_id(aid, f"c{c}")) for c in range(3))
    try:
        with store.write() as conn:
            q.insert_assets(conn, rows)
            eq.insert_edge_rows(conn, edge_rows)
            cq.insert(conn, column_rows)
        with store.read() as conn:
            never = conn.exec_driver_sql(
                "SELECT relname FROM pg_class WHERE reltuples < 0 AND oid IN "
                "('public.assets'::regclass, 'public.edges'::regclass, 'public.columns'::regclass)"
            ).scalars()
            assert sorted(never) == ["assets", "columns", "edges"], "the tables were analyzed"
        yield cat
    finally:
        store.dispose()


def captured(store: Store, call: Callable[[Connection], object]) -> list[tuple[str, Any]]:
    """The statements (and parameters) `call` sends, in a write transaction rolled back."""
    sent: list[tuple[str, Any]] = []

    def before(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        sent.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", before)
    try:
        with store.engine.connect() as conn, conn.begin() as tx:
            call(conn)
            tx.rollback()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", before)
    return sent


def _numbered(statement: str, params: Any) -> tuple[str, list[Any]]:
    """psycopg's placeholders as $n, for PREPARE."""
    values: list[Any] = []

    def take(value: Any) -> str:
        values.append(value)
        return f"${len(values)}"

    if isinstance(params, dict):
        sql = re.sub(r"%\((\w+)\)s", lambda m: take(params[m.group(1)]), statement)
    else:
        it = iter(params or ())
        sql = re.sub(r"%s", lambda _m: take(next(it)), statement)
    return sql.replace("%%", "%"), values


def plans(libpq: str, statement: str, params: Any) -> dict[str, list[dict[str, Any]]]:
    """The plan nodes PostgreSQL runs the statement with, custom and generic."""
    sql, values = _numbered(statement, params)
    out = {}
    with psycopg.connect(libpq, autocommit=True, cursor_factory=ClientCursor) as conn:
        conn.execute(f"PREPARE hot AS {sql}")
        args = f"({', '.join(['%s'] * len(values))})" if values else ""
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(f"SET plan_cache_mode = {mode}")
            row = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE hot{args}", values).fetchone()
            assert row is not None
            out[mode] = list(_nodes(row[0][0]["Plan"]))
    return out


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def assert_probes(cat: Catalog, statement: str, params: Any, index: str, column: str) -> None:
    """Both plans reach the table through `index` with `column` in its condition, and scan no
    catalog table."""
    for mode, nodes in plans(cat.libpq, statement, params).items():
        shown = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
        scans = [n for n in nodes if n["Node Type"] == "Seq Scan"]
        assert not scans, f"{mode}: sequential scan in {shown}"
        probes = [
            n
            for n in nodes
            if n.get("Index Name") == index and f"({column})" in n.get("Index Cond", "")
        ]
        assert probes, f"{mode}: no probe of {index} on {column} in {shown}"


def only(sent: list[tuple[str, Any]]) -> tuple[str, Any]:
    assert len(sent) == 1, sent
    return sent[0]


@pytest.mark.parametrize("for_update", [True, False])
def test_bulk_preload_probes_the_kind_fqn_index(unanalyzed: Catalog, for_update: bool) -> None:
    fqns = unanalyzed.fqns[:1500:3]  # 500 tables
    sent = captured(
        unanalyzed.store, lambda c: q.get_many_by_fqn(c, "table", fqns, for_update=for_update)
    )
    assert_probes(unanalyzed, *only(sent), "uq_assets_kind_fqn", "fqn")


def test_bulk_preload_locks_in_fqn_order(unanalyzed: Catalog) -> None:
    """The rows are locked as the array is walked, and the array is sorted: two bulk writers
    lock in the same order."""
    fqns = list(reversed(unanalyzed.fqns[:600:3]))
    sent = captured(
        unanalyzed.store, lambda c: q.get_many_by_fqn(c, "table", fqns, for_update=True)
    )
    for statement, params in sent:
        assert "FOR UPDATE" in statement
        assert params[0] == sorted(params[0])


def test_lookups_by_fqn_and_id_probe_their_index(unanalyzed: Catalog) -> None:
    pairs = [(KINDS[i % 3], unanalyzed.fqns[i]) for i in range(500)]
    sent = captured(unanalyzed.store, lambda c: q.ids_by_fqn(c, pairs))
    assert_probes(unanalyzed, *only(sent), "uq_assets_kind_fqn", "fqn")
    sent = captured(unanalyzed.store, lambda c: q.get_many(c, unanalyzed.ids[:500]))
    assert_probes(unanalyzed, *only(sent), "assets_pkey", "id")
    sent = captured(unanalyzed.store, lambda c: q.children(c, unanalyzed.ids[:30]))
    assert_probes(unanalyzed, *only(sent), "ix_assets_parent", "parent_id")
    sent = captured(
        unanalyzed.store, lambda c: q.get_by_fqn(c, "table", unanalyzed.fqns[3], for_update=True)
    )
    assert_probes(unanalyzed, *only(sent), "uq_assets_kind_fqn", "fqn")
    sent = captured(unanalyzed.store, lambda c: q.get(c, unanalyzed.ids[3], for_update=True))
    assert_probes(unanalyzed, *only(sent), "assets_pkey", "id")


def test_lean_read_path_probes_its_index(unanalyzed: Catalog) -> None:
    rows = PostgresRows(unanalyzed.store.engine)
    try:
        assert_probes(
            unanalyzed,
            rows._by_fqn,
            ("table", unanalyzed.fqns[3]),
            "uq_assets_kind_fqn",
            "fqn",
        )
        assert_probes(unanalyzed, rows._by_id, (unanalyzed.ids[3],), "assets_pkey", "id")
    finally:
        rows.close()


def test_edge_writes_probe_the_edge_key(unanalyzed: Catalog) -> None:
    ids = unanalyzed.ids
    keys = [(ids[i], "owned_by", ids[0], "", eq.BODY) for i in range(1, 501)]
    sent = captured(unanalyzed.store, lambda c: eq.existing(c, keys))
    assert_probes(unanalyzed, *only(sent), "edges_pkey", "from_id")
    sent = captured(unanalyzed.store, lambda c: eq.replace_body_edges(c, ids[:500], []))
    assert_probes(unanalyzed, *only(sent), "edges_pkey", "from_id")
    sent = captured(unanalyzed.store, lambda c: eq.asserted_from(c, ids[:500]))
    assert_probes(unanalyzed, *only(sent), "edges_pkey", "from_id")
    sent = captured(
        unanalyzed.store, lambda c: eq.retract(c, source="ingestion:shop", seen_before=0)
    )
    assert_probes(unanalyzed, sent[0][0], sent[0][1], "ix_edges_source", "source")


def test_column_reads_and_deletes_probe_the_column_key(unanalyzed: Catalog) -> None:
    aid = unanalyzed.ids[7]
    sent = captured(unanalyzed.store, lambda c: cq.of_asset(c, aid))
    assert_probes(unanalyzed, *only(sent), "columns_pkey", "asset_id")
    sent = captured(unanalyzed.store, lambda c: cq.delete(c, [(aid, "c1")]))
    assert_probes(unanalyzed, *only(sent), "columns_pkey", "asset_id")
