"""What the OpenAPI document says each route answers: integrations generate clients from it,
so every status a route can really send is declared, with the body it really has.

Routes answer through plain `Response`s (the lean read path and orjson), so FastAPI cannot
infer their bodies: each route declares them with `responses=` built here, and `document()`
adds the shared components (the RFC 9457 problem, the list envelope, each kind's read
shape). Routes use `response_class=Response` so FastAPI adds no empty `application/json`
body of its own to the success status."""

from __future__ import annotations

from typing import Any

from lodestar.model.common import READ_ONLY_FIELDS
from lodestar.model.registry import KindSpec, all_kinds

REF = "#/components/schemas/"
PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"

_WHY = {
    400: "Bad request: malformed JSON, a bad header, cursor or ETag, or a NUL in the URL",
    401: "No token, or the token is unknown, expired or revoked",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflict with the stored state (exists, deleted, has children, failed patch test)",
    412: "If-Match names a version that is not the current one",
    413: "The body is over the server's limit; nothing was stored",
    415: "Unsupported Content-Type",
    422: "The input is invalid: `errors` lists each field and why",
}

# What every route can answer, by what it depends on: any URL can hold a NUL (400); a
# reader's or writer's token can be missing or wrong (401); a writer's role or declared
# origin can be refused (403, 400); query and path parameters are validated (422); a body
# can be malformed, too large or of another type (400, 413, 415, 422).
READ = (400, 401, 422)
WRITE = (400, 401, 403, 422)
BODY = (*WRITE, 413, 415)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"{REF}{name}"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"description": _WHY[s], "content": {PROBLEM: {"schema": ref("Problem")}}}
        for s in sorted(set(statuses))
    }


def json_ok(schema: dict[str, Any], description: str, status: int = 200) -> dict[int | str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def answers(
    ok: dict[int | str, Any], *errors: int, headers: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its success bodies and the problems it can answer."""
    out: dict[int | str, dict[str, Any]] = {**ok, **problems(*errors)}
    if headers:
        for status in ok:
            if "content" in out[status]:
                out[status] = {**out[status], "headers": headers}
    return out


ETAG_HEADER = {
    "ETag": {"description": "The asset's version, for If-Match.", "schema": {"type": "string"}}
}

_PAGING = {
    "type": "object",
    "required": ["after"],
    "properties": {
        "after": {
            "type": ["string", "null"],
            "description": "Cursor of the next page (pass as `after`); null on the last page.",
        },
        "total": {"type": "integer", "description": "How many items match, over all pages."},
    },
}

_LOOSE_OBJECT: dict[str, Any] = {"type": "object"}

_CHANGE = {
    "type": ["object", "null"],
    "description": "What changed: fields added, updated and deleted, and breaking changes.",
    "properties": {
        "fields_added": {"type": "array", "items": _LOOSE_OBJECT},
        "fields_updated": {"type": "array", "items": _LOOSE_OBJECT},
        "fields_deleted": {"type": "array", "items": _LOOSE_OBJECT},
        "breaking": {"type": "array", "items": _LOOSE_OBJECT},
    },
}

_TIME = {"type": "string", "format": "date-time"}
_STR = {"type": "string"}
_NULLABLE_STR = {"type": ["string", "null"]}

# Read-only fields of an asset, as the server sends them (accepted in a body and ignored).
_READ_ONLY: dict[str, Any] = {
    "id": {"type": "string", "description": "The asset's UUID."},
    "kind": {"type": "string", "description": "The asset kind."},
    "fqn": {"type": "string", "description": "The fully qualified name."},
    "version": {"type": "integer", "minimum": 1, "description": "Bumped by every change."},
    "deleted": {"type": "boolean"},
    "created_at": _TIME,
    "updated_at": _TIME,
    "updated_by": {"type": "string", "description": "Who made the current version."},
    "href": {"type": "string", "description": "The asset's URL path."},
    "change_description": {**_CHANGE, "description": "On writes: what this write changed."},
    "children": {
        "type": "array",
        "description": "With fields=children: what the asset contains.",
        "items": {
            "type": "object",
            "required": ["id", "kind", "fqn"],
            "properties": {"id": _STR, "kind": _STR, "fqn": _STR},
        },
    },
    "relations": {
        "type": "array",
        "description": "With fields=relations: the asset's edges.",
        "items": _LOOSE_OBJECT,
    },
    "provenance": {
        "type": ["object", "null"],
        "description": "With fields=provenance: who set each field, from where, when.",
    },
}
assert set(_READ_ONLY) == READ_ONLY_FIELDS
_ALWAYS = ["id", "kind", "fqn", "version", "deleted", "created_at", "updated_at", "updated_by"]

STATIC: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "A URI naming the kind of problem."},
            "title": _STR,
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What went wrong and how to fix it."},
            "errors": {
                "type": "array",
                "description": "For invalid input: each field in error, and why.",
                "items": {
                    "type": "object",
                    "required": ["loc", "msg"],
                    "properties": {
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "msg": _STR,
                    },
                },
            },
            "lines": {
                "type": "array",
                "description": "Bulk only: the status of each line processed before the limit.",
                "items": ref("BulkStatus"),
            },
        },
    },
    "Paging": _PAGING,
    "Version": {
        "type": "object",
        "required": ["id", "kind", "fqn", "version", "deleted", "updated_at", "updated_by"],
        "properties": {
            "id": _STR,
            "kind": _STR,
            "fqn": _STR,
            "version": {"type": "integer"},
            "deleted": {"type": "boolean"},
            "updated_at": _TIME,
            "updated_by": _STR,
            "origin": _NULLABLE_STR,
            "change_description": _CHANGE,
            "doc": {"type": "object", "description": "The asset's fields at that version."},
        },
    },
    "VersionPage": {
        "type": "object",
        "required": ["data", "paging"],
        "properties": {"data": {"type": "array", "items": ref("Version")}, "paging": ref("Paging")},
    },
    "Event": {
        "type": "object",
        "required": ["seq", "cursor", "ts", "event_type", "kind", "id", "fqn", "version"],
        "properties": {
            "seq": {"type": "integer"},
            "cursor": {"type": "string", "description": "Pass as `after` to read what follows."},
            "ts": _TIME,
            "event_type": _STR,
            "kind": _STR,
            "id": _STR,
            "fqn": _STR,
            "version": {"type": "integer"},
            "actor": _NULLABLE_STR,
            "origin": _NULLABLE_STR,
            "change_description": _CHANGE,
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["data", "paging"],
        "properties": {"data": {"type": "array", "items": ref("Event")}, "paging": ref("Paging")},
    },
    "BulkStatus": {
        "type": "object",
        "description": "One line of the bulk answer, for the input line `line`.",
        "required": ["line", "status", "result"],
        "properties": {
            "line": {"type": "integer"},
            "status": {"type": "integer", "description": "200, 201, or the error's status."},
            "result": {"enum": ["created", "updated", "unchanged", "error"]},
            "id": _STR,
            "kind": _STR,
            "fqn": _STR,
            "version": {"type": "integer"},
            "href": _STR,
            "error": ref("Problem"),
        },
    },
    "BulkLine": {
        "type": "object",
        "description": "One line of a bulk body: an asset's fields and its `kind`.",
        "required": ["kind", "name"],
        "properties": {"kind": _STR, "name": _STR},
    },
}


def read_name(kind: KindSpec) -> str:
    return f"{kind.model.__name__}Read"


def page_name(kind: KindSpec) -> str:
    return f"{kind.model.__name__}Page"


def asset_schemas(kind: KindSpec) -> dict[str, dict[str, Any]]:
    """The kind's body model, its read shape (the body plus the read-only fields) and its
    list page; with the definitions they refer to."""
    body = kind.model.model_json_schema(by_alias=True, ref_template=REF + "{model}")
    out: dict[str, dict[str, Any]] = body.pop("$defs", {})
    out[kind.model.__name__] = body
    read = {k: v for k, v in body.items() if k not in ("properties", "required", "title")}
    read["title"] = read_name(kind)
    read["properties"] = {**body.get("properties", {}), **_READ_ONLY}
    read["required"] = list(dict.fromkeys([*_ALWAYS, *body.get("required", [])]))
    out[read_name(kind)] = read
    out[page_name(kind)] = {
        "type": "object",
        "required": ["data", "paging"],
        "properties": {
            "data": {"type": "array", "items": ref(read_name(kind))},
            "paging": ref("Paging"),
        },
    }
    return out


def components() -> dict[str, dict[str, Any]]:
    out = dict(STATIC)
    for kind in all_kinds():
        out.update(asset_schemas(kind))
    return out
