"""What the SQL connectors share: config fields, catalog records, units, and sample data.

A connector reads its catalog with a few bulk queries per schema (`read_schema`) and hands back
plain `TableMeta` records; `SQLSource` applies the filters, turns each table into a unit with its
service, database and schema assets, reads opt-in sample data and masks columns whose names look
like personal data. Nothing is kept between schemas, so memory follows the largest schema, not
the database.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import orjson
import sqlalchemy as sa
from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import Connection, Engine

from lodestar.ingest.errors import ConfigError, IngestError, PermanentError, TransientError
from lodestar.ingest.retry import classify
from lodestar.ingest.source import Source, SourceConfig, SourceContext, Unit
from lodestar.model import fqn as fqn_mod
from lodestar.model.kinds.service import ConnectionValue
from lodestar.model.kinds.table import SAMPLE_MAX_BYTES, TableType

C = TypeVar("C", bound=SourceConfig)
T = TypeVar("T")

# Schemas every SQL connector leaves out, compared lower-case; plus pg_toast*/pg_temp_*.
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "mysql", "performance_schema", "sys"}
)
MASK = "***"
MAX_TEXT = 200
_MAX_DATA_TYPE = 512
_MAX_DEFAULT = 4096
_MAX_DESCRIPTION = 65_536
_MAX_VIEW_SQL = 1_048_576


def is_system_schema(name: str) -> bool:
    low = name.lower()
    return low in SYSTEM_SCHEMAS or low.startswith(("pg_toast", "pg_temp_"))


# -- configs -------------------------------------------------------------------------------


class SQLConfig(SourceConfig):
    """Fields every SQL connector has."""

    service: str = Field(
        description="Name of the service asset the databases are filed under, e.g. "
        "`warehouse`: the first part of every FQN this source writes."
    )

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        try:
            return fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}; name the service like `warehouse`") from None


class ServerConfig(SQLConfig):
    """A database server reached over the network."""

    host: str = Field(description="Host name or IP address of the server, without a port.")
    username: str = Field(description="User to connect as.")
    password: SecretStr | None = Field(
        None, description="The user's password; write `${ENV_VAR}` in a recipe, not the value."
    )
    connect_timeout: int = Field(
        10, ge=1, le=300, description="Seconds to wait for a connection before giving up."
    )

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("give the server's host name, e.g. db.example.com or 127.0.0.1")
        if "://" in v or "/" in v:
            raise ValueError("give the host name only (db.example.com), not a URL")
        if v.count(":") == 1:
            raise ValueError("give the host without ':port'; set the port in `port`")
        return v

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("give the user to connect as, e.g. `lodestar`")
        return v

    def secret(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None

    def where(self) -> str:
        return f"{self.host}:{getattr(self, 'port', '?')} as user {self.username!r}"


def expect_config(config: SourceConfig, model: type[C]) -> C:
    if not isinstance(config, model):
        raise ConfigError(f"expected a {model.__name__}, got {type(config).__name__}")
    return config


# -- what a connector reads ------------------------------------------------------------------


@dataclass(slots=True)
class ColumnMeta:
    name: str
    data_type: str
    nullable: bool = True
    default: str | None = None
    description: str | None = None


@dataclass(slots=True)
class ConstraintMeta:
    type: Literal["primary_key", "unique", "foreign_key"]
    columns: list[str]
    name: str = ""
    referred_schema: str | None = None
    referred_table: str | None = None
    referred_columns: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TableMeta:
    name: str
    table_type: TableType = "table"
    description: str | None = None
    columns: list[ColumnMeta] = field(default_factory=list)
    constraints: list[ConstraintMeta] = field(default_factory=list)
    view_sql: str | None = None
    row_count: int | None = None
    error: str | None = None  # this table alone could not be read


@dataclass(slots=True)
class SchemaMeta:
    name: str
    description: str | None = None


@dataclass(slots=True)
class DatabaseMeta:
    description: str | None = None
    schemas: list[SchemaMeta] = field(default_factory=list)


def fetch(conn: Connection, stmt: sa.TextClause, **params: Any) -> list[Any]:
    """All rows of a catalog query, loosely typed: catalog columns are what the SQL says."""
    return list(conn.execute(stmt, params).all())


# -- errors ------------------------------------------------------------------------------------


def driver_message(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping."""
    inner = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    for line in str(inner).splitlines():
        if line.strip():
            return line.strip()[:500]
    return type(inner).__name__


def connect_error(exc: BaseException, system: str, where: str) -> IngestError:
    """A failed connection as a transient or permanent error naming host and user."""
    if isinstance(exc, IngestError):
        return exc
    text = f"cannot connect to {system} at {where}: {driver_message(exc)}"
    # DuckDB: another process holds the file for writing; it may let go.
    if classify(exc) is TransientError or "conflicting lock" in text.lower():
        return TransientError(text)
    return PermanentError(f"{text} (check host, port, username, password and database)")


# -- sample data -------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_PII_TOKENS = frozenset(
    {
        "email", "mail", "phone", "mobile", "fax", "ssn", "address", "addr", "street", "zip",
        "zipcode", "postcode", "postal", "name", "firstname", "lastname", "fullname",
        "surname", "username", "birthday", "birthdate", "dob", "birth", "passport", "iban",
        "password", "passwd", "secret", "salary",
    }
)  # fmt: skip
_PII_PAIRS = frozenset({("e", "mail"), ("social", "security"), ("credit", "card")})


def looks_personal(column: str) -> bool:
    """Whether a column name suggests personal data (email, phone, names, addresses...)."""
    tokens = [t for t in _NON_WORD.split(_CAMEL.sub("_", column).lower()) if t]
    if any(t in _PII_TOKENS for t in tokens):
        return True
    return any(pair in _PII_PAIRS for pair in itertools.pairwise(tokens))


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON value for a sample cell: exotic types as text, long text cut to 200 characters."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)[:MAX_TEXT]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bytes | bytearray | memoryview):
        return ("0x" + bytes(value[:MAX_TEXT]).hex())[:MAX_TEXT]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()[:MAX_TEXT]
    if isinstance(value, Decimal | uuid.UUID | dt.timedelta):
        return str(value)[:MAX_TEXT]
    if depth < 4 and isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value[:MAX_TEXT]]
    if depth < 4 and isinstance(value, dict):
        items = list(value.items())[:MAX_TEXT]
        return {str(k)[:MAX_TEXT]: json_safe(v, depth + 1) for k, v in items}
    return str(value)[:MAX_TEXT]


def bounded_rows(rows: list[list[Any]], max_bytes: int = SAMPLE_MAX_BYTES - 1024) -> list[Any]:
    """The leading rows whose JSON fits in `max_bytes`."""
    out: list[list[Any]] = []
    size = 2
    for row in rows:
        size += len(orjson.dumps(row)) + 1
        if size > max_bytes:
            break
        out.append(row)
    return out


# -- the source --------------------------------------------------------------------------------


class SQLSource(Source):
    """A SQL connector: subclasses say how to connect and how to read one schema's catalog."""

    service_type: ClassVar[str]
    system: ClassVar[str]
    # Table types whose sample rows are read; a view may be arbitrarily costly to run.
    sampled_types: ClassVar[frozenset[str]] = frozenset({"table", "materialized_view"})

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self._engines: dict[str, Engine] = {}
        self._databases: list[str] | None = None

    @property
    def service(self) -> str:
        """The service asset name."""
        return expect_config(self.config, SQLConfig).service

    # -- what subclasses provide ---------------------------------------------------------------
    @abc.abstractmethod
    def where(self) -> str:
        """Where the source is, for messages: `host:port as user 'x'`, a file path..."""

    @abc.abstractmethod
    def connection_info(self) -> dict[str, ConnectionValue]:
        """The service asset's connection details; never a secret."""

    @abc.abstractmethod
    def make_engine(self, database: str) -> Engine:
        """An engine reading `database`."""

    @abc.abstractmethod
    def list_databases(self) -> list[str]:
        """Database names, before filters."""

    @abc.abstractmethod
    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        """The database's description and its schemas (system schemas may be included)."""

    @abc.abstractmethod
    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        """Every table and view of a schema, in a few bulk catalog queries."""

    def database_configured(self, database: str) -> bool:
        """Whether the config names this database (when it names any)."""
        return True

    # -- connections ---------------------------------------------------------------------------
    def engine_key(self, database: str) -> str:
        """Databases sharing one engine share a key: a file's, a server's without databases."""
        return database

    def engine(self, database: str) -> Engine:
        key = self.engine_key(database)
        eng = self._engines.get(key)
        if eng is None:
            eng = self._engines[key] = self.make_engine(database)
        return eng

    def connect(self, database: str) -> Connection:
        try:
            return self.engine(database).connect()
        except IngestError:
            raise
        except Exception as e:
            raise connect_error(e, self.system, self.where()) from e

    def release(self, database: str) -> None:
        eng = self._engines.pop(self.engine_key(database), None)
        if eng is not None:
            eng.dispose()

    def close(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()

    def query(self, what: str, database: str, fn: Callable[[Connection], T]) -> T:
        """Run `fn` on a fresh connection, retrying transient failures."""

        def attempt() -> T:
            with self.connect(database) as conn:
                return fn(conn)

        return self.ctx.retry(what, attempt)

    # -- Source --------------------------------------------------------------------------------
    def check(self) -> None:
        """Connect once; the runner retries a transient failure."""
        try:
            databases = self.list_databases()
            if databases:
                with self.connect(databases[0]) as conn:
                    conn.execute(sa.text("SELECT 1")).all()
        except IngestError:
            raise
        except Exception as e:
            raise connect_error(e, self.system, self.where()) from e

    def databases(self) -> list[str]:
        if self._databases is None:
            found = self.ctx.retry(f"list the databases at {self.where()}", self.list_databases)
            allows = self.ctx.filters.databases.allows
            self._databases = []
            for name in sorted(set(found)):
                try:
                    fqn_mod.check_part(name)
                except fqn_mod.FQNError as e:
                    self.ctx.warn(f"database {name!r} left out: {e}")
                    continue
                if allows(name):
                    self._databases.append(name)
        return self._databases

    def scope(self) -> list[tuple[str, str]]:
        svc = self.service
        return [("service", svc)] + [("database", fqn_mod.join([svc, d])) for d in self.databases()]

    def in_scope(self, kind: str, fqn: str) -> bool:
        try:
            parts = fqn_mod.split(fqn)
        except fqn_mod.FQNError:
            return False
        f = self.ctx.filters
        if parts[0] != self.service:
            return False
        if len(parts) > 1 and not (
            f.databases.allows(parts[1]) and self.database_configured(parts[1])
        ):
            return False
        if len(parts) > 2 and (is_system_schema(parts[2]) or not f.schemas.allows(parts[2])):
            return False
        return not (len(parts) > 3 and not f.tables.allows(parts[3]))

    def service_body(self) -> dict[str, Any]:
        return {
            "name": self.service,
            "category": "database",
            "service_type": self.service_type,
            "connection": self.connection_info(),
        }

    def units(self) -> Iterator[Unit]:
        svc = self.service
        service_body = self.service_body()
        for database in self.databases():
            db_fqn = fqn_mod.join([svc, database])
            try:
                meta = self._database_meta(db_fqn, database)
            except PermanentError as e:
                yield Unit(db_fqn, error=str(e))
                continue
            db_body = _drop_none(
                {"name": database, "service": svc, "description": _cut(meta.description)}
            )
            allows = self.ctx.filters.schemas.allows
            schemas = sorted(
                (s for s in meta.schemas if not is_system_schema(s.name) and allows(s.name)),
                key=lambda s: s.name,
            )
            if not schemas:
                yield Unit(db_fqn, assets=[("service", service_body), ("database", db_body)])
            for schema in schemas:
                yield from self._schema_units(database, schema, [service_body, db_body])
            self.release(database)

    def _database_meta(self, db_fqn: str, database: str) -> DatabaseMeta:
        return self.query(
            f"list the schemas of {db_fqn}",
            database,
            lambda conn: self.read_database(conn, database),
        )

    def _schema_units(
        self, database: str, schema: SchemaMeta, parents: list[dict[str, Any]]
    ) -> Iterator[Unit]:
        svc = self.service
        try:
            s_fqn = fqn_mod.join([svc, database, schema.name])
        except fqn_mod.FQNError as e:
            yield Unit(f"{svc}.{database}.{schema.name!r}", error=f"schema {schema.name!r}: {e}")
            return
        s_body = _drop_none(
            {
                "name": schema.name,
                "database": fqn_mod.join([svc, database]),
                "description": _cut(schema.description),
            }
        )
        assets = [("service", parents[0]), ("database", parents[1]), ("schema", s_body)]
        try:
            tables = self.query(
                f"read the catalog of {s_fqn}",
                database,
                lambda conn: self.read_schema(conn, database, schema.name),
            )
        except PermanentError as e:
            yield Unit(s_fqn, error=str(e))
            return
        yield Unit(s_fqn, assets=list(assets))
        allows = self.ctx.filters.tables.allows
        for table in sorted(tables, key=lambda t: t.name):
            if allows(table.name):
                yield self._table_unit(database, schema.name, s_fqn, table, assets)

    def _table_unit(
        self,
        database: str,
        schema: str,
        s_fqn: str,
        table: TableMeta,
        parents: list[tuple[str, dict[str, Any]]],
    ) -> Unit:
        try:
            key = fqn_mod.join([self.service, database, schema, table.name])
        except fqn_mod.FQNError as e:
            return Unit(f"{s_fqn}.{table.name!r}", error=f"table {table.name!r}: {e}")
        if table.error is not None:
            return Unit(key, error=table.error)
        # The body is validated once, by the catalog; a bad line fails its unit there.
        try:
            body = self.table_body(database, s_fqn, table)
            if self.ctx.options.sample_data and table.table_type in self.sampled_types:
                body["sample_data"] = self.sample(database, schema, table, key)
        except (IngestError, fqn_mod.FQNError) as e:
            return Unit(key, error=str(e))
        unit = Unit(key, assets=[*parents, ("table", body)])
        if self.ctx.options.row_counts and table.row_count is not None:
            unit.observations.append(("table", key, "row_count", {"rows": table.row_count}))
        return unit

    def table_body(self, database: str, s_fqn: str, table: TableMeta) -> dict[str, Any]:
        column_constraint: dict[str, str] = {}
        constraints: list[dict[str, Any]] = []
        order = {"primary_key": 0, "unique": 1, "foreign_key": 2}
        for c in sorted(table.constraints, key=lambda c: (order[c.type], c.name, c.columns)):
            if c.type != "foreign_key" and len(c.columns) == 1:
                column_constraint.setdefault(c.columns[0], c.type)
                continue
            body: dict[str, Any] = {"type": c.type, "columns": c.columns}
            if c.type == "foreign_key":
                ref_schema = c.referred_schema or fqn_mod.split(s_fqn)[-1]
                body["referred_table"] = fqn_mod.join(
                    [self.service, database, ref_schema, c.referred_table or ""]
                )
                body["referred_columns"] = c.referred_columns
            constraints.append(body)
        columns = []
        for i, col in enumerate(table.columns, start=1):
            column = {
                "name": col.name,
                "data_type": (col.data_type or "ANY")[:_MAX_DATA_TYPE],
                "ordinal": i,
                "nullable": col.nullable,
            }
            if col.description:
                description = _cut(col.description)
                if description is not None:
                    column["description"] = description
            if col.default is not None:
                column["default"] = col.default[:_MAX_DEFAULT]
            if column_constraint:
                constraint = column_constraint.get(col.name)
                if constraint is not None:
                    column["constraint"] = constraint
            columns.append(column)
        view_sql = table.view_sql
        if view_sql is not None and len(view_sql) > _MAX_VIEW_SQL:
            self.ctx.warn(f"{s_fqn}: the SQL of {table.name!r} is over 1 MiB and was left out")
            view_sql = None
        return _drop_none(
            {
                "name": table.name,
                "schema": s_fqn,
                "table_type": table.table_type,
                "description": _cut(table.description),
                "columns": columns,
                "constraints": constraints,
                "view_sql": view_sql,
            }
        )

    def sample_statement(
        self, schema: str, table: TableMeta, columns: list[str], limit: int
    ) -> sa.Executable:
        """`SELECT columns FROM schema.table LIMIT n`, as the dialect spells it."""
        selected: list[Any] = [sa.column(sa.quoted_name(c, quote=True)) for c in columns]
        tbl = sa.table(
            sa.quoted_name(table.name, quote=True), schema=sa.quoted_name(schema, quote=True)
        )
        return sa.select(*(selected or [sa.literal_column("1")])).select_from(tbl).limit(limit)

    def sample(self, database: str, schema: str, table: TableMeta, key: str) -> dict[str, Any]:
        """Up to `sample_rows` rows, personal-looking columns masked, values JSON-safe."""
        names = [c.name for c in table.columns]
        masked = [looks_personal(n) for n in names]
        shown = [n for n, m in zip(names, masked, strict=True) if not m]
        limit = self.ctx.options.sample_rows
        stmt = self.sample_statement(schema, table, shown, limit)

        def read(conn: Connection) -> list[list[Any]]:
            out = []
            for row in conn.execute(stmt).fetchmany(limit):
                it = iter(row)
                out.append([MASK if m else json_safe(next(it)) for m in masked])
            return out

        try:
            rows = self.query(f"read sample rows of {key}", database, read)
        except IngestError as e:
            raise type(e)(f"sample data: {e}") from e
        return {"columns": names, "rows": bounded_rows(rows)}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _cut(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return text[:_MAX_DESCRIPTION]


class ServerSQLSource(SQLSource):
    """A database server reached by host, port and user (PostgreSQL, MySQL)."""

    def where(self) -> str:
        return expect_config(self.config, ServerConfig).where()

    def connection_info(self) -> dict[str, ConnectionValue]:
        c = expect_config(self.config, ServerConfig)
        return {"host": c.host, "port": getattr(c, "port", None), "username": c.username}


class FileSQLSource(SQLSource):
    """A database in one file (SQLite, DuckDB): `config.path`."""

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        path = config.model_dump().get("path")
        if not isinstance(path, Path):
            raise ConfigError(f"{type(config).__name__} has no file path")
        self.path = path.resolve()

    def where(self) -> str:
        return str(self.path)

    def connection_info(self) -> dict[str, ConnectionValue]:
        return {"path": str(self.path)}
