"""What the SQL connectors share: catalog records, units, and the source itself.

A connector reads its catalog with a few bulk queries per schema (`read_schema`) and hands back
plain `TableMeta` records; `SQLSource` applies the filters, turns each table into a unit with its
service, database and schema assets, reads opt-in sample data (sample_data.py) and, for a
connector that detects changes, reads only the relations whose catalog hash moved
(sql_changes.py). Nothing is kept between schemas, so memory follows the largest schema, not the
database. Config fields are in sql_config.py (re-exported here).
"""

from __future__ import annotations

import abc
import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lodestar.ingest.connectors.sample_data import (
    MASK,
    bounded_rows,
    looks_personal,
    masked_cell,
)
from lodestar.ingest.connectors.sql_changes import (
    Digests,
    RelationDigest,
    SchemaPlan,
    catalog_fingerprint,
    context_fingerprint,
    marker_key,
    plan_schema,
)
from lodestar.ingest.connectors.sql_config import ServerConfig as ServerConfig
from lodestar.ingest.connectors.sql_config import SQLConfig as SQLConfig
from lodestar.ingest.connectors.sql_config import expect_config as expect_config
from lodestar.ingest.errors import ConfigError, IngestError, PermanentError, TransientError
from lodestar.ingest.retry import classify
from lodestar.ingest.source import LineageItem, Source, SourceConfig, SourceContext, Unit
from lodestar.ingest.sql_lineage import Naming
from lodestar.ingest.sql_lineage import analyze as analyze_sql
from lodestar.model import fqn as fqn_mod
from lodestar.model.kinds.service import ConnectionValue
from lodestar.model.kinds.table import TableType

T = TypeVar("T")
# A catalog stamp and the relation names of each schema (see `catalog_stamp`), or None.
_Stamped = tuple[str, dict[str, list[str]]] | None

# Schemas every SQL connector leaves out, compared lower-case; plus pg_toast*/pg_temp_*.
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "mysql", "performance_schema", "sys"}
)
_MAX_DATA_TYPE = 512
_MAX_DEFAULT = 4096
_MAX_DESCRIPTION = 65_536
_MAX_VIEW_SQL = 1_048_576


def is_system_schema(name: str) -> bool:
    low = name.lower()
    return low in SYSTEM_SCHEMAS or low.startswith(("pg_toast", "pg_temp_"))


# -- what a connector reads ------------------------------------------------------------------


@dataclass(slots=True)
class ColumnMeta:
    name: str
    data_type: str
    nullable: bool = True
    default: str | None = None
    description: str | None = None
    # The source's own position (PostgreSQL's attnum keeps a gap where a column was dropped);
    # None: the position in `TableMeta.columns`.
    ordinal: int | None = None


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
    # Partitions folded into the table (see model.kinds.table.Partitioning), or None.
    partitioning: dict[str, Any] | None = None
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


# -- the source --------------------------------------------------------------------------------


class SQLSource(Source):
    """A SQL connector: subclasses say how to connect and how to read one schema's catalog."""

    service_type: ClassVar[str]
    system: ClassVar[str]
    # Table types whose sample rows are read; a view may be arbitrarily costly to run.
    sampled_types: ClassVar[frozenset[str]] = frozenset({"table", "materialized_view"})
    # Whether `relation_digests` is implemented (see sql_changes); bump the version whenever
    # what the connector extracts from a relation changes, so every relation is read again.
    detects_changes: ClassVar[bool] = False
    fingerprint_version: ClassVar[int] = 2  # 2: UNIQUE on a key column, ON UPDATE
    # Whether `catalog_stamp` is implemented (see sql_changes): an unchanged database is then
    # not even hashed.
    stamps_catalog: ClassVar[bool] = False
    # The SQL dialect of view definitions (lodestar.lineage.sql): views get table and column
    # lineage from their SQL. None: no view lineage.
    sql_dialect: ClassVar[str | None] = None

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self._engines: dict[str, Engine] = {}
        self._databases: list[str] | None = None
        self._previous: Mapping[str, str] = {}
        # relation unit key -> the fingerprint this run means to commit for it (None: the
        # runner's), for the database being read when it was stamped; None: not stamped.
        self._intended: dict[str, str | None] | None = None
        # database -> its schemas and catalog stamp, being taken since `check` (see _start_early)
        self._early: dict[str, Future[tuple[DatabaseMeta, list[SchemaMeta], _Stamped]]] = {}

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

    def relation_digests(self, conn: Connection, database: str, schemas: list[str]) -> Digests:
        """For connectors that detect changes: every relation of these schemas with a hash of
        everything `read_schema` extracts from it, in a few cheap queries."""
        raise NotImplementedError(f"{type(self).__name__} does not detect changes")

    def read_relations(
        self, conn: Connection, database: str, schema: str, names: set[str]
    ) -> list[TableMeta]:
        """The named relations of a schema, as `read_schema` reads them; connectors that
        detect changes read only these."""
        return [t for t in self.read_schema(conn, database, schema) if t.name in names]

    def catalog_stamp(
        self, conn: Connection, database: str, schemas: list[str]
    ) -> tuple[str, dict[str, list[str]]]:
        """For connectors that stamp their catalog: a value that changes whenever anything
        `relation_digests` hashes may have changed, taken first, and the names of the
        relations of these schemas (the ones `relation_digests` would hash), without hashing."""
        raise NotImplementedError(f"{type(self).__name__} does not stamp its catalog")

    # -- connections ---------------------------------------------------------------------------
    def engine_key(self, database: str) -> str:
        """Databases sharing one engine share a key: a file's, a server's without databases."""
        return database

    def engine(self, database: str) -> Engine:
        key = self.engine_key(database)
        eng = self._engines.get(key)
        if eng is None:
            eng = self._engines[key] = self.new_engine(database)
        return eng

    def new_engine(self, database: str) -> Engine:
        """The engine this source uses for `database` from now until `release`/`close`."""
        return self.make_engine(database)

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
        for early in self._early.values():  # a run that ended before reading its databases
            with contextlib.suppress(Exception):
                early.result()
        self._early.clear()
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
        self._start_early(databases)

    def _start_early(self, configured: list[str]) -> None:
        """For a source of one database that stamps its catalog: list its schemas and take the
        stamp in the background now, while the runner loads its own state. On an unchanged
        database that stamp is most of the run's wait on the source, and nothing it reads
        depends on the runner's state (the stamp is still taken before any hash or read)."""
        if not self.stamps_catalog or self.ctx.options.sample_data or self._early:
            return
        if len(configured) != 1 or self.databases() != configured:
            return
        database = configured[0]
        db_fqn = fqn_mod.join([self.service, database])
        pool = ThreadPoolExecutor(1, thread_name_prefix="lodestar-stamp")
        self._early[database] = pool.submit(self._meta_and_stamp, db_fqn, database)
        pool.shutdown(wait=False)

    def _meta_and_stamp(
        self, db_fqn: str, database: str
    ) -> tuple[DatabaseMeta, list[SchemaMeta], _Stamped]:
        """The database's description, the schemas this recipe reads, and its catalog stamp
        (None where the connector takes none)."""
        meta = self._database_meta(db_fqn, database)
        schemas = self._schemas(meta)
        return meta, schemas, self._stamp(db_fqn, database, [s.name for s in schemas])

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

    def skip_unchanged(self, previous: Mapping[str, str]) -> None:
        self._previous = previous

    def units(self) -> Iterator[Unit]:
        svc = self.service
        service_body = self.service_body()
        for database in self.databases():
            db_fqn = fqn_mod.join([svc, database])
            early = self._early.pop(database, None)
            try:
                if early is not None:
                    meta, schemas, stamped = early.result()
                else:
                    meta, schemas, stamped = self._meta_and_stamp(db_fqn, database)
            except PermanentError as e:
                yield Unit(db_fqn, error=str(e))
                continue
            db_body = _drop_none(
                {"name": database, "service": svc, "description": _cut(meta.description)}
            )
            if not schemas:
                yield Unit(db_fqn, assets=[("service", service_body), ("database", db_body)])
            parents = [service_body, db_body]
            yield from self._database_units(database, db_fqn, parents, schemas, stamped)
            self.release(database)

    def _schemas(self, meta: DatabaseMeta) -> list[SchemaMeta]:
        """The database's schemas this recipe reads, by name."""
        allows = self.ctx.filters.schemas.allows
        return sorted(
            (s for s in meta.schemas if not is_system_schema(s.name) and allows(s.name)),
            key=lambda s: s.name,
        )

    def _database_units(
        self,
        database: str,
        db_fqn: str,
        parents: list[dict[str, Any]],
        schemas: list[SchemaMeta],
        stamped: _Stamped,
    ) -> Iterator[Unit]:
        """The schemas' units and, where the connector stamps its catalog (`stamped`, taken
        first), the database's marker last: no relation is hashed or read when the stamp says
        nothing changed, only the changed ones when the hashes say so (sql_changes)."""
        names = [s.name for s in schemas]
        fast = (
            None
            if stamped is None
            else self._unchanged_database(database, parents, schemas, *stamped)
        )
        if fast is not None:
            for schema in schemas:
                yield from self._schema_units(
                    database, schema, parents, None, unchanged=fast.get(schema.name, {})
                )
            key = marker_key(db_fqn)
            yield Unit(key, fingerprint=self._previous[key], unchanged=True, marker=True)
            return
        digests = self._digests(db_fqn, database, names)
        self._intended = {} if stamped is not None and digests is not None else None
        try:
            for schema in schemas:
                relations = None if digests is None else digests.get(schema.name, {})
                yield from self._schema_units(database, schema, parents, relations)
            if stamped is not None and self._intended is not None:
                marker = self._marker(database, parents, schemas, stamped[0], self._intended)
                if marker is not None:
                    yield Unit(marker_key(db_fqn), fingerprint=marker, marker=True)
        finally:
            self._intended = None

    def _stamp(self, db_fqn: str, database: str, schemas: list[str]) -> _Stamped:
        """The catalog stamp and relation names, or None where the fast path does not apply:
        no stamp, no schemas, or sample data on (sample rows are read every run anyway)."""
        if not (self.stamps_catalog and schemas) or self.ctx.options.sample_data:
            return None
        return self._maybe_query(
            f"stamp the catalog of {db_fqn}",
            database,
            lambda conn: self.catalog_stamp(conn, database, schemas),
            f"{db_fqn}: the catalog stamp failed, every relation is hashed",
        )

    def _maybe_query(
        self, what: str, database: str, fn: Callable[[Connection], T], fallback: str
    ) -> T | None:
        """A query change detection can do without: on failure, warn and return None."""
        try:
            return self.query(what, database, fn)
        except IngestError as e:
            self.ctx.warn(f"{fallback}: {e}")
            return None

    def _contexts(
        self, database: str, parents: list[dict[str, Any]], schemas: list[SchemaMeta]
    ) -> dict[str, str] | None:
        """Each schema's context fingerprint (see `_plan`); None if a name makes no FQN."""
        out = {}
        for schema in schemas:
            try:
                s_body = self._schema_body(database, schema)
            except fqn_mod.FQNError:
                return None
            out[schema.name] = self._context([*parents, s_body])
        return out

    def _marker(
        self,
        database: str,
        parents: list[dict[str, Any]],
        schemas: list[SchemaMeta],
        stamp: str,
        relations: Mapping[str, str | None],
    ) -> str | None:
        """The marker fingerprint (sql_changes.catalog_fingerprint); None when a relation's
        fingerprint is left to the runner (sampled) or a name makes no FQN."""
        contexts = self._contexts(database, parents, schemas)
        if contexts is None or any(fp is None for fp in relations.values()):
            return None
        return catalog_fingerprint(stamp, contexts, relations)

    def _unchanged_database(
        self,
        database: str,
        parents: list[dict[str, Any]],
        schemas: list[SchemaMeta],
        stamp: str,
        names: dict[str, list[str]],
    ) -> dict[str, dict[str, str]] | None:
        """When the stamp says nothing changed since every relation was committed as it is
        now: schema -> relation name -> its committed fingerprint. None: hash them."""
        previous = self._previous
        marker = previous.get(marker_key(fqn_mod.join([self.service, database])))
        if marker is None:
            return None
        allows = self.ctx.filters.tables.allows
        committed: dict[str, str | None] = {}
        plans: dict[str, dict[str, str]] = {}
        for schema in schemas:
            plan: dict[str, str] = {}
            for name in names.get(schema.name, []):
                if not allows(name):
                    continue
                try:
                    key = fqn_mod.join([self.service, database, schema.name, name])
                except fqn_mod.FQNError:
                    return None
                fp = previous.get(key)
                if fp is None:
                    return None
                committed[key] = plan[name] = fp
            plans[schema.name] = plan
        if self._marker(database, parents, schemas, stamp, committed) != marker:
            return None
        return plans

    def _digests(self, db_fqn: str, database: str, schemas: list[str]) -> Digests | None:
        """The relations' hashes, taken before any of them is read; None: read everything."""
        if not self.detects_changes or not schemas:
            return None
        return self._maybe_query(
            f"fingerprint the relations of {db_fqn}",
            database,
            lambda conn: self.relation_digests(conn, database, schemas),
            f"{db_fqn}: change detection failed, every relation is read",
        )

    def _database_meta(self, db_fqn: str, database: str) -> DatabaseMeta:
        return self.query(
            f"list the schemas of {db_fqn}",
            database,
            lambda conn: self.read_database(conn, database),
        )

    def _schema_body(self, database: str, schema: SchemaMeta) -> dict[str, Any]:
        return _drop_none(
            {
                "name": schema.name,
                "database": fqn_mod.join([self.service, database]),
                "description": _cut(schema.description),
            }
        )

    def _context(self, parents: list[dict[str, Any]]) -> str:
        """What every relation unit of a schema carries besides the relation itself."""
        return context_fingerprint(
            type(self).__name__, self.fingerprint_version, parents, self.ctx.options
        )

    def _schema_units(
        self,
        database: str,
        schema: SchemaMeta,
        parents: list[dict[str, Any]],
        relations: dict[str, RelationDigest] | None,
        *,
        unchanged: dict[str, str] | None = None,
    ) -> Iterator[Unit]:
        """The schema's unit, then one per relation: read, or not read when its hash
        (`relations`) or the database's catalog stamp (`unchanged`: name -> fingerprint) says
        it is as committed."""
        svc = self.service
        try:
            s_fqn = fqn_mod.join([svc, database, schema.name])
        except fqn_mod.FQNError as e:
            yield Unit(f"{svc}.{database}.{schema.name!r}", error=f"schema {schema.name!r}: {e}")
            return
        s_body = self._schema_body(database, schema)
        assets = [("service", parents[0]), ("database", parents[1]), ("schema", s_body)]
        allows = self.ctx.filters.tables.allows
        plan = None
        if unchanged is not None:
            plan = SchemaPlan(unchanged=dict(unchanged))
        elif relations is not None:
            plan = self._plan(database, schema.name, [*parents, s_body], relations)
            if self._intended is not None:
                for name, fp in [*plan.unchanged.items(), *plan.extract.items()]:
                    with contextlib.suppress(fqn_mod.FQNError):
                        self._intended[fqn_mod.join([svc, database, schema.name, name])] = fp
        try:
            tables = self._read_tables(database, schema.name, s_fqn, plan)
        except PermanentError as e:
            yield Unit(s_fqn, error=str(e))
            return
        yield Unit(s_fqn, assets=list(assets))
        read = {t.name: t for t in tables if allows(t.name)}
        # The columns of what was read, for `*` in the views of this schema.
        columns = {
            fqn_mod.join([svc, database, schema.name, t.name]): [c.name for c in t.columns]
            for t in tables
            if t.error is None and not _bad_part(t.name)
        }
        skip = plan.unchanged if plan is not None else {}
        for name in sorted(read.keys() | skip.keys()):
            table = read.get(name)
            if table is None:
                key = fqn_mod.join([self.service, database, schema.name, name])
                yield Unit(key, fingerprint=skip[name], unchanged=True)
                continue
            unit = self._table_unit(database, schema.name, s_fqn, table, assets)
            if table.view_sql and unit.error is None and self.sql_dialect is not None:
                unit.lineage = self.view_lineage(database, schema.name, unit.key, table, columns)
            if plan is not None and unit.error is None:
                unit.fingerprint = plan.extract.get(name)
            yield unit

    def _plan(
        self,
        database: str,
        schema: str,
        parents: list[dict[str, Any]],
        relations: dict[str, RelationDigest],
    ) -> SchemaPlan:
        def key_of(name: str) -> str | None:
            try:
                return fqn_mod.join([self.service, database, schema, name])
            except fqn_mod.FQNError:
                return None

        opts = self.ctx.options
        return plan_schema(
            relations,
            context=self._context(parents),
            previous=self._previous,
            key_of=key_of,
            allows=self.ctx.filters.tables.allows,
            sampled=lambda t: opts.sample_data and t in self.sampled_types,
        )

    def _read_tables(
        self, database: str, schema: str, s_fqn: str, plan: SchemaPlan | None
    ) -> list[TableMeta]:
        """The schema's relations that need reading: all of them without a plan (or when
        none is unchanged), the changed ones with it, none when nothing changed."""
        if plan is not None and not plan.extract:
            return []
        if plan is None or not plan.unchanged:
            return self.query(
                f"read the catalog of {s_fqn}",
                database,
                lambda conn: self.read_schema(conn, database, schema),
            )
        names = set(plan.extract)
        return self.query(
            f"read the changed relations of {s_fqn}",
            database,
            lambda conn: self.read_relations(conn, database, schema, names),
        )

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
            if (
                c.type != "foreign_key"
                and len(c.columns) == 1
                and c.columns[0] not in column_constraint
            ):  # a column holds one; a second (UNIQUE on the key) is kept on the table
                column_constraint[c.columns[0]] = c.type
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
                "ordinal": col.ordinal or i,
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
        view_sql = view_query(table.view_sql)
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
                "partitioning": table.partitioning,
            }
        )

    def view_lineage(
        self,
        database: str,
        schema: str,
        view_fqn: str,
        table: TableMeta,
        columns: dict[str, list[str]],
    ) -> list[LineageItem]:
        """Table and column lineage into a view from its SQL; SQL the analyzer cannot read
        is a warning in the run report, and the view is ingested all the same."""
        assert self.sql_dialect is not None and table.view_sql is not None
        naming = Naming(self.service, database, schema, self.sql_dialect)
        try:
            found = analyze_sql(table.view_sql, naming, target=view_fqn, columns=columns)
        except Exception as e:  # the analyzer promises not to raise; a view never fails
            self.ctx.warn(f"{view_fqn}: view SQL not analyzed: {type(e).__name__}: {e}")
            return []
        for problem in found.errors[:5]:
            self.ctx.warn(f"{view_fqn}: view lineage incomplete: {problem}")
        return list(found.lineage())

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
        """Up to `sample_rows` rows, personal-looking columns and cells masked, values
        JSON-safe."""
        names = [c.name for c in table.columns]
        masked = [looks_personal(n) for n in names]
        shown = [n for n, m in zip(names, masked, strict=True) if not m]
        limit = self.ctx.options.sample_rows
        stmt = self.sample_statement(schema, table, shown, limit)

        def read(conn: Connection) -> list[list[Any]]:
            out = []
            for row in conn.execute(stmt).fetchmany(limit):
                it = iter(row)
                out.append([MASK if m else masked_cell(next(it)) for m in masked])
            return out

        try:
            rows = self.query(f"read sample rows of {key}", database, read)
        except IngestError as e:
            raise type(e)(f"sample data: {e}") from e
        return {"columns": names, "rows": bounded_rows(rows)}


def _bad_part(name: str) -> bool:
    try:
        fqn_mod.check_part(name)
    except fqn_mod.FQNError:
        return True
    return False


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _cut(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return text[:_MAX_DESCRIPTION]


# Engines of server sources, kept between runs; their connections are not (`release` and
# `close` dispose of the pool). A new engine's first connection runs its dialect's set-up
# queries, about 10 ms of a 60 ms unchanged run, and a scheduler process runs the same
# pipelines again and again. Keyed by everything `make_engine` reads, the secret included.
_SHARED_ENGINES: OrderedDict[tuple[str, ...], Engine] = OrderedDict()
_SHARED_ENGINES_MAX = 32
_SHARED_ENGINES_LOCK = threading.Lock()


def _shared_engine(key: tuple[str, ...], make: Callable[[], Engine]) -> Engine:
    with _SHARED_ENGINES_LOCK:
        eng = _SHARED_ENGINES.get(key)
        if eng is not None:
            _SHARED_ENGINES.move_to_end(key)
            return eng
        eng = _SHARED_ENGINES[key] = make()
        while len(_SHARED_ENGINES) > _SHARED_ENGINES_MAX:
            _SHARED_ENGINES.popitem(last=False)[1].dispose()
        return eng


class ServerSQLSource(SQLSource):
    """A database server reached by host, port and user (PostgreSQL, MySQL)."""

    def new_engine(self, database: str) -> Engine:
        c = expect_config(self.config, ServerConfig)
        shared_key = (
            type(self).__qualname__,
            database,
            c.model_dump_json(),  # the secret is masked here, hence the next item
            c.secret() or "",
        )
        return _shared_engine(shared_key, lambda: self.make_engine(database))

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

    def existing_path(self) -> Path:
        """The database file, which must exist: a connector never creates one."""
        if not self.path.is_file():
            raise PermanentError(f"the {self.system} file {self.path} does not exist: check `path`")
        return self.path

    def connection_info(self) -> dict[str, ConnectionValue]:
        return {"path": str(self.path)}


_IDENT = r'(?:"(?:[^"]|"")*"|[^\s."(]+)'
_CREATE_VIEW = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"{_IDENT}(?:\s*\.\s*{_IDENT})*\s*(?:\([^)]*\)\s*)?AS\s+",
    re.IGNORECASE,
)


def view_query(sql: str | None) -> str | None:
    """The query of a view, in one form whatever the source: PostgreSQL and MySQL give the
    query, SQLite and DuckDB keep the whole `CREATE VIEW name AS ...;` statement."""
    if sql is None:
        return None
    m = _CREATE_VIEW.match(sql)
    query = sql[m.end() :] if m else sql
    return query.strip().removesuffix(";").rstrip()
