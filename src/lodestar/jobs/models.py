"""What a kind of job is to the scheduler: the `JobKind` protocol, a run's context, result and
history record, and the policies every kind shares (cron due times, exponential back-off).

A job kind names its jobs (`due`), runs one (`run`) and shows its recent runs (`recent_runs`).
A kind that keeps its own run history (ingestion keeps `ingest_runs`, with heartbeats and
resumable units) says so with `keeps_history = True`; for every other kind the scheduler
records each run in `job_runs`. Either way there is one history per kind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

log = logging.getLogger("lodestar.scheduler")

Status = Literal["running", "success", "partial", "failed"]
FINISHED: tuple[Status, ...] = ("success", "partial", "failed")


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job, as its history keeps it; times in epoch microseconds."""

    run_id: str
    status: str
    started_at: int
    ended_at: int | None
    attempt: int | None = None
    error: str | None = None
    summary: Mapping[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobRun:
        """From a `job_runs` or an `ingest_runs` row (its `report` is the summary)."""
        return cls(
            run_id=str(row["id"]),
            status=str(row["status"]),
            started_at=int(row["started_at"]),
            ended_at=row["ended_at"],
            attempt=row.get("attempt"),
            error=row.get("error"),
            summary=row.get("summary", row.get("report")),
        )


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a run reports: `partial` counts as a success for back-off, `failed` does not."""

    status: Literal["success", "partial", "failed"]
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobContext:
    kind: str
    name: str
    # The scheduler's `job_runs` id; None for a kind that keeps its own history.
    run_id: str | None
    attempt: int  # 1, or 1 + the failures in a row before this run
    requested: bool  # asked for (run now) rather than due by its schedule
    stopping: threading.Event  # set when the server stops: a long job may return early


@dataclass(frozen=True, slots=True)
class Backoff:
    """A job that keeps failing waits base, 2 x base, 4 x base ... (at most `max_s`) after
    the end of its last failed run before the scheduler runs it again."""

    base_s: float = 60.0
    max_s: float = 6 * 3600.0

    def delay_s(self, failures: int) -> float:
        return 0.0 if failures <= 0 else min(self.base_s * 2 ** (failures - 1), self.max_s)

    def until(self, runs: Sequence[JobRun]) -> int | None:
        """Epoch microseconds before which the job should not run again; None: no back-off."""
        failures = consecutive_failures(runs)
        if failures == 0:
            return None
        last_end = next((r.ended_at for r in runs if r.ended_at), None)
        if last_end is None:
            return None
        return int(last_end + self.delay_s(failures) * 1_000_000)


def consecutive_failures(runs: Sequence[JobRun]) -> int:
    """Failed runs in a row, newest first; a run in progress neither counts nor breaks it."""
    n = 0
    for run in runs:
        if run.status == "failed":
            n += 1
        elif run.status != "running":
            break
    return n


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A job with a cron schedule; its first run is due at the first cron time after
    `since_us` (when the job was created)."""

    name: str
    schedule: str
    since_us: int


def next_cron_us(schedule: str, after_us: int) -> int:
    from croniter import croniter  # ~20 ms to import: only when there is a schedule

    start = datetime.fromtimestamp(after_us / 1_000_000, UTC)
    nxt: datetime = croniter(schedule, start).get_next(datetime)
    return int(nxt.timestamp() * 1_000_000)


def due_names(
    scheduled: Iterable[Scheduled],
    recent: Callable[[str], Sequence[JobRun]],
    backoff: Backoff,
    now_us: int,
) -> list[str]:
    """The jobs whose next cron time, after their last start, has come and that are not
    backed off: the rule every kind's `due` applies."""
    names: list[str] = []
    for job in scheduled:
        try:
            runs = recent(job.name)
            until = backoff.until(runs)
            if until is not None and until > now_us:
                continue
            base = runs[0].started_at if runs else job.since_us
            due = next_cron_us(job.schedule, base) <= now_us
        except Exception:  # one unusable job (a schedule stored bad) leaves the others due
            log.exception("scheduler: cannot tell whether job %r is due", job.name)
            continue
        if due:
            names.append(job.name)
    return names


class JobKind(Protocol):
    """A kind of job the scheduler runs. `run` may raise `JobAlreadyRunning` (left to the
    other run, logged at info) or `JobNotRunnable` (warned); any other failure is a result
    with status `failed`, or an exception the scheduler records as one."""

    name: str
    keeps_history: bool
    backoff: Backoff

    def due(self, now_us_: int | None = None) -> list[str]:
        """Names of the jobs due now (see `due_names`), in the order they should run."""
        ...

    def run(self, name: str, ctx: JobContext) -> JobResult: ...

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        """The job's latest runs, newest first, the one in progress included."""
        ...
