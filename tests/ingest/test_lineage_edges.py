"""Lineage from ingestion: edges carry column pairs and provenance, and an edge the pipeline no
longer reports goes away when it completes a run, with the fail-safe of stale assets.

The source is scripted (the units a connector would yield); the catalog, sink, run state and
database are the real ones, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, WriteContext
from lodestar.catalog.edges import EdgeIn
from lodestar.ingest import runner
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import run_pipeline
from lodestar.ingest.sinks import CatalogSink
from lodestar.ingest.source import Lineage, Source, SourceConfig, SourceContext, Unit
from lodestar.ingest.state import StateStore
from lodestar.model.records import Origin
from lodestar.store import assets as aq
from lodestar.store import edges as eq

SCHEMA = "shop.db.main"
PARENTS: list[tuple[str, dict[str, Any]]] = [
    ("service", {"name": "shop", "category": "database", "service_type": "postgres"}),
    ("database", {"name": "db", "service": "shop"}),
    ("schema", {"name": "main", "database": "shop.db"}),
]


class Scripted(Source):
    config_model = SourceConfig
    script: list[Unit] = []

    def check(self) -> None:
        return None

    def units(self) -> Iterator[Unit]:
        yield from self.script

    def scope(self) -> list[tuple[str, str]]:
        return [("database", "shop.db")]


def _table(name: str, lineage: list[Any] | None = None, error: str | None = None) -> Unit:
    if error is not None:
        return Unit(f"{SCHEMA}.{name}", error=error)
    return Unit(
        f"{SCHEMA}.{name}",
        assets=[*PARENTS, ("table", {"name": name, "schema": SCHEMA})],
        lineage=lineage or [],
    )


def _edge(a: str, b: str, cols: tuple[tuple[str, str], ...] = (), via: str = "") -> Lineage:
    return Lineage(
        "table", f"{SCHEMA}.{a}", "table", f"{SCHEMA}.{b}", via=via, columns=cols,
        props={"transformation": "view"} if cols else None,
    )  # fmt: skip


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[Scripted]:
    def open_scripted(recipe: Any, ctx: SourceContext) -> Source:
        return Scripted(SourceConfig(), ctx)

    monkeypatch.setattr(runner, "open_source", open_scripted)
    return Scripted


RECIPE = parse_recipe({"pipeline": "shop", "source": {"type": "sqlite", "config": {}}})


def _run(catalog: Catalog, script: list[Unit], **options: Any) -> runner.RunReport:
    Scripted.script = script
    recipe = RECIPE
    if options:
        recipe = parse_recipe(
            {"pipeline": "shop", "source": {"type": "sqlite", "config": {}}, "options": options}
        )
    return run_pipeline(recipe, CatalogSink(catalog, "shop"), StateStore(catalog.store))


def _lineage(catalog: Catalog) -> dict[tuple[str, str, str, str], Any]:
    """(from table, to table, via, source) -> props of every lineage edge."""
    with catalog.store.read() as conn:
        rows = eq.asserted(conn, relation="lineage")
        found = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    names = {i: a.fqn for i, a in found.items()}
    return {
        (
            names[r["from_id"]].rsplit(".", 1)[1],
            names[r["to_id"]].rsplit(".", 1)[1],
            r["via"],
            r["source"],
        ): r["props"]
        for r in rows
    }


def _person() -> WriteContext:
    principal = Principal("alice", "steward", origin=Origin("person", "alice"))
    return WriteContext.for_principal(principal)


def test_edges_carry_column_pairs_and_provenance(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    cols = (("id", "id"), ("amount", "total"), ("tax", "total"))
    report = _run(
        catalog,
        [
            _table("orders"),
            _table("big", [_edge("orders", "big", cols)]),
            _table("daily", [("table", f"{SCHEMA}.big", "table", f"{SCHEMA}.daily")]),
            _table("load", [_edge("orders", "load", via="query:abc123")]),
        ],
    )
    assert report.status == "success", report.failures
    assert report.lineage_edges == 3
    got = _lineage(catalog)
    assert got == {
        ("orders", "big", "", "ingestion:shop"): {
            "columns": [["id", "id"], ["amount", "total"], ["tax", "total"]],
            "transformation": "view",
        },
        ("big", "daily", "", "ingestion:shop"): {},
        ("orders", "load", "query:abc123", "ingestion:shop"): {},
    }


def test_an_edge_no_longer_reported_goes_after_a_complete_run(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    first = [
        _table("a"),
        _table("b"),
        _table("v", [_edge("a", "v", (("x", "x"),)), _edge("b", "v")]),
        _table("w", [_edge("v", "w")]),
    ]
    assert _run(catalog, first).status == "success"
    # A person asserts the same edge as the pipeline, and one of their own.
    with catalog.transaction(_person()) as tx:
        tx.add_edges([EdgeIn("table", f"{SCHEMA}.b", "table", f"{SCHEMA}.v")])
        tx.add_edges([EdgeIn("table", f"{SCHEMA}.a", "table", f"{SCHEMA}.w")])

    # v's SQL no longer reads b, and a's column feeds another column: b -> v goes (only the
    # pipeline's row of it), a -> v gets its new pairs; w is unchanged (skipped) and keeps v -> w.
    second = [
        _table("a"),
        _table("b"),
        _table("v", [_edge("a", "v", (("x", "y"),))]),
        _table("w", [_edge("v", "w")]),
    ]
    report = _run(catalog, second)
    assert report.status == "success", report.failures
    assert report.units_skipped == 3
    assert report.lineage_removed == 1
    assert _lineage(catalog) == {
        ("a", "v", "", "ingestion:shop"): {"columns": [["x", "y"]], "transformation": "view"},
        ("v", "w", "", "ingestion:shop"): {},
        ("b", "v", "", "person:alice"): None,
        ("a", "w", "", "person:alice"): None,
    }

    # w is dropped from the source: its asset is soft-deleted and its edge retracted.
    report = _run(catalog, second[:3])
    assert (report.deleted, report.lineage_removed) == (1, 1), report.warnings
    assert set(_lineage(catalog)) == {
        ("a", "v", "", "ingestion:shop"),
        ("b", "v", "", "person:alice"),
        ("a", "w", "", "person:alice"),
    }


def test_a_failed_unit_keeps_its_edges_and_a_failed_run_removes_none(
    catalog: Catalog, scripted: type[Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        _run(
            catalog,
            [_table("a"), _table("v", [_edge("a", "v")]), _table("w", [_edge("a", "w")])],
        ).status
        == "success"
    )

    # v fails to extract this time: its edge stays, while w's edge, no longer reported, goes.
    report = _run(catalog, [_table("a"), _table("v", error="permission denied"), _table("w")])
    assert report.status == "partial"
    assert report.lineage_removed == 1
    assert set(_lineage(catalog)) == {("a", "v", "", "ingestion:shop")}

    # A run that does not complete removes nothing.
    class Broken(Scripted):
        def units(self) -> Iterator[Unit]:
            yield _table("a")
            raise ConnectionError("connection lost")

    monkeypatch.setattr(runner, "open_source", lambda r, ctx: Broken(SourceConfig(), ctx))
    report = run_pipeline(RECIPE, CatalogSink(catalog, "shop"), StateStore(catalog.store))
    assert report.status == "failed"
    assert set(_lineage(catalog)) == {("a", "v", "", "ingestion:shop")}


def test_a_source_losing_most_units_removes_no_edge(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    tables = [_table("a"), *(_table(f"v{i}", [_edge("a", f"v{i}")]) for i in range(4))]
    assert _run(catalog, tables).status == "success"
    report = _run(catalog, tables[:1])  # 4 of 5 units gone: over max_deletion_ratio 0.5
    assert report.lineage_removed == 0
    assert any("max_deletion_ratio" in w for w in report.warnings)
    assert len(_lineage(catalog)) == 4


def test_edges_go_even_when_assets_are_not_soft_deleted(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    assert _run(catalog, [_table("a"), _table("v", [_edge("a", "v")])]).status == "success"
    report = _run(catalog, [_table("a"), _table("v")], mark_deleted=False)
    assert (report.deleted, report.lineage_removed) == (0, 1)
    assert _lineage(catalog) == {}


def test_an_edge_whose_upstream_comes_in_a_later_batch_is_kept(
    catalog: Catalog, scripted: type[Scripted]
) -> None:
    # A view sorts before the table it reads, and each unit is its own batch.
    script = [_table("a_view", [_edge("z_table", "a_view")]), _table("z_table")]
    report = _run(catalog, script, batch_size=1)
    assert report.status == "success", report.failures
    assert (report.lineage_edges, report.warnings) == (1, [])
    assert set(_lineage(catalog)) == {("z_table", "a_view", "", "ingestion:shop")}

    # An upstream that never comes is a warning, and the edge is not stored; the units of
    # the first run are skipped, their edge kept.
    report = _run(catalog, [*script, _table("b", [_edge("nowhere", "b")])], batch_size=1)
    assert (report.units_skipped, report.lineage_edges) == (2, 0)
    assert set(_lineage(catalog)) == {("z_table", "a_view", "", "ingestion:shop")}
    assert any("nowhere" in w and "does not exist" in w for w in report.warnings)
