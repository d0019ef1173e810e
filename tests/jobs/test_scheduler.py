"""The one scheduler on SQLite and PostgreSQL: due jobs run and others do not, failing jobs back
off, the concurrency limit holds, run-now goes first, a job running elsewhere is left to it,
and one scheduler per database leads. Ticks are driven by the tests; jobs run in the
scheduler's own threads and hold on events, never on timing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lodestar.catalog import Catalog
from lodestar.jobs import registry
from lodestar.jobs.errors import JobNotRunnable
from lodestar.jobs.history import JobHistory
from lodestar.jobs.models import JobContext, JobResult
from lodestar.jobs.scheduler import Scheduler
from lodestar.model.records import now_us
from lodestar.settings import Settings

from .kinds import ListedJobs

S = 1_000_000
DAY = 86_400 * S
WAIT = 30.0  # seconds a test waits for a job thread before it fails

Make = Callable[..., Scheduler]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def make(catalog: Catalog, settings: Settings) -> Iterator[Make]:
    """Schedulers on the test's database, stopped (and stepped down) afterwards."""
    made: list[Scheduler] = []

    def build(*kinds: ListedJobs, **options: object) -> Scheduler:
        s = Scheduler(catalog, settings, kinds=list(kinds) or None, **options)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield build
    for s in made:
        s.stop()


def idle(s: Scheduler) -> None:
    assert s.wait_idle(WAIT), f"jobs still running after {WAIT}s: {s.running()}"


def test_a_registered_kind_runs_its_due_jobs_and_not_the_others(
    catalog: Catalog, make: Make
) -> None:
    ran: list[str] = []

    def record(name: str, ctx: JobContext) -> JobResult:
        ran.append(name)
        return JobResult("success", {"rows": 3})

    created = now_us()
    schedules = {"nightly": ("0 3 * * *", created - 2 * DAY), "fresh": ("0 3 * * *", created)}
    registry.register(
        "test-nightly", lambda c, _s: ListedJobs("test-nightly", c.store, schedules, record)
    )
    try:
        scheduler = make()  # every registered kind: ingestion and this one
        assert set(scheduler.kinds) == {"ingestion", "retention", "quality", "test-nightly"}
        assert scheduler.tick() == [("test-nightly", "nightly")]
        idle(scheduler)
    finally:
        registry.unregister("test-nightly")
    assert ran == ["nightly"]
    (run,) = JobHistory(catalog.store).recent("test-nightly", "nightly")
    assert (run.status, run.attempt, run.summary, run.error) == ("success", 1, {"rows": 3}, None)
    assert run.ended_at is not None and run.ended_at >= run.started_at
    assert JobHistory(catalog.store).recent("test-nightly", "fresh") == []

    # It ran moments ago, so it is not due again until its next 03:00; "fresh" then too.
    kind = scheduler.kinds["test-nightly"]
    assert scheduler.tick() == []
    assert kind.due() == []
    assert sorted(kind.due(now_us_=now_us() + DAY)) == ["fresh", "nightly"]
    assert ran == ["nightly"]


def test_a_failing_job_backs_off_exponentially_and_recovers(catalog: Catalog, make: Make) -> None:
    outcomes = ["failed", "raise", "success"]

    def flaky(name: str, ctx: JobContext) -> JobResult:
        outcome = outcomes.pop(0)
        if outcome == "raise":
            raise RuntimeError("the source is down")
        if outcome == "failed":
            return JobResult("failed", error="refused")
        return JobResult("success")

    kind = ListedJobs("test-flaky", catalog.store, {"f": ("* * * * *", now_us() - DAY)}, flaky)
    scheduler = make(kind)
    assert scheduler.tick() == [("test-flaky", "f")]
    idle(scheduler)
    (first,) = kind.recent_runs("f")
    assert (first.status, first.attempt, first.error) == ("failed", 1, "refused")
    assert first.ended_at is not None
    until = first.ended_at + 60 * S  # the cron says every minute; back-off says one minute
    assert kind.backoff.until(kind.recent_runs("f")) == until
    assert kind.due(now_us_=until - 1) == []
    assert scheduler.tick(now_us_=until - 1) == []
    assert kind.due(now_us_=until + 1) == ["f"]

    assert scheduler.tick(now_us_=until + 1) == [("test-flaky", "f")]
    idle(scheduler)
    second, _ = kind.recent_runs("f")
    assert (second.status, second.attempt) == ("failed", 2)
    assert second.error == "unexpected RuntimeError: the source is down"
    assert second.ended_at is not None
    until = second.ended_at + 120 * S  # twice as long after the second failure in a row
    assert kind.backoff.until(kind.recent_runs("f")) == until
    assert kind.due(now_us_=until - 1) == []

    assert scheduler.tick(now_us_=until + 1) == [("test-flaky", "f")]
    idle(scheduler)
    assert [(r.status, r.attempt) for r in kind.recent_runs("f")] == [
        ("success", 3),
        ("failed", 2),
        ("failed", 1),
    ]
    assert kind.backoff.until(kind.recent_runs("f")) is None


def test_no_more_jobs_run_at_once_than_the_concurrency_limit(catalog: Catalog, make: Make) -> None:
    gate = threading.Event()
    state = threading.Condition()
    running: list[str] = []
    entered: list[str] = []
    most = 0

    def hold(name: str, ctx: JobContext) -> JobResult:
        nonlocal most
        with state:
            running.append(name)
            entered.append(name)
            most = max(most, len(running))
            state.notify_all()
        released = gate.wait(WAIT)
        with state:
            running.remove(name)
        return JobResult("success" if released else "failed")

    since = now_us() - DAY
    jobs = {n: ("0 3 * * *", since) for n in ("a", "b", "c", "d")}
    kind = ListedJobs("test-held", catalog.store, jobs, hold)
    scheduler = make(kind, concurrency=2)
    first = scheduler.tick()
    assert len(first) == 2
    with state:
        assert state.wait_for(lambda: len(entered) == 2, WAIT)
    assert scheduler.tick() == []  # both slots are taken: the other two wait
    assert sorted(scheduler.running()) == sorted(first)

    gate.set()
    idle(scheduler)
    second = scheduler.tick()
    assert sorted(first + second) == [("test-held", n) for n in "abcd"]
    idle(scheduler)
    assert sorted(entered) == ["a", "b", "c", "d"]  # each once
    assert most == 2
    assert all(kind.recent_runs(n)[0].status == "success" for n in "abcd")


def test_run_now_goes_ahead_of_due_jobs_even_where_another_process_leads(
    catalog: Catalog, make: Make
) -> None:
    ran: list[str] = []

    def record(name: str, ctx: JobContext) -> JobResult:
        ran.append(f"{name}:{'asked' if ctx.requested else 'due'}")
        return JobResult("success")

    since = now_us() - DAY
    jobs = {"a": ("0 3 * * *", since), "b": ("0 3 * * *", since), "c": ("0 3 * * *", now_us())}
    kind = ListedJobs("test-queue", catalog.store, jobs, record)
    scheduler = make(kind, concurrency=1)
    scheduler.request("test-queue", "c")  # not due: a person asked for it
    started = scheduler.tick()
    assert started[0] == ("test-queue", "c")  # one slot; a job that ends frees it at once
    while started:
        idle(scheduler)
        started = scheduler.tick()
    assert ran == ["c:asked", "a:due", "b:due"]
    assert kind.recent_runs("c")[0].attempt == 1

    # Another process's scheduler does not lead, so it starts no due job; but a run asked of
    # it still runs there.
    other = make(ListedJobs("test-queue", catalog.store, jobs, record), concurrency=1)
    assert scheduler.leading
    assert other.tick(now_us_=now_us() + DAY) == []
    assert not other.leading
    other.request("test-queue", "a")
    assert other.tick(now_us_=now_us() + DAY) == [("test-queue", "a")]
    idle(other)
    assert ran[-1] == "a:asked"

    with pytest.raises(JobNotRunnable, match="no job kind 'nope'"):
        scheduler.request("nope", "x")


def test_a_job_running_elsewhere_is_left_to_it_at_info_level(
    catalog: Catalog, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def record(name: str, ctx: JobContext) -> JobResult:
        ran.append(name)
        return JobResult("success")

    kind = ListedJobs("test-busy", catalog.store, {"a": ("0 3 * * *", now_us() - DAY)}, record)
    history = JobHistory(catalog.store)
    elsewhere, _ = history.begin("test-busy", "a", "schedule")  # another worker's run
    scheduler = make(kind)
    with caplog.at_level("INFO", logger="lodestar.scheduler"):
        scheduler.request("test-busy", "a")
        assert scheduler.tick() == [("test-busy", "a")]
        idle(scheduler)
    assert ran == []
    (run,) = kind.recent_runs("a")
    assert (run.run_id, run.status) == (elsewhere, "running")
    (record_,) = [r for r in caplog.records if "'a'" in r.getMessage()]
    assert record_.levelname == "INFO" and "already running" in record_.getMessage()

    # A run whose process died stops beating: the next start records it as failed and runs.
    stale = JobHistory(catalog.store, stale_after_us=0)
    run_id, attempt = stale.begin("test-busy", "a", "request")
    assert attempt == 2
    (dead,) = [r for r in kind.recent_runs("a") if r.run_id == elsewhere]
    assert dead.status == "failed" and "process stopped" in (dead.error or "")
    assert run_id != elsewhere


def test_one_scheduler_leads_and_another_takes_over_when_it_stops(
    catalog: Catalog, make: Make
) -> None:
    first, second = make(), make()
    first.tick()
    second.tick()
    assert (first.leading, second.leading) == (True, False)
    first.tick()
    second.tick()
    assert (first.leading, second.leading) == (True, False)  # it stays the leader
    first.stop()
    second.tick()
    assert second.leading
    third = make()
    third.tick()
    assert not third.leading
