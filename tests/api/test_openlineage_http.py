"""OpenLineage over HTTP against a live server (SQLite and PostgreSQL): the fixture events,
gzip bodies, the batch path, bearer auth, problem details naming the field, and the name and
run reads; then the real `openlineage-python` client pointed at the server by OPENLINEAGE_URL."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest

from lodestar.model.fqn import quote
from openlineage_support import (
    all_fixture_files,
    dataset,
    fixture_events,
    need_fixtures,
    run_event,
)

from .support import Api, problem_of, unique

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bot(api: Api) -> httpx.Client:
    return api.as_role("bot")


def job_of(api: Api, namespace: str, name: str) -> httpx.Response:
    return api.get("/api/v1/openlineage/jobs", params={"namespace": namespace, "name": name})


def dataset_of(api: Api, namespace: str, name: str) -> httpx.Response:
    return api.get("/api/v1/openlineage/datasets", params={"namespace": namespace, "name": name})


def upstream_of(api: Api, table: dict[str, Any]) -> set[str]:
    rel = api.get(f"/api/v1/tables/{table['id']}", params={"fields": "relations"}).json()
    return {
        r["fqn"] for r in rel["relations"] if r["relation"] == "lineage" and r["direction"] == "in"
    }


def test_every_fixture_event_posts_and_reads_back(api: Api, bot: httpx.Client) -> None:
    need_fixtures()
    for rel in all_fixture_files():
        for event in fixture_events(rel):
            resp = bot.post("/api/v1/lineage", json=event)
            assert resp.status_code == 200, (rel, resp.text)
            body = resp.json()
            assert body["status"] == "success" and body["problems"] == [], (rel, body)
            if "run" in event:
                runs = api.get("/api/v1/openlineage/runs", params={"run_id": event["run"]["runId"]})
                assert runs.status_code == 200, runs.text
                assert runs.json()["data"][0]["pipeline"]["fqn"] == body["pipeline"]
            if "job" in event:
                job = job_of(api, event["job"]["namespace"], event["job"]["name"])
                assert job.status_code == 200, job.text
                assert (job.json()["kind"], job.json()["fqn"]) == ("pipeline", body["pipeline"])
    # unicode names round-trip through the lookup
    job = job_of(api, "my-scheduler-namespace", "myjob.buggy_task🕷").json()
    assert job["name"] == "myjob.buggy_task🕷"
    out = dataset_of(api, "my-datasource-namespace", "instance.schema.output-1").json()
    assert out["fqn"] == 'my-datasource-namespace.default.default."instance.schema.output-1"'
    assert upstream_of(api, out) >= {
        'my-datasource-namespace.default.default."instance.schema.input-1"',
        'my-datasource-namespace.default.default."instance.schema.input-2"',
    }
    missing = dataset_of(api, "my-datasource-namespace", "no.such.table")
    assert missing.status_code == 404
    problem_of(missing)


def test_gzip_batch_lands_a_chain_and_reports_failures_by_index(
    api: Api, bot: httpx.Client
) -> None:
    ns = unique("ns")
    a, b, c = (dataset(ns, n) for n in ("a", "b", "c"))
    bad = run_event((ns, "broken"), outputs=[dataset(ns, "z")])
    del bad["job"]["namespace"]
    events = [
        run_event((ns, "a_to_b"), inputs=[a], outputs=[b]),
        bad,
        run_event((ns, "b_to_c"), inputs=[b], outputs=[c]),
    ]
    resp = bot.post(
        "/api/v1/lineage/batch",
        content=gzip.compress(orjson.dumps(events)),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "partial_success"
    assert body["summary"] == {
        "received": 3,
        "successful": 2,
        "failed": 1,
        "retriable": 0,
        "non_retriable": 1,
    }
    assert body["failed_events"][0]["index"] == 1
    assert body["failed_events"][0]["reason"].startswith("job.namespace:")
    c_table = dataset_of(api, ns, "c").json()
    assert upstream_of(api, c_table) == {f"{ns}.default.default.b"}
    b_table = dataset_of(api, ns, "b").json()
    assert upstream_of(api, b_table) == {f"{ns}.default.default.a"}
    assert dataset_of(api, ns, "z").status_code == 404

    names = api.get("/api/v1/openlineage/datasets", params={"namespace": ns}).json()
    assert [d["name"] for d in names["data"]] == ["a", "b", "c"]
    runs = api.get("/api/v1/openlineage/runs", params={"namespace": ns, "name": "a_to_b"})
    assert [r["state"] for r in runs.json()["data"]] == ["COMPLETED"]

    # Not one usable event: 400, with each problem located by index.
    none = bot.post("/api/v1/lineage/batch", json=[bad, {"eventTime": "x"}])
    assert none.status_code == 400, none.text
    assert [e["loc"][0] for e in problem_of(none)["errors"]] == [0, 1]
    not_array = bot.post("/api/v1/lineage/batch", json=events[0])
    assert not_array.status_code == 400
    assert "array" in problem_of(not_array)["detail"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId"),
        (lambda e: e.pop("job"), "job"),
        (lambda e: e["job"].pop("name"), "job.name"),
        (lambda e: e.__setitem__("eventTime", "2026-13-45T99:00:00Z"), "eventTime"),
    ],
)
def test_unusable_event_is_a_400_naming_the_field(
    api: Api, bot: httpx.Client, mutate: Any, field: str
) -> None:
    ns = unique("strict")
    event = run_event((ns, "j"), outputs=[dataset(ns, "t")])
    mutate(event)
    resp = bot.post("/api/v1/lineage", json=event)
    assert resp.status_code == 400, resp.text
    problem = problem_of(resp)
    assert problem["detail"].startswith(f"{field}:")
    assert problem["errors"][0]["loc"] == field.split(".")
    assert dataset_of(api, ns, "t").status_code == 404


def test_sloppy_event_is_accepted(api: Api, bot: httpx.Client) -> None:
    ns = unique("sloppy")
    event = {
        "eventType": "START",
        "eventTime": "2024-05-01T10:00:00.123456789",
        "run": {"runId": "not-a-uuid-" + ns},
        "job": {"namespace": ns, "name": "jöb"},
        "outputs": [
            {
                "namespace": ns,
                "name": "out",
                "facets": {"schema": {"fields": [{"name": "x", "type": "int"}]}},
            }
        ],
    }
    resp = bot.post("/api/v1/lineage", json=event)
    assert resp.status_code == 200, resp.text
    run = api.get("/api/v1/openlineage/runs", params={"run_id": event["run"]["runId"]}).json()
    assert run["data"][0]["last_event_time"] == "2024-05-01T10:00:00.123456Z"
    assert run["data"][0]["state"] == "RUNNING"
    table = dataset_of(api, ns, "out").json()
    assert table["columns"][0]["name"] == "x"


def test_gzip_limits_and_encodings(api: Api, bot: httpx.Client) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b"[" + b" " * (9 * 1024 * 1024) + b"]")  # 9 MiB > the 8 MiB limit
    resp = bot.post("/api/v1/lineage", content=bomb, headers=headers)
    assert resp.status_code == 413, resp.text
    problem_of(resp)
    resp = bot.post("/api/v1/lineage", content=b"not gzip at all", headers=headers)
    assert resp.status_code == 400
    assert "gzip" in problem_of(resp)["detail"]
    resp = bot.post("/api/v1/lineage", content=gzip.compress(b"{}")[:-4], headers=headers)
    assert resp.status_code == 400
    problem_of(resp)
    resp = bot.post(
        "/api/v1/lineage",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Encoding": "br"},
    )
    assert resp.status_code == 415
    problem_of(resp)


def test_who_may_send_events(api: Api, api_seed: Any) -> None:
    ns = unique("auth")
    event = run_event((ns, "j"), outputs=[dataset(ns, "t")])
    assert api.anon.post("/api/v1/lineage", json=event).status_code == 401
    for role, user in (("viewer", None), ("editor", api_seed.bob)):
        resp = api.as_role(role, user).post("/api/v1/lineage", json=event)
        assert resp.status_code == 403, (role, resp.text)
        problem_of(resp)
    assert job_of(api, ns, "j").status_code == 404
    for role in ("steward", "bot"):
        assert api.as_role(role).post("/api/v1/lineage", json=event).status_code == 200
    assert api.client.post("/api/v1/lineage", json=event).status_code == 200  # admin
    # Whoever sends, the catalog records the integration as the origin.
    job = job_of(api, ns, "j").json()
    versions = api.get(f"/api/v1/pipelines/{job['id']}/versions").json()["data"]
    assert {v["origin"] for v in versions} == {"integration:openlineage"}


def test_openlineage_python_client_against_the_server(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real client, configured only by OPENLINEAGE_URL and OPENLINEAGE_API_KEY."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset
    from openlineage.client.uuid import generate_new_uuid

    monkeypatch.setenv("OPENLINEAGE_URL", api.server.base_url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", api.token("bot"))
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "false")
    client = OpenLineageClient()
    ns = f"postgres://{unique('pg')}:5432"
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name="id", type="int"),
            schema_dataset.SchemaDatasetFacetFields(name="amount", type="numeric"),
        ]
    )
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "id": column_lineage_dataset.Fields(
                inputFields=[column_lineage_dataset.InputField(ns, "shop.raw.orders", "id")]
            ),
            "amount": column_lineage_dataset.Fields(
                inputFields=[column_lineage_dataset.InputField(ns, "shop.raw.orders", "total")]
            ),
        }
    )
    run = Run(runId=str(generate_new_uuid()))
    job = Job(namespace="airflow-" + ns.split("//")[1], name="shop.daily_orders")
    inputs = [InputDataset(ns, "shop.raw.orders", facets={"schema": schema})]
    outputs = [
        OutputDataset(ns, "shop.marts.orders", facets={"schema": schema, "columnLineage": lineage})
    ]
    client.emit(
        RunEvent(
            eventType=RunState.START,
            eventTime="2026-03-01T10:00:00Z",
            run=run,
            job=job,
            producer="https://example.com/tests",
            inputs=inputs,
            outputs=outputs,
        )
    )
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime="2026-03-01T10:03:00Z",
            run=run,
            job=job,
            producer="https://example.com/tests",
            inputs=inputs,
            outputs=outputs,
        )
    )
    got = api.get("/api/v1/openlineage/runs", params={"run_id": run.runId}).json()["data"][0]
    assert (got["state"], got["duration_ms"]) == ("COMPLETED", 180_000)
    marts = dataset_of(api, ns, "shop.marts.orders").json()
    assert marts["fqn"] == f"{quote(ns)}.shop.marts.orders"
    assert [(c["name"], c["data_type"]) for c in marts["columns"]] == [
        ("id", "int"),
        ("amount", "numeric"),
    ]
    rel = api.get(f"/api/v1/tables/{marts['id']}", params={"fields": "relations"}).json()
    (edge,) = [r for r in rel["relations"] if r["relation"] == "lineage"]
    assert edge["fqn"] == f"{quote(ns)}.shop.raw.orders"
    assert edge["via"] == f"pipeline:{got['pipeline']['fqn']}"
    assert edge["source"] == "integration:openlineage/https://example.com/tests"


def test_runs_page_latest_first(api: Api, bot: httpx.Client) -> None:
    ns = unique("runs")
    for minute in (1, 2, 3):
        event = run_event((ns, "j"), when=f"2026-03-01T12:0{minute}:00Z", run_id=f"{ns}-{minute}")
        assert bot.post("/api/v1/lineage", json=event).status_code == 200
    params: dict[str, Any] = {"namespace": ns, "name": "j", "limit": 2}
    first = api.get("/api/v1/openlineage/runs", params=params).json()
    assert [r["run_id"] for r in first["data"]] == [f"{ns}-3", f"{ns}-2"]
    rest = api.get("/api/v1/openlineage/runs", params={**params, "after": first["paging"]["after"]})
    assert [r["run_id"] for r in rest.json()["data"]] == [f"{ns}-1"]
    assert rest.json()["paging"]["after"] is None
    everyone = api.get("/api/v1/openlineage/runs", params={"limit": 1000}).json()["data"]
    assert {f"{ns}-1", f"{ns}-2", f"{ns}-3"} <= {r["run_id"] for r in everyone}
    unknown = api.get("/api/v1/openlineage/runs", params={"run_id": "no-such-run"})
    assert unknown.status_code == 404
    problem_of(unknown)
