"""Queries over API tokens (stored as SHA-256 hashes only)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import tokens


def insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(tokens.insert(), row)


def by_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(*tokens.c).where(tokens.c.token_hash == token_hash)).first()
    return dict(row._mapping) if row else None


def by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(*tokens.c).where(tokens.c.name == name)).first()
    return dict(row._mapping) if row else None


def all_tokens(conn: Connection) -> list[dict[str, Any]]:
    q = sa.select(*tokens.c).order_by(tokens.c.created_at)
    return [dict(r._mapping) for r in conn.execute(q)]


def revoke(conn: Connection, name: str, at: int) -> bool:
    res = conn.execute(
        tokens.update()
        .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return res.rowcount == 1


def active_admins(conn: Connection, now: int) -> int:
    q = (
        sa.select(sa.func.count())
        .select_from(tokens)
        .where(
            tokens.c.role == "admin",
            tokens.c.revoked_at.is_(None),
            sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
        )
    )
    return int(conn.execute(q).scalar_one())
