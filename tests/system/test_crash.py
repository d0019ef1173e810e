"""A server killed with SIGKILL in the middle of a bulk ingest leaves a consistent catalog.

The bulk is streamed in several NDJSON requests from a background thread; once the first tables
are in the event feed, the test waits until the server holds a write transaction open (it sees
the write lock from outside: SQLite's, or PostgreSQL's row-exclusive lock on `assets`) and kills
the process there (no shutdown, no rollback). Then, with no server running, the database is
checked by SQL: every asset has its versions 1..version, every version exactly one event, event
numbers are dense and match the clock, every parent exists and contains its children, no edge
dangles, and each bulk transaction is all there or not at all. Finally a new server on the same
database serves what was stored, and re-sending the whole bulk converges.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from harness import Backend, Server

from lodestar.api.routers import bulk as bulk_router
from lodestar.catalog import service
from lodestar.store.tables import assets, edges, event_clock, events, versions

pytestmark = pytest.mark.slow

REQUESTS = 4
PER_REQUEST = 150  # one transaction per request: at most one bulk chunk
COLUMNS = 30
NDJSON = {"Content-Type": "application/x-ndjson"}


def _table(schema: str, r: int, i: int) -> dict[str, Any]:
    return {
        "kind": "table",
        "name": f"t_{r}_{i:04d}",
        "schema": schema,
        "description": f"table {i} of request {r}",
        "columns": [
            {"name": f"col_{j:02d}", "data_type": "varchar(64)", "description": f"column {j}"}
            for j in range(COLUMNS)
        ],
    }


def _stream(lines: list[dict[str, Any]]) -> Iterator[bytes]:
    """The request body in pieces, so the server reads it as it arrives."""
    for start in range(0, len(lines), 25):
        yield b"".join(orjson.dumps(line) + b"\n" for line in lines[start : start + 25])


@dataclass
class Sender:
    """Sends the bulk requests one after another, recording what the server acknowledged."""

    server: Server
    bulk: list[list[dict[str, Any]]]
    acknowledged: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.client() as c:
                for r, lines in enumerate(self.bulk):
                    resp = c.post("/api/v1/bulk", content=_stream(lines), headers=NDJSON)
                    assert resp.status_code == 200, resp.text
                    answers = [orjson.loads(x) for x in resp.content.splitlines()]
                    assert [a["result"] for a in answers] == ["created"] * len(lines), answers[:3]
                    self.acknowledged.append(r)
        except BaseException as e:  # the kill lands here as a transport error
            self.error = e


def _check_database(backend: Backend) -> dict[str, dict[str, Any]]:
    """Check the stored catalog by SQL; returns the tables' docs by name."""
    engine = sa.create_engine(backend.database_url)
    try:
        with engine.connect() as conn:
            if backend.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            return _check_invariants(conn)
    finally:
        engine.dispose()


def _check_invariants(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    # Every asset has exactly the version rows 1..version, and no version row lacks its asset.
    per_asset = (
        sa.select(
            versions.c.asset_id,
            sa.func.count().label("n"),
            sa.func.min(versions.c.version).label("lo"),
            sa.func.max(versions.c.version).label("hi"),
        )
        .group_by(versions.c.asset_id)
        .subquery()
    )
    gaps = conn.execute(
        sa.select(assets.c.fqn, assets.c.version, per_asset.c.n, per_asset.c.lo, per_asset.c.hi)
        .select_from(assets.outerjoin(per_asset, per_asset.c.asset_id == assets.c.id))
        .where(
            sa.or_(
                per_asset.c.n.is_(None),
                per_asset.c.n != assets.c.version,
                per_asset.c.lo != 1,
                per_asset.c.hi != assets.c.version,
            )
        )
    ).all()
    assert gaps == [], f"assets whose version rows are not 1..version: {gaps[:5]}"
    orphans = conn.execute(
        sa.select(versions.c.asset_id, versions.c.version).where(
            ~sa.exists().where(assets.c.id == versions.c.asset_id)
        )
    ).all()
    assert orphans == [], f"version rows without their asset: {orphans[:5]}"

    # Each version has exactly one event, and each event is a stored version.
    per_version = (
        sa.select(events.c.asset_id, events.c.version, sa.func.count().label("n"))
        .group_by(events.c.asset_id, events.c.version)
        .subquery()
    )
    unmatched = conn.execute(
        sa.select(versions.c.asset_id, versions.c.version, per_version.c.n)
        .select_from(
            versions.outerjoin(
                per_version,
                sa.and_(
                    per_version.c.asset_id == versions.c.asset_id,
                    per_version.c.version == versions.c.version,
                ),
            )
        )
        .where(sa.or_(per_version.c.n.is_(None), per_version.c.n != 1))
    ).all()
    assert unmatched == [], f"versions without exactly one event: {unmatched[:5]}"
    stray = conn.execute(
        sa.select(events.c.seq, events.c.asset_id, events.c.version).where(
            ~sa.exists().where(
                versions.c.asset_id == events.c.asset_id, versions.c.version == events.c.version
            )
        )
    ).all()
    assert stray == [], f"events of versions that were never stored: {stray[:5]}"

    # Event numbers are dense, 1..max, and the clock stands at the last one.
    n, lo, hi = conn.execute(
        sa.select(sa.func.count(), sa.func.min(events.c.seq), sa.func.max(events.c.seq))
    ).one()
    clock = conn.execute(sa.select(event_clock.c.seq)).scalar_one()
    assert n > 0
    assert (lo, hi, clock) == (1, n, n), f"{n} events numbered {lo}..{hi}, clock at {clock}"

    # Every parent exists, is of a kind that can contain the child, and contains it.
    parent = assets.alias("parent")
    orphaned = conn.execute(
        sa.select(assets.c.kind, assets.c.fqn, parent.c.kind, parent.c.fqn)
        .select_from(assets.outerjoin(parent, parent.c.id == assets.c.parent_id))
        .where(assets.c.parent_id.is_not(None))
        .where(
            sa.or_(
                parent.c.id.is_(None),
                sa.and_(assets.c.kind == "table", parent.c.kind != "schema"),
                ~sa.exists().where(
                    edges.c.from_id == assets.c.parent_id,
                    edges.c.relation == "contains",
                    edges.c.to_id == assets.c.id,
                ),
            )
        )
    ).all()
    assert orphaned == [], (
        f"assets whose parent is missing or does not contain them: {orphaned[:5]}"
    )
    tables_without_parent = conn.execute(
        sa.select(assets.c.fqn).where(assets.c.kind == "table", assets.c.parent_id.is_(None))
    ).all()
    assert tables_without_parent == []

    # No edge points from or to an asset that is not there.
    dangling = conn.execute(
        sa.select(edges.c.from_id, edges.c.relation, edges.c.to_id).where(
            sa.or_(
                ~sa.exists().where(assets.c.id == edges.c.from_id),
                ~sa.exists().where(assets.c.id == edges.c.to_id),
            )
        )
    ).all()
    assert dangling == [], f"edges to missing assets: {dangling[:5]}"

    # Each asset's document is its last version's, and no table is half written.
    rows = conn.execute(
        sa.select(assets.c.kind, assets.c.name, assets.c.doc, versions.c.doc).select_from(
            assets.join(
                versions,
                sa.and_(versions.c.asset_id == assets.c.id, versions.c.version == assets.c.version),
            )
        )
    ).all()
    tables: dict[str, dict[str, Any]] = {}
    for kind, name, doc, version_doc in rows:
        assert doc == version_doc, name
        if kind == "table":
            assert len(doc["columns"]) == COLUMNS, (name, len(doc["columns"]))
            tables[name] = doc
    return tables


def _wait_for_tables(server: Server, after: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with server.client(timeout=5) as c:
        while time.monotonic() < deadline:
            r = c.get("/api/v1/events", params={"after": after, "kind": "table", "limit": 1})
            assert r.status_code == 200, r.text
            if r.json()["data"]:
                return
            time.sleep(0.02)
    raise AssertionError(f"no table was stored in {timeout}s:\n{server.log_tail()}")


@contextmanager
def _write_in_flight(backend: Backend) -> Iterator[Callable[[], bool]]:
    """A probe telling whether another connection holds a write transaction open right now."""
    if backend.name == "sqlite":
        path = sa.make_url(backend.database_url).database or ""
        lite = sqlite3.connect(path, timeout=0, isolation_level=None)

        def sqlite_busy() -> bool:
            try:
                lite.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                assert "locked" in str(e), e
                return True
            lite.execute("ROLLBACK")
            return False

        try:
            yield sqlite_busy
        finally:
            lite.close()
        return
    engine = sa.create_engine(backend.database_url, poolclass=sa.pool.NullPool)
    held = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND c.relname = 'assets' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
    )
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield lambda: bool(conn.execute(held).scalar_one())
    finally:
        engine.dispose()


def _kill_mid_write(server: Server, backend: Backend, timeout: float = 60.0) -> None:
    """SIGKILL the server while it is inside a write transaction."""
    with _write_in_flight(backend) as busy:
        deadline = time.monotonic() + timeout
        while not busy():
            if time.monotonic() > deadline:
                raise AssertionError(f"no write transaction seen in {timeout}s")
            time.sleep(0.002)
        server.kill()


def test_sigkill_during_bulk_ingest_leaves_a_consistent_catalog(
    backend: Backend, start_server: Callable[[], Server]
) -> None:
    assert min(service.BULK_CHUNK, bulk_router.CHUNK) >= PER_REQUEST
    server = start_server()
    with server.client() as c:
        schema = server.seed_schema(c)
        cursor = server.last_event(c)
    bulk = [[_table(schema, r, i) for i in range(PER_REQUEST)] for r in range(REQUESTS)]
    total = REQUESTS * PER_REQUEST

    sender = Sender(server, bulk)
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    _wait_for_tables(server, cursor)
    _kill_mid_write(server, backend)
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(sender.error, httpx.TransportError), (
        f"the bulk should have been cut off by the kill, got {sender.error!r}"
    )

    # With no server running: the database is whole.
    stored = _check_database(backend)
    assert 0 < len(stored) < total, f"{len(stored)} of {total} tables: not killed mid-way"
    for r, lines in enumerate(bulk):
        names = {line["name"] for line in lines}
        present = names & stored.keys()
        # One request is one transaction: all of it or none of it.
        assert present in (set(), names), f"request {r}: {len(present)} of {len(names)} tables"
        if r in sender.acknowledged:
            assert present == names, f"request {r} was acknowledged but is not all stored"
        for name in present:
            want = next(line for line in lines if line["name"] == name)
            assert stored[name]["description"] == want["description"]
            assert [(col["name"], col["description"]) for col in stored[name]["columns"]] == [
                (col["name"], col["description"]) for col in want["columns"]
            ]

    # A new server on the same database serves what was stored ...
    server = start_server()
    with server.client() as c:
        listed = c.get("/api/v1/tables", params={"parent": schema, "limit": 1}).json()
        assert listed["paging"]["total"] == len(stored)
        some = sorted(stored)[0]
        got = c.get(f"/api/v1/tables/name/{schema}.{some}")
        assert got.status_code == 200, got.text
        assert len(got.json()["columns"]) == COLUMNS
        assert got.json()["version"] == 1

        # ... and re-sending the whole bulk converges: what is there is unchanged, the rest new.
        for lines in bulk:
            resp = c.post("/api/v1/bulk", content=_stream(lines), headers=NDJSON)
            assert resp.status_code == 200, resp.text
            for line, answer in zip(lines, resp.content.splitlines(), strict=True):
                a = orjson.loads(answer)
                expected = "unchanged" if line["name"] in stored else "created"
                assert (a["result"], a["version"]) == (expected, 1), a
        listed = c.get("/api/v1/tables", params={"parent": schema, "limit": 1}).json()
        assert listed["paging"]["total"] == total
        events_now = server.last_event(c)
    server.stop()
    final = _check_database(backend)
    assert len(final) == total
    assert events_now == cursor + total
