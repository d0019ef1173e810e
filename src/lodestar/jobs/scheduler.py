"""The one scheduler: a thread in each server process that, every interval, elects a leader
through the database and, in the leader, starts the due jobs of every registered job kind, at
most `concurrency` at a time, each in a thread of its own.

Run-now requests (`request(kind, name)`) go ahead of due jobs, and run in the process that
received them whether it leads or not: a person asked, and the per-job lock (the run history's
begin, or the kind's own) keeps two runs of one job apart. A job running elsewhere is left to
it and logged at info level.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from lodestar.catalog import Catalog
from lodestar.jobs.errors import JobAlreadyRunning, JobError, JobNotRunnable
from lodestar.jobs.history import JobHistory
from lodestar.jobs.leader import Leadership, leadership_for
from lodestar.jobs.models import JobContext, JobKind, JobResult, consecutive_failures
from lodestar.settings import Settings

log = logging.getLogger("lodestar.scheduler")

BEAT_S = 15.0  # heartbeat of the runs recorded in job_runs; stale after 60 s

Job = tuple[str, str]  # (kind, name)


class Scheduler:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        *,
        kinds: Sequence[JobKind] | None = None,
        interval: float | None = None,
        concurrency: int | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        if kinds is None:
            from lodestar.jobs.registry import build_kinds

            kinds = build_kinds(catalog, settings)
        self.kinds = {k.name: k for k in kinds}
        self.interval = interval if interval is not None else settings.scheduler_interval
        self.concurrency = concurrency or settings.scheduler_concurrency
        self.history = JobHistory(catalog.store)
        self.leadership = leadership or leadership_for(catalog.store)
        self.leading = False
        self.ticks = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Condition()
        self._requested: list[Job] = []  # run-now requests, oldest first
        self._running: dict[Job, str | None] = {}  # job -> its job_runs id, if recorded there
        self._thread: threading.Thread | None = None

    # -- asking ---------------------------------------------------------------------------------

    def request(self, kind: str, name: str) -> None:
        """Run this job as soon as a slot is free, ahead of due jobs and whatever its schedule,
        enabled flag or back-off say: a person asked for it."""
        if kind not in self.kinds:
            known = ", ".join(sorted(self.kinds)) or "none"
            raise JobNotRunnable(f"no job kind {kind!r} in this scheduler (known: {known})")
        with self._lock:
            if (kind, name) not in self._requested:
                self._requested.append((kind, name))
        self._wake.set()

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._running)

    # -- one pass -------------------------------------------------------------------------------

    def _candidates(self, leading: bool, now_us_: int | None) -> list[tuple[Job, bool]]:
        """What should run now, in order: the asked-for jobs, then (when leading) the due ones."""
        with self._lock:
            requested = list(self._requested)
        out = [(job, True) for job in requested]
        if leading:
            for kind in self.kinds.values():
                try:
                    names = kind.due(now_us_)
                except Exception:
                    log.exception("scheduler: listing the due %s jobs failed", kind.name)
                    continue
                out += [((kind.name, n), False) for n in names if (kind.name, n) not in requested]
        return out

    def _claim(self, job: Job, asked: bool) -> bool:
        """Take a slot for the job; False when it runs here already or no slot is free."""
        with self._lock:
            if job in self._running or len(self._running) >= self.concurrency:
                return False
            if asked:
                self._requested.remove(job)
            self._running[job] = None
            return True

    def tick(self, now_us_: int | None = None) -> list[Job]:
        """Elect, then start what should run now in threads of its own, up to the concurrency
        limit; the jobs started. Jobs that find no free slot are looked at again next tick."""
        leading = self.leadership.hold()
        if leading != self.leading:
            log.info("scheduler: this process %s", "leads" if leading else "no longer leads")
        self.leading = leading
        self.ticks += 1
        started: list[Job] = []
        for job, asked in self._candidates(leading, now_us_):
            if self._stop.is_set():
                break
            if not self._claim(job, asked):
                continue
            thread = threading.Thread(
                target=self._run, args=(job, asked), name=f"job-{job[0]}-{job[1]}", daemon=True
            )
            thread.start()
            started.append(job)
        return started

    def run_pending(self, now_us_: int | None = None) -> None:
        """One pass in the calling thread, one job after another and without an election: the
        asked-for jobs, then the due ones (for a process an orchestrator starts, and tests)."""
        for job, asked in self._candidates(True, now_us_):
            if self._stop.is_set():
                return
            if self._claim(job, asked):
                self._run(job, asked)

    def _run(self, job: Job, asked: bool) -> None:
        kind_name, name = job
        kind = self.kinds[kind_name]
        run_id: str | None = None
        try:
            if kind.keeps_history:
                attempt = consecutive_failures(kind.recent_runs(name)) + 1
            else:
                run_id, attempt = self.history.begin(
                    kind_name, name, "request" if asked else "schedule"
                )
                with self._lock:
                    self._running[job] = run_id
            ctx = JobContext(kind_name, name, run_id, attempt, asked, self._stop)
            if run_id is not None:  # a kind with its own history logs its own start
                log.info(
                    "%s job %r started (%s, attempt %d)",
                    kind_name,
                    name,
                    "asked to run" if asked else "due",
                    attempt,
                )
            started = time.monotonic()
            try:
                result = kind.run(name, ctx)
            except JobError as e:
                if run_id is None:
                    raise
                result = JobResult("failed", error=str(e))
            except Exception as e:  # a bug in a job must still end its run with a status
                log.exception("%s job %r failed", kind_name, name)
                result = JobResult("failed", error=f"unexpected {type(e).__name__}: {e}")
            if run_id is not None:
                self.history.finish(run_id, result)
            took = time.monotonic() - started
            if result.status == "failed":
                log.warning("%s job %r failed in %.1fs: %s", kind_name, name, took, result.error)
            else:
                log.info("%s job %r: %s in %.1fs", kind_name, name, result.status, took)
        except JobAlreadyRunning as e:  # e.g. by another worker's scheduler, or by hand
            log.info("%s job %r not run here: %s", kind_name, name, e)
        except JobNotRunnable as e:
            log.warning("%s job %r not run: %s", kind_name, name, e)
        except Exception:
            log.exception("%s job %r could not start", kind_name, name)
        finally:
            with self._lock:
                self._running.pop(job, None)
                self._lock.notify_all()
            self._wake.set()  # a slot is free: start what waits

    def _beat(self) -> None:
        with self._lock:
            ids = [r for r in self._running.values() if r is not None]
        try:
            self.history.beat(ids)
        except Exception:  # a missed beat is retried on the next one
            log.warning("scheduler: could not record the heartbeat of %d runs", len(ids))

    # -- the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            next_tick = time.monotonic() + self.interval
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= last_beat + BEAT_S:
                    self._beat()
                    last_beat = now
                if now >= next_tick:
                    break
                if self._wake.wait(min(next_tick, last_beat + BEAT_S) - now):
                    self._wake.clear()  # asked for a run, or a slot came free
                    break

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lodestar-scheduler", daemon=True)
        self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs here; False if some still do after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop starting jobs, give the running ones `timeout` seconds (their context's
        `stopping` is set), then step down so another process leads."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if not self.wait_idle(timeout):
            log.warning("scheduler: stopping with jobs still running: %s", self.running())
        self.leadership.release()
        self.leading = False
