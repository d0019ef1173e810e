"""Log in with an API token (exchanged for a session cookie) and log out.

The login form has no session yet, so its CSRF token is a signed cookie of its own that the
form repeats (double submit); a form posted from another site carries neither."""

from __future__ import annotations

import secrets

from starlette.responses import RedirectResponse, Response

from lodestar.auth.tokens import hash_token
from lodestar.ui import session as sess
from lodestar.ui.editing import next_url
from lodestar.ui.web import CsrfError, Ctx

LOGIN_MINUTES = 30


def _secure(ctx: Ctx) -> bool:
    return ctx.request.url.scheme == "https"


def login_form(ctx: Ctx, *, error: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = ctx.html(
        "login.html",
        status=status,
        login_csrf=sess.mask(nonce),
        next=next_url(ctx.param("next") or ctx.form.get("next", "")),
        error=error,
    )
    response.set_cookie(
        sess.LOGIN_COOKIE,
        ctx.signer.sign(sess.LOGIN_COOKIE, nonce),
        max_age=LOGIN_MINUTES * 60,
        path="/ui/",
        httponly=True,
        samesite="lax",
        secure=_secure(ctx),
    )
    return response


def login(ctx: Ctx) -> Response:
    expected = ctx.signer.unsign(sess.LOGIN_COOKIE, ctx.request.cookies.get(sess.LOGIN_COOKIE))
    if not isinstance(expected, str) or not sess.same(sess.unmask(ctx.form.get("csrf")), expected):
        raise CsrfError("the login form expired or was not sent from this site: reload it")
    token = ctx.form.get("token", "").strip()
    if not token:
        return login_form(ctx, error="Paste your API token.", status=400)
    principal = ctx.services.tokens.resolve(token)
    if principal is None:
        return login_form(ctx, error="That token is unknown, expired or revoked.", status=401)
    hours = ctx.services.settings.session_hours
    _, cookie = ctx.signer.new_session(hash_token(token), hours)
    response = RedirectResponse(next_url(ctx.form.get("next", "")), status_code=303)
    response.set_cookie(
        sess.COOKIE,
        cookie,
        max_age=int(hours * 3600),
        path="/ui/",
        httponly=True,
        samesite="lax",
        secure=_secure(ctx),
    )
    response.delete_cookie(sess.LOGIN_COOKIE, path="/ui/")
    return response


def logout(ctx: Ctx) -> Response:
    response = RedirectResponse("/ui/", status_code=303)
    response.delete_cookie(sess.COOKIE, path="/ui/", httponly=True, samesite="lax")
    return response
