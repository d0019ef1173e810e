"""Route look-up by collection: Starlette tries routes one by one, and with twelve routes per
asset kind a GET on /api/v1/tables tried about 190 regular expressions first (a third of the
CPU of a GET, by py-spy in bench/read_latency.py). This sends /api/v1/<collection>/... straight
to that collection's routes; anything else, and anything they do not fully match (405s,
redirects, 404s), goes through the normal router unchanged.

A plain GET of one asset (`/<plural>/name/<fqn>` or `/<plural>/<id>`, no query string) is
offered to the lean read path (`fast_reads.py`) first, in the route's place: the route stays
what the metrics and the OpenAPI document see, and whatever the lean path passes on reaches the
route as before.

Each asset kind's routes are built when its collection is first asked for, or all of them when
a request reaches the normal router or the OpenAPI document is asked for: building the twenty
kinds' ~240 endpoints (FastAPI analyses every parameter of each) took a quarter of a second
of every start, before the server could answer its health check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from lodestar.api.fast_reads import FastReads
from lodestar.model.registry import KindSpec, all_kinds, find_kind

PREFIX = "/api/v1/"


@dataclass(frozen=True, slots=True)
class _HotRoutes:
    kind: str
    by_name: BaseRoute
    by_id: BaseRoute


class KindRoutes:
    """The routes of each asset kind, built on first use. `all()` puts every kind's routes
    into the app's route list at `at`, where they would have been had they been built up
    front, so the normal router and the OpenAPI document see the same routes in the same
    order."""

    def __init__(self, app: FastAPI, make: Callable[[KindSpec], APIRouter]) -> None:
        self.app = app
        self.make = make
        self.at = len(app.router.routes)
        self.built: dict[str, list[BaseRoute]] = {}  # by plural
        self.complete = False
        self._lock = threading.Lock()

    def of(self, plural: str) -> list[BaseRoute]:
        """A collection's routes; none when no kind has that plural."""
        routes = self.built.get(plural)
        if routes is None and not self.complete:
            spec = find_kind(plural)
            if spec is None or spec.plural != plural:
                return []
            with self._lock:
                routes = self.built.get(plural)
                if routes is None:
                    routes = self.built[plural] = list(self.make(spec).routes)
        return routes or []

    def all(self) -> None:
        if self.complete:
            return
        kinds = all_kinds()
        for kind in kinds:
            self.of(kind.plural)
        with self._lock:
            if not self.complete:
                routes = [r for kind in kinds for r in self.built[kind.plural]]
                self.app.router.routes[self.at : self.at] = routes
                self.complete = True


def install(app: FastAPI, kinds: KindRoutes, fast: FastReads | None = None) -> None:
    router = app.router
    fallback = router.middleware_stack
    index: dict[str, list[BaseRoute]] = {}
    generic: list[BaseRoute] = []
    hot: dict[str, _HotRoutes | None] = {}
    built = False

    def build() -> None:
        nonlocal built
        own = {id(r) for routes in kinds.built.values() for r in routes}
        for route in router.routes:
            path = getattr(route, "path", "")
            if not isinstance(route, Route) or not path.startswith(PREFIX) or id(route) in own:
                continue
            head = path[len(PREFIX) :].split("/", 1)[0]
            if head.startswith("{"):
                generic.append(route)
            else:
                index.setdefault(head, []).append(route)
        built = True

    def hot_routes(plural: str, routes: list[BaseRoute]) -> _HotRoutes | None:
        if plural not in hot:
            gets = {
                r.path: r
                for r in routes
                if isinstance(r, Route) and r.methods and "GET" in r.methods
            }
            by_name = gets.get(f"{PREFIX}{plural}/name/{{fqn:path}}")
            by_id = gets.get(f"{PREFIX}{plural}/{{id}}")
            spec = find_kind(plural)
            hot[plural] = (
                _HotRoutes(spec.name, by_name, by_id)
                if spec is not None and by_name is not None and by_id is not None
                else None
            )
        return hot[plural]

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not built:
                build()
            path: str = scope["path"]
            if path.startswith(PREFIX):
                head, _, rest = path[len(PREFIX) :].partition("/")
                own = kinds.of(head)
                if (
                    fast is not None
                    and own
                    and rest
                    and scope["method"] == "GET"
                    and not scope["query_string"]
                    and (routes := hot_routes(head, own)) is not None
                ):
                    one: BaseRoute | None = None
                    if rest.startswith("name/"):
                        one, fqn, asset_id = routes.by_name, rest[5:], None
                    elif "/" not in rest:
                        one, fqn, asset_id = routes.by_id, None, rest
                    if one is not None and (fqn or asset_id):
                        scope["route"] = one
                        if await fast.serve(scope, send, routes.kind, fqn, asset_id):
                            return
                for route in (*own, *index.get(head, ()), *generic):
                    match, child_scope = route.matches(scope)
                    if match is Match.FULL:
                        scope["router"] = router
                        scope["route"] = route
                        scope.update(child_scope)
                        await route.handle(scope, receive, send)
                        return
            kinds.all()  # the normal router answers as it would with every route built
        elif scope["type"] == "websocket":
            kinds.all()
        await fallback(scope, receive, send)

    router.middleware_stack = dispatch
