"""Facts about assets over time that no capability keeps a typed table for: pipeline runs,
row counts, ... Appended idempotently (see `store/series.py`), read newest first by cursor."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store import series
from lodestar.store.tables import observations


def append(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Store the rows whose key is not stored yet; returns how many were new."""
    return series.append(conn, observations, rows)


def key_of(row: dict[str, Any]) -> str:
    """The row's idempotency key: its own, else a digest of asset, kind, ts and value."""
    return series.key_of(observations, row)


def read(
    conn: Connection,
    asset_id: str,
    kind: str | None,
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    newest_first: bool = True,
    after: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Observations of one asset ordered by (ts, id); `after` is the (ts, id) of the last row
    of the previous page."""
    o = observations
    q = sa.select(
        o.c.id, o.c.kind, o.c.ts, o.c.value, o.c.actor, o.c.recorded_ts, o.c.origin, o.c.run_id
    ).where(o.c.asset_id == asset_id)
    if kind:
        q = q.where(o.c.kind == kind)
    if since is not None:
        q = q.where(o.c.ts >= since)
    if until is not None:
        q = q.where(o.c.ts < until)
    if after is not None:
        here, mark = sa.tuple_(o.c.ts, o.c.id), sa.tuple_(*after)
        q = q.where(here < mark if newest_first else here > mark)
    order = (o.c.ts.desc(), o.c.id.desc()) if newest_first else (o.c.ts.asc(), o.c.id.asc())
    return [dict(r._mapping) for r in conn.execute(q.order_by(*order).limit(limit))]
