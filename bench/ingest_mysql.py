"""MySQL/MariaDB ingestion: Lodestar's first and unchanged runs, with and without change
detection.

1. Build fresh schemas `lsbench_<i>` on 127.0.0.1:3306 (user root, no password) with N tables x
   C columns (a primary key, NOT NULL and a comment on some columns, a table comment, a
   foreign key on every tenth table) spread over S schemas, plus V views; then ANALYZE.
2. Ingest them with the `mysql` connector into a fresh embedded SQLite catalog: a first run,
   then --repeat unchanged runs, each in a child process (wall time includes interpreter
   start-up and imports; in-run s is the time inside run_recipe; peak RSS from wait4()).
3. The same with the connector's change detection switched off (`--compare`): every relation
   is read again and the runner fingerprints the bodies, as before the connector had it.
4. --warm: one child that ran the pipeline before times a first run into a fresh catalog and
   the unchanged runs after it (the case of `lodestar serve`'s scheduler).

    .venv/bin/python bench/ingest_mysql.py --repeat 3 --compare --warm

The schemas are dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_postgres import _last_json, load_avg, run_child

MY_HOST, MY_PORT, MY_USER = "127.0.0.1", 3306, "root"
PREFIX = "lsbench_"
_TYPES = ["INT", "VARCHAR(120)", "DECIMAL(12,2)", "DATETIME", "TEXT", "BIGINT", "DATE", "DOUBLE"]


def _connect() -> Any:
    return pymysql.connect(
        host=MY_HOST, port=MY_PORT, user=MY_USER, charset="utf8mb4", autocommit=True
    )


def drop_source() -> None:
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                (PREFIX + "%",),
            )
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE `{name}`")
    finally:
        conn.close()


def create_source(tables: int, columns: int, views: int, schemas: int) -> float:
    drop_source()
    t0 = time.perf_counter()
    conn = _connect()
    try:
        with conn.cursor() as cur:
            for s in range(schemas):
                cur.execute(f"CREATE DATABASE `{PREFIX}{s}` CHARACTER SET utf8mb4")
            for i in range(tables):
                s = f"{PREFIX}{i % schemas}"
                cols = ["id BIGINT NOT NULL PRIMARY KEY COMMENT 'row id'"]
                for j in range(1, columns):
                    null = " NOT NULL" if j % 5 == 0 else ""
                    comment = f" COMMENT 'column {j}'" if j % 3 == 0 else ""
                    cols.append(f"c{j} {_TYPES[j % len(_TYPES)]}{null}{comment}")
                if i % 10 == 9 and i >= schemas:  # the table before it in the same schema
                    ref = f"t{i - schemas}"
                    cols.append(f"CONSTRAINT t{i}_fk FOREIGN KEY (c5) REFERENCES {ref} (id)")
                    cols[5] = "c5 BIGINT"
                cur.execute(f"CREATE TABLE `{s}`.t{i} ({', '.join(cols)}) COMMENT='table {i}'")
            for v in range(views):
                i = (v * 7) % tables
                s = f"{PREFIX}{i % schemas}"
                cur.execute(f"CREATE VIEW `{s}`.v{v} AS SELECT id, c1 FROM `{s}`.t{i}")
            for s in range(schemas):
                cur.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                    (f"{PREFIX}{s}",),
                )
                names = [r[0] for r in cur.fetchall()]
                for k in range(0, len(names), 100):
                    part = ", ".join(f"`{PREFIX}{s}`.`{n}`" for n in names[k : k + 100])
                    cur.execute(f"ANALYZE TABLE {part}")
                    cur.fetchall()
    finally:
        conn.close()
    return time.perf_counter() - t0


def recipe() -> dict[str, Any]:
    config = {"service": "bench", "host": MY_HOST, "port": MY_PORT, "username": MY_USER}
    return {
        "pipeline": "bench_my",
        "source": {"type": "mysql", "config": config},
        "filters": {"schemas": {"include": [PREFIX + ".*"]}},
        "sink": {"type": "catalog"},
    }


def _report(report: Any) -> dict[str, Any]:
    d = report.to_dict()
    keep = ("status", "created", "updated", "unchanged", "units", "units_skipped",
            "units_not_extracted", "failures")  # fmt: skip
    return {k: d.get(k) for k in keep}


def child(recipe_json: str, data_dir: str, detect: bool) -> None:
    from lodestar.ingest.connectors.mysql import MySQLSource
    from lodestar.ingest.recipe import parse_recipe
    from lodestar.ingest.service import run_recipe
    from lodestar.settings import Settings

    MySQLSource.detects_changes = detect
    parsed = parse_recipe(json.loads(recipe_json))
    t0 = time.perf_counter()
    report = run_recipe(parsed, Settings(data_dir=Path(data_dir)))
    print(json.dumps({"in_run": time.perf_counter() - t0, **_report(report)}))


def child_warm(recipe_json: str, tmp: str, repeat: int) -> None:
    from lodestar.catalog import Catalog
    from lodestar.ingest.recipe import parse_recipe
    from lodestar.ingest.service import run_recipe
    from lodestar.runtime import tune_gc
    from lodestar.settings import Settings
    from lodestar.store import open_store

    parsed = parse_recipe(json.loads(recipe_json))
    run_recipe(parsed, Settings(data_dir=Path(tmp) / "warm-up"))
    tune_gc()
    settings = Settings(data_dir=Path(tmp) / "catalog")
    catalog = Catalog(open_store(settings.effective_database_url, settings.pool_size))
    for run in ["first"] + ["second"] * repeat:
        t0 = time.perf_counter()
        report = run_recipe(parsed, settings, catalog=catalog)
        print(json.dumps({"run": run, "in_run": time.perf_counter() - t0, **_report(report)}))


def measure(tool: str, repeat: int, detect: bool) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in ["first"] + ["second"] * repeat:
            argv = [sys.executable, __file__, "--child", json.dumps(recipe()), tmp]
            if not detect:
                argv.append("--no-change-detection")
            wall, rss, out, err, code, cpu = run_child(argv)
            info = _last_json(out)
            if code != 0 or info.get("status") != "success":
                print(f"{tool} {run} failed (exit {code}): {info}\n{err[-2000:]}", file=sys.stderr)
            rows.append({"tool": tool, "run": run, "wall": wall, "rss": rss, "cpu": cpu, **info})
    return rows


def measure_warm(repeat: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, __file__, "--child-warm", json.dumps(recipe()), tmp,
                "--repeat", str(repeat)]  # fmt: skip
        _wall, rss, out, err, code, _cpu = run_child(argv)
        if code != 0:
            print(f"warm child failed (exit {code}):\n{err[-2000:]}", file=sys.stderr)
        rows = []
        for line in out.splitlines():
            if line.startswith("{"):
                info = json.loads(line)
                rows.append({"tool": "lodestar-warm", "wall": info["in_run"], "rss": rss, **info})
        return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'tool':16} {'run':7} {'wall s':>7} {'in-run s':>9} {'peak RSS MB':>12} "
          f"{'created':>8} {'unchanged':>10} {'not read':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['tool']:16} {r['run']:7} {r['wall']:7.2f} {r.get('in_run') or 0:9.3f} "
            f"{r['rss']:12.1f} {r.get('created')!s:>8} {r.get('unchanged')!s:>10} "
            f"{r.get('units_not_extracted')!s:>9}"
        )


def summarize(rows: list[dict[str, Any]]) -> None:
    for tool in dict.fromkeys(r["tool"] for r in rows):
        mine = [r for r in rows if r["tool"] == tool]
        first = next(r for r in mine if r["run"] == "first")
        seconds = [r for r in mine if r["run"] == "second"]
        if not seconds:
            continue
        wall = statistics.median(r["wall"] for r in seconds)
        in_run = statistics.median(r["in_run"] for r in seconds)
        print(f"{tool}: unchanged run vs first: {first['wall'] / wall:.1f}x on wall, "
              f"{first['in_run'] / in_run:.1f}x in-run (median of {len(seconds)})")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tables", type=int, default=1000)
    p.add_argument("--columns", type=int, default=30)
    p.add_argument("--views", type=int, default=100)
    p.add_argument("--schemas", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1, help="unchanged runs after the first")
    p.add_argument("--compare", action="store_true",
                   help="also run with the connector's change detection off")  # fmt: skip
    p.add_argument("--warm", action="store_true", help="also the scheduler's case")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--child-warm", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--no-change-detection", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], not args.no_change_detection)
        return 0
    if args.child_warm:
        child_warm(args.child_warm[0], args.child_warm[1], args.repeat)
        return 0

    conn = _connect()
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        (version,) = cur.fetchone()
    conn.close()
    print(f"server: {version}; load {load_avg()}")
    took = create_source(args.tables, args.columns, args.views, args.schemas)
    print(f"source: {args.tables} tables x {args.columns} columns, {args.views} views, "
          f"{args.schemas} schemas, created in {took:.1f} s\n")  # fmt: skip
    try:
        rows = measure("lodestar", args.repeat, True)
        if args.compare:
            rows += measure("lodestar-nocd", args.repeat, False)
        if args.warm:
            rows += measure_warm(args.repeat)
    finally:
        if not args.keep_db:
            drop_source()
    print_rows(rows)
    print()
    summarize(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
