"""Two server processes on one database, each running the one scheduler: a due job runs exactly
once (counted by the rows the job itself writes), always in the leader; when the leader dies,
the other process leads and runs what comes due next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lodestar.store import Store, open_store

CHILD = Path(__file__).with_name("scheduler_process.py")
WAIT_S = 60.0

pytestmark = pytest.mark.slow


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """Poll until `check()` is truthy; fail after a minute with `what`."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {WAIT_S:.0f}s: {what}"
        time.sleep(0.05)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    try:
        with s.write() as conn:
            conn.execute(sa.text("CREATE TABLE jobtest_jobs (name VARCHAR(64) PRIMARY KEY)"))
            conn.execute(
                sa.text(
                    "CREATE TABLE jobtest_hits (name VARCHAR(64), pid INTEGER, run_id VARCHAR(36))"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TABLE jobtest_procs "
                    "(pid INTEGER PRIMARY KEY, ticks INTEGER, leads BOOLEAN)"
                )
            )
        yield s
    finally:
        s.dispose()


def procs(store: Store) -> dict[int, tuple[int, bool]]:
    with store.read() as conn:
        rows = conn.execute(sa.text("SELECT pid, ticks, leads FROM jobtest_procs")).all()
    return {int(r[0]): (int(r[1]), bool(r[2])) for r in rows}


def hits(store: Store) -> list[tuple[str, int]]:
    with store.read() as conn:
        rows = conn.execute(sa.text("SELECT name, pid FROM jobtest_hits ORDER BY name")).all()
    return [(str(r[0]), int(r[1])) for r in rows]


def job_runs(store: Store) -> list[tuple[str, str]]:
    with store.read() as conn:
        rows = conn.execute(
            sa.text("SELECT name, status FROM job_runs WHERE kind = 'counting' ORDER BY name")
        ).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def add_job(store: Store, name: str) -> None:
    with store.write() as conn:
        conn.execute(sa.text("INSERT INTO jobtest_jobs VALUES (:n)"), {"n": name})


def ticked_since(store: Store, before: dict[int, tuple[int, bool]], pids: list[int]) -> bool:
    """Every process has looked at the schedule at least twice more since `before`."""
    now = procs(store)
    return all(now[p][0] >= before[p][0] + 2 for p in pids)


def test_a_due_job_runs_once_across_two_processes_and_leadership_passes_on(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    children = []
    for i in range(2):
        with (tmp_path / f"p{i}.log").open("wb") as log:  # the child keeps its own handle
            children.append(
                subprocess.Popen(
                    [sys.executable, str(CHILD), db_url, str(tmp_path / f"p{i}")],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        pids = [c.pid for c in children]
        wait_for("both processes tick", lambda: set(procs(store)) == set(pids))
        state = wait_for(
            "one process leads",
            lambda: (s := procs(store)) and sum(lead for _, lead in s.values()) == 1 and s,
        )
        (leader,) = [p for p, (_, lead) in state.items() if lead]
        (follower,) = [p for p in pids if p != leader]

        for name in ("a", "b", "c"):
            add_job(store, name)
            wait_for(f"job {name} runs", lambda n=name: any(h[0] == n for h in hits(store)))
            before = procs(store)
            wait_for("both look again", lambda b=before: ticked_since(store, b, pids))
        assert hits(store) == [("a", leader), ("b", leader), ("c", leader)]
        assert job_runs(store) == [("a", "success"), ("b", "success"), ("c", "success")]

        # The leader dies without stepping down: its session (or file lock) ends with it.
        (dead,) = [c for c in children if c.pid == leader]
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=WAIT_S)
        wait_for("the other process leads", lambda: procs(store)[follower][1])
        add_job(store, "d")
        wait_for("job d runs", lambda: any(h[0] == "d" for h in hits(store)))
        before = procs(store)
        wait_for("it looks again", lambda: ticked_since(store, before, [follower]))
        assert hits(store) == [("a", leader), ("b", leader), ("c", leader), ("d", follower)]
        assert len(job_runs(store)) == 4
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(timeout=15)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
    for i, c in enumerate(children):
        if c.pid != leader:
            log = (tmp_path / f"p{i}.log").read_text()
            assert c.returncode == 0, log
