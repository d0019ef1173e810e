"""Route look-up by collection: Starlette tries routes one by one, and with twelve routes per
asset kind a GET on /api/v1/tables tried about 190 regular expressions first (a third of the
CPU of a GET, by py-spy in bench/read_latency.py). This sends /api/v1/<collection>/... straight
to that collection's routes; anything else, and anything they do not fully match (405s,
redirects, 404s), goes through the normal router unchanged."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

PREFIX = "/api/v1/"


def install(app: FastAPI) -> None:
    router = app.router
    fallback = router.middleware_stack
    index: dict[str, list[BaseRoute]] = {}
    generic: list[BaseRoute] = []
    built = False

    def build() -> None:
        nonlocal built
        for route in router.routes:
            path = getattr(route, "path", "")
            if not isinstance(route, Route) or not path.startswith(PREFIX):
                continue
            head = path[len(PREFIX) :].split("/", 1)[0]
            if head.startswith("{"):
                generic.append(route)
            else:
                index.setdefault(head, []).append(route)
        built = True

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not built:
                build()
            path: str = scope["path"]
            if path.startswith(PREFIX):
                head = path[len(PREFIX) :].split("/", 1)[0]
                for route in (*index.get(head, ()), *generic):
                    match, child_scope = route.matches(scope)
                    if match is Match.FULL:
                        scope["router"] = router
                        scope["route"] = route
                        scope.update(child_scope)
                        await route.handle(scope, receive, send)
                        return
        await fallback(scope, receive, send)

    router.middleware_stack = dispatch
