"""MySQL and MariaDB: schemas (MySQL's "databases"), tables and views.

MySQL has no database level above its schemas, so, as in OpenMetadata, every schema is filed
under one database named by `database_name` ("default"): `service.default.schema.table`. Each
schema is read with four information_schema queries. Row counts are `table_rows`, which InnoDB
estimates (and MySQL 8 caches for `information_schema_stats_expiry` seconds).

Change detection (see sql_changes): four queries over all schemas hash, per relation, what those
queries read. The columns and keys are hashed by the server (GROUP_CONCAT and MD5, grouped by
the names' exact bytes: information_schema compares names case- and accent-insensitively), so
an unchanged run fetches 1,100 rows for 1,000 tables instead of every column; the pure-Python
driver's row parsing was most of such a run. Only changed relations are read again.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar, Literal

# Imported here so that, without the driver, the registry lists this connector as needing
# `pip install 'lodestar[mysql]'` instead of failing at the first connection.
import orjson
import pymysql  # noqa: F401
import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection, Engine

from lodestar.ingest.connectors.sql_changes import Digests, RelationDigest
from lodestar.ingest.connectors.sql_common import (
    ColumnMeta,
    ConstraintMeta,
    DatabaseMeta,
    SchemaMeta,
    ServerConfig,
    ServerSQLSource,
    TableMeta,
    driver_message,
    expect_config,
    fetch,
)
from lodestar.ingest.source import SourceConfig, SourceContext
from lodestar.model import fqn as fqn_mod
from lodestar.model.kinds.table import TableType


class MySQLConfig(ServerConfig):
    port: int = Field(3306, ge=1, le=65535, description="TCP port of the server.")
    database_name: str = Field(
        "default",
        description="Name of the database level the schemas are filed under (MySQL has none): "
        "FQNs read `service.<database_name>.schema.table`.",
    )
    ssl_ca: Path | None = Field(
        None, description="CA certificate file: connect over TLS and verify the server with it."
    )

    @field_validator("database_name")
    @classmethod
    def _database_name(cls, v: str) -> str:
        try:
            return fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}; keep the default `default` or name it like `prod`") from None


_TYPES: dict[str, TableType] = {
    "BASE TABLE": "table",
    "SYSTEM VERSIONED": "table",
    "VIEW": "view",
}
_CONTYPES: dict[str, Literal["primary_key", "unique", "foreign_key"]] = {
    "PRIMARY KEY": "primary_key",
    "UNIQUE": "unique",
    "FOREIGN KEY": "foreign_key",
}

_SCHEMAS = sa.text("SELECT schema_name AS schema_name FROM information_schema.schemata")
_BY_NAME = " AND {table}table_name IN :names"


def _broken_view(conn: Connection, schema: str, name: str) -> str:
    """A view always has a column; information_schema lists none for one whose tables,
    columns or definer are gone (with a warning, not an error). Reading it says why."""
    reason = "information_schema lists no column for it"
    try:
        conn.execute(sa.text(f"SELECT * FROM {_ident(schema)}.{_ident(name)} LIMIT 0")).all()
    except sa.exc.DBAPIError as e:
        reason = driver_message(e)
    return f"view {name!r} is broken, skipped: {reason}"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _catalog_query(sql: str, table: str = "") -> tuple[sa.TextClause, sa.TextClause]:
    """A per-schema catalog query, and the same narrowed to the relations named in :names."""
    narrowed = sa.text(sql + _BY_NAME.format(table=table)).bindparams(
        sa.bindparam("names", expanding=True)
    )
    return sa.text(sql), narrowed


_TABLES, _TABLES_NAMED = _catalog_query(
    """
    SELECT table_schema AS table_schema, table_name AS table_name, table_type AS table_type,
           table_comment AS table_comment, table_rows AS table_rows
    FROM information_schema.tables WHERE table_schema = :schema
    """
)
_COLUMNS, _COLUMNS_NAMED = _catalog_query(
    """
    SELECT table_schema AS table_schema, table_name AS table_name,
           column_name AS column_name, ordinal_position AS ordinal_position,
           column_type AS column_type, is_nullable AS is_nullable,
           column_default AS column_default, column_comment AS column_comment,
           extra AS extra, generation_expression AS generation_expression
    FROM information_schema.columns WHERE table_schema = :schema
    """
)
_CONSTRAINTS, _CONSTRAINTS_NAMED = _catalog_query(
    """
    SELECT k.table_schema AS table_schema, k.table_name AS table_name,
           k.constraint_name AS constraint_name, t.constraint_type AS constraint_type,
           k.column_name AS column_name, k.ordinal_position AS ordinal_position,
           k.referenced_table_schema AS referenced_table_schema,
           k.referenced_table_name AS referenced_table_name,
           k.referenced_column_name AS referenced_column_name
    FROM information_schema.key_column_usage k
    JOIN information_schema.table_constraints t
      ON t.constraint_schema = k.constraint_schema AND t.table_schema = k.table_schema
     AND t.table_name = k.table_name AND t.constraint_name = k.constraint_name
     -- a UNIQUE key and a FOREIGN KEY may share a name: a usage row with a referenced
     -- table belongs to the foreign key, one without to the other constraint
     AND (k.referenced_table_name IS NULL) = (t.constraint_type <> 'FOREIGN KEY')
    WHERE k.table_schema = :schema
      AND t.constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
    """,
    table="k.",
)
_VIEWS, _VIEWS_NAMED = _catalog_query(
    """
    SELECT table_schema AS table_schema, table_name AS table_name,
           view_definition AS view_definition
    FROM information_schema.views WHERE table_schema = :schema
    """
)

# Change detection: what the four queries above read, hashed per relation. Every field goes
# through QUOTE (NULL comes out as the word NULL, text quoted and escaped), so no two different
# rows concatenate to the same text. key_column_usage alone holds everything the constraint
# query keeps: a key named PRIMARY is the primary key, one with a referenced table a foreign
# key, any other a unique key.
_DIGEST_SESSION = "SET SESSION group_concat_max_len = 1073741824"
_DIGEST_TABLES = sa.text(
    """
    SELECT table_schema, table_name, table_type, table_comment, table_rows
    FROM information_schema.tables WHERE table_schema IN :schemas
    """
).bindparams(sa.bindparam("schemas", expanding=True))
_DIGEST_COLUMNS = sa.text(
    """
    SELECT MIN(table_schema), MIN(table_name),
           MD5(GROUP_CONCAT(CONCAT_WS(',', ordinal_position, QUOTE(column_name),
                                      QUOTE(column_type), QUOTE(is_nullable),
                                      QUOTE(column_default), QUOTE(column_comment),
                                      QUOTE(extra), QUOTE(generation_expression))
                            ORDER BY ordinal_position SEPARATOR ';'))
    FROM information_schema.columns WHERE table_schema IN :schemas
    GROUP BY CAST(table_schema AS BINARY), CAST(table_name AS BINARY)
    """
).bindparams(sa.bindparam("schemas", expanding=True))
_DIGEST_KEYS = sa.text(
    """
    SELECT MIN(table_schema), MIN(table_name),
           MD5(GROUP_CONCAT(CONCAT_WS(',', QUOTE(constraint_name), ordinal_position,
                                      QUOTE(column_name), QUOTE(referenced_table_schema),
                                      QUOTE(referenced_table_name),
                                      QUOTE(referenced_column_name))
                            ORDER BY constraint_name, ordinal_position SEPARATOR ';'))
    FROM information_schema.key_column_usage WHERE table_schema IN :schemas
    GROUP BY CAST(table_schema AS BINARY), CAST(table_name AS BINARY)
    """
).bindparams(sa.bindparam("schemas", expanding=True))
_DIGEST_VIEWS = sa.text(
    """
    SELECT table_schema, table_name, MD5(view_definition)
    FROM information_schema.views WHERE table_schema IN :schemas
    """
).bindparams(sa.bindparam("schemas", expanding=True))


def _default(default: str | None, extra: str, expression: str | None) -> str | None:
    extra_l = (extra or "").lower()
    if "generated" in extra_l and "default_generated" not in extra_l and expression:
        how = "STORED" if "stored" in extra_l else "VIRTUAL"
        return f"GENERATED ALWAYS AS ({expression}) {how}"
    on_update = _ON_UPDATE.search(extra or "")
    # MariaDB spells an explicit DEFAULT NULL as the text NULL.
    if default is None or default == "NULL":
        if "auto_increment" in extra_l:
            return "auto_increment"
        return None if on_update is None else f"NULL {on_update.group(0)}"
    return default if on_update is None else f"{default} {on_update.group(0)}"


# `ON UPDATE current_timestamp()` (MariaDB) / `on update CURRENT_TIMESTAMP` (MySQL), kept in
# the default as the DDL spells it: the column changes on every update of its row.
_ON_UPDATE = re.compile(r"on update \S+(?:\(\d*\))?", re.IGNORECASE)


class MySQLSource(ServerSQLSource):
    config_model = MySQLConfig
    description = (
        "MySQL and MariaDB: schemas, tables and views with columns, keys, comments, "
        "row counts and opt-in sample data."
    )
    service_type: ClassVar[str] = "mysql"
    system: ClassVar[str] = "MySQL"
    detects_changes: ClassVar[bool] = True
    fingerprint_version: ClassVar[int] = 3  # 2: views carry lineage from their SQL; 3: ON UPDATE
    sql_dialect: ClassVar[str | None] = "mysql"

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.cfg = expect_config(config, MySQLConfig)

    def make_engine(self, database: str) -> Engine:
        c = self.cfg
        url = sa.URL.create(
            "mysql+pymysql",
            username=c.username,
            password=c.secret(),
            host=c.host,
            port=c.port,
            query={"charset": "utf8mb4"},
        )
        connect_args: dict[str, Any] = {"connect_timeout": c.connect_timeout}
        if c.ssl_ca is not None:
            connect_args["ssl"] = {"ca": str(c.ssl_ca)}
        return sa.create_engine(url, pool_size=2, max_overflow=2, connect_args=connect_args)

    def database_configured(self, database: str) -> bool:
        return database == self.cfg.database_name

    def list_databases(self) -> list[str]:
        return [self.cfg.database_name]

    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        return DatabaseMeta(None, [SchemaMeta(str(r[0])) for r in fetch(conn, _SCHEMAS)])

    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        return self._read(conn, schema, None)

    def read_relations(
        self, conn: Connection, database: str, schema: str, names: set[str]
    ) -> list[TableMeta]:
        # The name filter matches case- and accent-insensitively too: keep exact names only.
        return [t for t in self._read(conn, schema, sorted(names)) if t.name in names]

    def relation_digests(self, conn: Connection, database: str, schemas: list[str]) -> Digests:
        conn.exec_driver_sql(_DIGEST_SESSION)  # MySQL's default would cut the lists at 1 KB
        wanted = set(schemas)

        def by_name(stmt: sa.TextClause) -> dict[tuple[str, str], str]:
            return {(sch, name): digest for sch, name, digest in fetch(conn, stmt, schemas=schemas)}

        columns = by_name(_DIGEST_COLUMNS)
        keys = by_name(_DIGEST_KEYS)
        views = by_name(_DIGEST_VIEWS)
        counted = self.ctx.options.row_counts
        out: Digests = {}
        for sch, name, kind, comment, rows in fetch(conn, _DIGEST_TABLES, schemas=schemas):
            table_type = _TYPES.get(kind)
            if sch not in wanted or table_type is None:
                continue
            at = (sch, name)
            value = [
                kind,
                None if table_type == "view" else comment,
                rows if counted and table_type == "table" else None,
                columns.get(at),
                keys.get(at),
                views.get(at),
            ]
            digest = hashlib.md5(orjson.dumps(value), usedforsecurity=False).hexdigest()
            out.setdefault(sch, {})[name] = RelationDigest(table_type, digest)
        return out

    def _read(self, conn: Connection, schema: str, names: list[str] | None) -> list[TableMeta]:
        def rows(everything: sa.TextClause, named: sa.TextClause) -> list[Any]:
            if names is None:
                return fetch(conn, everything, schema=schema)
            return fetch(conn, named, schema=schema, names=names) if names else []

        # information_schema compares names case- and accent-insensitively: keep exact matches.
        tables: dict[str, TableMeta] = {}
        for sch, name, kind, comment, count in rows(_TABLES, _TABLES_NAMED):
            table_type = _TYPES.get(kind)
            if sch != schema or table_type is None:
                continue
            tables[name] = TableMeta(
                name=name,
                table_type=table_type,
                description=None if table_type == "view" else comment,
                row_count=int(count) if count is not None and table_type == "table" else None,
            )
        columns: defaultdict[str, list[tuple[int, ColumnMeta]]] = defaultdict(list)
        for sch, tname, name, pos, ctype, nullable, default, comment, extra, expr in rows(
            _COLUMNS, _COLUMNS_NAMED
        ):
            if sch == schema and tname in tables:
                column = ColumnMeta(
                    name, ctype, nullable == "YES", _default(default, extra, expr), comment
                )
                columns[tname].append((int(pos), column))
        for tname, cols in columns.items():
            tables[tname].columns = [c for _, c in sorted(cols, key=lambda pc: pc[0])]
        for table in tables.values():
            if table.table_type == "view" and not table.columns:
                table.error = _broken_view(conn, schema, table.name)
        keys: dict[tuple[str, str, str], list[tuple[int, str, str | None, str | None, Any]]] = {}
        for row in rows(_CONSTRAINTS, _CONSTRAINTS_NAMED):
            sch, tname, cname, ctype, col, pos, ref_schema, ref_table, ref_col = row
            if sch == schema and tname in tables:
                keys.setdefault((tname, cname, ctype), []).append(
                    (int(pos), col, ref_schema, ref_table, ref_col)
                )
        for (tname, cname, ctype), parts in keys.items():
            parts.sort(key=lambda p: p[0])
            tables[tname].constraints.append(
                ConstraintMeta(
                    type=_CONTYPES[ctype],
                    columns=[p[1] for p in parts],
                    name=cname,
                    referred_schema=parts[0][2],
                    referred_table=parts[0][3],
                    referred_columns=[p[4] for p in parts if p[4] is not None],
                )
            )
        for sch, name, definition in rows(_VIEWS, _VIEWS_NAMED):
            if sch == schema and name in tables:
                if definition:
                    tables[name].view_sql = definition
                else:
                    self.ctx.warn(
                        f"{schema}.{name}: the view's SQL is hidden; grant SHOW VIEW to "
                        f"{self.cfg.username!r} to read it"
                    )
        return list(tables.values())
