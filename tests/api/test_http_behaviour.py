"""HTTP behaviour of the catalog API against a real server, on SQLite and on PostgreSQL.

Each test seeds its own catalog under a unique prefix, so tests share the module's server
without seeing each other's assets.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

import lodestar

from .support import Api, Seed, fqn_path, problem_of, unique

pytestmark = pytest.mark.slow  # every test here talks to a server in a subprocess

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def _us(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


def _ndjson(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


def _status_lines(resp: httpx.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in resp.content.splitlines() if line.strip()]


def _put_table(api: Api, seed: Seed, name: str, **fields: Any) -> dict[str, Any]:
    return api.put_ok("tables", seed.table_body(name, **fields))


def _walk(
    api: Api, params: dict[str, Any], *, full: bool = False
) -> tuple[list[list[Any]], list[int]]:
    """Follow `paging.after` through a table listing: the FQNs (or, `full`, the assets) of
    each page, and the totals seen."""
    pages: list[list[Any]] = []
    totals: list[int] = []
    after: str | None = None
    while True:
        resp = api.get("/api/v1/tables", params={**params, **({"after": after} if after else {})})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append([a if full else a["fqn"] for a in body["data"]])
        totals.append(body["paging"]["total"])
        after = body["paging"]["after"]
        if after is None:
            return pages, totals
        assert len(pages) < 1000, "the cursor does not advance"


# -- health ---------------------------------------------------------------------------------------


def test_health_answers_without_a_token_and_names_the_last_event(api: Api) -> None:
    user = api.put_ok("users", {"name": unique("u")})
    resp = api.anon.get("/api/v1/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["version"] == lodestar.__version__
    last = body["last_event"]
    events = api.get("/api/v1/events", params={"after": last - 1}).json()["data"]
    assert [(e["seq"], e["id"]) for e in events] == [(last, user["id"])]
    assert api.get("/api/v1/events", params={"after": last}).json()["data"] == []


# -- idempotent PUT -------------------------------------------------------------------------------


def test_put_the_same_body_twice_makes_one_version_and_one_event(api: Api) -> None:
    seed = api.fresh_seed()
    body = seed.table_body(
        "orders",
        description="All orders",
        owners=seed.owner(seed.alice),
        tags=[seed.tag],
        columns=[
            {"name": "id", "data_type": "bigint", "nullable": False},
            {"name": "email", "data_type": "text", "tags": [seed.tag]},
        ],
    )
    cursor = api.last_event()

    first = api.put("tables", body)
    assert first.status_code == 201, first.text
    assert first.headers["X-Lodestar-Change"] == "created"
    assert first.headers["ETag"] == '"1"'
    created = first.json()
    assert created["version"] == 1
    assert created["change_description"]["fields_added"]

    second = api.put("tables", body)
    assert second.status_code == 200, second.text
    assert second.headers["X-Lodestar-Change"] == "unchanged"
    assert second.headers["ETag"] == '"1"'
    assert second.json()["version"] == 1
    assert second.json()["id"] == created["id"]

    # A GET result PUT back, with a redundantly quoted tag, is the same asset: still unchanged.
    read = api.get(f"/api/v1/tables/{created['id']}").json()
    read["tags"] = [f'"{seed.classification}".Sensitive']
    third = api.put("tables", read)
    assert third.status_code == 200, third.text
    assert third.headers["X-Lodestar-Change"] == "unchanged"

    versions = api.get(f"/api/v1/tables/{created['id']}/versions").json()
    assert [v["version"] for v in versions["data"]] == [1]
    events = api.events_after(cursor)
    assert [(e["event_type"], e["id"], e["version"]) for e in events] == [
        ("entity_created", created["id"], 1)
    ]


# -- ETag and If-Match ----------------------------------------------------------------------------


def test_reads_carry_an_etag_and_stale_if_match_is_412_on_every_write(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(api, seed, "etagged")
    by_id, by_name = f"/api/v1/tables/{t['id']}", f"/api/v1/tables/name/{fqn_path(t['fqn'])}"
    assert api.get(by_id).headers["ETag"] == '"1"'
    assert api.get(by_name).headers["ETag"] == '"1"'

    ok = api.client.patch(by_id, json={"description": "v2"}, headers={**MERGE, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert api.get(by_name).headers["ETag"] == '"2"'

    cursor = api.last_event()
    stale = {"If-Match": '"1"'}
    for resp in (
        api.client.put(
            "/api/v1/tables", json=seed.table_body("etagged", description="x"), headers=stale
        ),
        api.client.patch(by_id, json={"description": "x"}, headers={**MERGE, **stale}),
        api.client.patch(by_name, json={"description": "x"}, headers={**MERGE, **stale}),
        api.client.delete(by_id, headers=stale),
        api.client.delete(by_name, headers=stale),
    ):
        assert resp.status_code == 412, (resp.request.method, resp.request.url, resp.text)
        problem_of(resp)
    assert api.last_event() == cursor
    now = api.get(by_id).json()
    assert (now["version"], now["description"], now["deleted"]) == (2, "v2", False)

    # If-Match on an asset that does not exist yet cannot match.
    missing = api.client.put(
        "/api/v1/tables", json=seed.table_body("not_there"), headers={"If-Match": '"1"'}
    )
    assert missing.status_code == 412, missing.text

    # A weak ETag never matches If-Match (RFC 9110), not even the current version's; an
    # unterminated one is malformed.
    weak = api.client.put(
        "/api/v1/tables",
        json=seed.table_body("etagged", description="v3"),
        headers={"If-Match": 'W/"2"'},
    )
    assert weak.status_code == 412, weak.text
    assert problem_of(weak)["status"] == 412
    for bad in ('"2', '2"', 'W/"2', "W/2"):
        malformed = api.client.patch(
            by_id, json={"description": "no"}, headers={**MERGE, "If-Match": bad}
        )
        assert malformed.status_code == 400, (bad, malformed.text)
    # The current version (and `*`) lets the write through.
    put = api.client.put(
        "/api/v1/tables",
        json=seed.table_body("etagged", description="v3"),
        headers={"If-Match": '"2"'},
    )
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] == '"3"'
    star = api.client.patch(by_id, json={"description": "v4"}, headers={**MERGE, "If-Match": "*"})
    assert star.status_code == 200, star.text
    gone = api.client.delete(by_name, headers={"If-Match": '"4"'})
    assert gone.status_code == 200, gone.text
    assert gone.json()["deleted"] is True
    assert gone.headers["ETag"] == '"5"'


# -- PATCH ----------------------------------------------------------------------------------------


def test_merge_patch_sets_and_removes_fields(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(api, seed, "merged", description="before", display_name="Merged")
    url = f"/api/v1/tables/name/{fqn_path(t['fqn'])}"

    resp = api.client.patch(
        url, json={"description": "after", "owners": seed.owner(seed.bob)}, headers=MERGE
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Lodestar-Change"] == "updated"
    got = resp.json()
    assert got["description"] == "after"
    assert got["owners"] == [{"kind": "user", "fqn": seed.bob}]
    assert got["display_name"] == "Merged"
    updated = {e["name"]: e for e in got["change_description"]["fields_updated"]}
    assert updated["description"]["old"] == "before"
    assert updated["description"]["new"] == "after"

    # null removes a member (RFC 7386)
    resp = api.client.patch(url, json={"display_name": None}, headers=MERGE)
    assert resp.status_code == 200, resp.text
    assert "display_name" not in api.get(url).json()
    assert [d["name"] for d in resp.json()["change_description"]["fields_deleted"]] == [
        "display_name"
    ]

    # application/json with an object is a merge patch too
    resp = api.client.patch(url, json={"description": "plain json"})
    assert resp.status_code == 200, resp.text
    assert api.get(url).json()["description"] == "plain json"

    # A patch that changes nothing makes no version.
    before = api.last_event()
    resp = api.client.patch(url, json={"description": "plain json"}, headers=MERGE)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Lodestar-Change"] == "unchanged"
    assert api.last_event() == before


def test_json_patch_applies_operations_and_a_failed_test_changes_nothing(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(api, seed, "patched")
    url = f"/api/v1/tables/{t['id']}"
    ops = [
        {"op": "add", "path": "/columns/-", "value": {"name": "email", "data_type": "text"}},
        {"op": "add", "path": "/description", "value": "with email"},
        {"op": "replace", "path": "/columns/0/data_type", "value": "bigint"},
    ]
    resp = api.client.patch(url, json=ops, headers=JSON_PATCH)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert [(c["name"], c["data_type"]) for c in got["columns"]] == [
        ("id", "bigint"),
        ("email", "text"),
    ]
    assert got["columns"][1]["ordinal"] == 2
    assert got["description"] == "with email"
    assert got["version"] == 2
    assert got["change_description"]["breaking"] == ["column 'id' type changed from int to bigint"]

    # application/json with an array is a JSON Patch
    resp = api.client.patch(url, json=[{"op": "remove", "path": "/description"}])
    assert resp.status_code == 200, resp.text
    assert "description" not in api.get(url).json()

    cursor = api.last_event()
    failing = [
        {"op": "add", "path": "/description", "value": "never"},
        {"op": "test", "path": "/name", "value": "not-the-name"},
    ]
    resp = api.client.patch(url, json=failing, headers=JSON_PATCH)
    assert resp.status_code == 409, resp.text
    problem_of(resp)
    assert api.last_event() == cursor
    assert "description" not in api.get(url).json()


# -- versions and change descriptions -------------------------------------------------------------


def test_versions_keep_every_document_and_flag_breaking_column_changes(api: Api) -> None:
    seed = api.fresh_seed()
    v1_columns = [
        {"name": "id", "data_type": "int"},
        {"name": "name", "data_type": "text"},
        {"name": "email", "data_type": "text"},
    ]
    t = _put_table(api, seed, "customers", columns=v1_columns)
    v2 = api.put(
        "tables",
        seed.table_body(
            "customers",
            columns=[
                {"name": "id", "data_type": "bigint"},
                {"name": "name", "data_type": "text"},
                {"name": "created_at", "data_type": "timestamp"},
            ],
        ),
    )
    assert v2.status_code == 200, v2.text
    change = v2.json()["change_description"]
    assert sorted(change["breaking"]) == [
        "column 'email' removed",
        "column 'id' type changed from int to bigint",
    ]
    assert change["previous_version"] == 1
    assert "columns.created_at" in [a["name"] for a in change["fields_added"]]
    assert "columns.email" in [d["name"] for d in change["fields_deleted"]]
    assert {"name": "columns.id.data_type", "old": "int", "new": "bigint"} in change[
        "fields_updated"
    ]
    # A documentation change is not breaking.
    v3 = api.client.patch(f"/api/v1/tables/{t['id']}", json={"description": "docs"}, headers=MERGE)
    assert v3.json()["change_description"]["breaking"] == []

    versions = api.get(f"/api/v1/tables/{t['id']}/versions").json()
    assert versions["paging"]["total"] == 3
    assert [v["version"] for v in versions["data"]] == [3, 2, 1]
    for v in versions["data"]:
        assert v["updated_by"] == "admin"
        assert v["origin"] == "person"
        assert v["fqn"] == t["fqn"]
    assert versions["data"][1]["change_description"]["breaking"] == change["breaking"]

    one = api.get(f"/api/v1/tables/{t['id']}/versions/1")
    assert one.status_code == 200, one.text
    assert [c["name"] for c in one.json()["doc"]["columns"]] == ["id", "name", "email"]
    missing = api.get(f"/api/v1/tables/{t['id']}/versions/4")
    assert missing.status_code == 404
    problem_of(missing)


def test_as_of_reads_an_asset_and_a_list_as_they_were(api: Api) -> None:
    seed = api.fresh_seed()
    v1 = _put_table(api, seed, "timeline", description="first")
    time.sleep(0.01)
    v2 = api.client.patch(
        f"/api/v1/tables/{v1['id']}", json={"description": "second"}, headers=MERGE
    ).json()
    time.sleep(0.01)
    deleted = api.client.delete(f"/api/v1/tables/{v1['id']}").json()
    t1, t2 = v1["updated_at"], v2["updated_at"]
    by_name = f"/api/v1/tables/name/{fqn_path(v1['fqn'])}"

    past = api.get(by_name, params={"as_of": t1})
    assert past.status_code == 200, past.text
    assert (past.json()["version"], past.json()["description"]) == (1, "first")
    assert past.headers["ETag"] == '"1"'
    assert api.get(f"/api/v1/tables/{v1['id']}", params={"as_of": t2}).json()["description"] == (
        "second"
    )
    # Epoch milliseconds, rounded up past the first write.
    ms = _us(t1) // 1000 + 1
    assert api.get(by_name, params={"as_of": str(ms)}).json()["version"] == 1
    # Now it is deleted; as of the deletion it reads as deleted.
    assert api.get(by_name, params={"as_of": deleted["updated_at"]}).json()["deleted"] is True
    # Before it existed there is nothing.
    before = api.get(by_name, params={"as_of": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404
    problem_of(before)

    # A list as of a time cannot filter by parent: walk it all for this table.
    pages, _ = _walk(api, {"as_of": t2, "limit": 1000}, full=True)
    mine = [a for page in pages for a in page if a["id"] == v1["id"]]
    assert [(a["version"], a["description"], a["deleted"]) for a in mine] == [(2, "second", False)]
    now = api.get("/api/v1/tables", params={"parent": seed.schema}).json()
    assert v1["id"] not in [a["id"] for a in now["data"]]


# -- lists ----------------------------------------------------------------------------------------

ODD_NAMES = ["with.dot", 'with"quote', "Ünïcödé", "space name", "9_starts_with_digit"]


def test_cursor_paging_walks_every_asset_exactly_once(api: Api) -> None:
    seed = api.fresh_seed()
    names = [f"t{i:02d}" for i in range(20)] + ODD_NAMES
    resp = api.client.post(
        "/api/v1/bulk",
        content=_ndjson([{"kind": "table", **seed.table_body(n)} for n in names]),
        headers=NDJSON,
    )
    created = _status_lines(resp)
    assert {line["status"] for line in created} == {201}
    expected = sorted(line["fqn"] for line in created)
    assert f'{seed.schema}."with.dot"' in expected

    for limit in (1, 7, 25, 1000):
        pages, totals = _walk(api, {"parent": seed.schema, "limit": limit})
        seen = [fqn for page in pages for fqn in page]
        assert sorted(seen) == expected, f"limit={limit}: gaps or extras"
        assert len(seen) == len(set(seen)), f"limit={limit}: duplicates"
        assert set(totals) == {25}, f"limit={limit}"
        assert all(len(p) <= limit for p in pages)
        assert all(len(p) == limit for p in pages[:-2]), "only the last pages may be short"
    # The pages follow FQN order, so a page never repeats what an earlier one held.
    pages, _ = _walk(api, {"parent": seed.schema, "limit": 4})
    flat = [fqn for page in pages for fqn in page]
    assert flat == sorted(flat)


def test_include_selects_live_deleted_or_all(api: Api) -> None:
    seed = api.fresh_seed()
    ids = [_put_table(api, seed, f"inc{i}")["id"] for i in range(5)]
    for i in ids[:2]:
        assert api.client.delete(f"/api/v1/tables/{i}").status_code == 200

    def listed(include: str | None) -> tuple[set[str], int, set[bool]]:
        params = {"parent": seed.schema, **({"include": include} if include else {})}
        body = api.get("/api/v1/tables", params=params).json()
        return (
            {a["id"] for a in body["data"]},
            body["paging"]["total"],
            {a["deleted"] for a in body["data"]},
        )

    assert listed(None) == (set(ids[2:]), 3, {False})
    assert listed("non-deleted") == (set(ids[2:]), 3, {False})
    assert listed("deleted") == (set(ids[:2]), 2, {True})
    assert listed("all") == (set(ids), 5, {True, False})


def test_parent_tag_and_owner_filters(api: Api) -> None:
    seed = api.fresh_seed()
    other_schema = api.put_ok("schemas", {"name": "other", "database": seed.database})["fqn"]
    t1 = _put_table(api, seed, "f1", owners=seed.owner(seed.alice), tags=[seed.tag])
    t2 = _put_table(api, seed, "f2", owners=seed.owner(seed.team, "team"))
    t3 = _put_table(
        api,
        seed,
        "f3",
        columns=[{"name": "ssn", "data_type": "text", "tags": [seed.tag]}],
        owners=seed.owner(seed.bob),
    )
    t4 = api.put_ok(
        "tables",
        {**seed.table_body("f4"), "schema": other_schema, "owners": seed.owner(seed.alice)},
    )

    def fqns(**params: str) -> list[str]:
        resp = api.get("/api/v1/tables", params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["paging"]["total"] == len(body["data"])
        return [a["fqn"] for a in body["data"]]

    assert fqns(parent=seed.schema) == [t1["fqn"], t2["fqn"], t3["fqn"]]
    assert fqns(parent=other_schema) == [t4["fqn"]]
    assert fqns(parent=f"{seed.database}.nope") == []
    # A tag on the table or on one of its columns.
    assert fqns(tag=seed.tag) == [t1["fqn"], t3["fqn"]]
    assert fqns(owner=f"user:{seed.alice}") == sorted([t1["fqn"], t4["fqn"]])
    assert fqns(owner=f"team:{seed.team}") == [t2["fqn"]]
    assert fqns(owner=f"user:{seed.carol}") == []
    assert fqns(parent=other_schema, owner=f"user:{seed.alice}") == [t4["fqn"]]
    assert fqns(parent=seed.schema, tag=seed.tag) == [t1["fqn"], t3["fqn"]]
    # Both filters apply together: the tagged tables owned by bob.
    assert fqns(tag=seed.tag, owner=f"user:{seed.bob}") == [t3["fqn"]]


def test_fields_expand_children_relations_and_provenance(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(
        api,
        seed,
        "expanded",
        owners=seed.owner(seed.alice),
        tags=[seed.tag],
        description="documented",
        columns=[{"name": "ssn", "data_type": "text", "tags": [seed.tag]}],
    )
    gone = _put_table(api, seed, "gone")
    api.client.delete(f"/api/v1/tables/{gone['id']}")

    schema = api.by_name("schemas", seed.schema, params={"fields": "children"}).json()
    assert schema["children"] == [{"id": t["id"], "kind": "table", "fqn": t["fqn"]}]
    assert "relations" not in schema

    got = api.get(f"/api/v1/tables/{t['id']}", params={"fields": "relations,provenance"}).json()
    rel = {(r["direction"], r["relation"], r["kind"], r["fqn"], r["via"]) for r in got["relations"]}
    assert rel == {
        ("in", "contains", "schema", seed.schema, None),
        ("out", "owned_by", "user", seed.alice, None),
        ("out", "tagged_with", "tag", seed.tag, None),
        ("out", "tagged_with", "tag", seed.tag, "ssn"),
    }
    assert got["provenance"]["description"]["origin"] == "person"
    assert got["provenance"]["description"]["actor"] == "admin"

    # The expansions work on lists too, and on the reverse side of an edge.
    listed = api.get(
        "/api/v1/schemas", params={"fields": "children,relations", "parent": seed.database}
    ).json()["data"]
    assert [s["fqn"] for s in listed] == [seed.schema]
    assert [c["fqn"] for c in listed[0]["children"]] == [t["fqn"]]
    assert ("in", "contains", seed.database) in {
        (r["direction"], r["relation"], r["fqn"]) for r in listed[0]["relations"]
    }
    user = api.by_name("users", seed.alice, params={"fields": "relations"}).json()
    assert ("in", "owned_by", "table", t["fqn"]) in {
        (r["direction"], r["relation"], r["kind"], r["fqn"]) for r in user["relations"]
    }


# -- delete, restore, hard delete -----------------------------------------------------------------


def test_soft_delete_restore_and_hard_delete_with_recursive(api: Api) -> None:
    seed = api.fresh_seed()
    t1 = _put_table(api, seed, "d1")
    t2 = _put_table(api, seed, "d2")
    schema_url = f"/api/v1/schemas/name/{fqn_path(seed.schema)}"
    schema_id = api.get(schema_url).json()["id"]
    cursor = api.last_event()

    refused = api.client.delete(schema_url)
    assert refused.status_code == 409, refused.text
    assert "recursive" in problem_of(refused)["detail"]
    assert api.last_event() == cursor

    resp = api.client.delete(schema_url, params={"recursive": "true"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["deleted"] is True
    for t in (t1, t2):
        got = api.get(f"/api/v1/tables/{t['id']}").json()
        assert got["deleted"] is True
        assert got["version"] == 2
    assert api.get("/api/v1/tables", params={"parent": seed.schema}).json()["paging"]["total"] == 0
    events = api.events_after(cursor)
    assert sorted((e["event_type"], e["id"]) for e in events) == sorted(
        ("entity_soft_deleted", i) for i in (schema_id, t1["id"], t2["id"])
    )

    # Under a deleted parent nothing is written or restored on its own.
    cursor = api.last_event()
    under = api.put("tables", seed.table_body("d3"))
    assert under.status_code == 422, under.text
    assert "deleted" in problem_of(under)["detail"]
    alone = api.client.post(f"/api/v1/tables/{t1['id']}/restore")
    assert alone.status_code == 409, alone.text
    again = api.client.delete(schema_url, params={"recursive": "true"})
    assert again.status_code == 409, again.text
    assert api.last_event() == cursor

    restored = api.client.post(f"/api/v1/schemas/{schema_id}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted"] is False
    for t in (t1, t2):
        got = api.get(f"/api/v1/tables/{t['id']}").json()
        assert (got["deleted"], got["version"]) == (False, 3)
    assert [e["event_type"] for e in api.events_after(cursor)] == ["entity_restored"] * 3

    # Hard delete erases the asset and its history.
    cursor = api.last_event()
    resp = api.client.delete(f"/api/v1/tables/{t2['id']}", params={"hard": "true"})
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    for url in (f"/api/v1/tables/{t2['id']}", f"/api/v1/tables/{t2['id']}/versions"):
        assert api.get(url).status_code == 404
    assert api.by_name("tables", t2["fqn"]).status_code == 404
    assert [(e["event_type"], e["id"]) for e in api.events_after(cursor)] == [
        ("entity_hard_deleted", t2["id"])
    ]

    refused = api.client.delete(schema_url, params={"hard": "true"})
    assert refused.status_code == 409, refused.text
    resp = api.client.delete(schema_url, params={"hard": "true", "recursive": "true"})
    assert resp.status_code == 204, resp.text
    assert api.get(f"/api/v1/tables/{t1['id']}").status_code == 404
    assert api.get(schema_url).status_code == 404

    # The name is free again: a new asset with a new id and a fresh history.
    api.put_ok("schemas", {"name": "raw", "database": seed.database})
    again = api.put("tables", seed.table_body("d1"))
    assert again.status_code == 201, again.text
    assert again.json()["id"] != t1["id"]
    assert again.json()["version"] == 1


def test_put_of_a_soft_deleted_asset_restores_it(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(api, seed, "phoenix")
    api.client.delete(f"/api/v1/tables/{t['id']}")
    cursor = api.last_event()
    resp = api.put("tables", seed.table_body("phoenix"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Lodestar-Change"] == "updated"
    assert (resp.json()["deleted"], resp.json()["version"], resp.json()["id"]) == (
        False,
        3,
        t["id"],
    )
    assert [e["event_type"] for e in api.events_after(cursor)] == ["entity_restored"]
    created = api.client.post("/api/v1/tables", json=seed.table_body("phoenix"))
    assert created.status_code == 409, created.text


# -- bulk -----------------------------------------------------------------------------------------


def test_bulk_ndjson_answers_each_line_and_a_bad_line_fails_alone(api: Api) -> None:
    seed = api.fresh_seed()
    cursor = api.last_event()
    lines: list[Any] = [
        {"kind": "schema", "name": "bulked", "database": seed.database},
        {"kind": "table", **seed.table_body("b1"), "schema": f"{seed.database}.bulked"},
        b'{"kind": "table", "name": "broken", ',
        {"kind": "table", "name": "orphan"},
        {"kind": "table", **seed.table_body("lost"), "schema": f"{seed.database}.nope"},
        {"kind": "table", **seed.table_body("b2"), "schema": f"{seed.database}.bulked"},
        {"name": "kindless"},
        [1, 2, 3],
        {"kind": "spaceship", "name": "x"},
        {"kind": "table", **seed.table_body("b3"), "schema": f"{seed.database}.bulked"},
        {
            "kind": "table",
            **seed.table_body("b1"),
            "schema": f"{seed.database}.bulked",
            "description": "again",
        },
    ]
    out = _status_lines(api.client.post("/api/v1/bulk", content=_ndjson(lines), headers=NDJSON))
    assert [o["line"] for o in out] == list(range(1, len(lines) + 1))
    assert [o["status"] for o in out] == [201, 201, 400, 422, 422, 201, 422, 422, 422, 201, 200]
    assert [o["result"] for o in out] == [
        "created",
        "created",
        "error",
        "error",
        "error",
        "created",
        "error",
        "error",
        "error",
        "created",
        "updated",
    ]
    for o in out:
        if o["result"] == "error":
            err = o["error"]
            assert {"type", "title", "status", "detail"} <= err.keys(), o
            assert err["status"] == o["status"]
        else:
            assert api.get(o["href"]).json()["fqn"] == o["fqn"]
    assert out[10]["version"] == 2
    assert api.by_name("tables", f"{seed.database}.bulked.b1").json()["description"] == "again"
    for name in ("broken", "orphan", "lost", "kindless"):
        assert api.by_name("tables", f"{seed.database}.bulked.{name}").status_code == 404
    assert api.by_name("tables", f"{seed.database}.nope.lost").status_code == 404
    assert len(api.events_after(cursor)) == 5

    # The same lines again: only the asset written twice in the batch changes.
    cursor = api.last_event()
    again = _status_lines(api.client.post("/api/v1/bulk", content=_ndjson(lines), headers=NDJSON))
    assert [o["result"] for o in again] == [
        "unchanged",
        "updated",  # line 2 drops the description that line 11 sets again
        *["error"] * 3,
        "unchanged",
        *["error"] * 3,
        "unchanged",
        "updated",
    ]
    assert api.last_event() == cursor + 2


def test_bulk_of_many_lines_crosses_chunks_and_keeps_order(api: Api) -> None:
    seed = api.fresh_seed()
    n = 620  # the server plans and stores bulk lines in chunks of 500
    lines: list[Any] = [{"kind": "table", **seed.table_body(f"m{i:04d}")} for i in range(n)]
    lines[555] = {"kind": "table", **seed.table_body("m_bad"), "columns": "not a list"}
    out = _status_lines(api.client.post("/api/v1/bulk", content=_ndjson(lines), headers=NDJSON))
    assert [o["line"] for o in out] == list(range(1, n + 1))
    assert [i for i, o in enumerate(out) if o["status"] != 201] == [555]
    assert out[555]["status"] == 422
    listed = api.get("/api/v1/tables", params={"parent": seed.schema, "limit": 1})
    assert listed.json()["paging"]["total"] == n - 1


# -- events ---------------------------------------------------------------------------------------


def test_events_feed_follows_every_change_in_order(api: Api) -> None:
    seed = api.fresh_seed()
    cursor = api.last_event()
    t = _put_table(api, seed, "evented")
    url = f"/api/v1/tables/{t['id']}"
    api.put_ok("tables", seed.table_body("evented", description="v2"))
    api.client.patch(url, json={"description": "v3"}, headers=MERGE)
    api.client.delete(url)
    api.client.post(f"{url}/restore")
    api.client.delete(url, params={"hard": "true"})
    api.put_ok("users", {"name": f"{seed.prefix}dave"})

    pages: list[list[dict[str, Any]]] = []
    after = str(cursor)
    while True:
        resp = api.get("/api/v1/events", params={"after": after, "limit": 2})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if not body["data"]:
            assert body["paging"]["after"] == after, "an empty page keeps the cursor"
            break
        assert len(body["data"]) <= 2
        pages.append(body["data"])
        assert body["paging"]["after"] == body["data"][-1]["cursor"]
        after = body["paging"]["after"]
    events = [e for page in pages for e in page]
    assert [e["seq"] for e in events] == list(range(cursor + 1, cursor + 8))
    assert [e["cursor"] for e in events] == [str(e["seq"]) for e in events]
    assert [(e["event_type"], e["kind"], e["version"]) for e in events] == [
        ("entity_created", "table", 1),
        ("entity_updated", "table", 2),
        ("entity_updated", "table", 3),
        ("entity_soft_deleted", "table", 4),
        ("entity_restored", "table", 5),
        ("entity_hard_deleted", "table", 5),
        ("entity_created", "user", 1),
    ]
    assert {e["id"] for e in events[:6]} == {t["id"]}
    assert {(e["actor"], e["origin"]) for e in events} == {("admin", "person")}
    assert events[1]["change_description"]["fields_added"] == [{"name": "description", "new": "v2"}]
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)

    only_users = api.get("/api/v1/events", params={"after": cursor, "kind": "user"}).json()
    assert [e["event_type"] for e in only_users["data"]] == ["entity_created"]
    both = api.get(
        "/api/v1/events", params=[("after", cursor), ("kind", "user"), ("kind", "tables")]
    ).json()
    assert len(both["data"]) == 7


# -- metrics, OpenAPI, docs -----------------------------------------------------------------------


def _counter(text: str, method: str, route: str, status: str) -> float:
    pattern = re.compile(r"^lodestar_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$", re.M)
    want = {"method": method, "route": route, "status": status}
    for m in pattern.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if labels == want:
            return float(m["value"])
    return 0.0


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    seed = api.fresh_seed()
    t = _put_table(api, seed, "measured")
    before = api.anon.get("/metrics").text
    for _ in range(3):
        assert api.get(f"/api/v1/tables/{t['id']}").status_code == 200
    assert api.get("/api/v1/tables/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.by_name("tables", t["fqn"]).status_code == 200

    resp = api.anon.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    after = resp.text
    assert "# TYPE lodestar_http_requests_total counter" in after
    assert "lodestar_http_request_duration_seconds_bucket" in after
    by_id = ("GET", "/api/v1/tables/{id}")
    assert _counter(after, *by_id, "200") - _counter(before, *by_id, "200") == 3
    assert _counter(after, *by_id, "404") - _counter(before, *by_id, "404") == 1
    by_name = [line for line in after.splitlines() if 'route="/api/v1/tables/name/{fqn' in line]
    assert by_name, "GET by name is counted under its template"
    assert t["id"] not in after, "an id must never become a label value"
    assert "measured" not in after, "an FQN must never become a label value"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            *([node["$ref"]] if isinstance(node.get("$ref"), str) else []),
            *(r for v in node.values() for r in _refs(v)),
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_is_3_1_and_describes_every_kind(api: Api) -> None:
    resp = api.anon.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] == "Lodestar"
    assert doc["info"]["version"] == lodestar.__version__
    schemas = doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}

    # Every $ref resolves inside the document.
    for ref in set(_refs(doc)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"

    # Every operation answers something, has a unique id and declares its path parameters.
    op_ids: list[str] = []
    for path, ops in doc["paths"].items():
        declared_in_path = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            assert method in {"get", "put", "post", "patch", "delete"}, (path, method)
            assert op.get("responses"), (path, method)
            op_ids.append(op["operationId"])
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == declared_in_path, (path, method, params)
    assert len(op_ids) == len(set(op_ids)), "operationIds must be unique"

    kinds = api.get("/api/v1/kinds").json()["data"]
    assert len(kinds) >= 19
    for k in kinds:
        base = k["path"]
        assert {"get", "post", "put"} <= doc["paths"][base].keys(), base
        assert {"get", "patch", "delete"} <= doc["paths"][f"{base}/{{id}}"].keys(), base
        assert {"get", "patch", "delete"} <= doc["paths"][f"{base}/name/{{fqn}}"].keys(), base
        assert "get" in doc["paths"][f"{base}/{{id}}/versions"], base
        assert "post" in doc["paths"][f"{base}/{{id}}/restore"], base
        ref = doc["paths"][base]["put"]["requestBody"]["content"]["application/json"]["schema"]
        component = schemas[ref["$ref"].removeprefix("#/components/schemas/")]
        assert component["type"] == "object"
        assert "name" in component["properties"], k["kind"]
        assert "name" in component["required"], k["kind"]
        for parent in k["parents"]:
            assert parent["field"] in component["properties"], (k["kind"], parent)
        patch = doc["paths"][f"{base}/{{id}}"]["patch"]["requestBody"]["content"]
        assert {"application/merge-patch+json", "application/json-patch+json"} <= patch.keys()
    for path in ("/api/v1/bulk", "/api/v1/events", "/api/v1/tokens", "/api/v1/health"):
        assert path in doc["paths"], path


def test_docs_serve_html(api: Api) -> None:
    resp = api.anon.get("/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in resp.text
    assert "swagger" in resp.text.lower()


def test_a_column_is_found_by_its_id_and_by_its_fqn(api: Api) -> None:
    seed = api.fresh_seed()
    cols = [{"name": "id", "data_type": "int"}, {"name": "a.b", "data_type": "text"}]
    table = _put_table(api, seed, unique("cols"), columns=cols)
    by_name = api.get(f'/api/v1/columns/name/{table["fqn"]}."a.b"')
    assert by_name.status_code == 200, by_name.text
    column = by_name.json()
    assert column == {
        "id": column["id"],
        "name": "a.b",
        "fqn": f'{table["fqn"]}."a.b"',
        "asset_id": table["id"],
        "asset_kind": "table",
    }
    assert api.get(f"/api/v1/columns/{column['id']}").json() == column
    # A rename is a new column: the old id is gone, the new name has another.
    api.put_ok("tables", {**seed.table_body(table["name"]), "columns": [cols[0]]})
    assert api.get(f"/api/v1/columns/{column['id']}").status_code == 404
    missing = api.get(f"/api/v1/columns/name/{table['fqn']}.nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.get("/api/v1/columns/name/a..b").status_code == 422
