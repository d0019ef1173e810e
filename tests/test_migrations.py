"""Migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext, derived
from lodestar.schema import drift, undeclared_tables
from lodestar.schema import metadata as all_tables
from lodestar.store import open_store
from lodestar.store.migrate import current, head, head_from_files, stored_revision, upgrade

metadata = all_tables()


def _unmanaged(name: str | None, _type: str, _parents: Any) -> bool:
    """Leaves out what a registered derived writer manages and SQLAlchemy cannot describe
    (the search writer's FTS5 tables and GIN indexes), as the schema check does."""
    return name is None or not derived.managed(name)


def _diffs(engine: sa.Engine, target: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _unmanaged,
            },
        )
        return list(compare_metadata(ctx, target))


def test_migrated_empty_database_matches_the_declared_tables(empty_db_url: str) -> None:
    bare = open_store(empty_db_url, migrate=False)
    try:
        assert sa.inspect(bare.engine).get_table_names() == []
        assert current(bare.engine) is None
    finally:
        bare.dispose()
    store = open_store(empty_db_url)
    try:
        assert current(store.engine) == head()
        assert _diffs(store.engine, metadata) == []
        assert drift(store.engine) == []
        names = set(sa.inspect(store.engine).get_table_names())
        assert set(metadata.tables) <= names
        managed = {n for n in names if derived.managed(n)}
        assert names - set(metadata.tables) - managed == {"alembic_version"}
        assert undeclared_tables(store.engine) == set()
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, seq FROM event_clock")).all()
        assert [tuple(r) for r in rows] == [(1, 0)]
    finally:
        store.dispose()


def test_the_comparison_notices_a_schema_the_migrations_do_not_build(empty_db_url: str) -> None:
    """Guard for the test above: a declared column the database lacks is reported."""
    store = open_store(empty_db_url)
    try:
        drifted = sa.MetaData()
        for table in metadata.tables.values():
            table.to_metadata(drifted)
        drifted.tables["assets"].append_column(sa.Column("extra", sa.Integer, nullable=True))
        diffs = _diffs(store.engine, drifted)
        assert [(d[0], d[3].name) for d in diffs] == [("add_column", "extra")]
    finally:
        store.dispose()


def test_open_store_twice_is_harmless(empty_db_url: str) -> None:
    ctx = WriteContext.for_principal(Principal("alice", "admin"))
    first = open_store(empty_db_url)
    try:
        Catalog(first).upsert(
            "service", {"name": "wh", "category": "database", "service_type": "postgres"}, ctx
        )
    finally:
        first.dispose()
    second = open_store(empty_db_url)
    try:
        assert current(second.engine) == head()
        assert _diffs(second.engine, metadata) == []
        cat = Catalog(second)
        svc = cat.get("service", Key(fqn="wh"))
        assert svc.version == 1
        assert [e.seq for e in cat.events()] == [1]
        assert cat.last_event() == 1
    finally:
        second.dispose()


def test_sqlite_start_up_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    """Two processes starting on one fresh SQLite file: the second waits, it does not crash."""
    path = tmp_path / "lodestar.db"
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("BEGIN IMMEDIATE")  # another process is writing (e.g. migrating)
        other.execute("CREATE TABLE other_writer (x INTEGER)")
        result: list[BaseException | None] = []

        def start() -> None:
            try:
                open_store(f"sqlite:///{path}").dispose()
                result.append(None)
            except BaseException as e:
                result.append(e)

        starter = threading.Thread(target=start)
        starter.start()
        time.sleep(0.5)
        other.execute("COMMIT")
        starter.join(30)
    finally:
        other.close()
    assert result == [None]
    store = open_store(f"sqlite:///{path}")
    try:
        assert current(store.engine) == head()
    finally:
        store.dispose()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert head_from_files() == head()


def test_opening_a_database_at_head_does_not_import_alembic(db_url: str) -> None:
    """Start-up of a short command (`lodestar ingest`) checks the revision with plain SQL."""
    code = (
        "import sys\n"
        "from lodestar.store import open_store\n"
        "open_store(sys.argv[1]).dispose()\n"
        "print(','.join(sorted(n for n in sys.modules if n.split('.')[0] == 'alembic')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, db_url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_a_database_behind_head_is_still_migrated(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    try:
        upgrade(engine, "0001")
        assert stored_revision(engine) == "0001"
        store = open_store(empty_db_url)
        store.dispose()
        assert stored_revision(engine) == head()
    finally:
        engine.dispose()


def test_edges_and_columns_of_a_0002_catalog_are_carried_over(empty_db_url: str) -> None:
    """0003: body edges become source `body`, `contains` source `parent`, a lineage edge one
    row per source it listed; every table's columns get their identity rows."""
    from lodestar.model.ids import column_id

    engine = sa.create_engine(empty_db_url)
    try:
        upgrade(engine, "0002")
        table_doc = '{"name": "t", "columns": [{"name": "id"}, {"name": "a.b"}]}'
        with engine.begin() as conn:
            for i, (kind, fqn, doc) in enumerate(
                [("schema", "s", '{"name": "s"}'), ("table", "s.t", table_doc), ("tag", "x", "{}")]
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO assets (id, kind, fqn, name, version, doc, provenance, "
                        "deleted, created_at, updated_at, updated_by) VALUES "
                        "(:i, :k, :f, :f, 1, :d, '{}', false, 1, 1, 'me')"
                    ),
                    {"i": f"id{i}", "k": kind, "f": fqn, "d": doc},
                )
            lineage = '{"sources": ["ingestion:a", "person:bo"], "first_seen": 5, "last_seen": 9}'
            for f, rel, t, props in [
                ("id0", "contains", "id1", None),
                ("id1", "tagged_with", "id2", None),
                ("id0", "lineage", "id1", lineage),
            ]:
                conn.execute(
                    sa.text(
                        "INSERT INTO edges (from_id, relation, to_id, via, props, created_at) "
                        "VALUES (:f, :r, :t, '', :p, 3)"
                    ),
                    {"f": f, "r": rel, "t": t, "p": props},
                )
        upgrade(engine)
        with engine.connect() as conn:
            edges_now = sorted(
                tuple(r)
                for r in conn.execute(
                    sa.text(
                        "SELECT from_id, relation, to_id, source, created_at, last_seen FROM edges"
                    )
                )
            )
            cols = sorted(tuple(r) for r in conn.execute(sa.text("SELECT * FROM columns")))
        assert edges_now == [
            ("id0", "contains", "id1", "parent", 3, 3),
            ("id0", "lineage", "id1", "ingestion:a", 5, 9),
            ("id0", "lineage", "id1", "person:bo", 5, 9),
            ("id1", "tagged_with", "id2", "body", 3, 3),
        ]
        assert cols == [
            ("id1", "a.b", column_id("id1", "a.b")),
            ("id1", "id", column_id("id1", "id")),
        ]
    finally:
        engine.dispose()


class _FullText:
    """A derived writer whose index SQLAlchemy cannot describe: an FTS5 table (and its shadow
    tables) on SQLite, a tsvector expression index on PostgreSQL."""

    name = "fulltext-probe"

    def apply(self, conn: Any, batch: Any) -> None:
        return None

    def clear(self, conn: Any) -> None:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS probe_fts USING fts5(body)")
        else:
            conn.exec_driver_sql(
                "CREATE INDEX IF NOT EXISTS probe_fts_idx ON assets "
                "USING gin (to_tsvector('simple', fqn))"
            )

    def manages(self, object_name: str) -> bool:
        return object_name.startswith("probe_fts")


def test_the_schema_check_leaves_what_a_derived_writer_manages_alone(db_url: str) -> None:
    from lodestar.catalog import derived

    store = open_store(db_url)
    try:
        with store.write() as conn:
            _FullText().clear(conn)
        unmanaged = drift(store.engine), undeclared_tables(store.engine)
        assert unmanaged != ([], set()), "the comparison must see the writer's objects"
        derived.register(_FullText())
        try:
            assert drift(store.engine) == []
            assert undeclared_tables(store.engine) == set()
        finally:
            derived.unregister("fulltext-probe")
    finally:
        store.dispose()


def test_observations_stored_before_the_time_series_migration_keep_their_rows(
    empty_db_url: str,
) -> None:
    engine = sa.create_engine(empty_db_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as conn:
            for ts in (5, 7):
                conn.execute(
                    sa.text(
                        "INSERT INTO observations (asset_id, kind, ts, value, actor) "
                        "VALUES ('a1', 'row_count', :ts, '{\"rows\": 1}', 'alice')"
                    ),
                    {"ts": ts},
                )
        open_store(empty_db_url).dispose()
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, ts, recorded_ts, origin, run_id, idem_key FROM observations "
                    "ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        (rows[0].id, 5, 5, "unknown", None, f"legacy:{rows[0].id}"),
        (rows[1].id, 7, 7, "unknown", None, f"legacy:{rows[1].id}"),
    ]
