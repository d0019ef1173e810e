"""GET /api/v1/search and /api/v1/search/suggest: thin over `lodestar.search`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.deps import Reader, Services
from lodestar.api.openapi import READ, answers, json_ok
from lodestar.api.routers.assets import json_response
from lodestar.catalog import BadRequest
from lodestar.search import Boosts, SearchService, make_query
from lodestar.search.models import FILTERS, MAX_QUERY_CHARS, SearchResult

router = APIRouter(prefix="/api/v1", tags=["search"], default_response_class=Response)

PARAMS = frozenset({*FILTERS, "q", "deleted", "sort", "limit", "after"})
HIT = {
    "type": "object",
    "required": ["id", "kind", "fqn", "name", "score", "highlights", "matched_columns"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string"},
        "fqn": {"type": "string"},
        "name": {"type": "string"},
        "display_name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "score": {"type": "number"},
        "highlights": {"type": "object", "additionalProperties": {"type": "string"}},
        "matched_columns": {"type": "array", "items": {"type": "string"}},
    },
}
PAGE = {
    "type": "object",
    "required": ["data", "paging", "facets"],
    "properties": {
        "data": {"type": "array", "items": HIT},
        "paging": {
            "type": "object",
            "properties": {"after": {"type": ["string", "null"]}, "total": {"type": "integer"}},
        },
        "facets": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
            },
        },
    },
}
SUGGESTIONS = {
    "type": "object",
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    k: {"type": "string"} for k in ("id", "kind", "fqn", "name", "display_name")
                },
            },
        }
    },
}
Words = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS,
        description="Words, a name, an FQN or a fragment of one (`sales.fct_ord`); typos are "
        "forgiven.",
    ),
]
Many = Annotated[list[str] | None, Query()]


def service(svc: Any) -> SearchService:
    return SearchService(svc.catalog.store, Boosts.from_settings(svc.settings.search_boosts))


def _offset(after: str | None) -> int:
    raw = p.decode_cursor(after)
    if raw is None:
        return 0
    if not raw.startswith("o:") or not raw[2:].isdigit() or len(raw) > 12:
        raise BadRequest("the 'after' cursor is not one this server handed out")
    return int(raw[2:])


def hit_json(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "id": h.asset.id,
            "kind": h.asset.kind,
            "fqn": h.asset.fqn,
            "name": h.asset.name,
            "display_name": h.asset.doc.get("display_name"),
            "description": h.asset.doc.get("description"),
            "score": h.score,
            "highlights": h.highlights,
            "matched_columns": h.matched_columns,
        }
        for h in result.hits
    ]


@router.get(
    "/search",
    summary="Search every asset kind: words, names, FQN fragments, columns, tags, owners",
    responses=answers(json_ok(PAGE, "The best matches first, with facet counts"), *READ),
)
def search(
    request: Request,
    svc: Services,
    _: Reader,
    q: Words,
    kind: Many = None,
    service_: Annotated[list[str] | None, Query(alias="service")] = None,
    database: Many = None,
    schema: Many = None,
    owner: Many = None,
    tag: Many = None,
    glossary_term: Many = None,
    domain: Many = None,
    deleted: Annotated[bool, Query(description="Include soft-deleted assets.")] = False,
    sort: Annotated[str, Query(description="relevance, name, updated or popularity")] = (
        "relevance"
    ),
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    unknown = sorted(set(request.query_params) - PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown parameter {unknown[0]!r}: filter with {', '.join(FILTERS)} or deleted"
        )
    filters = {
        "kind": kind or [],
        "service": service_ or [],
        "database": database or [],
        "schema": schema or [],
        "owner": owner or [],
        "tag": tag or [],
        "glossary_term": glossary_term or [],
        "domain": domain or [],
    }
    query = make_query(q, filters, deleted=deleted, sort=sort, limit=limit, offset=_offset(after))
    result = service(svc).search(query)
    return json_response(
        {
            "data": hit_json(result),
            "paging": {
                "after": p.encode_cursor(f"o:{result.after}") if result.after else None,
                "total": result.total,
            },
            "facets": result.facets,
        }
    )


@router.get(
    "/search/suggest",
    summary="Autocomplete over names and FQNs, as you type",
    responses=answers(json_ok(SUGGESTIONS, "Up to `limit` assets"), *READ),
)
def suggest(
    svc: Services,
    _: Reader,
    q: Words,
    limit: Annotated[int, Query(ge=1, le=25)] = 10,
) -> Response:
    found = service(svc).suggest(q, limit)
    return json_response({"data": [s.json() for s in found]})
