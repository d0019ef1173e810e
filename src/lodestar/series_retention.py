"""Retention of time series: facts older than their setting's number of days are deleted.

`purge_expired` is a plain function for a daily job. It deletes in batches of `batch` rows,
one transaction each, so on SQLite other writers get their turn between batches.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

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
