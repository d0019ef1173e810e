"""The SQL connectors against real PostgreSQL, MariaDB, SQLite and DuckDB databases.

Every zoo (see conftest.py) must round-trip exactly: FQNs with their quoting, types as the
source spells them, nullability, defaults, comments, ordinals, keys and view SQL; and every
extracted asset must be accepted by the real catalog and read back by FQN unchanged.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Key, WriteContext
from lodestar.catalog.writes import to_doc
from lodestar.ingest import registry
from lodestar.ingest.connectors.duckdb import DuckDBSource
from lodestar.ingest.connectors.generic import SQLAlchemySource
from lodestar.ingest.connectors.mysql import MySQLSource
from lodestar.ingest.connectors.postgres import PostgresConfig, PostgresSource
from lodestar.ingest.connectors.sample_data import json_safe, looks_personal, looks_personal_value
from lodestar.ingest.connectors.sql_common import SQLSource, view_query
from lodestar.ingest.connectors.sqlite import SQLiteSource
from lodestar.ingest.errors import PermanentError, TransientError
from lodestar.ingest.patterns import Filter, Filters
from lodestar.ingest.retry import RetryPolicy
from lodestar.ingest.source import Options, SourceContext, Unit
from lodestar.model import fqn
from lodestar.model.kinds.table import Table
from lodestar.model.records import Origin
from lodestar.store import open_store

from .conftest import LONG_NOTE, MariaZoo, PgZoo

FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


# -- helpers -----------------------------------------------------------------------------------


def run(
    source_cls: type[SQLSource],
    config: dict[str, Any],
    *,
    filters: Filters | None = None,
    **options: Any,
) -> tuple[list[Unit], SQLSource]:
    """check() then all units, as the runner does; the source is closed afterwards."""
    ctx = SourceContext("t", filters or Filters(), Options(retry=FAST_RETRY, **options))
    source = source_cls(source_cls.config_model.model_validate(config), ctx)
    try:
        source.check()
        units = list(source.units())
        source.scope()
    finally:
        source.close()
    return units, source


def tables(units: list[Unit]) -> dict[str, dict[str, Any]]:
    out = {}
    for u in units:
        assert u.error is None, u.error
        if u.assets and u.assets[-1][0] == "table":
            out[u.key] = u.assets[-1][1]
    return out


def col(name: str, data_type: str, ordinal: int, nullable: bool = True, **extra: Any) -> Any:
    return {"name": name, "data_type": data_type, "ordinal": ordinal, "nullable": nullable} | extra


def push(units: list[Unit], tmp_path: Path) -> Catalog:
    """Every asset through the real catalog; each line must succeed and read back unchanged."""
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog = Catalog(store)
    ctx = WriteContext.for_principal(Principal("ingest", "bot", origin=Origin("ingestion", "t")))
    lines = [BulkLine(kind, body) for u in units for kind, body in u.assets]
    outcomes = catalog.bulk_upsert(lines, ctx)
    assert [o.error for o in outcomes if o.error is not None] == []
    for u in units:
        for kind, body in u.assets:
            spec = Table.model_validate(body) if kind == "table" else None
            name = body["name"]
            parent = body.get("schema") or body.get("database") or body.get("service")
            expected_fqn = fqn.join([*fqn.split(parent), name]) if parent else fqn.join([name])
            asset = catalog.get(kind, Key(fqn=expected_fqn))
            assert asset.fqn == expected_fqn
            if spec is not None:
                assert asset.fqn == u.key
                assert asset.doc == to_doc(spec)
    return catalog


# -- PostgreSQL --------------------------------------------------------------------------------


def pg_config(zoo: PgZoo, **extra: Any) -> dict[str, Any]:
    return {
        "service": "pg",
        "host": "127.0.0.1",
        "port": zoo.server.url.port or 5432,
        "username": zoo.server.url.username or "postgres",
        "database": zoo.database,
    } | extra


def test_postgres_round_trips_exactly(pg_zoo: PgZoo, tmp_path: Path) -> None:
    units, source = run(PostgresSource, pg_config(pg_zoo))
    db = pg_zoo.database
    # Last, the database's catalog-stamp marker (change detection's own bookkeeping).
    marker = units.pop()
    assert (marker.key, marker.marker, marker.assets) == (f"catalog-stamp:pg.{db}", True, [])
    assert marker.fingerprint
    got = tables(units)
    assert [u.key for u in units] == [
        f'pg.{db}."Odd.Names"',
        f'pg.{db}."Odd.Names".CamelCase',
        f'pg.{db}."Odd.Names"."a.b"',
        f'pg.{db}."Odd.Names".café',
        f'pg.{db}."Odd.Names"."we""ird"',
        f'pg.{db}."Odd.Names".表',
        f"pg.{db}.public",
        f"pg.{db}.sales",
        f"pg.{db}.sales.big_orders",
        f"pg.{db}.sales.customers",
        f"pg.{db}.sales.order_lines",
        f"pg.{db}.sales.orders",
        f"pg.{db}.sales.totals",
    ]
    service, database, schema = (body for _, body in units[-1].assets[:3])
    assert service == {
        "name": "pg",
        "category": "database",
        "service_type": "postgres",
        "connection": {"host": "127.0.0.1", "port": 5432, "username": "postgres"},
    }
    assert database == {"name": db, "service": "pg"}
    assert schema == {
        "name": "sales",
        "database": f"pg.{db}",
        "description": "Orders and customers",
    }

    assert got[f"pg.{db}.sales.customers"] == {
        "name": "customers",
        "schema": f"pg.{db}.sales",
        "table_type": "table",
        "description": "People who buy things",
        "columns": [
            col("id", "integer", 1, False, constraint="primary_key"),
            col("email", "character varying(255)", 2, False, constraint="unique",
                description="Where receipts go"),
            col("FullName", "text", 3),
            col("balance", "numeric(12,2)", 4, False, default="0.00"),
            col("created_at", "timestamp with time zone", 5, False, default="now()"),
            col("tags", "text[]", 6),
            col("profile", "jsonb", 7),
            col("uid", "uuid", 8),
            col("active", "boolean", 9, default="true"),
            col("photo", "bytea", 10),
            col("score", "double precision", 11),
            col("born", "date", 12),
            col("nick", "character(3)", 13),
            col("notes", "text", 14),
            col("seq", "bigint", 15, False, default="GENERATED ALWAYS AS IDENTITY"),
            col("doubled", "integer", 16, default="GENERATED ALWAYS AS ((id * 2)) STORED"),
        ],
        "constraints": [],
    }  # fmt: skip
    assert got[f"pg.{db}.sales.orders"] == {
        "name": "orders",
        "schema": f"pg.{db}.sales",
        "table_type": "table",
        "columns": [
            col("customer_id", "integer", 1, False),
            col("order_no", "integer", 2, False),
            col("select", "text", 3),
            col("order", "smallint", 4),
            col("amount", "numeric(12,2)", 5),
            col("placed_at", "timestamp without time zone", 6),
        ],
        "constraints": [
            {"type": "primary_key", "columns": ["customer_id", "order_no"]},
            {"type": "unique", "columns": ["select", "order"]},
            {
                "type": "foreign_key",
                "columns": ["customer_id"],
                "referred_table": f"pg.{db}.sales.customers",
                "referred_columns": ["id"],
            },
        ],
    }
    assert got[f"pg.{db}.sales.order_lines"]["constraints"] == [
        {"type": "primary_key", "columns": ["customer_id", "order_no", "line"]},
        {
            "type": "foreign_key",
            "columns": ["customer_id", "order_no"],
            "referred_table": f"pg.{db}.sales.orders",
            "referred_columns": ["customer_id", "order_no"],
        },
    ]
    view = got[f"pg.{db}.sales.big_orders"]
    assert view["table_type"] == "view"
    assert view["description"] == "Orders over 100"
    assert view["view_sql"].startswith("SELECT orders.customer_id")
    assert "FROM sales.orders" in view["view_sql"]
    assert [c["name"] for c in view["columns"]] == ["customer_id", "order_no", "amount"]
    matview = got[f"pg.{db}.sales.totals"]
    assert matview["table_type"] == "materialized_view"
    assert "sum(orders.amount) AS total" in matview["view_sql"]
    assert matview["columns"] == [col("customer_id", "integer", 1), col("total", "numeric", 2)]

    assert got[f'pg.{db}."Odd.Names"."we""ird"'] == {
        "name": 'we"ird',
        "schema": f'pg.{db}."Odd.Names"',
        "table_type": "table",
        "columns": [
            col("a.b", "integer", 1, False, constraint="primary_key"),
            col("MixedCase", "character varying(10)", 2),
        ],
        "constraints": [],
    }
    odd = got[f'pg.{db}."Odd.Names".表']
    assert odd["columns"][0] == col(
        "id", "bigint", 1, False, constraint="primary_key",
        default="nextval('\"Odd.Names\".\"表_id_seq\"'::regclass)",
    )  # fmt: skip
    assert odd["constraints"] == [
        {
            "type": "foreign_key",
            "columns": ["customer"],
            "referred_table": f"pg.{db}.sales.customers",
            "referred_columns": ["id"],
        },
        {
            "type": "foreign_key",
            "columns": ["w"],
            "referred_table": f'pg.{db}."Odd.Names"."we""ird"',
            "referred_columns": ["a.b"],
        },
    ]
    assert got[f'pg.{db}."Odd.Names".café']["columns"] == [
        col("表", "text", 1),
        col("Straße", "numeric", 2),
    ]
    assert got[f'pg.{db}."Odd.Names"."a.b"']["columns"] == [
        col("select", "integer", 1),
        col("order", "integer", 2),
    ]

    counts = {o[1]: o[3]["rows"] for u in units for o in u.observations}
    assert counts == {
        f"pg.{db}.sales.customers": 2,
        f"pg.{db}.sales.orders": 2,
        f"pg.{db}.sales.order_lines": 0,
        f"pg.{db}.sales.totals": 1,
        f'pg.{db}."Odd.Names"."we""ird"': 1,
        f'pg.{db}."Odd.Names"."a.b"': 0,
        f'pg.{db}."Odd.Names".café': 0,
        f'pg.{db}."Odd.Names".表': 0,
        f'pg.{db}."Odd.Names".CamelCase': 0,
    }
    assert all(o[0] == "table" and o[2] == "row_count" for u in units for o in u.observations)
    assert source.scope() == [("service", "pg"), ("database", f"pg.{db}")]
    push(units, tmp_path)


def test_postgres_filters_and_scope(pg_zoo: PgZoo) -> None:
    filters = Filters(
        schemas=Filter(include=["sales"]), tables=Filter(exclude=["order.*", "big_.*"])
    )
    units, source = run(PostgresSource, pg_config(pg_zoo), filters=filters, row_counts=False)
    db = pg_zoo.database
    assert [u.key for u in units] == [
        f"pg.{db}.sales",
        f"pg.{db}.sales.customers",
        f"pg.{db}.sales.totals",
        f"catalog-stamp:pg.{db}",
    ]
    assert all(u.observations == [] for u in units)
    assert source.in_scope("table", f"pg.{db}.sales.customers")
    assert source.in_scope("schema", f"pg.{db}.sales")
    assert source.in_scope("database", f"pg.{db}")
    assert not source.in_scope("table", f"pg.{db}.sales.orders")  # excluded table
    assert not source.in_scope("table", f'pg.{db}."Odd.Names".café')  # excluded schema
    assert not source.in_scope("table", "pg.other_db.sales.customers")  # not the configured db
    assert not source.in_scope("table", f"other.{db}.sales.customers")  # another service
    assert not source.in_scope("schema", f"pg.{db}.information_schema")


def test_postgres_discovers_databases_through_the_filter(pg_zoo: PgZoo) -> None:
    config = pg_config(pg_zoo)
    del config["database"]
    filters = Filters(
        databases=Filter(include=[pg_zoo.database]), schemas=Filter(include=["Odd\\.Names"])
    )
    units, source = run(PostgresSource, config, filters=filters)
    assert source.scope() == [("service", "pg"), ("database", f"pg.{pg_zoo.database}")]
    assert len(tables(units)) == 5
    assert source.in_scope("table", f'pg.{pg_zoo.database}."Odd.Names".café')
    assert not source.in_scope("table", "pg.postgres.public.t")  # filtered out by name


def test_postgres_sample_data_masks_personal_columns_and_isolates_failures(
    pg_zoo: PgZoo,
) -> None:
    config = pg_config(pg_zoo, username=pg_zoo.reader)
    filters = Filters(schemas=Filter(include=["sales", "Odd\\.Names"]))
    ctx = SourceContext("t", filters, Options(sample_data=True, sample_rows=5, retry=FAST_RETRY))
    source = PostgresSource(PostgresConfig.model_validate(config), ctx)
    try:
        units = {u.key: u for u in source.units()}
    finally:
        source.close()
    db = pg_zoo.database
    # The reader may not SELECT from orders: that table fails alone, the rest completes.
    failed = units[f"pg.{db}.sales.orders"]
    assert failed.assets == []
    assert failed.error is not None
    assert "permission denied" in failed.error and "sample" in failed.error
    assert units[f"pg.{db}.sales.order_lines"].error is None
    customers = units[f"pg.{db}.sales.customers"].assets[-1][1]
    sample = customers["sample_data"]
    assert sample["columns"][:5] == ["id", "email", "FullName", "balance", "created_at"]
    ann, bob = sample["rows"]
    assert ann == [
        1, "***", "***", "12.50", "2024-05-01T10:00:00+00:00", ["a", "b"], {"k": 1},
        "0b7ea3c5-3f3c-4b46-9c64-7c2b27d0ad55", True, "0x0102ff", 1.5, "1990-01-02", "abc",
        LONG_NOTE[:200], 1, 2,
    ]  # fmt: skip
    assert bob[:3] == [2, "***", "***"]
    assert bob[13] == "short"
    # a view is not sampled (it may be costly to run); a materialized view is
    assert "sample_data" not in units[f"pg.{db}.sales.big_orders"].assets[-1][1]
    weird = units[f'pg.{db}."Odd.Names"."we""ird"'].assets[-1][1]
    assert weird["sample_data"] == {"columns": ["a.b", "MixedCase"], "rows": [[7, "Mixed"]]}
    totals = units[f"pg.{db}.sales.totals"].assets[-1][1]
    assert totals["sample_data"] == {"columns": ["customer_id", "total"], "rows": [[1, "170.00"]]}


def test_postgres_unknown_user_fails_fast_and_says_who(pg_zoo: PgZoo) -> None:
    ctx = SourceContext("t", Filters(), Options())  # default policy: 5 tries, were it transient
    config = PostgresConfig.model_validate(pg_config(pg_zoo, username="no_such_user_x"))
    source = PostgresSource(config, ctx)
    started = time.monotonic()
    with pytest.raises(PermanentError) as err:
        source.check()
    assert time.monotonic() - started < 2
    assert "127.0.0.1:5432" in str(err.value)
    assert "no_such_user_x" in str(err.value)
    source.close()


def test_postgres_unreachable_port_is_transient_after_bounded_retries() -> None:
    config = {"service": "pg", "host": "127.0.0.1", "port": 1, "username": "postgres"}
    ctx = SourceContext("t", Filters(), Options(retry=FAST_RETRY))
    source = PostgresSource(PostgresConfig.model_validate(config), ctx)
    # check() connects once and says the failure is transient; the runner retries it
    with pytest.raises(TransientError, match=re.escape("127.0.0.1:1 as user 'postgres'")):
        source.check()
    with pytest.raises(TransientError) as err:
        FAST_RETRY.run("connect", source.check, sleep=lambda _: None)
    assert "after 2 tries" in str(err.value) and "127.0.0.1:1" in str(err.value)
    # reading the source retries on its own, under the recipe's policy
    started = time.monotonic()
    with pytest.raises(TransientError, match="after 2 tries"):
        list(source.units())
    assert time.monotonic() - started < 2
    source.close()


def test_postgres_config_says_how_to_fix_bad_values() -> None:
    base: dict[str, Any] = {"service": "pg", "host": "db", "username": "u"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"host": "db:5432"}, "set the port in `port`"),
        ({"host": "postgresql://db"}, "not a URL"),
        ({"database": "a", "databases": ["b"]}, "either `database` or `databases`"),
        ({"databases": []}, "at least one database"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"pasword": "x"}, "Extra inputs are not permitted"),
        ({"service": "a\x00b"}, "name the service like"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            PostgresConfig.model_validate(base | change)
    config = PostgresConfig.model_validate(base | {"password": "s3cret"})
    assert "s3cret" not in repr(config)
    assert all(f.description for f in PostgresConfig.model_fields.values())


# -- MariaDB / MySQL ---------------------------------------------------------------------------


def maria_config(**extra: Any) -> dict[str, Any]:
    return {"service": "my", "host": "127.0.0.1", "port": 3306, "username": "root"} | extra


def maria_filters(zoo: MariaZoo) -> Filters:
    return Filters(schemas=Filter(include=[f"{zoo.sales.split('_')[0]}_.*"]))


def test_mysql_round_trips_exactly(maria_zoo: MariaZoo, tmp_path: Path) -> None:
    units, source = run(MySQLSource, maria_config(), filters=maria_filters(maria_zoo))
    s, o = maria_zoo.sales, maria_zoo.odd
    got = tables(units)
    assert [u.key for u in units] == [
        f'my.default."{o}"',
        f'my.default."{o}".CamelCase',
        f'my.default."{o}"."a.b"',
        f'my.default."{o}".café',
        f'my.default."{o}"."we""ird"',
        f'my.default."{o}".表',
        f"my.default.{s}",
        f"my.default.{s}.big_orders",
        f"my.default.{s}.customers",
        f"my.default.{s}.order_lines",
        f"my.default.{s}.orders",
    ]
    service = units[0].assets[0][1]
    assert service["service_type"] == "mysql"
    assert service["connection"] == {"host": "127.0.0.1", "port": 3306, "username": "root"}
    assert units[0].assets[1][1] == {"name": "default", "service": "my"}
    assert got[f"my.default.{s}.customers"] == {
        "name": "customers",
        "schema": f"my.default.{s}",
        "table_type": "table",
        "description": "People who buy things",
        "columns": [
            col("id", "int(11)", 1, False, constraint="primary_key", description="Customer id"),
            col("email", "varchar(255)", 2, False, constraint="unique",
                description="Where receipts go"),
            col("FullName", "text", 3),
            col("balance", "decimal(12,2)", 4, False, default="0.00"),
            col("created_at", "timestamp", 5, False, default="current_timestamp()"),
            col("active", "tinyint(1)", 6, default="1"),
            col("kind", "enum('retail','trade')", 7, default="'retail'"),
            col("photo", "blob", 8),
            col("score", "double", 9),
            col("born", "date", 10),
            col("notes", "text", 11),
            col("doubled", "int(11)", 12, default="GENERATED ALWAYS AS (`id` * 2) VIRTUAL"),
        ],
        "constraints": [],
    }  # fmt: skip
    assert got[f"my.default.{s}.orders"]["columns"] == [
        col("customer_id", "int(11)", 1, False),
        col("order_no", "int(11)", 2, False),
        col("select", "varchar(20)", 3),
        col("order", "smallint(6)", 4),
        col("amount", "decimal(12,2)", 5),
    ]
    assert got[f"my.default.{s}.orders"]["constraints"] == [
        {"type": "primary_key", "columns": ["customer_id", "order_no"]},
        {"type": "unique", "columns": ["select", "order"]},
        {
            "type": "foreign_key",
            "columns": ["customer_id"],
            "referred_table": f"my.default.{s}.customers",
            "referred_columns": ["id"],
        },
    ]
    assert got[f"my.default.{s}.order_lines"]["constraints"][1] == {
        "type": "foreign_key",
        "columns": ["customer_id", "order_no"],
        "referred_table": f"my.default.{s}.orders",
        "referred_columns": ["customer_id", "order_no"],
    }
    view = got[f"my.default.{s}.big_orders"]
    assert view["table_type"] == "view"
    assert "description" not in view
    assert view["view_sql"].startswith("select ")
    assert f"from `{s}`.`orders`" in view["view_sql"]
    odd = got[f'my.default."{o}".表']
    assert odd["columns"] == [
        col("id", "bigint(20)", 1, False, default="auto_increment", constraint="primary_key"),
        col("customer", "int(11)", 2),
    ]
    assert odd["constraints"] == [
        {
            "type": "foreign_key",
            "columns": ["customer"],
            "referred_table": f"my.default.{s}.customers",
            "referred_columns": ["id"],
        }
    ]
    assert got[f'my.default."{o}"."we""ird"']["columns"] == [
        col("a.b", "int(11)", 1, False, constraint="primary_key"),
        col("MixedCase", "varchar(10)", 2),
    ]
    assert got[f'my.default."{o}".café']["columns"] == [
        col("表", "text", 1),
        col("Straße", "decimal(10,0)", 2),
    ]
    counts = {o[1]: o[3]["rows"] for u in units for o in u.observations}
    assert counts[f"my.default.{s}.customers"] == 2
    assert counts[f"my.default.{s}.orders"] == 2
    assert f"my.default.{s}.big_orders" not in counts
    assert source.scope() == [("service", "my"), ("database", "my.default")]
    assert source.in_scope("table", f"my.default.{s}.orders")
    assert not source.in_scope("table", "my.default.mysql.user")
    assert not source.in_scope("table", "my.prod.x.y")  # not the configured database name
    push(units, tmp_path)


def test_mysql_filters_and_sample_data(maria_zoo: MariaZoo) -> None:
    filters = Filters(
        schemas=Filter(include=[maria_zoo.sales]), tables=Filter(include=["cust.*", "big_.*"])
    )
    units, _ = run(
        MySQLSource, maria_config(database_name="shop"), filters=filters, sample_data=True
    )
    s = maria_zoo.sales
    assert [u.key for u in units] == [
        f"my.shop.{s}",
        f"my.shop.{s}.big_orders",
        f"my.shop.{s}.customers",
    ]
    sample = units[2].assets[-1][1]["sample_data"]
    assert sample["columns"][:4] == ["id", "email", "FullName", "balance"]
    assert sample["rows"][0] == [
        1, "***", "***", "12.50", "2024-05-01T10:00:00", 1, "retail", "0x0102ff", 1.5,
        "1990-01-02", LONG_NOTE[:200], 2,
    ]  # fmt: skip
    odd = Filters(schemas=Filter(include=[maria_zoo.odd]), tables=Filter(include=['we"ird']))
    units, _ = run(MySQLSource, maria_config(), filters=odd, sample_data=True)
    assert units[1].key == f'my.default."{maria_zoo.odd}"."we""ird"'
    assert units[1].assets[-1][1]["sample_data"]["rows"] == [[7, "Mixed"]]


def test_mysql_bad_password_fails_fast_and_says_who(maria_zoo: MariaZoo) -> None:
    ctx = SourceContext("t", Filters(), Options())
    config = maria_config(username=maria_zoo.user, password="wrong")
    source = MySQLSource(MySQLSource.config_model.model_validate(config), ctx)
    started = time.monotonic()
    with pytest.raises(PermanentError) as err:
        source.check()
    assert time.monotonic() - started < 2
    assert "127.0.0.1:3306" in str(err.value) and maria_zoo.user in str(err.value)
    assert "Access denied" in str(err.value)
    assert "wrong" not in str(err.value)
    source.close()
    # and the right password works
    run(MySQLSource, maria_config(username=maria_zoo.user, password="right"))


def test_mysql_unreachable_port_is_transient() -> None:
    ctx = SourceContext("t", Filters(), Options(retry=FAST_RETRY))
    source = MySQLSource(MySQLSource.config_model.model_validate(maria_config(port=1)), ctx)
    with pytest.raises(TransientError, match=re.escape("127.0.0.1:1 as user 'root'")):
        source.check()
    with pytest.raises(TransientError, match="after 2 tries"):
        list(source.units())
    source.close()


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_round_trips_exactly(sqlite_zoo: Path, tmp_path: Path) -> None:
    before = sqlite_zoo.read_bytes()
    units, source = run(SQLiteSource, {"service": "lite", "path": str(sqlite_zoo)})
    got = tables(units)
    assert [u.key for u in units] == [
        'lite."zoo.v1".main',
        'lite."zoo.v1".main.CamelCase',
        'lite."zoo.v1".main."a.b"',
        'lite."zoo.v1".main.big_orders',
        'lite."zoo.v1".main.café',
        'lite."zoo.v1".main.customers',
        'lite."zoo.v1".main.order_lines',
        'lite."zoo.v1".main.orders',
        'lite."zoo.v1".main."we""ird"',
        'lite."zoo.v1".main.表',
    ]
    assert units[0].assets[0][1]["connection"] == {"path": str(sqlite_zoo.resolve())}
    assert got['lite."zoo.v1".main.customers'] == {
        "name": "customers",
        "schema": 'lite."zoo.v1".main',
        "table_type": "table",
        "columns": [
            col("id", "INTEGER", 1, constraint="primary_key"),
            col("email", "VARCHAR(255)", 2, False, constraint="unique"),
            col("FullName", "TEXT", 3),
            col("balance", "NUMERIC(12,2)", 4, False, default="0.00"),
            col("created_at", "TIMESTAMP", 5, default="CURRENT_TIMESTAMP"),
            col("photo", "BLOB", 6),
            col("notes", "ANY", 7),
            col("score", "REAL", 8),
        ],
        "constraints": [],
    }
    assert got['lite."zoo.v1".main.orders']["constraints"] == [
        {"type": "primary_key", "columns": ["customer_id", "order_no"]},
        {"type": "unique", "columns": ["select", "order"]},
        {
            "type": "foreign_key",
            "columns": ["customer_id"],
            "referred_table": 'lite."zoo.v1".main.customers',
            "referred_columns": ["id"],
        },
    ]
    # REFERENCES orders: the referred primary key
    assert got['lite."zoo.v1".main.order_lines']["constraints"][1] == {
        "type": "foreign_key",
        "columns": ["customer_id", "order_no"],
        "referred_table": 'lite."zoo.v1".main.orders',
        "referred_columns": ["customer_id", "order_no"],
    }
    # REFERENCES Customers (ID): SQLite names are case-insensitive; the FQN uses the real names
    assert got['lite."zoo.v1".main.表']["constraints"] == [
        {
            "type": "foreign_key",
            "columns": ["customer"],
            "referred_table": 'lite."zoo.v1".main.customers',
            "referred_columns": ["id"],
        }
    ]
    assert got['lite."zoo.v1".main."we""ird"']["columns"] == [
        col("a.b", "INTEGER", 1, constraint="primary_key"),
        col("MixedCase", "VARCHAR(10)", 2),
    ]
    assert got['lite."zoo.v1".main.café']["columns"] == [
        col("表", "TEXT", 1),
        col("Straße", "NUMERIC", 2),
    ]
    view = got['lite."zoo.v1".main.big_orders']
    assert view["table_type"] == "view"
    # the query, as PostgreSQL and MySQL give it, not SQLite's whole CREATE VIEW statement
    assert view["view_sql"] == (
        "SELECT customer_id, order_no, amount FROM orders WHERE amount > 100"
    )
    counts = {o[1]: o[3]["rows"] for u in units for o in u.observations}
    assert counts['lite."zoo.v1".main.customers'] == 2
    assert counts['lite."zoo.v1".main.orders'] == 2
    assert source.scope() == [("service", "lite"), ("database", 'lite."zoo.v1"')]
    assert sqlite_zoo.read_bytes() == before  # opened read-only
    push(units, tmp_path)


def test_sqlite_sample_data_and_missing_file(sqlite_zoo: Path, tmp_path: Path) -> None:
    units, _ = run(
        SQLiteSource,
        {"service": "lite", "path": str(sqlite_zoo), "database_name": "shop"},
        filters=Filters(tables=Filter(include=["customers", "big_orders"])),
        sample_data=True,
        sample_rows=1,
    )
    assert [u.key for u in units] == [
        "lite.shop.main",
        "lite.shop.main.big_orders",
        "lite.shop.main.customers",
    ]
    assert units[2].assets[-1][1]["sample_data"] == {
        "columns": ["id", "email", "FullName", "balance", "created_at", "photo", "notes",
                    "score"],
        "rows": [[1, "***", "***", 12.5, "2024-05-01 10:00:00", "0x0102ff", LONG_NOTE[:200],
                  1.5]],
    }  # fmt: skip
    units, _ = run(
        SQLiteSource,
        {"service": "lite", "path": str(sqlite_zoo)},
        filters=Filters(tables=Filter(include=['we"ird'])),
        sample_data=True,
    )
    assert units[1].assets[-1][1]["sample_data"]["rows"] == [[7, "Mixed"]]
    missing = tmp_path / "nope.db"
    ctx = SourceContext("t", Filters(), Options())
    source = SQLiteSource(
        SQLiteSource.config_model.model_validate({"service": "l", "path": missing}), ctx
    )
    with pytest.raises(PermanentError, match="does not exist"):
        source.check()
    assert not missing.exists()  # never created by looking


def test_sample_cells_that_look_personal_are_masked_whatever_the_column_is_called(
    tmp_path: Path,
) -> None:
    """A generated column `email || '!'` has no telling name: its cells are masked by what
    they hold (e-mail, phone, card and IBAN numbers), and ordinary values stay."""
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE contacts (
                id INTEGER PRIMARY KEY,
                mail TEXT,
                contact TEXT GENERATED ALWAYS AS (mail || '!') STORED,
                note TEXT,
                ref TEXT,
                card INTEGER
            );
            INSERT INTO contacts (id, mail, note, ref, card) VALUES
              (1, 'ann@example.com', 'call +44 20 7946 0958 after 5', 'ORD-2026-000123',
               4111111111111111),
              (2, 'bob@example.org', 'paid with 5500 0000 0000 0004',
               'GB82 WEST 1234 5698 7654 32', 1234567890123),
              (3, 'cy@example.net', 'version 1.2.3 on 2026-11-30 12:00:00',
               'DE89370400440532013000', NULL);
            """
        )
    conn.close()
    units, _ = run(
        SQLiteSource, {"service": "lite", "path": str(path)}, sample_data=True, sample_rows=5
    )
    sample = units[-1].assets[-1][1]["sample_data"]
    assert sample["columns"] == ["id", "mail", "contact", "note", "ref", "card"]
    assert sample["rows"] == [
        [1, "***", "***", "***", "ORD-2026-000123", "***"],
        [2, "***", "***", "***", "***", 1234567890123],
        [3, "***", "***", "version 1.2.3 on 2026-11-30 12:00:00", "***", None],
    ]


@pytest.mark.parametrize(
    ("text", "personal"),
    [
        ("ann@example.com!", True),
        ("call +44 20 7946 0958", True),
        ("(020) 7946 0958", True),
        ("4111 1111 1111 1111", True),
        ("4111111111111112", False),  # fails the Luhn check
        ("DE89370400440532013000", True),
        ("DE89370400440532013001", False),  # fails the IBAN check
        ("SKU 0000000000000", False),
        ("order 12345 on 2026-11-30", False),
        ("3.14159265358979", False),
    ],
)
def test_personal_values_are_told_by_their_shape_and_check_digits(
    text: str, personal: bool
) -> None:
    assert looks_personal_value(text) is personal


# -- DuckDB ------------------------------------------------------------------------------------


def test_duckdb_round_trips_exactly(duckdb_zoo: Path, tmp_path: Path) -> None:
    units, source = run(DuckDBSource, {"service": "duck", "path": str(duckdb_zoo)})
    got = tables(units)
    assert [u.key for u in units] == [
        'duck.warehouse."Odd.Names"',
        'duck.warehouse."Odd.Names".CamelCase',
        'duck.warehouse."Odd.Names"."a.b"',
        'duck.warehouse."Odd.Names".café',
        'duck.warehouse."Odd.Names"."we""ird"',
        'duck.warehouse."Odd.Names".表',
        "duck.warehouse.main",
        "duck.warehouse.sales",
        "duck.warehouse.sales.big_orders",
        "duck.warehouse.sales.customers",
        "duck.warehouse.sales.orders",
    ]
    assert got["duck.warehouse.sales.customers"] == {
        "name": "customers",
        "schema": "duck.warehouse.sales",
        "table_type": "table",
        "description": "People who buy things",
        "columns": [
            col("id", "INTEGER", 1, False, constraint="primary_key"),
            col("email", "VARCHAR", 2, False, constraint="unique",
                description="Where receipts go"),
            col("FullName", "VARCHAR", 3),
            col("balance", "DECIMAL(12,2)", 4, False, default="0.00"),
            col("created_at", "TIMESTAMP", 5, default="CAST('2024-01-01 00:00:00' AS TIMESTAMP)"),
            col("tags", "VARCHAR[]", 6),
            col("profile", "STRUCT(a INTEGER, b VARCHAR)", 7),
            col("uid", "UUID", 8),
            col("photo", "BLOB", 9),
            col("notes", "VARCHAR", 10),
        ],
        "constraints": [],
    }  # fmt: skip
    assert got["duck.warehouse.sales.orders"]["constraints"] == [
        {"type": "primary_key", "columns": ["customer_id", "order_no"]},
        {"type": "unique", "columns": ["select", "order"]},
        {
            "type": "foreign_key",
            "columns": ["customer_id"],
            "referred_table": "duck.warehouse.sales.customers",
            "referred_columns": ["id"],
        },
    ]
    assert got['duck.warehouse."Odd.Names".表']["constraints"] == [
        {
            "type": "foreign_key",
            "columns": ["w"],
            "referred_table": 'duck.warehouse."Odd.Names"."we""ird"',
            "referred_columns": ["a.b"],
        }
    ]
    assert got['duck.warehouse."Odd.Names".café']["columns"] == [
        col("表", "VARCHAR", 1),
        col("Straße", "DECIMAL(10,0)", 2),
    ]
    view = got["duck.warehouse.sales.big_orders"]
    assert view["table_type"] == "view"
    assert view["description"] == "Orders over 100"
    assert "FROM sales.orders" in view["view_sql"]
    assert view["view_sql"].startswith("SELECT ") and not view["view_sql"].endswith(";")
    counts = {o[1]: o[3]["rows"] for u in units for o in u.observations}
    assert counts["duck.warehouse.sales.customers"] == 2
    assert counts["duck.warehouse.sales.orders"] == 2
    assert source.scope() == [("service", "duck"), ("database", "duck.warehouse")]
    push(units, tmp_path)


def test_duckdb_sample_data(duckdb_zoo: Path) -> None:
    units, _ = run(
        DuckDBSource,
        {"service": "duck", "path": str(duckdb_zoo)},
        filters=Filters(tables=Filter(include=["customers", 'we"ird'])),
        sample_data=True,
    )
    samples = {u.key: u.assets[-1][1]["sample_data"] for u in units if len(u.assets) == 4}
    assert samples['duck.warehouse."Odd.Names"."we""ird"'] == {
        "columns": ["a.b", "MixedCase"],
        "rows": [[7, "Mixed"]],
    }
    rows = samples["duck.warehouse.sales.customers"]["rows"]
    assert rows[0] == [
        1, "***", "***", "12.50", "2024-05-01T10:00:00", ["a", "b"], {"a": 1, "b": "x"},
        "0b7ea3c5-3f3c-4b46-9c64-7c2b27d0ad55", "0x0102ff", LONG_NOTE[:200],
    ]  # fmt: skip


# -- generic SQLAlchemy ------------------------------------------------------------------------


def test_generic_source_over_sqlite_matches_the_dedicated_connector(
    sqlite_zoo: Path, tmp_path: Path
) -> None:
    dedicated = tables(run(SQLiteSource, {"service": "lite", "path": str(sqlite_zoo)})[0])
    units, _ = run(SQLAlchemySource, {"service": "lite", "url": f"sqlite:///{sqlite_zoo}"})
    got = tables(units)
    assert list(got) == list(dedicated)
    for key, body in got.items():
        expected = dedicated[key]
        assert [c["name"] for c in body["columns"]] == [c["name"] for c in expected["columns"]]
        assert body["constraints"] == expected["constraints"], key
        assert body["table_type"] == expected["table_type"]
    assert (
        got['lite."zoo.v1".main.big_orders']["view_sql"]
        == (dedicated['lite."zoo.v1".main.big_orders']["view_sql"])
    )
    assert units[0].assets[0][1]["service_type"] == "sqlite"
    push(units, tmp_path)


def test_generic_source_over_postgres(pg_zoo: PgZoo) -> None:
    url = pg_zoo.server.url_of(pg_zoo.database)
    filters = Filters(schemas=Filter(include=["sales", "Odd\\.Names"]))
    units, _ = run(SQLAlchemySource, {"service": "pg", "url": url}, filters=filters)
    dedicated, _ = run(PostgresSource, pg_config(pg_zoo), filters=filters)
    got, want = tables(units), tables(dedicated)
    assert list(got) == list(want)
    for key in want:
        assert got[key]["constraints"] == want[key]["constraints"], key
        assert [c["name"] for c in got[key]["columns"]] == [c["name"] for c in want[key]["columns"]]
    db = pg_zoo.database
    assert got[f"pg.{db}.sales.totals"]["table_type"] == "materialized_view"
    assert got[f"pg.{db}.sales.customers"]["description"] == "People who buy things"
    assert units[0].assets[0][1]["connection"]["url"].startswith("postgresql+psycopg://")


# -- shared pieces -----------------------------------------------------------------------------


def test_personal_looking_column_names() -> None:
    personal = ["email", "EmailAddress", "e_mail", "phone_number", "FullName", "last_name",
                "name", "ssn", "home_address", "dateOfBirth", "credit_card_no", "zip"]  # fmt: skip
    plain = ["id", "amount", "created_at", "notes", "order", "表", "renamed", "domain"]
    assert [n for n in personal if not looks_personal(n)] == []
    assert [n for n in plain if looks_personal(n)] == []


def test_json_safe_values() -> None:
    import datetime as dt
    import uuid
    from decimal import Decimal

    assert json_safe(Decimal("12.50")) == "12.50"
    assert json_safe(dt.datetime(2024, 5, 1, 10, 0)) == "2024-05-01T10:00:00"
    assert json_safe(b"\x01\xff") == "0x01ff"
    assert json_safe(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert json_safe("x" * 500) == "x" * 200
    assert json_safe(float("nan")) == "nan"
    assert json_safe(2**70) == str(2**70)
    assert json_safe({"a": [Decimal("1"), None]}) == {"a": ["1", None]}


def test_connectors_are_registered() -> None:
    for name, cls in [
        ("postgres", PostgresSource),
        ("mysql", MySQLSource),
        ("sqlite", SQLiteSource),
        ("duckdb", DuckDBSource),
        ("sqlalchemy", SQLAlchemySource),
    ]:
        assert registry.load(name) is cls
        assert cls.description
        assert all(f.description for f in cls.config_model.model_fields.values()), name


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("CREATE VIEW v AS SELECT a FROM t WHERE (b > 1);", "SELECT a FROM t WHERE (b > 1)"),
        ('CREATE VIEW "we""ird v" (x) AS SELECT a FROM t;', "SELECT a FROM t"),
        ('create or replace temp view "a.b".c as select 1 as "AS "', 'select 1 as "AS "'),
        ("CREATE VIEW IF NOT EXISTS main.v\nAS\nSELECT 1;\n", "SELECT 1"),
        ("SELECT x FROM y", "SELECT x FROM y"),  # PostgreSQL and MySQL give the query
    ],
)
def test_view_sql_is_the_query_whatever_the_source_keeps(stored: str, query: str) -> None:
    assert view_query(stored) == query
