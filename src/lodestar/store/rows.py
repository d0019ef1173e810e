"""Multi-row writes through the driver: the write path's hot inserts.

SQLAlchemy Core's executemany runs every parameter of every row through Python (bind
processors, the JSON serialiser): for a bulk write of 500 tables that was a quarter of the
server's CPU. Here rows arrive as plain tuples whose JSON values the caller serialised once (an
asset's document is the same text in its asset row and in its version row), and go to the
driver's executemany through `exec_driver_sql`, which keeps SQLAlchemy's transaction and its
error translation (an `IntegrityError` is still `sqlalchemy.exc.IntegrityError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.stats import count_inserts
from lodestar.store.tables import metadata

Values = tuple[Any, ...]


def json_text(value: Any) -> str | None:
    """A JSON column's value as the text the row functions take (None stays SQL NULL)."""
    return None if value is None else orjson.dumps(value).decode()


@lru_cache(maxsize=64)
def _insert_sql(dialect: str, table: str, columns: tuple[str, ...]) -> str:
    t = metadata.tables[table]
    marks = []
    for name in columns:
        if dialect == "sqlite":
            marks.append("?")
        elif isinstance(t.c[name].type, sa.JSON):
            marks.append("%s::jsonb")
        else:
            marks.append("%s")
    cols = ", ".join(columns)
    return f"INSERT INTO {table} ({cols}) VALUES ({', '.join(marks)})"


def insert_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[Values]
) -> None:
    """INSERT the rows (tuples in `columns` order; JSON columns as text from `json_text`)."""
    if rows:
        sql = _insert_sql(conn.dialect.name, table, columns)
        conn.exec_driver_sql(sql, list(rows))
        count_inserts(conn, table, len(rows))


__all__ = ["Values", "insert_rows", "json_text"]
