"""DuckDB: a database file's catalog (named after the file, as dbt-duckdb names it), its schemas,
tables and views.

Each schema is read from the `duckdb_tables()`, `duckdb_views()`, `duckdb_columns()` and
`duckdb_constraints()` functions. Row counts are DuckDB's own per-table counts. The file is
opened read-only by default, which lets other readers share it; a writer holding the file makes
the connection fail, and the run is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

# Imported here so that, without them, the registry lists this connector as needing
# `pip install 'lodestar[duckdb]'` instead of failing at the first connection.
import duckdb_engine  # noqa: F401
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
    driver_message,
    expect_config,
    fetch,
)
from lodestar.ingest.source import SourceConfig, SourceContext


class DuckDBConfig(SQLConfig):
    path: Path = Field(description="Path of the DuckDB database file.")
    read_only: bool = Field(
        True,
        description="Open the file read-only (recommended). Set false only when this process "
        "already has the file open for writing.",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: Path) -> Path:
        if str(v) in ("", ":memory:"):
            raise ValueError("give the path of a database file, e.g. ./warehouse.duckdb")
        return v.expanduser()


_DATABASES = sa.text("SELECT database_name FROM duckdb_databases() WHERE NOT internal")
_DATABASE = sa.text("SELECT comment FROM duckdb_databases() WHERE database_name = :db")
_SCHEMAS = sa.text(
    "SELECT schema_name, comment FROM duckdb_schemas() "
    "WHERE database_name = :db AND schema_name NOT IN ('information_schema', 'pg_catalog')"
)
_TABLES = sa.text(
    "SELECT table_name, comment, estimated_size FROM duckdb_tables() "
    "WHERE database_name = :db AND schema_name = :schema AND NOT temporary"
)
_VIEWS = sa.text(
    "SELECT view_name, comment, sql FROM duckdb_views() "
    "WHERE database_name = :db AND schema_name = :schema AND NOT internal AND NOT temporary"
)
_COLUMNS = sa.text(
    "SELECT table_name, column_name, column_index, data_type, is_nullable, column_default, "
    "comment FROM duckdb_columns() WHERE database_name = :db AND schema_name = :schema "
    "ORDER BY table_name, column_index"
)
_CONSTRAINTS = sa.text(
    "SELECT table_name, constraint_type, constraint_name, constraint_column_names, "
    "referenced_table, referenced_column_names FROM duckdb_constraints() "
    "WHERE database_name = :db AND schema_name = :schema "
    "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')"
)
_CONTYPES: dict[str, Literal["primary_key", "unique", "foreign_key"]] = {
    "PRIMARY KEY": "primary_key",
    "UNIQUE": "unique",
    "FOREIGN KEY": "foreign_key",
}


class DuckDBSource(FileSQLSource):
    config_model = DuckDBConfig
    description = "DuckDB: schemas, tables and views of a database file, with columns and keys."
    service_type: ClassVar[str] = "duckdb"
    system: ClassVar[str] = "DuckDB"
    sql_dialect: ClassVar[str | None] = "duckdb"

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.cfg = expect_config(config, DuckDBConfig)

    def make_engine(self, database: str) -> Engine:
        path = self.existing_path()
        url = sa.URL.create("duckdb", database=str(path))
        return sa.create_engine(url, connect_args={"read_only": self.cfg.read_only})

    def engine_key(self, database: str) -> str:
        return ""

    def sample_statement(
        self, schema: str, table: TableMeta, columns: list[str], limit: int
    ) -> sa.Executable:
        # duckdb-engine reads a dotted schema name as catalog.schema: spell the SQL out.
        selected = ", ".join(_quote(c) for c in columns) or "1"
        return sa.text(
            f"SELECT {selected} FROM {_quote(schema)}.{_quote(table.name)} LIMIT {int(limit)}"
        )

    def list_databases(self) -> list[str]:
        with self.connect("") as conn:
            return [str(row[0]) for row in fetch(conn, _DATABASES)]

    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        description = conn.execute(_DATABASE, {"db": database}).scalar()
        schemas = [SchemaMeta(n, c) for n, c in fetch(conn, _SCHEMAS, db=database)]
        return DatabaseMeta(description, schemas)

    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        params = {"db": database, "schema": schema}
        tables: dict[str, TableMeta] = {}
        for name, comment, rows in fetch(conn, _TABLES, **params):
            tables[name] = TableMeta(name, "table", comment, row_count=_count(rows))
        for name, comment, sql in fetch(conn, _VIEWS, **params):
            tables[name] = TableMeta(name, "view", comment, view_sql=sql)
        for tname, name, _index, dtype, nullable, default, comment in fetch(
            conn, _COLUMNS, **params
        ):
            table = tables.get(tname)
            if table is not None:
                table.columns.append(ColumnMeta(name, dtype, bool(nullable), default, comment))
        for tname, ctype, cname, cols, ref_table, ref_cols in fetch(conn, _CONSTRAINTS, **params):
            table = tables.get(tname)
            if table is not None and cols:
                table.constraints.append(
                    ConstraintMeta(
                        _CONTYPES[ctype],
                        list(cols),
                        cname or "",
                        # DuckDB keys never cross schemas.
                        referred_schema=schema if ref_table else None,
                        referred_table=ref_table,
                        referred_columns=list(ref_cols or []),
                    )
                )
        for table in tables.values():
            if table.table_type == "view":
                table.error = _broken_view(conn, database, schema, table.name)
        return list(tables.values())


def _broken_view(conn: Connection, database: str, schema: str, name: str) -> str | None:
    """Why the view cannot be read, or None. DuckDB lets the tables a view reads be dropped
    and keeps the columns it had: only binding the view tells. A failed statement aborts the
    transaction, so it is rolled back (the catalog queries are read already)."""
    where = f"{_quote(database)}.{_quote(schema)}.{_quote(name)}"
    try:
        conn.execute(sa.text(f"SELECT * FROM {where} LIMIT 0")).all()
    except sa.exc.DBAPIError as e:
        conn.rollback()
        return f"view {name!r} is broken, skipped: {driver_message(e)}"
    return None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and value >= 0 else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
