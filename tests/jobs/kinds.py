"""Job kinds for the scheduler tests: jobs listed in code, each doing what the test says, with
their history in `job_runs` as any kind that keeps none of its own."""

from __future__ import annotations

from collections.abc import Callable

from lodestar.jobs.history import JobHistory
from lodestar.jobs.models import Backoff, JobContext, JobResult, JobRun, Scheduled, due_names
from lodestar.model.records import now_us
from lodestar.store import Store

Action = Callable[[str, JobContext], JobResult]


def succeed(name: str, ctx: JobContext) -> JobResult:
    return JobResult("success", {"job": name})


class ListedJobs:
    keeps_history = False
    backoff = Backoff(base_s=60.0, max_s=3600.0)

    def __init__(
        self,
        name: str,
        store: Store,
        schedules: dict[str, tuple[str, int]],  # job -> (cron, created at)
        action: Action = succeed,
    ) -> None:
        self.name = name
        self.history = JobHistory(store)
        self.schedules = schedules
        self.action = action

    def due(self, now_us_: int | None = None) -> list[str]:
        jobs = [Scheduled(n, cron, since) for n, (cron, since) in self.schedules.items()]
        now = now_us_ if now_us_ is not None else now_us()
        return due_names(jobs, self.recent_runs, self.backoff, now)

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        return self.history.recent(self.name, name, limit)

    def run(self, name: str, ctx: JobContext) -> JobResult:
        return self.action(name, ctx)
