"""Column identity rows: one per column of an asset that has columns."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.rows import insert_rows
from lodestar.store.tables import assets, columns

COLUMN_COLUMNS = ("id", "asset_id", "name", "fqn")
ColumnRow = tuple[str, str, str, str]


def insert(conn: Connection, rows: Sequence[ColumnRow]) -> None:
    insert_rows(conn, "columns", COLUMN_COLUMNS, rows)


def delete(conn: Connection, ids: Sequence[str]) -> None:
    for i in range(0, len(ids), 500):
        conn.execute(columns.delete().where(columns.c.id.in_(ids[i : i + 500])))


def delete_of_assets(conn: Connection, asset_ids: Sequence[str]) -> None:
    for i in range(0, len(asset_ids), 500):
        conn.execute(columns.delete().where(columns.c.asset_id.in_(asset_ids[i : i + 500])))


def of_asset(conn: Connection, asset_id: str) -> list[tuple[str, str, str]]:
    """(id, name, fqn) of an asset's columns, by name."""
    q = (
        sa.select(columns.c.id, columns.c.name, columns.c.fqn)
        .where(columns.c.asset_id == asset_id)
        .order_by(columns.c.name)
    )
    return [(str(i), str(n), str(f)) for i, n, f in conn.execute(q)]


def find(conn: Connection, kind: str, asset_fqn: str, name: str) -> tuple[str, str, str] | None:
    """(column id, asset id, column FQN) of one column of the asset named (kind, FQN)."""
    q = (
        sa.select(columns.c.id, columns.c.asset_id, columns.c.fqn)
        .join(assets, assets.c.id == columns.c.asset_id)
        .where(assets.c.kind == kind, assets.c.fqn == asset_fqn, columns.c.name == name)
    )
    row = conn.execute(q).first()
    return (str(row[0]), str(row[1]), str(row[2])) if row else None
