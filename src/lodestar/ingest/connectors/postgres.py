"""PostgreSQL: databases, schemas, tables, views, materialized views and foreign tables.

Each schema is read with three catalog queries (relations, columns, constraints) in one
REPEATABLE READ snapshot, instead of one reflection round trip per table. Row counts come from
`pg_class.reltuples` (the planner's statistics; absent before the first ANALYZE). Partitions
are left out: their partitioned parent stands for them. Needs PostgreSQL 12 or later.

Before that, one query per database hashes, per relation, everything those three queries read
(`_DIGESTS`), so that a run reads again only the relations whose hash moved (see sql_changes).
Whatever is added to the three queries must be added to `_DIGESTS` too, and
`fingerprint_version` bumped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from pydantic import Field, model_validator
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
    expect_config,
    fetch,
)
from lodestar.ingest.source import SourceConfig, SourceContext
from lodestar.model.kinds.table import TableType

SSLMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresConfig(ServerConfig):
    port: int = Field(5432, ge=1, le=65535, description="TCP port of the server.")
    database: str | None = Field(
        None,
        description="Ingest only this database. With neither `database` nor `databases` set, "
        "every database the user can connect to is ingested (templates excluded).",
    )
    databases: list[str] | None = Field(
        None, description="Ingest these databases (instead of one `database`)."
    )
    initial_database: str = Field(
        "postgres", description="Database to connect to when discovering the others."
    )
    sslmode: SSLMode = Field(
        "prefer", description="libpq sslmode: disable, allow, prefer, require, verify-ca, ..."
    )

    @model_validator(mode="after")
    def _one_way(self) -> PostgresConfig:
        if self.database is not None and self.databases is not None:
            raise ValueError("set either `database` or `databases`, not both")
        if self.databases is not None and not self.databases:
            raise ValueError("list at least one database, or leave `databases` out to take all")
        for name in [self.database, *(self.databases or [])]:
            if name is not None and not name.strip():
                raise ValueError("a database name must not be empty")
        return self


_KINDS: dict[str, TableType] = {
    "r": "table",
    "p": "table",
    "v": "view",
    "m": "materialized_view",
    "f": "external",
}

_DATABASES = sa.text(
    "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn "
    "AND has_database_privilege(datname, 'CONNECT')"
)
_DATABASE = sa.text(
    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
    "WHERE datname = current_database()"
)
_SCHEMAS = sa.text(
    """
    SELECT n.nspname, d.description
    FROM pg_namespace n
    LEFT JOIN pg_description d
      ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    """
)
_RELATIONS = sa.text(
    """
    SELECT c.oid, c.relname, c.relkind, d.description, c.reltuples::bigint,
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END
    FROM pg_class c
    LEFT JOIN pg_description d
      ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
    WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :schema)
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
      AND (CAST(:names AS text[]) IS NULL OR c.relname = ANY(CAST(:names AS text[])))
    """
)
# The partitions (or old-style INHERITS children) of the given tables, in name order.
_CHILDREN = sa.text(
    """
    SELECT i.inhparent, c.relname, c.relispartition, pg_get_expr(c.relpartbound, c.oid),
           c.reltuples::bigint
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = ANY(CAST(:oids AS oid[]))
    ORDER BY i.inhparent, c.relname
    """
)
_COLUMNS = sa.text(
    """
    SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(ad.adbin, ad.adrelid), d.description, a.attidentity, a.attgenerated
    FROM pg_attribute a
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN pg_description d
      ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
    WHERE a.attrelid = ANY(CAST(:oids AS oid[]))
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum
    """
)
_CONSTRAINTS = sa.text(
    """
    SELECT con.conrelid, con.contype, con.conname, con.conkey, fn.nspname, fc.relname,
           CASE WHEN con.contype = 'f' THEN
             ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                   ORDER BY k.i)
           END
    FROM pg_constraint con
    LEFT JOIN pg_class fc ON fc.oid = con.confrelid
    LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE con.conrelid = ANY(CAST(:oids AS oid[])) AND con.contype IN ('p', 'u', 'f')
    """
)
# One row per relation of the schemas: its kind and an md5 over the expressions the three
# queries above read, or a superset of them (every comment and default of the relation); a
# record's text form keeps NULL apart from '' and quotes separators. About 70 ms for 1,100
# relations of 30 columns: descriptions and defaults are aggregated per relation (index
# lookups) instead of joined per column.
_DIGESTS = sa.text(
    """
    SELECT n.nspname, c.relname, c.relkind, md5(ROW(
      c.relkind,
      CASE WHEN :row_counts AND c.relkind IN ('r', 'p', 'm') THEN c.reltuples::bigint END,
      CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
      CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
      (SELECT string_agg(ROW(ch.relname, ch.relispartition, pg_get_expr(ch.relpartbound, ch.oid),
                             CASE WHEN :row_counts THEN ch.reltuples::bigint END)::text, ','
                         ORDER BY ch.relname)
       FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid WHERE i.inhparent = c.oid),
      (SELECT string_agg(ROW(a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                             a.attnotnull, a.attidentity, a.attgenerated)::text, ','
                         ORDER BY a.attnum)
       FROM pg_attribute a
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
      (SELECT string_agg(ROW(ad.adnum, pg_get_expr(ad.adbin, ad.adrelid))::text, ','
                         ORDER BY ad.adnum)
       FROM pg_attrdef ad WHERE ad.adrelid = c.oid),
      (SELECT string_agg(ROW(d.objsubid, d.description)::text, ',' ORDER BY d.objsubid)
       FROM pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass),
      (SELECT string_agg(ROW(con.contype, con.conname, con.conkey, fn.nspname, fc.relname,
                CASE WHEN con.contype = 'f' THEN
                  ARRAY(SELECT fa.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                        JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.n
                        ORDER BY k.i)
                END)::text, ',' ORDER BY con.conname, con.contype)
       FROM pg_constraint con
       LEFT JOIN pg_class fc ON fc.oid = con.confrelid
       LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
       WHERE con.conrelid = c.oid AND con.contype IN ('p', 'u', 'f'))
    )::text)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(CAST(:schemas AS text[]))
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
    """
)
# The catalog stamp (see sql_changes): every change to a catalog row writes a new row version
# with the writing transaction's id (xmin), so the count and the xmin sum of each catalog the
# hashes read move with any DDL, in any schema (a false alarm only costs the hashes). Functions,
# operators, collations and text search configurations are in it because view SQL and
# defaults print their names. Row-count statistics are updated in place, without a new
# version, so they are stamped by value; so is the search path, which changes how
# pg_get_viewdef qualifies names.
#
# The sum is taken through age(xmin), an int4 function, because casting 50,000 xids to text
# and back cost a third of the query. age(x) is `now - x` in 32-bit arithmetic, with `now`
# fixed for the transaction, so with age('3') (3 is the first normal xid) the sum of `x - 3`
# over the normal xids comes out modulo 2^32 whatever `now` is. The bootstrap and frozen xids
# (1 and 2) have an age of INT_MAX: they are counted apart and taken back out. About 11 ms
# for a database of 1,100 relations (17 ms with the text cast).
_STAMPED_CATALOGS = (
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_description",
    "pg_rewrite",
    "pg_inherits",
    "pg_type",
    "pg_namespace",
    "pg_proc",
    "pg_operator",
    "pg_collation",
    "pg_ts_config",
)
_XMIN_SUM = """(SELECT n || ':' || mod(mod((n - special) * age('3'::xid)::bigint
                             - (ages - special * 2147483647), 4294967296) + 4294967296,
                         4294967296)
     FROM (SELECT count(*) AS n, sum(age(xmin)) AS ages,
                  count(*) FILTER (WHERE xmin = '1'::xid OR xmin = '2'::xid) AS special
           FROM {catalog}) AS t)"""
_STAMP = sa.text(
    "SELECT md5(concat_ws(';', "
    + "".join(f"{_XMIN_SUM.format(catalog=catalog)}, " for catalog in _STAMPED_CATALOGS)
    + """
      current_setting('search_path'),
      CASE WHEN :row_counts THEN
        (SELECT string_agg(c.oid::text || '=' || c.reltuples::text, ',' ORDER BY c.oid)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(CAST(:schemas AS text[])) AND c.relkind IN ('r', 'p', 'm'))
      END
    ))
    """
)
# The relations _DIGESTS would hash, by name only.
_RELATION_NAMES = sa.text(
    """
    SELECT n.nspname, c.relname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(CAST(:schemas AS text[]))
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
    """
)
MAX_PARTITIONS_LISTED = 4096
_CONTYPES: dict[str, Literal["primary_key", "unique", "foreign_key"]] = {
    "p": "primary_key",
    "u": "unique",
    "f": "foreign_key",
}


def _default(expr: str | None, identity: str, generated: str) -> str | None:
    if generated == "s":
        return f"GENERATED ALWAYS AS ({expr}) STORED"
    if identity == "a":
        return "GENERATED ALWAYS AS IDENTITY"
    if identity == "d":
        return "GENERATED BY DEFAULT AS IDENTITY"
    return expr


class PostgresSource(ServerSQLSource):
    config_model = PostgresConfig
    description = (
        "PostgreSQL: databases, schemas, tables, views and materialized views with columns, "
        "keys, comments, row counts from statistics and opt-in sample data."
    )
    service_type: ClassVar[str] = "postgres"
    system: ClassVar[str] = "PostgreSQL"
    detects_changes: ClassVar[bool] = True
    stamps_catalog: ClassVar[bool] = True
    # 2: views carry lineage from their SQL; 3: source ordinals, UNIQUE on a key column,
    # partitions folded into their table
    fingerprint_version: ClassVar[int] = 3
    sql_dialect: ClassVar[str | None] = "postgres"

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.cfg = expect_config(config, PostgresConfig)

    def make_engine(self, database: str) -> Engine:
        c = self.cfg
        url = sa.URL.create(
            "postgresql+psycopg",
            username=c.username,
            password=c.secret(),
            host=c.host,
            port=c.port,
            database=database,
        )
        return sa.create_engine(
            url,
            pool_size=2,
            max_overflow=2,
            connect_args={
                "connect_timeout": c.connect_timeout,
                "sslmode": c.sslmode,
                "application_name": "lodestar-ingest",
            },
        )

    def database_configured(self, database: str) -> bool:
        if self.cfg.database is not None:
            return database == self.cfg.database
        if self.cfg.databases is not None:
            return database in self.cfg.databases
        return True

    def list_databases(self) -> list[str]:
        if self.cfg.database is not None:
            return [self.cfg.database]
        if self.cfg.databases is not None:
            return list(self.cfg.databases)
        with self.connect(self.cfg.initial_database) as conn:
            return [str(row[0]) for row in fetch(conn, _DATABASES)]

    def read_database(self, conn: Connection, database: str) -> DatabaseMeta:
        description = conn.execute(_DATABASE).scalar()
        schemas = [SchemaMeta(name, desc) for name, desc in fetch(conn, _SCHEMAS)]
        return DatabaseMeta(description, schemas)

    def relation_digests(self, conn: Connection, database: str, schemas: list[str]) -> Digests:
        out: Digests = {}
        rows = fetch(conn, _DIGESTS, schemas=schemas, row_counts=self.ctx.options.row_counts)
        for schema, name, kind, digest in rows:
            out.setdefault(schema, {})[name] = RelationDigest(_KINDS[kind], digest)
        return out

    def catalog_stamp(
        self, conn: Connection, database: str, schemas: list[str]
    ) -> tuple[str, dict[str, list[str]]]:
        stamp = str(
            conn.execute(
                _STAMP, {"schemas": schemas, "row_counts": self.ctx.options.row_counts}
            ).scalar_one()
        )
        names: dict[str, list[str]] = {}
        for schema, name in fetch(conn, _RELATION_NAMES, schemas=schemas):
            names.setdefault(schema, []).append(name)
        return stamp, names

    @staticmethod
    def _fold_children(tables: dict[int, TableMeta], rows: Sequence[Sequence[Any]]) -> None:
        """Partitions are folded into their table: listed with their bounds on it (they are
        not catalogued as tables), their row counts summed into its own when it has none. A
        table with old-style INHERITS children lists them the same way; the children, which
        may add columns of their own, are still tables of their own."""
        summed: dict[int, int] = {}
        for parent, name, is_partition, bound, reltuples in rows:
            table = tables.get(parent)
            if table is None:
                continue
            if table.partitioning is None:
                table.partitioning = {"kind": "declarative" if is_partition else "inheritance"}
            part = table.partitioning
            listed = part.setdefault("partitions", [])
            part["partition_count"] = part.get("partition_count", 0) + 1
            if len(listed) < MAX_PARTITIONS_LISTED:
                listed.append({"name": name, "bound": bound} if bound else {"name": name})
            if is_partition and reltuples >= 0:
                summed[parent] = summed.get(parent, 0) + int(reltuples)
        for oid, table in tables.items():
            if table.partitioning is not None:
                table.partitioning.setdefault("partitions", [])
                table.partitioning.setdefault("partition_count", 0)
                if table.row_count is None and oid in summed:
                    table.row_count = summed[oid]

    def read_schema(self, conn: Connection, database: str, schema: str) -> list[TableMeta]:
        return self._read(conn, schema, None)

    def read_relations(
        self, conn: Connection, database: str, schema: str, names: set[str]
    ) -> list[TableMeta]:
        return self._read(conn, schema, sorted(names))

    def _read(self, conn: Connection, schema: str, names: list[str] | None) -> list[TableMeta]:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        tables: dict[int, TableMeta] = {}
        relations = fetch(conn, _RELATIONS, schema=schema, names=names)
        for oid, name, kind, comment, reltuples, view_sql, partkey in relations:
            table_type = _KINDS[kind]
            counted = table_type in ("table", "materialized_view") and reltuples >= 0
            tables[oid] = TableMeta(
                name=name,
                table_type=table_type,
                description=comment,
                view_sql=view_sql.strip() if view_sql else None,
                row_count=int(reltuples) if counted else None,
            )
            if partkey:
                tables[oid].partitioning = {"kind": "declarative", "key": partkey}
        parents = [oid for oid, t in tables.items() if t.table_type == "table"]
        children = fetch(conn, _CHILDREN, oids=parents) if parents else []
        self._fold_children(tables, children)
        # attnum -> name per table; columns in attnum order (a dropped column leaves a gap).
        # Looked up by the relations' oids, so the pg_attribute index is used instead of a
        # scan of every column of the database per schema.
        attnames: dict[int, dict[int, str]] = {}
        rows = fetch(conn, _COLUMNS, oids=list(tables)) if tables else []
        for oid, num, name, data_type, notnull, default, comment, ident, gen in rows:
            table = tables.get(oid)
            if table is not None:
                attnames.setdefault(oid, {})[num] = name
                default = _default(default, ident, gen)
                table.columns.append(
                    ColumnMeta(name, data_type, not notnull, default, comment, ordinal=num)
                )
        constraints = fetch(conn, _CONSTRAINTS, oids=list(tables)) if tables else []
        for oid, contype, cname, keys, ref_schema, ref_table, ref_columns in constraints:
            table = tables.get(oid)
            if table is not None:
                table.constraints.append(
                    ConstraintMeta(
                        type=_CONTYPES[contype],
                        columns=[attnames[oid][k] for k in keys],
                        name=cname,
                        referred_schema=ref_schema,
                        referred_table=ref_table,
                        referred_columns=list(ref_columns or []),
                    )
                )
        return list(tables.values())
