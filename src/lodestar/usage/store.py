"""Usage per asset and day: the usage capability's facts, and the questions asked of them.

One row of `usage_daily` is one asset's usage on one UTC day (`day` as yyyymmdd, `event_ts`
the day's start) as one origin counted it. Its idempotency key is always derived from
(`asset_id`, `day`, `origin`), never the caller's: a day delivered again by the same origin
replaces the stored counts when they differ (a connector that runs hourly delivers today's
counts several times, each more complete) and is ignored when they are the same. Two origins
(say, the warehouse's query log and a BI tool) keep a row each; questions add them up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.catalog.errors import InvalidInput
from lodestar.model.records import now_us
from lodestar.store import series
from lodestar.store.tables import metadata

usage_daily = series.fact_table(
    "usage_daily",
    metadata,
    sa.Column("asset_id", sa.String(36), nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("reads", sa.BigInteger, nullable=False),
    sa.Column("writes", sa.BigInteger, nullable=False),
    sa.Column("users", sa.Integer, nullable=False),
    sa.Column("queries", sa.Integer, nullable=False),
    identity=("asset_id", "day", "origin"),
    replace=True,
)
sa.Index("ix_usage_daily_asset", usage_daily.c.asset_id, usage_daily.c.day)
# Covering: the top-N question reads the day range of this index and nothing else.
sa.Index("ix_usage_daily_day", usage_daily.c.day, usage_daily.c.asset_id, usage_daily.c.reads)

_COUNTS = ("reads", "writes", "users", "queries")


def day_number(d: date) -> int:
    """A date as the integer yyyymmdd that `day` holds."""
    return d.year * 10_000 + d.month * 100 + d.day


def day_number_of_us(ts: int) -> int:
    """The UTC day (yyyymmdd) an epoch-µs time falls on."""
    return day_number(datetime.fromtimestamp(ts // 1_000_000, UTC).date())


def day_start_us(day: int) -> int:
    """The start of day yyyymmdd (UTC) in epoch µs."""
    d = datetime(day // 10_000, day // 100 % 100, day % 100, tzinfo=UTC)
    return int(d.timestamp()) * 1_000_000


def record_usage(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store days of usage; returns how many rows were new or changed.

    A row has `asset_id`, `day` (yyyymmdd), `origin`, counts `reads`, `writes`, `users`,
    `queries` (missing ones are 0) and optionally `run_id`."""
    if not rows:
        return 0
    now = now_us()
    full = []
    for r in rows:
        try:
            start = day_start_us(int(r["day"]))
        except (KeyError, ValueError, TypeError):
            raise InvalidInput("a usage row's day is a date as yyyymmdd, e.g. 20240131") from None
        counts = {c: int(r.get(c) or 0) for c in _COUNTS}
        if min(counts.values()) < 0:
            raise InvalidInput("usage counts are not negative")
        row = {
            "asset_id": r["asset_id"],
            "day": int(r["day"]),
            **counts,
            "event_ts": start,
            "recorded_ts": now,
            "origin": r["origin"],
            "run_id": r.get("run_id"),
        }
        row["idem_key"] = series.key_of(usage_daily, row)
        full.append(row)
    return series.append(conn, usage_daily, full)


def top_assets(
    conn: Connection, since_day: int, until_day: int, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The `limit` assets read most on the days since_day..until_day (both included)."""
    u = usage_daily
    reads = sa.func.sum(u.c.reads).label("reads")
    q = (
        sa.select(u.c.asset_id, reads)
        .where(u.c.day >= since_day, u.c.day <= until_day)
        .group_by(u.c.asset_id)
        .order_by(reads.desc(), u.c.asset_id)
        .limit(limit)
    )
    return [{"asset_id": r.asset_id, "reads": int(r.reads)} for r in conn.execute(q)]


def daily(conn: Connection, asset_id: str, since_day: int, until_day: int) -> list[dict[str, Any]]:
    """One asset's usage per day (since_day..until_day, both included), every origin added up;
    `users` is the largest origin's count, since the same person may be counted by several."""
    u = usage_daily
    q = (
        sa.select(
            u.c.day,
            sa.func.sum(u.c.reads).label("reads"),
            sa.func.sum(u.c.writes).label("writes"),
            sa.func.max(u.c.users).label("users"),
            sa.func.sum(u.c.queries).label("queries"),
        )
        .where(u.c.asset_id == asset_id, u.c.day >= since_day, u.c.day <= until_day)
        .group_by(u.c.day)
        .order_by(u.c.day)
    )
    return [{k: int(v) for k, v in r._mapping.items()} for r in conn.execute(q)]


def purge_before(conn: Connection, ts: int, *, limit: int = 10_000) -> int:
    """Retention: delete up to `limit` days of usage that started before `ts`."""
    return series.purge_before(conn, usage_daily, ts, limit=limit)


__all__ = [
    "daily",
    "day_number",
    "day_number_of_us",
    "day_start_us",
    "purge_before",
    "record_usage",
    "top_assets",
    "usage_daily",
]
