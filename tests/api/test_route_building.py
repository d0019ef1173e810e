"""The server answers its health check without building the asset kinds' routes; a kind's
routes are built for its first request, and all of them for the OpenAPI document or a request
the normal router handles, with the same routes in the same order as when built up front."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from lodestar.api.app import create_app
from lodestar.model.registry import all_kinds
from lodestar.settings import Settings


def kind_paths(app: FastAPI) -> set[str]:
    """The app's routes of a kind's own (its collection, one asset by id)."""
    own = {f"/api/v1/{k.plural}{tail}" for k in all_kinds() for tail in ("", "/{id}")}
    return {path for r in app.routes if (path := getattr(r, "path", "")) in own}


def test_kind_routes_are_built_on_first_use(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            token = (tmp_path / "admin.token").read_text().strip()
            auth = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                health = await client.get("/api/v1/health")
                seen["health"] = health.status_code
                seen["after health"] = kind_paths(app)
                put = await client.put("/api/v1/users", json={"name": "alice"}, headers=auth)
                got = await client.get("/api/v1/users/name/alice", headers=auth)
                seen["user"] = (put.status_code, got.status_code, got.json()["fqn"])
                seen["after one kind"] = kind_paths(app)
                missing = await client.get("/api/v1/no-such-thing", headers=auth)
                seen["missing"] = missing.status_code
                seen["after the normal router"] = kind_paths(app)
                doc = await client.get("/openapi.json")
                seen["openapi paths"] = len(doc.json()["paths"])

    asyncio.run(scenario())
    assert seen["health"] == 200
    assert seen["after health"] == set()
    assert seen["user"] == (201, 200, "alice")
    # Built, but kept out of the app's route list until they all are.
    assert seen["after one kind"] == set()
    assert seen["missing"] == 404
    every = seen["after the normal router"]
    assert isinstance(every, set)
    assert len(every) == 2 * len(all_kinds())

    # The same document as an app whose routes were all built before any request.
    fresh = create_app(Settings(data_dir=tmp_path / "fresh"))
    assert len(fresh.openapi()["paths"]) == seen["openapi paths"]
    assert [getattr(r, "path", "") for r in fresh.routes] == [
        getattr(r, "path", "") for r in app.routes
    ]
