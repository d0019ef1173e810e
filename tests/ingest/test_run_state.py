"""Run state: starting a pipeline is one decision, on either backend."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.state import StateStore
from lodestar.settings import Settings
from lodestar.store import Store, open_store
from lodestar.store import ingest_state as q


def test_two_starts_of_one_pipeline_at_once_run_it_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each start pauses right after looking for a running run, until the other start has
    # looked too (or 1 s went by). Unless starts are serialised, both find none and both run.
    both_looked = threading.Barrier(2, timeout=1)
    last_run = q.last_run

    def paused(conn: object, pipeline: str) -> object:
        found = last_run(conn, pipeline)  # type: ignore[arg-type]
        # a broken barrier: the other start is held back, as it should be
        with contextlib.suppress(threading.BrokenBarrierError):
            both_looked.wait()
        return found

    monkeypatch.setattr(q, "last_run", paused)
    state = StateStore(store)
    outcomes: list[str | Exception] = []

    def start() -> None:
        try:
            outcomes.append(state.begin("nightly").run_id)
        except ConfigError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    started = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, ConfigError)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert "already running" in str(refused[0])
    assert [r["status"] for r in state.recent("nightly")] == ["running"]


def test_a_run_that_looks_alive_says_when_it_is_taken_over_and_force_takes_it_now(
    store: Store,
) -> None:
    """A run killed moments ago still has a recent heartbeat: the next start is refused with
    when the run will look dead and how to take it over now; `force` takes it over (resuming
    its committed units) without waiting."""
    state = StateStore(store, stale_after_us=60 * 1_000_000)
    killed = state.begin("nightly")  # never finished, never beats again
    with pytest.raises(ConfigError) as refused:
        state.begin("nightly")
    message = str(refused.value)
    assert killed.run_id in message
    assert "last heartbeat" in message and "s ago" in message
    assert "looks dead once 60 s pass without a heartbeat" in message
    assert "--force" in message
    taken = state.begin("nightly", force=True)
    assert taken.run_id == killed.run_id and taken.resumed
    assert [r["status"] for r in state.recent("nightly")] == ["running"]


def test_lodestar_ingest_force_takes_over_a_run_killed_moments_ago(tmp_path: Path) -> None:
    source = tmp_path / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.close()
    recipe = tmp_path / "shop.yml"
    recipe.write_text(
        f"pipeline: shop\nsource: {{type: sqlite, config: {{path: '{source}', service: s}}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env["LODESTAR_DATA_DIR"] = str(tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data")
    catalog_store = open_store(settings.effective_database_url)
    try:
        killed = StateStore(catalog_store).begin("shop")
    finally:
        catalog_store.dispose()

    def ingest(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "lodestar.cli", "ingest", str(recipe), "--json", *extra]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    refused = ingest()
    assert refused.returncode != 0
    assert "--force" in refused.stderr and killed.run_id in refused.stderr, refused.stderr
    taken = ingest("--force")
    assert taken.returncode == 0, taken.stderr
    report = json.loads(taken.stdout)
    assert report["run_id"] == killed.run_id and report["resumed"] is True
    assert report["status"] == "success"
