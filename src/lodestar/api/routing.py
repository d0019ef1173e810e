"""Route look-up by collection: Starlette tries routes one by one, and with twelve routes per
asset kind a GET on /api/v1/tables tried about 190 regular expressions first (a third of the
CPU of a GET, by py-spy in bench/read_latency.py). This sends /api/v1/<collection>/... straight
to that collection's routes; anything else, and anything they do not fully match (405s,
redirects, 404s), goes through the normal router unchanged.

A plain GET of one asset (`/<plural>/name/<fqn>` or `/<plural>/<id>`, no query string) is
offered to the lean read path (`fast_reads.py`) first, in the route's place: the route stays
what the metrics and the OpenAPI document see, and whatever the lean path passes on reaches the
route as before."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from lodestar.api.fast_reads import FastReads
from lodestar.model.registry import all_kinds

PREFIX = "/api/v1/"


@dataclass(frozen=True, slots=True)
class _HotRoutes:
    kind: str
    by_name: BaseRoute
    by_id: BaseRoute


def install(app: FastAPI, fast: FastReads | None = None) -> None:
    router = app.router
    fallback = router.middleware_stack
    index: dict[str, list[BaseRoute]] = {}
    generic: list[BaseRoute] = []
    hot: dict[str, _HotRoutes] = {}
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
        if fast is not None:
            for kind in all_kinds():
                gets = {
                    r.path: r
                    for r in index.get(kind.plural, ())
                    if isinstance(r, Route) and r.methods and "GET" in r.methods
                }
                by_name = gets.get(f"{PREFIX}{kind.plural}/name/{{fqn:path}}")
                by_id = gets.get(f"{PREFIX}{kind.plural}/{{id}}")
                if by_name is not None and by_id is not None:
                    hot[kind.plural] = _HotRoutes(kind.name, by_name, by_id)
        built = True

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not built:
                build()
            path: str = scope["path"]
            if path.startswith(PREFIX):
                head, _, rest = path[len(PREFIX) :].partition("/")
                if (
                    fast is not None
                    and rest
                    and scope["method"] == "GET"
                    and not scope["query_string"]
                    and head in hot
                ):
                    routes = hot[head]
                    one: BaseRoute | None = None
                    if rest.startswith("name/"):
                        one, fqn, asset_id = routes.by_name, rest[5:], None
                    elif "/" not in rest:
                        one, fqn, asset_id = routes.by_id, None, rest
                    if one is not None and (fqn or asset_id):
                        scope["route"] = one
                        if await fast.serve(scope, send, routes.kind, fqn, asset_id):
                            return
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
