"""Engines for SQLite (WAL, busy timeout, immediate write locks) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from lodestar.store import stats

try:
    import fcntl
except ImportError:  # not on Windows: writers then wait in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class WriterQueue:
    """Queues SQLite writers of every process and thread on an OS file lock.

    A writer that finds the database locked is otherwise left to SQLite's busy handler, which
    sleeps 1, 2, 5, 10 ... 25, 50, 100 ms between tries: with two server workers writing bulk
    chunks of ~100 ms each, the waiting one woke up to 25 ms after the lock was free, every
    time. Here it polls a `flock` every 0.2-2 ms instead. Each turn opens the file anew (a
    lock belongs to an open file, so threads of one process exclude each other too). After
    `patience` seconds a writer goes ahead without its turn and meets SQLite's own lock and
    busy timeout, as do processes that do not queue: correctness never depends on the queue,
    and a writer can never wait on it forever."""

    def __init__(self, path: Path, patience: float = 30.0) -> None:
        self.path = path
        self.patience = patience

    @contextmanager
    def turn(self) -> Iterator[None]:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # e.g. a read-only directory: SQLite's own locking still applies
            yield
            return
        try:
            self._wait(fd)
            yield
        finally:
            os.close(fd)  # closing the file releases its lock

    def _wait(self, fd: int) -> None:
        if fcntl is None:
            return
        deadline = time.monotonic() + self.patience
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(pause)
                pause = min(pause * 2, 0.002)


class Store:
    """The database: `read()` and `write()` hand out connections inside a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        db = engine.url.database or ""
        self._queue = (
            WriterQueue(Path(db + ".writers"))
            if self.is_sqlite and db not in ("", ":memory:")
            else None
        )
        self.statistics = stats.Statistics(engine) if engine.dialect.name == "postgresql" else None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE),
        so read-then-write sequences never fail half-way on a lock upgrade. SQLite writers
        queue on a file lock first (see WriterQueue)."""
        with self._queued(), self.engine.connect() as conn:
            conn = conn.execution_options(lodestar_write=True)
            stats.take_inserts(conn)  # a rolled-back write's
            with conn.begin():
                yield conn
            inserted = stats.take_inserts(conn)
        if inserted and self.statistics is not None:
            self.statistics.note(inserted)

    def maintenance_warnings(self) -> list[str]:
        """What the operator should know about the database's upkeep, for the start-up log."""
        if self.statistics is None:
            return []
        with self.engine.connect() as conn:
            if stats.autovacuum_off(conn):
                return [
                    "PostgreSQL has autovacuum off: lodestar refreshes the statistics of the "
                    "tables it writes after large writes, but dead rows are not reclaimed; "
                    "turn autovacuum on or run VACUUM ANALYZE regularly"
                ]
        return []

    def catch_up_statistics(self) -> threading.Thread | None:
        """Analyze, in a background thread, the tables PostgreSQL never analyzed although
        they hold data (see `stats`)."""
        if self.statistics is None:
            return None
        thread = threading.Thread(
            target=self.statistics.catch_up, name="lodestar-analyze", daemon=True
        )
        thread.start()
        return thread

    def _queued(self) -> AbstractContextManager[None]:
        return self._queue.turn() if self._queue is not None else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: sa.URL, pool_size: int) -> Engine:
    db = url.database or ""
    memory = db in ("", ":memory:")
    if not memory:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
    engine = sa.create_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False, "timeout": 30},
        **kwargs,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred only).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the WAL every ~40 MB instead of every 4 MB: a bulk write of 500 tables
        # fills 4 MB, and each checkpoint's fsync cost more than the writes themselves.
        cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("lodestar_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def make_engine(url: str, pool_size: int = 8) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            parsed,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
        )
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def redacted(url: str) -> str:
    """A database URL fit to print: the password hidden (an unparsable URL as it is)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def database_failure(e: BaseException) -> str | None:
    """One line for a user when the database or its URL failed; None for any other error."""
    if not isinstance(e, sa.exc.DBAPIError | sa.exc.ArgumentError):
        return None
    cause = getattr(e, "orig", None) or e
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(e).__name__
    return f"the database failed: {first}"


def open_store(url: str, pool_size: int = 8, migrate: bool = True) -> Store:
    """Open the database and bring its schema up to date."""
    store = Store(make_engine(url, pool_size))
    if migrate:
        from lodestar.store.migrate import upgrade

        upgrade(store.engine)
    return store
