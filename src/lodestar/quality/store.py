"""Test results: the quality capability's facts, and the questions asked of them.

`test_results` holds every result (a fact table, see `store/series.py`); its default
idempotency key is the test, the time the test ran and the run, so the same dbt results sent
twice are stored once. `test_latest` keeps one row per test, the result with the greatest
(`event_ts`, `idem_key`), upserted in the transaction that appends the results: "the latest
result of every test" is then one indexed page of a 10,000-row table instead of a max per test
over every result ever stored. A result arriving late (older than the latest) does not move it.

Questions: `latest_per_test`, `failed_since` (newest first) and `daily_series`. Long lists
page by an opaque-to-callers cursor: the last row's sort key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from lodestar.catalog.errors import InvalidInput
from lodestar.model.records import now_us
from lodestar.store import series
from lodestar.store.tables import metadata

Status = Literal["success", "failed", "aborted", "warning"]
STATUSES: tuple[str, ...] = ("success", "failed", "aborted", "warning")
DAY_US = 86_400_000_000


def _typed() -> list[sa.Column[Any]]:
    return [
        sa.Column("test_id", sa.String(36), nullable=False),
        sa.Column("asset_id", sa.String(36), nullable=False),
        sa.Column("column_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("expected_min", sa.Float, nullable=True),
        sa.Column("expected_max", sa.Float, nullable=True),
        sa.Column("failed_rows", sa.BigInteger, nullable=True),
    ]


test_results = series.fact_table(
    "test_results",
    metadata,
    *_typed(),
    identity=("test_id", "event_ts", "run_id"),
)
sa.Index("ix_test_results_test", test_results.c.test_id, test_results.c.event_ts)
sa.Index("ix_test_results_asset", test_results.c.asset_id, test_results.c.event_ts)
sa.Index(
    "ix_test_results_status",
    test_results.c.status,
    test_results.c.event_ts,
    test_results.c.id,
)

test_latest = sa.Table(
    "test_latest",
    metadata,
    sa.Column("test_id", sa.String(36), primary_key=True),
    *_typed()[1:],
    sa.Column("event_ts", sa.BigInteger, nullable=False),
    sa.Column("recorded_ts", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.String(300), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("idem_key", sa.String(series.KEY_LENGTH), nullable=False),
)
sa.Index("ix_test_latest_asset", test_latest.c.asset_id, test_latest.c.test_id)

# What a result says beyond its numbers (the runner's: the threshold, the SQL that ran, a
# bounded sample of failing rows, the error, how long it took), keyed by the result's key.
test_result_details = sa.Table(
    "test_result_details",
    metadata,
    sa.Column("idem_key", sa.String(series.KEY_LENGTH), primary_key=True),
    sa.Column("test_id", sa.String(36), nullable=False),
    sa.Column("event_ts", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=True),
    sa.Column("detail", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
)
sa.Index("ix_test_result_details_ts", test_result_details.c.event_ts)

_RESULT_FIELDS = tuple(c.name for c in _typed())


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    after: str | None  # give it back as `after` for the next page; None: no more


def record_results(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Append test results and move each test's latest; returns how many were new.

    A row has the `test_results` columns: `test_id`, `asset_id`, `status`, `event_ts`,
    `origin`, optionally `column_id`, `value`, `expected_min`, `expected_max`, `failed_rows`,
    `run_id`, `idem_key`."""
    if not rows:
        return 0
    now = now_us()
    full: list[dict[str, Any]] = []
    for r in rows:
        if r.get("status") not in STATUSES:
            raise InvalidInput(f"a test result's status is one of {', '.join(STATUSES)}")
        row = dict(r)
        row["recorded_ts"] = r.get("recorded_ts") or now
        row["idem_key"] = series.key_of(test_results, r)
        full.append(row)
    new = series.append(conn, test_results, full)
    _move_latest(conn, full)
    return new


def record_details(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store what results say beyond their numbers, by result key (a key stored is kept)."""
    if not rows:
        return
    t = test_result_details
    keys = [r["idem_key"] for r in rows]
    have: set[str] = set(
        conn.execute(sa.select(t.c.idem_key).where(t.c.idem_key.in_(keys))).scalars()
    )
    fresh = [dict(r) for r in rows if r["idem_key"] not in have]
    if fresh:
        conn.execute(t.insert(), fresh)


def details_of(conn: Connection, keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """Details by result key: `duration_ms` and the `detail` document."""
    t = test_result_details
    out: dict[str, dict[str, Any]] = {}
    keys = list(keys)
    for i in range(0, len(keys), 500):
        q = sa.select(t.c.idem_key, t.c.duration_ms, t.c.detail).where(
            t.c.idem_key.in_(keys[i : i + 500])
        )
        for r in conn.execute(q):
            out[r.idem_key] = {"duration_ms": r.duration_ms, **(r.detail or {})}
    return out


def results_between(
    conn: Connection, test_ids: Collection[str], since: int, until: int
) -> list[dict[str, Any]]:
    """Every result of these tests in [since, until), and each test's last one before
    `since` (the state the window starts in), in time order."""
    t = test_results
    cols = [t.c.test_id, t.c.status, t.c.value, t.c.expected_max, t.c.event_ts]
    ids = list(test_ids)
    if not ids:
        return []
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(*cols)
            .where(t.c.test_id.in_(ids), t.c.event_ts >= since, t.c.event_ts < until)
            .order_by(t.c.event_ts, t.c.id)
        )
    ]
    for tid in ids:
        before = conn.execute(
            sa.select(*cols)
            .where(t.c.test_id == tid, t.c.event_ts < since)
            .order_by(t.c.event_ts.desc(), t.c.id.desc())
            .limit(1)
        ).first()
        if before is not None:
            rows.append(dict(before._mapping))
    rows.sort(key=lambda r: r["event_ts"])
    return rows


def _move_latest(conn: Connection, rows: list[dict[str, Any]]) -> None:
    newest: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen = newest.get(r["test_id"])
        if seen is None or (r["event_ts"], r["idem_key"]) > (seen["event_ts"], seen["idem_key"]):
            newest[r["test_id"]] = r
    cols = (*_RESULT_FIELDS, "event_ts", "recorded_ts", "origin", "run_id", "idem_key")
    values = [tuple(r.get(c) for c in cols) for r in newest.values()]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    t = "test_latest"
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "test_id")
    conn.exec_driver_sql(
        f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
        f"ON CONFLICT (test_id) DO UPDATE SET {sets} "
        f"WHERE excluded.event_ts > {t}.event_ts "
        f"OR (excluded.event_ts = {t}.event_ts AND excluded.idem_key > {t}.idem_key)",
        values,
    )


def _result(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = row._asdict()
    return out


def latest_per_test(
    conn: Connection,
    asset_ids: Collection[str] | None = None,
    *,
    limit: int = 100,
    after: str | None = None,
) -> Page:
    """The latest result of every test (of these assets), by test id."""
    t = test_latest
    q = sa.select(*(c for c in t.c if c.name != "idem_key"))
    if asset_ids is not None:
        q = q.where(t.c.asset_id.in_(list(asset_ids)))
    if after:
        q = q.where(t.c.test_id > after)
    rows = [_result(r) for r in conn.execute(q.order_by(t.c.test_id).limit(limit))]
    return Page(rows, rows[-1]["test_id"] if len(rows) == limit else None)


def _ts_id_cursor(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    ts, _, rid = after.partition(":")
    try:
        return int(ts), int(rid)
    except ValueError:
        raise InvalidInput("the 'after' cursor is not one this catalog handed out") from None


def failed_since(
    conn: Connection,
    ts: int,
    *,
    limit: int = 100,
    after: str | None = None,
    status: Status = "failed",
) -> Page:
    """Every result with `status` (failed) that happened at or after `ts`, newest first."""
    t = test_results
    q = sa.select(*(c for c in t.c if c.name != "idem_key")).where(
        t.c.status == status, t.c.event_ts >= ts
    )
    cursor = _ts_id_cursor(after)
    if cursor is not None:
        q = q.where(sa.tuple_(t.c.event_ts, t.c.id) < sa.tuple_(*cursor))
    q = q.order_by(t.c.event_ts.desc(), t.c.id.desc()).limit(limit)
    rows = [_result(r) for r in conn.execute(q)]
    nxt = f"{rows[-1]['event_ts']}:{rows[-1]['id']}" if len(rows) == limit else None
    return Page(rows, nxt)


def daily_series(
    conn: Connection,
    *,
    test_id: str | None = None,
    asset_id: str | None = None,
    since: int,
    until: int,
) -> list[dict[str, Any]]:
    """Per UTC day in [since, until): results, failures and the value's min/avg/max, for one
    test or for every test of one asset. `day` is the day's start in epoch µs."""
    if (test_id is None) == (asset_id is None):
        raise InvalidInput("give a test_id or an asset_id")
    t = test_results
    day = (t.c.event_ts // DAY_US).label("d")
    failed = sa.func.sum(sa.case((t.c.status == "failed", 1), else_=0))
    q = (
        sa.select(
            day,
            sa.func.count().label("results"),
            failed.label("failed"),
            sa.func.min(t.c.value).label("value_min"),
            sa.func.avg(t.c.value).label("value_avg"),
            sa.func.max(t.c.value).label("value_max"),
        )
        .where(
            t.c.test_id == test_id if test_id is not None else t.c.asset_id == asset_id,
            t.c.event_ts >= since,
            t.c.event_ts < until,
        )
        .group_by(day)
        .order_by(day)
    )
    out = []
    for r in conn.execute(q):
        row = dict(r._mapping)
        row["day"] = int(row.pop("d")) * DAY_US
        row["failed"] = int(row["failed"])
        row["value_avg"] = None if row["value_avg"] is None else float(row["value_avg"])
        out.append(row)
    return out


def erase_assets(conn: Connection, asset_ids: Sequence[str]) -> None:
    """Delete every result of these (hard-deleted) assets."""
    for i in range(0, len(asset_ids), 500):
        chunk = list(asset_ids[i : i + 500])
        keys = sa.select(test_results.c.idem_key).where(test_results.c.asset_id.in_(chunk))
        conn.execute(test_result_details.delete().where(test_result_details.c.idem_key.in_(keys)))
        conn.execute(test_results.delete().where(test_results.c.asset_id.in_(chunk)))
        conn.execute(test_latest.delete().where(test_latest.c.asset_id.in_(chunk)))


def purge_before(conn: Connection, ts: int, *, limit: int = 10_000) -> int:
    """Retention: delete up to `limit` results older than `ts` (and latest rows that old)."""
    n = series.purge_before(conn, test_results, ts, limit=limit)
    d = test_result_details
    ids = sa.select(d.c.idem_key).where(d.c.event_ts < ts).limit(limit).scalar_subquery()
    conn.execute(d.delete().where(d.c.idem_key.in_(ids)))
    if n < limit:
        conn.execute(test_latest.delete().where(test_latest.c.event_ts < ts))
    return n


__all__ = [
    "STATUSES",
    "Page",
    "daily_series",
    "details_of",
    "erase_assets",
    "failed_since",
    "latest_per_test",
    "purge_before",
    "record_details",
    "record_results",
    "results_between",
    "test_latest",
    "test_result_details",
    "test_results",
]
