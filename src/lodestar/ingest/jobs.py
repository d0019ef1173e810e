"""Ingestion as a job kind: the stored pipelines with a cron schedule, run by the one scheduler
(`lodestar.jobs.scheduler`) in `lodestar serve`, and the runs asked for through the API
(`POST /api/v1/ingestion-pipelines/{id}/runs`).

Ingestion keeps its own run history (`ingest_runs`: heartbeats, resumable units, the report
the API shows), so the scheduler records nothing more for it; its run state's `begin()` is the
per-pipeline lock. Any orchestrator can run `lodestar pipelines run NAME` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal, cast

from lodestar.catalog import Catalog, Key, NotFound
from lodestar.ingest.errors import AlreadyRunning, ConfigError
from lodestar.ingest.limits import ServerRunLimits
from lodestar.ingest.report import RunReport
from lodestar.ingest.runner import BACKOFF, record_failed_run
from lodestar.ingest.service import run_stored
from lodestar.ingest.sinks import PIPELINE_KIND, CatalogSink
from lodestar.ingest.state import StateStore
from lodestar.jobs.errors import JobAlreadyRunning, JobNotRunnable
from lodestar.jobs.models import JobContext, JobResult, JobRun, Scheduled, due_names
from lodestar.jobs.registry import register
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import now_us
from lodestar.settings import Settings

KIND = "ingestion"
log = logging.getLogger("lodestar.scheduler")


class IngestionJobs:
    name = KIND
    keeps_history = True
    backoff = BACKOFF

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.state = StateStore(catalog.store)
        self.limits = ServerRunLimits.from_settings(settings)

    def scheduled(self) -> Iterator[Scheduled]:
        """Enabled stored pipelines with a schedule."""
        after: str | None = None
        while True:
            page = self.catalog.list_page(PIPELINE_KIND, limit=500, after=after)
            for asset in page.items:
                doc = asset.doc
                if doc.get("enabled", True) and doc.get("schedule"):
                    yield Scheduled(asset.name, doc["schedule"], asset.created_at)
            if page.after is None:
                return
            after = page.after

    def due(self, now_us_: int | None = None) -> list[str]:
        """Names of enabled pipelines whose cron time has come and that are not backed off."""
        now = now_us_ if now_us_ is not None else now_us()
        return due_names(self.scheduled(), self.recent_runs, self.backoff, now)

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        return [JobRun.from_row(r) for r in self.state.recent(name, limit)]

    def run(self, name: str, ctx: JobContext) -> JobResult:
        """Run the stored pipeline. Whatever stops it from running (an unusable recipe, a
        limit of server runs, an unreachable sink, a bug) is recorded as a failed run: it
        backs off, turns unhealthy, and takes no slot from the other due pipelines."""
        try:
            report = run_stored(name, self.settings, self.catalog, limits=self.limits)
        except AlreadyRunning as e:
            raise JobAlreadyRunning(str(e)) from None
        except ConfigError as e:
            if not self._exists(name):
                raise JobNotRunnable(str(e)) from None
            report = self._failed(name, str(e))
        except Exception as e:
            log.exception("ingestion pipeline %r failed", name)
            report = self._failed(name, f"unexpected {type(e).__name__}: {e}")
        status = cast(Literal["success", "partial", "failed"], report.status)
        error = report.failures[0] if status == "failed" and report.failures else None
        return JobResult(status, report.to_dict(), error)

    def _exists(self, name: str) -> bool:
        try:
            return not self.catalog.get(PIPELINE_KIND, Key(fqn=fqn_mod.quote(name))).deleted
        except (NotFound, fqn_mod.FQNError):
            return False

    def _failed(self, name: str, failure: str) -> RunReport:
        try:
            return record_failed_run(
                CatalogSink(self.catalog, name, local=False), self.state, name, failure
            )
        except AlreadyRunning as e:
            raise JobAlreadyRunning(str(e)) from None

    def tick(self) -> None:
        """Run the due pipelines now, one after another in this thread, with no election:
        what the scheduler does for ingestion on each tick."""
        from lodestar.jobs.leader import SoleLeadership
        from lodestar.jobs.scheduler import Scheduler

        once = Scheduler(self.catalog, self.settings, kinds=[self], leadership=SoleLeadership())
        once.run_pending()


register(KIND, IngestionJobs)
