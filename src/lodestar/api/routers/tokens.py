"""Token management for admins."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from lodestar.api.bodies import read_json
from lodestar.api.deps import Admin, Services
from lodestar.api.openapi import BODY, WRITE, answers, json_ok
from lodestar.api.routers.assets import json_response
from lodestar.catalog import InvalidInput

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], default_response_class=Response)
_STR = {"type": "string"}
_TOKENS = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "array", "items": {"type": "object"}}},
}
_ISSUED = {
    "type": "object",
    "required": ["name", "role", "token"],
    "properties": {"name": _STR, "role": _STR, "token": {**_STR, "description": "Shown once."}},
}


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^/\s]([^/]*[^/\s])?$",
        description="1 to 128 printable characters (no control, zero-width or bidirectional "
        "ones), no white space at either end, no `/`.",
    )
    role: Literal["admin", "steward", "editor", "viewer", "bot"]
    user: str | None = Field(None, description="The user an editor acts as.")
    ttl_days: int | None = Field(None, ge=1, le=3650)


@router.get(
    "",
    summary="List tokens (never their secrets)",
    responses=answers(json_ok(_TOKENS, "Every token"), 400, 401, 403),
)
def list_tokens(svc: Services, _: Admin) -> Response:
    return json_response({"data": [asdict(t) for t in svc.tokens.list()]})


@router.post(
    "",
    summary="Issue a token; the secret is shown once",
    status_code=201,
    responses=answers(json_ok(_ISSUED, "Issued", 201), *BODY, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TokenCreate.model_json_schema()}},
        }
    },
)
async def create_token(request: Request, svc: Services, _: Admin) -> Response:
    raw = await read_json(request, 64 * 1024)
    try:
        body = TokenCreate.model_validate(raw)
    except ValidationError as e:
        errors = [{"loc": list(x["loc"]), "msg": x["msg"]} for x in e.errors(include_input=False)]
        raise InvalidInput(f"invalid token request: {errors[0]['msg']}", errors=errors) from None
    token = await run_in_threadpool(
        lambda: svc.tokens.issue(body.name, body.role, user=body.user, ttl_days=body.ttl_days)
    )
    return json_response({"name": body.name, "role": body.role, "token": token}, 201)


@router.delete(
    "/{name}",
    summary="Revoke a token",
    status_code=204,
    responses=answers({204: {"description": "Revoked"}}, *WRITE, 404),
)
def revoke_token(svc: Services, _: Admin, name: Annotated[str, Path()]) -> Response:
    svc.tokens.revoke(name)
    return Response(status_code=204)
