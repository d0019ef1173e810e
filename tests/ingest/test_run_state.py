"""Run state: starting a pipeline is one decision, on either backend."""

from __future__ import annotations

import contextlib
import threading

import pytest

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.state import StateStore
from lodestar.store import Store
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
