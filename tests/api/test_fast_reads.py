"""The lean read path (api/fast_reads.py) against the FastAPI routes it stands in front of, over
real HTTP, on SQLite and on PostgreSQL.

The lean path only takes a GET without a query string, so the same GET with `?fields=` (an
empty list of expansions, which asks for nothing extra) is always the FastAPI route's answer.
Every case below sends both and wants the same status, the same headers in the same order
(except `date`) and the same body bytes. `lodestar_fast_reads_total` in /metrics tells which
path answered, so a case cannot pass by both requests silently going to the route.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lodestar.auth.tokens import TokenService, hash_token
from lodestar.store import open_store
from lodestar.store import tokens as token_rows

from .support import (
    Api,
    ApiServer,
    Seed,
    ServerPool,
    api_server_running,
    fqn_path,
    pg_connect,
    problem_of,
    unique,
)

pytestmark = pytest.mark.slow  # every test here talks to a server in a subprocess

MISSING_ID = "00000000-0000-0000-0000-000000000000"
# The promise in docs/architecture.md: a token revoked anywhere is refused everywhere within 1 s.
REVOCATION_BOUND = 1.0


def _fast_reads(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    found = re.findall(r'^lodestar_fast_reads_total\{outcome="(\w+)"\} (\S+)$', text, re.M)
    return {"served": 0.0, "passed_on": 0.0, **{k: float(v) for k, v in found}}


def _answer(resp: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in resp.headers.multi_items() if k != "date"]
    return resp.status_code, headers, resp.content


def same_answer_both_ways(
    client: httpx.Client,
    url: str,
    *,
    served: bool,
    metrics: httpx.Client,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET `url` plainly and through the route; both answers must be the same, and the plain
    one must have been `served` by the lean path (or passed on to the route)."""
    before = _fast_reads(metrics)
    plain = client.get(url, headers=headers)
    middle = _fast_reads(metrics)
    routed = client.get(f"{url}?fields=", headers=headers)
    after = _fast_reads(metrics)
    outcome = {k: middle[k] - before[k] for k in before}
    want = {"served": 1.0, "passed_on": 0.0} if served else {"served": 0.0, "passed_on": 1.0}
    assert outcome == want, (url, outcome)
    assert after == middle, "a GET with a query string goes straight to the route"
    assert _answer(plain) == _answer(routed), url
    return plain


@pytest.fixture(scope="module")
def fast_seed(api: Api) -> Iterator[tuple[Seed, dict[str, Any], dict[str, Any]]]:
    """A seed with a rich table (owner, tags, columns with tags) and a soft-deleted table."""
    seed = api.fresh_seed()
    rich = api.put_ok(
        "tables",
        seed.table_body(
            "orders",
            description="One row per order; **markdown** and ünïcödé.",
            owners=seed.owner(seed.team, "team"),
            tags=[seed.tag],
            columns=[
                {"name": "id", "data_type": "bigint", "nullable": False},
                {"name": "email", "data_type": "varchar(320)", "tags": [seed.tag]},
                {"name": "amount", "data_type": "numeric(12,2)", "description": "in €"},
            ],
            custom_properties={},
        ),
    )
    gone = api.put_ok("tables", seed.table_body("gone"))
    assert api.client.delete(f"/api/v1/tables/{gone['id']}").status_code == 200
    yield seed, rich, api.get(f"/api/v1/tables/{gone['id']}").json()


def test_a_plain_get_is_served_by_the_lean_path_exactly_as_the_route_answers(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    seed, rich, gone = fast_seed
    by_name = f"/api/v1/tables/name/{fqn_path(rich['fqn'])}"
    resp = same_answer_both_ways(api.client, by_name, served=True, metrics=api.anon)
    assert resp.status_code == 200
    assert resp.headers["etag"] == f'"{rich["version"]}"'
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["fqn"] == rich["fqn"] and body["deleted"] is False
    assert body["description"] == "One row per order; **markdown** and ünïcödé."
    assert [c["name"] for c in body["columns"]] == ["id", "email", "amount"]
    assert "change_description" not in body and "provenance" not in body

    by_id = f"/api/v1/tables/{rich['id']}"
    assert same_answer_both_ways(api.client, by_id, served=True, metrics=api.anon).json() == body

    # A name given in another spelling is normalised as the route does.
    unquoted = f"/api/v1/tables/name/{fqn_path(seed.schema)}.%22orders%22"
    assert same_answer_both_ways(api.client, unquoted, served=True, metrics=api.anon).json() == body

    # A soft-deleted asset still reads, marked deleted.
    for url in (f"/api/v1/tables/{gone['id']}", f"/api/v1/tables/name/{fqn_path(gone['fqn'])}"):
        resp = same_answer_both_ways(api.client, url, served=True, metrics=api.anon)
        assert resp.json()["deleted"] is True
        assert resp.headers["etag"] == f'"{gone["version"]}"'

    # A viewer reads as the admin does.
    viewer = api.as_role("viewer")
    assert same_answer_both_ways(viewer, by_id, served=True, metrics=api.anon).json() == body


def test_a_write_is_seen_by_the_next_plain_get(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    seed, _, _ = fast_seed
    t = api.put_ok("tables", seed.table_body(unique("moving"), description="v1"))
    url = f"/api/v1/tables/name/{fqn_path(t['fqn'])}"
    assert api.get(url).json()["description"] == "v1"
    api.put_ok("tables", seed.table_body(t["name"], description="v2"))
    resp = same_answer_both_ways(api.client, url, served=True, metrics=api.anon)
    assert (resp.json()["description"], resp.headers["etag"]) == ("v2", '"2"')


def _not_found_cases(seed: Seed, rich: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [
        ("missing FQN", f"/api/v1/tables/name/{fqn_path(seed.schema + '.nope')}", 404),
        ("missing id", f"/api/v1/tables/{MISSING_ID}", 404),
        ("an id that is not a UUID", "/api/v1/tables/not-an-id", 404),
        ("another kind's id", f"/api/v1/schemas/{rich['id']}", 404),
        ("another kind's FQN", f"/api/v1/schemas/name/{fqn_path(rich['fqn'])}", 404),
        ("an FQN that does not parse", "/api/v1/tables/name/%22open", 422),
        ("an empty FQN part", f"/api/v1/tables/name/{fqn_path(seed.schema)}..x", 422),
    ]


def test_what_the_lean_path_cannot_answer_gets_the_routes_answer(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    seed, rich, _ = fast_seed
    for what, url, status in _not_found_cases(seed, rich):
        resp = same_answer_both_ways(api.client, url, served=False, metrics=api.anon)
        assert resp.status_code == status, (what, resp.text)
        problem_of(resp)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  lds_x y", "bearer lds_nope", "lds_x"],
    ids=["none", "empty", "basic", "bearer-alone", "odd-spacing", "unknown-token", "no-scheme"],
)
def test_refused_reads_get_the_routes_401(
    api: Api,
    fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]],
    authorization: str | None,
) -> None:
    _, rich, _ = fast_seed
    headers = {} if authorization is None else {"Authorization": authorization}
    for url in (f"/api/v1/tables/{rich['id']}", f"/api/v1/tables/name/{fqn_path(rich['fqn'])}"):
        resp = same_answer_both_ways(api.anon, url, served=False, metrics=api.anon, headers=headers)
        assert resp.status_code == 401, resp.text
        assert resp.headers["www-authenticate"] == "Bearer"
        problem_of(resp)


def test_a_revoked_token_is_refused_at_once_by_the_server_that_revoked_it(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    _, rich, _ = fast_seed
    name = unique("revoked-here")
    client = api.with_token(api.token("viewer", name=name))
    url = f"/api/v1/tables/{rich['id']}"
    for _ in range(3):  # resolved once, then from the cache
        same_answer_both_ways(client, url, served=True, metrics=api.anon)

    assert api.client.delete(f"/api/v1/tokens/{name}").status_code == 204
    resp = same_answer_both_ways(client, url, served=False, metrics=api.anon)
    assert resp.status_code == 401, resp.text
    assert problem_of(resp)["detail"] == "the token is unknown, expired or revoked"


def _revoke_behind_the_servers_back(server: ApiServer, name: str) -> None:
    """What `lodestar token revoke` does, or another worker or replica: the server's database
    changes, and no request reaches this server."""
    store = open_store(server.database_url, pool_size=1, migrate=False)
    try:
        TokenService(store).revoke(name)
    finally:
        store.dispose()


def _refused_within(client: httpx.Client, url: str, bound: float) -> float:
    """Seconds until `url` answers 401; fails if that takes longer than `bound`."""
    start = time.monotonic()
    while True:
        resp = client.get(url)
        waited = time.monotonic() - start
        if resp.status_code == 401:
            return waited
        assert resp.status_code == 200, resp.text
        assert waited < bound, f"a revoked token still reads after {waited:.2f} s"
        time.sleep(0.02)


def test_a_token_revoked_elsewhere_is_refused_within_the_recheck_interval(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    _, rich, _ = fast_seed
    name = unique("revoked-elsewhere")
    client = api.with_token(api.token("viewer", name=name))
    url = f"/api/v1/tables/{rich['id']}"
    for _ in range(3):
        same_answer_both_ways(client, url, served=True, metrics=api.anon)

    _revoke_behind_the_servers_back(api.server, name)
    _refused_within(client, url, REVOCATION_BOUND + 0.5)
    resp = same_answer_both_ways(client, url, served=False, metrics=api.anon)
    assert resp.status_code == 401, resp.text


def test_a_cached_token_is_refused_once_it_expires(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    """Tokens live at least a day through the API, so this one is written straight into the
    server's database with an expiry five seconds ahead (time enough for the three reads
    before it, on a busy machine too)."""
    _, rich, _ = fast_seed
    token = "lds_" + secrets.token_urlsafe(32)
    expires = time.time() + 5.0
    store = open_store(api.server.database_url, pool_size=1, migrate=False)
    try:
        with store.write() as conn:
            token_rows.insert(
                conn,
                {
                    "id": str(uuid.uuid4()),
                    "name": unique("expiring"),
                    "role": "viewer",
                    "token_hash": hash_token(token),
                    "user_fqn": None,
                    "created_at": int(time.time() * 1e6),
                    "expires_at": int(expires * 1e6),
                    "revoked_at": None,
                },
            )
    finally:
        store.dispose()
    client = api.with_token(token)
    url = f"/api/v1/tables/name/{fqn_path(rich['fqn'])}"
    for _ in range(3):
        same_answer_both_ways(client, url, served=True, metrics=api.anon)
    time.sleep(max(expires - time.time(), 0) + 0.05)
    resp = same_answer_both_ways(client, url, served=False, metrics=api.anon)
    assert resp.status_code == 401, resp.text


def test_anonymous_read_is_served_by_the_lean_path_as_by_the_route(
    api_anonymous_read_server: ApiServer,
) -> None:
    api = Api(api_anonymous_read_server)
    try:
        seed = api.fresh_seed()
        t = api.put_ok("tables", seed.table_body("open"))
        for url in (f"/api/v1/tables/{t['id']}", f"/api/v1/tables/name/{fqn_path(t['fqn'])}"):
            resp = same_answer_both_ways(api.anon, url, served=True, metrics=api.anon)
            assert resp.json()["id"] == t["id"]
            # A bad token is still refused: anonymous reading is for requests without one.
            bad = same_answer_both_ways(
                api.anon, url, served=False, metrics=api.anon,
                headers={"Authorization": "Bearer lds_nope"},
            )  # fmt: skip
            assert bad.status_code == 401, bad.text
    finally:
        api.close()


def test_served_reads_are_counted_under_the_route_template(
    api: Api, fast_seed: tuple[Seed, dict[str, Any], dict[str, Any]]
) -> None:
    _, rich, _ = fast_seed

    def count(text: str, route: str, status: str) -> float:
        pattern = (
            r'^lodestar_http_requests_total\{method="GET",route="' + re.escape(route)
            + r'",status="' + status + r'"\} (\S+)$'
        )  # fmt: skip
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else 0.0

    routes = {
        "/api/v1/tables/{id}": f"/api/v1/tables/{rich['id']}",
        "/api/v1/tables/name/{fqn:path}": f"/api/v1/tables/name/{fqn_path(rich['fqn'])}",
    }
    before = api.anon.get("/metrics").text
    for url in routes.values():
        for _ in range(2):
            assert api.get(url).status_code == 200
    assert api.get(f"/api/v1/tables/{MISSING_ID}").status_code == 404
    after = api.anon.get("/metrics").text
    for template in routes:
        assert count(after, template, "200") - count(before, template, "200") == 2, template
    by_id = "/api/v1/tables/{id}"
    assert count(after, by_id, "404") - count(before, by_id, "404") == 1
    assert rich["id"] not in after and rich["fqn"] not in after


def test_the_lean_path_reconnects_after_postgresql_drops_its_connection(
    api_pg_available: None, api_servers: ServerPool
) -> None:
    """A PostgreSQL restart or failover ends every connection; the next read must not fail."""
    server = api_servers.get("postgres")
    api = Api(server)
    try:
        user = api.put_ok("users", {"name": unique("u")})
        url = f"/api/v1/users/{user['id']}"
        same_answer_both_ways(api.client, url, served=True, metrics=api.anon)
        with pg_connect() as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (server.database,),
            ).fetchone()
        assert row is not None and row[0] >= 1
        resp = same_answer_both_ways(api.client, url, served=True, metrics=api.anon)
        assert resp.json()["id"] == user["id"]
    finally:
        api.close()


def test_a_token_revoked_through_one_worker_is_refused_by_every_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two uvicorn workers, each with its own token cache. Fresh connections land on either
    worker, so after warming both caches and revoking through one of them, every worker must
    refuse the token within the recheck interval."""
    # Both workers start on the same empty database, and both try to issue the first admin
    # token: one must win and the other go on (a worker failing at start-up stops uvicorn).
    data_dir = tmp_path_factory.mktemp("two-workers")
    with api_server_running(data_dir, "sqlite", workers=2) as srv:
        deadline = time.monotonic() + 10
        while not (data_dir / "admin.token").is_file() or not srv.admin_token:
            assert time.monotonic() < deadline, srv.log()  # the winner writes it after commit
            time.sleep(0.05)
        api = Api(srv)
        try:
            t = api.put_ok("users", {"name": unique("u")})
            url = f"/api/v1/users/{t['id']}"
            name = unique("revoked-by-one")
            token = api.token("viewer", name=name)

            def fresh() -> httpx.Response:  # a new connection each time: either worker
                auth = {"Authorization": f"Bearer {token}"}
                return httpx.get(srv.base_url + url, headers=auth, timeout=30)

            assert all(fresh().status_code == 200 for _ in range(40))

            assert api.client.delete(f"/api/v1/tokens/{name}").status_code == 204
            time.sleep(REVOCATION_BOUND + 0.25)
            answers = [fresh().status_code for _ in range(40)]
            assert answers == [401] * 40, answers
            assert srv.process.poll() is None, srv.log()
        finally:
            api.close()
