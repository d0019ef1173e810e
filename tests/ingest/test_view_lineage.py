"""Views get table and column lineage from their SQL, on real PostgreSQL, MariaDB, SQLite and
DuckDB databases, through the real runner and catalog: names land on the catalog's FQNs, a
view whose SQL changes loses the edges it no longer has, and SQL the analyzer cannot read is a
warning in the run report while the view itself is ingested."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lodestar.catalog import Catalog, Key
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import CatalogSink
from lodestar.ingest.state import StateStore
from lodestar.store import assets as aq
from lodestar.store import edges as eq
from lodestar.store import open_store

from .conftest import _maria_connect

Edges = dict[tuple[str, str], list[list[str]]]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield Catalog(store)
    store.dispose()


def ingest(catalog: Catalog, source: dict[str, Any]) -> RunReport:
    recipe = parse_recipe({"pipeline": "views", "source": source})
    return run_pipeline(recipe, CatalogSink(catalog, "views"), StateStore(catalog.store))


def lineage(catalog: Catalog, prefix: str) -> Edges:
    """(upstream, downstream) -> column pairs, FQNs without `prefix`."""
    with catalog.store.read() as conn:
        rows = eq.asserted(conn, relation="lineage", source="ingestion:views")
        names = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    cut = len(prefix) + 1
    return {
        (names[r["from_id"]].fqn[cut:], names[r["to_id"]].fqn[cut:]): (r["props"] or {}).get(
            "columns", []
        )
        for r in rows
    }


# -- PostgreSQL --------------------------------------------------------------------------------

PG_VIEWS = """
CREATE SCHEMA raw;
CREATE SCHEMA marts;
CREATE TABLE raw.orders (id integer, customer_id integer, amount numeric, placed_at date);
CREATE TABLE raw.customers (id integer, name text, "Region" text);
CREATE TABLE raw."Mixed Case" ("Id" integer);
CREATE VIEW marts.customer_totals AS
    SELECT c.id AS customer_id, c.name, sum(o.amount) AS total
    FROM raw.customers c JOIN raw.orders o ON o.customer_id = c.id
    GROUP BY c.id, c.name;
CREATE VIEW marts.big_customers AS
    SELECT customer_id, total FROM marts.customer_totals WHERE total > 100;
CREATE VIEW raw.odd AS SELECT "Id" AS ident FROM raw."Mixed Case";
CREATE VIEW marts.pairs AS
    SELECT a, b FROM ROWS FROM (generate_series(1, 3), generate_series(1, 4)) AS t(a, b);
"""


@pytest.fixture
def pg_views(pg_server: Any) -> Iterator[tuple[Any, str]]:
    import psycopg

    name = pg_server.create_database()
    url = pg_server.url.set(drivername="postgresql", database=name)
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(PG_VIEWS)
    try:
        yield pg_server, name
    finally:
        pg_server.drop_database(name)


@pytest.mark.postgres
def test_postgres_views_get_table_and_column_lineage(
    pg_views: tuple[Any, str], catalog: Catalog
) -> None:
    import psycopg

    server, db = pg_views
    config = {
        "service": "pg",
        "host": "127.0.0.1",
        "port": server.url.port or 5432,
        "username": server.url.username or "postgres",
        "database": db,
    }
    report = ingest(catalog, {"type": "postgres", "config": config})
    assert report.status == "success", report.failures
    assert lineage(catalog, f"pg.{db}") == {
        ("raw.customers", "marts.customer_totals"): [["id", "customer_id"], ["name", "name"]],
        ("raw.orders", "marts.customer_totals"): [["amount", "total"]],
        ("marts.customer_totals", "marts.big_customers"): [
            ["customer_id", "customer_id"],
            ["total", "total"],
        ],
        ("raw.Mixed Case", "raw.odd"): [["Id", "ident"]],
    }
    # The view the analyzer cannot read is still catalogued, with its SQL, and reported.
    pairs = catalog.get("table", Key(fqn=f"pg.{db}.marts.pairs"))
    assert "ROWS FROM" in pairs.doc["view_sql"]
    assert any(
        w.startswith(f"pg.{db}.marts.pairs: view lineage incomplete") for w in report.warnings
    )

    # The view stops reading orders: that edge goes with the next run, the others stay.
    url = server.url.set(drivername="postgresql", database=db)
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE VIEW marts.customer_totals AS "
            "SELECT c.id AS customer_id, c.name, 0::numeric AS total FROM raw.customers c"
        )
    report = ingest(catalog, {"type": "postgres", "config": config})
    assert report.status == "success", report.failures
    assert report.lineage_removed == 1
    got = lineage(catalog, f"pg.{db}")
    assert ("raw.orders", "marts.customer_totals") not in got
    assert got[("raw.customers", "marts.customer_totals")] == [
        ["id", "customer_id"],
        ["name", "name"],
    ]
    assert ("marts.customer_totals", "marts.big_customers") in got


# -- MariaDB -----------------------------------------------------------------------------------


@pytest.fixture
def maria_views(maria_server: None) -> Iterator[tuple[str, str]]:
    raw, marts = (f"lv{uuid.uuid4().hex[:8]}_{n}" for n in ("raw", "marts"))
    statements = [
        f"CREATE DATABASE `{raw}`",
        f"CREATE DATABASE `{marts}`",
        f"CREATE TABLE `{raw}`.orders (id INT, customer_id INT, amount DECIMAL(12,2))",
        f"CREATE TABLE `{raw}`.customers (id INT, name TEXT)",
        f"CREATE VIEW `{marts}`.customer_totals AS SELECT c.id AS customer_id, c.name, "
        f"SUM(o.amount) AS total FROM `{raw}`.customers c JOIN `{raw}`.orders o "
        "ON o.customer_id = c.id GROUP BY c.id, c.name",
        f"CREATE VIEW `{raw}`.recent AS SELECT id, amount FROM `{raw}`.orders WHERE id > 10",
    ]
    conn = _maria_connect()
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
        yield raw, marts
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{raw}`")
            cur.execute(f"DROP DATABASE IF EXISTS `{marts}`")
        conn.close()


def test_mariadb_views_get_lineage_across_schemas(
    maria_views: tuple[str, str], catalog: Catalog
) -> None:
    raw, marts = maria_views
    config = {"service": "my", "host": "127.0.0.1", "port": 3306, "username": "root"}
    source = {"type": "mysql", "config": config}
    recipe_filters = {"schemas": {"include": [f"{raw}|{marts}"]}}
    recipe = parse_recipe({"pipeline": "views", "source": source, "filters": recipe_filters})
    report = run_pipeline(recipe, CatalogSink(catalog, "views"), StateStore(catalog.store))
    assert report.status == "success", report.failures
    assert lineage(catalog, "my.default") == {
        (f"{raw}.customers", f"{marts}.customer_totals"): [
            ["id", "customer_id"],
            ["name", "name"],
        ],
        (f"{raw}.orders", f"{marts}.customer_totals"): [["amount", "total"]],
        (f"{raw}.orders", f"{raw}.recent"): [["id", "id"], ["amount", "amount"]],
    }


# -- SQLite and DuckDB -------------------------------------------------------------------------


def test_sqlite_views_resolve_names_as_sqlite_does(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE Orders (id INTEGER, customer_id INTEGER, amount REAL);
        CREATE TABLE customers (id INTEGER, name TEXT);
        CREATE VIEW everything AS SELECT * FROM orders o JOIN CUSTOMERS c ON c.id = o.customer_id;
        CREATE VIEW "Big Orders" AS SELECT id, amount * 2 AS doubled FROM main.orders;
        """
    )
    conn.close()
    report = ingest(catalog, {"type": "sqlite", "config": {"service": "lite", "path": str(path)}})
    assert report.status == "success", report.failures
    assert lineage(catalog, "lite.shop.main") == {
        ("Orders", "everything"): [
            ["id", "id"],
            ["customer_id", "customer_id"],
            ["amount", "amount"],
        ],
        # SQLite names the view's second `id` column `id:1`, and so does the catalog
        ("customers", "everything"): [["id", "id:1"], ["name", "name"]],
        ("Orders", "Big Orders"): [["id", "id"], ["amount", "doubled"]],
    }


def test_duckdb_views_get_lineage(tmp_path: Path, catalog: Catalog) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(
        """
        CREATE SCHEMA raw;
        CREATE TABLE raw.events (id INTEGER, kind VARCHAR, seen_at TIMESTAMP);
        CREATE VIEW main.daily AS
            SELECT kind, date_trunc('day', seen_at) AS day, count(*) AS n
            FROM raw.events GROUP BY ALL;
        """
    )
    conn.close()
    report = ingest(catalog, {"type": "duckdb", "config": {"service": "duck", "path": str(path)}})
    assert report.status == "success", report.failures
    assert lineage(catalog, "duck.warehouse") == {
        ("raw.events", "main.daily"): [["kind", "kind"], ["seen_at", "day"]],
    }
