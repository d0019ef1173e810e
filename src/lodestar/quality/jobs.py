"""Scheduled tests as a job kind of the one scheduler: one job per table and schedule, named
`<table fqn> <schedule>`, running that table's enabled tests with that schedule in one scan.
A run by the server keeps to the limits of server-run ingestion (which `${VAR}`s expand,
which files and hosts it reaches). Runs are kept in `job_runs`; the results go to the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator

from lodestar.catalog import Catalog
from lodestar.ingest.limits import ServerRunLimits
from lodestar.jobs.errors import JobNotRunnable
from lodestar.jobs.history import JobHistory
from lodestar.jobs.models import Backoff, JobContext, JobResult, JobRun, Scheduled, due_names
from lodestar.jobs.registry import register
from lodestar.model.records import now_us
from lodestar.quality.runner import Runner, cases_of
from lodestar.settings import Settings
from lodestar.store import assets as q

KIND = "quality"


class QualityJobs:
    name = KIND
    keeps_history = False
    backoff = Backoff(base_s=300.0, max_s=6 * 3600.0)

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.limits = ServerRunLimits.from_settings(settings)
        self.history = JobHistory(catalog.store)

    def scheduled(self) -> Iterator[Scheduled]:
        jobs: dict[str, int] = {}
        with self.catalog.store.read() as conn:
            for a in q.by_fqn_prefix(conn, "test_case", ""):
                d = a.doc
                if a.deleted or not d.get("enabled", True) or not d.get("schedule"):
                    continue
                name = f"{d['table']} {d['schedule']}"
                jobs[name] = min(jobs.get(name, a.created_at), a.created_at)
        for name, since in sorted(jobs.items()):
            yield Scheduled(name, name.split(" ", 1)[1], since)

    def due(self, now_us_: int | None = None) -> list[str]:
        now = now_us_ if now_us_ is not None else now_us()
        return due_names(self.scheduled(), self.recent_runs, self.backoff, now)

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        return self.history.recent(KIND, name, limit)

    def run(self, name: str, ctx: JobContext) -> JobResult:
        table, _, schedule = name.partition(" ")
        cases = cases_of(self.catalog, [table]).get(table, [])
        cases = [c for c in cases if self._schedule(c.id) == schedule]
        if not cases:
            raise JobNotRunnable(f"no enabled test on {table} runs on {schedule!r}")
        runner = Runner(self.catalog, limits=self.limits, run_id=ctx.run_id)
        try:
            results = runner.run_table(table, cases)
            runner.write(table, results)
        finally:
            runner.engines.dispose()
        counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "error")}
        if counts["error"] == len(results):
            return JobResult("failed", counts, results[0].message)
        return JobResult("success", counts)

    def _schedule(self, case_id: str) -> str | None:
        with self.catalog.store.read() as conn:
            a = q.get(conn, case_id)
        return None if a is None else a.doc.get("schedule")


register(KIND, QualityJobs)
