"""The web UI: a Starlette app the API mounts at /ui on the same process and port.

Pages are rendered on the server from the catalog's services (`Catalog`, `TokenService`); the
static files are a small stylesheet and a progressive-enhancement script, served from memory."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from lodestar.ui import editing, login, pages
from lodestar.ui.render import Pages, static_response
from lodestar.ui.web import Endpoints, Services

PREFIX = "/ui"


def create_ui(get_services: Callable[[], Services]) -> Starlette:
    """The UI app; `get_services` answers the running server's services (they exist once the
    server has started)."""
    rendered = Pages()
    ep = Endpoints(get_services, rendered)

    async def static(request: Request) -> Response:
        f = rendered.static.get(request.path_params["name"])
        if f is None:
            return PlainTextResponse("not found", status_code=404)
        return static_response(request, f)

    routes = [
        Route("/", ep.page(pages.home)),
        Route("/static/{name}", static),
        Route("/login", ep.page(login.login_form, public=True, csrf=False), methods=["GET"]),
        Route("/login", ep.page(login.login, public=True, csrf=False), methods=["POST"]),
        Route("/logout", ep.page(login.logout, public=True), methods=["POST"]),
        Route("/preview", ep.page(editing.preview), methods=["POST"]),
        Route("/glossary", ep.page(pages.glossary)),
        Route("/domains", ep.page(pages.domains)),
        Route("/people", ep.page(pages.people)),
        Route("/pipelines", ep.page(pages.pipelines)),
        Route("/browse/{kind}", ep.page(pages.kind_list)),
        Route("/assets/{kind}/{fqn:path}", ep.page(pages.asset_page)),
        Route("/edit/{kind}/{fqn:path}", ep.page(editing.edit_form), methods=["GET"]),
        Route("/edit/{kind}/{fqn:path}", ep.page(editing.edit_save), methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1024)])
