"""PostgreSQL's planner statistics follow the catalog's growth without autovacuum, and a server
with autovacuum off is named at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lodestar.api.app import create_app
from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, WriteContext
from lodestar.model.ids import new_id
from lodestar.settings import Settings
from lodestar.store import Store, open_store, stats
from lodestar.store import assets as q

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_migrated_database: str) -> Iterator[Store]:
    store = open_store(pg_migrated_database)
    try:
        yield store
    finally:
        store.dispose()


def analyzed(store: Store, table: str) -> float | None:
    """The row count of the table's last ANALYZE; None if it never ran."""
    with store.read() as conn:
        n = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (f"public.{table}",)
        ).scalar_one()
    return None if n < 0 else float(n)


def add_assets(store: Store, n: int) -> None:
    rows = [
        (new_id(), "table", f"wh.db.s.{new_id()}", "t", None, 1, "{}", "{}", False, 1, 1, "x")
        for _ in range(n)
    ]
    with store.write() as conn:
        q.insert_assets(conn, rows)


def test_a_bulk_write_that_grows_a_table_enough_analyzes_it(pg_store: Store) -> None:
    add_assets(pg_store, stats.MIN_ROWS - 1)
    assert analyzed(pg_store, "assets") is None  # too few rows to be worth it
    add_assets(pg_store, 1)
    assert analyzed(pg_store, "assets") == stats.MIN_ROWS
    assert analyzed(pg_store, "edges") is None  # nothing was written there

    # Analyzed again once the table doubled.
    add_assets(pg_store, 999)
    assert analyzed(pg_store, "assets") == stats.MIN_ROWS
    add_assets(pg_store, 1)
    assert analyzed(pg_store, "assets") == 2000
    add_assets(pg_store, 1999)
    assert analyzed(pg_store, "assets") == 2000
    add_assets(pg_store, 1)
    assert analyzed(pg_store, "assets") == 4000


def test_the_write_path_counts_what_it_inserts_and_forgets_rollbacks(pg_store: Store) -> None:
    with pytest.raises(RuntimeError), pg_store.write() as conn:
        q.insert_assets(
            conn,
            [
                (new_id(), "user", f"u{i}", f"u{i}", None, 1, "{}", "{}", False, 1, 1, "x")
                for i in range(stats.MIN_ROWS)
            ],
        )
        raise RuntimeError("rolled back")
    catalog = Catalog(pg_store)
    ctx = WriteContext.for_principal(Principal("alice", "admin"))
    lines = [BulkLine("user", {"name": f"u{i}"}) for i in range(stats.MIN_ROWS)]
    assert {o.status for o in catalog.bulk_upsert(lines, ctx)} == {"created"}
    assert pg_store.statistics is not None
    # One ANALYZE per table the bulk write grew by 1,000 rows: assets, versions and events.
    assert pg_store.statistics.analyzed == {"assets": 1, "asset_versions": 1, "events": 1}
    assert analyzed(pg_store, "assets") == stats.MIN_ROWS


def test_start_up_analyzes_tables_that_hold_data_but_were_never_analyzed(
    pg_store: Store,
) -> None:
    """A restored catalog that is only read would otherwise never be analyzed."""
    statistics, pg_store.statistics = pg_store.statistics, None  # as a restore writes it
    add_assets(pg_store, 5000)
    assert analyzed(pg_store, "assets") is None
    pg_store.statistics = statistics
    thread = pg_store.catch_up_statistics()
    assert thread is not None
    thread.join(timeout=60)
    assert analyzed(pg_store, "assets") == 5000
    assert analyzed(pg_store, "edges") is None  # empty: nothing to learn
    assert statistics is not None and statistics.catch_up() == []


def test_start_up_warns_when_autovacuum_is_off(
    pg_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pg_store.read() as conn:
        off = stats.autovacuum_off(conn)
    app = create_app(Settings(data_dir=tmp_path), pg_store)

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    with caplog.at_level(logging.WARNING, "lodestar"):
        asyncio.run(start_and_stop())
    said = [r.getMessage() for r in caplog.records if "autovacuum" in r.getMessage()]
    assert len(said) == (1 if off else 0), said
