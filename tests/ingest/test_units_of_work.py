"""An ingestion batch lands as one unit of work: its assets, observations, lineage and the run
state checkpoint together or not at all; and the report counts what the catalog kept.

The source here is scripted (the units a connector would yield); the catalog, the sink, the
run state and the database are the real ones, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lodestar.catalog import Catalog, Key
from lodestar.ingest import runner
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import CatalogSink
from lodestar.ingest.source import Source, SourceConfig, SourceContext, Unit
from lodestar.ingest.state import StateStore
from lodestar.store.tables import assets, edges, observations

SCHEMA = "shop.db.main"


class Scripted(Source):
    config_model = SourceConfig
    script: list[Unit] = []

    def check(self) -> None:
        return None

    def units(self) -> Iterator[Unit]:
        yield from self.script

    def scope(self) -> list[tuple[str, str]]:
        return [("table", SCHEMA + ".")]


def _units() -> list[Unit]:
    base = Unit(
        "base",
        assets=[
            ("service", {"name": "shop", "category": "database", "service_type": "postgres"}),
            ("database", {"name": "db", "service": "shop"}),
            ("schema", {"name": "main", "database": "shop.db"}),
        ],
    )
    tables = [
        Unit(
            f"t{i}",
            assets=[("table", {"name": f"t{i}", "schema": SCHEMA})],
            observations=[("table", f"{SCHEMA}.t{i}", "row_count", {"rows": i})],
            lineage=[("table", f"{SCHEMA}.t0", "table", f"{SCHEMA}.t{i}")] if i else [],
        )
        for i in range(3)
    ]
    return [base, *tables]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[Scripted]:
    def open_scripted(recipe: Any, ctx: SourceContext) -> Source:
        return Scripted(SourceConfig(), ctx)

    monkeypatch.setattr(runner, "open_source", open_scripted)
    Scripted.script = _units()
    return Scripted


RECIPE = parse_recipe({"pipeline": "shop", "source": {"type": "sqlite", "config": {}}})


def _counts(catalog: Catalog) -> tuple[int, int, int]:
    with catalog.store.read() as conn:
        return (
            conn.execute(
                sa.select(sa.func.count()).select_from(assets).where(assets.c.kind == "table")
            ).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(observations)).scalar_one(),
            conn.execute(
                sa.select(sa.func.count()).select_from(edges).where(edges.c.relation == "lineage")
            ).scalar_one(),
        )


def test_a_batch_whose_checkpoint_fails_leaves_none_of_its_writes(
    catalog: Catalog, scripted: type[Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StateStore(catalog.store)
    commit_in = StateStore.commit_in

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full while checkpointing")

    monkeypatch.setattr(StateStore, "commit_in", full_disk)
    report = run_pipeline(RECIPE, CatalogSink(catalog, "shop"), state)
    assert report.status == "failed"
    assert "disk full" in " ".join(report.failures)
    # The pipeline asset and its run observation are recorded; nothing of the batch is.
    assert _counts(catalog) == (0, 1, 0)
    assert state.peek("shop").units == {}

    monkeypatch.setattr(StateStore, "commit_in", commit_in)
    again = run_pipeline(RECIPE, CatalogSink(catalog, "shop"), state)
    assert (again.status, again.created) == ("success", 6), again.failures
    assert _counts(catalog) == (3, 1 + 3 + 1, 2)  # + 3 row counts + this run's observation
    assert set(state.peek("shop").units) == {"base", "t0", "t1", "t2"}


def test_the_report_counts_only_the_observations_and_edges_the_catalog_kept(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    scripted.script[1].observations.append(("table", f"{SCHEMA}.nowhere", "row_count", {}))
    scripted.script[2].lineage.append(("table", f"{SCHEMA}.nowhere", "table", f"{SCHEMA}.t1"))
    report = run_pipeline(RECIPE, CatalogSink(catalog, "shop"), StateStore(catalog.store))
    assert report.status == "success", report.failures
    assert report.observations == 3
    assert report.lineage_edges == 2
    assert any("nowhere" in w and "row_count" in w for w in report.warnings), report.warnings
    t1 = catalog.get("table", Key(fqn=f"{SCHEMA}.t1"))
    assert [o["value"] for o in catalog.observations.read(t1.id, "row_count")] == [{"rows": 1}]


class TwoSchemas(Scripted):
    def scope(self) -> list[tuple[str, str]]:
        return [("database", "shop.db")]


def _schema_units(schema: str, tables: list[str]) -> list[Unit]:
    parents = _units()[0].assets
    schema_body = ("schema", {"name": schema, "database": "shop.db"})
    return [
        Unit(f"shop.db.{schema}", assets=[*parents, schema_body]),
        *(
            Unit(
                f"shop.db.{schema}.{t}",
                assets=[
                    *parents,
                    schema_body,
                    ("table", {"name": t, "schema": f"shop.db.{schema}"}),
                ],
            )
            for t in tables
        ),
    ]


def test_stale_removal_keeps_what_lies_under_a_failed_unit(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schema that failed to list its tables says nothing about them: they are kept, while
    a table dropped from a schema that was read is removed in the same run."""

    def open_two(recipe: Any, ctx: SourceContext) -> Source:
        return TwoSchemas(SourceConfig(), ctx)

    monkeypatch.setattr(runner, "open_source", open_two)
    state = StateStore(catalog.store)
    TwoSchemas.script = _schema_units("main", ["t0", "t1"]) + _schema_units("other", ["u0", "u1"])
    assert run_pipeline(RECIPE, CatalogSink(catalog, "shop"), state).status == "success"

    TwoSchemas.script = [
        Unit("shop.db.main", error="permission denied for schema main"),
        *_schema_units("other", ["u0"]),
    ]
    report = run_pipeline(RECIPE, CatalogSink(catalog, "shop"), state)
    assert (report.status, report.units_failed, report.deleted) == ("partial", 1, 1)
    live = {a.fqn for a in catalog.list_page("table", limit=100).items}
    assert live == {"shop.db.main.t0", "shop.db.main.t1", "shop.db.other.u0"}
    assert catalog.get("schema", Key(fqn="shop.db.main")).deleted is False
