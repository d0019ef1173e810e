"""Shared helpers for the benchmarks: a Lodestar server in a subprocess, fresh databases, and
realistic generated metadata.

`running_server("sqlite")` starts `uvicorn --factory lodestar.api.app:app_from_env` on a free
port with a fresh data dir (SQLite file `<data_dir>/catalog.db`); `running_server("postgres")`
first creates a fresh PostgreSQL database on PG_SERVER and drops it afterwards. Both yield a
`Server` with the base URL, the admin token read from `<data_dir>/admin.token` and the pid of
the process that serves the requests (for RSS and py-spy).

Not a test helper: benchmarks print figures, they assert nothing.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get(
    "LODESTAR_BENCH_PG",
    os.environ.get("LODESTAR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
BACKENDS = ("sqlite", "postgres")


# -- databases ------------------------------------------------------------------------------
def _pg_admin() -> psycopg.Connection[Any]:
    url = sa.make_url(PG_SERVER).set(drivername="postgresql")
    return psycopg.connect(
        url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
    )


def create_pg_database(prefix: str = "lodestar_bench") -> tuple[str, str]:
    """A fresh PostgreSQL database: (name, SQLAlchemy URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    return name, url


def drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database(backend: str, prefix: str = "lodestar_bench") -> Iterator[str]:
    """A SQLAlchemy URL of an empty database: a SQLite file in a temp dir, or a new PG db."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        try:
            yield f"sqlite:///{tmp / 'bench.db'}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif backend == "postgres":
        name, url = create_pg_database(prefix)
        try:
            yield url
        finally:
            drop_pg_database(name)
    else:
        raise ValueError(f"unknown backend {backend!r}")


def backends(choice: str) -> list[str]:
    return list(BACKENDS) if choice == "both" else [choice]


# -- the server -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    backend: str
    url: str
    token: str
    data_dir: Path
    database_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    workers: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int:
        """The pid serving requests: the uvicorn process itself with one worker."""
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        if self.workers == 1:
            return [self.proc.pid]
        return [p for p in _children(self.proc.pid) if _is_python(p)]

    def gc_stats(self) -> dict[str, Any]:
        """GC totals of a server started with gc_stats=True (signals it, waits for the file)."""
        import json

        path = self.data_dir / "gcstats.json"
        before = path.stat().st_mtime_ns if path.exists() else 0
        os.kill(self.proc.pid, signal.SIGUSR2)
        for _ in range(100):
            # Python runs the handler when the main thread next runs bytecode: give it a request.
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.url}/api/v1/health", timeout=5)
            if path.exists() and path.stat().st_mtime_ns != before:
                return dict(json.loads(path.read_text()))
            time.sleep(0.05)
        raise RuntimeError("the server wrote no GC statistics (started without gc_stats?)")

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=120.0, **kw)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        out.extend(int(k) for k in kids)
    return out


def _is_python(pid: int) -> bool:
    try:
        return b"python" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            r = httpx.get(f"{url}/api/v1/health", timeout=1.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {timeout}s:\n{log.read_text()}")


# Runs uvicorn after installing a GC timer: gc.callbacks add up the CPU time of every collection
# per generation; SIGUSR2 writes the totals to $LODESTAR_BENCH_GC_FILE (bench code, not the app).
_GC_BOOTSTRAP = """
import gc, json, os, signal, sys, time, runpy
path = os.environ.pop("LODESTAR_BENCH_GC_FILE")
threshold = os.environ.pop("LODESTAR_BENCH_GC_THRESHOLD", "")
if threshold:
    gc.set_threshold(int(threshold), 50, 50)
stats = {"seconds": [0.0, 0.0, 0.0], "collections": [0, 0, 0], "collected": 0}
started = {}
def _cb(phase, info):
    if phase == "start":
        started["t"] = time.thread_time()
    else:
        g = info["generation"]
        stats["seconds"][g] += time.thread_time() - started.get("t", time.thread_time())
        stats["collections"][g] += 1
        stats["collected"] += info.get("collected", 0)
gc.callbacks.append(_cb)
def _dump(signum, frame):
    out = dict(stats, threshold=list(gc.get_threshold()), objects=len(gc.get_objects()))
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR2, _dump)
sys.argv = ["uvicorn", *sys.argv[1:]]
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


@contextlib.contextmanager
def running_server(
    backend: str,
    *,
    workers: int = 1,
    access_log: bool = False,
    env: dict[str, str] | None = None,
    taskset: str | None = None,
    gc_stats: bool = False,
    gc_threshold: int | None = None,
    serve: bool = False,
) -> Iterator[Server]:
    """Start a server on a fresh database; stop it and drop the database on exit.

    serve: start it as users do, `lodestar serve` (uvicorn under the CLI, the scheduler on),
    instead of uvicorn with the app factory.

    gc_stats: run uvicorn through a small bootstrap that times the garbage collector (read
    with `Server.gc_stats()`); gc_threshold: the bootstrap also sets the generation-0 threshold
    (gc.set_threshold(n, 50, 50)) — a what-if for the GC cost, the app itself is unchanged."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"lodestar_bench_{backend}_"))
    pg_name: str | None = None
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    full_env["LODESTAR_DATA_DIR"] = str(data_dir)
    if backend == "postgres":
        pg_name, db_url = create_pg_database()
        full_env["LODESTAR_DATABASE_URL"] = db_url
    elif backend == "sqlite":
        db_url = f"sqlite:///{data_dir / 'catalog.db'}"
    else:
        raise ValueError(f"unknown backend {backend!r}")
    full_env.update(env or {})
    port = free_port()
    uv_args = [
        "--factory", "lodestar.api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    if not access_log:
        uv_args.append("--no-access-log")
    if workers > 1:
        uv_args += ["--workers", str(workers)]
    if serve:
        cmd = [PYTHON, "-m", "lodestar.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
    elif gc_stats or gc_threshold:
        full_env["LODESTAR_BENCH_GC_FILE"] = str(data_dir / "gcstats.json")
        if gc_threshold:
            full_env["LODESTAR_BENCH_GC_THRESHOLD"] = str(gc_threshold)
        boot = data_dir / "gc_bootstrap.py"
        boot.write_text(_GC_BOOTSTRAP)
        cmd = [PYTHON, str(boot), *uv_args]
    else:
        cmd = [PYTHON, "-m", "uvicorn", *uv_args]
    if taskset:
        cmd = ["taskset", "-c", taskset, *cmd]
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd,
        env=full_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log_path, timeout=60)
        token_file = data_dir / "admin.token"
        for _ in range(50):
            if token_file.exists() and token_file.read_text().strip():
                break
            time.sleep(0.1)
        token = token_file.read_text().strip()
        yield Server(backend, url, token, data_dir, db_url, proc, log_path, workers)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if pg_name:
            drop_pg_database(pg_name)
        shutil.rmtree(data_dir, ignore_errors=True)


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


# -- the machine ----------------------------------------------------------------------------
def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


# -- generated metadata ---------------------------------------------------------------------
SERVICE = "warehouse"
DATABASE = "analytics"
SCHEMAS = [
    "sales", "marketing", "finance", "product", "support",
    "logistics", "hr", "billing", "identity", "events",
]  # fmt: skip
ENTITIES = [
    "orders", "customers", "invoices", "payments", "shipments", "subscriptions", "sessions",
    "page_views", "refunds", "products", "inventory", "campaigns", "leads", "tickets",
    "employees", "accounts", "ledger_entries", "carts", "returns", "suppliers",
]  # fmt: skip
PREFIXES = ["raw", "stg", "int", "fct", "dim", "agg", "snap"]

# (name, data_type, description, pii) — the pool the 30 columns of each table come from.
COLUMN_POOL: list[tuple[str, str, str, bool]] = [
    ("id", "bigint", "Surrogate key of the row.", False),
    ("customer_id", "bigint", "The customer the row belongs to (`dim_customers.id`).", False),
    ("account_id", "bigint", "Billing account, see `accounts`.", False),
    ("order_id", "bigint", "Order this line refers to.", False),
    ("email", "varchar(320)", "Contact e-mail as entered by the customer.", True),
    ("phone_number", "varchar(32)", "Phone number in E.164 format.", True),
    ("first_name", "varchar(128)", "Given name.", True),
    ("last_name", "varchar(128)", "Family name.", True),
    ("date_of_birth", "date", "Birth date, used for age checks only.", True),
    ("street_address", "varchar(512)", "Street and house number of the shipping address.", True),
    ("postal_code", "varchar(16)", "Postal code of the shipping address.", True),
    ("ip_address", "inet", "Client IP address at the time of the event.", True),
    ("country_code", "char(2)", "ISO 3166-1 alpha-2 country code.", False),
    ("currency", "char(3)", "ISO 4217 currency of the amounts.", False),
    ("amount", "numeric(12,2)", "Gross amount in `currency`, taxes included.", False),
    ("net_amount", "numeric(12,2)", "Amount net of discounts and taxes.", False),
    ("tax_amount", "numeric(12,2)", "VAT or sales tax charged.", False),
    ("discount_pct", "numeric(5,2)", "Discount applied, in percent.", False),
    ("quantity", "integer", "Number of units.", False),
    ("status", "varchar(32)", "Lifecycle status: `pending`, `active`, `closed`.", False),
    ("channel", "varchar(32)", "Acquisition channel (web, app, partner, store).", False),
    ("is_active", "boolean", "Whether the record is currently active.", False),
    ("is_test", "boolean", "Rows created by internal test accounts; filter them out.", False),
    ("created_at", "timestamp with time zone", "When the row was created in the source.", False),
    ("updated_at", "timestamp with time zone", "Last change in the source system.", False),
    ("deleted_at", "timestamp with time zone", "Soft-delete time in the source, if any.", False),
    ("event_date", "date", "Partition date (UTC).", False),
    ("session_id", "uuid", "Web or app session identifier.", False),
    ("user_agent", "text", "Raw User-Agent header.", False),
    ("utm_source", "varchar(256)", "Marketing source from the landing URL.", False),
    ("utm_campaign", "varchar(256)", "Marketing campaign from the landing URL.", False),
    ("sku", "varchar(64)", "Stock keeping unit of the product.", False),
    ("product_name", "varchar(512)", "Display name of the product at order time.", False),
    ("category", "varchar(128)", "Product category (level 1).", False),
    ("warehouse_code", "varchar(16)", "Fulfilment warehouse.", False),
    ("carrier", "varchar(64)", "Shipping carrier.", False),
    ("tracking_number", "varchar(64)", "Carrier tracking number.", False),
    ("shipped_at", "timestamp with time zone", "Hand-over to the carrier.", False),
    ("delivered_at", "timestamp with time zone", "Delivery confirmation time.", False),
    ("payment_method", "varchar(32)", "Card, SEPA, PayPal, invoice...", False),
    ("card_last4", "char(4)", "Last four digits of the card.", True),
    ("risk_score", "double precision", "Fraud model score in [0, 1].", False),
    ("ltv_90d", "numeric(14,2)", "Predicted 90-day lifetime value.", False),
    ("attributes", "jsonb", "Free-form attributes from the source.", False),
    ("notes", "text", "Operator notes; may contain personal data.", True),
    ("_loaded_at", "timestamp with time zone", "When the ingestion job loaded the row.", False),
    ("_source_file", "varchar(1024)", "Object-store path of the file the row came from.", False),
    ("_batch_id", "bigint", "Ingestion batch.", False),
]

CLASSIFICATION = "PII"
TAG = "Sensitive"
TAG_FQN = f"{CLASSIFICATION}.{TAG}"
TIER_CLASSIFICATION = "Tier"
TIER_TAGS = ["Tier1", "Tier2", "Tier3"]
OWNERS = ["alice", "bob", "carol", "dave"]


def seed_lines(*, owners: bool = True, service: str = SERVICE) -> list[dict[str, Any]]:
    """The assets the generated tables refer to: users, classifications and tags, the service,
    database and schemas. Parents before children."""
    lines: list[dict[str, Any]] = []
    if owners:
        lines += [
            {"kind": "user", "name": u, "email": f"{u}@example.com", "display_name": u.title()}
            for u in OWNERS
        ]
    lines += [
        {"kind": "classification", "name": CLASSIFICATION, "description": "Personal data."},
        {"kind": "tag", "name": TAG, "classification": CLASSIFICATION,
         "description": "Personal data that identifies a person."},
        {"kind": "classification", "name": TIER_CLASSIFICATION, "mutually_exclusive": True,
         "description": "How critical a data asset is."},
        *({"kind": "tag", "name": t, "classification": TIER_CLASSIFICATION} for t in TIER_TAGS),
        {"kind": "service", "name": service, "category": "database", "service_type": "postgres",
         "description": "The analytics warehouse."},
        {"kind": "database", "name": DATABASE, "service": service},
        *({"kind": "schema", "name": s, "database": f"{service}.{DATABASE}",
           "description": f"Tables of the {s} domain."} for s in SCHEMAS),
    ]  # fmt: skip
    return lines


def table_body(
    i: int, *, columns: int = 30, owners: bool = True, service: str = SERVICE
) -> dict[str, Any]:
    """Table number i: a realistic name, 30 typed and documented columns, some PII-tagged."""
    rng = random.Random(i)
    schema = SCHEMAS[i % len(SCHEMAS)]
    name = f"{PREFIXES[i % len(PREFIXES)]}_{ENTITIES[(i // 7) % len(ENTITIES)]}_{i:05d}"
    picked = [COLUMN_POOL[0], *rng.sample(COLUMN_POOL[1:], columns - 1)]
    cols = []
    for cname, dtype, desc, pii in picked:
        col: dict[str, Any] = {
            "name": cname,
            "data_type": dtype,
            "nullable": cname != "id",
            "description": desc,
        }
        if cname == "id":
            col["constraint"] = "primary_key"
        if pii:
            col["tags"] = [TAG_FQN]
        cols.append(col)
    body: dict[str, Any] = {
        "kind": "table",
        "name": name,
        "schema": f"{service}.{DATABASE}.{schema}",
        "table_type": "view" if i % 11 == 0 else "table",
        "description": (
            f"{ENTITIES[(i // 7) % len(ENTITIES)].replace('_', ' ').capitalize()} of the "
            f"{schema} domain, {PREFIXES[i % len(PREFIXES)]} layer. Loaded hourly from the "
            "operational database; one row per source record, late updates merged."
        ),
        "columns": cols,
        "tags": [f"{TIER_CLASSIFICATION}.{TIER_TAGS[i % 3]}"],
    }
    if owners:
        body["owners"] = [{"kind": "user", "fqn": OWNERS[i % len(OWNERS)]}]
    return body


def table_fqn(body: dict[str, Any]) -> str:
    return f"{body['schema']}.{body['name']}"


def post_bulk(
    client: httpx.Client, payload: bytes, origin: str | None = None
) -> list[dict[str, Any]]:
    """POST one NDJSON body to /api/v1/bulk; raise unless every line succeeded. `origin`, e.g.
    "ingestion:bench", is sent as X-Lodestar-Origin (the write then counts as an ingestion)."""
    import orjson

    headers = {"Content-Type": "application/x-ndjson"}
    if origin and origin != "person":
        headers["X-Lodestar-Origin"] = origin
    r = client.post("/api/v1/bulk", content=payload, headers=headers)
    r.raise_for_status()
    out = [orjson.loads(line) for line in r.content.splitlines() if line.strip()]
    bad = [o for o in out if o.get("result") == "error"]
    if bad:
        raise RuntimeError(f"{len(bad)} bulk lines failed, first: {bad[0]}")
    return out


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    import orjson

    return b"".join(orjson.dumps(x) + b"\n" for x in lines)


def seed_tables(
    server: Server, n: int, *, per_request: int = 1000, service: str = SERVICE
) -> list[str]:
    """Seed the referenced assets and n generated tables; return the tables' FQNs. The bodies
    are made a request at a time: 100,000 of them at once would take gigabytes here."""
    fqns: list[str] = []
    with server.client() as c:
        post_bulk(c, ndjson(seed_lines(service=service)))
        for i in range(0, n, per_request):
            bodies = [table_body(j, service=service) for j in range(i, min(i + per_request, n))]
            post_bulk(c, ndjson(bodies))
            fqns += [table_fqn(b) for b in bodies]
    return fqns


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if j and _num(c) else c.ljust(w) for c, w in zip(r, widths, strict=False)
            )
        )
        if j == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _num(s: str) -> bool:
    return (
        bool(s)
        and (s[0].isdigit() or s[0] == "-")
        and s.replace(",", "").replace(".", "")[-1:].isdigit()
    )


# -- profiling ------------------------------------------------------------------------------
def py_spy_binary() -> str | None:
    """py-spy from $PY_SPY, PATH or /work/benchvenv (kept out of the project's venv)."""
    for cand in (os.environ.get("PY_SPY"), shutil.which("py-spy"), "/work/benchvenv/bin/py-spy"):
        if cand and Path(cand).exists():
            return cand
    return None


@contextlib.contextmanager
def py_spy(
    pids: list[int], out_prefix: Path, rate: int = 250, gil: bool = False
) -> Iterator[list[Path]]:
    """Sample the given processes with py-spy (collapsed stacks, no line numbers) while the
    block runs; yields the output paths, written when the block ends.

    gil=True samples only the thread holding the GIL: right for a multi-threaded server, where
    py-spy would otherwise also count threads that merely wait for the GIL, but blind to C code
    that runs with the GIL released (SQLite executing a statement, psycopg waiting on the
    socket)."""
    exe = py_spy_binary()
    if exe is None:
        raise RuntimeError("py-spy not found: pip install py-spy into /work/benchvenv")
    procs: list[subprocess.Popen[bytes]] = []
    paths: list[Path] = []
    for pid in pids:
        path = out_prefix.with_name(f"{out_prefix.name}.{pid}.txt")
        paths.append(path)
        procs.append(
            subprocess.Popen(
                [exe, "record", "-p", str(pid), "-f", "raw", "-o", str(path), "-r", str(rate),
                 "--nolineno", "--subprocesses", *(["--gil"] if gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    time.sleep(0.5)  # let py-spy attach
    try:
        yield paths
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _frame_key(frame: str) -> tuple[str, str]:
    """'func (path/to/file.py)' -> (func, file)."""
    func, _, rest = frame.rpartition(" (")
    return func, rest.rstrip(")")


LAYERS = [
    ("lodestar", ("lodestar",)),
    ("pydantic", ("pydantic", "pydantic_core", "pydantic_settings")),
    ("sqlalchemy", ("sqlalchemy",)),
    ("psycopg", ("psycopg", "psycopg_binary")),
    ("starlette/fastapi", ("starlette", "fastapi")),
    ("uvicorn/h11/httptools", ("uvicorn", "h11", "httptools", "click")),
    ("anyio/asyncio/threading", ("anyio", "asyncio", "threading.py", "concurrent", "sniffio")),
    ("prometheus", ("prometheus_client",)),
    ("sqlite3", ("sqlite3",)),
    ("orjson", ("orjson",)),
    ("opentelemetry", ("opentelemetry",)),
    ("httpx/httpcore", ("httpx", "httpcore")),
    ("jsonpatch", ("jsonpatch", "jsonpointer")),
]


def _top_package(file: str) -> str:
    """'…/site-packages/sqlalchemy/engine/base.py' (or without the prefix) -> 'sqlalchemy'."""
    for marker in ("/src/", "site-packages/", "/lib/python3.11/"):
        i = file.find(marker)
        if i >= 0:
            file = file[i + len(marker) :]
            break
    return file.lstrip("/").split("/", 1)[0]


def is_lodestar(file: str) -> bool:
    return _top_package(file) == "lodestar" and "site-packages" not in file


def layer_of(file: str) -> str:
    if "/bench/" in file or file.startswith(("bulk_ingest.py", "read_latency.py", "_server.py")):
        return "bench harness"
    top = _top_package(file)
    for name, packages in LAYERS:
        if top in packages:
            return name
    if file.startswith("<frozen") or "/lib/python3.11/" in file or "/" not in file.strip("<>"):
        return "stdlib/other"
    return "other: " + top


def short_path(file: str) -> str:
    i = file.find("/src/lodestar/")
    if i >= 0:
        return file[i + len("/src/") :]
    for needle in ("site-packages/", "lib/python3.11/"):
        j = file.find(needle)
        if j >= 0:
            return file[j + len(needle) :]
    return file


# Leaf frames of threads that wait rather than run. py-spy's own idle detection does not work
# in this container, so these samples are dropped here (and counted as "idle").
IDLE_LEAVES = {
    ("Condition.wait", "threading.py"),
    ("Event.wait", "threading.py"),
    ("Thread.join", "threading.py"),
    ("_wait_for_tstate_lock", "threading.py"),
    ("Queue.get", "queue.py"),
    ("_worker", "concurrent/futures/thread.py"),
    ("Runner.run", "asyncio/runners.py"),  # uvloop's C loop: epoll_wait (and C callbacks)
    ("BaseEventLoop.run_forever", "asyncio/base_events.py"),
    ("EpollSelector.select", "selectors.py"),
}
DRIVER_CALLS = {"do_execute", "do_executemany", "do_execute_no_params", "DefaultDialect.do_execute",
                "DefaultDialect.do_executemany", "DefaultDialect.do_execute_no_params",
                "PGDialect_psycopg.do_executemany"}  # fmt: skip


def summarize_collapsed(paths: list[Path], top: int = 15) -> str:
    """A plain-text profile from py-spy collapsed stacks.

    - layers: where the leaf frame (the code actually on CPU) lives;
    - lodestar functions by *inclusive* share (the function is anywhere on the stack);
    - lodestar functions by *attributed* share: each sample goes to the deepest src/lodestar
      frame on its stack, so a function is charged for the library code it calls directly
      (pydantic, SQLAlchemy, the driver...) but not for deeper lodestar functions.
    """
    total = 0
    idle = 0
    layers: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    attributed: dict[str, int] = {}
    attributed_leaf: dict[str, dict[str, int]] = {}
    leaves: dict[str, int] = {}
    for path in paths:
        if not path.exists():
            continue
        # py-spy starts each stack with `process PID:"<command line>"`, and a command line
        # may hold newlines (python -c): drop that frame before splitting into lines.
        text = re.sub(r'process \d+:".*?";', "", path.read_text(), flags=re.S)
        for line in text.splitlines():
            stack, _, count_s = line.rpartition(" ")
            if not stack or not count_s.isdigit():
                continue
            n = int(count_s)
            frames = [_frame_key(f) for f in stack.split(";")]
            if not frames:
                continue
            leaf_func, leaf_file = frames[-1]
            if any(leaf_func == f and leaf_file.endswith(p) for f, p in IDLE_LEAVES):
                idle += n
                continue
            total += n
            if leaf_func in DRIVER_CALLS:
                leaf_layer = "DB driver call (sqlite3/psycopg, C)"
            else:
                leaf_layer = layer_of(leaf_file)
            layers[leaf_layer] = layers.get(leaf_layer, 0) + n
            leaf_key = f"{short_path(leaf_file)}:{leaf_func}"
            leaves[leaf_key] = leaves.get(leaf_key, 0) + n
            seen: set[str] = set()
            deepest: str | None = None
            for func, file in frames:
                if is_lodestar(file):
                    key = f"{short_path(file)}:{func}"
                    if key not in seen:
                        seen.add(key)
                        inclusive[key] = inclusive.get(key, 0) + n
                    deepest = key
            owner = deepest or f"(outside lodestar: {leaf_layer})"
            attributed[owner] = attributed.get(owner, 0) + n
            by_leaf = attributed_leaf.setdefault(owner, {})
            by_leaf[leaf_layer] = by_leaf.get(leaf_layer, 0) + n
    if not total:
        return "(no samples)"
    out = [
        f"samples on CPU: {total} (+{idle} idle/waiting samples dropped)",
        "",
        "CPU by layer (leaf frame):",
    ]
    for name, n in sorted(layers.items(), key=lambda kv: -kv[1]):
        out.append(f"  {100 * n / total:5.1f}%  {name}")
    out += ["", f"top leaf functions, any package (self time) — top {top}:"]
    for key, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {key}")
    out += ["", f"top src/lodestar functions, inclusive (on the stack) — top {top}:"]
    for key, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {key}")
    out += ["", "attributed to the deepest src/lodestar frame (self + libraries it calls):"]
    for key, n in sorted(attributed.items(), key=lambda kv: -kv[1])[:top]:
        parts = sorted(attributed_leaf[key].items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(f"{name} {100 * m / n:.0f}%" for name, m in parts)
        out.append(f"  {100 * n / total:5.1f}%  {key}   [{detail}]")
    return "\n".join(out)


# -- noise: this machine is shared ------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _cpu_times() -> tuple[int, int]:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + vals[4]
    return sum(vals), idle


def busy_fraction(seconds: float = 1.0) -> float:
    """Share of the machine's CPU busy over the next `seconds` (0..1, all cores)."""
    t1, i1 = _cpu_times()
    time.sleep(seconds)
    t2, i2 = _cpu_times()
    return 1.0 - (i2 - i1) / max(t2 - t1, 1)


def wait_quiet(max_wait: float, threshold: float = 0.2, settle: int = 3) -> float:
    """Wait (up to max_wait s) until the machine has been under `threshold` busy for `settle`
    consecutive seconds, so other people's test runs do not skew the figures. Returns the last
    busy fraction seen."""
    deadline = time.monotonic() + max_wait
    quiet = 0
    busy = busy_fraction()
    while time.monotonic() < deadline:
        quiet = quiet + 1 if busy < threshold else 0
        if quiet >= settle:
            break
        busy = busy_fraction()
    return busy


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def pg_backend_pids(database_url: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to the database of this URL."""
    if not database_url.startswith("postgresql"):
        return []
    name = sa.make_url(database_url).database
    with _pg_admin() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


class Meter:
    """Wall time and CPU of one measured stretch: the server process, this process (the load
    generator), the PostgreSQL backends of the database, and everything else on the machine."""

    def __init__(self, server_pids: list[int] | None = None, database_url: str = "") -> None:
        self.server_pids = server_pids or []
        self.database_url = database_url

    def _pg(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for pid in pg_backend_pids(self.database_url):
            with contextlib.suppress(OSError):
                out[pid] = cpu_seconds(pid)
        return out

    def __enter__(self) -> Meter:
        self._pg0 = self._pg()
        self._srv0 = sum(cpu_seconds(p) for p in self.server_pids)
        self._own0 = time.process_time()
        self._tot0, self._idle0 = _cpu_times()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        tot, idle = _cpu_times()
        self.own = time.process_time() - self._own0
        self.server = sum(cpu_seconds(p) for p in self.server_pids) - self._srv0
        pg1 = self._pg()
        self.pg = sum(v - self._pg0.get(pid, 0.0) for pid, v in pg1.items())
        busy = ((tot - self._tot0) - (idle - self._idle0)) / _TICK
        self.others = max(busy - self.own - self.server - self.pg, 0.0)

    def cores(self, cpu: float) -> float:
        return cpu / self.wall if self.wall else 0.0
