"""The scheduler's own table, `job_runs` (the run history of every job kind that does not keep
its own), and its queries."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import Doc, metadata

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("summary", Doc, nullable=True),
)
sa.Index("ix_job_runs_job", job_runs.c.kind, job_runs.c.name, job_runs.c.started_at)


def ping(conn: Connection) -> None:
    """Raise (a DBAPIError) when the connection's session has gone."""
    conn.execute(sa.text("SELECT 1"))


def try_session_lock(conn: Connection, key: int) -> bool:
    """Take a PostgreSQL session advisory lock if free: held until the session ends."""
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def advisory_key(text: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_job(conn: Connection, kind: str, name: str) -> None:
    """Hold back any other start of this job until this transaction ends. A SQLite write
    transaction already is alone (BEGIN IMMEDIATE); PostgreSQL's READ COMMITTED would let two
    starts both find no running run and both insert one."""
    if conn.dialect.name == "postgresql":
        key = advisory_key(f"lodestar-job:{kind}:{name}")
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def recent_runs(conn: Connection, kind: str, name: str, limit: int) -> list[dict[str, Any]]:
    q = (
        sa.select(*job_runs.c)
        .where(job_runs.c.kind == kind, job_runs.c.name == name)
        .order_by(job_runs.c.started_at.desc(), job_runs.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def insert_run(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(job_runs.insert(), row)


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    conn.execute(job_runs.update().where(job_runs.c.id == run_id).values(**values))


def beat(conn: Connection, run_ids: Sequence[str], now: int) -> None:
    conn.execute(
        job_runs.update()
        .where(job_runs.c.id.in_(list(run_ids)), job_runs.c.status == "running")
        .values(heartbeat_at=now)
    )
