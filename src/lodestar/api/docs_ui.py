"""/docs: Swagger UI served from the installed `swagger-ui-py` package, so the page works
without internet (FastAPI's default loads it from a public CDN and is blank offline)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, Response

from lodestar.api.problems import problem

ASSETS = "/docs/assets"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@cache
def _static_dir() -> Path | None:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI, title: str) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        static = _static_dir()
        if name not in _FILES:
            return problem(404, "Not found", f"no docs asset {name!r}")
        if static is None or not (static / name).is_file():
            return problem(
                404, "Not found", "Swagger UI is not installed: pip install 'swagger-ui-py>=25,<26'"
            )
        return FileResponse(
            static / name,
            media_type=_FILES[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )
