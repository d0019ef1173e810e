"""OpenLineage over HTTP: `POST /api/v1/lineage` and `/api/v1/lineage/batch` (the paths the
OpenLineage clients use by default), and the reads that map OpenLineage names to assets."""

from __future__ import annotations

import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.bodies import (
    JSON_TYPES,
    PayloadTooLarge,
    UnsupportedMediaType,
    media_type,
    parse_json,
    read_bytes,
)
from lodestar.api.deps import Reader, Services, Writer
from lodestar.api.openapi import BODY, READ, answers, json_ok
from lodestar.api.routers.assets import After, json_response
from lodestar.catalog import BadRequest
from lodestar.openlineage.naming import Naming, parse_namespace_map
from lodestar.openlineage.service import OpenLineageIntake, context_for

router = APIRouter(prefix="/api/v1", tags=["openlineage"], default_response_class=Response)

_OBJ: dict[str, Any] = {"type": "object"}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}, "facets": _OBJ},
}
_EVENT = {
    "type": "object",
    "description": "An OpenLineage RunEvent, JobEvent or DatasetEvent "
    "(https://openlineage.io/spec/2-0-2/OpenLineage.json).",
    "required": ["eventTime"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "eventType": {
            "type": "string",
            "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
        },
        "producer": {"type": "string"},
        "schemaURL": {"type": "string"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string"}, "facets": _OBJ},
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": _OBJ,
            },
        },
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
        "dataset": _DATASET,
    },
}
_LANDED = {
    "type": "object",
    "required": [
        "status",
        "pipeline",
        "datasets",
        "lineage_edges",
        "observations",
        "run_state",
        "problems",
    ],
    "properties": {
        "status": {"const": "success"},
        "pipeline": {"type": ["string", "null"], "description": "FQN of the job's pipeline."},
        "datasets": {"type": "array", "items": {"type": "string"}},
        "lineage_edges": {"type": "integer"},
        "observations": {"type": "integer"},
        "run_state": {"type": ["string", "null"]},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
_BATCH = {
    "type": "object",
    "required": ["status", "summary", "failed_events"],
    "properties": {
        "status": {"enum": ["success", "partial_success"]},
        "summary": {
            "type": "object",
            "required": ["received", "successful", "failed", "retriable", "non_retriable"],
            "properties": {
                k: {"type": "integer"}
                for k in ("received", "successful", "failed", "retriable", "non_retriable")
            },
        },
        "failed_events": {
            "type": "array",
            "items": {"type": "object", "required": ["index", "reason", "retriable"]},
        },
    },
}
_PAGE = {
    "type": "object",
    "required": ["data", "paging"],
    "properties": {"data": {"type": "array", "items": _OBJ}, "paging": _OBJ},
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def gunzip(data: bytes, limit: int) -> bytes:
    """A gzip body decompressed, refused (413) once it grows past `limit` bytes."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise BadRequest(f"the gzip body cannot be decompressed: {e}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLarge(f"the body decompresses to over the limit of {limit} bytes")
    if not d.eof:
        raise BadRequest("the gzip body is truncated")
    return out


async def read_events(request: Request, limit: int) -> Any:
    mt = media_type(request)
    if mt not in JSON_TYPES and not mt.endswith("+json"):
        raise UnsupportedMediaType(f"send the body as application/json (got {mt!r})")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    raw = await read_bytes(request, limit)
    if encoding in ("gzip", "x-gzip"):
        raw = gunzip(raw, limit)
    elif encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not supported: send gzip or no encoding"
        )
    return parse_json(raw)


def intake(svc: Services) -> OpenLineageIntake:
    names = parse_namespace_map(svc.settings.openlineage_namespaces)
    return OpenLineageIntake(svc.catalog, Naming(names))


@router.post(
    "/lineage",
    summary="Accept one OpenLineage event (run, job or dataset event)",
    responses=answers(json_ok(_LANDED, "Accepted: what the event maps to"), *BODY, 409),
    openapi_extra=_body(_EVENT),
)
async def post_event(request: Request, svc: Services, ctx: Writer) -> Response:
    """Admins, stewards and bots send events (`Content-Encoding: gzip` allowed). The event
    lands in one unit of work: raw event, pipeline, datasets, lineage, observations, run."""
    ol_ctx = context_for(ctx.principal)
    event = await read_events(request, svc.settings.max_body_bytes)
    landed = await run_in_threadpool(intake(svc).accept, event, ol_ctx)
    return json_response({"status": "success", **landed.as_json()})


@router.post(
    "/lineage/batch",
    summary="Accept a JSON array of OpenLineage events, each on its own",
    responses=answers(json_ok(_BATCH, "Received: which events failed, by index"), *BODY),
    openapi_extra=_body({"type": "array", "items": _EVENT}),
)
async def post_batch(request: Request, svc: Services, ctx: Writer) -> Response:
    """Each event is its own unit of work: one that cannot be used is listed in
    `failed_events` (with its index and why) and the others land. 400 when none could."""
    ol_ctx = context_for(ctx.principal)
    events = await read_events(request, svc.settings.max_bulk_bytes)
    if not isinstance(events, list):
        raise BadRequest("send a JSON array of OpenLineage events")
    result = await run_in_threadpool(intake(svc).accept_many, events, ol_ctx)
    if events and not result.landed:
        first = result.failed[0]
        errors = [
            {"loc": [f.index, *e.get("loc", [])], "msg": e.get("msg", f.reason)}
            for f in result.failed
            for e in (f.errors or [{"msg": f.reason}])
        ]
        raise BadRequest(
            f"none of the {len(events)} events could be used; event {first.index}: {first.reason}",
            errors=errors,
        )
    return json_response(result.as_json())


def _name_cursor(after: str | None) -> tuple[str, str] | None:
    text = p.decode_cursor(after)
    if text is None:
        return None
    ns, sep, name = text.partition("\x00")
    if not sep:
        raise BadRequest("the 'after' cursor is not one this server handed out")
    return ns, name


def _lookup(
    svc: Services,
    ol_type: str,
    namespace: str | None,
    name: str | None,
    limit: int,
    after: str | None,
) -> Response:
    ol = intake(svc)
    if name is not None:
        if namespace is None:
            raise BadRequest("give the namespace with the name")
        row, asset = ol.lookup(ol_type, namespace, name)
        body = p.asset_json(asset)
        body["openlineage"] = {
            "namespace": namespace,
            "name": name,
            "alias_type": row["alias_type"],
        }
        return json_response(body)
    rows = ol.names(ol_type, namespace, _name_cursor(after), limit)
    nxt = (
        p.encode_cursor(f"{rows[-1]['namespace']}\x00{rows[-1]['name']}")
        if len(rows) == limit
        else None
    )
    data = [
        {
            "namespace": r["namespace"],
            "name": r["name"],
            "kind": r["asset_kind"],
            "id": r["asset_id"],
            "fqn": r["fqn"],
            "alias_type": r["alias_type"],
        }
        for r in rows
    ]
    return json_response({"data": data, "paging": {"after": nxt}})


Namespace = Annotated[str | None, Query(max_length=1024, description="OpenLineage namespace.")]
Name = Annotated[
    str | None,
    Query(max_length=2048, description="OpenLineage name: answers the asset it maps to."),
]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get(
    "/openlineage/datasets",
    summary="The catalog asset an OpenLineage dataset name maps to, or the names known",
    responses=answers(json_ok(_OBJ, "With name: the asset; without: a page of names"), *READ, 404),
)
def get_datasets(
    svc: Services,
    _: Reader,
    namespace: Namespace = None,
    name: Name = None,
    limit: Limit = 100,
    after: After = None,
) -> Response:
    return _lookup(svc, "dataset", namespace, name, limit, after)


@router.get(
    "/openlineage/jobs",
    summary="The pipeline an OpenLineage job name maps to, or the job names known",
    responses=answers(
        json_ok(_OBJ, "With name: the pipeline; without: a page of names"), *READ, 404
    ),
)
def get_jobs(
    svc: Services,
    _: Reader,
    namespace: Namespace = None,
    name: Name = None,
    limit: Limit = 100,
    after: After = None,
) -> Response:
    return _lookup(svc, "job", namespace, name, limit, after)


def _run_cursor(after: str | None) -> tuple[int, str] | None:
    text = p.decode_cursor(after)
    if text is None:
        return None
    ts, sep, run_id = text.partition(":")
    if not sep or not ts.isdigit() or len(ts) > 20:
        raise BadRequest("the 'after' cursor is not one this server handed out")
    return int(ts), run_id


@router.get(
    "/openlineage/runs",
    summary="OpenLineage runs: one by run id, a job's, or every job's, latest first",
    responses=answers(json_ok(_PAGE, "A page of runs"), *READ, 404),
)
def get_runs(
    svc: Services,
    _: Reader,
    run_id: Annotated[str | None, Query(max_length=256)] = None,
    namespace: Namespace = None,
    name: Name = None,
    limit: Limit = 100,
    after: After = None,
) -> Response:
    ol = intake(svc)
    if run_id is not None:
        run = ol.run(run_id)
        run.pop("_cursor")
        return json_response({"data": [run], "paging": {"after": None}})
    if (namespace is None) != (name is None):
        raise BadRequest("give a job's namespace and name together")
    job = (namespace, name) if namespace is not None and name is not None else None
    runs = ol.runs(job, limit, _run_cursor(after))
    nxt = None
    if len(runs) == limit:
        ts, rid = runs[-1]["_cursor"]
        nxt = p.encode_cursor(f"{ts}:{rid}")
    for r in runs:
        r.pop("_cursor")
    return json_response({"data": runs, "paging": {"after": nxt}})
