"""Request dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from lodestar.auth.principal import ANONYMOUS, Principal
from lodestar.auth.tokens import TokenService
from lodestar.catalog import BadRequest, Catalog, Forbidden, Unauthorized, WriteContext
from lodestar.model.records import Origin
from lodestar.settings import Settings


@dataclass
class AppServices:
    settings: Settings
    catalog: Catalog
    tokens: TokenService
    # Asks the server's scheduler to run a stored pipeline now (as an "ingestion" job);
    # None without a scheduler.
    request_run: Callable[[str], None] | None = None


async def services(request: Request) -> AppServices:
    svc: AppServices = request.app.state.services
    return svc


Services = Annotated[AppServices, Depends(services)]


def _principal(request: Request, svc: Services) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use the header 'Authorization: Bearer <token>'")
    principal = svc.tokens.resolve(token.strip())
    if principal is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    return principal


async def reader(request: Request, svc: Services) -> Principal:
    principal = _principal(request, svc)
    if principal is ANONYMOUS and not svc.settings.anonymous_read:
        raise Unauthorized(
            "reading needs a token: send 'Authorization: Bearer <token>' "
            "(create one with `lodestar token create --role viewer --name me`)"
        )
    return principal


async def writer(request: Request, svc: Services) -> WriteContext:
    principal = _principal(request, svc)
    if principal is ANONYMOUS:
        raise Unauthorized("changing metadata needs a token: send 'Authorization: Bearer <token>'")
    if not principal.can_write:
        raise Forbidden(f"role {principal.role!r} may read but not change metadata")
    origin = None
    declared = request.headers.get("x-lodestar-origin")
    if declared:
        try:
            origin = Origin.parse(declared)
        except ValueError as e:
            raise BadRequest(f"X-Lodestar-Origin: {e}") from None
        if origin.type == "system":
            raise Forbidden("X-Lodestar-Origin: 'system' is reserved for the server itself")
        if origin.type != "person" and principal.role not in ("bot", "admin"):
            raise Forbidden("only bot and admin tokens may write as an ingestion or integration")
        if origin.type == "person" and principal.role == "bot":
            raise Forbidden("a bot token cannot write as a person: declare ingestion:<name>")
    return WriteContext.for_principal(principal, origin)


async def admin(request: Request, svc: Services) -> Principal:
    principal = _principal(request, svc)
    if principal is ANONYMOUS:
        raise Unauthorized("this needs an admin token: send 'Authorization: Bearer <token>'")
    if not principal.is_admin:
        raise Forbidden("only admins manage tokens")
    return principal


Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[WriteContext, Depends(writer)]
Admin = Annotated[Principal, Depends(admin)]
