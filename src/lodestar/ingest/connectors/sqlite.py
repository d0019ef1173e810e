"""SQLite: one file is one database (named after the file) with one schema, `main`.

The file is opened read-only. Columns, keys and unique constraints come from the table-valued
pragma functions joined over `sqlite_master`, one query each for the whole file. SQLite keeps no
comments; row counts come from `sqlite_stat1` when ANALYZE has filled it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection, Engine

from lodestar.ingest.connectors.sql_common import (
    ColumnMeta,
    ConstraintMeta,
    DatabaseMeta,
    FileSQLSource,
    SchemaMeta,
    SQLConfig,
    TableMeta,
    expect_config,
    fetch,
)
from lodestar.ingest.source import SourceConfig, SourceContext
from lodestar.model import fqn as fqn_mod

SCHEMA = "main"


class SQLiteConfig(SQLConfig):
    path: Path = Field(description="Path of the SQLite database file; it is opened read-only.")
    database_name: str | None = Field(
        None, description="Name of the database asset; defaults to the file name without suffix."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: Path) -> Path:
        if str(v) in ("", ":memory:"):
            raise ValueError("give the path of a database file, e.g. ./data/app.db")
        return v.expanduser()

    @field_validator("database_name")
    @classmethod
    def _database_name(cls, v: str | None) -> str | None:
        try:
            return None if v is None else fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}; name the database like `app`") from None


_USER_OBJECTS = "m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
_TABLES = sa.text(f"SELECT m.name, m.type, m.sql FROM sqlite_master m WHERE {_USER_OBJECTS}")
_COLUMNS = sa.text(
    'SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
    f"FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p WHERE {_USER_OBJECTS} "
    "ORDER BY m.name, p.cid"
)
_TABLE_COLUMNS = sa.text(
    'SELECT :t, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
    "FROM pragma_table_xinfo(:t) p ORDER BY p.cid"
)
_UNIQUES = sa.text(
    "SELECT m.name, il.name, ii.seqno, ii.name "
    "FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii "
    "WHERE m.type = 'table' AND il.origin = 'u' AND il.\"unique\" "
    "ORDER BY m.name, il.name, ii.seqno"
)
_FOREIGN_KEYS = sa.text(
    'SELECT m.name, fk.id, fk.seq, fk."table", fk."from", fk."to" '
    "FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk "
    "WHERE m.type = 'table' ORDER BY m.name, fk.id, fk.seq"
)
_HAS_STATS = sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
_STATS = sa.text("SELECT tbl, stat FROM sqlite_stat1")


class SQLiteSource(FileSQLSource):
    config_model = SQLiteConfig
    description = "SQLite: tables and views of a database file, with columns and keys."
    service_type: ClassVar[str] = "sqlite"
    system: ClassVar[str] = "SQLite"
    sql_dialect: ClassVar[str | None] = "sqlite"

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.cfg = expect_config(config, SQLiteConfig)

    def make_engine(self, database: str) -> Engine:
        path = self.existing_path()
        uri = f"{path.as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return sa.create_engine("sqlite+pysqlite://", creator=connect)

    def database_name(self) -> str:
        return self.cfg.database_name or self.path.stem or self.path.name

    def database_configured(self, database: str) -> bool:
        return database == self.database_name()

    def list_databases(self) -> list[str]:
        return [self.database_name()]

    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        return DatabaseMeta(None, [SchemaMeta(SCHEMA)])

    def _columns(self, conn: Connection, tables: dict[str, TableMeta]) -> list[Any]:
        """All columns in one query; when that fails (a view over a dropped table makes
        pragma_table_xinfo raise), table by table, so only the broken ones fail."""
        try:
            with conn.begin_nested():
                return fetch(conn, _COLUMNS)
        except sa.exc.OperationalError:
            rows: list[Any] = []
            for name, table in tables.items():
                try:
                    with conn.begin_nested():
                        rows.extend(fetch(conn, _TABLE_COLUMNS, t=name))
                except sa.exc.OperationalError as e:
                    table.error = str(e.orig).strip().splitlines()[0]
            return rows

    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        tables: dict[str, TableMeta] = {}
        for name, kind, sql in fetch(conn, _TABLES):
            view = kind == "view"
            tables[name] = TableMeta(
                name=name, table_type="view" if view else "table", view_sql=sql if view else None
            )
        primary: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
        for tname, _cid, name, dtype, notnull, default, pk, hidden in self._columns(conn, tables):
            table = tables.get(tname)
            if table is None or hidden == 1:  # hidden columns of virtual tables
                continue
            table.columns.append(ColumnMeta(name, dtype or "ANY", not notnull, default))
            if pk:
                primary[tname].append((pk, name))
        for tname, cols in primary.items():
            names = [n for _, n in sorted(cols)]
            tables[tname].constraints.append(ConstraintMeta("primary_key", names, "primary"))
        uniques: dict[tuple[str, str], list[str]] = {}
        for tname, index, _seq, col in fetch(conn, _UNIQUES):
            if tname in tables and col is not None:
                uniques.setdefault((tname, index), []).append(col)
        for (tname, index), u_cols in uniques.items():
            tables[tname].constraints.append(ConstraintMeta("unique", u_cols, index))
        fks: dict[tuple[str, int], list[tuple[str, str, str | None]]] = {}
        for tname, fk_id, _seq, ref_table, col, ref_col in fetch(conn, _FOREIGN_KEYS):
            if tname in tables:
                fks.setdefault((tname, fk_id), []).append((ref_table, col, ref_col))
        # SQLite names are case-insensitive: a REFERENCES clause may spell them differently.
        by_lower = {name.lower(): name for name in tables}
        for (tname, fk_id), parts in fks.items():
            ref_table = by_lower.get(parts[0][0].lower(), parts[0][0])
            ref_cols = [p[2] for p in parts]
            if any(c is None for c in ref_cols):  # REFERENCES t: the referred primary key
                ref_cols = [n for _, n in sorted(primary.get(ref_table, []))]
            if ref_table in tables:
                spelled = {c.name.lower(): c.name for c in tables[ref_table].columns}
                ref_cols = [spelled.get(c.lower(), c) if c else c for c in ref_cols]
            tables[tname].constraints.append(
                ConstraintMeta(
                    "foreign_key",
                    [p[1] for p in parts],
                    f"fk{fk_id}",
                    referred_schema=SCHEMA,
                    referred_table=ref_table,
                    referred_columns=[c for c in ref_cols if c is not None],
                )
            )
        if conn.execute(_HAS_STATS).first() is not None:
            for tname, stat in fetch(conn, _STATS):
                table = tables.get(tname)
                head = str(stat or "").split(" ", 1)[0]
                if table is not None and table.table_type == "table" and head.isdigit():
                    table.row_count = max(table.row_count or 0, int(head))
        return list(tables.values())
