"""Parsed queries from query logs, one row per query shape: the base of usage statistics.

A query's shape is its fingerprint (literals normalised, so `WHERE id = 1` and `WHERE id = 2`
are one query) in one dialect. Each row accumulates how often the shape ran, by whom (a bounded
set of user names), for how long in total, and between which times; the tables it read and
wrote; and its text only when the recipe that read the log allows keeping it (`keep_sql`).
Deliveries are counted once: a query-log unit is committed with the run state that says how
far the log was read, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.model.records import now_us
from lodestar.store.tables import Doc, metadata

MAX_USERS = 100
MAX_TABLES = 200
MAX_SQL = 65_536

queries = sa.Table(
    "queries",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("dialect", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # read | write
    sa.Column("first_seen", sa.BigInteger, nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("total_duration_ms", sa.Float, nullable=False),
    sa.Column("users", Doc, nullable=False),
    sa.Column("sources", Doc, nullable=False),
    sa.Column("targets", Doc, nullable=False),
    sa.Column("sql", sa.Text, nullable=True),
    sa.Column("origin", sa.String(300), nullable=False),
    sa.Column("recorded_ts", sa.BigInteger, nullable=False),
)
sa.Index("ix_queries_last_seen", queries.c.last_seen)


@dataclass(slots=True)
class QueryFact:
    """What one delivery says about one query shape: runs since the last delivery."""

    fingerprint: str
    dialect: str
    kind: str  # read | write
    first_seen: int  # epoch µs
    last_seen: int
    count: int
    total_duration_ms: float
    users: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # table FQNs read
    targets: list[str] = field(default_factory=list)  # table FQNs written
    sql: str | None = None


def _merge(a: Sequence[str], b: Sequence[str], limit: int) -> list[str]:
    return sorted(set(a) | set(b))[:limit]


def record(conn: Connection, facts: Sequence[QueryFact], origin: str) -> int:
    """Add the facts to their query rows (created on first sight); returns rows touched."""
    merged: dict[tuple[str, str], QueryFact] = {}
    for f in facts:  # one delivery may carry a shape more than once
        key = (f.fingerprint, f.dialect)
        m = merged.get(key)
        if m is None:
            merged[key] = QueryFact(**{k: getattr(f, k) for k in QueryFact.__slots__})
            continue
        m.first_seen, m.last_seen = min(m.first_seen, f.first_seen), max(m.last_seen, f.last_seen)
        m.count += f.count
        m.total_duration_ms += f.total_duration_ms
        m.users = _merge(m.users, f.users, MAX_USERS)
        m.sources = _merge(m.sources, f.sources, MAX_TABLES)
        m.targets = _merge(m.targets, f.targets, MAX_TABLES)
        m.sql = m.sql or f.sql
    now = now_us()
    keys = list(merged)
    stored: dict[tuple[str, str], Any] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        q = sa.select(*queries.c).where(
            sa.tuple_(queries.c.fingerprint, queries.c.dialect).in_(chunk)
        )
        stored.update({(r.fingerprint, r.dialect): r for r in conn.execute(q)})
    inserts: list[dict[str, Any]] = []
    for key, f in merged.items():
        old = stored.get(key)
        if old is None:
            inserts.append(
                {
                    "fingerprint": f.fingerprint,
                    "dialect": f.dialect,
                    "kind": f.kind,
                    "first_seen": f.first_seen,
                    "last_seen": f.last_seen,
                    "count": f.count,
                    "total_duration_ms": f.total_duration_ms,
                    "users": sorted(set(f.users))[:MAX_USERS],
                    "sources": sorted(set(f.sources))[:MAX_TABLES],
                    "targets": sorted(set(f.targets))[:MAX_TABLES],
                    "sql": f.sql[:MAX_SQL] if f.sql else None,
                    "origin": origin,
                    "recorded_ts": now,
                }
            )
            continue
        conn.execute(
            queries.update()
            .where(queries.c.fingerprint == f.fingerprint, queries.c.dialect == f.dialect)
            .values(
                kind="write" if "write" in (old.kind, f.kind) else "read",
                first_seen=min(old.first_seen, f.first_seen),
                last_seen=max(old.last_seen, f.last_seen),
                count=old.count + f.count,
                total_duration_ms=old.total_duration_ms + f.total_duration_ms,
                users=_merge(old.users, f.users, MAX_USERS),
                sources=_merge(old.sources, f.sources, MAX_TABLES),
                targets=_merge(old.targets, f.targets, MAX_TABLES),
                sql=old.sql or (f.sql[:MAX_SQL] if f.sql else None),
                recorded_ts=now,
            )
        )
    if inserts:
        conn.execute(queries.insert(), inserts)
    return len(merged)


def read(conn: Connection, *, dialect: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Query rows, the most run first."""
    q = sa.select(*queries.c).order_by(queries.c.count.desc(), queries.c.fingerprint).limit(limit)
    if dialect is not None:
        q = q.where(queries.c.dialect == dialect)
    return [dict(r._mapping) for r in conn.execute(q)]
