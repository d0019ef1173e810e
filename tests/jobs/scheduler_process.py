"""A server process's scheduler, for test_two_processes.py: run as
`python scheduler_process.py DATABASE_URL DATA_DIR`.

It registers a job kind whose jobs are the names in `jobtest_jobs` (each due once: a yearly
schedule from 1970), whose run inserts a row into `jobtest_hits` naming the process, then runs
the one scheduler (every registered kind) with a short interval, and reports its ticks and
whether it leads in `jobtest_procs` until it is stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from lodestar.catalog import Catalog
from lodestar.jobs.history import JobHistory
from lodestar.jobs.models import Backoff, JobContext, JobResult, JobRun, Scheduled, due_names
from lodestar.jobs.registry import register
from lodestar.jobs.scheduler import Scheduler
from lodestar.model.records import now_us
from lodestar.settings import Settings
from lodestar.store import open_store

KIND = "counting"
YEARLY = "0 0 1 1 *"


class CountingJobs:
    name = KIND
    keeps_history = False
    backoff = Backoff()

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.store = catalog.store
        self.history = JobHistory(catalog.store)

    def due(self, now_us_: int | None = None) -> list[str]:
        with self.store.read() as conn:
            names = conn.execute(sa.text("SELECT name FROM jobtest_jobs ORDER BY name")).scalars()
            jobs = [Scheduled(str(n), YEARLY, 0) for n in names]
        now = now_us_ if now_us_ is not None else now_us()
        return due_names(jobs, self.recent_runs, self.backoff, now)

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        return self.history.recent(KIND, name, limit)

    def run(self, name: str, ctx: JobContext) -> JobResult:
        with self.store.write() as conn:
            conn.execute(
                sa.text("INSERT INTO jobtest_hits (name, pid, run_id) VALUES (:n, :p, :r)"),
                {"n": name, "p": os.getpid(), "r": ctx.run_id},
            )
        return JobResult("success", {"pid": os.getpid()})


def main(url: str, data_dir: str) -> None:
    register(KIND, CountingJobs)
    settings = Settings(
        data_dir=Path(data_dir), database_url=url, scheduler_interval=0.05, pool_size=2
    )
    store = open_store(settings.effective_database_url, settings.pool_size)
    scheduler = Scheduler(Catalog(store), settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start()
    pid = os.getpid()
    try:
        while not stop.wait(0.05):
            with store.write() as conn:
                conn.execute(
                    sa.text("UPDATE jobtest_procs SET ticks = :t, leads = :l WHERE pid = :p"),
                    {"t": scheduler.ticks, "l": scheduler.leading, "p": pid},
                )
                if (
                    scheduler.ticks
                    and not conn.execute(
                        sa.text("SELECT 1 FROM jobtest_procs WHERE pid = :p"), {"p": pid}
                    ).first()
                ):
                    conn.execute(
                        sa.text("INSERT INTO jobtest_procs VALUES (:p, :t, :l)"),
                        {"t": scheduler.ticks, "l": scheduler.leading, "p": pid},
                    )
    finally:
        scheduler.stop()
        store.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
