"""Lineage over HTTP on SQLite and PostgreSQL servers: edges asserted and retracted by people
(with column pairs), the graph, impact and paths routes, policy, events and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import Api, Seed, fqn_path, problem_of, unique

pytestmark = pytest.mark.slow


def _tables(
    api: Api, seed: Seed, *names: str, owner: str | None = None
) -> dict[str, dict[str, Any]]:
    out = {}
    for n in names:
        body = seed.table_body(
            n,
            columns=[{"name": c, "data_type": "int"} for c in ("id", "amount")],
        )
        if owner:
            body["owners"] = seed.owner(owner)
        out[n] = api.put_ok("tables", body)
    return out


def _edge(up: dict[str, Any], down: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "from": {"kind": "table", "fqn": up["fqn"]},
        "to": {"kind": "table", "fqn": down["fqn"]},
        **extra,
    }


def _graph(api: Api, t: dict[str, Any], **params: Any) -> dict[str, Any]:
    resp = api.get(f"/api/v1/lineage/tables/name/{fqn_path(t['fqn'])}", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_edges_with_columns_read_back_as_a_graph_with_provenance(api: Api) -> None:
    seed = api.fresh_seed()
    t = _tables(api, seed, "raw", "stg", "mart")
    cursor = api.last_event()
    resp = api.client.post(
        "/api/v1/lineage/edges",
        json=[
            _edge(t["raw"], t["stg"], columns=[["amount", "amount"], ["id", "id"]]),
            _edge(t["stg"], t["mart"], columns=[["amount", "total"]], transformation="sum"),
        ],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"added": 2, "refreshed": 0, "problems": []}
    events = api.events_after(cursor)
    assert [(e["event_type"], e["fqn"]) for e in events] == [
        ("lineage_updated", t["stg"]["fqn"]),
        ("lineage_updated", t["mart"]["fqn"]),
    ]
    assert events[0]["change_description"]["upstream_added"] == [t["raw"]["fqn"]]

    g = _graph(api, t["raw"], direction="downstream", depth=5, columns="true")
    assert [(n["fqn"], n["distance"], n["kind"], n["name"]) for n in g["nodes"]] == [
        (t["raw"]["fqn"], 0, "table", "raw"),
        (t["stg"]["fqn"], 1, "table", "stg"),
        (t["mart"]["fqn"], 2, "table", "mart"),
    ]
    edges = {(e["from"], e["to"]): e for e in g["edges"]}
    first = edges[(t["raw"]["id"], t["stg"]["id"])]
    assert first["columns"] == [["amount", "amount"], ["id", "id"]]
    [prov] = first["provenance"]
    assert prov["source"].startswith("person:") and prov["via"] == ""
    assert prov["first_seen"] == prov["last_seen"]
    second = edges[(t["stg"]["id"], t["mart"]["id"])]
    assert second["provenance"][0]["transformation"] == "sum"
    assert g["paging"] == {"after": None, "limit": 500}

    by_id = api.get(
        f"/api/v1/lineage/tables/{t['mart']['id']}", params={"direction": "upstream", "depth": 1}
    )
    assert by_id.status_code == 200, by_id.text
    assert [n["name"] for n in by_id.json()["nodes"]] == ["mart", "stg"]

    impact = api.get(
        f"/api/v1/lineage/impact/tables/name/{fqn_path(t['raw']['fqn'])}",
        params={"column": "amount"},
    ).json()
    assert [(n["name"], n["distance"]) for n in impact["nodes"]] == [("stg", 1), ("mart", 2)]
    assert [c["name"] for c in impact["nodes"][1]["columns"]] == ["total"]
    assert impact["nodes"][1]["columns"][0]["known"] is False

    paths = api.get(
        "/api/v1/lineage/paths",
        params={"from": f"table:{t['raw']['fqn']}", "to": f"table:{t['mart']['fqn']}"},
    ).json()
    assert paths["paths"] == [[t["raw"]["id"], t["stg"]["id"], t["mart"]["id"]]]


def test_paging_over_http_lists_each_node_once(api: Api) -> None:
    seed = api.fresh_seed()
    names = ["hub", *(f"d{i}" for i in range(7))]
    t = _tables(api, seed, *names)
    edges = [_edge(t["hub"], t[f"d{i}"]) for i in range(7)]
    edges += [_edge(t[f"d{i}"], t[f"d{i + 1}"]) for i in range(6)]
    assert api.client.post("/api/v1/lineage/edges", json=edges).json()["added"] == 13
    seen: list[str] = []
    got_edges: list[tuple[str, str]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 3, "depth": 10}
        if after:
            params["after"] = after
        page = _graph(api, t["hub"], **params)
        seen += [n["name"] for n in page["nodes"]]
        got_edges += [(e["from"], e["to"]) for e in page["edges"]]
        after = page["paging"]["after"]
        if after is None:
            break
    assert sorted(seen) == sorted(names) and len(seen) == len(names)
    assert len(got_edges) == len(set(got_edges)) == 13


def test_people_retract_their_edges_and_connectors_cannot(api: Api) -> None:
    seed = api.fresh_seed()
    t = _tables(api, seed, "a", "b")
    assert api.client.post("/api/v1/lineage/edges", json=[_edge(t["a"], t["b"])]).status_code == 200
    source = _graph(api, t["a"])["edges"][0]["provenance"][0]["source"]
    ends = {"from": f"table:{t['a']['fqn']}", "to": f"table:{t['b']['fqn']}"}

    bot = api.as_role("bot")
    ingest = {"X-Lodestar-Origin": f"ingestion:{unique('p')}"}
    refused = bot.delete("/api/v1/lineage/edges", params={**ends, "source": source}, headers=ingest)
    assert refused.status_code == 403, refused.text
    assert "retracted by that source or by a person" in problem_of(refused)["detail"]
    # The connector's own retraction finds no edge of its own: the person's stays.
    own = bot.delete("/api/v1/lineage/edges", params=ends, headers=ingest)
    assert own.status_code == 404, own.text
    assert len(_graph(api, t["a"])["edges"]) == 1

    cursor = api.last_event()
    gone = api.client.delete("/api/v1/lineage/edges", params=ends)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"removed": 1, "problems": []}
    assert _graph(api, t["a"])["edges"] == []
    [event] = api.events_after(cursor)
    assert event["event_type"] == "lineage_updated"
    assert event["change_description"]["upstream_removed"] == [t["a"]["fqn"]]
    assert api.client.delete("/api/v1/lineage/edges", params=ends).status_code == 404


def test_viewers_cannot_and_editors_only_into_what_they_own(api: Api) -> None:
    seed = api.fresh_seed()
    mine = _tables(api, seed, "mine", owner=seed.bob)["mine"]
    theirs = _tables(api, seed, "theirs", owner=seed.alice)["theirs"]
    viewer = api.as_role("viewer")
    editor = api.as_role("editor", user=seed.bob)
    cursor = api.last_event()
    resp = viewer.post("/api/v1/lineage/edges", json=[_edge(theirs, mine)])
    assert resp.status_code == 403, resp.text
    resp = editor.post("/api/v1/lineage/edges", json=[_edge(mine, theirs)])
    assert resp.status_code == 403, resp.text
    assert api.last_event() == cursor
    resp = editor.post("/api/v1/lineage/edges", json=[_edge(theirs, mine, columns=[["id", "id"]])])
    assert resp.status_code == 200 and resp.json()["added"] == 1, resp.text
    ends = {"from": f"table:{theirs['fqn']}", "to": f"table:{mine['fqn']}"}
    assert viewer.delete("/api/v1/lineage/edges", params=ends).status_code == 403
    assert editor.delete("/api/v1/lineage/edges", params=ends).status_code == 200
    assert viewer.get(f"/api/v1/lineage/tables/{mine['id']}").status_code == 200


def _problem(resp: httpx.Response, status: int, words: str) -> None:
    assert resp.status_code == status, resp.text
    assert words in problem_of(resp)["detail"], resp.text


def test_bad_input_is_a_clear_4xx_and_writes_nothing(api: Api) -> None:
    seed = api.fresh_seed()
    t = _tables(api, seed, "x", "y")
    url = f"/api/v1/lineage/tables/name/{fqn_path(t['x']['fqn'])}"
    _problem(api.get(url, params={"direction": "sideways"}), 422, "direction")
    _problem(api.get(url, params={"depth": -1}), 422, "depth")
    _problem(api.get(url, params={"limit": 0}), 422, "limit")
    _problem(api.get(url, params={"after": "nonsense!"}), 400, "cursor")
    _problem(api.get(url, params={"include": "deleted"}), 422, "include")
    _problem(api.get(f"/api/v1/lineage/widgets/name/{fqn_path(t['x']['fqn'])}"), 404, "widgets")
    _problem(api.get("/api/v1/lineage/tables/name/a..b"), 422, "")
    _problem(api.get("/api/v1/lineage/tables/name/nope.nope"), 404, "nope")
    _problem(
        api.get("/api/v1/lineage/paths", params={"from": "widget:a", "to": "table:b"}),
        422,
        "widget",
    )
    _problem(api.get("/api/v1/lineage/paths", params={"from": "a", "to": "table:b"}), 422, "kind")
    _problem(
        api.get(f"/api/v1/lineage/impact/tables/name/{fqn_path(t['x']['fqn'])}?depth=-2"),
        422,
        "depth",
    )

    cursor = api.last_event()
    for bad in ([["id"]], [["id", 1]], "id", [["", "id"]]):
        resp = api.client.post("/api/v1/lineage/edges", json=[_edge(t["x"], t["y"], columns=bad)])
        assert resp.status_code == 422, (bad, resp.text)
        problem_of(resp)
    resp = api.client.post(
        "/api/v1/lineage/edges",
        json=[{"from": {"kind": "widget", "fqn": "a"}, "to": {"kind": "table", "fqn": "b"}}],
    )
    _problem(resp, 422, "widget")
    _problem(
        api.client.delete("/api/v1/lineage/edges", params={"from": "table:", "to": "table:x"}),
        422,
        "kind",
    )
    assert api.last_event() == cursor
    assert _graph(api, t["x"])["edges"] == []
