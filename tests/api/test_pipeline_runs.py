"""An ingestion pipeline's runs over HTTP: the history, and "run now" through the server's own
scheduler, against a real server on each backend."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.service import run_recipe
from lodestar.ingest.state import StateStore
from lodestar.settings import Settings
from lodestar.store import open_store

from .support import BACKENDS, Api, ApiServer, api_server_running

# The schedule never comes due during a test: only asked-for runs happen.
QUIET = {"LODESTAR_SCHEDULER_INTERVAL": "3600"}


def _source(path: Path, *tables: str) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        for t in tables:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY)")
        conn.commit()
    return path


def _store_pipeline(server: ApiServer, source: Path, name: str = "shop") -> None:
    """Run the recipe once from this process into the server's catalog: that stores it."""
    recipe = {
        "pipeline": name,
        "source": {"type": "sqlite", "config": {"path": str(source), "service": "shop"}},
        "schedule": "0 3 * * *",
    }
    settings = Settings(data_dir=server.data_dir, database_url=server.database_url)
    assert run_recipe(parse_recipe(recipe), settings).status == "success"


def _wait_for_runs(api: Api, pipeline_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        runs: list[dict[str, Any]] = api.get(
            f"/api/v1/ingestion-pipelines/{pipeline_id}/runs"
        ).json()["data"]
        if len(runs) >= count and runs[0]["status"] != "running":
            return runs
        assert time.monotonic() < deadline, f"no finished run #{count} within 60 s: {runs}"
        time.sleep(0.1)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiServer]:
    if request.param == "postgres":
        request.getfixturevalue("api_pg_available")  # skips, or under CI fails, without it
    with api_server_running(tmp_path / "server", request.param, QUIET) as s:
        yield s


def test_run_now_runs_the_stored_pipeline_in_the_server(server: ApiServer, tmp_path: Path) -> None:
    source = _source(tmp_path / "shop.sqlite", "orders")
    _store_pipeline(server, source)
    api = Api(server)
    try:
        pipeline = api.get("/api/v1/ingestion-pipelines/name/shop").json()
        runs_url = f"/api/v1/ingestion-pipelines/{pipeline['id']}/runs"
        (first,) = api.get(runs_url).json()["data"]
        assert first["status"] == "success" and first["report"]["created"] == 4

        _source(source, "refunds")  # something new for the next run to find
        resp = api.client.post(runs_url)
        assert resp.status_code == 202, resp.text
        assert resp.json() == {"pipeline": "shop", "status": "queued", "runs": runs_url}
        assert resp.headers["location"] == runs_url

        newest, older = _wait_for_runs(api, pipeline["id"], 2)
        assert older["id"] == first["id"]
        assert newest["status"] == "success", newest
        assert (newest["report"]["created"], newest["report"]["unchanged"]) == (1, 4)
        refunds = api.get("/api/v1/tables/name/shop.shop.main.refunds")
        assert refunds.status_code == 200
        # the run is also the pipeline's observation, as a scheduled run would be (recorded
        # just after the run's state is finished, so it may trail the run list a moment)
        deadline = time.monotonic() + 10
        while True:
            obs = api.get(
                f"/api/v1/ingestion-pipelines/{pipeline['id']}/observations",
                params={"observation": "pipeline_run"},
            ).json()["data"]
            if len(obs) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [o["value"]["run_id"] for o in obs] == [newest["id"], first["id"]]
    finally:
        api.close()


def test_run_now_says_why_it_cannot(server: ApiServer, tmp_path: Path) -> None:
    _store_pipeline(server, _source(tmp_path / "shop.sqlite", "orders"))
    api = Api(server)
    store = open_store(server.database_url)
    try:
        pipeline_id = api.get("/api/v1/ingestion-pipelines/name/shop").json()["id"]
        runs_url = f"/api/v1/ingestion-pipelines/{pipeline_id}/runs"

        viewer = api.as_role("viewer").post(runs_url)
        assert viewer.status_code == 403, viewer.text
        unknown = api.client.post("/api/v1/ingestion-pipelines/no-such-id/runs")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert api.get("/api/v1/ingestion-pipelines/no-such-id/runs").status_code == 404

        # Running elsewhere (another worker, `lodestar pipelines run`): 409, nothing queued.
        state = StateStore(store)
        elsewhere = state.begin("shop")
        busy = api.client.post(runs_url)
        assert busy.status_code == 409, busy.text
        assert "already running" in busy.json()["detail"]
        assert elsewhere.run_id in busy.json()["detail"]
        state.finish(elsewhere.run_id, "success", {})
        newest, _first = api.get(runs_url).json()["data"]
        assert (newest["id"], newest["status"]) == (elsewhere.run_id, "success")

        # Deleted: restore it first.
        assert api.client.delete(f"/api/v1/ingestion-pipelines/{pipeline_id}").status_code == 200
        gone = api.client.post(runs_url)
        assert gone.status_code == 409 and "restore" in gone.json()["detail"]
    finally:
        store.dispose()
        api.close()


def test_a_server_without_a_scheduler_points_to_the_cli(tmp_path: Path) -> None:
    env = {"LODESTAR_SCHEDULER": "false"}
    with api_server_running(tmp_path / "server", "sqlite", env) as server:
        _store_pipeline(server, _source(tmp_path / "shop.sqlite", "orders"))
        api = Api(server)
        try:
            pipeline_id = api.get("/api/v1/ingestion-pipelines/name/shop").json()["id"]
            resp = api.client.post(f"/api/v1/ingestion-pipelines/{pipeline_id}/runs")
            assert resp.status_code == 409, resp.text
            assert "lodestar pipelines run shop" in resp.json()["detail"]
        finally:
            api.close()


def test_the_sdk_finds_a_pipeline_by_a_name_with_dots(server: ApiServer, tmp_path: Path) -> None:
    from lodestar.client import LodestarClient

    _store_pipeline(server, _source(tmp_path / "shop.sqlite", "orders"), name="shop.daily")
    with LodestarClient(server.base_url, server.admin_token) as client:
        (run,) = client.pipeline_runs("shop.daily")  # its FQN is "shop.daily", quoted
        assert run["status"] == "success"
        assert (
            client.pipeline_id("shop.daily")
            == client.get("ingestion_pipeline", fqn='"shop.daily"')["id"]
        )
