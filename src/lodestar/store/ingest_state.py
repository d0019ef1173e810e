"""Queries over ingestion run state."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import ingest_runs, ingest_units


def lock_pipeline(conn: Connection, pipeline: str) -> None:
    """Hold back any other start of this pipeline until this transaction ends. A SQLite write
    transaction already is alone (BEGIN IMMEDIATE); PostgreSQL's READ COMMITTED would let two
    starts both find no running run and both insert one, so it takes an advisory lock."""
    if conn.dialect.name == "postgresql":
        digest = hashlib.blake2b(f"lodestar-ingest:{pipeline}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def last_run(conn: Connection, pipeline: str) -> dict[str, Any] | None:
    q = (
        sa.select(*ingest_runs.c)
        .where(ingest_runs.c.pipeline == pipeline)
        .order_by(ingest_runs.c.started_at.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def recent_runs(conn: Connection, pipeline: str, limit: int) -> list[dict[str, Any]]:
    q = (
        sa.select(*ingest_runs.c)
        .where(ingest_runs.c.pipeline == pipeline)
        .order_by(ingest_runs.c.started_at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def insert_run(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(ingest_runs.insert(), row)


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    conn.execute(ingest_runs.update().where(ingest_runs.c.id == run_id).values(**values))


def claim_run(conn: Connection, run_id: str, expected_heartbeat: int, now: int) -> bool:
    """Take over a run whose heartbeat is unchanged since we read it (compare-and-set)."""
    res = conn.execute(
        ingest_runs.update()
        .where(ingest_runs.c.id == run_id, ingest_runs.c.heartbeat_at == expected_heartbeat)
        .values(heartbeat_at=now)
    )
    return res.rowcount == 1


def units(
    conn: Connection, pipeline: str
) -> dict[str, tuple[str, str | None, list[Any], list[Any] | None]]:
    """unit_key -> (run_id, fingerprint, assets, lineage or None when not tracked)."""
    q = sa.select(
        ingest_units.c.unit_key,
        ingest_units.c.run_id,
        ingest_units.c.fingerprint,
        ingest_units.c.assets,
        ingest_units.c.lineage,
    ).where(ingest_units.c.pipeline == pipeline)
    return {
        str(r[0]): (str(r[1]), r[2], list(r[3]), None if r[4] is None else list(r[4]))
        for r in conn.execute(q)
    }


def upsert_units(conn: Connection, pipeline: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    keys = [r["unit_key"] for r in rows]
    for i in range(0, len(keys), 500):
        conn.execute(
            ingest_units.delete().where(
                ingest_units.c.pipeline == pipeline, ingest_units.c.unit_key.in_(keys[i : i + 500])
            )
        )
    conn.execute(ingest_units.insert(), [{"pipeline": pipeline, **r} for r in rows])


def delete_units(conn: Connection, pipeline: str, keys: Sequence[str]) -> None:
    for i in range(0, len(keys), 500):
        conn.execute(
            ingest_units.delete().where(
                ingest_units.c.pipeline == pipeline, ingest_units.c.unit_key.in_(keys[i : i + 500])
            )
        )
