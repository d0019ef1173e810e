"""Any database SQLAlchemy has a dialect for, through its Inspector.

Slower than the dedicated connectors (dialects without bulk reflection answer one table at a
time) but it reaches anything with a SQLAlchemy URL: Trino, Snowflake, SQL Server, Oracle...
Types are spelled as SQLAlchemy compiles them for the dialect; there are no row counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import PurePath
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.reflection import ObjectKind

from lodestar.ingest.connectors.sql_common import (
    ColumnMeta,
    ConstraintMeta,
    DatabaseMeta,
    SchemaMeta,
    SQLConfig,
    SQLSource,
    TableMeta,
    expect_config,
)
from lodestar.ingest.errors import ConfigError
from lodestar.ingest.source import SourceConfig, SourceContext
from lodestar.model import fqn as fqn_mod
from lodestar.model.kinds.service import ConnectionValue
from lodestar.model.kinds.table import TableType

T = TypeVar("T")
_FILE_DIALECTS = ("sqlite", "duckdb")


class SQLAlchemyConfig(SQLConfig):
    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. `mssql+pyodbc://user:${DB_PASSWORD}@host/db?driver=...`;"
        " the dialect's driver package must be installed."
    )
    database_name: str | None = Field(
        None,
        description="Name of the database asset; defaults to the URL's database (a file's name "
        "without suffix for SQLite and DuckDB), else `default`.",
    )
    service_type: str | None = Field(
        None, description="Platform recorded on the service asset; defaults to the dialect name."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: SecretStr) -> SecretStr:
        try:
            sa.make_url(v.get_secret_value())
        except sa.exc.ArgumentError:
            raise ValueError(
                "not a SQLAlchemy URL: write dialect+driver://user:password@host:port/database"
            ) from None
        return v

    @field_validator("database_name")
    @classmethod
    def _database_name(cls, v: str | None) -> str | None:
        try:
            return None if v is None else fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}; name the database like `sales`") from None


class SQLAlchemySource(SQLSource):
    config_model = SQLAlchemyConfig
    description = "Any SQLAlchemy dialect: tables and views with columns and keys, via reflection."
    service_type: ClassVar[str] = "sqlalchemy"
    system: ClassVar[str] = "the database"

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.cfg = expect_config(config, SQLAlchemyConfig)
        self.url = sa.make_url(self.cfg.url.get_secret_value())

    @property
    def service(self) -> str:
        return self.cfg.service

    def service_body(self) -> dict[str, Any]:
        body = super().service_body()
        body["service_type"] = self.cfg.service_type or self.url.get_backend_name()
        return body

    def where(self) -> str:
        return self.url.set(password=None).render_as_string(hide_password=True)

    def connection_info(self) -> dict[str, ConnectionValue]:
        return {"url": self.where()}

    def make_engine(self, database: str) -> Engine:
        try:
            return sa.create_engine(self.url)
        except (ImportError, sa.exc.NoSuchModuleError) as e:
            raise ConfigError(
                f"cannot load the SQLAlchemy dialect for {self.url.drivername!r}: {e}; "
                "install the package that provides it"
            ) from None

    def engine_key(self, database: str) -> str:
        return ""

    def database_name(self) -> str:
        if self.cfg.database_name:
            return self.cfg.database_name
        db = self.url.database
        if db and self.url.get_backend_name() in _FILE_DIALECTS:
            return PurePath(db).stem or "default"
        return db or "default"

    def database_configured(self, database: str) -> bool:
        return database == self.database_name()

    def list_databases(self) -> list[str]:
        return [self.database_name()]

    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        insp = sa.inspect(conn)
        return DatabaseMeta(None, [SchemaMeta(s) for s in self._reflect(insp.get_schema_names)])

    def _partitions(self, conn: Connection, schema: str) -> list[str]:
        """PostgreSQL's partitions in the schema: reflection lists them as tables."""
        if conn.dialect.name != "postgresql":
            return []
        query = sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relispartition"
        )
        return [str(r[0]) for r in conn.execute(query, {"schema": schema})]

    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        # A fresh Inspector per schema: its cache must not grow with the database.
        insp = sa.inspect(conn)
        tables: dict[str, TableMeta] = {}
        kinds: list[tuple[TableType, Callable[..., list[str]]]] = [
            ("table", insp.get_table_names),
            ("view", insp.get_view_names),
            ("materialized_view", insp.get_materialized_view_names),
        ]
        none: list[str] = []
        for table_type, names in kinds:
            for name in self._optional(partial(names, schema=schema), none):
                tables[name] = TableMeta(name, table_type)
        for name in self._partitions(conn, schema):
            tables.pop(name, None)  # folded into their table, as the postgres connector does
        if not tables:
            return []

        def multi(method: Callable[..., dict[Any, Any]]) -> dict[str, Any]:
            nothing: dict[Any, Any] = {}
            found = self._optional(partial(method, schema=schema, kind=ObjectKind.ANY), nothing)
            return {key[1]: value for key, value in found.items()}

        dialect = conn.dialect
        for name, cols in multi(insp.get_multi_columns).items():
            if name in tables:
                tables[name].columns = [_column(c, dialect) for c in cols]
        for name, pk in multi(insp.get_multi_pk_constraint).items():
            if name in tables and pk.get("constrained_columns"):
                pk_cols = list(pk["constrained_columns"])
                tables[name].constraints.append(
                    ConstraintMeta("primary_key", pk_cols, pk.get("name") or "")
                )
        for name, uniques in multi(insp.get_multi_unique_constraints).items():
            for u in uniques if name in tables else []:
                u_cols = list(u["column_names"])
                tables[name].constraints.append(
                    ConstraintMeta("unique", u_cols, u.get("name") or "")
                )
        for name, fks in multi(insp.get_multi_foreign_keys).items():
            for fk in fks if name in tables else []:
                tables[name].constraints.append(
                    ConstraintMeta(
                        "foreign_key",
                        list(fk["constrained_columns"]),
                        fk.get("name") or "",
                        referred_schema=fk.get("referred_schema") or schema,
                        referred_table=fk["referred_table"],
                        referred_columns=list(fk["referred_columns"]),
                    )
                )
        _respell_references(tables, schema)
        for name, comment in multi(insp.get_multi_table_comment).items():
            if name in tables:
                tables[name].description = comment.get("text")
        for table in tables.values():
            if table.table_type != "table":
                sql = self._optional(partial(insp.get_view_definition, table.name, schema), None)
                table.view_sql = str(sql).strip() or None if sql is not None else None
        return list(tables.values())

    def _reflect(self, fn: Callable[[], T]) -> T:
        """Call the Inspector, turning the dialect's warnings into run warnings."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn()
        for w in caught[:20]:
            self.ctx.warn(f"{self.url.get_backend_name()}: {w.message}")
        return result

    def _optional(self, fn: Callable[[], T], default: T) -> T:
        """What the dialect does not implement is left out."""
        try:
            return self._reflect(fn)
        except NotImplementedError:
            return default


def _column(col: Any, dialect: sa.Dialect) -> ColumnMeta:
    try:
        data_type = col["type"].compile(dialect=dialect)
    except Exception:
        data_type = str(type(col["type"]).__name__)
    default = col.get("default")
    return ColumnMeta(
        col["name"],
        str(data_type),
        bool(col.get("nullable", True)),
        None if default is None else str(default),
        col.get("comment"),
    )


def _respell_references(tables: dict[str, TableMeta], schema: str) -> None:
    """Some dialects (SQLite) report a foreign key as its REFERENCES clause spells it, though
    names are case-insensitive there: use the real spelling when it is unambiguous."""
    by_lower: dict[str, list[str]] = {}
    for name in tables:
        by_lower.setdefault(name.lower(), []).append(name)
    for table in tables.values():
        for c in table.constraints:
            if c.type != "foreign_key" or c.referred_schema != schema or not c.referred_table:
                continue
            if c.referred_table not in tables:
                match = by_lower.get(c.referred_table.lower(), [])
                if len(match) != 1:
                    continue
                c.referred_table = match[0]
            spelled = {col.name.lower(): col.name for col in tables[c.referred_table].columns}
            c.referred_columns = [
                n
                if any(col.name == n for col in tables[c.referred_table].columns)
                else spelled.get(n.lower(), n)
                for n in c.referred_columns
            ]
