"""The Python SDK against a real server: uvicorn on a free port over a temporary SQLite file."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from lodestar import client as sdk
from lodestar.api.app import create_app
from lodestar.client import (
    Conflict,
    InvalidInput,
    LodestarClient,
    LodestarError,
    NotFound,
    PreconditionFailed,
    ServerUnreachable,
)
from lodestar.settings import Settings

pytestmark = pytest.mark.slow


@dataclass
class LiveServer:
    url: str
    token: str
    data_dir: Path

    def client(self, **kwargs: Any) -> LodestarClient:
        return LodestarClient(self.url, kwargs.pop("token", self.token), **kwargs)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def run_server(data_dir: Path, **settings: Any) -> Iterator[LiveServer]:
    """Serve the app from a background thread until the generator is closed."""
    db = f"sqlite:///{data_dir / 'catalog.db'}"
    app = create_app(Settings(data_dir=data_dir, database_url=db, **settings))
    config = uvicorn.Config(
        app, log_level="warning", ws="none", http="h11", loop="asyncio", lifespan="on"
    )
    server = uvicorn.Server(config)
    sock = _free_socket()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        token = (data_dir / "admin.token").read_text().strip()
        yield LiveServer(f"http://127.0.0.1:{port}", token, data_dir)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("server"))


@pytest.fixture
def api(live: LiveServer) -> Iterator[LodestarClient]:
    with live.client() as c:
        yield c


@pytest.fixture
def schema(api: LodestarClient, request: pytest.FixtureRequest) -> str:
    """A fresh service/database/schema per test, so tests never see each other's tables."""
    svc = request.node.name.replace("[", "_").replace("]", "")[:60]
    api.put("service", {"name": svc, "category": "database", "service_type": "postgres"})
    api.put("database", {"name": "db", "service": svc})
    api.put("schema", {"name": "raw", "database": f"{svc}.db"})
    return f"{svc}.db.raw"


def _table(schema: str, name: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "schema": schema, **fields}
    body.setdefault("columns", [{"name": "id", "data_type": "int"}])
    return body


def test_public_surface() -> None:
    assert set(sdk.__all__) >= {"LodestarClient", "LodestarError"}
    for name in sdk.__all__:
        obj = getattr(sdk, name)
        assert obj is LodestarClient or issubclass(obj, LodestarError)


def test_put_get_patch_round_trip(api: LodestarClient, schema: str) -> None:
    created = api.put("table", _table(schema, "orders", description="All orders"))
    assert created["fqn"] == f"{schema}.orders"
    assert created["version"] == 1

    same = api.put("table", _table(schema, "orders", description="All orders"))
    assert same["version"] == 1, "the same body twice makes one version"

    by_fqn = api.get("table", f"{schema}.orders")
    by_id = api.get("table", id=created["id"])
    assert by_fqn == by_id
    assert by_fqn["description"] == "All orders"

    patched = api.patch("table", f"{schema}.orders", {"description": "Every order"})
    assert patched["version"] == 2
    assert patched["description"] == "Every order"

    ops = [{"op": "add", "path": "/columns/-", "value": {"name": "total", "data_type": "int"}}]
    patched = api.patch("table", created["id"], ops, json_patch=True)
    assert [c["name"] for c in patched["columns"]] == ["id", "total"]
    assert patched["version"] == 3

    with pytest.raises(Conflict):
        api.create("table", _table(schema, "orders"))
    fresh = api.create("table", _table(schema, "refunds"))
    assert fresh["version"] == 1


def test_fqn_with_quoted_part_round_trips(api: LodestarClient, schema: str) -> None:
    created = api.put("table", _table(schema, "a.b/c d"))
    assert created["fqn"] == f'{schema}."a.b/c d"'
    assert api.get("table", created["fqn"])["id"] == created["id"]


def test_if_match_stale_version_is_412(api: LodestarClient, schema: str) -> None:
    first = api.put("table", _table(schema, "t"))
    api.patch("table", first["fqn"], {"description": "v2"}, if_match=first["version"])
    with pytest.raises(PreconditionFailed) as err:
        api.patch("table", first["fqn"], {"description": "v3"}, if_match=first["version"])
    assert err.value.status == 412
    with pytest.raises(PreconditionFailed):
        api.put("table", _table(schema, "t", description="v3"), if_match=1)
    assert api.get("table", first["fqn"])["description"] == "v2"


def test_list_pages_through_every_asset(api: LodestarClient, schema: str) -> None:
    names = [f"t{i:03}" for i in range(25)]
    statuses = api.bulk(("table", _table(schema, n)) for n in names)
    assert {s["result"] for s in statuses} == {"created"}

    seen = list(api.list("table", parent=schema, page_size=10))
    assert [a["name"] for a in seen] == names

    first_page = api.list("table", parent=schema, page_size=10)
    assert len([next(first_page) for _ in range(10)]) == 10, "pages are fetched lazily"


def test_bulk_reports_a_bad_line_and_stores_the_rest(api: LodestarClient, schema: str) -> None:
    items: list[Any] = [
        ("table", _table(schema, "good1")),
        {"kind": "table", "name": "bad", "schema": schema, "columns": "not a list"},
        {"kind": "table", **_table(schema, "good2")},
    ]
    statuses = api.bulk(items, chunk_size=2)
    assert [s["line"] for s in statuses] == [1, 2, 3], "line numbers count across chunks"
    assert [s["result"] for s in statuses] == ["created", "error", "created"]
    assert statuses[1]["status"] == 422
    assert statuses[1]["error"]["errors"][0]["loc"][0] == "columns"
    assert api.get("table", f"{schema}.good2")["version"] == 1
    with pytest.raises(NotFound):
        api.get("table", f"{schema}.bad")


def test_events_page_and_follow(api: LodestarClient, live: LiveServer, schema: str) -> None:
    _, start = api.events(after="0", limit=1000)
    while True:  # catch up with whatever the other tests wrote
        page, nxt = api.events(after=start, limit=1000)
        if not page:
            break
        start = nxt

    api.put("table", _table(schema, "e1"))
    events, cursor = api.events(after=start, kinds=["table"])
    assert [(e["event_type"], e["fqn"]) for e in events] == [("entity_created", f"{schema}.e1")]
    assert cursor == events[-1]["cursor"]
    assert api.events(after=cursor) == ([], cursor)

    def later() -> None:
        time.sleep(0.3)
        with live.client() as other:
            other.put("table", _table(schema, "e2"))
            other.patch("table", f"{schema}.e2", {"description": "d"})

    writer = threading.Thread(target=later)
    writer.start()
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    for event in api.follow_events(after=cursor, poll_interval=0.05, kinds=["table"]):
        got.append(event)
        if len(got) == 2 or time.monotonic() > deadline:
            break
    writer.join()
    assert [(e["event_type"], e["version"]) for e in got] == [
        ("entity_created", 1),
        ("entity_updated", 2),
    ]


def test_delete_restore_versions(api: LodestarClient, schema: str) -> None:
    t = api.put("table", _table(schema, "d"))
    api.patch("table", t["fqn"], {"description": "documented"})
    deleted = api.delete("table", t["fqn"])
    assert deleted is not None and deleted["deleted"] is True
    assert t["fqn"] not in [a["fqn"] for a in api.list("table", parent=schema)]
    assert t["fqn"] in [a["fqn"] for a in api.list("table", parent=schema, include="deleted")]

    restored = api.restore("table", t["id"])
    assert restored["deleted"] is False

    versions = api.versions("table", t["fqn"])
    assert [v["version"] for v in versions] == [4, 3, 2, 1], "newest first"
    assert versions[2]["change_description"]["fields_added"][0]["name"] == "description"
    assert api.version("table", 1, fqn=t["fqn"])["doc"].get("description") is None

    with pytest.raises(Conflict):
        api.delete("schema", schema)
    assert api.delete("table", t["fqn"], hard=True) is None
    with pytest.raises(NotFound):
        api.get("table", id=t["id"])


def test_problem_details_become_errors(api: LodestarClient, schema: str) -> None:
    with pytest.raises(NotFound) as nf:
        api.get("table", f"{schema}.missing")
    e = nf.value
    assert (e.status, e.title) == (404, "Not found")
    assert "missing" in e.detail
    assert e.detail in str(e) and "404" in str(e)

    with pytest.raises(InvalidInput) as inv:
        api.put("table", {"name": "x", "schema": schema, "columns": [{"data_type": "int"}]})
    e2 = inv.value
    assert e2.status == 422
    assert e2.errors and e2.errors[0]["loc"][:2] == ["columns", 0]
    assert e2.type is not None and e2.type.endswith("invalid-input")

    with pytest.raises(LodestarError, match="no asset kind 'tabel'"):
        api.get("tabel", "x")


def test_tokens_and_roles(api: LodestarClient, live: LiveServer, schema: str) -> None:
    issued = api.create_token("sdk-viewer", "viewer")
    assert issued["token"].startswith("lds_")
    assert "sdk-viewer" in [t["name"] for t in api.tokens()]
    with live.client(token=issued["token"]) as viewer:
        assert viewer.health()["status"] == "ok"
        with pytest.raises(sdk.Forbidden):
            viewer.put("table", _table(schema, "nope"))
    api.revoke_token("sdk-viewer")
    with live.client(token=None) as anonymous, pytest.raises(sdk.Unauthorized) as err:
        anonymous.get("table", f"{schema}.x")
    assert "token" in err.value.detail


def test_unreachable_server_says_how_to_start_one() -> None:
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}"
    with LodestarClient(url, retries=1, backoff=0.01) as c, pytest.raises(ServerUnreachable) as err:
        c.health()
    message = str(err.value)
    assert f"not reachable at {url}" in message
    assert "lodestar serve" in message
    assert err.value.status is None


def test_retries_idempotent_requests_on_503() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) < 3:
            return httpx.Response(503, text="starting")
        return httpx.Response(200, json={"status": "ok"})

    transport = httpx.MockTransport(handler)
    with LodestarClient("http://lodestar.test", transport=transport, backoff=0.001) as c:
        assert c.health() == {"status": "ok"}
    assert calls == ["GET", "GET", "GET"]

    calls.clear()
    with LodestarClient("http://lodestar.test", transport=transport, backoff=0.001) as c:
        c._paths = {"table": "/api/v1/tables"}
        with pytest.raises(LodestarError) as err:
            c.create("table", {"name": "x"})
    assert calls == ["POST"], "a POST that reached the server is never sent twice"
    assert err.value.status == 503 and "starting" in str(err.value)


def test_from_env(monkeypatch: pytest.MonkeyPatch, live: LiveServer) -> None:
    monkeypatch.setenv("LODESTAR_URL", live.url)
    monkeypatch.setenv("LODESTAR_TOKEN", live.token)
    with LodestarClient.from_env() as c:
        assert c.base_url == live.url
        assert any(k["kind"] == "table" for k in c.kinds())
