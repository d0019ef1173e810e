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
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.schema import metadata as all_tables
from lodestar.store import open_store
from lodestar.store.migrate import current, head, head_from_files, stored_revision, upgrade

metadata = all_tables()


def _diffs(engine: sa.Engine, target: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
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
        names = set(sa.inspect(store.engine).get_table_names())
        assert set(metadata.tables) <= names
        assert names - set(metadata.tables) == {"alembic_version"}
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
