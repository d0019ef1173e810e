"""Source databases with known defects, on SQLite, DuckDB and PostgreSQL, filed in a catalog
as a connector would file them (service with its connection, database, schema, tables).

`clean` holds good rows; `dirty` has the same columns plus one, and one defect for every test
type of the library; `customers` is what `customer_id` references. The clock is fixed at NOW.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lodestar.catalog import BulkLine, Catalog, WriteContext

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_US = int(NOW.timestamp() * 1_000_000)
H = timedelta(hours=1)

COLUMNS = ["id", "amount", "status", "email", "placed_at", "customer_id", "code"]
CLEAN = [
    (1, 10.0, "new", "a@x.io", NOW - 1 * H, 1, "AB12"),
    (2, 20.0, "paid", "b@x.io", NOW - 2 * H, 2, "CD34"),
    (3, 30.0, "shipped", "c@x.io", NOW - 3 * H, 1, "EF56"),
    (4, 40.0, "paid", "d@x.io", NOW - 4 * H, 2, "GH78"),
]
DIRTY = [  # newest row 3 days old; one defect each, and an extra column
    (1, 10.0, "new", "a@x.io", NOW - 72 * H, 1, "AB12", "x"),
    (1, 20.0, "paid", None, NOW - 80 * H, 2, "CD34", "x"),
    (None, 99999.0, "lost", "bad-email", NOW - 90 * H, 9, "X", "x"),
    (5, -5.0, "shipped", "e@x.io", NOW - 100 * H, 2, "IJ90", "x"),
    (6, 30.0, "paid", "f@x.io", NOW - 110 * H, 1, "KL12", "x"),
]
TYPES = {
    "sqlite": ["INTEGER", "REAL", "TEXT", "TEXT", "TEXT", "INTEGER", "TEXT", "TEXT"],
    "duckdb": [
        "INTEGER",
        "DOUBLE",
        "VARCHAR",
        "VARCHAR",
        "TIMESTAMP",
        "INTEGER",
        "VARCHAR",
        "VARCHAR",
    ],
    "postgres": [
        "integer",
        "double precision",
        "text",
        "text",
        "timestamp with time zone",
        "integer",
        "text",
        "text",
    ],
}


@dataclass
class Source:
    """A source database filed in `catalog`: table FQNs and how to write SQL against it."""

    system: str
    catalog: Catalog
    ctx: WriteContext
    service: str
    database: str
    schema: str
    url: str  # to change the data from a test

    def fqn(self, table: str) -> str:
        return f"{self.service}.{self.database}.{self.schema}.{table}"

    def name(self, table: str) -> str:
        """The table as SQL in this source names it."""
        return table if self.system == "sqlite" else f"{self.schema}.{table}"

    def execute(self, *statements: str) -> None:
        if self.system == "duckdb":
            import duckdb

            with duckdb.connect(self.url) as conn:
                for s in statements:
                    conn.execute(s)
            return
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            for s in statements:
                conn.exec_driver_sql(s)
        engine.dispose()


def _value(v: Any, system: str) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, datetime):
        text = v.isoformat() if system != "sqlite" else v.strftime("%Y-%m-%dT%H:%M:%S")
        if system == "duckdb":
            text = v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        return f"'{text}'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def _ddl(
    system: str, name: str, columns: list[str], types: list[str], rows: list[tuple[Any, ...]]
) -> list[str]:
    cols = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=False))
    out = [f"CREATE TABLE {name} ({cols})"]
    for r in rows:
        out.append(f"INSERT INTO {name} VALUES ({', '.join(_value(v, system) for v in r)})")
    return out


def _file(catalog: Catalog, ctx: WriteContext, src: Source, service: dict[str, Any]) -> None:
    types = TYPES[src.system]
    col = lambda names: [{"name": n, "data_type": t} for n, t in zip(names, types, strict=False)]  # noqa: E731
    lines = [
        BulkLine("user", {"name": "alice", "email": "alice@example.com"}),
        BulkLine("service", {"name": src.service, "category": "database", **service}),
        BulkLine("database", {"name": src.database, "service": src.service}),
        BulkLine("schema", {"name": src.schema, "database": f"{src.service}.{src.database}"}),
    ]
    schema = f"{src.service}.{src.database}.{src.schema}"
    lines += [
        BulkLine("table", {"name": "clean", "schema": schema, "columns": col(COLUMNS)}),
        BulkLine("table", {"name": "dirty", "schema": schema, "columns": col([*COLUMNS, "extra"])}),
        BulkLine(
            "table",
            {
                "name": "customers",
                "schema": schema,
                "columns": [{"name": "id", "data_type": types[0]}],
            },
        ),
    ]
    outcomes = catalog.bulk_upsert(lines, ctx)
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]


def _statements(src: Source) -> list[str]:
    types = TYPES[src.system]
    n = src.name
    return [
        *_ddl(src.system, n("clean"), COLUMNS, types, CLEAN),
        *_ddl(src.system, n("dirty"), [*COLUMNS, "extra"], types, DIRTY),
        *_ddl(src.system, n("customers"), ["id"], types[:1], [(1,), (2,)]),
    ]


@pytest.fixture(params=["sqlite", "duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def source(
    request: pytest.FixtureRequest, catalog: Catalog, admin_ctx: WriteContext, tmp_path: Path
) -> Iterator[Source]:
    """The shop on each source system (and the catalog on each backend)."""
    yield from _build(request.param, request, catalog, admin_ctx, tmp_path)


@pytest.fixture
def lite(
    request: pytest.FixtureRequest, catalog: Catalog, admin_ctx: WriteContext, tmp_path: Path
) -> Iterator[Source]:
    """The shop on SQLite only, for what does not depend on the source system."""
    yield from _build("sqlite", request, catalog, admin_ctx, tmp_path)


def _build(
    system: str,
    request: pytest.FixtureRequest,
    catalog: Catalog,
    admin_ctx: WriteContext,
    tmp_path: Path,
) -> Iterator[Source]:
    if system == "sqlite":
        path = tmp_path / "shop.db"
        src = Source(system, catalog, admin_ctx, "lite", "shop", "main", f"sqlite:///{path}")
        sqlite3.connect(path).close()
        src.execute(*_statements(src))
        _file(
            catalog, admin_ctx, src, {"service_type": "sqlite", "connection": {"path": str(path)}}
        )
        yield src
    elif system == "duckdb":
        path = tmp_path / "shop.duckdb"
        src = Source(system, catalog, admin_ctx, "duck", "shop", "main", str(path))
        src.execute(*_statements(src))
        _file(
            catalog, admin_ctx, src, {"service_type": "duckdb", "connection": {"path": str(path)}}
        )
        yield src
    else:
        server = request.getfixturevalue("pg_server")
        name = server.create_database()
        try:
            url = server.url_of(name)
            src = Source(system, catalog, admin_ctx, "pg", name, "public", url)
            src.execute(*_statements(src))
            parsed = sa.make_url(url)
            conn = {
                "host": parsed.host or "127.0.0.1",
                "port": parsed.port or 5432,
                "username": parsed.username or "postgres",
            }
            _file(catalog, admin_ctx, src, {"service_type": "postgres", "connection": conn})
            yield src
        finally:
            server.drop_later(name)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
