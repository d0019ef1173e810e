"""Data quality reads: an asset's status, its delivered SLA, whether it is ready, the library.

Test cases themselves are assets (`/api/v1/test-cases`, with every route of a kind).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from lodestar.api.deps import Reader, Services
from lodestar.api.openapi import READ, answers, json_ok
from lodestar.api.routers.assets import json_response
from lodestar.catalog import NotFound
from lodestar.model.registry import find_kind

router = APIRouter(prefix="/api/v1/quality", tags=["quality"], default_response_class=Response)

_TEST = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "fqn": {"type": "string"},
        "column": {"type": ["string", "null"]},
        "test_type": {"type": "string"},
        "severity": {"type": "string", "enum": ["blocking", "warning"]},
        "status": {"type": "string", "enum": ["passed", "failed", "error", "not_run"]},
        "last_run": {"type": ["string", "null"]},
        "value": {"type": ["number", "null"]},
        "stale": {"type": ["string", "null"]},
    },
}
_STATUS = {
    "type": "object",
    "required": ["status", "tests"],
    "properties": {
        "status": {"type": "string", "enum": ["passing", "failing", "stale", "untested"]},
        "tests": {"type": "array", "items": _TEST},
    },
}
_SLA = {
    "type": "object",
    "required": ["sla", "intervals"],
    "properties": {
        "sla": {"type": ["number", "null"], "description": "Share of the window that held."},
        "intervals": {"type": "array", "items": {"type": "object"}},
    },
}
_READY = {
    "type": "object",
    "required": ["ready", "reasons"],
    "properties": {
        "ready": {"type": "boolean"},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "upstream": {"type": "array", "items": {"type": "object"}},
    },
}
Plural = Annotated[str, Path(max_length=64, description="The kind's collection, e.g. `tables`.")]
Fqn = Annotated[str, Path(max_length=4096)]
StaleAfter = Annotated[
    str,
    Query(max_length=32, description="Unscheduled tests are stale after this long: `7d`."),
]


def _kind(plural: str) -> str:
    spec = find_kind(plural)
    if spec is None or spec.plural != plural:
        raise NotFound(f"no collection /api/v1/{plural}")
    return spec.name


def _stale_s(text: str) -> float:
    from lodestar.quality.service import parse_window

    return parse_window(text)


_TEST_TYPES = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "array", "items": {"type": "object"}}},
}


@router.get(
    "/test-types",
    summary="The test library",
    responses=answers(json_ok(_TEST_TYPES, "Every test type, its parameters and columns"), *READ),
)
async def test_library(_: Reader) -> Response:
    from lodestar.quality.service import library

    return json_response({"data": library()})


@router.get(
    "/sla/{plural}/name/{fqn:path}",
    summary="The SLA an asset delivered over a window",
    responses=answers(json_ok(_SLA, "The delivered SLA"), *READ, 404),
)
async def asset_sla(
    svc: Services,
    _: Reader,
    plural: Plural,
    fqn: Fqn,
    window: Annotated[str, Query(max_length=32, description="`30d`, `12h`...")] = "30d",
) -> Response:
    from lodestar.quality.service import sla

    body: dict[str, Any] = await run_in_threadpool(sla, svc.catalog, _kind(plural), fqn, window)
    return json_response(body)


@router.get(
    "/ready/{plural}/name/{fqn:path}",
    summary="Whether an asset and everything upstream of it is fresh and passing",
    responses=answers(json_ok(_READY, "Readiness, with the reasons"), *READ, 404),
)
async def asset_ready(
    svc: Services, _: Reader, plural: Plural, fqn: Fqn, stale_after: StaleAfter = "7d"
) -> Response:
    from lodestar.quality.service import ready

    kind = _kind(plural)
    body = await run_in_threadpool(
        lambda: ready(svc.catalog, kind, fqn, stale_after_s=_stale_s(stale_after))
    )
    return json_response(body)


@router.get(
    "/{plural}/name/{fqn:path}",
    summary="An asset's quality status and its tests' latest results",
    responses=answers(json_ok(_STATUS, "The status"), *READ, 404),
)
async def asset_status(
    svc: Services, _: Reader, plural: Plural, fqn: Fqn, stale_after: StaleAfter = "7d"
) -> Response:
    from lodestar.quality.service import status

    kind = _kind(plural)
    body = await run_in_threadpool(
        lambda: status(svc.catalog, kind, fqn, stale_after_s=_stale_s(stale_after))
    )
    return json_response(body)
