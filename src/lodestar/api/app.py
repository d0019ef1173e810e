"""The app factory: nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import Response

import lodestar
from lodestar.api import docs_ui, metrics, problems, routing
from lodestar.api import openapi as oapi
from lodestar.api.deps import AppServices, Reader
from lodestar.api.fast_reads import FastReads
from lodestar.api.guards import HeadAsGet, NulGuard
from lodestar.api.routers import (
    bulk,
    columns,
    events,
    observations,
    pipeline_runs,
    search,
    sql_lineage,
    tokens,
)
from lodestar.api.routers import lineage as lineage_routes
from lodestar.api.routers import openlineage as openlineage_routes
from lodestar.api.routers import quality as quality_routes
from lodestar.api.routers.assets import json_response, kind_router
from lodestar.auth.tokens import TokenService
from lodestar.catalog import Catalog
from lodestar.model.registry import all_kinds
from lodestar.runtime import tune_gc
from lodestar.settings import Settings
from lodestar.store import Store, open_store
from lodestar.store.asset_rows import open_rows

log = logging.getLogger("lodestar")


def _warn_clear_secrets(store: Store) -> None:
    from lodestar.catalog.audit import clear_secrets

    found = clear_secrets(store)
    if found:
        log.warning(
            "%d stored documents hold a credential in clear (the first: %s): run "
            "`lodestar db check` and store ${LODESTAR_SECRET_...} references instead",
            len(found),
            found[0],
        )


HEALTH = {
    "type": "object",
    "required": ["status", "version", "last_event"],
    "properties": {
        "status": {"const": "ok"},
        "version": {"type": "string"},
        "last_event": {"type": "integer"},
    },
}
KINDS = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "path", "description", "parents"],
                "properties": {
                    "kind": {"type": "string"},
                    "path": {"type": "string"},
                    "description": {"type": "string"},
                    "parents": {"type": "array", "items": {"type": "object"}},
                },
            },
        }
    },
}


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """Build the app; the database opens (and migrates) when the app starts."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        st = store or open_store(settings.effective_database_url, settings.pool_size)
        for warning in st.maintenance_warnings():
            log.warning("%s", warning)
        analyzing = st.catch_up_statistics()
        svc = AppServices(settings, Catalog(st), TokenService(st))
        app.state.services = svc
        first = svc.tokens.ensure_admin(settings.data_dir)
        if first is not None:
            log.warning("first start: an admin token was written to %s", first[0])
        state["store"] = st
        _warn_clear_secrets(st)
        fast.start(svc.tokens, open_rows(st))
        tune_gc()
        scheduler = None
        if settings.scheduler:
            from lodestar.jobs.scheduler import Scheduler

            scheduler = Scheduler(svc.catalog, settings)
            scheduler.start()
            svc.request_run = partial(scheduler.request, "ingestion")
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            fast.stop()
            if analyzing is not None:
                analyzing.join(timeout=30)
            if own:
                st.dispose()

    app = FastAPI(
        title="Lodestar",
        version=lodestar.__version__,
        summary="One catalog, API first, for every data asset's metadata.",
        lifespan=lifespan,
        docs_url=None,
        openapi_url="/openapi.json",
    )
    problems.install(app)
    docs_ui.install(app, app.title)
    fast = FastReads(settings, metrics.install(app))
    app.add_middleware(NulGuard)
    app.add_middleware(HeadAsGet)

    @app.get(
        "/api/v1/health",
        tags=["system"],
        summary="Liveness and database reachability",
        response_class=Response,
        responses=oapi.answers(oapi.json_ok(HEALTH, "Up, with the last event's number"), 400),
    )
    def health() -> Response:
        svc: AppServices = app.state.services
        seq = svc.catalog.last_event()
        return json_response({"status": "ok", "version": lodestar.__version__, "last_event": seq})

    @app.get(
        "/api/v1/kinds",
        tags=["system"],
        summary="The asset kinds and their routes",
        response_class=Response,
        responses=oapi.answers(oapi.json_ok(KINDS, "Every asset kind"), 400, 401),
    )
    def kinds(_: Reader) -> Response:
        return json_response(
            {
                "data": [
                    {
                        "kind": k.name,
                        "path": f"/api/v1/{k.plural}",
                        "description": k.description,
                        "parents": [{"field": pf.field, "kind": pf.kind} for pf in k.parents],
                    }
                    for k in all_kinds()
                ]
            }
        )

    _mount_ui(app)

    # Routes go straight onto the app rather than through include_router, whose nested
    # routers this FastAPI walks on every request (see routing.py). Each kind's are built
    # when first asked for, in this place.
    kind_routes = routing.KindRoutes(app, kind_router)
    routers = [bulk.router, events.router, tokens.router, observations.router]
    routers += [pipeline_runs.router, columns.router]
    routers += [sql_lineage.router, lineage_routes.router, openlineage_routes.router]
    routers += [search.router]
    routers += [quality_routes.router]
    for r in routers:
        app.router.routes.extend(r.routes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        kind_routes.all()
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(oapi.components())
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        schema["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    routing.install(app, kind_routes, fast)
    return app


def _mount_ui(app: FastAPI) -> None:
    """The web UI at /ui, ahead of the asset kinds' routes, built on its first request (the
    health check does not wait for Jinja); `/` sends browsers there."""
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount
    from starlette.types import ASGIApp, Receive, Scope, Send

    from lodestar.catalog import NotFound

    built: list[ASGIApp] = []

    async def ui(scope: Scope, receive: Receive, send: Send) -> None:
        if not built:
            from lodestar.ui.app import create_ui

            built.append(create_ui(lambda: app.state.services))
        await built[0](scope, receive, send)

    app.router.routes.append(Mount("/ui", app=ui))

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "text/html" in accept.split(",")[0]:  # a browser
            return RedirectResponse("/ui/", status_code=303)
        raise NotFound("nothing here: the API is under /api/v1, its documentation at /docs")

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=308)


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory lodestar.api.app:app_from_env`: settings from the env."""
    from lodestar.settings import load_settings

    return create_app(load_settings())
