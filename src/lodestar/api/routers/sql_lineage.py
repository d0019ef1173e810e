"""Lineage from SQL text: POST /api/v1/sql/lineage. Reads only (it writes nothing), so any
reader may call it; the analysis runs in a worker thread, and sqlglot is imported on the
first request so the server starts as fast as before."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from lodestar.api.bodies import read_json
from lodestar.api.deps import Reader, Services
from lodestar.api.openapi import answers, json_ok
from lodestar.api.routers.assets import json_response
from lodestar.catalog import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["lineage"], default_response_class=Response)

# The largest SQL text analysed in one request (characters).
MAX_SQL_CHARS = 1_000_000
_NAME = {"type": ["string", "null"], "maxLength": 256}
_BODY = {
    "type": "object",
    "required": ["sql"],
    "additionalProperties": False,
    "properties": {
        "sql": {"type": "string", "minLength": 1, "maxLength": MAX_SQL_CHARS},
        "dialect": {**_NAME, "description": "postgres, mysql, snowflake, bigquery, spark..."},
        "default_database": {**_NAME, "description": "For names the SQL leaves unqualified."},
        "default_schema": {**_NAME, "description": "For names the SQL leaves unqualified."},
        "service": {
            **_NAME,
            "description": "Catalog service whose tables expand `*` (default: any service).",
        },
    },
}
_PAIR = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
_LINEAGE = {
    "type": "object",
    "required": ["sources", "targets", "columns", "errors"],
    "properties": {
        "sources": {"type": "array", "items": {"type": "string"}},
        "targets": {"type": "array", "items": {"type": "string"}},
        "columns": {"type": "array", "items": _PAIR},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["statement", "message"],
                "properties": {"statement": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
    },
}


class SqlLineageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str = Field(min_length=1, max_length=MAX_SQL_CHARS)
    dialect: str | None = Field(None, max_length=256)
    default_database: str | None = Field(None, max_length=256)
    default_schema: str | None = Field(None, max_length=256)
    service: str | None = Field(None, max_length=256)


def _body(raw: Any) -> SqlLineageIn:
    # sqlglot loads on the first request, not at start-up: it costs ~0.4 s of CPU to import.
    from lodestar.lineage.sql import UnknownDialectError, sqlglot_dialect

    if not isinstance(raw, dict):
        raise InvalidInput('send a JSON object: {"sql": "...", "dialect": "postgres"}')
    try:
        body = SqlLineageIn.model_validate(raw)
    except ValidationError as e:
        errs = [{"loc": list(x["loc"]), "msg": x["msg"]} for x in e.errors()]
        where = ".".join(map(str, errs[0]["loc"]))
        raise InvalidInput(f"{where}: {errs[0]['msg']}", errors=errs) from None
    try:
        sqlglot_dialect(body.dialect)
    except UnknownDialectError as e:
        raise InvalidInput(str(e), errors=[{"loc": ["dialect"], "msg": str(e)}]) from None
    return body


@router.post(
    "/sql/lineage",
    summary="Tables and columns read and written by a SQL text",
    responses=answers(json_ok(_LINEAGE, "The lineage of the whole text"), 400, 401, 413, 415, 422),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY}}},
        "x-lodestar-reads-only": True,
    },
)
async def sql_lineage(request: Request, svc: Services, _: Reader) -> Response:
    """Statements that cannot be read are listed in `errors` (1-based statement number) and
    the rest is still analysed; `*` expands from the catalog's column lists."""
    from lodestar.lineage.sql.known_columns import analyze_with_catalog

    body = _body(await read_json(request, svc.settings.max_body_bytes))
    result = await run_in_threadpool(
        analyze_with_catalog,
        svc.catalog,
        body.sql,
        dialect=body.dialect,
        default_database=body.default_database,
        default_schema=body.default_schema,
        service=body.service,
    )
    return json_response(result.as_dict())
