"""Who may call what: every write route of /openapi.json, walked with every role.

The routes are read from the app's OpenAPI document when the tests are collected, one test per
route, and `test_the_walk_covers_every_write_route_the_server_lists` checks that list against the
running server's /openapi.json: a new write route fails here until it gets a recipe below.
For each route a recipe prepares a request that an admin (or steward) could make, then:
anonymous -> 401, viewer -> 403 and nothing changes; the right role then succeeds with the very
same request, so the refusals were about the caller and not about the request.

Authorization is decided above the store, so the per-route walks run on SQLite only (on
PostgreSQL they would triple the suite's time and test nothing new); the tests of roles, team
membership, tokens and origins run on both backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from lodestar.api.app import create_app
from lodestar.model.fqn import quote
from lodestar.model.ids import column_id
from lodestar.model.registry import KindSpec, all_kinds, find_kind
from lodestar.settings import Settings

from .support import Api, ApiServer, Seed, fqn_path, problem_of, unique

pytestmark = pytest.mark.slow  # every test here talks to a server in a subprocess

WRITE_METHODS = ("post", "put", "patch", "delete")


def _openapi_routes(doc: dict[str, Any], methods: tuple[str, ...]) -> list[tuple[str, str]]:
    # A POST that only computes an answer (`x-lodestar-reads-only`, e.g. /sql/lineage) is not
    # a write; its own suite checks that readers may call it and that it stores nothing.
    return sorted(
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m, op in ops.items()
        if m in methods and not (m != "get" and op.get("x-lodestar-reads-only"))
    )


_DOC = create_app(Settings(data_dir=Path("/nonexistent-lodestar-data-dir"))).openapi()
WRITE_ROUTES = _openapi_routes(_DOC, WRITE_METHODS)
READ_ROUTES = _openapi_routes(_DOC, ("get",))
KIND_BY_PLURAL: dict[str, KindSpec] = {k.plural: k for k in all_kinds()}
_KIND_ROUTE = re.compile(
    r"^/api/v1/(?P<plural>[a-z][a-z-]*)(?P<rest>|/name/\{fqn\}|/\{id\}|/\{id\}/restore)$"
)


def _ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{m} {p}" for m, p in routes]


def _kind_of_route(path: str) -> tuple[KindSpec, str] | None:
    m = _KIND_ROUTE.match(path)
    if m is None or m["plural"] not in KIND_BY_PLURAL:
        return None
    return KIND_BY_PLURAL[m["plural"]], m["rest"]


# -- request recipes ------------------------------------------------------------------------------

# Fields a kind needs besides its name and parent, for a body an admin could write.
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "service": {"category": "database", "service_type": "postgres"},
    "query": {"sql": "select 1"},
    "custom_property": {"entity_kind": "topic", "property_type": "string"},
    "ingestion_pipeline": {"recipe": {"source": {"type": "postgres", "config": {}}}},
    "test_case": {"test_type": "not_null", "column": "id"},
}
CURATED_KINDS = ("custom_property",)  # every write is a steward's or an admin's
RECIPE_KINDS = ("ingestion_pipeline",)  # creating one stores a recipe the server runs


def asset_body(
    kind: KindSpec, name: str, seed: Seed, owners: list[dict[str, str]]
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, **EXTRA_FIELDS.get(kind.name, {})}
    if kind.parents:
        parent = kind.parents[0]
        value = getattr(seed, parent.kind, None)
        if value is None:
            pytest.fail(
                f"kind {kind.name!r} needs a {parent.kind} parent that the seed lacks: "
                "add one to tests/api/support.py Api.seed"
            )
        body[parent.field] = value
    if owners:
        body["owners"] = owners
    return body


def fqn_of(kind: KindSpec, body: dict[str, Any]) -> str:
    if kind.name == "custom_property":
        return f"{body['entity_kind']}.{body['name']}"
    if kind.parents:
        return f"{body[kind.parents[0].field]}.{body['name']}"
    return str(body["name"])


@dataclass
class Call:
    """One prepared request, and the admin reads whose answers must not change on a refusal."""

    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    watch: list[str] = field(default_factory=list)
    # Who, besides admin, may make it: "owner" (editor on what they own), "curator", "admin".
    audience: str = "owner"
    ndjson: bool = False

    def send(self, client: httpx.Client) -> httpx.Response:
        kw: dict[str, Any] = {"headers": self.headers}
        if self.json is not None:
            kw["json"] = self.json
        elif self.content is not None:
            kw["content"] = self.content
        return client.request(self.method, self.url, **kw)


def _create(api: Api, kind: KindSpec, seed: Seed, owners: list[dict[str, str]]) -> dict[str, Any]:
    return api.put_ok(kind.plural, asset_body(kind, unique(kind.name), seed, owners))


def _parent_table(api: Api, seed: Seed) -> None:
    """The table that test cases (a kind contained in a table) are written under."""
    if seed.table is None:
        seed.table = api.put_ok("tables", seed.table_body(unique("tested")))["fqn"]


def prepare(api: Api, seed: Seed, route: tuple[str, str], owners: list[dict[str, str]]) -> Call:
    """A request an admin could make on `route`, on assets owned by `owners`."""
    method, path = route
    hit = _kind_of_route(path)
    if hit is not None:
        kind, rest = hit
        if kind.parents and kind.parents[0].kind == "table":
            _parent_table(api, seed)
        plural = kind.plural
        # Only curators define custom properties or store a recipe the server runs.
        curated = kind.name in CURATED_KINDS
        if (method, rest) == ("POST", ""):
            body = asset_body(kind, unique(kind.name), seed, owners)
            by_name = f"/api/v1/{plural}/name/{fqn_path(fqn_of(kind, body))}"
            audience = "curator" if curated or kind.name in RECIPE_KINDS else "owner"
            return Call("POST", f"/api/v1/{plural}", json=body, watch=[by_name], audience=audience)
        if curated:
            call = _asset_call(api, kind, rest, method, seed, owners)
            call.audience = "curator"
            return call
        return _asset_call(api, kind, rest, method, seed, owners)
    return _other_call(api, seed, route, owners)


def _asset_call(
    api: Api, kind: KindSpec, rest: str, method: str, seed: Seed, owners: list[dict[str, str]]
) -> Call:
    plural = kind.plural
    asset = _create(api, kind, seed, owners)
    by_id = f"/api/v1/{plural}/{asset['id']}"
    by_name = f"/api/v1/{plural}/name/{fqn_path(asset['fqn'])}"
    if (method, rest) == ("PUT", ""):
        body = {**asset, "description": "changed by PUT"}
        return Call("PUT", f"/api/v1/{plural}", json=body, watch=[by_id])
    url = by_name if rest == "/name/{fqn}" else by_id
    if method == "PATCH" and rest in ("/name/{fqn}", "/{id}"):
        return Call(
            "PATCH",
            url,
            json={"description": "changed by PATCH"},
            headers={"Content-Type": "application/merge-patch+json"},
            watch=[by_id],
        )
    if method == "DELETE" and rest in ("/name/{fqn}", "/{id}"):
        return Call("DELETE", url, watch=[by_id])
    if (method, rest) == ("POST", "/{id}/restore"):
        assert api.client.delete(by_id).status_code == 200
        return Call("POST", f"{by_id}/restore", watch=[by_id])
    pytest.fail(f"no recipe for {method} /api/v1/{plural}{rest}")


def _other_call(api: Api, seed: Seed, route: tuple[str, str], owners: list[dict[str, str]]) -> Call:
    method, path = route
    table = find_kind("table")
    assert table is not None
    if route == ("POST", "/api/v1/bulk"):
        body = {"kind": "table", **asset_body(table, unique("bulk"), seed, owners)}
        by_name = f"/api/v1/tables/name/{fqn_path(fqn_of(table, body))}"
        return Call(
            "POST",
            "/api/v1/bulk",
            content=orjson.dumps(body) + b"\n",
            headers={"Content-Type": "application/x-ndjson"},
            watch=[by_name],
            ndjson=True,
        )
    if route == ("POST", "/api/v1/tokens"):
        body = {"name": unique("tok"), "role": "viewer"}
        return Call("POST", "/api/v1/tokens", json=body, watch=["/api/v1/tokens"], audience="admin")
    if route == ("DELETE", "/api/v1/tokens/{name}"):
        name = unique("tok")
        api.token("viewer", name=name)
        return Call("DELETE", f"/api/v1/tokens/{name}", watch=["/api/v1/tokens"], audience="admin")
    if route == ("POST", "/api/v1/observations"):
        t = _create(api, table, seed, owners)
        item = {"kind": "table", "fqn": t["fqn"], "observation": "row_count", "value": {"rows": 7}}
        return Call(
            "POST",
            "/api/v1/observations",
            json=[item],
            watch=[f"/api/v1/tables/{t['id']}/observations"],
            audience="curator",
        )
    if route == ("POST", "/api/v1/lineage/edges"):
        up, down = _create(api, table, seed, owners), _create(api, table, seed, owners)
        edge = {
            "from": {"kind": "table", "fqn": up["fqn"]},
            "to": {"kind": "table", "fqn": down["fqn"]},
        }
        return Call(
            "POST",
            "/api/v1/lineage/edges",
            json=[edge],
            watch=[f"/api/v1/tables/{down['id']}?fields=relations"],
            audience="owner",
        )
    if route == ("DELETE", "/api/v1/lineage/edges"):
        up, down = _create(api, table, seed, owners), _create(api, table, seed, owners)
        edge = {
            "from": {"kind": "table", "fqn": up["fqn"]},
            "to": {"kind": "table", "fqn": down["fqn"]},
        }
        assert api.client.post("/api/v1/lineage/edges", json=[edge]).json()["added"] == 1
        graph = api.get(f"/api/v1/lineage/tables/{down['id']}?direction=upstream").json()
        source = graph["edges"][0]["provenance"][0]["source"]  # the admin's, as a person
        query = httpx.QueryParams(
            {"from": f"table:{up['fqn']}", "to": f"table:{down['fqn']}", "source": source}
        )
        return Call(
            "DELETE",
            f"/api/v1/lineage/edges?{query}",
            watch=[f"/api/v1/lineage/tables/{down['id']}?direction=upstream"],
            audience="owner",
        )
    if route == ("POST", "/api/v1/ingestion-pipelines/{id}/runs"):
        # The allowed request queues a real run in the server's scheduler; this recipe's
        # source config is incomplete, so it fails at once without writing any asset.
        pipeline_kind = find_kind("ingestion_pipeline")
        assert pipeline_kind is not None
        runs = f"/api/v1/ingestion-pipelines/{_create(api, pipeline_kind, seed, owners)['id']}/runs"
        return Call("POST", runs, watch=[runs], audience="curator")
    if route in (("POST", "/api/v1/lineage"), ("POST", "/api/v1/lineage/batch")):
        # OpenLineage events create assets all over the catalog: not an owner's act.
        ns = unique("ol")
        event = {
            "eventType": "COMPLETE",
            "eventTime": "2026-01-01T00:00:00Z",
            "run": {"runId": unique("run")},
            "job": {"namespace": ns, "name": "job"},
            "outputs": [{"namespace": ns, "name": "out"}],
            "producer": "tests",
        }
        watch = f"/api/v1/openlineage/jobs?namespace={ns}&name=job"
        body: Any = event if path == "/api/v1/lineage" else [event]
        return Call("POST", path, json=body, watch=[watch], audience="curator")
    pytest.fail(
        f"no recipe for the write route {method} {path}: teach tests/api/test_auth_matrix.py "
        "`prepare` how to call it, so its authorization is tested"
    )


def state(api: Api, call: Call) -> list[Any]:
    out: list[Any] = [api.last_event()]
    for url in call.watch:
        resp = api.client.get(url)
        out.append((url, resp.status_code, resp.json()))
    return out


def line_statuses(resp: httpx.Response) -> list[int]:
    assert resp.status_code == 200, resp.text
    return [orjson.loads(line)["status"] for line in resp.content.splitlines() if line.strip()]


def assert_allowed(call: Call, resp: httpx.Response) -> None:
    assert 200 <= resp.status_code < 300, (call.method, call.url, resp.status_code, resp.text)
    if call.ndjson:
        statuses = line_statuses(resp)
        assert statuses and all(200 <= s < 300 for s in statuses), resp.text


def assert_refused(call: Call, resp: httpx.Response, status: int) -> None:
    if call.ndjson and status == 403 and resp.status_code == 200:
        # bulk authorizes line by line: the request succeeds, the line is refused
        assert line_statuses(resp) == [403], resp.text
        return
    assert resp.status_code == status, (call.method, call.url, resp.status_code, resp.text)
    problem_of(resp)
    if status == 401:
        assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_clients(api: Api, api_seed: Seed) -> dict[str, httpx.Client]:
    return {
        "viewer": api.as_role("viewer"),
        "steward": api.as_role("steward"),
        "bot": api.as_role("bot"),
        "editor": api.as_role("editor", user=api_seed.bob),
    }


# -- the walk -------------------------------------------------------------------------------------


def walk_on_sqlite_only(api: Api) -> None:
    # Deselected on PostgreSQL by tests/api/conftest.py (sqlite_only): roles sit above the store.
    assert api.server.backend == "sqlite"


def test_the_walk_covers_every_write_route_the_server_lists(api: Api) -> None:
    served = _openapi_routes(api.anon.get("/openapi.json").json(), WRITE_METHODS)
    assert served == WRITE_ROUTES, "the collected routes differ from the running server's"
    kinds = api.get("/api/v1/kinds").json()["data"]
    asset_routes = [r for r in served if _kind_of_route(r[1]) is not None]
    assert len(asset_routes) == 7 * len(kinds), "each kind has 7 write routes"
    others = sorted(set(served) - set(asset_routes))
    assert ("POST", "/api/v1/bulk") in others
    assert ("POST", "/api/v1/tokens") in others
    assert ("DELETE", "/api/v1/tokens/{name}") in others


@pytest.mark.sqlite_only
@pytest.mark.parametrize("route", WRITE_ROUTES, ids=_ids(WRITE_ROUTES))
def test_write_route_refuses_anonymous_and_viewer(
    route: tuple[str, str], api: Api, api_seed: Seed, api_clients: dict[str, httpx.Client]
) -> None:
    walk_on_sqlite_only(api)
    call = prepare(api, api_seed, route, api_seed.owner(api_seed.alice))
    before = state(api, call)

    assert_refused(call, call.send(api.anon), 401)
    assert_refused(call, call.send(api_clients["viewer"]), 403)
    if call.audience == "admin":
        for role in ("steward", "editor", "bot"):
            assert_refused(call, call.send(api_clients[role]), 403)
    if call.audience == "curator":
        assert_refused(call, call.send(api_clients["editor"]), 403)
    assert state(api, call) == before, "a refused request changed something"

    # The same request from a role that may make it goes through.
    allowed = api.client if call.audience == "admin" else api_clients["steward"]
    assert_allowed(call, call.send(allowed))


LINEAGE_EDGES = ("POST", "/api/v1/lineage/edges")  # into an asset the editor owns
LINEAGE_RETRACT = ("DELETE", "/api/v1/lineage/edges")  # of an asset the editor owns
OWNER_ROUTES = [
    r
    for r in WRITE_ROUTES
    if _kind_of_route(r[1]) is not None
    or r in {("POST", "/api/v1/bulk"), LINEAGE_EDGES, LINEAGE_RETRACT}
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("route", OWNER_ROUTES, ids=_ids(OWNER_ROUTES))
def test_editor_writes_only_what_they_or_their_team_own(
    route: tuple[str, str], api: Api, api_seed: Seed, api_clients: dict[str, httpx.Client]
) -> None:
    walk_on_sqlite_only(api)
    editor = api_clients["editor"]  # acts as bob, a member of the team
    s = api_seed
    foreign = prepare(api, s, route, s.owner(s.alice))
    before = api.last_event()  # every asset write makes an event
    assert_refused(foreign, foreign.send(editor), 403)
    assert api.last_event() == before, "a refused editor changed something"

    for owners in (s.owner(s.bob), s.owner(s.team, "team")):
        mine = prepare(api, s, route, owners)
        if mine.audience == "curator":  # not an owner's act: refused even on their own
            assert_refused(mine, mine.send(editor), 403)
        else:
            assert_allowed(mine, mine.send(editor))


@pytest.mark.sqlite_only
def test_editor_may_not_create_unowned_or_give_an_asset_away(
    api: Api, api_seed: Seed, api_clients: dict[str, httpx.Client]
) -> None:
    s, editor = api_seed, api_clients["editor"]
    cursor = api.last_event()
    unowned = editor.put("/api/v1/tables", json=s.table_body(unique("unowned")))
    assert unowned.status_code == 403, unowned.text
    assert s.bob in problem_of(unowned)["detail"]

    t = api.put_ok("tables", s.table_body(unique("mine"), owners=s.owner(s.bob)))
    cursor = api.last_event()
    away = editor.patch(
        f"/api/v1/tables/{t['id']}",
        json={"owners": s.owner(s.alice)},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert away.status_code == 403, away.text
    problem_of(away)
    assert api.last_event() == cursor
    # Co-owned with someone else, or owned through bob's team: bob may edit.
    co = api.put_ok(
        "tables", s.table_body(unique("co"), owners=[*s.owner(s.alice), *s.owner(s.bob)])
    )
    via_team = api.put_ok("tables", s.table_body(unique("team"), owners=s.owner(s.team, "team")))
    for t_ok in (co, via_team):
        resp = editor.patch(
            f"/api/v1/tables/{t_ok['id']}",
            json={"description": "edited by bob"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert resp.status_code == 200, resp.text
    cursor = api.last_event()
    # A carol-only team does not make bob an owner.
    other_team = api.put_ok("teams", {"name": unique("team"), "members": [s.carol]})["fqn"]
    t2 = api.put_ok("tables", s.table_body(unique("theirs"), owners=s.owner(other_team, "team")))
    refused = editor.delete(f"/api/v1/tables/{t2['id']}")
    assert refused.status_code == 403, refused.text
    assert api.last_event() == cursor + 2  # the team and the table, written by the admin


# -- reads ----------------------------------------------------------------------------------------


def assets_of_every_kind(api: Api, seed: Seed) -> dict[str, dict[str, Any]]:
    _parent_table(api, seed)  # for the kinds a table contains (test cases)
    assets = {k.plural: _create(api, k, seed, []) for k in all_kinds()}
    # The table gets a column, for the routes that read a column by id or FQN.
    column = {"name": "id", "data_type": "int"}
    assets["tables"] = api.put_ok("tables", {**assets["tables"], "columns": [column]})
    return assets


@pytest.fixture(scope="module")
def api_read_assets(api: Api, api_seed: Seed) -> dict[str, dict[str, Any]]:
    walk_on_sqlite_only(api)
    return assets_of_every_kind(api, api_seed)


def _fill(path: str, assets: dict[str, dict[str, Any]], **extra: str) -> str:
    """The path with its parameters replaced by an asset of the route's own kind."""
    parts = path.split("/")
    plural = parts[3] if len(parts) > 3 and parts[3] in assets else "tables"
    asset = assets[plural]
    if len(parts) > 3 and parts[3] == "columns":  # a column of the table, by id or FQN
        name = asset["columns"][0]["name"]
        asset = {"id": column_id(asset["id"], name), "fqn": f"{asset['fqn']}.{quote(name)}"}
    subst = {
        "{id}": asset["id"],
        "{fqn}": fqn_path(asset["fqn"]),
        "{version}": "1",
        "{plural}": plural,
        **{f"{{{k}}}": v for k, v in extra.items()},
    }
    out = path
    for key, value in subst.items():
        out = out.replace(key, value)
    assert "{" not in out, f"no value for a path parameter of {path}"
    if path == "/api/v1/lineage/paths":  # between two assets, named in the query
        ends = f"table:{fqn_path(asset['fqn'])}"
        out += f"?from={ends}&to={ends}"
    if path in ("/api/v1/search", "/api/v1/search/suggest"):  # words to look for
        out += "?q=orders"
    return out


PUBLIC_READS = {"/api/v1/health"}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("route", READ_ROUTES, ids=_ids(READ_ROUTES))
def test_reads_need_a_token(
    route: tuple[str, str],
    api: Api,
    api_read_assets: dict[str, dict[str, Any]],
    api_clients: dict[str, httpx.Client],
) -> None:
    walk_on_sqlite_only(api)
    url = _fill(route[1], api_read_assets)
    anon = api.anon.get(url)
    if route[1] in PUBLIC_READS:
        assert anon.status_code == 200
        return
    assert anon.status_code == 401, (url, anon.text)
    problem_of(anon)
    assert anon.headers["WWW-Authenticate"].startswith("Bearer")
    viewer = api_clients["viewer"].get(url)
    if route[1].startswith("/api/v1/tokens"):
        assert viewer.status_code == 403, viewer.text
        assert api_clients["steward"].get(url).status_code == 403
        assert api.client.get(url).status_code == 200
    else:
        assert viewer.status_code == 200, (url, viewer.text)


def test_anonymous_read_opens_reads_but_never_writes_or_tokens(
    api_anonymous_read_server: ApiServer,
) -> None:
    api = Api(api_anonymous_read_server)
    try:
        assets = assets_of_every_kind(api, api.seed())
        t = assets["tables"]
        for _, path in READ_ROUTES:
            url = _fill(path, assets)
            resp = api.anon.get(url)
            if path.startswith("/api/v1/tokens"):
                assert resp.status_code == 401, (url, resp.text)
                problem_of(resp)
            else:
                assert resp.status_code == 200, (url, resp.text)
        assert api.anon.get(f"/api/v1/tables/{t['id']}").json()["fqn"] == t["fqn"]

        cursor = api.last_event()
        for method, path in WRITE_ROUTES:
            url = _fill(path, assets, name="admin")
            resp = api.anon.request(method, url, json={"name": "x"})
            assert resp.status_code == 401, (method, url, resp.text)
            problem_of(resp)
        assert api.last_event() == cursor
        assert len(api.get("/api/v1/tokens").json()["data"]) == 1
    finally:
        api.close()


# -- tokens ---------------------------------------------------------------------------------------


def test_bad_and_revoked_tokens_are_401(api: Api, api_seed: Seed) -> None:
    for header in (
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "bearer lds_nope",
        "lds_x",
        "Bearer  lds_x y",
    ):
        resp = api.anon.get("/api/v1/tables", headers={"Authorization": header})
        assert resp.status_code == 401, (header, resp.text)
        problem_of(resp)

    name = unique("short-lived")
    token = api.token("viewer", name=name)
    client = api.with_token(token)
    assert client.get("/api/v1/tables").status_code == 200
    listed = {t["name"]: t for t in api.get("/api/v1/tokens").json()["data"]}
    assert listed[name]["role"] == "viewer"
    assert listed[name]["revoked"] is False
    assert token not in api.get("/api/v1/tokens").text, "the secret is shown once only"

    assert api.client.delete(f"/api/v1/tokens/{name}").status_code == 204
    resp = client.get("/api/v1/tables")
    assert resp.status_code == 401, resp.text
    problem_of(resp)
    assert {t["name"]: t for t in api.get("/api/v1/tokens").json()["data"]}[name]["revoked"]
    again = api.client.delete(f"/api/v1/tokens/{name}")
    assert again.status_code == 404, again.text
    dup = api.client.post("/api/v1/tokens", json={"name": "admin", "role": "viewer"})
    assert dup.status_code == 409, dup.text
    problem_of(dup)
    lonely = api.client.post("/api/v1/tokens", json={"name": unique("ed"), "role": "editor"})
    assert lonely.status_code == 422, lonely.text
    problem_of(lonely)


# -- origin ---------------------------------------------------------------------------------------


def _origin_of_last_write(api: Api, cursor: int) -> tuple[str, str]:
    events = api.events_after(cursor)
    assert len(events) == 1, events
    return events[0]["actor"], events[0]["origin"]


def test_only_bot_and_admin_tokens_may_declare_an_automated_origin(
    api: Api, api_seed: Seed, api_clients: dict[str, httpx.Client]
) -> None:
    s = api_seed
    ingestion = {"X-Lodestar-Origin": "ingestion:nightly"}
    mine = s.table_body(unique("origin"), owners=s.owner(s.bob))
    cursor = api.last_event()
    for role in ("steward", "editor"):
        resp = api_clients[role].put("/api/v1/tables", json=mine, headers=ingestion)
        assert resp.status_code == 403, (role, resp.text)
        problem_of(resp)
        integration = {"X-Lodestar-Origin": "integration:dbt"}
        assert (
            api_clients[role].put("/api/v1/tables", json=mine, headers=integration).status_code
            == 403
        )
    assert api.last_event() == cursor

    # A person may say they are a person.
    resp = api_clients["steward"].put(
        "/api/v1/tables", json=mine, headers={"X-Lodestar-Origin": "person"}
    )
    assert resp.status_code == 201, resp.text
    actor, origin = _origin_of_last_write(api, cursor)
    assert origin == "person"
    assert actor.startswith("steward-")

    # A bot writes as its integration, or as the ingestion pipeline it names.
    cursor = api.last_event()
    bot = api_clients["bot"]
    resp = bot.put("/api/v1/tables", json={**mine, "description": "by the bot"})
    assert resp.status_code == 200, resp.text
    actor, origin = _origin_of_last_write(api, cursor)
    assert actor.startswith("bot-")
    assert origin == f"integration:{actor}"
    cursor = api.last_event()
    resp = bot.put("/api/v1/tables", json={**mine, "display_name": "Nightly"}, headers=ingestion)
    assert resp.status_code == 200, resp.text
    assert _origin_of_last_write(api, cursor) == (actor, "ingestion:nightly")
    versions = api.get(f"/api/v1/tables/{resp.json()['id']}/versions").json()["data"]
    assert versions[0]["origin"] == "ingestion:nightly"

    # Nobody writes as the server itself, and a bot is never a person.
    cursor = api.last_event()
    for client, header in ((api.client, "system"), (bot, "system"), (bot, "person")):
        resp = client.put(
            "/api/v1/tables",
            json={**mine, "description": "x"},
            headers={"X-Lodestar-Origin": header},
        )
        assert resp.status_code == 403, (header, resp.text)
        problem_of(resp)
    assert api.last_event() == cursor


def test_a_malformed_origin_header_is_a_bad_request_not_bad_credentials(
    api: Api, api_seed: Seed
) -> None:
    cursor = api.last_event()
    resp = api.client.put(
        "/api/v1/tables",
        json=api_seed.table_body(unique("origin")),
        headers={"X-Lodestar-Origin": "martian:x"},
    )
    # The token is fine; the header is not. 401 would tell the client to re-authenticate.
    assert resp.status_code == 400, resp.text
    assert "origin" in problem_of(resp)["detail"]
    assert api.last_event() == cursor
