"""Request plumbing shared by the pages: who is calling (session cookie), the form body, the CSRF
check, and catalog errors shown as HTML pages instead of problem documents."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lodestar.auth.principal import ANONYMOUS, Principal
from lodestar.auth.tokens import TokenService
from lodestar.catalog import (
    AlreadyExists,
    BadRequest,
    Catalog,
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    VersionMismatch,
)
from lodestar.settings import Settings
from lodestar.ui import session as sess
from lodestar.ui.render import Pages

log = logging.getLogger("lodestar.ui")

MAX_FORM_BYTES = 512 * 1024
MAX_FORM_FIELDS = 64


class Services(Protocol):
    """What the UI needs of the server: the API's `AppServices` has all of it."""

    settings: Settings
    catalog: Catalog
    tokens: TokenService


@dataclass
class Ctx:
    """Everything a page handler needs for one request."""

    request: Request
    services: Services
    pages: Pages
    signer: sess.Signer
    principal: Principal
    session: sess.Session | None
    form: dict[str, str]

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    def html(self, template: str, status: int = 200, **context: object) -> Response:
        return self.pages.html(self.request, template, status, **context)

    def param(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


Handler = Callable[[Ctx], Response]


class FormError(BadRequest):
    title = "Bad form"


class CsrfError(Forbidden):
    title = "Form expired"


_STATUS: tuple[tuple[type[CatalogError], int, str], ...] = (
    (NotFound, 404, "Not found"),
    (Unauthorized, 401, "Log in to continue"),
    (Forbidden, 403, "Not allowed"),
    (BadRequest, 400, "That did not work"),
    (InvalidInput, 422, "That did not work"),
    (AlreadyExists, 409, "Conflict"),
    (Conflict, 409, "Conflict"),
    (VersionMismatch, 412, "Changed meanwhile"),
)


async def read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(f"the form is larger than {MAX_FORM_BYTES // 1024} KiB")
    try:
        fields = parse_qs(
            body.decode(),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as e:
        raise FormError(f"the form could not be read: {e}") from None
    return {k: v[-1].replace("\x00", "") for k, v in fields.items()}


def identify(
    services: Services, signer: sess.Signer, request: Request
) -> tuple[Principal, sess.Session | None]:
    session = signer.session(request.cookies.get(sess.COOKIE))
    if session is None:
        return ANONYMOUS, None
    principal = services.tokens.resolve_hash(session.token_hash)
    if principal is None:  # the token was revoked or expired: the session ends with it
        return ANONYMOUS, None
    return principal, session


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


class Endpoints:
    def __init__(self, get_services: Callable[[], Services], pages: Pages) -> None:
        self.get_services = get_services
        self.pages = pages
        self._signer: sess.Signer | None = None

    def signer(self, services: Services) -> sess.Signer:
        if self._signer is None:
            s = services.settings
            secret = s.session_secret.get_secret_value() if s.session_secret else None
            self._signer = sess.Signer(sess.load_key(secret, s.data_dir))
        return self._signer

    def page(
        self, fn: Handler, *, public: bool = False, csrf: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: identify the caller, ask for a login where reading needs one, read
        and check a POSTed form, show catalog errors as pages."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            response = await handle(request)
            took = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={took:.2f}"
            return response

        async def handle(request: Request) -> Response:
            services = self.get_services()
            signer = self.signer(services)
            request.state.principal = ANONYMOUS
            request.state.session = None
            try:
                principal, session = await run_in_threadpool(identify, services, signer, request)
                request.state.principal, request.state.session = principal, session
                if not public and principal is ANONYMOUS and not services.settings.anonymous_read:
                    if request.method == "GET":
                        return login_redirect(request)
                    raise Unauthorized("log in first")
                form: dict[str, str] = {}
                if request.method == "POST":
                    form = await read_form(request)
                    if csrf and (
                        session is None
                        or not sess.same(sess.unmask(form.get("csrf")), session.csrf)
                    ):
                        raise CsrfError(
                            "this form is no longer valid (its security token does not match "
                            "your session): reload the page and try again"
                        )
                ctx = Ctx(request, services, self.pages, signer, principal, session, form)
                return await run_in_threadpool(fn, ctx)
            except CatalogError as e:
                return self.error(request, e)

        return endpoint

    def error(self, request: Request, e: CatalogError) -> Response:
        status, title = 500, "Something went wrong"
        for cls, code, words in _STATUS:
            if isinstance(e, cls):
                status, title = code, words
                break
        return self.pages.html(request, "error.html", status, title=title, detail=e.detail)
