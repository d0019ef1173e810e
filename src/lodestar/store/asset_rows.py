"""One asset row by (kind, FQN) or by id, for the API's lean read path (`api/fast_reads.py`).

`store.assets.get_by_fqn` builds and compiles a SQLAlchemy statement, opens a transaction and
decodes both JSON columns, which took over half the CPU of a GET (bench/read_latency_wrk.py
--py-spy). Here one plain SELECT of the columns a GET shows runs on a connection that this
reader keeps for the life of the process (taken from the engine's pool, so it has the engine's
set-up: WAL, busy timeout). It runs in autocommit mode, so the statement is its own snapshot;
SQLite and psycopg keep it prepared. The document comes back as JSON text and is decoded with
orjson, as the engine's own JSON deserializer does.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from lodestar.store import Store

_COLUMNS = "id, kind, fqn, version, {doc}, deleted, created_at, updated_at, updated_by"


class AssetRow(NamedTuple):
    id: str
    kind: str
    fqn: str
    version: int
    doc: dict[str, Any]
    deleted: bool
    created_at: int
    updated_at: int
    updated_by: str


class AssetRows(Protocol):
    def by_fqn(self, kind: str, fqn: str) -> AssetRow | None: ...

    def by_id(self, asset_id: str) -> AssetRow | None: ...

    def close(self) -> None: ...


def _row(r: Any) -> AssetRow:
    return AssetRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), bool(r[5]), r[6], r[7], r[8])


class _HeldConnection:
    """A DBAPI connection checked out of the engine's pool for good, used under a lock (the
    event loop is its only user in a server, but a test client may call from other threads)."""

    def __init__(self, engine: Engine, by_fqn: str, by_id: str) -> None:
        self.engine = engine
        self._by_fqn = by_fqn
        self._by_id = by_id
        self._lock = threading.Lock()
        self._proxy: Any = None
        self._conn: Any = None
        self._cursor: Any = None

    def _connect(self) -> Any:
        self._proxy = self.engine.raw_connection()
        self._conn = self._proxy.driver_connection
        self._setup(self._conn)
        self._cursor = self._conn.cursor()
        return self._cursor

    def _setup(self, conn: Any) -> None:
        """Backend-specific set-up of a freshly held connection."""

    def _fetch(self, sql: str, params: tuple[str, ...]) -> list[Any]:
        with self._lock:
            cursor = self._cursor or self._connect()
            try:
                cursor.execute(sql, params)
            except self._lost_errors():
                if not self._is_lost(self._conn):
                    raise
                # The database went away and came back (a restart, a failover): reconnect once.
                self._drop()
                cursor = self._connect()
                cursor.execute(sql, params)
            rows: list[Any] = cursor.fetchall()
            return rows

    def _lost_errors(self) -> tuple[type[BaseException], ...]:
        return ()

    def _is_lost(self, conn: Any) -> bool:
        return False

    def _drop(self) -> None:
        if self._proxy is not None:
            self._proxy.invalidate()
        self._proxy = self._conn = self._cursor = None

    def by_fqn(self, kind: str, fqn: str) -> AssetRow | None:
        rows = self._fetch(self._by_fqn, (kind, fqn))
        return _row(rows[0]) if rows else None

    def by_id(self, asset_id: str) -> AssetRow | None:
        rows = self._fetch(self._by_id, (asset_id,))
        return _row(rows[0]) if rows else None

    def close(self) -> None:
        with self._lock:
            self._drop()


class SQLiteRows(_HeldConnection):
    def __init__(self, engine: Engine) -> None:
        cols = _COLUMNS.format(doc="doc")
        super().__init__(
            engine,
            f"SELECT {cols} FROM assets WHERE kind = ? AND fqn = ?",
            f"SELECT {cols} FROM assets WHERE id = ?",
        )

    # fetchall() steps the statement to its end, so no read transaction stays open between
    # requests (an open one would stop checkpoints from recycling the WAL).


class PostgresRows(_HeldConnection):
    def __init__(self, engine: Engine) -> None:
        cols = _COLUMNS.format(doc="doc::text")
        super().__init__(
            engine,
            f"SELECT {cols} FROM assets WHERE kind = %s AND fqn = %s",
            f"SELECT {cols} FROM assets WHERE id = %s",
        )

    def _setup(self, conn: Any) -> None:
        conn.autocommit = True

    def _lost_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.OperationalError,)

    def _is_lost(self, conn: Any) -> bool:
        return bool(conn.closed or conn.broken)


def open_rows(store: Store) -> AssetRows | None:
    """A row reader for the store's database, or None where the lean path cannot hold a
    connection of its own (an in-memory SQLite database has exactly one, shared)."""
    engine = store.engine
    if isinstance(engine.pool, StaticPool):
        return None
    if engine.dialect.name == "sqlite":
        return SQLiteRows(engine)
    if engine.dialect.name == "postgresql":
        return PostgresRows(engine)
    return None
