"""Run state: which run is in progress (with a heartbeat), and what each unit last wrote.

A run killed half-way leaves status `running` with a heartbeat that stops moving; the next run
of the same pipeline takes it over and skips the units it had committed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from lodestar.ingest.errors import AlreadyRunning
from lodestar.model.records import now_us, us_to_iso
from lodestar.store import ingest_state as q
from lodestar.store.engine import Store

STALE_AFTER_US = 60 * 1_000_000


# A lineage edge as a unit reported it: (from kind, from FQN, to kind, to FQN, via).
EdgeIdent = tuple[str, str, str, str, str]
# What a checkpoint records of a written unit: key, fingerprint, assets, lineage edges.
Written = tuple[str, str | None, list[tuple[str, str]], list[EdgeIdent]]


@dataclass(slots=True)
class UnitState:
    run_id: str
    fingerprint: str | None
    assets: list[tuple[str, str]]
    # None: committed before edges were tracked (such a unit is sent again, not skipped)
    lineage: list[EdgeIdent] | None = None


@dataclass(slots=True)
class RunState:
    run_id: str
    resumed: bool
    units: dict[str, UnitState]


class StateStore:
    def __init__(self, store: Store, stale_after_us: int = STALE_AFTER_US) -> None:
        self.store = store
        self.stale_after_us = stale_after_us

    def begin(self, pipeline: str, *, force: bool = False) -> RunState:
        """Start a run, or resume the pipeline's last run when it stopped without ending (no
        heartbeat for `stale_after_us`). `force` takes over a last run whose heartbeat is
        still recent: for a run known to be dead (its process killed moments ago)."""
        now = now_us()
        with self.store.write() as conn:
            q.lock_pipeline(conn, pipeline)  # two starts at once: one runs, one is refused
            last = q.last_run(conn, pipeline)
            resumed = False
            if last is not None and last["status"] == "running":
                if self._alive(last, now) and not force:
                    raise AlreadyRunning(self._running_message(pipeline, last, now))
                if not q.claim_run(conn, last["id"], last["heartbeat_at"], now):
                    raise AlreadyRunning(
                        f"pipeline {pipeline!r} was just taken over by another run"
                    )
                run_id, resumed = str(last["id"]), True
            else:
                run_id = str(uuid.uuid4())
                q.insert_run(
                    conn,
                    {
                        "id": run_id,
                        "pipeline": pipeline,
                        "status": "running",
                        "started_at": now,
                        "heartbeat_at": now,
                        "ended_at": None,
                        "report": None,
                    },
                )
            units = _unit_states(conn, pipeline)
        return RunState(run_id, resumed, units)

    def peek(self, pipeline: str) -> RunState:
        """The state a dry run plans against; nothing is written."""
        with self.store.read() as conn:
            units = _unit_states(conn, pipeline)
        return RunState("dry-run", False, units)

    def commit(
        self,
        pipeline: str,
        run_id: str,
        written: Sequence[Written],
    ) -> None:
        """Checkpoint: the units written (key, fingerprint, assets, lineage) by this run."""
        with self.store.write() as conn:
            self.commit_in(conn, pipeline, run_id, written)

    def commit_in(
        self,
        conn: Connection,
        pipeline: str,
        run_id: str,
        written: Sequence[Written],
    ) -> None:
        """`commit` inside the caller's transaction: the unit of work that wrote the units'
        assets, so the checkpoint never says more or less than what landed."""
        q.upsert_units(
            conn,
            pipeline,
            [
                {
                    "unit_key": k,
                    "run_id": run_id,
                    "fingerprint": fp,
                    "assets": assets,
                    "lineage": [list(e) for e in lineage],
                }
                for k, fp, assets, lineage in written
            ],
        )
        q.update_run(conn, run_id, heartbeat_at=now_us())

    def _running_message(self, pipeline: str, last: dict[str, Any], now: int) -> str:
        beat = int(last["heartbeat_at"])
        ago = max(now - beat, 0) / 1e6
        takeover = us_to_iso(beat + self.stale_after_us)
        return (
            f"pipeline {pipeline!r} is already running (run {last['id']}, last heartbeat "
            f"{ago:.0f} s ago, at {us_to_iso(beat)}): wait for it to finish. If that run was "
            f"stopped or killed, it looks dead once {self.stale_after_us / 1e6:.0f} s pass "
            f"without a heartbeat, and the next run takes it over from {takeover}; to take it "
            "over now, run again with --force (only if you know it is not running)"
        )

    def keep_alive(self, run_id: str, every: float = 15.0) -> threading.Event:
        """Move the run's heartbeat from a background thread until the returned event is set,
        so a long source query or lock wait is not mistaken for a dead run."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                try:
                    with self.store.write() as conn:
                        q.update_run(conn, run_id, heartbeat_at=now_us())
                except Exception:  # a missed beat is retried on the next tick
                    continue

        threading.Thread(target=beat, name=f"heartbeat-{run_id[:8]}", daemon=True).start()
        return stop

    def forget(self, pipeline: str, keys: Sequence[str]) -> None:
        with self.store.write() as conn:
            q.delete_units(conn, pipeline, keys)

    def finish(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        with self.store.write() as conn:
            now = now_us()
            q.update_run(conn, run_id, status=status, ended_at=now, heartbeat_at=now, report=report)

    def _alive(self, run: dict[str, Any], now: int) -> bool:
        """Running, with a heartbeat that still moves (a killed run's stops)."""
        return bool(run["status"] == "running" and now - run["heartbeat_at"] < self.stale_after_us)

    def running(self, pipeline: str) -> dict[str, Any] | None:
        """The pipeline's run in progress, if any."""
        with self.store.read() as conn:
            last = q.last_run(conn, pipeline)
        return last if last is not None and self._alive(last, now_us()) else None

    def recent(self, pipeline: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return q.recent_runs(conn, pipeline, limit)


def _unit_states(conn: Connection, pipeline: str) -> dict[str, UnitState]:
    return {
        k: UnitState(
            r,
            fp,
            [(a[0], a[1]) for a in assets],
            None if lineage is None else [(e[0], e[1], e[2], e[3], e[4]) for e in lineage],
        )
        for k, (r, fp, assets, lineage) in q.units(conn, pipeline).items()
    }
