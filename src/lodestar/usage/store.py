"""Usage per asset and day: the usage capability's facts, and the questions asked of them.

One row of `usage_daily` is one asset's usage on one UTC day (`day` as yyyymmdd, `event_ts`
the day's start) as one origin counted it. Its idempotency key is always derived from
(`asset_id`, `day`, `origin`), never the caller's: a day delivered again by the same origin
replaces the stored counts when they differ (a connector that runs hourly delivers today's
counts several times, each more complete) and is ignored when they are the same. Two origins
(say, the warehouse's query log and a BI tool) keep a row each; questions add them up.

`usage_weekly` holds each asset's reads per week (weeks of 7 days counted from 1970-01-01),
recomputed from `usage_daily` for the weeks a delivery touched, in its transaction. "Top assets
by reads over 30 days" adds the full weeks of the window from it and only the days at either
edge from `usage_daily`: about a third of the rows a day-by-day sum reads, and a year's window
reads 52 rows per asset instead of 365.
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

usage_weekly = sa.Table(
    "usage_weekly",
    metadata,
    sa.Column("asset_id", sa.String(36), primary_key=True),
    sa.Column("week", sa.Integer, primary_key=True),
    sa.Column("reads", sa.BigInteger, nullable=False),
)
sa.Index("ix_usage_weekly_week", usage_weekly.c.week, usage_weekly.c.asset_id, usage_weekly.c.reads)

_COUNTS = ("reads", "writes", "users", "queries")
_EPOCH = date(1970, 1, 1).toordinal()


def day_number(d: date) -> int:
    """A date as the integer yyyymmdd that `day` holds."""
    return d.year * 10_000 + d.month * 100 + d.day


def day_number_of_us(ts: int) -> int:
    """The UTC day (yyyymmdd) an epoch-µs time falls on."""
    return day_number(datetime.fromtimestamp(ts // 1_000_000, UTC).date())


def epoch_day(day: int) -> int:
    """Day yyyymmdd as days since 1970-01-01."""
    return date(day // 10_000, day // 100 % 100, day % 100).toordinal() - _EPOCH


def day_of_epoch(n: int) -> int:
    """Days since 1970-01-01 as yyyymmdd."""
    return day_number(date.fromordinal(n + _EPOCH))


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
    changed = series.append(conn, usage_daily, full)
    if changed:
        _sum_weeks(conn, {(r["asset_id"], epoch_day(r["day"]) // 7) for r in full})
    return changed


def _sum_weeks(conn: Connection, weeks: set[tuple[str, int]]) -> None:
    """Recompute these (asset, week) rows of `usage_weekly` from `usage_daily`."""
    if not weeks:
        return
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    conn.exec_driver_sql(
        "INSERT INTO usage_weekly (asset_id, week, reads) "
        f"SELECT asset_id, {mark}, sum(reads) FROM usage_daily "
        f"WHERE asset_id = {mark} AND day >= {mark} AND day <= {mark} GROUP BY asset_id "
        "ON CONFLICT (asset_id, week) DO UPDATE SET reads = excluded.reads",
        [
            (w, a, day_of_epoch(w * 7), day_of_epoch(w * 7 + 6))
            for a, w in sorted(weeks, key=lambda aw: (aw[1], aw[0]))
        ],
    )


def top_assets(
    conn: Connection, since_day: int, until_day: int, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The `limit` assets read most on the days since_day..until_day (both included)."""
    first, last = epoch_day(since_day), epoch_day(until_day)
    w0, w1 = -(-first // 7), (last + 1) // 7  # the weeks wholly inside: w0 <= week < w1
    d, w = usage_daily, usage_weekly
    if w0 >= w1:
        parts: list[sa.Select[Any]] = [
            sa.select(d.c.asset_id, d.c.reads).where(d.c.day >= since_day, d.c.day <= until_day)
        ]
    else:
        parts = [sa.select(w.c.asset_id, w.c.reads).where(w.c.week >= w0, w.c.week < w1)]
        if first < w0 * 7:
            edge = d.c.day >= since_day, d.c.day <= day_of_epoch(w0 * 7 - 1)
            parts.append(sa.select(d.c.asset_id, d.c.reads).where(*edge))
        if last >= w1 * 7:
            edge = d.c.day >= day_of_epoch(w1 * 7), d.c.day <= until_day
            parts.append(sa.select(d.c.asset_id, d.c.reads).where(*edge))
    rows = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    reads = sa.func.sum(rows.c.reads).label("reads")
    q = (
        sa.select(rows.c.asset_id, reads)
        .group_by(rows.c.asset_id)
        .order_by(reads.desc(), rows.c.asset_id)
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


def erase_assets(conn: Connection, asset_ids: Sequence[str]) -> None:
    """Delete the usage of these (hard-deleted) assets."""
    for i in range(0, len(asset_ids), 500):
        chunk = list(asset_ids[i : i + 500])
        conn.execute(usage_daily.delete().where(usage_daily.c.asset_id.in_(chunk)))
        conn.execute(usage_weekly.delete().where(usage_weekly.c.asset_id.in_(chunk)))


def purge_before(conn: Connection, ts: int, *, limit: int = 10_000) -> int:
    """Retention: delete up to `limit` days of usage that started before `ts`; with the last
    batch, the weeks before `ts` go too and the week `ts` falls in is summed again."""
    n = series.purge_before(conn, usage_daily, ts, limit=limit)
    if n < limit:
        week = (ts // 86_400_000_000) // 7
        conn.execute(usage_weekly.delete().where(usage_weekly.c.week <= week))
        first, last = day_of_epoch(week * 7), day_of_epoch(week * 7 + 6)
        assets = sa.select(usage_daily.c.asset_id).where(
            usage_daily.c.day >= first, usage_daily.c.day <= last
        )
        kept: list[str] = list(conn.execute(assets.distinct()).scalars())
        _sum_weeks(conn, {(a, week) for a in kept})
    return n


__all__ = [
    "daily",
    "day_number",
    "day_number_of_us",
    "day_of_epoch",
    "day_start_us",
    "epoch_day",
    "erase_assets",
    "purge_before",
    "record_usage",
    "top_assets",
    "usage_daily",
    "usage_weekly",
]
