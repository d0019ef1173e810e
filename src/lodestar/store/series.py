"""Fact tables: the shared shape of every time series a capability owns.

A fact is something that happened (a test result, a profile, a day of usage). Each fact table
has the capability's typed columns plus the standard ones:

- `id`: row number, the tie-breaker of cursors and the handle of retention batches;
- `event_ts`: when the fact happened (epoch µs, what queries and retention go by);
- `recorded_ts`: when this catalog stored it (epoch µs): a late delivery keeps both;
- `origin`: who or what produced it (`ingestion:<pipeline>`, `integration:dbt`, a person);
- `run_id`: the run that produced it (pipeline run, dbt invocation, OpenLineage run), if any;
- `idem_key`: unique; a delivery whose key is already stored is a duplicate and is ignored
  (or replaces the stored row, for tables that say so).

When a row brings no `idem_key`, `default_key` derives one from the table's identity fields,
declared with the table (`identity=`). The key starts with the event time in hex, so the unique
index grows at its right edge as new facts arrive instead of at random places.

`append` goes through the driver's executemany (see `store/rows.py`), and on PostgreSQL
batches of `COPY_FROM` rows or more through COPY: 10M rows through SQLAlchemy's per-row bind
processing would spend most of their time in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.model.records import now_us

SERIES_COLUMNS = ("event_ts", "recorded_ts", "origin", "run_id", "idem_key")
KEY_LENGTH = 64
COPY_FROM = 1000  # PostgreSQL: batches of this many rows or more go through COPY
_MASK64 = (1 << 64) - 1


def fact_table(
    name: str,
    metadata: sa.MetaData,
    *columns: sa.Column[Any],
    identity: Sequence[str],
    replace: bool = False,
) -> sa.Table:
    """Declare a fact table: `id`, the capability's `columns`, then the series columns.

    `identity`: the fields that name one fact; the default idempotency key digests them.
    `replace`: a delivery whose key is stored replaces the row (a corrected day of usage)
    instead of being ignored (a test result, which never changes once it happened).
    """
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        *columns,
        sa.Column("event_ts", sa.BigInteger, nullable=False),
        sa.Column("recorded_ts", sa.BigInteger, nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("idem_key", sa.String(KEY_LENGTH), nullable=False),
        sa.UniqueConstraint("idem_key", name=f"uq_{name}_idem_key"),
    )
    unknown = [f for f in identity if f not in table.c]
    if unknown:
        raise ValueError(f"identity fields {unknown} are not columns of {name}")
    table.info["identity"] = tuple(identity)
    table.info["replace"] = replace
    table.info["time_column"] = "event_ts"
    return table


def default_key(ts: int, values: Iterable[Any]) -> str:
    """16 hex digits of the event time, then 16 of a BLAKE2b digest of the identity values."""
    text = orjson.dumps(list(values), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(text, digest_size=8).hexdigest()
    return f"{ts & _MASK64:016x}{digest}"


def key_of(table: sa.Table, row: Mapping[str, Any]) -> str:
    """The row's idempotency key: its own `idem_key`, else the default from its identity."""
    given = row.get("idem_key")
    if given:
        if len(given) > KEY_LENGTH:
            raise ValueError(f"an idempotency key has at most {KEY_LENGTH} characters")
        return str(given)
    ts = row[table.info["time_column"]]
    return default_key(ts, (row.get(f) for f in table.info["identity"]))


def _on_conflict(dialect: str, table: sa.Table, columns: tuple[str, ...], replace: bool) -> str:
    if not replace:
        return "ON CONFLICT (idem_key) DO NOTHING"
    # The stored row is rewritten only when a value differs, so a repeated delivery counts 0.
    changing = [c for c in columns if c not in ("idem_key", "recorded_ts")]
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*changing, "recorded_ts"))
    differs = " OR ".join(
        f"{table.name}.{c} IS DISTINCT FROM excluded.{c}"
        if dialect == "postgresql"
        else f"{table.name}.{c} IS NOT excluded.{c}"
        for c in changing
    )
    return f"ON CONFLICT (idem_key) DO UPDATE SET {sets} WHERE {differs}"


@lru_cache(maxsize=64)
def _append_sql(dialect: str, table: sa.Table, columns: tuple[str, ...], replace: bool) -> str:
    marks = []
    for name in columns:
        if dialect == "sqlite":
            marks.append("?")
        elif isinstance(table.c[name].type, sa.JSON):
            marks.append("%s::jsonb")
        else:
            marks.append("%s")
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(marks)}) "
        + _on_conflict(dialect, table, columns, replace)
    )


def columns_of(table: sa.Table) -> tuple[str, ...]:
    """The columns `append` writes, in order: every column but `id`."""
    return tuple(c.name for c in table.c if c.name != "id")


def append(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    recorded_ts: int | None = None,
) -> int:
    """Insert the facts not stored yet; returns how many rows were new (or, for a `replace`
    table, new or changed). Rows missing `recorded_ts` get `recorded_ts` (default now), a
    missing `run_id` is NULL and a missing `idem_key` is `key_of`'s."""
    if not rows:
        return 0
    columns = columns_of(table)
    now = recorded_ts if recorded_ts is not None else now_us()
    jsons = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    values = []
    for row in rows:
        out = []
        for c in columns:
            if c == "idem_key":
                v: Any = key_of(table, row)
            elif c == "recorded_ts":
                v = row.get(c) or now
            else:
                v = row.get(c)
                if c in jsons and v is not None:
                    v = orjson.dumps(v).decode()
            out.append(v)
        values.append(tuple(out))
    return append_values(conn, table, columns, values)


def append_values(
    conn: Connection, table: sa.Table, columns: tuple[str, ...], values: Sequence[tuple[Any, ...]]
) -> int:
    """`append` for rows already laid out as tuples in `columns` order, keys included (JSON as
    text): the bulk loader's path, with no per-row work in Python."""
    if not values:
        return 0
    replace = bool(table.info.get("replace"))
    # One key twice in a batch: the first is kept (ignore) or the last wins (replace), the
    # same on both paths below (and one PostgreSQL command may not update a row twice).
    at = columns.index("idem_key")
    by_key: dict[str, tuple[Any, ...]] = {}
    for v in values:
        if replace or v[at] not in by_key:
            by_key[v[at]] = v
    if len(by_key) < len(values):
        values = list(by_key.values())
    if conn.dialect.name == "postgresql" and len(values) >= COPY_FROM:
        return _copy_append(conn, table, columns, values, replace)
    sql = _append_sql(conn.dialect.name, table, columns, replace)
    result = conn.exec_driver_sql(sql, list(values))
    return max(int(result.rowcount), 0)


def _copy_append(
    conn: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    values: Sequence[tuple[Any, ...]],
    replace: bool,
) -> int:
    """PostgreSQL, big batches: COPY into a session-private staging table, then one
    INSERT .. SELECT .. ON CONFLICT: several times the rate of executemany."""
    cols = ", ".join(columns)
    stage = f"series_in_{table.name}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
        f"AS SELECT {cols} FROM {table.name} WITH NO DATA"
    )
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
        for v in values:
            copy.write_row(v)
    result = conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} "
        + _on_conflict("postgresql", table, columns, replace)
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    return max(int(result.rowcount), 0)


def purge_before(conn: Connection, table: sa.Table, ts: int, *, limit: int = 10_000) -> int:
    """Delete up to `limit` facts that happened before `ts`; returns how many. Call it again
    (in a new transaction, so writers get their turn) until it returns less than `limit`."""
    time_col = table.c[table.info.get("time_column", "event_ts")]
    ids = sa.select(table.c.id).where(time_col < ts).limit(limit).scalar_subquery()
    result = conn.execute(table.delete().where(table.c.id.in_(ids)))
    return max(int(result.rowcount), 0)


__all__ = [
    "SERIES_COLUMNS",
    "append",
    "append_values",
    "columns_of",
    "default_key",
    "fact_table",
    "key_of",
    "purge_before",
]
