"""Five checks on a PostgreSQL table, as whole processes: Lodestar's CLI against Great
Expectations and Soda Core v4, in the same run.

The checks: row count >= 1, `id` not null, `id` unique, `amount` between 0 and 10,000, and
freshness (newest `placed_at` at most a day old). For each tool the script measures the
process's wall time, and from PostgreSQL the statements it issued and their time (every
statement of the bench database is logged with its duration: `log_min_duration_statement =
0` on that database only) and the table scans (`pg_stat_user_tables` before and after). The
one-scan floor is one hand-written SELECT computing the five metrics, timed the same way.
Parallel query is off on the bench database (`max_parallel_workers_per_gather = 0`), so a
scan counts once for every tool on this 2-core machine.

The peers live in their own virtualenv (`--peers`, default /work/peers/quality:
`pip install soda-postgres great-expectations psycopg2-binary`), never in the project's;
their telemetry is off (SODA_CORE_TELEMETRY_ENABLED=false, GX_ANALYTICS_ENABLED=false).

    python bench/quality.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
LOG = Path("/var/log/postgresql/postgresql-15-main.log")
_DURATION = re.compile(r"duration: ([0-9.]+) ms")


def admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def build(server: str, db: str, rows: int, rebuild: bool) -> None:
    with admin(f"{server}/postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and not rebuild:
            return
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    with admin(f"{server}/{db}") as conn:
        conn.execute(
            "CREATE TABLE public.orders (id bigint, amount double precision, status text, "
            "customer_id bigint, placed_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO public.orders SELECT g, (g %% 9973)::float8, "
            "(ARRAY['new','paid','shipped'])[1 + g %% 3], g %% 50000, "
            "now() - (g %% 3600) * interval '1 second' FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE public.orders")
    with admin(f"{server}/postgres") as conn:
        conn.execute(f'ALTER DATABASE "{db}" SET log_min_duration_statement = 0')
        conn.execute(f'ALTER DATABASE "{db}" SET max_parallel_workers_per_gather = 0')


def scans(server: str, db: str) -> int:
    with admin(f"{server}/{db}") as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
            "WHERE relname = 'orders'"
        ).fetchone()
    return int(row[0]) if row else 0


def measure(server: str, db: str, cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `cmd`, and read what it did to the bench database from the log and the stats."""
    time.sleep(0.6)  # the stats collector flushes every 0.5 s
    before_scans = scans(server, db)
    offset = LOG.stat().st_size
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    time.sleep(0.6)
    after_scans = scans(server, db) - 1  # scans() itself reads pg_stat, not the table
    with LOG.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    mine = [ln for ln in lines if f"@{db} " in ln and "duration:" in ln and "pg_stat" not in ln]
    # A statement is a simple query or the execute of an extended one; its parse and bind
    # are server time too, so they count in db_s but not as statements.
    statements = [ln for ln in mine if " statement: " in ln or " execute " in ln]
    reads = [ln for ln in statements if "orders" in ln]
    db_ms = sum(float(m.group(1)) for ln in mine if (m := _DURATION.search(ln)))
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "statements": len(statements),
        "reads": len(reads),
        "db_s": db_ms / 1000,
        "scans": max(after_scans - before_scans + 1, 0),
        "stderr": proc.stderr[-2000:],
        "stdout": proc.stdout[-2000:],
    }


FLOOR_SQL = (
    "SELECT count(*), count(*) - count(id), count(id) - count(DISTINCT id), "
    "sum(CASE WHEN amount < 0 OR amount > 10000 THEN 1 ELSE 0 END), max(placed_at) "
    "FROM public.orders"
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a measured process: bytecode caches on (compiled up front for
    every tool alike), and no LODESTAR_ settings of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LODESTAR_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    return {**env, **extra}


def compile_venv(python: Path, where: Path | None = None) -> None:
    """Byte-compile a virtualenv once, so no tool pays for compiling its sources."""
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "-j", "0", str(where or python.parent.parent)],
        capture_output=True,
        check=False,
    )


def lodestar_setup(tmp: Path, db: str, host: str, port: int) -> dict[str, str]:
    env = clean_env()
    env["LODESTAR_DATA_DIR"] = str(tmp / "catalog")
    py = sys.executable
    body = json.dumps(
        [
            [
                "service",
                {
                    "name": "pg",
                    "category": "database",
                    "service_type": "postgres",
                    "connection": {"host": host, "port": port, "username": "postgres"},
                },
            ],
            ["database", {"name": db, "service": "pg"}],
            ["schema", {"name": "public", "database": f"pg.{db}"}],
            [
                "table",
                {
                    "name": "orders",
                    "schema": f"pg.{db}.public",
                    "columns": [
                        {"name": "id", "data_type": "bigint"},
                        {"name": "amount", "data_type": "double precision"},
                        {"name": "status", "data_type": "text"},
                        {"name": "customer_id", "data_type": "bigint"},
                        {"name": "placed_at", "data_type": "timestamp with time zone"},
                    ],
                },
            ],
        ]
    )
    script = (
        "import json,sys\n"
        "from lodestar.settings import load_settings\n"
        "from lodestar.store import open_store\n"
        "from lodestar.catalog import Catalog, BulkLine, WriteContext\n"
        "from lodestar.auth.principal import SYSTEM\n"
        "s = load_settings(); st = open_store(s.effective_database_url)\n"
        "out = Catalog(st).bulk_upsert([BulkLine(k, b) for k, b in json.loads(sys.argv[1])],"
        " WriteContext.for_principal(SYSTEM))\n"
        "assert all(o.error is None for o in out), [o.error for o in out]\n"
    )
    subprocess.run([py, "-c", script, body], env=env, check=True)
    checks = tmp / "checks.yml"
    checks.write_text(
        f"checks:\n  - table: pg.{db}.public.orders\n    tests:\n"
        "      - row_count_between: {min: 1}\n"
        "      - freshness: {column: placed_at, max_age: 1d}\n"
        "    columns:\n      id: [not_null, unique]\n"
        "      amount: [{between: {min: 0, max: 10000}}]\n"
    )
    subprocess.run(
        [py, "-m", "lodestar.cli", "quality", "apply", str(checks)],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def soda_files(tmp: Path, db: str, host: str, port: int) -> tuple[Path, Path]:
    ds = tmp / "soda_ds.yml"
    ds.write_text(
        "type: postgres\nname: bench\nconnection:\n"
        f"  host: {host}\n  port: {port}\n  user: postgres\n  database: {db}\n"
        "  password: unused\n"  # the bench server trusts local connections
    )
    contract = tmp / "soda_contract.yml"
    contract.write_text(
        f"dataset: bench/{db}/public/orders\n"
        "checks:\n  - row_count:\n      threshold:\n        must_be_greater_than_or_equal: 1\n"
        "  - freshness:\n      column: placed_at\n      threshold:\n        unit: hour\n"
        "        must_be_less_than_or_equal: 24\n"
        "columns:\n"
        "  - name: id\n    checks:\n      - missing:\n      - duplicate:\n"
        "  - name: amount\n    checks:\n      - invalid:\n          valid_min: 0\n"
        "          valid_max: 10000\n"
        "  - name: status\n  - name: customer_id\n  - name: placed_at\n"
    )
    return ds, contract


def summary(runs: list[dict[str, Any]]) -> str:
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    dbs = [r["db_s"] for r in runs]
    return (
        f"wall {min(walls):.2f}-{statistics.median(walls):.2f} s (min-median), "
        f"process CPU {min(cpus):.2f}-{statistics.median(cpus):.2f} s, "
        f"db {min(dbs):.3f}-{statistics.median(dbs):.3f} s, statements {runs[0]['statements']} "
        f"({runs[0]['reads']} on the table), "
        f"table scans {runs[0]['scans']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peers", default="/work/peers/quality", help="The peers' virtualenv.")
    ap.add_argument("--no-peers", action="store_true", help="Lodestar and the floor only.")
    ap.add_argument("--rebuild", action="store_true", help="Build the table again.")
    args = ap.parse_args()
    db = f"lodestar_bench_quality_{args.rows}"
    build(args.server, db, args.rows, args.rebuild)
    host, port = "127.0.0.1", 5432
    peers_py = Path(args.peers) / "bin" / "python"
    compile_venv(Path(sys.executable))
    compile_venv(Path(sys.executable), HERE.parent / "src")  # the project's own sources
    if not args.no_peers and peers_py.exists():
        compile_venv(peers_py)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lenv = lodestar_setup(tmp, db, host, port)
        tools: dict[str, tuple[list[str], dict[str, str]]] = {
            "floor (one SELECT, psql)": (
                ["psql", f"{args.server}/{db}", "-Atqc", FLOOR_SQL],
                clean_env(),
            ),
            "lodestar quality run": (
                [sys.executable, "-m", "lodestar.cli", "quality", "run", "--json"],
                lenv,
            ),
        }
        if not args.no_peers:
            if not peers_py.exists():
                raise SystemExit(f"no peer virtualenv at {args.peers}: see this script's docstring")
            penv = {
                **os.environ,
                "SODA_CORE_TELEMETRY_ENABLED": "false",
                "GX_ANALYTICS_ENABLED": "false",
            }
            ds, contract = soda_files(tmp, db, host, port)
            soda = str(Path(args.peers) / "bin" / "soda")
            tools["soda core v4 (soda contract verify)"] = (
                [soda, "contract", "verify", "--data-source", str(ds), "--contract", str(contract)],
                penv,
            )
            tools["great expectations"] = (
                [
                    str(peers_py),
                    str(HERE / "_gx_runner.py"),
                    "--url",
                    f"postgresql+psycopg2://postgres@{host}:{port}/{db}",
                ],
                penv,
            )
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
        for _ in range(args.repeat):  # interleaved, so load drifts hit every tool alike
            for name, (cmd, env) in tools.items():
                r = measure(args.server, db, cmd, env)
                if r["rc"] not in (0, 1):
                    print(f"{name} failed ({r['rc']}): {r['stderr']}{r['stdout']}", file=sys.stderr)
                results[name].append(r)
    print(f"PostgreSQL table of {args.rows:,} rows, five checks, {args.repeat} runs each")
    for name, runs in results.items():
        print(f"  {name}: {summary(runs)}")
    base = min(r["wall_s"] for r in results["lodestar quality run"])
    floor_db = min(r["db_s"] for r in results["floor (one SELECT, psql)"])
    lodestar_db = min(r["db_s"] for r in results["lodestar quality run"])
    print(f"  lodestar db time / one-scan floor: {lodestar_db / floor_db:.2f}x")
    for name, runs in results.items():
        if name.startswith(("soda", "great")):
            print(f"  {name} wall / lodestar wall: {min(r['wall_s'] for r in runs) / base:.2f}x")


if __name__ == "__main__":
    main()
