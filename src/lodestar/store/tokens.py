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


RevocationMark = tuple[int, int | None]

_MARK = sa.select(sa.func.count(tokens.c.revoked_at), sa.func.max(tokens.c.revoked_at))


def revocation_mark(conn: Connection) -> RevocationMark:
    """(revoked tokens, latest revocation time): a mark that changes whenever any token is
    revoked, by this process, another worker, another replica or the CLI. Revoking sets
    `revoked_at` once and tokens are never deleted, so any revocation changes the count (and
    the max covers a deletion)."""
    row = conn.execute(_MARK).one()
    return int(row[0]), None if row[1] is None else int(row[1])
