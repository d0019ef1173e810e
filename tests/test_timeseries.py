"""Time series: test results, usage and observations, on SQLite and PostgreSQL.

Each fact is stored once however often it is delivered, keeps the time it happened apart from
the time it was recorded, and the questions the capabilities ask answer from small generated
data sets whose answers are computed here in plain Python.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import InvalidInput, Key, WriteContext
from lodestar.catalog.observations import Observation, ObservationLog
from lodestar.model.records import Origin, now_us
from lodestar.quality import store as quality
from lodestar.series_retention import purge_expired
from lodestar.settings import Settings
from lodestar.store import Store, series
from lodestar.usage import store as usage

if TYPE_CHECKING:  # the `seed` fixture's type; tests/conftest.py is not importable by name
    from conftest import Seed

DAY = 86_400_000_000
T0 = 1_700_006_400_000_000  # 2023-11-15 00:00 UTC


def _count(store: Store, table: str) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _result(test: str, ts: int, status: str = "success", **kw: Any) -> dict[str, Any]:
    return {
        "test_id": test,
        "asset_id": kw.pop("asset_id", "table-1"),
        "status": status,
        "event_ts": ts,
        "origin": "integration:dbt",
        **kw,
    }


def _record(store: Store, rows: list[dict[str, Any]]) -> int:
    with store.write() as conn:
        return quality.record_results(conn, rows)


# -- idempotency ---------------------------------------------------------------------------------


def test_the_same_test_results_delivered_twice_are_stored_once(store: Store) -> None:
    run = [
        _result(f"test-{i}", T0 + i, "failed" if i % 3 == 0 else "success", run_id="inv-1")
        for i in range(50)
    ]
    assert _record(store, run) == 50
    assert _record(store, run) == 0
    assert _record(store, run[:10] + run[:10]) == 0
    assert _count(store, "test_results") == 50
    # the next run of the same tests is new facts
    assert _record(store, [{**r, "event_ts": r["event_ts"] + DAY, "run_id": "inv-2"} for r in run])
    assert _count(store, "test_results") == 100
    # a caller's own key decides: the same key again is the same fact
    keyed = [_result("test-x", T0, idem_key="dbt:inv-3:test-x")]
    assert _record(store, keyed) == 1
    assert _record(store, [{**keyed[0], "event_ts": T0 + 5}]) == 0
    assert _count(store, "test_results") == 101


def test_big_batches_are_stored_once_too(store: Store) -> None:
    """Batches from `series.COPY_FROM` rows go through COPY on PostgreSQL."""
    n = series.COPY_FROM + 200
    run = [_result(f"test-{i}", T0 + i, run_id="inv-1", value=i / 2) for i in range(n)]
    assert _record(store, run) == n
    assert _record(store, run + run[:50]) == 0
    assert _count(store, "test_results") == n
    days = [
        {"asset_id": f"a{i}", "day": 20231115, "origin": "ingestion:logs", "reads": i}
        for i in range(n)
    ]
    with store.write() as conn:
        assert usage.record_usage(conn, days) == n
        # the same again, but two of them corrected, once more each within the batch
        fixed = [*days, {**days[0], "reads": 7}, {**days[1], "reads": 8}, {**days[1], "reads": 9}]
        assert usage.record_usage(conn, fixed) == 2
        assert usage.daily(conn, "a1", 20231115, 20231115)[0]["reads"] == 9
    assert _count(store, "usage_daily") == n


def test_a_result_with_an_unknown_status_is_refused_and_nothing_is_stored(store: Store) -> None:
    with pytest.raises(InvalidInput, match="status"):
        _record(store, [_result("t1", T0), _result("t2", T0, "passed")])
    assert _count(store, "test_results") == 0


def test_a_redelivered_day_of_usage_replaces_its_counts_once(store: Store) -> None:
    day = {"asset_id": "a1", "day": 20231115, "origin": "ingestion:logs", "reads": 10}
    with store.write() as conn:
        assert usage.record_usage(conn, [day, {**day, "asset_id": "a2"}]) == 2
    with store.write() as conn:
        assert usage.record_usage(conn, [day]) == 0  # the same delivery: nothing changes
        assert usage.record_usage(conn, [{**day, "reads": 25, "users": 3}]) == 1  # more complete
        assert usage.record_usage(conn, [{**day, "origin": "integration:bi", "reads": 5}]) == 1
    assert _count(store, "usage_daily") == 3
    with store.read() as conn:
        assert usage.daily(conn, "a1", 20231101, 20231130) == [
            {"day": 20231115, "reads": 30, "writes": 0, "users": 3, "queries": 0}
        ]


def test_observations_delivered_again_are_duplicates(seed: Seed) -> None:
    table = seed.table("orders").asset
    assert table is not None
    log = ObservationLog(seed.catalog.store)
    items = [Observation("table", table.fqn, "row_count", {"rows": n}, ts=T0 + n) for n in range(5)]
    first = log.record(items, seed.ctx)
    assert (first, first.new, first.duplicates) == ([], 5, 0)
    again = log.record([*items, Observation("table", "wh.db.raw.nope", "row_count", {})], seed.ctx)
    assert (again.new, again.duplicates) == (0, 5)
    assert list(again) == ["no table 'wh.db.raw.nope' to record row_count on"]
    # without a time, the caller's key is what makes a re-delivery a duplicate
    keyed = Observation("table", table.fqn, "row_count", {"rows": 9}, idempotency_key="run-7")
    assert log.record([keyed], seed.ctx).new == 1
    assert log.record([keyed, keyed], seed.ctx).duplicates == 2
    assert len(log.read(table.id, "row_count")) == 6


# -- event time and recorded time -----------------------------------------------------------------


def test_event_time_and_recorded_time_are_kept_apart(seed: Seed) -> None:
    late = T0 - 30 * DAY  # a backfill: it happened a month before it was delivered
    before = now_us()
    _record(seed.catalog.store, [_result("t1", late, run_id="inv-9")])
    with seed.catalog.store.read() as conn:
        page = quality.latest_per_test(conn)
    (row,) = page.rows
    assert row["event_ts"] == late
    assert before <= row["recorded_ts"] <= now_us()
    assert (row["origin"], row["run_id"]) == ("integration:dbt", "inv-9")

    table = seed.table("orders").asset
    assert table is not None
    bot = WriteContext.for_principal(Principal("etl", "bot"), Origin("ingestion", "nightly"))
    ObservationLog(seed.catalog.store).record(
        [Observation("table", table.fqn, "row_count", {"rows": 1}, ts=late, run_id="r1")], bot
    )
    (obs,) = ObservationLog(seed.catalog.store).read(table.id)
    assert obs["ts"] == late and obs["recorded_ts"] >= before
    assert (obs["origin"], obs["actor"], obs["run_id"]) == ("ingestion:nightly", "etl", "r1")


# -- the four questions ----------------------------------------------------------------------------


def _generated_results(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for t in range(12):
        for run in range(8):
            status = rng.choice(["success", "success", "failed", "warning"])
            ts = T0 + run * DAY // 2 + rng.randrange(1000)
            value = float(rng.randrange(100))
            rows.append(_result(f"test-{t:02}", ts, status, asset_id=f"table-{t % 4}", value=value))
    rng.shuffle(rows)  # delivered in any order: the latest is by event time
    return rows


def test_latest_result_of_every_test_pages_through_every_test(store: Store) -> None:
    rows = _generated_results(random.Random(1))
    for i in range(0, len(rows), 25):
        _record(store, rows[i : i + 25])
    expected = {}
    for r in rows:
        if r["test_id"] not in expected or r["event_ts"] > expected[r["test_id"]]["event_ts"]:
            expected[r["test_id"]] = r
    seen: list[dict[str, Any]] = []
    after = None
    with store.read() as conn:
        while True:
            page = quality.latest_per_test(conn, limit=5, after=after)
            seen += page.rows
            if page.after is None:
                break
            after = page.after
        assert [r["test_id"] for r in seen] == sorted(expected)
        for r in seen:
            want = expected[r["test_id"]]
            assert (r["event_ts"], r["status"], r["value"]) == (
                want["event_ts"],
                want["status"],
                want["value"],
            )
        mine = quality.latest_per_test(conn, ["table-1", "table-3"], limit=100)
        assert [r["test_id"] for r in mine.rows] == [f"test-{t:02}" for t in range(12) if t % 2]
    # a late result (older than the latest) does not move it; a newer one does
    oldest = _result("test-00", T0 - DAY, "aborted", asset_id="table-0")
    newest = _result("test-00", T0 + 100 * DAY, "failed", asset_id="table-0", value=1.5)
    _record(store, [oldest])
    with store.read() as conn:
        assert (
            quality.latest_per_test(conn, limit=1).rows[0]["event_ts"]
            == (expected["test-00"]["event_ts"])
        )
    _record(store, [newest])
    with store.read() as conn:
        got = quality.latest_per_test(conn, limit=1).rows[0]
    assert (got["event_ts"], got["status"], got["value"]) == (T0 + 100 * DAY, "failed", 1.5)


def test_everything_that_failed_since_a_time_newest_first(store: Store) -> None:
    rows = _generated_results(random.Random(2))
    _record(store, rows)
    since = T0 + 2 * DAY
    expected = sorted(
        (r for r in rows if r["status"] == "failed" and r["event_ts"] >= since),
        key=lambda r: r["event_ts"],
        reverse=True,
    )
    assert len(expected) > 7
    seen: list[dict[str, Any]] = []
    after = None
    with store.read() as conn:
        while True:
            page = quality.failed_since(conn, since, limit=3, after=after)
            seen += page.rows
            if page.after is None:
                break
            after = page.after
    assert [(r["test_id"], r["event_ts"]) for r in seen] == [
        (r["test_id"], r["event_ts"]) for r in expected
    ]
    with store.read() as conn, pytest.raises(InvalidInput, match="cursor"):
        quality.failed_since(conn, since, after="nonsense")


def test_daily_series_of_one_test_and_of_one_asset(store: Store) -> None:
    rows = _generated_results(random.Random(3))
    _record(store, rows)
    since, until = T0 + DAY, T0 + 3 * DAY
    for field, key in (("test_id", "test-05"), ("asset_id", "table-1")):
        mine = [r for r in rows if r[field] == key and since <= r["event_ts"] < until]
        days = sorted({r["event_ts"] // DAY * DAY for r in mine})
        with store.read() as conn:
            got = quality.daily_series(conn, since=since, until=until, **{field: key})
        assert [g["day"] for g in got] == days
        for g in got:
            that = [r for r in mine if r["event_ts"] // DAY * DAY == g["day"]]
            values = [r["value"] for r in that]
            assert g["results"] == len(that)
            assert g["failed"] == sum(r["status"] == "failed" for r in that)
            assert (g["value_min"], g["value_max"]) == (min(values), max(values))
            assert g["value_avg"] == pytest.approx(sum(values) / len(values))


def test_top_assets_by_reads_and_the_daily_usage_of_one(store: Store) -> None:
    rng = random.Random(4)
    rows = []
    for a in range(30):
        for d in range(1, 29):
            for origin in ("ingestion:logs", "integration:bi"):
                rows.append(
                    {
                        "asset_id": f"asset-{a:02}",
                        "day": 20231100 + d,
                        "origin": origin,
                        "reads": rng.randrange(1000),
                        "writes": rng.randrange(10),
                        "users": rng.randrange(20),
                        "queries": rng.randrange(50),
                    }
                )
    with store.write() as conn:
        assert usage.record_usage(conn, rows[: len(rows) // 2]) == len(rows) // 2
        assert usage.record_usage(conn, rows[len(rows) // 2 :]) == len(rows) - len(rows) // 2
        # a corrected day moves the totals (and the weekly sums the top list reads)
        fix = {**rows[0], "reads": 100_000}
        assert usage.record_usage(conn, [fix]) == 1
    rows[0] = fix

    def expected_top(since: int, until: int) -> list[tuple[str, int]]:
        totals: dict[str, int] = {}
        for r in rows:
            if since <= r["day"] <= until:
                totals[r["asset_id"]] = totals.get(r["asset_id"], 0) + r["reads"]
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    # windows with whole weeks and edge days, within one week, and beyond the data
    windows = [
        (20231101, 20231128),
        (20231110, 20231120),
        (20231103, 20231105),
        (20231116, 20231122),  # exactly one week (weeks start on Thursdays, as 1970-01-01)
        (20231020, 20231212),
        (20231201, 20231231),
    ]
    for since, until in windows:
        with store.read() as conn:
            top = usage.top_assets(conn, since, until, limit=10)
        assert [(t["asset_id"], t["reads"]) for t in top] == expected_top(since, until)
    assert top == []
    with store.read() as conn:
        days = usage.daily(conn, "asset-07", 20231103, 20231105)
    mine = [r for r in rows if r["asset_id"] == "asset-07" and 20231103 <= r["day"] <= 20231105]
    assert [d["day"] for d in days] == [20231103, 20231104, 20231105]
    for d in days:
        that = [r for r in mine if r["day"] == d["day"]]
        assert d["reads"] == sum(r["reads"] for r in that)
        assert d["queries"] == sum(r["queries"] for r in that)
        assert d["users"] == max(r["users"] for r in that)


# -- retention -------------------------------------------------------------------------------------


def test_retention_purges_only_the_facts_older_than_their_setting(seed: Seed) -> None:
    store = seed.catalog.store
    now = T0 + 100 * DAY
    _record(store, [_result("old", now - 40 * DAY), _result("old", now - 31 * DAY)])
    _record(store, [_result("kept", now - 40 * DAY), _result("kept", now - 29 * DAY)])
    _record(store, [_result(f"many-{i}", now - 35 * DAY - i) for i in range(25)])
    with store.write() as conn:
        usage.record_usage(
            conn,
            [
                {"asset_id": "a", "day": d, "origin": "ingestion:logs", "reads": 1}
                for d in (20240101, 20240220, 20240221)  # now is 2024-02-23
            ],
        )
    table = seed.table("orders").asset
    assert table is not None
    log = ObservationLog(store)
    log.record(
        [Observation("table", table.fqn, "row_count", {"n": d}, ts=now - d * DAY) for d in (1, 9)],
        seed.ctx,
    )
    settings = Settings(
        retention_days_test_results=30, retention_days_usage=7, retention_days_observations=0
    )
    assert purge_expired(store, settings, now, batch=10) == {
        "test_results": 28,
        "usage_daily": 1,
    }
    with store.read() as conn:
        latest = quality.latest_per_test(conn).rows
        assert [(r["test_id"], r["event_ts"]) for r in latest] == [("kept", now - 29 * DAY)]
        kept = conn.execute(sa.text("SELECT test_id, event_ts FROM test_results")).all()
        assert [tuple(r) for r in kept] == [("kept", now - 29 * DAY)]
        assert [d["day"] for d in usage.daily(conn, "a", 20240101, 20240301)] == [
            20240220,
            20240221,
        ]
        assert usage.top_assets(conn, 20231201, 20240301) == [{"asset_id": "a", "reads": 2}]
    assert len(log.read(table.id)) == 2  # 0 days: kept forever
    assert purge_expired(store, settings, now) == {"test_results": 0, "usage_daily": 0}


def test_retention_is_a_daily_job_of_the_scheduler_when_a_setting_is_on(seed: Seed) -> None:
    from lodestar.jobs.registry import build_kinds
    from lodestar.jobs.scheduler import Scheduler

    store = seed.catalog.store
    now = now_us()
    _record(store, [_result("old", now - 40 * DAY), _result("new", now - DAY)])
    off = {k.name: k for k in build_kinds(seed.catalog, Settings())}["retention"]
    assert off.due(now + 2 * DAY) == []
    settings = Settings(retention_days_test_results=30)
    kind = {k.name: k for k in build_kinds(seed.catalog, settings)}["retention"]
    assert kind.due(now) == []  # first due at 03:17 after the server started
    assert kind.due(now + 2 * DAY) == ["purge"]
    scheduler = Scheduler(seed.catalog, settings, kinds=[kind])
    try:
        scheduler.request("retention", "purge")
        scheduler.tick()
        assert scheduler.wait_idle(30)
    finally:
        scheduler.stop()
    (run,) = kind.recent_runs("purge")
    assert (run.status, run.summary) == ("success", {"deleted": {"test_results": 1}})
    with store.read() as conn:
        left = conn.execute(sa.text("SELECT test_id FROM test_results")).scalars().all()
    assert left == ["new"]
    assert kind.due(run.started_at + 1) == []  # next due at the 03:17 after this run


def test_erasing_an_asset_erases_its_test_results_and_usage(seed: Seed) -> None:
    """The `facts` derived writer (an entry point, so every process has it) takes an erased
    asset's facts with it in the same transaction; another asset's stay."""
    store = seed.catalog.store
    gone, kept = (seed.table(n).asset for n in ("gone", "kept"))
    assert gone is not None and kept is not None
    now = now_us()
    for asset in (gone, kept):
        _record(store, [_result(f"t-{asset.name}", now - DAY, asset_id=asset.id)])
        with store.write() as conn:
            usage.record_usage(
                conn, [{"asset_id": asset.id, "day": 20240101, "origin": "x", "reads": 3}]
            )
    seed.catalog.delete("table", Key(fqn=gone.fqn), seed.ctx, hard=True)
    with store.read() as conn:
        for table in ("test_results", "test_latest", "usage_daily", "usage_weekly"):
            ids = conn.execute(sa.text(f"SELECT DISTINCT asset_id FROM {table}")).scalars().all()
            assert ids == [kept.id], table
