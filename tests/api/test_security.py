"""Security and API truthfulness (issue 9), over real HTTP on each backend: who may store
what the server runs, recipes checked on write, secrets refused, custom property definitions
kept to stewards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, WriteContext
from lodestar.store import open_store

from .support import Api, Seed, api_server_running, problem_of, unique

PIPELINES = "/api/v1/ingestion-pipelines"
RECIPE = {"source": {"type": "sqlite", "config": {"path": "/srv/shop.sqlite", "service": "s"}}}


def _bulk(client: Any, *lines: dict[str, Any]) -> list[dict[str, Any]]:
    resp = client.post(
        "/api/v1/bulk",
        content=b"".join(orjson.dumps(line) + b"\n" for line in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 200, resp.text
    return [orjson.loads(line) for line in resp.content.splitlines()]


def _patch(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, json=body, headers={"Content-Type": "application/merge-patch+json"})


def test_only_admins_and_stewards_store_what_the_server_runs(api: Api) -> None:
    s: Seed = api.fresh_seed()
    editor = api.as_role("editor", user=s.bob)
    mine = s.owner(s.bob)
    name = unique("pipe")
    body = {"name": name, "owners": mine, "recipe": RECIPE, "schedule": "* * * * *"}

    refused = editor.put(PIPELINES, json=body)
    assert refused.status_code == 403, refused.text
    assert "steward" in problem_of(refused)["detail"]
    (line,) = _bulk(editor, {"kind": "ingestion_pipeline", **body})
    assert line["status"] == 403, line
    bot = api.as_role("bot").put(PIPELINES, json=body)
    assert bot.status_code == 403, bot.text
    assert api.by_name("ingestion-pipelines", name).status_code == 404

    stored = api.put_ok("ingestion-pipelines", {**body, "schedule": None})
    url = f"{PIPELINES}/{stored['id']}"
    # The editor owns it: they may document it, not change what runs or when.
    assert _patch(editor, url, {"description": "ours"}).status_code == 200
    for change in (
        {"schedule": "* * * * *"},
        {"enabled": False},
        {"recipe": {**RECIPE, "sink": {"type": "server", "url": "http://evil.example"}}},
    ):
        resp = _patch(editor, url, change)
        assert resp.status_code == 403, (change, resp.text)
    current = api.get(url).json()
    assert current["recipe"] == RECIPE and current.get("schedule") is None
    assert current["version"] == stored["version"] + 1

    steward = api.as_role("steward")
    assert _patch(steward, url, {"schedule": "0 3 * * *"}).status_code == 200


def test_recipes_are_checked_on_write(api: Api) -> None:
    name = unique("pipe")
    for recipe, loc in (
        ({}, ["recipe", "source"]),
        ({"source": {"type": "no-such-connector"}}, ["recipe", "source", "type"]),
        ({"source": {"type": "sqlite"}, "sorce": {}}, ["recipe", "sorce"]),
    ):
        resp = api.put("ingestion-pipelines", {"name": name, "recipe": recipe})
        assert resp.status_code == 422, resp.text
        problem = problem_of(resp)
        assert problem["errors"][0]["loc"] == loc, problem
    assert api.by_name("ingestion-pipelines", name).status_code == 404


LEAKS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "services",
        {"category": "database", "service_type": "postgres",
         "connection": {"url": "postgresql+psycopg://u:hunter2@db.internal/wh"}},
        ["connection"],
    ),
    (
        "ingestion-pipelines",
        {"recipe": {"source": {"type": "sqlalchemy", "config": {
            "service": "x", "url": "postgresql+psycopg://u:hunter2@db.internal/wh"}}}},
        ["recipe"],
    ),
    (
        "ingestion-pipelines",
        {"recipe": {"source": {"type": "files", "config": {
            "service": "lake", "path": "abfs://c/data",
            "storage_options": {"account_key": "hunter2"}}}}},
        ["recipe"],
    ),
    (
        "ingestion-pipelines",
        {"recipe": {"source": {"type": "files", "config": {
            "service": "lake", "path": "abfs://c/data", "storage_options": {
                "conn": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=hunter2;"}}}}},
        ["recipe"],
    ),
]  # fmt: skip


def test_credentials_in_clear_are_refused_and_never_echoed(api: Api) -> None:
    before = api.last_event()
    for plural, fields, loc in LEAKS:
        name = unique("leak")
        resp = api.put(plural, {"name": name, **fields})
        assert resp.status_code == 422, (plural, resp.text)
        problem = problem_of(resp)
        assert problem["errors"][0]["loc"] == loc, problem
        assert "${LODESTAR_SECRET_" in problem["detail"]
        assert "hunter2" not in resp.text
        assert api.by_name(plural, name).status_code == 404
    assert api.last_event() == before, "a refused body stored nothing"

    # The same with references is stored as written (the value is looked up where it runs).
    ref = api.put_ok(
        "services",
        {
            "name": unique("ok"),
            "category": "database",
            "service_type": "postgres",
            "connection": {
                "url": "postgresql+psycopg://u:${LODESTAR_SECRET_WH}@db.internal/wh?sslmode=require"
            },
        },
    )
    assert "${LODESTAR_SECRET_WH}" in ref["connection"]["url"]


def test_the_server_warns_at_start_up_about_stored_clear_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    store = open_store(f"sqlite:///{data_dir / 'catalog.db'}")
    try:
        ctx = WriteContext.for_principal(Principal("alice", "admin"))
        body = {"name": "wh", "category": "database", "service_type": "postgres"}
        asset = Catalog(store).upsert("service", body, ctx).asset
        assert asset is not None
        leaked = {**asset.doc, "connection": {"url": "postgresql://u:hunter2@h/db"}}
        with store.write() as conn:  # as an older release stored it
            conn.execute(
                sa.text("UPDATE assets SET doc = :d WHERE id = :i"),
                {"d": orjson.dumps(leaked).decode(), "i": asset.id},
            )
    finally:
        store.dispose()
    with api_server_running(data_dir, "sqlite", {"LODESTAR_SCHEDULER": "false"}) as server:
        log = server.log()
    assert "1 stored documents hold a credential in clear" in log, log
    assert "service wh: doc.connection.url" in log and "lodestar db check" in log
    assert "hunter2" not in log
