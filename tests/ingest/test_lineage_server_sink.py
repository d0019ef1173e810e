"""Through the server sink, ingestion lineage keeps its column pairs and `via`: the run posts
them to a real server (uvicorn, HTTP) and the server stores them as the pipeline's edges."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import ServerSink
from lodestar.ingest.state import StateStore
from lodestar.store import assets as aq
from lodestar.store import edges as eq
from lodestar.store import open_store
from test_client import LiveServer, run_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("server"))


def test_view_lineage_reaches_the_server_with_columns(live: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE orders (id INTEGER, amount REAL);
        CREATE VIEW big AS SELECT id, amount * 2 AS doubled FROM orders WHERE amount > 10;
        """
    )
    conn.close()
    recipe = parse_recipe(
        {
            "pipeline": "remote",
            "source": {"type": "sqlite", "config": {"service": "rs", "path": str(path)}},
        }
    )
    state_store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    sink = ServerSink(live.url, live.token, "remote")
    try:
        report = run_pipeline(recipe, sink, StateStore(state_store))
    finally:
        sink.close()
        state_store.dispose()
    assert report.status == "success", report.failures
    assert report.lineage_edges == 1

    server_store = open_store(f"sqlite:///{live.data_dir / 'catalog.db'}")
    try:
        with server_store.read() as conn:
            rows = eq.asserted(conn, relation="lineage", source="ingestion:remote")
            names = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
        got = [(names[r["from_id"]].fqn, names[r["to_id"]].fqn, r["via"], r["props"]) for r in rows]
    finally:
        server_store.dispose()
    assert got == [
        (
            "rs.shop.main.orders",
            "rs.shop.main.big",
            "",
            {"columns": [["id", "id"], ["amount", "doubled"]]},
        )
    ]
