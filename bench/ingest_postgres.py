"""PostgreSQL ingestion: Lodestar's first and unchanged second run, against DataHub's.

1. Build a fresh PostgreSQL database `lodestar_bench_<tables>_<random>` on 127.0.0.1:5432 (user
   postgres; a name of its own, so two runs on one server do not drop each other's)
   with N tables x C typed columns (a primary key, NOT NULL and DEFAULT on some columns, a
   comment on every table and on every third column) spread over S schemas, plus V views
   (with comments) over those tables; one DDL script per 100 tables, then ANALYZE so row
   counts come from statistics.
2. Lodestar: ingest it with the `postgres` connector into a fresh embedded SQLite catalog
   (first run), then again with nothing changed (second run). Each run is a child process,
   so its wall time includes interpreter start-up and imports; its peak RSS is the child's
   ru_maxrss from wait4(). "in-run s" is the time inside run_recipe only (catalog migrated
   beforehand, outside the clock). Then "one changed": `COMMENT ON TABLE` of one table, and
   a run, `--repeat` times (a live database's common case: something changed, little did).
3. The peer (--peer, when --peer-venv has acryl-datahub): DataHub's `postgres` source into
   its `file` sink and into its `datahub-lite` sink (DuckDB), each a child process of the peer
   venv's python running bench/_datahub_runner.py (telemetry off, upgrade check disabled,
   profiling off, include_views on, every other option at its default). Set it up with
   `python3 -m venv /work/datahub-venv && /work/datahub-venv/bin/pip install
   'acryl-datahub[postgres,datahub-lite]' duckdb` (the datahub-lite extra of 1.7 does not
   bring duckdb).
4. --scaling: the first-run measurement at 250, 500 and 1000 tables (views and schemas as
   given), to see whether peak memory stays flat as the source grows.
5. --warm (on by default; --no-warm skips it): the scheduler's case, one child process that
   has run a pipeline before (see `child_warm`); --cli: the real `lodestar ingest` command.

A missing peer is a loud SKIPPED and exit code 3, unless --no-peer says not to run one.

    .venv/bin/python bench/ingest_postgres.py                        # 1000 x 30, 100 views
    .venv/bin/python bench/ingest_postgres.py --no-peer --scaling
    .venv/bin/python bench/ingest_postgres.py --peer-sinks file --tables 2000 --columns 20
    .venv/bin/python bench/ingest_postgres.py --no-peer --profile   # cProfile the 2nd run
    .venv/bin/python bench/ingest_postgres.py --no-peer --repeat 5 --cli  # + CPU, real CLI
    .venv/bin/python bench/ingest_postgres.py --no-peer --repeat 5 --no-change-detection
    .venv/bin/python bench/ingest_postgres.py --repeat 3 --cli --warm   # what docs records

The benchmark databases are dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
TARGET_VS_PEER = 3.0
TARGET_SECOND_RUN = 10.0

# (type, default or None); the primary key `id bigint` comes first.
_TYPES: list[tuple[str, str | None]] = [
    ("integer", None),
    ("text", None),
    ("varchar(120)", None),
    ("numeric(12,2)", "0"),
    ("timestamp with time zone", "now()"),
    ("date", None),
    ("boolean", "false"),
    ("jsonb", None),
    ("uuid", None),
    ("double precision", None),
    ("bigint", None),
    ("smallint", "0"),
    ("char(3)", None),
    ("bytea", None),
    ("inet", None),
    ("interval", None),
    ("text[]", None),
    ("timestamp without time zone", None),
    ("real", None),
]
_WORDS = [
    "amount", "created_at", "status", "customer", "region", "price", "quantity", "note",
    "payload", "ref", "score", "updated_at", "code", "flag", "label", "source", "channel",
    "country", "currency", "weight",
]  # fmt: skip


# -- the source database ---------------------------------------------------------------------


def _conninfo(dbname: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname}"


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _columns(ncols: int) -> list[tuple[str, str, str | None, bool]]:
    """(name, type, default, not null) of the C columns every table has, `id` first."""
    out: list[tuple[str, str, str | None, bool]] = [("id", "bigint", None, True)]
    for j in range(1, ncols):
        typ, default = _TYPES[(j - 1) % len(_TYPES)]
        name = f"{_WORDS[(j - 1) % len(_WORDS)]}_{j:02d}"
        out.append((name, typ, default, j % 4 == 0))
    return out


def _table_ddl(schema: str, table: str, cols: list[tuple[str, str, str | None, bool]]) -> str:
    parts = []
    for name, typ, default, notnull in cols:
        spec = f"{name} {typ}"
        if default is not None:
            spec += f" DEFAULT {default}"
        if notnull:
            spec += " NOT NULL"
        parts.append(spec)
    sql = [f"CREATE TABLE {schema}.{table} ({', '.join(parts)}, PRIMARY KEY (id));"]
    sql.append(
        f"COMMENT ON TABLE {schema}.{table} IS {_q(f'Generated table {table} of {schema}')};"
    )
    for j, (name, typ, _d, _n) in enumerate(cols):
        if j % 3 == 1:
            sql.append(
                f"COMMENT ON COLUMN {schema}.{table}.{name} IS {_q(f'{name}: a {typ} value')};"
            )
    return "\n".join(sql)


def layout(
    tables: int, schemas: int, views: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(schema, table) pairs and (schema, view, table it reads) triples."""
    t = [(f"s{i % schemas:02d}", f"t_{i:05d}") for i in range(tables)]
    step = max(1, tables // max(1, views))
    v = [(t[(k * step) % tables][0], f"v_{k:04d}", t[(k * step) % tables][1]) for k in range(views)]
    return t, v


def create_source(db: str, tables: int, columns: int, views: int, schemas: int) -> float:
    """Drop and create `db` with the generated schemas, tables and views; seconds taken."""
    t0 = time.perf_counter()
    drop_database(db)
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    cols = _columns(columns)
    tbls, vws = layout(tables, schemas, views)
    with psycopg.connect(_conninfo(db)) as conn:
        with conn.transaction():
            conn.execute(
                "\n".join(
                    f"CREATE SCHEMA s{i:02d}; COMMENT ON SCHEMA s{i:02d} IS 'Generated schema {i}';"
                    for i in range(schemas)
                )
            )
        for i in range(0, len(tbls), 100):  # ~400 locks per transaction: under the lock table
            with conn.transaction():
                conn.execute("\n".join(_table_ddl(s, t, cols) for s, t in tbls[i : i + 100]))
        picked = [c[0] for c in cols[:6]]
        with conn.transaction():
            conn.execute(
                "\n".join(
                    f"CREATE VIEW {s}.{v} AS SELECT {', '.join(picked)} FROM {s}.{t} "
                    f"WHERE id > {k};\n"
                    f"COMMENT ON VIEW {s}.{v} IS {_q(f'Generated view over {s}.{t}')};"
                    for k, (s, v, t) in enumerate(vws)
                )
            )
    with psycopg.connect(_conninfo(db), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - t0


def touch_one_table(db: str, k: int) -> None:
    """Change one table's comment: the catalog stamp moves, one relation's hash with it."""
    with psycopg.connect(_conninfo(db), autocommit=True) as conn:
        conn.execute(f"COMMENT ON TABLE s00.t_00000 IS 'Changed for run {k}'")


def drop_database(db: str) -> None:
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# -- measuring a child process ---------------------------------------------------------------


@dataclass
class Measured:
    tool: str
    run: str
    wall: float  # the child process, start to exit
    in_run: float | None  # inside the ingestion call itself
    rss_mb: float  # the child's peak RSS (ru_maxrss)
    relations: int
    load: str
    info: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    cpu: float | None = None  # the child's user + system CPU seconds (ru_utime + ru_stime)


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_child(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, str, str, int, float]:
    """Run argv; (wall s, peak RSS MB, stdout, stderr, exit code, CPU s). stdout/stderr go to
    files (no pipe to drain) and the child is reaped with wait4 for its own rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO)
        _pid, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (
            wall,
            usage.ru_maxrss / 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            p.returncode,
            usage.ru_utime + usage.ru_stime,
        )


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


# -- Lodestar ------------------------------------------------------------------------------------


def lodestar_recipe(db: str) -> dict[str, Any]:
    return {
        "pipeline": "bench_pg",
        "source": {
            "type": "postgres",
            "config": {
                "service": "bench",
                "host": PG_HOST,
                "port": PG_PORT,
                "username": PG_USER,
                "database": db,
            },
        },
        "sink": {"type": "catalog"},
    }


def child_lodestar(
    recipe_json: str, data_dir: str, profile_out: str | None, detect: bool = True
) -> None:
    """In the child: one run_recipe into the catalog of data_dir; a JSON line on stdout.
    Without `detect`, the connector's own change detection is off (every relation is read
    and the runner fingerprints the bodies, as before issue 3's second round)."""
    from lodestar.ingest.recipe import parse_recipe
    from lodestar.ingest.service import run_recipe
    from lodestar.settings import Settings

    if not detect:
        from lodestar.ingest.connectors.postgres import PostgresSource

        PostgresSource.detects_changes = False

    recipe = parse_recipe(json.loads(recipe_json))
    settings = Settings(data_dir=Path(data_dir))
    if profile_out:
        import cProfile

        prof = cProfile.Profile()
        t0, c0 = time.perf_counter(), time.process_time()
        prof.enable()
        report = run_recipe(recipe, settings)
        prof.disable()
        in_run, in_run_cpu = time.perf_counter() - t0, time.process_time() - c0
        prof.dump_stats(profile_out)
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_recipe(recipe, settings)
        in_run, in_run_cpu = time.perf_counter() - t0, time.process_time() - c0
    d = report.to_dict()
    print(json.dumps({"in_run": in_run, "in_run_cpu": in_run_cpu, **_kept(d)}))


def child_warm(recipe_json: str, tmp: str, repeat: int) -> None:
    """In the child: the case of `lodestar serve`'s scheduler, a process that has run a
    pipeline before. One untimed run into a throwaway catalog loads every module, then a timed
    first run into a fresh catalog and `repeat` unchanged runs; a JSON line per timed run."""
    from lodestar.catalog import Catalog
    from lodestar.ingest.recipe import parse_recipe
    from lodestar.ingest.service import run_recipe
    from lodestar.runtime import tune_gc
    from lodestar.settings import Settings
    from lodestar.store import open_store

    recipe = parse_recipe(json.loads(recipe_json))
    # The warm-up loads every module the runs use, but reads one table only: the timed first
    # run must not find the source's pages already in PostgreSQL's cache.
    warm_up = json.loads(recipe_json)
    warm_up["filters"] = {"tables": {"include": ["t_00000"]}}
    run_recipe(parse_recipe(warm_up), Settings(data_dir=Path(tmp) / "warm-up"))
    tune_gc()  # as the server does once it has started
    settings = Settings(data_dir=Path(tmp) / "catalog")
    # The server's scheduler runs pipelines on the catalog it serves, opened once.
    store = open_store(settings.effective_database_url, settings.pool_size)
    catalog = Catalog(store)
    db = json.loads(recipe_json)["source"]["config"]["database"]
    for k, run in enumerate(["first"] + ["second"] * repeat + ["one changed"] * repeat):
        if run == "one changed":
            touch_one_table(db, k)
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_recipe(recipe, settings, catalog=catalog)
        in_run, in_run_cpu = time.perf_counter() - t0, time.process_time() - c0
        d = report.to_dict()
        print(json.dumps({"run": run, "in_run": in_run, "in_run_cpu": in_run_cpu, **_kept(d)}))


_KEEP = ("status", "created", "updated", "unchanged", "deleted", "units", "units_skipped",
         "units_failed", "observations", "warnings", "failures", "duration")  # fmt: skip


def _kept(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in _KEEP}


def migrate_catalog(data_dir: Path) -> None:
    """Create the catalog's tables before the clock starts (outside the measured child)."""
    code = (
        "import sys; from pathlib import Path; from lodestar.settings import Settings;"
        "from lodestar.store import open_store;"
        "s = Settings(data_dir=Path(sys.argv[1]));"
        "open_store(s.effective_database_url).dispose()"
    )
    subprocess.run([sys.executable, "-c", code, str(data_dir)], check=True, cwd=REPO)


def measure_lodestar(
    db: str,
    data_dir: Path,
    run: str,
    relations: int,
    profile_out: str | None = None,
    cli: bool = False,
    detect: bool = True,
) -> Measured:
    """One Lodestar run in a child: `run_recipe` in this script, or with `cli` the real
    `python -m lodestar.cli ingest recipe.yml --json` (in-run s is then the report's duration,
    which starts once the CLI has parsed the recipe)."""
    load = load_avg()
    env = None
    if cli:
        recipe_file = data_dir.parent / "bench_pg.yml"
        recipe_file.write_text(json.dumps(lodestar_recipe(db)))  # JSON is YAML
        argv = [sys.executable, "-m", "lodestar.cli", "ingest", str(recipe_file), "--json"]
        env = {**os.environ, "LODESTAR_DATA_DIR": str(data_dir)}
        env.pop("LODESTAR_DATABASE_URL", None)
        env.pop("LODESTAR_CONFIG", None)
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "--child-lodestar",
                json.dumps(lodestar_recipe(db)), str(data_dir)]  # fmt: skip
        if profile_out:
            argv += ["--child-profile", profile_out]
        if not detect:
            argv.append("--no-change-detection")
    wall, rss, out, err, code, cpu = run_child(argv, env)
    if cli:
        try:
            report = json.loads(out)
        except ValueError:
            report = {}
        info = {"in_run": report.get("duration"), **_kept(report)}
    else:
        info = _last_json(out)
    ok = code == 0 and info.get("status") == "success"
    if not ok:
        print(f"lodestar {run} failed (exit {code}): {info}\n{err[-3000:]}", file=sys.stderr)
    tool = "lodestar-cli" if cli else ("lodestar" if detect else "lodestar-nocd")
    return Measured(tool, run, wall, info.get("in_run"), rss, relations, load, info, ok, cpu)


# -- DataHub -----------------------------------------------------------------------------------


def peer_python(venv: Path) -> Path | None:
    py = venv / "bin" / "python"
    if not py.exists():
        return None
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import datahub, datahub.ingestion.run.pipeline; print(datahub.__version__)",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DATAHUB_TELEMETRY_ENABLED": "false"},
    )
    if probe.returncode != 0:
        print(f"peer not usable in {venv}: {probe.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    print(f"peer: acryl-datahub {probe.stdout.strip()} in {venv}")
    return py


def measure_peer(
    py: Path, db: str, sink: str, out_dir: Path, relations: int, view_lineage: bool = True
) -> Measured:
    load = load_avg()
    env = {**os.environ, "DATAHUB_TELEMETRY_ENABLED": "false", "DATAHUB_DEBUG": "false"}
    argv = [str(py), str(HERE / "_datahub_runner.py"), "--sink", sink, "--out", str(out_dir),
            "--host-port", f"{PG_HOST}:{PG_PORT}", "--database", db, "--username", PG_USER]  # fmt: skip  # noqa: E501
    if not view_lineage:
        argv.append("--no-view-lineage")
    wall, rss, out, err, code, cpu = run_child(argv, env)
    info = _last_json(out)
    ok = code == 0 and bool(info.get("ok"))
    if not ok:
        print(f"datahub {sink} failed (exit {code}): {info}\n{err[-3000:]}", file=sys.stderr)
    tool = f"datahub/{sink}" + ("" if view_lineage else "-nvl")
    return Measured(tool, "first", wall, info.get("in_run"), rss, relations, load,
                    info, ok, cpu)  # fmt: skip


# -- report ----------------------------------------------------------------------------------


def print_table(rows: list[Measured]) -> None:
    head = (f"{'tool':<20} {'run':<7} {'wall s':>8} {'in-run s':>9} {'cpu s':>7} "
            f"{'in-run cpu':>10} {'tables/s':>9} {'peak RSS MB':>12} {'units skipped':>14}  "
            f"{'load (1/5/15 min)':<18} note")  # fmt: skip
    print(head)
    print("-" * len(head))
    for m in rows:
        skipped = m.info.get("units_skipped")
        skipped_s = f"{skipped}/{m.info.get('units')}" if skipped is not None else "-"
        in_run = f"{m.in_run:9.2f}" if m.in_run is not None else f"{'-':>9}"
        cpu = f"{m.cpu:7.2f}" if m.cpu is not None else f"{'-':>7}"
        run_cpu = m.info.get("in_run_cpu")
        in_run_cpu = f"{run_cpu:10.2f}" if run_cpu is not None else f"{'-':>10}"
        if m.tool.startswith("lodestar"):
            note = (f"created {m.info.get('created')} updated {m.info.get('updated')} "
                    f"unchanged {m.info.get('unchanged')} obs {m.info.get('observations')}")  # fmt: skip  # noqa: E501
        else:
            note = (f"tables {m.info.get('tables_scanned')} views {m.info.get('views_scanned')} "
                    f"records {m.info.get('records_written')}")  # fmt: skip
        if not m.ok:
            note = "FAILED " + note
        print(f"{m.tool:<20} {m.run:<7} {m.wall:8.2f} {in_run} {cpu} {in_run_cpu} "
              f"{m.relations / m.wall:9.1f} {m.rss_mb:12.1f} {skipped_s:>14}  {m.load:<18} "
              f"{note}")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tables", type=int, default=1000)
    p.add_argument("--columns", type=int, default=30)
    p.add_argument("--views", type=int, default=100)
    p.add_argument("--schemas", type=int, default=10, help="schemas the tables are spread over")
    p.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                   help="also time DataHub's ingestion when --peer-venv has it")  # fmt: skip
    p.add_argument("--peer-venv", type=Path, default=Path("/work/datahub-venv"))
    p.add_argument("--peer-sinks", default="file,datahub-lite", help="comma-separated")
    p.add_argument("--peer-view-lineage", action=argparse.BooleanOptionalAction, default=True,
                   help="DataHub's view lineage (SQL parsing, on by default in DataHub); "
                   "--no-peer-view-lineage turns it off (tool shown as ...-nvl)")  # fmt: skip
    p.add_argument("--scaling", action="store_true",
                   help="first-run peak RSS at --scaling-sizes tables")  # fmt: skip
    p.add_argument("--scaling-sizes", default="250,500,1000")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the unchanged second run; top lodestar functions")  # fmt: skip
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="unchanged runs after the first (the summary takes their median)",
    )
    p.add_argument(
        "--cli",
        action="store_true",
        help="also time the real `python -m lodestar.cli ingest recipe.yml --json` "
        "(first and unchanged runs into a second fresh catalog)",
    )
    p.add_argument("--keep-db", action="store_true", help="do not drop the databases")
    p.add_argument("--json", type=Path, help="also write the measurements here")
    p.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time first and unchanged runs in one process that has already run the "
        "pipeline once (as `lodestar serve`'s scheduler does): no start-up, no first imports",
    )
    p.add_argument("--child-lodestar", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--child-warm", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--child-profile", help=argparse.SUPPRESS)
    p.add_argument(
        "--change-detection",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the connector's own change detection (--no-change-detection: every relation is "
        "read again and only the runner's body fingerprint skips; in-process runs only)",
    )
    args = p.parse_args()

    if args.child_warm:
        child_warm(args.child_warm[0], args.child_warm[1], max(1, args.repeat))
        return 0
    if args.child_lodestar:
        recipe_json, data_dir = args.child_lodestar
        child_lodestar(recipe_json, data_dir, args.child_profile, args.change_detection)
        return 0

    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), "?")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, {cpu}; load {load_avg()}")
    print(f"source: {args.tables} tables x {args.columns} columns, {args.views} views, "
          f"{args.schemas} schemas")  # fmt: skip

    rows: list[Measured] = []
    dbs: list[str] = []
    skipped_peer = False
    scaling: list[tuple[int, Measured]] = []
    relations = args.tables + args.views
    try:
        db = f"lodestar_bench_{args.tables}_{uuid.uuid4().hex[:8]}"
        dbs.append(db)
        secs = create_source(db, args.tables, args.columns, args.views, args.schemas)
        print(f"created {db} in {secs:.1f} s")
        with tempfile.TemporaryDirectory(prefix="lodestar-bench-") as tmp:
            data_dir = Path(tmp) / "catalog"
            data_dir.mkdir()
            migrate_catalog(data_dir)
            detect = args.change_detection
            first = measure_lodestar(db, data_dir, "first", relations, detect=detect)
            rows.append(first)
            print_table([first])
            for _ in range(max(1, args.repeat)):
                second = measure_lodestar(db, data_dir, "second", relations, detect=detect)
                rows.append(second)
                print_table([second])
            for k in range(max(1, args.repeat)):
                touch_one_table(db, k)
                changed = measure_lodestar(db, data_dir, "one changed", relations, detect=detect)
                rows.append(changed)
                print_table([changed])
            if args.profile:
                prof = Path(tmp) / "second.prof"
                measured = measure_lodestar(
                    db, data_dir, "2nd+prof", relations, str(prof), detect=args.change_detection
                )
                print_table([measured])
                print_profile(prof)
        if args.cli:
            with tempfile.TemporaryDirectory(prefix="lodestar-bench-") as tmp:
                data_dir = Path(tmp) / "catalog"
                data_dir.mkdir()
                migrate_catalog(data_dir)
                for run in ["first"] + ["second"] * max(1, args.repeat):
                    m = measure_lodestar(db, data_dir, run, relations, cli=True)
                    rows.append(m)
                    print_table([m])

        if args.warm:
            with tempfile.TemporaryDirectory(prefix="lodestar-bench-") as tmp:
                argv = [sys.executable, str(Path(__file__).resolve()), "--child-warm",
                        json.dumps(lodestar_recipe(db)), tmp,
                        "--repeat", str(args.repeat)]  # fmt: skip
                load = load_avg()
                _, rss, out, err, code, _ = run_child(argv, None)
                for line in out.splitlines():
                    if not line.startswith("{"):
                        continue
                    info = json.loads(line)
                    ok = code == 0 and info.get("status") == "success"
                    m = Measured("lodestar-warm", info["run"], info["in_run"], info["in_run"],
                                 rss, relations, load, info, ok, info["in_run_cpu"])  # fmt: skip
                    rows.append(m)
                    print_table([m])
                if code != 0:
                    print(f"lodestar-warm failed (exit {code})\n{err[-3000:]}", file=sys.stderr)

        if args.peer:
            py = peer_python(args.peer_venv)
            if py is None:
                skipped_peer = True
                print(
                    f"\n*** peer SKIPPED: no usable acryl-datahub in {args.peer_venv} (set it up "
                    "as the docstring says, or pass --no-peer) ***\n",
                    file=sys.stderr,
                )
            else:
                for sink in [s.strip() for s in args.peer_sinks.split(",") if s.strip()]:
                    with tempfile.TemporaryDirectory(prefix="datahub-bench-") as tmp:
                        m = measure_peer(py, db, sink, Path(tmp), relations, args.peer_view_lineage)
                    rows.append(m)
                    print_table([m])

        if args.scaling:
            for n in [int(x) for x in args.scaling_sizes.split(",")]:
                if n == args.tables:
                    scaling.append((n, first))
                    continue
                views = round(args.views * n / args.tables)
                sdb = f"lodestar_bench_{n}_{uuid.uuid4().hex[:8]}"
                dbs.append(sdb)
                create_source(sdb, n, args.columns, views, args.schemas)
                with tempfile.TemporaryDirectory(prefix="lodestar-bench-") as tmp:
                    data_dir = Path(tmp)
                    migrate_catalog(data_dir)
                    scaling.append((n, measure_lodestar(sdb, data_dir, "first", n + views)))
                if not args.keep_db:
                    drop_database(sdb)
    finally:
        if not args.keep_db:
            for d in dbs:
                drop_database(d)

    print()
    print_table(rows)
    summarize(rows)
    if scaling:
        print("\nmemory as the source grows (Lodestar first run, fresh catalog):")
        print(f"{'tables':>7} {'views':>6} {'wall s':>8} {'tables/s':>9} {'peak RSS MB':>12}  load")
        for n, m in sorted(scaling, key=lambda x: x[0]):
            print(f"{n:7d} {m.relations - n:6d} {m.wall:8.2f} {m.relations / m.wall:9.1f} "
                  f"{m.rss_mb:12.1f}  {m.load}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps(
                {"rows": [m.__dict__ for m in rows],
                 "scaling": [{"tables": n, **m.__dict__} for n, m in scaling]},
                indent=2,
            )
        )  # fmt: skip
    if not all(m.ok for m in rows):
        return 1
    return 3 if skipped_peer else 0


def summarize(rows: list[Measured]) -> None:
    ours = {m.run: m for m in rows if m.tool in ("lodestar", "lodestar-nocd") and m.ok}
    peers = [m for m in rows if m.tool.startswith("datahub") and m.ok]
    print()
    what = {
        "lodestar": "a fresh process per run",
        "lodestar-nocd": "a fresh process per run, no change detection",
        "lodestar-cli": "the `lodestar ingest` command",
        "lodestar-warm": "`lodestar serve`'s scheduler: a process that ran pipelines before",
    }
    for tool in what:
        firsts = [m for m in rows if m.tool == tool and m.run == "first" and m.ok]
        seconds = [m for m in rows if m.tool == tool and m.run == "second" and m.ok]
        if not firsts or not seconds:
            continue
        f = firsts[0]

        def median(values: list[float]) -> float:
            return statistics.median(values)

        r = f.wall / median([m.wall for m in seconds])
        verdict = "met" if r >= TARGET_SECOND_RUN else "NOT met"
        line = (
            f"{tool} ({what[tool]}): unchanged run vs first (wall, median of {len(seconds)}): "
            f"{r:.1f}x (target {TARGET_SECOND_RUN:.0f}x: {verdict})"
        )
        in_runs = [m.in_run for m in seconds if m.in_run]
        if f.in_run and in_runs:
            line += f"; in-run: {f.in_run / median(in_runs):.1f}x"
        cpus = [m.cpu for m in seconds if m.cpu]
        if f.cpu and cpus:
            line += f"; process CPU: {f.cpu / median(cpus):.1f}x"
        run_cpus = [m.info["in_run_cpu"] for m in seconds if m.info.get("in_run_cpu")]
        if f.info.get("in_run_cpu") and run_cpus:
            line += f"; in-run CPU: {f.info['in_run_cpu'] / median(run_cpus):.1f}x"
        print(line)
        changed = [m for m in rows if m.tool == tool and m.run == "one changed" and m.ok]
        if changed:
            c = median([m.wall for m in changed])
            line = (
                f"  one table changed: {f.wall / c:.1f}x faster than the first (wall, median of "
                f"{len(changed)}), {c / median([m.wall for m in seconds]):.2f}x the unchanged run"
            )
            c_in = [m.in_run for m in changed if m.in_run]
            if f.in_run and c_in:
                line += f"; in-run: {f.in_run / median(c_in):.1f}x faster than the first"
            print(line)
    if "first" in ours and peers:
        best = min(peers, key=lambda m: m.wall)
        r = best.wall / ours["first"].wall
        verdict = "met" if r >= TARGET_VS_PEER else "NOT met"
        line = (f"first run vs {best.tool} (fastest peer, wall): {r:.1f}x faster "
                f"(target {TARGET_VS_PEER:.0f}x: {verdict})")  # fmt: skip
        if best.in_run and ours["first"].in_run:
            line += f"; in-run: {best.in_run / ours['first'].in_run:.1f}x"
        print(line)


def print_profile(path: Path, top: int = 30) -> None:
    """Top functions by cumulative time, those in src/lodestar first."""
    import pstats

    stats = pstats.Stats(str(path))
    src = str(REPO / "src" / "lodestar")
    entries = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append((ct, tt, nc, filename, line, func))
    entries.sort(reverse=True)
    total = max(e[0] for e in entries)
    print(f"\ncProfile of the unchanged second run: {total:.2f} s cumulative at the top")
    print(f"{'cum s':>8} {'own s':>8} {'calls':>9}  function (src/lodestar)")
    for ct, tt, nc, filename, line, func in [e for e in entries if e[3].startswith(src)][:top]:
        print(f"{ct:8.3f} {tt:8.3f} {nc:9d}  {filename[len(src) + 1 :]}:{line} {func}")
    print(f"\n{'cum s':>8} {'own s':>8} {'calls':>9}  function (outside src/lodestar)")
    for ct, tt, nc, filename, line, func in [e for e in entries if not e[3].startswith(src)][:15]:
        print(f"{ct:8.3f} {tt:8.3f} {nc:9d}  {Path(filename).name}:{line} {func}")


if __name__ == "__main__":
    sys.exit(main())
