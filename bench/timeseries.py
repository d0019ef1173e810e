"""Time series at size: test results and usage, insert rate and the four questions' latency.

For each backend (a fresh SQLite file and/or a fresh PostgreSQL database, dropped afterwards):

1. generate `--results` test results (seeded, deterministic) over `--tests` tests on
   `--tables` tables: the tests run together in invocations spread over `--days` days (each
   invocation a run id; ~3% failed, 1% warning, 0.2% aborted), delivered in time order;
   and `--usage` days of usage over `--usage-assets` assets (default: the tables), one
   origin, the days following each other;
2. insert them through `quality.store.record_results` / `usage.store.record_usage` (which
   append through `store.series.append`), `--batch` rows per transaction, and print the rate
   (the time spent generating rows is not counted; computing idempotency keys is);
3. ask each question `--reps` times with parameters drawn from the same seed and print p50 and
   p95 in ms: the latest result of every test (a page of 100 at a random cursor), everything
   that failed since T (the newest 100, T up to 30 days back), the top 100 assets by reads over
   a random 30-day window, and the daily series of one asset over 30 days (test results and
   usage); the walk over all tests' latest results is printed too;
4. print the database's size.

On PostgreSQL the tables are ANALYZEd after the load, as autovacuum would do.

    .venv/bin/python bench/timeseries.py --backend sqlite          # 10M results, 5M usage rows
    .venv/bin/python bench/timeseries.py --backend both --results 1000000 --usage 500000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S
from lodestar.quality import store as quality
from lodestar.store import Store, open_store
from lodestar.usage import store as usage

DAY = 86_400_000_000
START = 1_672_531_200_000_000  # 2023-01-01 00:00 UTC
TARGET_MS = 50.0


def _ids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]


def result_batches(
    args: argparse.Namespace, tests: list[str], tables: list[str]
) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(1)
    runs = max(1, args.results // len(tests))
    step = args.days * DAY // runs
    batch: list[dict[str, Any]] = []
    made = 0
    for run in range(runs):
        run_id = f"inv-{run}"
        base = START + run * step
        for i, test in enumerate(tests):
            if made == args.results:
                break
            x = rng.random()
            status = (
                "failed" if x < 0.03 else "warning" if x < 0.04 else "aborted" if x < 0.042 else
                "success"
            )  # fmt: skip
            value = rng.random() * 1000
            batch.append(
                {
                    "test_id": test,
                    "asset_id": tables[i % len(tables)],
                    "status": status,
                    "value": value,
                    "expected_min": 0.0,
                    "expected_max": 950.0,
                    "failed_rows": int(value) if status == "failed" else 0,
                    "event_ts": base + i * 1000,
                    "origin": "integration:dbt",
                    "run_id": run_id,
                }
            )
            made += 1
            if len(batch) == args.batch:
                yield batch
                batch = []
    if batch:
        yield batch


def usage_batches(args: argparse.Namespace, assets: list[str]) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(2)
    weight = [rng.paretovariate(1.2) for _ in assets]  # a few assets are read a lot
    batch: list[dict[str, Any]] = []
    made = 0
    day = 0
    while made < args.usage:
        d = usage.day_number_of_us(START + day * DAY)
        for a, w in zip(assets, weight, strict=True):
            if made == args.usage:
                break
            reads = int(w * rng.randrange(1, 50))
            batch.append(
                {
                    "asset_id": a,
                    "day": d,
                    "origin": "ingestion:query_log",
                    "reads": reads,
                    "writes": rng.randrange(3),
                    "users": min(reads, rng.randrange(1, 30)),
                    "queries": reads + rng.randrange(5),
                }
            )
            made += 1
            if len(batch) == args.batch:
                yield batch
                batch = []
        day += 1
    if batch:
        yield batch


def load(
    store: Store,
    batches: Iterator[list[dict[str, Any]]],
    record: Callable[[sa.Connection, list[dict[str, Any]]], int],
) -> tuple[int, float]:
    n = 0
    spent = 0.0
    for batch in batches:
        t0 = time.perf_counter()
        with store.write() as conn:
            n += record(conn, batch)
        spent += time.perf_counter() - t0
    return n, spent


def timed(
    store: Store, reps: int, ask: Callable[[sa.Connection, random.Random], Any]
) -> list[float]:
    rng = random.Random(3)
    out = []
    with store.read() as conn:
        ask(conn, rng)  # warm the statement cache
    for _ in range(reps):
        t0 = time.perf_counter()
        with store.read() as conn:
            ask(conn, rng)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def db_size(store: Store, url: str) -> int:
    if store.is_sqlite:
        path = Path(sa.make_url(url).database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    with store.read() as conn:
        return int(
            conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
        )


def run(backend: str, args: argparse.Namespace) -> list[list[Any]]:
    rng = random.Random(0)
    tables = _ids(rng, args.tables)
    tests = _ids(rng, args.tests)
    assets = (
        tables if args.usage_assets is None else tables + _ids(rng, args.usage_assets - len(tables))
    )
    rows: list[list[Any]] = []
    with S.fresh_database(backend, "lodestar_bench_ts") as url:
        store = open_store(url)
        try:
            n, secs = load(store, result_batches(args, tests, tables), quality.record_results)
            rows.append([backend, "insert test results", n, f"{n / secs:,.0f} rows/s", "", ""])
            n, secs = load(store, usage_batches(args, assets), usage.record_usage)
            rows.append([backend, "insert usage", n, f"{n / secs:,.0f} rows/s", "", ""])
            again = next(result_batches(args, tests, tables))
            with store.write() as conn:
                dup = quality.record_results(conn, again)
            rows.append([backend, "same results again", len(again), f"{dup} new", "", ""])
            if not store.is_sqlite:
                with store.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            end = START + args.days * DAY
            with store.read() as conn:
                last_day = conn.execute(
                    sa.select(sa.func.max(usage.usage_daily.c.day))
                ).scalar_one()
            last_us = usage.day_start_us(last_day)
            usage_back = max(1, (last_us - START) // DAY - 29)  # windows inside the data
            window_rows = 0

            def latest(conn: sa.Connection, r: random.Random) -> None:
                page = quality.latest_per_test(conn, limit=100, after=r.choice(tests))
                assert page.rows

            def latest_all(conn: sa.Connection, r: random.Random) -> None:
                after, seen = None, 0
                while True:
                    page = quality.latest_per_test(conn, limit=1000, after=after)
                    seen += len(page.rows)
                    if page.after is None:
                        break
                    after = page.after
                assert seen == len(tests)

            def failed(conn: sa.Connection, r: random.Random) -> None:
                quality.failed_since(conn, end - r.randrange(1, 30 * DAY), limit=100)

            def top(conn: sa.Connection, r: random.Random) -> None:
                stop = last_us - r.randrange(0, usage_back) * DAY
                top = usage.top_assets(
                    conn, usage.day_number_of_us(stop - 29 * DAY), usage.day_number_of_us(stop)
                )
                assert top

            def series_results(conn: sa.Connection, r: random.Random) -> None:
                stop = end - r.randrange(0, args.days - 30) * DAY
                quality.daily_series(
                    conn, asset_id=r.choice(tables), since=stop - 30 * DAY, until=stop
                )

            def series_usage(conn: sa.Connection, r: random.Random) -> None:
                stop = last_us - r.randrange(0, usage_back) * DAY
                usage.daily(
                    conn,
                    r.choice(assets),
                    usage.day_number_of_us(stop - 29 * DAY),
                    usage.day_number_of_us(stop),
                )

            with store.read() as conn:
                window_rows = conn.execute(
                    sa.select(sa.func.count()).where(
                        usage.usage_daily.c.day > usage.day_number_of_us(last_us - 30 * DAY)
                    )
                ).scalar_one()
            questions = [
                ("latest result of every test (page of 100)", latest, args.reps),
                ("everything failed since T (newest 100)", failed, args.reps),
                (f"top 100 assets by reads, 30 days ({window_rows:,} asset-days)", top, args.reps),
                ("daily series of one asset, 30 days: test results", series_results, args.reps),
                ("daily series of one asset, 30 days: usage", series_usage, args.reps),
                (f"latest result of all {len(tests):,} tests (pages of 1000)", latest_all, 20),
            ]
            for label, ask, reps in questions:
                ms = timed(store, reps, ask)
                ok = ("yes" if pct(ms, 95) < TARGET_MS else "NO") if reps == args.reps else "-"
                rows.append(
                    [
                        backend,
                        label,
                        reps,
                        f"p50 {pct(ms, 50):.2f} ms",
                        f"p95 {pct(ms, 95):.2f} ms",
                        ok,
                    ]
                )
            rows.append(
                [backend, "database size", "", f"{db_size(store, url) / 2**20:,.0f} MiB", "", ""]
            )
        finally:
            store.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--results", type=int, default=10_000_000)
    ap.add_argument("--tests", type=int, default=10_000)
    ap.add_argument("--tables", type=int, default=2_000)
    ap.add_argument("--usage", type=int, default=5_000_000)
    ap.add_argument("--usage-assets", type=int, default=None, help="default: the tables")
    ap.add_argument("--days", type=int, default=365, help="days the test results span")
    ap.add_argument("--batch", type=int, default=50_000, help="rows per transaction")
    ap.add_argument("--reps", type=int, default=100)
    args = ap.parse_args()
    print(S.machine())
    print(
        f"{args.results:,} results over {args.tests:,} tests on {args.tables:,} tables and "
        f"{args.days} days; {args.usage:,} usage rows over "
        f"{args.usage_assets or args.tables:,} assets; {args.batch:,} rows per transaction"
    )
    out: list[list[Any]] = []
    for backend in S.backends(args.backend):
        out += run(backend, args)
    S.print_table(["backend", "what", "n", "result", "p95", f"p95 < {TARGET_MS:.0f} ms"], out)


if __name__ == "__main__":
    main()
