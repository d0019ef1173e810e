"""Retention of time series: facts older than their setting's number of days are deleted.

`purge_expired` is a plain function for a daily job. It deletes in batches of `batch` rows,
one transaction each, so on SQLite other writers get their turn between batches.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from lodestar.catalog import Batch, Catalog
from lodestar.jobs import registry
from lodestar.jobs.history import JobHistory
from lodestar.jobs.models import Backoff, JobContext, JobResult, JobRun, Scheduled, due_names
from lodestar.model.records import now_us
from lodestar.quality import store as quality
from lodestar.settings import Settings
from lodestar.store import series
from lodestar.store.engine import Store
from lodestar.store.tables import observations
from lodestar.usage import store as usage

DAY_US = 86_400_000_000
Purge = Callable[[Connection, int, int], int]


def _observations(conn: Connection, ts: int, limit: int) -> int:
    return series.purge_before(conn, observations, ts, limit=limit)


def _test_results(conn: Connection, ts: int, limit: int) -> int:
    return quality.purge_before(conn, ts, limit=limit)


def _usage(conn: Connection, ts: int, limit: int) -> int:
    return usage.purge_before(conn, ts, limit=limit)


def purge_expired(
    store: Store, settings: Settings, now: int, *, batch: int = 10_000
) -> dict[str, int]:
    """Delete the facts that happened more than the configured days before `now` (epoch µs);
    returns the rows deleted per table (tables kept forever are left out)."""
    plan: list[tuple[str, int | None, Purge]] = [
        ("test_results", settings.retention_days_test_results, _test_results),
        ("usage_daily", settings.retention_days_usage, _usage),
        ("observations", settings.retention_days_observations, _observations),
    ]
    deleted: dict[str, int] = {}
    for table, days, purge in plan:
        if not days:
            continue
        cutoff = now - days * DAY_US
        total = 0
        while True:
            with store.write() as conn:
                n = purge(conn, cutoff, batch)
            total += n
            if n < batch:
                break
        deleted[table] = total
    return deleted


__all__ = ["purge_expired"]


class RetentionJobs:
    """Retention as a job of the one scheduler: `purge` runs daily at 03:17 (server time, UTC),
    and only when some retention setting is on. Its runs are kept in `job_runs`."""

    name = "retention"
    keeps_history = False
    backoff = Backoff(base_s=600.0, max_s=24 * 3600.0)
    schedule = "17 3 * * *"

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.store = catalog.store
        self.settings = settings
        self.history = JobHistory(catalog.store)
        self.since = now_us()

    def _on(self) -> bool:
        s = self.settings
        return bool(
            s.retention_days_test_results or s.retention_days_usage or s.retention_days_observations
        )

    def due(self, now_us_: int | None = None) -> list[str]:
        if not self._on():
            return []
        now = now_us_ if now_us_ is not None else now_us()
        jobs = [Scheduled("purge", self.schedule, self.since)]
        return due_names(jobs, self.recent_runs, self.backoff, now)

    def recent_runs(self, name: str, limit: int = 20) -> list[JobRun]:
        return self.history.recent(self.name, name, limit)

    def run(self, name: str, ctx: JobContext) -> JobResult:
        deleted = purge_expired(self.store, self.settings, now_us())
        return JobResult("success", {"deleted": deleted})


registry.register(RetentionJobs.name, RetentionJobs)


class ErasedAssetFacts:
    """A derived writer (entry point `lodestar.derived_writers`: `facts`): when an asset is
    erased (`DELETE ...?hard=true`), its test results and usage go in the same transaction, as
    its versions, edges and observations do. It keeps no rows of its own to rebuild."""

    name = "facts"

    def apply(self, conn: Connection, batch: Batch) -> None:
        erased = [a.asset.id for a in batch.assets if a.event_type == "entity_hard_deleted"]
        if erased:
            quality.erase_assets(conn, erased)
            usage.erase_assets(conn, erased)

    def clear(self, conn: Connection) -> None:
        return None

    def manages(self, object_name: str) -> bool:
        return False
