"""Append-only time series about assets: pipeline runs, row counts, test results, ..."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import observations


def append(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(observations.insert(), rows)


def read(
    conn: Connection,
    asset_id: str,
    kind: str | None,
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    newest_first: bool = True,
) -> list[dict[str, Any]]:
    q = sa.select(
        observations.c.id,
        observations.c.kind,
        observations.c.ts,
        observations.c.value,
        observations.c.actor,
    ).where(observations.c.asset_id == asset_id)
    if kind:
        q = q.where(observations.c.kind == kind)
    if since is not None:
        q = q.where(observations.c.ts >= since)
    if until is not None:
        q = q.where(observations.c.ts < until)
    order = (observations.c.ts.desc(), observations.c.id.desc())
    if not newest_first:
        order = (observations.c.ts.asc(), observations.c.id.asc())
    return [dict(r._mapping) for r in conn.execute(q.order_by(*order).limit(limit))]
