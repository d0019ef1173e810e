"""The self-healing behaviour of ingestion (issue 3), one test per behaviour, end to end.

Sources are real: SQLite files written here, and a fresh PostgreSQL database per test where the
behaviour needs a server (a role without a privilege, a closed port, comments that change).
Results are read back from the real embedded catalog the runs wrote to.

Back-off and the scheduler are in test_scheduler.py.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.catalog.observations import ObservationLog
from lodestar.ingest.errors import ConfigError, PermanentError, TransientError
from lodestar.ingest.recipe import Recipe, parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.retry import RetryPolicy, classify
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.service import run_recipe
from lodestar.ingest.sinks import PIPELINE_KIND, CatalogSink
from lodestar.ingest.state import StateStore
from lodestar.model import fqn
from lodestar.settings import Settings
from lodestar.store import open_store

FAST_RETRY = {"attempts": 3, "base_delay": 0.01, "max_delay": 0.02}
SERVICE = "lite"
ALICE = WriteContext.for_principal(Principal("alice", "steward"))
ADMIN = WriteContext.for_principal(Principal("root", "admin"))


# -- helpers -----------------------------------------------------------------------------------


@dataclass
class Env:
    """An embedded catalog in tmp_path, and a handle on it for reading results."""

    settings: Settings
    catalog: Catalog
    tmp: Path

    def run(self, recipe: Recipe, **kw: Any) -> RunReport:
        return run_recipe(recipe, self.settings, **kw)

    def table(self, db: str, name: str) -> Any:
        return self.catalog.get("table", Key(fqn=table_fqn(db, name)))

    def live_tables(self) -> list[str]:
        page = self.catalog.list_page("table", limit=10_000)
        return [a.fqn for a in page.items]

    def pipeline(self, name: str) -> Any:
        return self.catalog.get(PIPELINE_KIND, Key(fqn=fqn.quote(name)))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.delenv("LODESTAR_DATABASE_URL", raising=False)  # the file in data_dir, always
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.effective_database_url)
    try:
        yield Env(settings, Catalog(store), tmp_path)
    finally:
        store.dispose()


def table_fqn(db: str, name: str) -> str:
    return fqn.join([SERVICE, db, "main", name])


def sqlite_db(path: Path, script: str) -> Path:
    """Run `script` on the SQLite file at `path` in one transaction (creating the file)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(f"BEGIN;\n{script}\nCOMMIT;")
    return path


def sqlite_recipe(path: Path, pipeline: str = "shop", **options: Any) -> Recipe:
    options.setdefault("retry", FAST_RETRY)
    return parse_recipe(
        {
            "pipeline": pipeline,
            "source": {"type": "sqlite", "config": {"path": str(path), "service": SERVICE}},
            "options": options,
        }
    )


def many_tables(n: int) -> str:
    return "\n".join(
        f"CREATE TABLE t{i:04d} (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC(10,2));"
        for i in range(n)
    )


SHOP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, joined DATE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INT REFERENCES customers (id));
CREATE TABLE products (sku TEXT PRIMARY KEY, price NUMERIC(10,2));
CREATE TABLE stock (sku TEXT REFERENCES products (sku), qty INT);
"""
SHOP_TABLES = ["customers", "orders", "products", "stock"]
# SQLite lets a table a view reads be dropped; reading the view's columns then fails.
BROKEN_VIEW = (
    "CREATE TABLE gone (x INT); CREATE VIEW broken AS SELECT x FROM gone; DROP TABLE gone;"
)


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def counts(report: RunReport) -> dict[str, int]:
    keys = ("created", "updated", "unchanged", "deleted", "units", "units_skipped")
    return {k: getattr(report, k) for k in keys} | {"failed": report.units_failed}


# -- PostgreSQL sources ------------------------------------------------------------------------


@dataclass
class PgSource:
    server: Any  # tests/conftest.py PgServer
    database: str
    role: str

    def connect(self) -> psycopg.Connection[Any]:
        url = self.server.url.set(drivername="postgresql", database=self.database)
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def recipe(self, pipeline: str, **options: Any) -> Recipe:
        options.setdefault("retry", FAST_RETRY)
        config = {
            "service": "pg",
            "host": self.server.url.host or "127.0.0.1",
            "port": self.server.url.port or 5432,
            "username": self.role,
            "database": self.database,
        }
        source = {"type": "postgres", "config": config}
        return parse_recipe({"pipeline": pipeline, "source": source, "options": options})

    def table(self, schema: str, name: str) -> str:
        return fqn.join(["pg", self.database, schema, name])


@pytest.fixture
def pg_source(pg_server: Any) -> Iterator[PgSource]:
    """A fresh database on the test server and a login role that may read it."""
    name = pg_server.create_database()
    role = f"lodestar_ingest_{uuid.uuid4().hex[:12]}"
    try:
        with pg_server.admin() as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"')
        yield PgSource(pg_server, name, role)
    finally:
        pg_server.drop_database(name)
        with pg_server.admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


# -- Isolation ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_isolation_a_table_that_fails_to_extract_is_reported_and_the_rest_completes(
    pg_source: PgSource, env: Env
) -> None:
    with pg_source.connect() as conn:
        conn.execute(
            """
            CREATE SCHEMA shop;
            CREATE TABLE shop.customers (id int PRIMARY KEY, city text);
            CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES
                                      shop.customers (id));
            CREATE TABLE shop.payroll (id int PRIMARY KEY, amount numeric);
            CREATE TABLE shop.products (sku text PRIMARY KEY);
            INSERT INTO shop.customers VALUES (1, 'Oslo');
            """
        )
        conn.execute(f'GRANT USAGE ON SCHEMA shop TO "{pg_source.role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA shop TO "{pg_source.role}"')
        # The role may see payroll in the catalog but not read its rows: sampling it fails.
        conn.execute(f'REVOKE SELECT ON shop.payroll FROM "{pg_source.role}"')
    recipe = pg_source.recipe("pg-shop", sample_data=True, sample_rows=5)

    report = env.run(recipe)

    assert report.status == "partial"
    assert report.units_failed == 1
    payroll = pg_source.table("shop", "payroll")
    assert len(report.failures) == 1
    assert payroll in report.failures[0]
    assert "permission denied" in report.failures[0]
    stored = set(env.live_tables())
    assert stored == {pg_source.table("shop", t) for t in ("customers", "orders", "products")}
    customers = env.catalog.get("table", Key(fqn=pg_source.table("shop", "customers")))
    assert customers.doc["sample_data"]["rows"] == [[1, "Oslo"]]
    # the failure is not retried as if it were transient: the run ends promptly
    assert report.duration < 10

    # once the privilege is back, the next run picks the table up
    with pg_source.connect() as conn:
        conn.execute(f'GRANT SELECT ON shop.payroll TO "{pg_source.role}"')
    again = env.run(recipe)
    assert (again.status, again.units_failed, again.created) == ("success", 0, 1)
    assert payroll in env.live_tables()


def test_isolation_a_broken_sqlite_view_fails_alone(env: Env) -> None:
    """SQLite lets a table a view reads from be dropped; reading that view's columns then fails.
    That one view must be reported, and every other table of the schema still ingested."""
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP + BROKEN_VIEW)

    report = env.run(sqlite_recipe(path))

    assert report.status == "partial", report.failures
    assert report.units_failed == 1
    assert len(report.failures) == 1 and "broken" in report.failures[0], report.failures
    assert sorted(env.live_tables()) == sorted(table_fqn("shop", t) for t in SHOP_TABLES)


# -- Retries -----------------------------------------------------------------------------------


class LockedDatabase:
    """A SQLite file whose write lock another connection holds: writes fail with the driver's
    real `database is locked` until `release()`."""

    def __init__(self, path: Path) -> None:
        sqlite_db(path, "CREATE TABLE t (x INT);")
        self.holder = sqlite3.connect(path, isolation_level=None)
        self.holder.execute("BEGIN IMMEDIATE")
        self.writer = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.calls = 0

    def write(self) -> str:
        self.calls += 1
        self.writer.execute("INSERT INTO t VALUES (1)")
        return "written"

    def release(self) -> None:
        if self.holder.in_transaction:
            self.holder.execute("COMMIT")

    def close(self) -> None:
        self.release()
        self.holder.close()
        self.writer.close()


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[LockedDatabase]:
    db = LockedDatabase(tmp_path / "locked.sqlite")
    try:
        yield db
    finally:
        db.close()


def test_retries_transient_errors_with_growing_jittered_bounded_backoff(
    locked: LockedDatabase,
) -> None:
    with pytest.raises(sqlite3.OperationalError) as real:
        locked.write()
    assert "database is locked" in str(real.value)
    assert classify(real.value) is TransientError

    policy = RetryPolicy(attempts=8, base_delay=0.05, max_delay=0.3)
    sleeps: list[float] = []
    retried: list[int] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 4:  # the other writer lets go after the 4th wait
            locked.release()

    locked.calls = 0
    result = policy.run(
        "write", locked.write, sleep=sleep, on_retry=lambda n, _e: retried.append(n)
    )

    assert result == "written"
    assert locked.calls == 5 and retried == [1, 2, 3, 4] and len(sleeps) == 4
    # each wait is within its exponential cap, and never over max_delay
    for attempt, waited in enumerate(sleeps):
        assert 0.0 <= waited <= min(policy.max_delay, policy.base_delay * 2**attempt)

    # The caps grow exponentially up to max_delay; full jitter spreads waits below the cap.
    samples = {a: [policy.delay(a) for _ in range(4000)] for a in range(7)}
    means = [sum(s) / len(s) for s in samples.values()]
    assert means[0] < means[1] < means[2] < means[3]  # 0.025, 0.05, 0.1, 0.15
    assert all(max(s) <= policy.max_delay for s in samples.values())
    assert abs(means[6] - policy.max_delay / 2) < 0.02  # capped: uniform in [0, max_delay]
    assert len({round(x, 6) for x in samples[2]}) > 1000  # jitter, not a fixed delay
    assert min(samples[2]) < 0.02 and max(samples[2]) > 0.18


def test_retries_are_bounded_then_the_error_says_it_is_transient(locked: LockedDatabase) -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)
    sleeps: list[float] = []
    with pytest.raises(TransientError) as err:
        policy.run("write the state", locked.write, sleep=sleeps.append)
    assert locked.calls == 3 and len(sleeps) == 2
    assert str(err.value) == "write the state: still failing after 3 tries: database is locked"
    assert isinstance(err.value.__cause__, sqlite3.OperationalError)


def test_retries_a_closed_port_then_gives_up() -> None:
    port = free_port()
    calls: list[int] = []

    def connect() -> None:
        calls.append(1)
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)

    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
    with pytest.raises(TransientError, match=f"still failing after 4 tries: .*{port}") as err:
        policy.run("connect", connect, sleep=sleeps.append)
    assert len(calls) == 4 and len(sleeps) == 3
    assert isinstance(err.value.__cause__, psycopg.OperationalError)
    assert "refused" in str(err.value).lower()


@pytest.mark.postgres
def test_retries_a_role_at_its_connection_limit(pg_source: PgSource) -> None:
    """`too many connections for role "x"` clears when another session of the role ends."""
    with pg_source.server.admin() as conn:
        conn.execute(f'ALTER ROLE "{pg_source.role}" CONNECTION LIMIT 1')
    url = pg_source.server.url.set(
        drivername="postgresql", username=pg_source.role, database=pg_source.database
    ).render_as_string(hide_password=False)
    other = psycopg.connect(url)  # another job of the same role holds the only slot
    calls: list[int] = []

    def connect() -> str:
        calls.append(1)
        with psycopg.connect(url, connect_timeout=5) as conn:
            return str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]

    def sleep(_seconds: float) -> None:
        other.close()  # ...and finishes while we wait: its backend has gone when we wake
        with pg_source.server.admin() as admin:
            for _ in range(500):
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (pg_source.role,)
                ).fetchone()
                if row is not None and row[0] == 0:
                    return
                time.sleep(0.01)

    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            connect()
        calls.clear()
        assert RetryPolicy(attempts=3, base_delay=0.01).run("connect", connect, sleep) == (
            pg_source.role
        )
        assert len(calls) == 2
    finally:
        other.close()


@pytest.mark.postgres
def test_a_dropped_connection_is_retried_on_a_new_one(pg_source: PgSource) -> None:
    from lodestar.ingest.connectors.postgres import PostgresSource
    from lodestar.ingest.source import Options, SourceContext

    with pg_source.connect() as conn:
        conn.execute("CREATE SCHEMA s; CREATE TABLE s.a (x int); CREATE TABLE s.b (y int)")
    recipe = pg_source.recipe("pg-drop")
    ctx = SourceContext("pg-drop", recipe.filters, Options(retry=RetryPolicy(**FAST_RETRY)))
    source = PostgresSource(PostgresSource.config_model.model_validate(recipe.source.config), ctx)
    try:
        source.check()  # leaves an open connection in the source's pool
        with pg_source.server.admin() as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = %s",
                (pg_source.database, pg_source.role),
            ).fetchone()
        assert killed == (1,)
        units = list(source.units())
    finally:
        source.close()
    assert [u.error for u in units] == [None] * len(units)
    tables = [u.key for u in units if u.assets and u.assets[-1][0] == "table"]
    assert tables == [pg_source.table("s", t) for t in ("a", "b")]


@contextmanager
def hold_lock(pg: PgSource, table: str, seconds: float) -> Iterator[None]:
    """Another session holds an ACCESS EXCLUSIVE lock on `table` for `seconds` at most."""
    conn = pg.connect()
    conn.autocommit = False
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    timer = threading.Timer(seconds, conn.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        conn.rollback()
        conn.close()


@pytest.mark.postgres
def test_lock_waits_are_retried_and_bounded(pg_source: PgSource, env: Env) -> None:
    """The role's lock_timeout turns a lock wait into an error; it is retried, and a lock held
    for longer than the retries fails that table alone."""
    with pg_source.connect() as conn:
        conn.execute(
            "CREATE SCHEMA s; CREATE TABLE s.busy (x int); CREATE TABLE s.calm (y int);"
            "INSERT INTO s.busy VALUES (1)"
        )
        conn.execute(f'GRANT USAGE ON SCHEMA s TO "{pg_source.role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA s TO "{pg_source.role}"')
    with pg_source.server.admin() as conn:
        conn.execute(f"ALTER ROLE \"{pg_source.role}\" SET lock_timeout = '300ms'")
    busy = pg_source.table("s", "busy")

    with hold_lock(pg_source, "s.busy", seconds=20):
        report = env.run(
            pg_source.recipe("pg-lock", sample_data=True, retry={"attempts": 2, "base_delay": 0.1})
        )
    assert report.status == "partial"
    assert report.duration < 5
    (failure,) = report.failures
    assert busy in failure and "still failing after 2 tries" in failure
    assert "lock timeout" in failure
    assert env.live_tables() == [pg_source.table("s", "calm")]

    # a lock released while the run retries: the table is read on a later try
    started = time.monotonic()
    with hold_lock(pg_source, "s.busy", seconds=1.0):
        report = env.run(
            pg_source.recipe(
                "pg-lock",
                sample_data=True,
                retry={"attempts": 8, "base_delay": 0.2, "max_delay": 0.4},
            )
        )
    assert report.status == "success", report.failures
    assert time.monotonic() - started > 1.0
    assert env.catalog.get("table", Key(fqn=busy)).doc["sample_data"]["rows"] == [[1]]


@pytest.mark.postgres
def test_permanent_errors_fail_fast_with_a_clear_message(pg_server: Any) -> None:
    missing = f"no_such_db_{uuid.uuid4().hex[:8]}"
    url = pg_server.url.set(drivername="postgresql", database=missing)
    calls: list[int] = []
    sleeps: list[float] = []

    def connect() -> None:
        calls.append(1)
        psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=5)

    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=5.0)
    with pytest.raises(PermanentError) as err:
        policy.run("connect", connect, sleep=sleeps.append)
    assert len(calls) == 1 and sleeps == []
    assert f'database "{missing}" does not exist' in str(err.value)


@pytest.mark.postgres
def test_a_missing_database_or_permission_fails_the_run_fast(pg_source: PgSource, env: Env) -> None:
    slow = {"attempts": 4, "base_delay": 5.0, "max_delay": 20.0}  # seconds, were it retried
    missing = PgSource(pg_source.server, f"no_such_db_{uuid.uuid4().hex[:8]}", pg_source.role)
    started = time.monotonic()
    report = env.run(missing.recipe("pg-missing", retry=slow))
    assert time.monotonic() - started < 4
    assert report.status == "failed"
    assert len(report.failures) == 1
    message = report.failures[0]
    assert f'database "{missing.database}" does not exist' in message
    assert pg_source.role in message and "check host, port, username" in message

    # a role without CONNECT on the database: "permission denied", not retried either
    with pg_source.server.admin() as conn:
        conn.execute(f'REVOKE CONNECT ON DATABASE "{pg_source.database}" FROM PUBLIC')
        conn.execute(f'REVOKE CONNECT ON DATABASE "{pg_source.database}" FROM "{pg_source.role}"')
    started = time.monotonic()
    report = env.run(pg_source.recipe("pg-denied", retry=slow))
    assert time.monotonic() - started < 4
    assert report.status == "failed"
    assert "permission denied" in report.failures[0]


def test_a_missing_sqlite_file_fails_the_run_fast(env: Env) -> None:
    slow = {"attempts": 4, "base_delay": 5.0, "max_delay": 20.0}
    path = env.tmp / "nowhere.sqlite"
    started = time.monotonic()
    report = env.run(sqlite_recipe(path, retry=slow))
    assert time.monotonic() - started < 4
    assert report.status == "failed"
    assert report.failures == [f"the SQLite file {path} does not exist: check `path`"]


def test_a_closed_port_fails_the_run_after_bounded_retries(env: Env) -> None:
    port = free_port()
    recipe = parse_recipe(
        {
            "pipeline": "pg-down",
            "source": {
                "type": "postgres",
                "config": {
                    "service": "pg",
                    "host": "127.0.0.1",
                    "port": port,
                    "username": "postgres",
                    "database": "postgres",
                    "connect_timeout": 2,
                },
            },
            "options": {"retry": {"attempts": 3, "base_delay": 0.05, "max_delay": 0.1}},
        }
    )
    started = time.monotonic()
    report = env.run(recipe)
    assert time.monotonic() - started < 5
    assert report.status == "failed"
    assert len(report.failures) == 1
    message = report.failures[0]
    assert "still failing after 3 tries" in message
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower()
    assert env.live_tables() == []


# -- Resume ------------------------------------------------------------------------------------

RUNNER = """
import json, sys
from pathlib import Path
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.service import run_recipe
from lodestar.settings import Settings
report = run_recipe(parse_recipe(json.loads(sys.argv[1])), Settings(data_dir=Path(sys.argv[2])))
print(report.status)
"""


def _units_committed(db: Path) -> int:
    with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
        return int(conn.execute("SELECT count(*) FROM ingest_units").fetchone()[0])


def test_resume_a_run_killed_half_way_continues_from_its_last_committed_unit(env: Env) -> None:
    n = 2000
    path = sqlite_db(env.tmp / "big.sqlite", many_tables(n))
    raw = {
        "pipeline": "big",
        "source": {"type": "sqlite", "config": {"path": str(path), "service": SERVICE}},
        "options": {"batch_size": 10, "retry": FAST_RETRY},
    }
    catalog_db = env.settings.data_dir / "catalog.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(raw), str(env.settings.data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _units_committed(catalog_db) < 200:
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.communicate()}")
            assert time.monotonic() < deadline, "the run committed nothing in 60 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (out, err)

    store = env.catalog.store
    state = StateStore(store)
    (killed,) = state.recent("big")
    assert killed["status"] == "running"
    committed = _units_committed(catalog_db)
    assert 200 <= committed < n
    tables_before = len(env.live_tables())
    assert tables_before >= committed - 1  # the schema unit holds no table

    # A fresh heartbeat means "still running": a second runner must not start over it.
    with pytest.raises(ConfigError, match="already running"):
        env.run(sqlite_recipe(path, pipeline="big"))

    # Once the heartbeat is stale, the next start takes the run over (batch size is no part of
    # the state: the resumed run may commit in bigger batches).
    recipe = parse_recipe(raw | {"options": {"batch_size": 200, "retry": FAST_RETRY}})
    report = run_pipeline(
        recipe, CatalogSink(env.catalog, "big"), StateStore(store, stale_after_us=0)
    )

    assert report.status == "success", report.failures
    assert report.resumed is True
    assert report.run_id == killed["id"]
    assert report.units == n + 1
    assert report.units_resumed == committed
    written = report.units - report.units_resumed - report.units_skipped
    assert 0 < written < report.units
    # what the killed run had stored is not stored again
    assert report.created == n - tables_before
    # every table is in the catalog exactly once, with a single version
    assert len(env.live_tables()) == n
    events = env.catalog.events(after=0, limit=10 * n, kinds=["table"])
    assert len(events) == n
    assert {e.event_type for e in events} == {"entity_created"}
    assert len({e.fqn for e in events}) == n
    runs = state.recent("big")
    assert [(r["id"], r["status"]) for r in runs] == [(killed["id"], "success")]


# -- Incremental -------------------------------------------------------------------------------


def test_incremental_an_unchanged_source_writes_nothing_and_costs_little(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 400
    path = sqlite_db(env.tmp / "wide.sqlite", many_tables(n))
    recipe = sqlite_recipe(path, pipeline="wide", batch_size=50)
    # What a run costs is counted, not timed (a wall-clock race is flaky under a parallel
    # suite; bench/ingest_postgres.py measures the time): the lines sent to the catalog.
    sent: list[int] = []
    write = CatalogSink.write_batch

    def counted(self: CatalogSink, lines: Any, dry_run: bool, follow: Any) -> Any:
        sent.append(len(lines))
        return write(self, lines, dry_run, follow)

    monkeypatch.setattr(CatalogSink, "write_batch", counted)

    first = env.run(recipe)
    assert first.status == "success", first.failures
    assert first.created == n + 3  # service, database, schema and the tables
    assert sum(sent) == n + 3
    cursor = env.catalog.last_event()
    pipeline_obs = ObservationLog(env.catalog.store)

    sent.clear()
    second = env.run(recipe)

    assert second.status == "success"
    assert counts(second) == {
        "created": 0,
        "updated": 0,
        "unchanged": n + 3,
        "deleted": 0,
        "units": n + 1,
        "units_skipped": n + 1,
        "failed": 0,
    }
    assert env.catalog.last_event() == cursor  # no new version of anything, pipeline included
    assert all(a.version == 1 for a in env.catalog.list_page("table", limit=n).items)
    runs = pipeline_obs.read(env.pipeline("wide").id, "pipeline_run")
    assert len(runs) == 2  # observations are recorded, but they are not versions
    assert sum(sent) == 0  # every unit skipped on its fingerprint: not one line sent

    # one changed table costs one unit: the rest is still skipped
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("ALTER TABLE t0007 ADD COLUMN note TEXT")
        conn.commit()
    third = env.run(recipe)
    assert (third.units_skipped, third.updated, third.created) == (n, 1, 0)
    events = env.catalog.events(after=cursor)
    assert [(e.event_type, e.fqn) for e in events] == [
        ("entity_updated", table_fqn("wide", "t0007"))
    ]


# -- Stale removal -----------------------------------------------------------------------------


def test_stale_removal_soft_deletes_what_the_source_dropped_and_it_can_be_restored(
    env: Env,
) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    recipe = sqlite_recipe(path)
    assert env.run(recipe).status == "success"

    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE stock")
    report = env.run(recipe)

    assert report.status == "success"
    assert report.deleted == 1
    assert report.warnings == []
    stock = env.table("shop", "stock")
    assert stock.deleted is True
    assert sorted(env.live_tables()) == sorted(
        table_fqn("shop", t) for t in SHOP_TABLES if t != "stock"
    )
    (deleted_event,) = [
        e for e in env.catalog.events(after=0, limit=1000) if e.event_type == "entity_soft_deleted"
    ]
    assert deleted_event.fqn == table_fqn("shop", "stock")
    assert deleted_event.origin == "ingestion:shop"

    # soft: a person can bring it back, with its history
    restored = env.catalog.restore("table", Key(fqn=table_fqn("shop", "stock")), ALICE)
    assert restored.deleted is False
    assert [c["name"] for c in env.table("shop", "stock").doc["columns"]] == ["sku", "qty"]
    # a run after that does not fight the person: it has forgotten the dropped table
    again = env.run(recipe)
    assert (again.status, again.deleted) == ("success", 0)


def test_stale_removal_a_source_that_suddenly_returns_nothing_deletes_nothing(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    assert env.run(sqlite_recipe(path)).status == "success"
    everything = sorted(env.live_tables())
    assert len(everything) == 4

    # every table gone at once (an empty file swapped in, a wrong path...)
    sqlite_db(path, "".join(f"DROP TABLE {t};" for t in SHOP_TABLES))
    emptied = env.run(sqlite_recipe(path))
    assert emptied.deleted == 0
    assert len(emptied.warnings) == 1
    assert "not deleting anything" in emptied.warnings[0]
    assert "max_deletion_ratio" in emptied.warnings[0]
    assert sorted(env.live_tables()) == everything

    # a schema filter that now matches nothing
    filtered = parse_recipe(
        sqlite_recipe(path).model_dump() | {"filters": {"schemas": {"include": ["nomatch"]}}}
    )
    report = env.run(filtered)
    assert report.deleted == 0
    assert any("not deleting anything" in w for w in report.warnings), report.warnings
    assert sorted(env.live_tables()) == everything
    assert env.catalog.get("schema", Key(fqn=fqn.join([SERVICE, "shop", "main"]))).deleted is False


def test_stale_removal_max_deletion_ratio_is_configurable(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    assert env.run(sqlite_recipe(path)).status == "success"
    sqlite_db(path, "DROP TABLE orders; DROP TABLE stock; DROP TABLE products;")

    # 3 of 5 units (4 tables and the schema) gone: 60% is over the default 50%
    kept = env.run(sqlite_recipe(path))
    assert kept.deleted == 0
    assert "60%" in kept.warnings[0] and "50%" in kept.warnings[0]
    assert len(env.live_tables()) == 4

    # a ratio just under the share still keeps everything; one at the share deletes
    assert env.run(sqlite_recipe(path, max_deletion_ratio=0.59)).deleted == 0
    removed = env.run(sqlite_recipe(path, max_deletion_ratio=0.6))
    assert removed.deleted == 3
    assert removed.warnings == []
    assert env.live_tables() == [table_fqn("shop", "customers")]


def test_stale_removal_leaves_what_a_narrower_filter_no_longer_covers(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    assert env.run(sqlite_recipe(path)).status == "success"

    # orders is dropped in the source; stock still exists but the recipe now leaves it out
    sqlite_db(path, "DROP TABLE orders;")
    narrower = parse_recipe(
        sqlite_recipe(path).model_dump() | {"filters": {"tables": {"exclude": ["stock"]}}}
    )
    report = env.run(narrower)

    assert (report.status, report.deleted) == ("success", 1)
    assert env.table("shop", "orders").deleted is True
    assert env.table("shop", "stock").deleted is False  # out of scope, not gone


def test_stale_removal_goes_on_past_a_unit_that_failed_for_a_reason_of_its_own(env: Env) -> None:
    """A unit failing (a broken view) keeps what it committed, and only that: a table the
    source dropped meanwhile is removed, on this run, not after the view is mended."""
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP + "CREATE TABLE base (x INT);")
    sqlite_db(path, "CREATE VIEW v AS SELECT x FROM base;")
    recipe = sqlite_recipe(path)
    assert env.run(recipe).status == "success"
    assert table_fqn("shop", "v") in env.live_tables()

    # stock is dropped, and at the same time the view breaks (its base table is dropped too)
    sqlite_db(path, "DROP TABLE stock; DROP TABLE base;")
    report = env.run(recipe)
    assert report.status == "partial"
    assert report.units_failed == 1 and "v" in report.failures[0], report.failures
    assert report.deleted == 2  # stock and base, which the source no longer has
    assert not any("not deleting" in w for w in report.warnings), report.warnings
    assert env.table("shop", "stock").deleted is True
    assert env.table("shop", "base").deleted is True
    view = env.table("shop", "v")  # the failed unit keeps its last good version
    assert view.deleted is False
    assert [c["name"] for c in view.doc["columns"]] == ["x"]

    # once the view is dropped in the source too, the next complete run removes it
    sqlite_db(path, "DROP VIEW v;")
    fixed = env.run(recipe)
    assert (fixed.status, fixed.deleted) == ("success", 1)
    assert env.table("shop", "v").deleted is True


def _curate(env: Env, table: str) -> None:
    """alice, a steward, documents a table: description, owner, tag, a column description."""
    env.catalog.upsert("user", {"name": "alice", "email": "alice@example.com"}, ADMIN)
    env.catalog.upsert("classification", {"name": "PII"}, ADMIN)
    env.catalog.upsert("tag", {"name": "email", "classification": "PII"}, ADMIN)
    current = env.catalog.get("table", Key(fqn=table))
    columns = [
        {**c, "description": "Where receipts go"} if c["name"] == "email" else c
        for c in current.doc["columns"]
    ]
    env.catalog.patch(
        "table",
        Key(fqn=table),
        {
            "description": "People who bought something.",
            "owners": [{"kind": "user", "fqn": "alice"}],
            "tags": ["PII.email"],
            "columns": columns,
        },
        ALICE,
        json_patch=False,
    )


def _assert_curated(doc: dict[str, Any]) -> None:
    assert doc["description"] == "People who bought something."
    assert doc["owners"] == [{"kind": "user", "fqn": "alice"}]
    assert doc["tags"] == ["PII.email"]
    email = next(c for c in doc["columns"] if c["name"] == "email")
    assert email["description"] == "Where receipts go"


def test_human_edits_win_over_later_ingestion(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    recipe = sqlite_recipe(path)
    assert env.run(recipe).status == "success"
    customers = table_fqn("shop", "customers")
    _curate(env, customers)

    # unchanged source: nothing to write, the person's edit stays
    assert env.run(recipe).updated == 0
    _assert_curated(env.table("shop", "customers").doc)

    # the source changes: a new column arrives, the person's values stay
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("ALTER TABLE customers ADD COLUMN phone TEXT")
        conn.commit()
    report = env.run(recipe)
    assert (report.status, report.updated) == ("success", 1)
    asset = env.table("shop", "customers")
    _assert_curated(asset.doc)
    assert [c["name"] for c in asset.doc["columns"]] == ["id", "email", "joined", "phone"]
    assert asset.updated_by == "ingestion:shop"


@pytest.mark.postgres
def test_human_edits_win_over_changed_source_comments(pg_source: PgSource, env: Env) -> None:
    with pg_source.connect() as conn:
        conn.execute(
            """
            CREATE SCHEMA crm;
            CREATE TABLE crm.customers (id int PRIMARY KEY, email text, city text);
            COMMENT ON TABLE crm.customers IS 'customer master';
            COMMENT ON COLUMN crm.customers.email IS 'login';
            COMMENT ON COLUMN crm.customers.city IS 'town';
            """
        )
        conn.execute(f'GRANT USAGE ON SCHEMA crm TO "{pg_source.role}"')
    recipe = pg_source.recipe("pg-crm")
    assert env.run(recipe).status == "success"
    customers = pg_source.table("crm", "customers")
    assert env.catalog.get("table", Key(fqn=customers)).doc["description"] == "customer master"
    _curate(env, customers)

    with pg_source.connect() as conn:
        conn.execute("COMMENT ON TABLE crm.customers IS 'customer master v2'")
        conn.execute("COMMENT ON COLUMN crm.customers.email IS 'login name'")
        conn.execute("COMMENT ON COLUMN crm.customers.city IS 'city of residence'")
        conn.execute("ALTER TABLE crm.customers ADD COLUMN phone text")
    report = env.run(recipe)
    assert (report.status, report.updated) == ("success", 1)
    doc = env.catalog.get("table", Key(fqn=customers)).doc
    _assert_curated(doc)  # the person's table and column descriptions beat the new comments
    city = next(c for c in doc["columns"] if c["name"] == "city")
    assert city["description"] == "city of residence"  # what no person touched follows source
    assert [c["name"] for c in doc["columns"]] == ["id", "email", "city", "phone"]


# -- Pipeline runs are observations ------------------------------------------------------------


def test_each_run_is_an_observation_on_the_pipeline_asset(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    recipe = sqlite_recipe(path)
    first = env.run(recipe)
    second = env.run(recipe)
    path.unlink()
    third = env.run(recipe)
    assert [r.status for r in (first, second, third)] == ["success", "success", "failed"]

    pipeline = env.pipeline("shop")
    assert pipeline.doc["recipe"]["source"]["type"] == "sqlite"
    runs = ObservationLog(env.catalog.store).read(pipeline.id, "pipeline_run")
    assert len(runs) == 3
    newest, middle, oldest = (r["value"] for r in runs)
    assert [r["actor"] for r in runs] == ["ingestion:shop"] * 3
    assert [v["status"] for v in (oldest, middle, newest)] == ["success", "success", "failed"]
    assert [v["run_id"] for v in (oldest, middle, newest)] == [
        first.run_id,
        second.run_id,
        third.run_id,
    ]
    assert oldest["created"] == 7 and oldest["units"] == 5 and oldest["units_skipped"] == 0
    assert middle["created"] == 0 and middle["units_skipped"] == 5
    assert newest["failures"] == third.failures and "does not exist" in newest["failures"][0]
    for v in (oldest, middle, newest):
        assert v["started"] <= v["ended"] and v["duration"] >= 0
    assert runs[0]["ts"] >= runs[1]["ts"] >= runs[2]["ts"]


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_reports_what_would_change_and_writes_nothing(env: Env) -> None:
    path = sqlite_db(env.tmp / "shop.sqlite", SHOP)
    recipe = sqlite_recipe(path)
    assert env.run(recipe).status == "success"
    sqlite_db(
        path,
        "DROP TABLE stock; CREATE TABLE returns (id INT); ALTER TABLE orders ADD COLUMN note TEXT;",
    )
    cursor = env.catalog.last_event()
    state = StateStore(env.catalog.store)
    runs_before = state.recent("shop")

    plan = env.run(recipe, dry_run=True)

    assert plan.dry_run is True
    assert plan.status == "success", plan.failures
    assert (plan.created, plan.updated, plan.deleted) == (1, 1, 0)
    assert plan.would_delete == [f"table {table_fqn('shop', 'stock')}"]
    assert env.catalog.last_event() == cursor
    assert state.recent("shop") == runs_before
    assert env.table("shop", "stock").deleted is False
    assert "note" not in [c["name"] for c in env.table("shop", "orders").doc["columns"]]
    assert len(ObservationLog(env.catalog.store).read(env.pipeline("shop").id)) == 1

    # the real run then does what the dry run said
    real = env.run(recipe)
    assert (real.created, real.updated, real.deleted) == (1, 1, 1)


def test_dry_run_of_a_new_source_larger_than_one_batch(env: Env) -> None:
    """On an empty catalog the tables of later batches need the service, database and schema
    that only the (rolled back) first batch would have created."""
    n = 25
    path = sqlite_db(env.tmp / "fresh.sqlite", many_tables(n))

    plan = env.run(sqlite_recipe(path, pipeline="fresh", batch_size=10), dry_run=True)

    assert plan.failures == []
    assert plan.status == "success"
    assert (plan.created, plan.units, plan.units_failed) == (n + 3, n + 1, 0)
    assert env.catalog.last_event() == 0
    assert env.live_tables() == []
    assert StateStore(env.catalog.store).recent("fresh") == []
