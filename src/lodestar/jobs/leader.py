"""Which scheduler leads: one per database, so each due job is started by one process.

One seam, two sides. PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a
connection of its own, held for as long as the process leads; the server releases it when that
connection ends, so a leader that stops or dies hands over at the next tick of another process.
A session lock rather than a per-tick transaction lock: the leader stays the same between ticks
(no two processes both start the jobs of consecutive ticks), and leading needs no transaction
open while jobs run. SQLite is one machine: an OS file lock beside the database file, held the
same way and released by the OS when the process ends.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from lodestar.jobs import store as q
from lodestar.jobs.store import advisory_key
from lodestar.store.engine import Store

try:
    import fcntl
except ImportError:  # not on Windows: every scheduler leads; the per-job locks still hold
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("lodestar.scheduler")

LEADER_KEY = advisory_key("lodestar-scheduler-leader")


class Leadership(Protocol):
    def hold(self) -> bool:
        """Lead if no other process does; True while this one leads. Called every tick."""
        ...

    def release(self) -> None: ...


class PgLeadership:
    def __init__(self, url: sa.URL) -> None:
        # Its own connection outside the pool: a pooled one would go back to the pool still
        # holding the lock, and closing this one must end the session.
        self._engine = sa.create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 10},
        )
        self._conn: Connection | None = None

    def hold(self) -> bool:
        if self._conn is not None:
            try:
                q.ping(self._conn)
                return True  # the session lives, so it still holds the lock
            except sa.exc.DBAPIError:
                log.warning("scheduler: lost the database connection that made it the leader")
                self._close()
        try:
            conn = self._engine.connect()
        except sa.exc.DBAPIError:
            return False
        try:
            got = q.try_session_lock(conn, LEADER_KEY)
        except sa.exc.DBAPIError:
            got = False
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sa.exc.DBAPIError:
                conn.invalidate()

    def release(self) -> None:
        self._close()
        self._engine.dispose()


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def hold(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only directory: lead; the per-job locks still hold
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the file releases its lock


class SoleLeadership:
    """An in-memory database, or no file locks: this process is the only one that can lead."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(store: Store) -> Leadership:
    engine = store.engine
    if engine.dialect.name == "postgresql":
        return PgLeadership(engine.url)
    db = engine.url.database or ""
    if db in ("", ":memory:") or fcntl is None:
        return SoleLeadership()
    return FileLeadership(Path(db + ".scheduler"))
