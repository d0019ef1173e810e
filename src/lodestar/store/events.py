"""The change feed: events numbered in commit order.

A plain sequence or autoincrement numbers rows when they are inserted, not when they commit, so
a reader following `seq > cursor` on PostgreSQL can pass over a row whose transaction commits
late. Here the number comes from one counter row updated as the last statement of each write
transaction: its row lock is held until commit, so a later number is only handed out once every
earlier one is committed and visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.model.records import Event
from lodestar.store.rows import Values, insert_rows, json_text
from lodestar.store.tables import event_clock, events

# An event row without its sequence number, which `append_rows` assigns.
EVENT_COLUMNS = (
    "ts",
    "event_type",
    "asset_kind",
    "asset_id",
    "fqn",
    "version",
    "actor",
    "origin",
    "change",
)


def append(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Number and insert events (dicts keyed by EVENT_COLUMNS); call last in the write
    transaction."""
    return append_rows(
        conn,
        [
            (
                r["ts"],
                r["event_type"],
                r["asset_kind"],
                r["asset_id"],
                r["fqn"],
                r["version"],
                r["actor"],
                r["origin"],
                json_text(r["change"]),
            )
            for r in rows
        ],
    )


def append_rows(conn: Connection, rows: Sequence[Values]) -> list[int]:
    """Number and insert events given as tuples in EVENT_COLUMNS order (change as
    `json_text`); call last in the write transaction."""
    if not rows:
        return []
    n = len(rows)
    top: int = conn.execute(
        event_clock.update()
        .where(event_clock.c.id == 1)
        .values(seq=event_clock.c.seq + n)
        .returning(event_clock.c.seq)
    ).scalar_one()
    first = int(top) - n + 1
    insert_rows(
        conn, "events", ("seq", *EVENT_COLUMNS), [(first + i, *r) for i, r in enumerate(rows)]
    )
    return [first + i for i in range(n)]


def read(
    conn: Connection, *, after: int, limit: int, kinds: list[str] | None = None
) -> list[Event]:
    q = sa.select(*events.c).where(events.c.seq > after)
    if kinds:
        q = q.where(events.c.asset_kind.in_(kinds))
    rows = conn.execute(q.order_by(events.c.seq).limit(limit)).all()
    return [Event(**r._mapping) for r in rows]


def last_seq(conn: Connection) -> int:
    return int(conn.execute(sa.select(event_clock.c.seq)).scalar_one())
