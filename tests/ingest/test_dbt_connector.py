"""The dbt connector over the artifacts of a real dbt run.

tests/ingest/dbt_project is a small dbt project (2 seeds, 2 sources, 5 models: views, a table, an
incremental model with an alias, an ephemeral model; a snapshot; generic and singular tests, one
of which fails; an exposure). Once per module it is copied into a temporary directory and built
with dbt-duckdb into a DuckDB file whose source tables the fixture creates first; then
`dbt docs generate` writes catalog.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydantic import ValidationError

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Key, WriteContext
from lodestar.catalog.observations import ObservationLog
from lodestar.ingest import registry
from lodestar.ingest.connectors.dbt import DbtConfig, DbtSource
from lodestar.ingest.connectors.duckdb import DuckDBConfig, DuckDBSource
from lodestar.ingest.errors import PermanentError
from lodestar.ingest.patterns import Filter, Filters
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import run_pipeline, to_observation
from lodestar.ingest.service import sink_for
from lodestar.ingest.sinks import CatalogSink, edge_in
from lodestar.ingest.source import Options, SourceContext, Unit, as_lineage
from lodestar.ingest.state import StateStore
from lodestar.lineage.edges import add_lineage
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Origin
from lodestar.settings import Settings
from lodestar.store import open_store

pytestmark = pytest.mark.slow  # runs dbt in a subprocess, once per module

PROJECT = Path(__file__).parent / "dbt_project"

RUN_DBT = """
import shutil, sys
from dbt.cli.main import dbtRunner

project = sys.argv[1]
flags = ["--project-dir", project, "--profiles-dir", project, "--target-path", f"{project}/target"]
runner = dbtRunner()
build = runner.invoke(["build", *flags])
# Keep the build's artifacts: `dbt docs generate` rewrites them.
for name in ("manifest.json", "run_results.json"):
    shutil.copy(f"{project}/target/{name}", f"{project}/build_{name}")
docs = runner.invoke(["docs", "generate", "--no-compile", *flags])
sys.exit(0 if build.exception is None and docs.success else 1)
"""

PROFILE = """
lodestar_shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 4
"""

# The tables dbt writes or reads, as the DuckDB connector names them:
# service.<catalog = file stem>.<schema>.<table>.
T = {
    "raw_customers": "warehouse.warehouse.main.raw_customers",
    "raw_payments": "warehouse.warehouse.main.raw_payments",
    "orders": "warehouse.warehouse.landing.orders",
    "items": "warehouse.warehouse.landing.order_items_v1",
    "stg_customers": "warehouse.warehouse.main.stg_customers",
    "stg_orders": "warehouse.warehouse.main.stg_orders",
    "customers": "warehouse.warehouse.main_marts.customers",
    "fct_orders": "warehouse.warehouse.main_marts.orders_fact",
    "snapshot": "warehouse.warehouse.main_snapshots.customers_snapshot",
}


@dataclass(frozen=True)
class DbtRun:
    project: Path
    warehouse: Path
    manifest: Path
    catalog: Path
    run_results: Path


@pytest.fixture(scope="module")
def dbt_run(tmp_path_factory: pytest.TempPathFactory) -> DbtRun:
    project = tmp_path_factory.mktemp("dbt") / "shop"
    shutil.copytree(PROJECT, project)
    warehouse = project / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE SCHEMA landing")
        con.execute(
            "CREATE TABLE landing.orders (id INTEGER, customer_id INTEGER, order_date DATE, "
            "status VARCHAR)"
        )
        con.execute(
            "INSERT INTO landing.orders VALUES (100, 1, '2024-01-02', 'placed'), "
            "(101, 2, '2024-01-03', 'shipped'), (102, 1, '2024-01-05', 'completed'), "
            "(103, 4, '2024-01-06', 'returned')"
        )
        con.execute("CREATE TABLE landing.order_items_v1 (id INTEGER, order_id INTEGER, sku TEXT)")
        con.execute("INSERT INTO landing.order_items_v1 VALUES (1, 100, 'a'), (2, 100, 'b')")
    finally:
        con.close()
    (project / "profiles.yml").write_text(PROFILE.format(path=warehouse))
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_DBT, str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return DbtRun(
        project,
        warehouse,
        project / "build_manifest.json",
        project / "target" / "catalog.json",
        project / "build_run_results.json",
    )


def _ctx(filters: Filters | None = None) -> SourceContext:
    return SourceContext("dbt-test", filters or Filters(), Options())


def _source(run: DbtRun, ctx: SourceContext | None = None, **config: Any) -> DbtSource:
    cfg = {
        "manifest_path": run.manifest,
        "catalog_path": run.catalog,
        "run_results_path": run.run_results,
        "service": "warehouse",
        **config,
    }
    return DbtSource(DbtConfig.model_validate(cfg), ctx or _ctx())


def _extract(run: DbtRun, ctx: SourceContext | None = None, **config: Any) -> list[Unit]:
    source = _source(run, ctx, **config)
    source.check()
    try:
        return list(source.units())
    finally:
        source.close()


@pytest.fixture(scope="module")
def units(dbt_run: DbtRun) -> list[Unit]:
    return _extract(dbt_run)


def _fqn(kind: str, body: dict[str, Any]) -> str:
    parent = {
        "table": body.get("schema"),
        "dashboard": body.get("service"),
        "tag": body.get("classification"),
    }.get(kind)
    name = fqn_mod.quote(body["name"])
    return f"{parent}.{name}" if parent else name


def _tables(units: list[Unit]) -> dict[str, dict[str, Any]]:
    return {_fqn(k, b): b for u in units for k, b in u.assets if k == "table"}


def _columns(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(c["name"], c["data_type"], c.get("description")) for c in body["columns"]]


BOT = WriteContext.for_principal(Principal("ingest", "bot", origin=Origin("ingestion", "t")))


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        yield Catalog(store)
    finally:
        store.dispose()


# -- naming ------------------------------------------------------------------------------------


def test_every_relation_is_one_unit_named_as_the_database_connector_names_it(
    units: list[Unit],
) -> None:
    assert [u.error for u in units if u.error] == []
    tables = _tables(units)
    assert sorted(tables) == sorted(T.values())
    assert {u.key for u in units} == {
        "seed.lodestar_shop.raw_customers",
        "seed.lodestar_shop.raw_payments",
        "source.lodestar_shop.shop.orders",
        "source.lodestar_shop.shop.items",
        "model.lodestar_shop.stg_customers",
        "model.lodestar_shop.stg_orders",
        "model.lodestar_shop.customers",
        "model.lodestar_shop.fct_orders",
        "snapshot.lodestar_shop.customers_snapshot",
        "exposure.lodestar_shop.weekly_revenue",
    }
    # Upstream tables come first, so lineage always points at something already written.
    position = {_fqn(k, b): i for i, u in enumerate(units) for k, b in u.assets if k == "table"}
    for u in units:
        for _, up, kind, down, _via in (as_lineage(e).ident for e in u.lineage):
            if kind == "table":
                assert position[up] < position[down], (up, down)


def test_fqns_and_column_types_match_the_duckdb_connector(dbt_run: DbtRun) -> None:
    source = DuckDBSource(DuckDBConfig(service="warehouse", path=dbt_run.warehouse), _ctx())
    source.check()
    try:
        db_units = list(source.units())
    finally:
        source.close()
    assert [u.error for u in db_units if u.error] == []
    db_tables = _tables(db_units)
    dbt_tables = _tables(_extract(dbt_run))
    assert set(dbt_tables) <= set(db_tables)
    for fqn, body in dbt_tables.items():
        assert [(c["name"], c["data_type"]) for c in body["columns"]] == [
            (c["name"], c["data_type"]) for c in db_tables[fqn]["columns"]
        ], fqn
        assert body["table_type"] == db_tables[fqn]["table_type"], fqn
    # The units carry the same parents the database connector writes.
    db_parents = {(k, _parent_fqn(k, b)) for u in db_units for k, b in u.assets if k != "table"}
    dbt_parents = {
        (k, _parent_fqn(k, b))
        for u in _extract(dbt_run)
        for k, b in u.assets
        if k in ("service", "database", "schema") and b.get("category") != "dashboard"
    }
    assert dbt_parents <= db_parents


def _parent_fqn(kind: str, body: dict[str, Any]) -> str:
    parent = {"database": body.get("service"), "schema": body.get("database")}.get(kind)
    return f"{parent}.{body['name']}" if parent else body["name"]


def test_database_name_override(dbt_run: DbtRun) -> None:
    tables = _tables(_extract(dbt_run, database_name="analytics", exposures_service=None))
    assert "warehouse.analytics.main_marts.orders_fact" in tables
    assert not [f for f in tables if not f.startswith("warehouse.analytics.")]


# -- what dbt says about each table -------------------------------------------------------------


def test_models_views_and_incremental_tables(units: list[Unit]) -> None:
    tables = _tables(units)
    stg_orders = tables[T["stg_orders"]]
    assert stg_orders["table_type"] == "view"
    assert stg_orders["description"] == "Orders from the shop."
    assert stg_orders["tags"] == ["dbt.staging"]
    assert stg_orders["owners"] == [{"kind": "user", "fqn": "grace"}]
    compiled = 'from "warehouse"."landing"."orders"'
    assert compiled in stg_orders["view_sql"]
    assert stg_orders["source_code"] == {
        "path": "models/staging/stg_orders.sql",
        "language": "sql",
        "code": stg_orders["view_sql"],
    }
    assert "{{" not in stg_orders["source_code"]["code"]

    customers = tables[T["customers"]]
    assert customers["table_type"] == "table"
    assert "view_sql" not in customers
    assert customers["description"] == "One row per customer, with **order counts**."
    assert customers["tags"] == ["dbt.mart"]
    assert customers["owners"] == [{"kind": "user", "fqn": "ada"}]
    assert _columns(customers) == [
        ("customer_id", "INTEGER", "The customer's id."),
        ("full_name", "VARCHAR", None),
        ("email", "VARCHAR", "Contact address; every customer must have one."),
        ("order_count", "BIGINT", None),
    ]
    assert customers["columns"][2]["tags"] == ["dbt.pii"]
    assert '"warehouse"."main"."stg_customers"' in customers["source_code"]["code"]

    fct = tables[T["fct_orders"]]  # incremental, with an alias
    assert fct["name"] == "orders_fact"
    assert fct["table_type"] == "table"
    assert [c["name"] for c in fct["columns"]] == [
        "order_id",
        "customer_id",
        "order_date",
        "status",
        "amount",
        "item_count",
    ]
    # The ephemeral model is inlined as a CTE, not a table.
    assert "__dbt__cte__int_order_items" in fct["source_code"]["code"]
    assert not [t for t in tables if "int_order_items" in t]


def test_seeds_sources_and_snapshots(units: list[Unit]) -> None:
    tables = _tables(units)
    payments = tables[T["raw_payments"]]
    assert payments["table_type"] == "table"
    assert payments["description"] == "Payments, one row per payment."
    assert payments["source_code"] == {"path": "seeds/raw_payments.csv"}
    assert ("amount", "DOUBLE", "Amount paid, in euros.") in _columns(payments)

    items = tables[T["items"]]  # a source whose identifier differs from its name
    assert items["name"] == "order_items_v1"
    assert items["description"] == "Order lines."
    assert "source_code" not in items
    assert _columns(items) == [
        ("id", "INTEGER", None),
        ("order_id", "INTEGER", None),
        ("sku", "VARCHAR", None),
    ]
    orders = tables[T["orders"]]
    assert ("id", "INTEGER", "Order id.") in _columns(orders)

    snapshot = tables[T["snapshot"]]
    assert snapshot["table_type"] == "table"
    assert snapshot["description"] == "History of customer records."
    assert "dbt_valid_to" in [c["name"] for c in snapshot["columns"]]


def test_tags_and_owners_come_before_the_table_that_uses_them(units: list[Unit]) -> None:
    for u in units:
        kinds = [k for k, _ in u.assets]
        if "table" not in kinds:
            continue
        table = u.assets[-1][1]
        assert kinds[-1] == "table"
        assert kinds[:3] == ["service", "database", "schema"]
        defined = {_fqn(k, b) for k, b in u.assets if k in ("tag", "user")}
        used = set(table.get("tags", [])) | {o["fqn"] for o in table.get("owners", [])}
        used |= {t for c in table["columns"] for t in c.get("tags", [])}
        assert used <= defined, u.key
        if used:
            assert (
                "classification",
                {"name": "dbt", "description": "Tags set in dbt projects."},
            ) in u.assets
    users = {json.dumps(b, sort_keys=True) for u in units for k, b in u.assets if k == "user"}
    assert users == {
        json.dumps({"name": "ada", "email": "ada@example.com"}, sort_keys=True),
        json.dumps({"name": "grace"}, sort_keys=True),
    }
    service = next(b for u in units for k, b in u.assets if k == "service")
    assert service == {"name": "warehouse", "category": "database", "service_type": "duckdb"}


# -- lineage and tests -------------------------------------------------------------------------


def test_dependencies_are_lineage(units: list[Unit]) -> None:
    lineage = {as_lineage(e).ident[:4] for u in units for e in u.lineage}
    exposure = "dbt_exposures.weekly_revenue"
    assert lineage == {
        ("table", T["raw_customers"], "table", T["stg_customers"]),
        ("table", T["orders"], "table", T["stg_orders"]),
        ("table", T["stg_orders"], "table", T["customers"]),
        ("table", T["stg_customers"], "table", T["customers"]),
        ("table", T["stg_orders"], "table", T["fct_orders"]),
        ("table", T["raw_payments"], "table", T["fct_orders"]),
        ("table", T["items"], "table", T["fct_orders"]),  # through the ephemeral model
        ("table", T["raw_customers"], "table", T["snapshot"]),
        ("table", T["fct_orders"], "dashboard", exposure),
        ("table", T["customers"], "dashboard", exposure),
    }
    dashboard = next(b for u in units for k, b in u.assets if k == "dashboard")
    assert dashboard == {
        "name": "weekly_revenue",
        "service": "dbt_exposures",
        "display_name": "Weekly revenue",
        "description": "Revenue by week, for the finance team.",
        "source_url": "https://bi.example.com/dashboards/7",
        "owners": [{"kind": "user", "fqn": "ada"}],
        "data_sources": [
            {"kind": "table", "fqn": T["fct_orders"]},
            {"kind": "table", "fqn": T["customers"]},
        ],
    }


def test_test_results_are_observations_on_the_tested_table(units: list[Unit]) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        for kind, fqn, name, value, *_key in u.observations:
            assert (kind, name) == ("table", "test_result")
            results.setdefault(fqn, []).append(value)
    summary = {
        fqn: sorted((v["test_type"], v["column"], v["status"]) for v in values)
        for fqn, values in results.items()
    }
    assert summary == {
        T["orders"]: [("not_null", "id", "pass"), ("unique", "id", "pass")],
        T["raw_payments"]: [("singular", None, "pass")],
        T["stg_customers"]: [
            ("not_null", "customer_id", "pass"),
            ("unique", "customer_id", "pass"),
        ],
        T["stg_orders"]: [
            ("accepted_values", "status", "pass"),
            ("relationships", "customer_id", "pass"),
            ("unique", "order_id", "pass"),
        ],
        T["customers"]: [("not_null", "email", "fail")],
    }
    failing = results[T["customers"]][0]
    assert failing["test"] == "test.lodestar_shop.not_null_customers_email.da3cfcd534"
    assert failing["name"] == "not_null_customers_email"
    assert failing["failures"] == 1
    assert failing["severity"] == "error"
    assert "Got 1 result" in failing["message"]
    assert failing["execution_time"] > 0
    assert datetime.fromisoformat(failing["executed_at"].replace("Z", "+00:00")).year >= 2024
    assert failing["invocation_id"]
    passing = results[T["raw_payments"]][0]
    assert passing["test"] == "test.lodestar_shop.assert_payments_positive"
    assert passing["failures"] == 0


def test_without_catalog_or_run_results(dbt_run: DbtRun) -> None:
    units = _extract(dbt_run, catalog_path=None, run_results_path=None)
    assert [u.error for u in units if u.error] == []
    assert [o for u in units for o in u.observations] == []
    customers = _tables(units)[T["customers"]]
    # Types unknown without catalog.json: the manifest documents two columns.
    assert _columns(customers) == [
        ("customer_id", "unknown", "The customer's id."),
        ("email", "unknown", "Contact address; every customer must have one."),
    ]


# -- filters, config, edge cases ---------------------------------------------------------------


def test_filters_leave_out_tables_and_the_exposure_refs_to_them(dbt_run: DbtRun) -> None:
    filters = Filters(schemas=Filter(exclude=["main_marts"]))
    units = _extract(dbt_run, _ctx(filters))
    tables = _tables(units)
    assert T["customers"] not in tables and T["fct_orders"] not in tables
    assert T["stg_orders"] in tables
    dashboard = next(b for u in units for k, b in u.assets if k == "dashboard")
    assert dashboard["data_sources"] == []
    source = _source(dbt_run, _ctx(filters))
    assert source.scope() == [("dashboard", "dbt_exposures")]
    assert source.in_scope("dashboard", "dbt_exposures.weekly_revenue")
    assert not source.in_scope("table", T["customers"])


def test_a_source_naming_a_model_table_defers_to_the_model(dbt_run: DbtRun, tmp_path: Path) -> None:
    manifest = json.loads(dbt_run.manifest.read_text())
    clash = dict(manifest["sources"]["source.lodestar_shop.shop.orders"])
    clash.update(
        unique_id="source.lodestar_shop.marts.customers",
        schema="main_marts",
        identifier="customers",
        description="Declared as a source elsewhere.",
    )
    manifest["sources"][clash["unique_id"]] = clash
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    ctx = _ctx()
    units = _extract(dbt_run, ctx, manifest_path=path)
    assert "source.lodestar_shop.marts.customers" not in {u.key for u in units}
    assert _tables(units)[T["customers"]]["description"].startswith("One row per customer")
    assert any("source.lodestar_shop.marts.customers" in w for w in ctx.warnings)


def test_config_and_artifact_errors_say_how_to_fix_them(dbt_run: DbtRun, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="top-level"):
        DbtConfig.model_validate({"manifest_path": "m.json", "service": "a.b"})
    with pytest.raises(ValidationError, match="extra"):
        DbtConfig.model_validate({"manifest_path": "m.json", "service": "w", "project": "x"})
    missing = _source(dbt_run, manifest_path=tmp_path / "nope.json")
    with pytest.raises(PermanentError, match="does not exist: check manifest_path"):
        missing.check()
    (tmp_path / "other.json").write_text(json.dumps({"metadata": {}, "nodes": {}}))
    with pytest.raises(PermanentError, match="not a dbt manifest"):
        _source(dbt_run, manifest_path=tmp_path / "other.json").check()
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(PermanentError, match="not valid JSON"):
        _source(dbt_run, catalog_path=tmp_path / "broken.json").check()
    assert registry.load("dbt") is DbtSource


# -- into the catalog --------------------------------------------------------------------------


def test_units_lineage_and_results_land_in_the_catalog(units: list[Unit], catalog: Catalog) -> None:
    outcomes = catalog.bulk_upsert([BulkLine(k, b) for u in units for k, b in u.assets], BOT)
    assert [str(o.error) for o in outcomes if o.error] == []
    result = add_lineage(catalog, [edge_in(as_lineage(e)) for u in units for e in u.lineage], BOT)
    assert result.problems == []
    assert result.added == 10
    log = ObservationLog(catalog.store)
    assert log.record([to_observation(o) for u in units for o in u.observations], BOT) == []

    customers = catalog.get("table", Key(fqn=T["customers"]))
    assert customers.doc["owners"] == [{"kind": "user", "fqn": "ada"}]
    assert customers.doc["tags"] == ["dbt.mart"]
    assert catalog.get("tag", Key(fqn="dbt.pii")).doc["classification"] == "dbt"
    assert catalog.get("user", Key(fqn="ada")).doc["email"] == "ada@example.com"
    results = log.read(customers.id, "test_result")
    assert [(r["value"]["column"], r["value"]["status"]) for r in results] == [("email", "fail")]
    dashboard = catalog.get("dashboard", Key(fqn="dbt_exposures.weekly_revenue"))
    assert dashboard.doc["service"] == "dbt_exposures"


def test_a_recipe_enriches_what_the_duckdb_connector_wrote(
    dbt_run: DbtRun, catalog: Catalog
) -> None:
    duck = parse_recipe(
        {
            "pipeline": "warehouse",
            "source": {
                "type": "duckdb",
                "config": {"service": "warehouse", "path": str(dbt_run.warehouse)},
            },
        }
    )
    report = run_pipeline(duck, CatalogSink(catalog, "warehouse"), StateStore(catalog.store))
    assert report.failures == []
    tables_before = catalog.list_page("table", limit=1000).total

    dbt = parse_recipe(
        {
            "pipeline": "warehouse-dbt",
            "source": {
                "type": "dbt",
                "config": {
                    "manifest_path": str(dbt_run.manifest),
                    "catalog_path": str(dbt_run.catalog),
                    "run_results_path": str(dbt_run.run_results),
                    "service": "warehouse",
                },
            },
        }
    )
    report = run_pipeline(dbt, CatalogSink(catalog, "warehouse-dbt"), StateStore(catalog.store))
    assert (report.status, report.failures, report.warnings) == ("success", [], [])
    assert report.lineage_edges == 10
    assert report.observations == 9  # the test results
    # Same FQNs: dbt created no table of its own, it described the existing ones.
    assert catalog.list_page("table", limit=1000).total == tables_before
    fct = catalog.get("table", Key(fqn=T["fct_orders"]))
    assert fct.doc["description"] == "Orders with their payments, built incrementally."
    assert fct.version > 1


def _two_writers(dbt_run: DbtRun, tmp: Path) -> tuple[Path, Any, Any]:
    """A copy of the warehouse where landing.orders.id is NOT NULL and the table has a comment
    of the database's own; recipes for the duckdb connector and for dbt on the same service."""
    (tmp / "db").mkdir()
    warehouse = tmp / "db" / dbt_run.warehouse.name
    shutil.copy(dbt_run.warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("ALTER TABLE landing.orders ALTER COLUMN id SET NOT NULL")
        con.execute("COMMENT ON TABLE landing.orders IS 'Loaded hourly by the landing job.'")
        con.execute("COMMENT ON COLUMN landing.orders.id IS 'The database says: an id.'")
        con.execute("COMMENT ON COLUMN landing.orders.status IS 'Only the database says.'")
    finally:
        con.close()
    duck = parse_recipe(
        {
            "pipeline": "warehouse",
            "source": {
                "type": "duckdb",
                "config": {"service": "warehouse", "path": str(warehouse)},
            },
        }
    )
    dbt_config = {
        "manifest_path": str(dbt_run.manifest),
        "catalog_path": str(dbt_run.catalog),
        "run_results_path": str(dbt_run.run_results),
        "service": "warehouse",
    }
    dbt = parse_recipe(
        {"pipeline": "warehouse-dbt", "source": {"type": "dbt", "config": dbt_config}}
    )
    return warehouse, duck, dbt


def test_two_writers_do_not_flip_nullable(
    dbt_run: DbtRun, catalog: Catalog, tmp_path: Path
) -> None:
    """dbt does not know a source column's nullability: its writes must keep the database's
    `false`, not send the model default `true` (the two would alternate forever)."""
    warehouse, duck, dbt = _two_writers(dbt_run, tmp_path)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        in_source = dict(
            con.execute(
                "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns "
                "WHERE table_schema = 'landing' AND table_name = 'orders'"
            ).fetchall()
        )
    finally:
        con.close()
    assert in_source["id"] is False and in_source["status"] is True

    def nullable() -> dict[str, bool]:
        doc = catalog.get("table", Key(fqn=T["orders"])).doc
        return {c["name"]: c["nullable"] for c in doc["columns"]}

    state = StateStore(catalog.store)
    versions = []
    for _ in range(3):
        for recipe in (duck, dbt):
            sink = CatalogSink(catalog, recipe.pipeline)
            report = run_pipeline(recipe, sink, state)
            assert report.failures == [], report.failures
            assert nullable() == in_source, recipe.pipeline
        versions.append(catalog.get("table", Key(fqn=T["orders"])).version)
    assert versions[1] == versions[2], "the two writers keep changing the table"


def test_one_test_execution_is_one_result_however_often_its_unit_is_sent(
    dbt_run: DbtRun, catalog: Catalog, tmp_path: Path
) -> None:
    """A model's unit is sent again when something else about it changes (here its
    description); the test results of the same dbt invocation must not be stored again."""
    manifest = json.loads(dbt_run.manifest.read_text())
    copy = tmp_path / "manifest.json"
    copy.write_text(json.dumps(manifest))
    config = {
        "manifest_path": str(copy),
        "catalog_path": str(dbt_run.catalog),
        "run_results_path": str(dbt_run.run_results),
        "service": "warehouse",
    }
    recipe = parse_recipe({"pipeline": "dbt", "source": {"type": "dbt", "config": config}})
    state = StateStore(catalog.store)
    log = ObservationLog(catalog.store)
    results = json.loads(dbt_run.run_results.read_text())
    executed = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("test.")}

    def stored() -> list[dict[str, Any]]:
        customers = catalog.get("table", Key(fqn=T["customers"]))
        return [r["value"] for r in log.read(customers.id, "test_result")]

    first = run_pipeline(recipe, CatalogSink(catalog, "dbt"), state)
    assert first.failures == []
    assert [v["test"] for v in stored()] == [t for t in executed if "customers_email" in t]

    node = manifest["nodes"]["model.lodestar_shop.customers"]
    node["description"] = "Customers, described again."
    copy.write_text(json.dumps(manifest))
    second = run_pipeline(recipe, CatalogSink(catalog, "dbt"), state)
    assert second.failures == []
    assert catalog.get("table", Key(fqn=T["customers"])).doc["description"] == (
        "Customers, described again."
    )
    assert len(stored()) == 1, stored()


def test_two_writers_describe_by_precedence_not_by_who_ran_last(
    dbt_run: DbtRun, catalog: Catalog, tmp_path: Path
) -> None:
    """Where dbt and the database both describe the table or a column, dbt's description (its
    manifest) is kept whichever runs last; where only the database does, its comment is."""
    warehouse, duck, dbt = _two_writers(dbt_run, tmp_path)
    manifest = json.loads(dbt_run.manifest.read_text())
    source = manifest["sources"]["source.lodestar_shop.shop.orders"]
    documented = source["description"]
    assert documented == "One row per order."
    expected_columns = {
        "id": source["columns"]["id"]["description"],
        "status": "Only the database says.",
    }
    state = StateStore(catalog.store)
    versions = []
    for i in range(3):
        # the table changes in the database, so its connector sends it again
        con = duckdb.connect(str(warehouse))
        con.execute(f"ALTER TABLE landing.orders ADD COLUMN extra_{i} INTEGER")
        con.close()
        for recipe in (duck, dbt):
            with sink_for(recipe, Settings(data_dir=tmp_path / "unused"), catalog) as (sink, _):
                report = run_pipeline(recipe, sink, state)
            assert report.failures == [], report.failures
            doc = catalog.get("table", Key(fqn=T["orders"])).doc
            if recipe is duck and not versions:
                continue  # before dbt ever ran, the database's comment is all there is
            assert doc["description"] == documented, recipe.pipeline
            described = {c["name"]: c.get("description") for c in doc["columns"]}
            assert {k: described[k] for k in expected_columns} == expected_columns
        versions.append(catalog.get("table", Key(fqn=T["orders"])).version)


def test_models_get_column_lineage_from_their_compiled_sql(units: list[Unit]) -> None:
    columns = {
        (e.from_fqn, e.to_fqn): list(e.columns)
        for u in units
        for e in map(as_lineage, u.lineage)
        if e.to_kind == "table"
    }
    assert columns[(T["orders"], T["stg_orders"])] == [
        ("id", "order_id"),
        ("customer_id", "customer_id"),
        ("order_date", "order_date"),
        ("status", "status"),
    ]
    assert columns[(T["stg_customers"], T["customers"])] == [
        ("customer_id", "customer_id"),
        ("first_name", "full_name"),
        ("last_name", "full_name"),
        ("email", "email"),
    ]
    # count(*) reads rows, no column: a table-level edge
    assert columns[(T["stg_orders"], T["customers"])] == []
    # Through the CTE and the ephemeral model's CTE the compiled SQL inlines.
    assert columns[(T["raw_payments"], T["fct_orders"])] == [("amount", "amount")]
    assert columns[(T["items"], T["fct_orders"])] == []  # item_count is a count(*)
    assert (T["raw_customers"], T["snapshot"]) in columns


def test_a_manifest_without_compiled_code_leaves_the_view_sql_alone(
    dbt_run: DbtRun, tmp_path: Path
) -> None:
    """`dbt parse` writes no compiled code: the model's Jinja is its source code, and a view's
    SQL (what the database runs, as the database connector read it) is not overwritten."""
    manifest = json.loads(dbt_run.manifest.read_text())
    for node in manifest["nodes"].values():
        node.pop("compiled_code", None)
        node["compiled"] = False
    parsed = tmp_path / "parse_manifest.json"
    parsed.write_text(json.dumps(manifest))
    units = _extract(dbt_run, manifest_path=parsed)
    stg_orders = next(b for b in _tables(units).values() if b["name"] == "stg_orders")
    assert stg_orders["table_type"] == "view"
    assert "view_sql" not in stg_orders
    assert "{{" in stg_orders["source_code"]["code"]  # the uncompiled Jinja, as written
