"""RFC 9457 problem details, and the one place domain errors become HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from lodestar.api.bodies import PayloadTooLarge, UnsupportedMediaType
from lodestar.catalog import errors as ce
from lodestar.model.fqn import FQNError

log = logging.getLogger("lodestar.api")

STATUS: dict[type[ce.CatalogError], int] = {
    ce.BadRequest: 400,
    ce.InvalidInput: 422,
    ce.NotFound: 404,
    ce.AlreadyExists: 409,
    ce.Conflict: 409,
    ce.VersionMismatch: 412,
    ce.Unauthorized: 401,
    ce.Forbidden: 403,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
}

SLUG = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    428: "precondition-required",
    500: "internal-error",
}


def problem_body(
    status: int, title: str, detail: str, errors: list[Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://lodestar.dev/problems/{SLUG.get(status, 'error')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        orjson.dumps(problem_body(status, title, detail, errors)),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def status_of(exc: ce.CatalogError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def from_catalog_error(exc: ce.CatalogError) -> Response:
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, exc.title, exc.detail, exc.errors, headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ce.CatalogError)
    async def _catalog(_req: Request, exc: ce.CatalogError) -> Response:
        return from_catalog_error(exc)

    @app.exception_handler(FQNError)
    async def _fqn(_req: Request, exc: FQNError) -> Response:
        # A safety net: a domain function that parses a client's FQN should say InvalidInput
        # itself; one that does not still answers what the catalog answers for a bad FQN.
        return from_catalog_error(ce.InvalidInput(f"bad fully qualified name: {exc}"))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return problem(422, "Invalid input", f"{where}: {first['msg']}", errors)

    @app.exception_handler(HTTPException)
    async def _http(_req: Request, exc: HTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return problem(500, "Internal error", "the server failed; the error is in its log")
