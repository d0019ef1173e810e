"""OpenLineage events through the intake service, on SQLite and PostgreSQL: every complete
fixture event lands where it should (assets, runs, edges, observations), the `apples` chain
gives the expected multi-hop lineage, sloppy producers are accepted, unusable events refused
with the field named and nothing written."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import BadRequest, Catalog, Forbidden, Key, NotFound, WriteContext
from lodestar.model.records import iso_to_us
from lodestar.openlineage import store as ols
from lodestar.openlineage.events import parse_time
from lodestar.openlineage.naming import Naming
from lodestar.openlineage.service import OpenLineageIntake, context_for
from lodestar.store import assets as aq
from lodestar.store import edges as eq
from openlineage_support import (
    PRODUCER,
    all_fixture_files,
    column_lineage,
    dataset,
    fixture_events,
    need_fixtures,
    run_event,
    schema_facet,
)

BOT = Principal("ol-bot", "bot")
SOURCE = f"integration:openlineage/{PRODUCER}"


@pytest.fixture
def ol(catalog: Catalog) -> OpenLineageIntake:
    return OpenLineageIntake(catalog)


@pytest.fixture
def ctx() -> WriteContext:
    return context_for(BOT)


def lineage(catalog: Catalog) -> dict[tuple[str, str], dict[str, Any]]:
    """(upstream FQN, downstream FQN) -> the lineage edge row."""
    with catalog.store.read() as conn:
        rows = eq.asserted(conn, relation="lineage")
        names = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    return {(names[r["from_id"]].fqn, names[r["to_id"]].fqn): r for r in rows}


def upstream(edges: dict[tuple[str, str], Any], fqn: str) -> set[str]:
    seen: set[str] = set()
    todo = [fqn]
    while todo:
        here = todo.pop()
        for up, down in edges:
            if down == here and up not in seen:
                seen.add(up)
                todo.append(up)
    return seen


def count(catalog: Catalog, table: sa.Table) -> int:
    with catalog.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def run_row(catalog: Catalog, run_id: str) -> dict[str, Any]:
    with catalog.store.read() as conn:
        row = ols.get_run(conn, run_id)
    assert row is not None, run_id
    return row


def table(catalog: Catalog, fqn: str) -> dict[str, Any]:
    return catalog.get("table", Key(fqn=fqn)).doc


def test_every_complete_fixture_event_is_accepted_and_stored(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    need_fixtures()
    files = all_fixture_files()
    assert len(files) == 33
    sent = 0
    for rel in files:
        for event in fixture_events(rel):
            landed = ol.accept(event, ctx)
            sent += 1
            assert landed.problems == [], (rel, landed.problems)
            # Each dataset it names exists in the catalog, and so does its job's pipeline.
            for fqn in landed.datasets:
                kind = "topic" if fqn.startswith('"kafka') else "table"
                assert catalog.get(kind, Key(fqn=fqn)).fqn == fqn
            if landed.job:
                assert catalog.get("pipeline", Key(fqn=landed.job)).doc["name"]
    assert sent == 58
    assert count(catalog, ols.events) == 58  # every raw event, append-only


def test_apples_chain_gives_multi_hop_lineage(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    need_fixtures()
    for rel in [f for f in all_fixture_files() if f.startswith("marquez/apples/")]:
        for event in fixture_events(rel):
            ol.accept(event, ctx)
    k = '"grandmas.kitchen".default.default.'
    pie, vinegar = f'{k}"apple.pie"', 'cupboard.default.default."apple.vinegar"'
    edges = lineage(catalog)
    assert upstream(edges, pie) == {
        f'{k}"apple.filling"',
        f"{k}apples",
        f"{k}cinnamon",
        "cupboard.default.default.sugar",
        'laurents-orchard.default.default."red.delicious"',
        'backyard.default.default."crab.apples"',
    }
    assert upstream(edges, vinegar) == {
        f'{k}"apple.cider"',
        f"{k}apples",
        "cupboard.default.default.sugar",
        'laurents-orchard.default.default."red.delicious"',
        'backyard.default.default."crab.apples"',
    }
    # Edge contract: via the pipeline, props name the pipeline and the last run.
    pie_edge = edges[(f'{k}"apple.filling"', pie)]
    job = '"grandmas.kitchen".prepare_apple_pie'
    assert pie_edge["via"] == f"pipeline:{job}"
    assert pie_edge["props"] == {"pipeline": job, "run": "bcef9942-cb5c-476a-995b-3e5ca14aff27"}
    assert pie_edge["source"] == "integration:openlineage/" + (
        "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client"
    )
    # Two runs of prepare_apple_pie, both COMPLETED, on the pipeline.
    runs = ol.runs(("grandmas.kitchen", "prepare_apple_pie"), 10, None)
    assert [(r["run_id"], r["state"]) for r in runs] == [
        ("bcef9942-cb5c-476a-995b-3e5ca14aff27", "COMPLETED"),
        ("66ad484e-9bba-4eed-a5f5-3a17558e7f6b", "COMPLETED"),
    ]
    assert runs[0]["pipeline"]["fqn"] == job


def test_full_event_maps_facets_to_pipeline_columns_docs_and_observations(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    need_fixtures()
    (event,) = fixture_events("marquez/open_lineage/event_full.json")
    landed = ol.accept(event, ctx)
    pipeline = catalog.get("pipeline", Key(fqn='my-scheduler-namespace."myjob.mytask"'))
    assert pipeline.doc["description"] == "string"
    assert pipeline.doc["source_url"] == "http://example.com"
    assert pipeline.doc["source_code"] == {"code": "SELECT * FROM foo", "language": "sql"}
    fqn = 'my-datasource-namespace.default.default."instance.schema.table"'
    assert landed.datasets == [fqn]
    doc = table(catalog, fqn)
    assert doc["description"] == "canonical representation of entity Foo"
    assert [(c["name"], c["data_type"], c["description"]) for c in doc["columns"]] == [
        ("column1", "VARCHAR", "string")
    ]
    asset = catalog.get("table", Key(fqn=fqn))
    obs = catalog.observations.read(asset.id)
    by_kind = {o["kind"]: o["value"] for o in obs}
    assert by_kind["data_quality_metrics"] == {"rowCount": 1000, "bytes": 1048576}
    assert by_kind["data_quality_assertions"]["assertions"][1] == {
        "assertion": "no_null_values",
        "success": True,
        "column": "id",
    }
    assert by_kind["output_statistics"] == {"rowCount": 2000, "size": 2097152}
    assert {o["ts"] for o in obs} == {iso_to_us("2020-12-28T19:51:01.641Z")}
    run = run_row(catalog, "ea041791-68bc-4ae1-bd89-4c8106a157e4")
    assert run["state"] == "COMPLETED"
    assert run["parent_run_id"] == "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
    assert run["nominal_start"] == iso_to_us("2020-12-17T03:00:00.001Z")
    # The same event again: no new version of anything, a duplicate of each observation.
    versions = [catalog.get("table", Key(fqn=fqn)).version, pipeline.version]
    ol.accept(event, ctx)
    assert catalog.get("table", Key(fqn=fqn)).version == versions[0]
    assert catalog.get("pipeline", Key(fqn=pipeline.fqn)).version == versions[1]
    assert len(catalog.observations.read(asset.id)) == 3
    assert run_row(catalog, "ea041791-68bc-4ae1-bd89-4c8106a157e4")["events"] == 2


def test_run_states_merge_per_run_id_whatever_the_arrival_order(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    job = ("airflow", "nightly.load")
    rid = "0190a1b2-0000-7000-8000-000000000001"
    fail = run_event(
        job,
        "FAIL",
        run_id=rid,
        when="2026-03-01T12:07:30Z",
        run_facets={"errorMessage": {"message": "division by zero", "programmingLanguage": "py"}},
    )
    ol.accept(fail, ctx)  # the end first
    ol.accept(run_event(job, "START", run_id=rid, when="2026-03-01T12:00:00Z"), ctx)
    ol.accept(run_event(job, "RUNNING", run_id=rid, when="2026-03-01T12:05:00Z"), ctx)
    (run,) = ol.runs(job, 10, None)
    assert run["state"] == "FAILED"
    assert run["started_at"] == "2026-03-01T12:00:00Z"
    assert run["ended_at"] == "2026-03-01T12:07:30Z"
    assert run["duration_ms"] == 450_000
    assert run["error_message"] == "division by zero"
    assert run["events"] == 3
    other = "0190a1b2-0000-7000-8000-000000000002"
    ol.accept(run_event(job, "START", run_id=other, when="2026-03-02T12:00:00Z"), ctx)
    assert ol.run(other)["state"] == "RUNNING"
    assert ol.run(other)["duration_ms"] is None
    ol.accept(run_event(job, "COMPLETE", run_id=other, when="2026-03-02T12:00:01.5Z"), ctx)
    assert (ol.run(other)["state"], ol.run(other)["duration_ms"]) == ("COMPLETED", 1500)
    assert [r["run_id"] for r in ol.runs(job, 10, None)] == [other, rid]


def test_parent_facet_makes_the_job_a_task_of_its_parent_pipeline(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    parent = {"job": {"namespace": "airflow", "name": "dag_a"}, "run": {"runId": "p-1"}}
    for task in ("dag_a.extract", "dag_a.load"):
        ol.accept(run_event(("airflow", task), "START", run_facets={"parent": parent}), ctx)
    dag = catalog.get("pipeline", Key(fqn="airflow.dag_a"))
    assert [t["name"] for t in dag.doc["tasks"]] == ["dag_a.extract", "dag_a.load"]
    assert catalog.get("pipeline", Key(fqn='airflow."dag_a.extract"')).doc["service"] == "airflow"
    _row, asset = ol.lookup("job", "airflow", "dag_a")
    assert asset.id == dag.id
    assert catalog.get("service", Key(fqn="airflow")).doc["category"] == "pipeline"


def test_column_lineage_symlinks_and_naming_of_database_namespaces(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    pg = "postgres://db.example:5432"
    orders = dataset(
        pg, "shop.public.orders", schema=schema_facet(("id", "int"), ("amount", "numeric"))
    )
    people = dataset(pg, "shop.public.people", schema=schema_facet(("id", "int")))
    out = dataset(
        "snowflake://acme",
        "ANALYTICS.MARTS.REVENUE",
        schema=schema_facet(("ID", "NUMBER"), ("TOTAL", "NUMBER")),
        columnLineage=column_lineage(
            {
                "ID": [(pg, "shop.public.orders", "id"), (pg, "shop.public.people", "id")],
                "TOTAL": [(pg, "shop.public.orders", "amount"), (pg, "shop.public.refunds", "x")],
            }
        ),
        symlinks={
            "identifiers": [{"namespace": "hive://m", "name": "marts.revenue", "type": "TABLE"}]
        },
    )
    ol.accept(run_event(("dbt", "marts.revenue"), inputs=[orders, people], outputs=[out]), ctx)
    src = '"postgres://db.example:5432".shop.public'
    dst = "snowflake://acme.ANALYTICS.MARTS.REVENUE"
    edges = lineage(catalog)
    assert edges[(f"{src}.orders", dst)]["props"]["columns"] == [["amount", "TOTAL"], ["id", "ID"]]
    assert edges[(f"{src}.people", dst)]["props"]["columns"] == [["id", "ID"]]
    # A dataset only the columnLineage facet names is an input too.
    assert edges[(f"{src}.refunds", dst)]["props"]["columns"] == [["x", "TOTAL"]]
    assert {e[1] for e in edges} == {dst}
    cols = [c["name"] for c in table(catalog, dst)["columns"]]
    assert cols == ["ID", "TOTAL"]
    _row, by_symlink = ol.lookup("dataset", "hive://m", "marts.revenue")
    assert by_symlink.fqn == dst
    assert ol.lookup("dataset", pg, "shop.public.orders")[1].fqn == f"{src}.orders"
    with pytest.raises(NotFound):
        ol.lookup("dataset", pg, "shop.public.nope")


def test_namespace_setting_maps_datasets_onto_an_ingested_service(
    catalog: Catalog, ctx: WriteContext, seed: Any
) -> None:
    ol = OpenLineageIntake(catalog, Naming({"postgres://wh-host:5432": "wh"}))
    seed.table("orders", columns=[{"name": "id", "data_type": "int", "description": "Key."}])
    ol.accept(
        run_event(
            ("dbt", "raw.orders_copy"),
            inputs=[dataset("postgres://wh-host:5432", "db.raw.orders")],
            outputs=[dataset("postgres://wh-host:5432", "db.raw.orders_copy")],
        ),
        ctx,
    )
    assert ("wh.db.raw.orders", "wh.db.raw.orders_copy") in lineage(catalog)
    # The ingested table is the same asset, untouched by an event that says nothing of it.
    assert table(catalog, "wh.db.raw.orders")["columns"][0]["description"] == "Key."


def test_a_persons_description_and_owners_are_kept(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog, seed: Any, admin_ctx: WriteContext
) -> None:
    def emit(description: str, owner: str) -> None:
        d = dataset(
            "kafka://broker:9092",
            "orders.v1",
            documentation={"description": description},
            ownership={"owners": [{"name": f"user:{owner}", "type": "MAINTAINER"}]},
        )
        ol.accept(run_event(("flink", "orders_job"), outputs=[d]), ctx)

    emit("from the producer", "alice")
    topic = catalog.get("topic", Key(fqn='"kafka://broker:9092"."orders.v1"'))
    assert topic.doc["description"] == "from the producer"
    assert topic.doc["owners"] == [{"kind": "user", "fqn": "alice"}]
    person = WriteContext.for_principal(Principal("carol", "admin"))
    catalog.upsert(
        "topic",
        {
            **topic.doc,
            "description": "Written by a person.",
            "owners": [{"kind": "user", "fqn": "bob"}],
        },
        person,
    )
    emit("changed by the producer", "alice")
    doc = catalog.get("topic", Key(fqn=topic.fqn)).doc
    assert doc["description"] == "Written by a person."
    assert doc["owners"] == [{"kind": "user", "fqn": "bob"}]
    landed = ol.accept(
        run_event(
            ("flink", "orders_job"),
            outputs=[
                dataset("kafka://broker:9092", "x", ownership={"owners": [{"name": "nobody"}]})
            ],
        ),
        ctx,
    )
    assert landed.problems == ["owner 'nobody' is not a user or team of the catalog"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2021-11-03T10:53:52.427343", "2021-11-03T10:53:52.427343Z"),  # no zone: UTC
        ("2020-12-28T19:51:01.641499123Z", "2020-12-28T19:51:01.641499Z"),  # nanoseconds
        ("2020-08-30T09:00:00.000+10:00", "2020-08-29T23:00:00Z"),
        ("2020-08-30T09:00:00+0530", "2020-08-30T03:30:00Z"),
        ("2020-08-30 09:00:00", "2020-08-30T09:00:00Z"),
    ],
)
def test_lenient_times(text: str, iso: str) -> None:
    assert parse_time(text) == iso_to_us(iso)


def test_sloppy_producers_are_accepted(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    event = run_event(
        ("sloppy", "j"),
        "complete",  # lower case
        run_id="r-1",
        when="2024-05-01T10:00:00.123456789",  # no zone, nanoseconds
        outputs=[
            {
                "namespace": "sloppy",
                "name": "tåble ✓",
                "facets": {"schema": {"fields": [{"name": "a"}]}},
            }
        ],
    )
    del event["schemaURL"], event["producer"]
    event["inputs"] = None
    landed = ol.accept(event, ctx)
    assert landed.run_state == "COMPLETED"
    doc = table(catalog, 'sloppy.default.default."tåble ✓"')
    assert doc["columns"][0]["data_type"] == "unknown"
    assert run_row(catalog, "r-1")["last_event_time"] == iso_to_us("2024-05-01T10:00:00.123456Z")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId"),
        (lambda e: e.pop("job"), "job"),
        (lambda e: e["job"].pop("name"), "job.name"),
        (lambda e: e.__setitem__("eventTime", "yesterday"), "eventTime"),
        (lambda e: e.pop("eventTime"), "eventTime"),
        (lambda e: e.__setitem__("eventType", "DONE"), "eventType"),
        (lambda e: e.__setitem__("outputs", {"a": 1}), "outputs"),
        (lambda e: e["outputs"][0].pop("namespace"), "outputs.0.namespace"),
        (lambda e: e["job"].__setitem__("facets", {"sql": "SELECT 1"}), "job.facets.sql"),
    ],
)
def test_unusable_events_are_refused_naming_the_field(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog, mutate: Any, field: str
) -> None:
    event = run_event(("strict", "j"), outputs=[dataset("strict", "t")])
    bad = copy.deepcopy(event)
    mutate(bad)
    with pytest.raises(BadRequest) as info:
        ol.accept(bad, ctx)
    assert info.value.detail.startswith(f"{field}:"), info.value.detail
    assert ".".join(map(str, info.value.errors[0]["loc"])) == field
    assert count(catalog, ols.events) == 0
    with pytest.raises(NotFound):
        catalog.get("pipeline", Key(fqn="strict.j"))


def test_only_admins_stewards_and_bots_send_events() -> None:
    for role in ("admin", "steward", "bot"):
        assert str(context_for(Principal("x", role)).origin) == "integration:openlineage"  # type: ignore[arg-type]
    for role in ("editor", "viewer"):
        with pytest.raises(Forbidden):
            context_for(Principal("x", role))  # type: ignore[arg-type]


def test_a_batch_lands_each_event_on_its_own(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    good = run_event(("b", "ok"), outputs=[dataset("b", "t1")])
    bad = run_event(("b", "bad"), outputs=[dataset("b", "t2")])
    del bad["run"]["runId"]
    result = ol.accept_many([good, bad, good], ctx)
    assert result.as_json()["summary"] == {
        "received": 3,
        "successful": 2,
        "failed": 1,
        "retriable": 0,
        "non_retriable": 1,
    }
    assert result.failed[0].index == 1
    assert "run.runId" in result.failed[0].reason
    assert count(catalog, ols.events) == 2
    with pytest.raises(NotFound):
        catalog.get("table", Key(fqn="b.default.default.t2"))


def test_a_batch_maps_as_the_same_events_one_after_the_other(
    catalog: Catalog, ctx: WriteContext, db_url: str, tmp_path: Any
) -> None:
    """The batch path maps its events together in one transaction: the catalog it leaves is
    the one the same events leave sent one by one."""
    need_fixtures()
    events = [e for rel in all_fixture_files() for e in fixture_events(rel)]
    one_by_one = OpenLineageIntake(catalog)
    for e in events:
        one_by_one.accept(e, ctx)

    from lodestar.store import open_store

    other_url = f"sqlite:///{tmp_path / 'batch.db'}"
    other_store = open_store(other_url)
    try:
        other = Catalog(other_store)
        result = OpenLineageIntake(other).accept_many(events, ctx)
        assert result.failed == [] and len(result.landed) == len(events)

        def picture(cat: Catalog) -> Any:
            # Every edge row, by all of its key: two jobs may carry the same flow (`lineage()`
            # keeps one row per pair of ends, whichever the database returns last).
            with cat.store.read() as conn:
                rows = eq.asserted(conn, relation="lineage")
                names = aq.get_many(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
            edges = sorted(
                (names[r["from_id"]].fqn, names[r["to_id"]].fqn, r["via"], r["source"],
                 orjson.dumps(r["props"], option=orjson.OPT_SORT_KEYS))
                for r in rows
            )  # fmt: skip
            with cat.store.read() as conn:
                runs = conn.execute(sa.select(ols.runs)).mappings().all()
                assets = conn.execute(sa.text("SELECT kind, fqn, doc FROM assets")).all()
            run_facts = sorted(
                (r["run_id"], r["state"], r["started_at"], r["ended_at"], r["events"]) for r in runs
            )
            docs = {(k, f): orjson.loads(d) if isinstance(d, str) else d for k, f, d in assets}
            return edges, run_facts, docs

        assert picture(other) == picture(catalog)
    finally:
        other_store.dispose()


def test_credentials_in_a_namespace_are_not_published(
    ol: OpenLineageIntake, ctx: WriteContext, catalog: Catalog
) -> None:
    leaky = "postgres://etl:hunter2@db.internal:5432"
    ol.accept(run_event(("job-ns", "j"), outputs=[dataset(leaky, "wh.raw.t")]), ctx)
    _row, asset = ol.lookup("dataset", leaky, "wh.raw.t")
    assert asset.fqn == '"postgres://db.internal:5432".wh.raw.t'
    names = ol.names("dataset", None, None, 100)
    assert [n["namespace"] for n in names] == ["postgres://db.internal:5432"]
    with catalog.store.read() as conn:
        docs = conn.execute(sa.text("SELECT doc FROM assets")).all()
    assert "hunter2" not in str(docs)
