"""`lodestar serve --workers 2` on one PostgreSQL database: a due pipeline runs once.

Both server processes run the scheduler; only the one that holds the database's leadership
starts due jobs. A pipeline stored by `lodestar ingest` with the schedule `* * * * *` falls due
at the next minute; the test waits for that run, then lets both workers check the schedule
many more times, and counts the pipeline's runs: the first (the CLI's) and exactly one more.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lodestar.ingest.state import StateStore
from lodestar.store import open_store
from serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _runs(url: str) -> list[dict[str, object]]:
    store = open_store(url)
    try:
        return StateStore(store).recent("shop", 50)
    finally:
        store.dispose()


def test_two_server_workers_run_a_due_pipeline_once(pg_database: str, tmp_path: Path) -> None:
    source = tmp_path / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.close()
    recipe = tmp_path / "shop.yml"
    recipe.write_text(
        json.dumps(
            {
                "pipeline": "shop",
                "schedule": "* * * * *",
                "source": {"type": "sqlite", "config": {"path": str(source), "service": "shop"}},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env.update(
        LODESTAR_DATA_DIR=str(tmp_path / "data"),
        LODESTAR_DATABASE_URL=pg_database,
        LODESTAR_SCHEDULER_INTERVAL="0.3",
    )
    first = subprocess.run(
        [sys.executable, "-m", "lodestar.cli", "ingest", str(recipe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(_runs(pg_database)) == 1

    with serving(env, tmp_path / "serve.log", "--workers", "2"):
        # The next minute boundary makes the pipeline due (at most 60 s away).
        deadline = time.monotonic() + 90
        while len(runs := _runs(pg_database)) < 2 or runs[0]["status"] == "running":
            assert time.monotonic() < deadline, f"no scheduled run: {runs}"
            time.sleep(0.3)
        # Both workers check the schedule every 0.3 s: give them many chances to run it again.
        time.sleep(4)
        runs = _runs(pg_database)
    assert len(runs) == 2, runs
    assert runs[0]["status"] == "success", runs[0]
    # The scheduler says what it ran, on the server's own log (a due run is found within one
    # scheduler interval, 30 s by default).
    log = (tmp_path / "serve.log").read_text()
    assert re.search(r"pipeline 'shop': run [0-9a-f-]{36} started", log), log
    assert "ingestion job 'shop': success in" in log, log
