"""POST /api/v1/bulk: NDJSON upserts in, one NDJSON status line out per line in."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.bodies import (
    PayloadTooLarge,
    UnsupportedMediaType,
    check_raw,
    media_type,
    ndjson_lines,
)
from lodestar.api.deps import Services, Writer
from lodestar.api.openapi import BODY, NDJSON, answers, ref
from lodestar.api.problems import problem_body, status_of
from lodestar.catalog import BadRequest, BulkLine, CatalogError, InvalidInput, Outcome
from lodestar.runtime import gc_paused

router = APIRouter(prefix="/api/v1", tags=["bulk"], default_response_class=Response)
CHUNK = 500
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json",
    "text/plain",
    "",
)


def _parse(raw: bytes) -> BulkLine | CatalogError:
    try:
        value = orjson.loads(raw)
        check_raw(raw, value)
    except orjson.JSONDecodeError as e:
        return BadRequest(f"the line is not valid JSON: {e}")
    except CatalogError as e:
        return e
    if not isinstance(value, dict):
        return InvalidInput("each line is a JSON object with a 'kind' and the asset's fields")
    kind = value.get("kind")
    if not isinstance(kind, str):
        return InvalidInput(
            "each line needs 'kind' (table, schema, ...)",
            errors=[{"loc": ["kind"], "msg": "required"}],
        )
    return BulkLine(kind, value)


def _status_line(number: int, o: Outcome) -> dict[str, Any]:
    if o.error is not None:
        status = status_of(o.error)
        return {
            "line": number,
            "status": status,
            "result": "error",
            "error": problem_body(status, o.error.title, o.error.detail, o.error.errors),
        }
    assert o.asset is not None
    return {
        "line": number,
        "status": 201 if o.status == "created" else 200,
        "result": o.status,
        "id": o.asset.id,
        "kind": o.asset.kind,
        "fqn": o.asset.fqn,
        "version": o.asset.version,
        "href": p.href(o.asset.kind, o.asset.id),
    }


@router.post(
    "/bulk",
    summary="Upsert many assets from NDJSON, one status line out per line in",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One JSON object per line: an asset's fields and its `kind`.",
            "content": {NDJSON: {"schema": {"type": "string"}, "x-ndjson-line": ref("BulkLine")}},
        }
    },
    responses=answers(
        {
            200: {
                "description": "One status line per input line, in order (NDJSON)",
                "content": {
                    NDJSON: {"schema": {"type": "string"}, "x-ndjson-line": ref("BulkStatus")}
                },
            }
        },
        *BODY,
    ),
)
async def bulk(
    request: Request,
    svc: Services,
    ctx: Writer,
    dry_run: Annotated[bool, Query(description="Plan and report, store nothing.")] = False,
) -> Response:
    mt = media_type(request)
    if mt not in NDJSON_TYPES:
        hint = (
            " (curl -d sends that and drops the newlines: use --data-binary @file.ndjson "
            "-H 'Content-Type: application/x-ndjson')"
            if mt == "application/x-www-form-urlencoded"
            else ""
        )
        raise UnsupportedMediaType(f"send the bulk body as application/x-ndjson (got {mt!r}){hint}")
    limit = svc.settings.max_bulk_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"the bulk body is {declared} bytes; the limit is {limit}: nothing was stored; "
            "split it into several requests"
        )
    out = bytearray()
    numbers: list[int] = []
    raws: list[bytes] = []

    def run_chunk() -> bytes:
        # Parsing, planning and rendering happen with the cyclic GC off: the chunk's objects
        # die by reference counting, and only the rendered status lines outlive it, so no
        # collection has to walk hundreds of thousands of short-lived dicts afterwards.
        with gc_paused():
            lines = [_parse(raw) for raw in raws]
            outcomes = svc.catalog.bulk_upsert(lines, ctx, dry_run=dry_run)
            rendered = b"".join(
                orjson.dumps(_status_line(number, o), option=orjson.OPT_APPEND_NEWLINE)
                for number, o in zip(numbers, outcomes, strict=True)
            )
            del lines, outcomes  # freed before the collector is back on
        return rendered

    async def flush() -> None:
        out.extend(await run_in_threadpool(run_chunk))
        numbers.clear()
        raws.clear()

    try:
        async for number, raw in ndjson_lines(request, limit):
            numbers.append(number)
            raws.append(raw)
            if len(raws) >= CHUNK:
                await flush()
    except PayloadTooLarge:
        # A streamed body (no Content-Length) that grows past the limit: the chunks written
        # so far stay written, so the answer says which lines they were and how each went.
        return _too_large(limit, [orjson.loads(line) for line in bytes(out).splitlines()])
    if raws:
        await flush()
    return Response(bytes(out), media_type="application/x-ndjson")


def _too_large(limit: int, done: list[dict[str, Any]]) -> Response:
    if done:
        detail = (
            f"the bulk body grew past the limit of {limit} bytes: lines 1 to "
            f"{done[-1]['line']} were processed before that (each line's status is in "
            "`lines`), the rest was not read: send the lines after it in another request"
        )
    else:
        detail = f"the bulk body grew past the limit of {limit} bytes: nothing was stored"
    body = problem_body(413, PayloadTooLarge.title, detail)
    body["lines"] = done
    return Response(orjson.dumps(body), status_code=413, media_type="application/problem+json")
