"""Run history in `job_runs`, for the job kinds that do not keep their own: a run begins (at
most one of a job at a time, across processes), beats while it runs, and finishes with its
result. A run whose process died stops beating; the next start records it as failed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lodestar.jobs import store as q
from lodestar.jobs.errors import JobAlreadyRunning
from lodestar.jobs.models import JobResult, JobRun, consecutive_failures
from lodestar.model.records import now_us, us_to_iso
from lodestar.store.engine import Store

STALE_AFTER_US = 60 * 1_000_000
HISTORY = 20  # runs read to count failures in a row (back-off is capped long before)


class JobHistory:
    def __init__(self, store: Store, stale_after_us: int = STALE_AFTER_US) -> None:
        self.store = store
        self.stale_after_us = stale_after_us

    def begin(self, kind: str, name: str, trigger: str) -> tuple[str, int]:
        """Record a run as started; its id and attempt. JobAlreadyRunning when another run of
        the job is alive (its heartbeat still moves)."""
        now = now_us()
        with self.store.write() as conn:
            q.lock_job(conn, kind, name)  # two starts at once: one runs, one is refused
            runs = q.recent_runs(conn, kind, name, HISTORY)
            if runs and runs[0]["status"] == "running":
                last = runs[0]
                if now - last["heartbeat_at"] < self.stale_after_us:
                    raise JobAlreadyRunning(
                        f"{kind} job {name!r} is already running (run {last['id']}, last seen "
                        f"{us_to_iso(last['heartbeat_at'])})"
                    )
                error = "its process stopped (no heartbeat since " + (
                    f"{us_to_iso(last['heartbeat_at'])})"
                )
                q.update_run(conn, last["id"], status="failed", ended_at=now, error=error)
                runs[0] = {**last, "status": "failed", "ended_at": now}
            attempt = consecutive_failures([JobRun.from_row(r) for r in runs]) + 1
            run_id = str(uuid.uuid4())
            q.insert_run(
                conn,
                {
                    "id": run_id,
                    "kind": kind,
                    "name": name,
                    "status": "running",
                    "trigger": trigger,
                    "attempt": attempt,
                    "started_at": now,
                    "heartbeat_at": now,
                    "ended_at": None,
                    "error": None,
                    "summary": None,
                },
            )
        return run_id, attempt

    def finish(self, run_id: str, result: JobResult) -> None:
        now = now_us()
        with self.store.write() as conn:
            q.update_run(
                conn,
                run_id,
                status=result.status,
                ended_at=now,
                heartbeat_at=now,
                error=result.error,
                summary=dict(result.summary),
            )

    def beat(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            with self.store.write() as conn:
                q.beat(conn, run_ids, now_us())

    def recent(self, kind: str, name: str, limit: int = HISTORY) -> list[JobRun]:
        with self.store.read() as conn:
            return [JobRun.from_row(r) for r in q.recent_runs(conn, kind, name, limit)]
