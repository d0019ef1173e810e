"""Columns by their identity: GET /api/v1/columns/{id} and /api/v1/columns/name/{fqn}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from lodestar.api.deps import Reader, Services
from lodestar.api.openapi import READ, answers, json_ok
from lodestar.api.routers.assets import json_response

router = APIRouter(prefix="/api/v1", tags=["columns"], default_response_class=Response)
COLUMN = {
    "type": "object",
    "required": ["id", "name", "fqn", "asset_id"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "fqn": {"type": "string"},
        "asset_id": {"type": "string", "description": "The table's id."},
    },
}
FOUND = answers(json_ok(COLUMN, "The column"), *READ, 404)


@router.get(
    "/columns/name/{fqn:path}",
    summary="A column by FQN (table FQN, then the column)",
    responses=FOUND,
)
def column_by_name(svc: Services, _: Reader, fqn: Annotated[str, Path()]) -> Response:
    return json_response(svc.catalog.column_by_fqn(fqn))


@router.get(
    "/columns/{id}",
    summary="A column by id: its name, FQN and table",
    responses=FOUND,
)
def column_by_id(svc: Services, _: Reader, id: Annotated[str, Path(max_length=64)]) -> Response:
    return json_response(svc.catalog.column(id))
