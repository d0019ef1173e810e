"""Observations (append-only time series on assets) over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.bodies import read_json
from lodestar.api.deps import Reader, Services, Writer
from lodestar.api.openapi import BODY, READ, answers, json_ok
from lodestar.api.routers.assets import After, json_response
from lodestar.catalog import BadRequest, Forbidden, InvalidInput, Key, WriteContext
from lodestar.catalog.observations import Observation
from lodestar.model.records import iso_to_us, us_to_iso
from lodestar.model.registry import find_kind

router = APIRouter(prefix="/api/v1", tags=["observations"], default_response_class=Response)
_OBJECTS = {"type": "array", "items": {"type": "object"}}


def _counts(*names: str) -> dict[str, Any]:
    """The schema of a write's answer: these counts, and the problems, as sentences."""
    return {
        "type": "object",
        "required": [*names, "problems"],
        "properties": {
            **{n: {"type": "integer"} for n in names},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
    }


_RECORDED = _counts("recorded", "duplicates")
_SERIES = {
    "type": "object",
    "required": ["data", "paging"],
    "properties": {"data": _OBJECTS, "paging": {"$ref": "#/components/schemas/Paging"}},
}


class ObservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="Asset kind, e.g. table.")
    fqn: str = Field(description="Asset FQN.")
    observation: str = Field(min_length=1, max_length=64, description="e.g. row_count.")
    value: dict[str, Any]
    ts: str | None = Field(None, description="When it happened (ISO 8601); default now.")
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Sending the same key again stores nothing new. Default: a digest of the "
        "asset, observation, ts and value (so give `ts` to make a re-delivery a duplicate).",
    )
    run_id: str | None = Field(
        None, min_length=1, max_length=64, description="The run that produced it."
    )


def _array_body(item: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "array", "items": item}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _need_curator(ctx: WriteContext) -> None:
    if not ctx.principal.writes_everything:
        raise Forbidden("recording observations needs an admin, steward or bot token")


def _validated(model: type[BaseModel], raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidInput("send a JSON array")
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(model.model_validate(item))
        except ValidationError as e:
            errs = [{"loc": [i, *x["loc"]], "msg": x["msg"]} for x in e.errors(include_input=False)]
            raise InvalidInput(f"item {i}: {errs[0]['msg']}", errors=errs) from None
        kind = item.get("kind") if isinstance(item, dict) else None
        if isinstance(kind, str) and find_kind(kind) is None:
            raise InvalidInput(f"item {i}: unknown asset kind {kind!r}")
    return out


@router.post(
    "/observations",
    summary="Append observations (time series) to assets",
    responses=answers(json_ok(_RECORDED, "Recorded"), *BODY),
    openapi_extra=_array_body(ObservationIn.model_json_schema()),
)
async def post_observations(request: Request, svc: Services, ctx: Writer) -> Response:
    _need_curator(ctx)
    items: list[ObservationIn] = _validated(
        ObservationIn, await read_json(request, svc.settings.max_body_bytes)
    )
    try:
        obs = [
            Observation(
                o.kind,
                o.fqn,
                o.observation,
                o.value,
                iso_to_us(o.ts) if o.ts else None,
                idempotency_key=o.idempotency_key,
                run_id=o.run_id,
            )
            for o in items
        ]
    except ValueError as e:
        raise InvalidInput(f"ts: {e}") from None
    done = await run_in_threadpool(svc.catalog.observations.record, obs, ctx)
    return json_response(
        {"recorded": done.new, "duplicates": done.duplicates, "problems": list(done)}
    )


def _cursor(after: str | None) -> tuple[int, int] | None:
    text = p.decode_cursor(after)
    if text is None:
        return None
    ts, _, row = text.partition(":")
    if not (ts.lstrip("-").isdigit() and row.isdigit()) or len(ts) > 20 or len(row) > 20:
        raise BadRequest("the 'after' cursor is not one this server handed out")
    return int(ts), int(row)


@router.get(
    "/{plural}/{id}/observations",
    summary="Observations of an asset, newest first",
    responses=answers(json_ok(_SERIES, "A page of observations"), *READ, 404),
)
def get_observations(
    svc: Services,
    _: Reader,
    plural: Annotated[str, Path()],
    id: Annotated[str, Path()],
    observation: Annotated[str | None, Query(description="Only this kind.")] = None,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: After = None,
) -> Response:
    kind = find_kind(plural)
    if kind is None:
        raise InvalidInput(f"unknown collection {plural!r}")
    asset = svc.catalog.get(kind.name, Key(id=id))
    try:
        s = iso_to_us(since) if since else None
        u = iso_to_us(until) if until else None
    except ValueError:
        raise InvalidInput("since/until: use ISO 8601 times or epoch milliseconds") from None
    rows = svc.catalog.observations.read(
        asset.id, observation, since=s, until=u, limit=limit, after=_cursor(after)
    )
    nxt = p.encode_cursor(f"{rows[-1]['ts']}:{rows[-1]['id']}") if len(rows) == limit else None
    return json_response(
        {
            "data": [
                {
                    "observation": r["kind"],
                    "ts": us_to_iso(r["ts"]),
                    "recorded_ts": us_to_iso(r["recorded_ts"]),
                    "value": r["value"],
                    "actor": r["actor"],
                    "origin": r["origin"],
                    "run_id": r["run_id"],
                }
                for r in rows
            ],
            "paging": {"after": nxt},
        }
    )
