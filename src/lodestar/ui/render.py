"""Templates and static files: one Jinja environment per app, static files served from memory
under content-hashed URLs, cached by browsers for a year."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lodestar.model.registry import find_kind
from lodestar.ui import markdown
from lodestar.ui.session import mask

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    media_type: str
    digest: str


def load_static() -> dict[str, StaticFile]:
    out: dict[str, StaticFile] = {}
    root = files("lodestar.ui").joinpath("static")
    for entry in root.iterdir():
        name = entry.name
        suffix = name[name.rfind(".") :]
        if suffix not in _TYPES or not entry.is_file():
            continue
        body = entry.read_bytes()
        packed = gzip.compress(body, 9, mtime=0) if suffix in (".css", ".js", ".svg") else None
        digest = hashlib.sha256(body).hexdigest()[:12]
        out[name] = StaticFile(body, packed, _TYPES[suffix], digest)
    return out


def static_response(request: Request, f: StaticFile) -> Response:
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{f.digest}"',
        "Vary": "Accept-Encoding",
    }
    if request.query_params.get("v") != f.digest:
        headers["Cache-Control"] = "public, max-age=300"
    if request.headers.get("if-none-match") == f'"{f.digest}"':
        return Response(status_code=304, headers=headers)
    body = f.body
    if f.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = f.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=f.media_type, headers=headers)


def asset_url(kind: str, fqn: str, **params: str | int) -> str:
    url = f"/ui/assets/{quote(kind)}/{quote(fqn, safe='')}"
    if params:
        url += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    return url


def edit_url(kind: str, fqn: str) -> str:
    return f"/ui/edit/{quote(kind)}/{quote(fqn, safe='')}"


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


def when(us: int | None) -> str:
    if not us:
        return ""
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def show(value: Any) -> str:
    """A stored value as text: strings as they are, the rest as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def plural(kind: str) -> str:
    spec = find_kind(kind)
    return spec.plural if spec else kind


class Pages:
    def __init__(self) -> None:
        self.static = load_static()
        env = Environment(
            loader=PackageLoader("lodestar.ui", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals.update(
            asset_url=asset_url,
            edit_url=edit_url,
            kind_label=kind_label,
            when=when,
            show=show,
            plural=plural,
            markdown=markdown.render,
            static=self.static_url,
        )
        self.env = env

    def static_url(self, name: str) -> str:
        f = self.static[name]
        return f"/ui/static/{name}?v={f.digest}"

    def html(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("user", request.state.principal)
        context.setdefault("session", request.state.session)
        context.setdefault("request", request)
        session = context["session"]
        context.setdefault("csrf", lambda: mask(session.csrf) if session else "")
        body = self.env.get_template(template).render(**context)
        return HTMLResponse(
            body,
            status_code=status,
            headers={
                "Cache-Control": "private, no-store",
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                    "base-uri 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
            },
        )

    def fragment(self, markup: Markup) -> HTMLResponse:
        return HTMLResponse(str(markup), headers={"Cache-Control": "no-store"})
