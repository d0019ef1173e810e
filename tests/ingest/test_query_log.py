"""Query logs: every write query becomes lineage edges with the query as provenance, every
parsed query adds to its fingerprint's row in `queries`, and a log is read incrementally.
Real files, real SQL parsing, the real runner and catalog on SQLite and PostgreSQL; and
PostgreSQL's pg_stat_statements where the server has it loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from lodestar.catalog import BulkLine, Catalog, WriteContext
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import CatalogSink
from lodestar.ingest.state import StateStore
from lodestar.lineage.sql import fingerprint
from lodestar.store import assets as aq
from lodestar.store import edges as eq
from lodestar.store import open_store
from lodestar.store.tables import edges as edges_table
from lodestar.usage import queries as query_store

INSERT_DAILY = (
    "INSERT INTO marts.daily (day, revenue) SELECT placed_at::date, sum(amount) "
    "FROM raw.orders WHERE amount > {n} GROUP BY 1"
)
CTAS = (
    "CREATE TABLE marts.customer_totals AS SELECT c.id, count(*) AS n "
    "FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id"
)


@pytest.fixture
def shop(catalog: Catalog, admin_ctx: WriteContext) -> Catalog:
    """The tables the logged queries touch, as a database connector would have written."""
    lines = [
        ("service", {"name": "wh", "category": "database", "service_type": "postgres"}),
        ("database", {"name": "shop", "service": "wh"}),
        ("schema", {"name": "raw", "database": "wh.shop"}),
        ("schema", {"name": "marts", "database": "wh.shop"}),
    ]
    for schema, name, cols in (
        ("raw", "orders", ["id", "customer_id", "amount", "placed_at"]),
        ("raw", "customers", ["id", "name"]),
        ("marts", "daily", ["day", "revenue"]),
        ("marts", "customer_totals", ["id", "n"]),
    ):
        columns = [{"name": c, "data_type": "text"} for c in cols]
        lines.append(("table", {"name": name, "schema": f"wh.shop.{schema}", "columns": columns}))
    outcomes = catalog.bulk_upsert([BulkLine(k, b) for k, b in lines], admin_ctx)
    assert [o.error for o in outcomes if o.error] == []
    return catalog


def _line(query: str, **fields: Any) -> str:
    return json.dumps({"query": query, **fields}) + "\n"


def ingest(
    catalog: Catalog,
    config: dict[str, Any],
    source: str = "query_log",
    filters: dict[str, Any] | None = None,
) -> RunReport:
    raw: dict[str, Any] = {"pipeline": "qlog", "source": {"type": source, "config": config}}
    if filters:
        raw["filters"] = filters
    recipe = parse_recipe(raw)
    return run_pipeline(recipe, CatalogSink(catalog, "qlog"), StateStore(catalog.store))


def lineage(catalog: Catalog) -> dict[tuple[str, str, str], dict[str, Any]]:
    with catalog.store.read() as conn:
        rows = eq.asserted(conn, relation="lineage", source="ingestion:qlog")
        names = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    return {(names[r["from_id"]].fqn, names[r["to_id"]].fqn, r["via"]): r["props"] for r in rows}


def queries(catalog: Catalog) -> dict[str, dict[str, Any]]:
    with catalog.store.read() as conn:
        return {r["fingerprint"]: r for r in query_store.read(conn)}


def test_write_queries_become_edges_and_every_query_is_counted_once(
    shop: Catalog, tmp_path: Path
) -> None:
    log = tmp_path / "queries.jsonl"
    log.write_text(
        _line(INSERT_DAILY.format(n=10), user="etl", start_time="2025-11-30T01:00:00Z",
              duration_ms=1200, query_id="q1")
        + _line(INSERT_DAILY.format(n=99), user="ana", start_time=1764471600000, duration_ms=800)
        + _line("SELECT * FROM raw.orders WHERE id = 5", user="ana", duration_ms=3.5)
        + _line(CTAS, user="etl", schema="raw", start_time="2025-11-30 02:00:00")
        + "{not json\n"
        + _line("   ")
        + _line("SELEC amount FRM orders", user="bob")
        + '{"query": "INSERT INTO marts.daily SELECT 1',  # still being written
        encoding="utf-8",
    )  # fmt: skip
    config = {"service": "wh", "path": str(log), "database": "shop", "default_schema": "public"}
    report = ingest(shop, config)
    assert report.status == "success", report.failures
    assert report.queries == 3
    problems = " | ".join(report.warnings)
    assert "not JSON" in problems and "no query text" in problems and "not parsed" in problems

    daily, ctas = fingerprint(INSERT_DAILY.format(n=10), "postgres"), fingerprint(CTAS, "postgres")
    assert daily == fingerprint(INSERT_DAILY.format(n=99), "postgres")  # literals normalised
    assert lineage(shop) == {
        ("wh.shop.raw.orders", "wh.shop.marts.daily", f"query:{daily}"): {
            "query": daily,
            "columns": [["placed_at", "day"], ["amount", "revenue"]],
        },
        ("wh.shop.raw.customers", "wh.shop.marts.customer_totals", f"query:{ctas}"): {
            "query": ctas,
            "columns": [["id", "id"]],
        },
        # count(*) reads no column of orders: a table-level edge
        ("wh.shop.raw.orders", "wh.shop.marts.customer_totals", f"query:{ctas}"): {"query": ctas},
    }
    stored = queries(shop)
    assert len(stored) == 3
    row = stored[daily]
    assert (row["kind"], row["count"], row["total_duration_ms"]) == ("write", 2, 2000.0)
    assert sorted(row["users"]) == ["ana", "etl"]
    assert row["targets"] == ["wh.shop.marts.daily"] and row["sources"] == ["wh.shop.raw.orders"]
    assert row["sql"] is None  # text is kept only with keep_sql
    assert row["first_seen"] == 1764464400_000000 and row["last_seen"] == 1764471600_000000
    read = next(r for r in stored.values() if r["kind"] == "read")
    assert (read["count"], read["users"], read["sources"]) == (1, ["ana"], ["wh.shop.raw.orders"])

    # The next run reads only what was appended: the finished line and one more run of the
    # insert. Counts add up; nothing is counted twice; the first run's edges stay.
    with log.open("a", encoding="utf-8") as f:
        f.write(' FROM raw.orders"}\n' + _line(INSERT_DAILY.format(n=5), user="bob"))
    again = ingest(shop, config)
    assert again.status == "success", again.failures
    assert (again.queries, again.warnings) == (2, [])
    stored = queries(shop)
    assert stored[daily]["count"] == 3
    assert sorted(stored[daily]["users"]) == ["ana", "bob", "etl"]
    assert len(stored) == 4
    finished = fingerprint("INSERT INTO marts.daily SELECT 1 FROM raw.orders", "postgres")
    assert set(lineage(shop)) == {
        ("wh.shop.raw.orders", "wh.shop.marts.daily", f"query:{daily}"),
        ("wh.shop.raw.customers", "wh.shop.marts.customer_totals", f"query:{ctas}"),
        ("wh.shop.raw.orders", "wh.shop.marts.customer_totals", f"query:{ctas}"),
        ("wh.shop.raw.orders", "wh.shop.marts.daily", f"query:{finished}"),
    }

    # Nothing new: nothing read, nothing counted.
    idle = ingest(shop, config)
    assert (idle.status, idle.units, idle.queries) == ("success", 0, 0)
    assert queries(shop)[daily]["count"] == 3


def test_csv_logs_with_field_names_and_kept_text(shop: Catalog, tmp_path: Path) -> None:
    log = tmp_path / "history.csv"
    log.write_text(
        "QUERY_TEXT,USER_NAME,START_TIME,TOTAL_ELAPSED_TIME,DATABASE_NAME,SCHEMA_NAME\n"
        '"INSERT INTO marts.daily (day, revenue)\nSELECT placed_at, amount FROM orders",etl,'
        "2026-11-30T03:00:00,250,shop,raw\n",
        encoding="utf-8",
    )
    fields = {
        "query": "QUERY_TEXT",
        "user": "USER_NAME",
        "start_time": "START_TIME",
        "duration_ms": "TOTAL_ELAPSED_TIME",
        "database": "DATABASE_NAME",
        "schema": "SCHEMA_NAME",
    }
    config = {
        "service": "wh",
        "path": str(tmp_path),
        "database": "other",
        "keep_sql": True,
        "fields": fields,
    }
    report = ingest(shop, config)
    assert report.status == "success", report.failures
    sql = "INSERT INTO marts.daily (day, revenue)\nSELECT placed_at, amount FROM orders"
    fp = fingerprint(sql, "postgres")
    assert lineage(shop) == {
        ("wh.shop.raw.orders", "wh.shop.marts.daily", f"query:{fp}"): {
            "query": fp,
            "sql": sql,
            "columns": [["placed_at", "day"], ["amount", "revenue"]],
        }
    }
    assert queries(shop)[fp]["sql"] == sql


def test_edges_not_seen_for_lineage_max_age_days_are_retracted(
    shop: Catalog, tmp_path: Path
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_line(INSERT_DAILY.format(n=1)), encoding="utf-8")
    config = {"service": "wh", "path": str(log), "database": "shop", "lineage_max_age_days": 30}
    assert ingest(shop, config).status == "success"
    assert len(lineage(shop)) == 1
    with shop.store.write() as conn:  # as if last seen 31 days ago
        conn.execute(
            edges_table.update()
            .where(edges_table.c.source == "ingestion:qlog")
            .values(last_seen=edges_table.c.last_seen - 31 * 86400 * 1_000_000)
        )
    report = ingest(shop, config)
    assert report.lineage_removed == 1
    assert lineage(shop) == {}


def test_a_recipe_error_names_the_field(tmp_path: Path, catalog: Catalog) -> None:
    from lodestar.ingest.errors import ConfigError

    with pytest.raises(ConfigError, match=r"source\.config\.dialect"):
        ingest(catalog, {"service": "wh", "path": str(tmp_path), "database": "d", "dialect": "x"})
    with pytest.raises(ConfigError, match=r"source\.config\.fields\.querry"):
        ingest(
            catalog,
            {"service": "wh", "path": str(tmp_path), "database": "d", "fields": {"querry": "q"}},
        )


@pytest.mark.postgres
def test_pg_stat_statements(pg_server: Any, tmp_path: Path) -> None:
    """`.ci/run` preloads pg_stat_statements (a restart of PostgreSQL): under CI a server
    without it fails this test; elsewhere it skips, saying how to load it."""
    import psycopg

    catalog = Catalog(open_store(f"sqlite:///{tmp_path / 'catalog.db'}"))

    name = pg_server.create_database()
    url = pg_server.url.set(drivername="postgresql", database=name)
    libpq = url.render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq, autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
            except psycopg.Error as e:
                if os.environ.get("CI"):
                    pytest.fail(f"pg_stat_statements cannot be read (.ci/run loads it): {e}")
                pytest.skip(
                    "pg_stat_statements cannot be read on this server (it needs "
                    f"shared_preload_libraries = 'pg_stat_statements' and a restart): {e}"
                )
            conn.execute("CREATE SCHEMA raw; CREATE SCHEMA marts")
            conn.execute("CREATE TABLE raw.orders (id int, amount numeric, placed_at date)")
            conn.execute("CREATE TABLE marts.daily (day date, revenue numeric)")
        # The tables as the postgres connector files them.
        recipe = parse_recipe(
            {
                "pipeline": "pg",
                "source": {
                    "type": "postgres",
                    "config": {
                        "service": "wh",
                        "host": "127.0.0.1",
                        "port": pg_server.url.port or 5432,
                        "username": pg_server.url.username or "postgres",
                        "database": name,
                    },
                },
            }
        )
        assert (
            run_pipeline(recipe, CatalogSink(catalog, "pg"), StateStore(catalog.store)).status
            == "success"
        )
        with psycopg.connect(libpq, autocommit=True) as conn:
            # Count from here: the set-up's CREATE TABLEs (utility statements are tracked) and
            # the connector's own reads are not what this test looks at.
            conn.execute("SELECT pg_stat_statements_reset()")
            for n in (1, 2):
                conn.execute(INSERT_DAILY.format(n=n))
        config = {
            "service": "wh",
            "host": "127.0.0.1",
            "port": pg_server.url.port or 5432,
            "username": pg_server.url.username or "postgres",
            "database": name,
        }
        # The view holds every database's statements (the suite's others run beside this one):
        # the pipeline takes this database's.
        only = {"databases": {"include": [name]}}
        report = ingest(catalog, config, source="pg_stat_statements", filters=only)
        assert report.status == "success", report.failures
        writes = [r for r in queries(catalog).values() if r["targets"]]
        assert [(r["count"], r["targets"]) for r in writes] == [(2, [f"wh.{name}.marts.daily"])]
        fp = writes[0]["fingerprint"]
        assert set(lineage(catalog)) == {
            (f"wh.{name}.raw.orders", f"wh.{name}.marts.daily", f"query:{fp}")
        }
        # Counted once: the next run adds only calls made since.
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(INSERT_DAILY.format(n=3))
        ingest(catalog, config, source="pg_stat_statements", filters=only)
        assert queries(catalog)[fp]["count"] == 3
    finally:
        pg_server.drop_database(name)
