"""An ingestion pipeline's runs: the run history (the one in progress included) and "run now",
which hands the stored pipeline to the server's scheduler."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from lodestar.api.deps import Reader, Services, Writer
from lodestar.api.openapi import READ, WRITE, answers, json_ok
from lodestar.api.routers.assets import json_response
from lodestar.catalog import Forbidden
from lodestar.model.records import us_to_iso

router = APIRouter(
    prefix="/api/v1/ingestion-pipelines",
    tags=["ingestion-pipelines"],
    default_response_class=Response,
)
_RUNS = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "array", "items": {"type": "object"}}},
}
_QUEUED = {
    "type": "object",
    "required": ["pipeline", "status", "runs"],
    "properties": {
        "pipeline": {"type": "string"},
        "status": {"const": "queued"},
        "runs": {"type": "string"},
    },
}


def _run_json(run: dict[str, Any]) -> dict[str, Any]:
    ended = run["ended_at"]
    return {
        "id": run["id"],
        "status": run["status"],
        "started_at": us_to_iso(run["started_at"]),
        "ended_at": us_to_iso(ended) if ended is not None else None,
        "heartbeat_at": us_to_iso(run["heartbeat_at"]),
        "report": run["report"],
    }


@router.get(
    "/{id}/runs",
    summary="The pipeline's latest runs, newest first",
    responses=answers(json_ok(_RUNS, "The latest runs"), *READ, 404),
)
async def list_runs(
    id: str,
    svc: Services,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    from lodestar.ingest.service import pipeline_runs

    runs = await run_in_threadpool(pipeline_runs, svc.catalog, id, limit)
    return json_response({"data": [_run_json(r) for r in runs]})


@router.post(
    "/{id}/runs",
    status_code=202,
    summary="Run the pipeline now, in the server's scheduler",
    responses=answers(json_ok(_QUEUED, "Queued", 202), *WRITE, 404, 409),
)
async def run_now(id: str, svc: Services, ctx: Writer) -> Response:
    from lodestar.ingest.service import ask_to_run

    if not ctx.principal.writes_everything:
        raise Forbidden("running a pipeline needs an admin, steward or bot token")
    name = await run_in_threadpool(ask_to_run, svc.catalog, id, svc.request_run)
    runs = f"/api/v1/ingestion-pipelines/{id}/runs"
    return json_response(
        {"pipeline": name, "status": "queued", "runs": runs}, status=202, headers={"Location": runs}
    )
