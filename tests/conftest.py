"""Fixtures: every store test runs on SQLite and on PostgreSQL.

`db_url` gives a fresh database per test: a file in `tmp_path` for SQLite, and for PostgreSQL a
database created on the server named by LODESTAR_TEST_PG (and dropped afterwards). To keep the
suite fast, both are copies of a database migrated once per session (`open_store` finds them at
head); `empty_db_url` gives databases with no tables at all, for the migration tests.

When the PostgreSQL server cannot be reached its tests are skipped, except under CI (env CI
set), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Outcome, WriteContext
from lodestar.store import Store, open_store

PG_SERVER = os.environ.get(
    "LODESTAR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class PgServer:
    """The PostgreSQL server the tests create their databases on.

    Creating and dropping a database each take a noticeable fraction of a second, so `fresh()`
    has the next database of the same template created in the background while a test runs,
    and `drop_later()` drops in the background; `drain()` waits for both.
    """

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pg-admin")
        self._spares: dict[str | None, Future[str]] = {}
        self._drops: list[Future[None]] = []

    @property
    def where(self) -> str:
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}"

    def _libpq(self) -> str:
        # psycopg takes a libpq URL: the same URL without SQLAlchemy's `+psycopg`.
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._libpq(), autocommit=True, connect_timeout=5)

    def create_database(self, template: str | None = None) -> str:
        name = f"lodestar_test_{uuid.uuid4().hex}"
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            sql += f' TEMPLATE "{template}"'
        with self.admin() as conn:
            conn.execute(sql)
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def fresh(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, else empty) that no test has used."""
        spare = self._spares.pop(template, None)
        name = spare.result() if spare else self.create_database(template)
        self._spares[template] = self._pool.submit(self.create_database, template)
        return name

    def drop_later(self, name: str) -> None:
        self._drops.append(self._pool.submit(self.drop_database, name))

    def drain(self) -> None:
        """Drop the spare databases and wait for every drop."""
        for spare in self._spares.values():
            self.drop_later(spare.result())
        self._spares.clear()
        drops, self._drops = self._drops, []
        for done in drops:
            done.result()

    def close(self) -> None:
        self.drain()
        self._pool.shutdown()

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(PG_SERVER)
    try:
        with server.admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as e:
        hint = (
            f"PostgreSQL not reachable on {server.where}: start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "(or point LODESTAR_TEST_PG at a server)"
        )
        server.close()
        if os.environ.get("CI"):
            pytest.fail(f"{hint}; CI must run the PostgreSQL tests ({e})")
        pytest.skip(hint)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> Iterator[str]:
    """A database migrated to head once per session, copied for each test."""
    name = pg_server.create_database()
    try:
        open_store(pg_server.url_of(name)).dispose()  # no connection may stay: it is a template
        yield name
    finally:
        pg_server.drain()  # the spare copies first: a template cannot be dropped while copied
        pg_server.drop_database(name)


def _fresh_pg(pg_server: PgServer, template: str | None) -> Iterator[str]:
    name = pg_server.fresh(template)
    try:
        yield pg_server.url_of(name)
    finally:
        pg_server.drop_later(name)


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (no tables); yields its SQLAlchemy URL."""
    yield from _fresh_pg(pg_server, None)


@pytest.fixture
def pg_migrated_database(pg_server: PgServer, pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the schema at head and no data."""
    yield from _fresh_pg(pg_server, pg_template)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Under CI a test marked `postgres` never skips, whichever fixture asked it to: a skip
    there would pass CI without the PostgreSQL run it must make."""
    report = yield
    if (
        isinstance(report, pytest.TestReport)
        and report.skipped
        and not hasattr(report, "wasxfail")
        and os.environ.get("CI")
        and item.get_closest_marker("postgres")
    ):
        why = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run the PostgreSQL tests: {why}"
    return report


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "lodestar.db"
    open_store(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file, so one file is all of it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend, with the schema at head and no data."""
    if request.param == "sqlite":
        path = tmp_path / "lodestar.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated_database")
    return url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend with no tables at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def catalog(store: Store) -> Catalog:
    return Catalog(store)


@pytest.fixture
def admin_ctx() -> WriteContext:
    return WriteContext.for_principal(Principal("alice", "admin"))


@dataclass
class Seed:
    """A small catalog to write tables into: service `wh`, database `wh.db`, schema `wh.db.raw`,
    users `alice` and `bob`, classification `PII` with tag `PII.email`."""

    catalog: Catalog
    ctx: WriteContext
    service: str = "wh"
    database: str = "wh.db"
    schema: str = "wh.db.raw"
    user: str = "alice"
    other_user: str = "bob"
    tag: str = "PII.email"
    versions: int = 0  # versions (and so events) the seed wrote

    def build(self) -> Seed:
        lines = [
            BulkLine(kind, body)
            for kind, body in (
                ("service", {"name": "wh", "category": "database", "service_type": "postgres"}),
                ("database", {"name": "db", "service": "wh"}),
                ("schema", {"name": "raw", "database": "wh.db"}),
                ("user", {"name": "alice", "email": "alice@example.com"}),
                ("user", {"name": "bob", "email": "bob@example.com"}),
                ("classification", {"name": "PII"}),
                ("tag", {"name": "email", "classification": "PII"}),
            )
        ]
        outcomes = self.catalog.bulk_upsert(lines, self.ctx)  # one transaction: quick
        assert [(o.status, o.error) for o in outcomes] == [("created", None)] * len(lines)
        self.versions += len(lines)
        return self

    def table(
        self,
        name: str,
        *,
        ctx: WriteContext | None = None,
        schema: str | None = None,
        **fields: Any,
    ) -> Outcome:
        """Upsert a table in the seed schema; columns default to one `id int` column."""
        body = {"name": name, "schema": schema or self.schema, **fields}
        body.setdefault("columns", [{"name": "id", "data_type": "int"}])
        return self.catalog.upsert("table", body, ctx or self.ctx)


@pytest.fixture
def seed(catalog: Catalog, admin_ctx: WriteContext) -> Seed:
    return Seed(catalog, admin_ctx).build()
