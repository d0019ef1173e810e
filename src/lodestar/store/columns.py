"""Column identity rows: one per column of an asset that has columns, keyed (asset id, name)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.model.ids import column_table_prefix
from lodestar.store.rows import insert_rows
from lodestar.store.tables import assets, columns

COLUMN_COLUMNS = ("asset_id", "name", "id")
ColumnRow = tuple[str, str, str]


def insert(conn: Connection, rows: Sequence[ColumnRow]) -> None:
    if not rows:
        return
    # In key order: appending to the primary key's B-tree instead of inserting all over it
    # (a bulk create's tables share a time prefix, but their columns come in body order).
    rows = sorted(rows)
    if conn.dialect.name == "postgresql":
        # COPY: a bulk create brings 30 columns per table, and executemany sent one INSERT per
        # row (150,000 for 5,000 tables), twice the server's and PostgreSQL's CPU of the rest.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY columns (asset_id, name, id) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        insert_rows(conn, "columns", COLUMN_COLUMNS, rows)


def delete(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Delete columns by (asset id, name)."""
    for asset_id, name in keys:
        conn.execute(columns.delete().where(columns.c.asset_id == asset_id, columns.c.name == name))


def of_asset(conn: Connection, asset_id: str) -> list[tuple[str, str]]:
    """(id, name) of an asset's columns, by name."""
    q = (
        sa.select(columns.c.id, columns.c.name)
        .where(columns.c.asset_id == asset_id)
        .order_by(columns.c.name)
    )
    return [(str(i), str(n)) for i, n in conn.execute(q)]


def id_of(conn: Connection, asset_id: str, name: str) -> str | None:
    """The id of one column of an asset: a probe of the key."""
    q = sa.select(columns.c.id).where(columns.c.asset_id == asset_id, columns.c.name == name)
    found = conn.execute(q).scalar()
    return None if found is None else str(found)


def by_id(conn: Connection, column_id: str) -> tuple[str, str, str, str] | None:
    """(asset id, asset kind, asset FQN, column name) of a column, by its id: a range probe of
    the key on the table id's prefix the column id starts with."""
    prefix = column_table_prefix(column_id)
    q = (
        sa.select(columns.c.asset_id, assets.c.kind, assets.c.fqn, columns.c.name)
        .join(assets, assets.c.id == columns.c.asset_id)
        .where(
            columns.c.asset_id >= prefix,
            columns.c.asset_id < prefix + "~",
            columns.c.id == column_id,
        )
    )
    row = conn.execute(q).first()
    return (str(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None
