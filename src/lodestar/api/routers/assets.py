"""The same routes for every asset kind: list, get, create, upsert, patch, delete, restore,
versions. Built from the kind registry, so a new kind gets its API by being registered."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.bodies import media_type, read_json
from lodestar.api.deps import Reader, Services, Writer
from lodestar.api.openapi import (
    BODY,
    ETAG_HEADER,
    READ,
    WRITE,
    answers,
    json_ok,
    page_name,
    read_name,
    ref,
)
from lodestar.catalog import InvalidInput, Key, Outcome
from lodestar.model.records import iso_to_us
from lodestar.model.registry import KindSpec

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
After = Annotated[str | None, Query(description="Opaque cursor from `paging.after`.")]
IncludeQ = Annotated[Literal["non-deleted", "deleted", "all"], Query()]
Fields = Annotated[
    str | None, Query(description="Comma-separated expansions: children, relations, provenance.")
]
AsOf = Annotated[
    str | None, Query(description="ISO 8601 time or epoch milliseconds: read the past.")
]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read.")]
AssetId = Annotated[str, Path(description="The asset's UUID.")]
FQNPath = Annotated[str, Path(description="The asset's fully qualified name.")]
Hard = Annotated[bool, Query(description="Erase the asset and its history for good.")]
Recursive = Annotated[bool, Query(description="Also delete or restore what it contains.")]

PATCH_TYPES = {
    "application/merge-patch+json": False,
    "application/json-patch+json": True,
}
_EXPANSIONS = {"children", "relations", "provenance"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _as_of(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return iso_to_us(value)
    except ValueError:
        raise InvalidInput(
            f"as_of {value!r} is not a time: use ISO 8601 (2026-01-31T12:00:00Z) or epoch ms"
        ) from None


def _fields(value: str | None) -> set[str]:
    if not value:
        return set()
    wanted = {f.strip() for f in value.split(",") if f.strip()}
    unknown = wanted - _EXPANSIONS
    if unknown:
        raise InvalidInput(f"unknown fields {sorted(unknown)}: choose from {sorted(_EXPANSIONS)}")
    return wanted


def _written(outcome: Outcome) -> Response:
    assert outcome.asset is not None
    status = 201 if outcome.status == "created" else 200
    return json_response(
        p.asset_json(outcome.asset, with_change=outcome.status != "unchanged"),
        status,
        {"ETag": p.etag(outcome.asset.version), "X-Lodestar-Change": str(outcome.status)},
    )


def _body_schema(kind: KindSpec) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{kind.model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def _patch_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/json-patch+json": {
                    "schema": {"type": "array", "items": {"type": "object"}}
                },
            },
        }
    }


def kind_router(kind: KindSpec) -> APIRouter:
    r = APIRouter(
        prefix=f"/api/v1/{kind.plural}", tags=[kind.plural], default_response_class=Response
    )
    name = kind.name
    one = ref(read_name(kind))
    got = json_ok(one, f"The {name}", 200)
    written = {
        **json_ok(one, "Updated (or unchanged: X-Lodestar-Change says which)", 200),
        **json_ok(one, "Created", 201),
    }

    def present(svc: Services, asset: Any, fields: set[str]) -> dict[str, Any]:
        out = p.asset_json(asset)
        if "children" in fields:
            out["children"] = [
                {"id": c.id, "kind": c.kind, "fqn": c.fqn} for c in svc.catalog.children(asset)
            ]
        if "relations" in fields:
            out["relations"] = svc.catalog.relations(asset)
        if "provenance" in fields:
            out["provenance"] = asset.provenance
        return out

    @r.get(
        "",
        summary=f"List {kind.plural}",
        responses=answers(json_ok(ref(page_name(kind)), "A page of them"), *READ),
    )
    def list_assets(
        svc: Services,
        _: Reader,
        limit: Limit = 100,
        after: After = None,
        include: IncludeQ = "non-deleted",
        fields: Fields = None,
        as_of: AsOf = None,
        parent: Annotated[str | None, Query(description="Only children of this FQN.")] = None,
        tag: Annotated[str | None, Query(description="Only assets with this tag FQN.")] = None,
        owner: Annotated[str | None, Query(description="user:<name> or team:<name>.")] = None,
    ) -> Response:
        wanted = _fields(fields)
        page = svc.catalog.list_page(
            name,
            limit=limit,
            after=p.decode_cursor(after),
            include=include,
            parent=parent,
            tag=tag,
            owner=owner,
            as_of=_as_of(as_of),
        )
        return json_response(
            {
                "data": [present(svc, a, wanted) for a in page.items],
                "paging": {"after": p.encode_cursor(page.after), "total": page.total},
            }
        )

    async def read_one(svc: Services, key: Key, fields: str | None, as_of: str | None) -> Response:
        wanted, when = _fields(fields), _as_of(as_of)

        # On the event loop: one indexed SELECT costs less than the hop to a worker thread
        # and back (a quarter of a GET's CPU by py-spy), on SQLite and on PostgreSQL alike
        # (bench/read_latency_wrk.py measured both ways).
        asset = svc.catalog.get(name, key, as_of=when)
        body = present(svc, asset, wanted)
        return json_response(body, headers={"ETag": p.etag(asset.version)})

    @r.get(
        "/name/{fqn:path}",
        summary=f"Get a {name} by FQN",
        responses=answers(got, *READ, 404, headers=ETAG_HEADER),
    )
    async def get_by_name(
        svc: Services, _: Reader, fqn: FQNPath, fields: Fields = None, as_of: AsOf = None
    ) -> Response:
        return await read_one(svc, Key(fqn=fqn), fields, as_of)

    @r.get(
        "/{id}",
        summary=f"Get a {name} by id",
        responses=answers(got, *READ, 404, headers=ETAG_HEADER),
    )
    async def get_by_id(
        svc: Services, _: Reader, id: AssetId, fields: Fields = None, as_of: AsOf = None
    ) -> Response:
        return await read_one(svc, Key(id=id), fields, as_of)

    @r.post(
        "",
        summary=f"Create a {name} (409 if it exists)",
        openapi_extra=_body_schema(kind),
        status_code=201,
        responses=answers(json_ok(one, "Created", 201), *BODY, 409, headers=ETAG_HEADER),
    )
    async def create(request: Request, svc: Services, ctx: Writer) -> Response:
        body = await read_json(request, svc.settings.max_body_bytes)
        return _written(await run_in_threadpool(svc.catalog.create, name, body, ctx))

    @r.put(
        "",
        summary=f"Create or update a {name} by FQN (idempotent)",
        openapi_extra=_body_schema(kind),
        responses=answers(written, *BODY, 409, 412, headers=ETAG_HEADER),
    )
    async def upsert(
        request: Request, svc: Services, ctx: Writer, if_match: IfMatch = None
    ) -> Response:
        body = await read_json(request, svc.settings.max_body_bytes)
        version = p.parse_if_match(if_match)
        outcome = await run_in_threadpool(
            lambda: svc.catalog.upsert(name, body, ctx, if_match=version)
        )
        return _written(outcome)

    patched = answers(json_ok(one, "Patched"), *BODY, 404, 409, 412, headers=ETAG_HEADER)

    async def _patch(
        request: Request, svc: Services, ctx: Writer, key: Key, if_match: str | None
    ) -> Response:
        mt = media_type(request)
        allowed = (*PATCH_TYPES, "application/json")
        body = await read_json(request, svc.settings.max_body_bytes, allowed=allowed)
        is_json_patch = PATCH_TYPES.get(mt, isinstance(body, list))
        version = p.parse_if_match(if_match)
        outcome = await run_in_threadpool(
            lambda: svc.catalog.patch(
                name, key, body, ctx, json_patch=is_json_patch, if_match=version
            )
        )
        return _written(outcome)

    @r.patch(
        "/name/{fqn:path}",
        summary=f"Patch a {name} by FQN",
        openapi_extra=_patch_schema(),
        responses=patched,
    )
    async def patch_by_name(
        request: Request, svc: Services, ctx: Writer, fqn: FQNPath, if_match: IfMatch = None
    ) -> Response:
        return await _patch(request, svc, ctx, Key(fqn=fqn), if_match)

    @r.patch(
        "/{id}",
        summary=f"Patch a {name} by id",
        openapi_extra=_patch_schema(),
        responses=patched,
    )
    async def patch_by_id(
        request: Request, svc: Services, ctx: Writer, id: AssetId, if_match: IfMatch = None
    ) -> Response:
        return await _patch(request, svc, ctx, Key(id=id), if_match)

    deleted = answers(
        {
            **json_ok(one, "Soft-deleted: the asset as it is now"),
            204: {"description": "Erased (hard=true)"},
        },
        *WRITE,
        404,
        409,
        412,
        headers=ETAG_HEADER,
    )

    def _delete(
        svc: Services, ctx: Writer, key: Key, hard: bool, recursive: bool, if_match: str | None
    ) -> Response:
        asset = svc.catalog.delete(
            name, key, ctx, hard=hard, recursive=recursive, if_match=p.parse_if_match(if_match)
        )
        if hard:
            return Response(status_code=204)
        return json_response(
            p.asset_json(asset, with_change=True), headers={"ETag": p.etag(asset.version)}
        )

    @r.delete(
        "/name/{fqn:path}",
        summary=f"Delete a {name} by FQN (soft unless hard=true)",
        responses=deleted,
    )
    def delete_by_name(
        svc: Services,
        ctx: Writer,
        fqn: FQNPath,
        hard: Hard = False,
        recursive: Recursive = False,
        if_match: IfMatch = None,
    ) -> Response:
        return _delete(svc, ctx, Key(fqn=fqn), hard, recursive, if_match)

    @r.delete(
        "/{id}",
        summary=f"Delete a {name} by id (soft unless hard=true)",
        responses=deleted,
    )
    def delete_by_id(
        svc: Services,
        ctx: Writer,
        id: AssetId,
        hard: Hard = False,
        recursive: Recursive = False,
        if_match: IfMatch = None,
    ) -> Response:
        return _delete(svc, ctx, Key(id=id), hard, recursive, if_match)

    @r.post(
        "/{id}/restore",
        summary=f"Restore a soft-deleted {name} (and what it contained)",
        responses=answers(json_ok(one, "Restored"), *WRITE, 404, 409, 412, headers=ETAG_HEADER),
    )
    def restore(
        svc: Services,
        ctx: Writer,
        id: AssetId,
        recursive: Recursive = True,
        if_match: IfMatch = None,
    ) -> Response:
        asset = svc.catalog.restore(
            name, Key(id=id), ctx, recursive=recursive, if_match=p.parse_if_match(if_match)
        )
        return json_response(
            p.asset_json(asset, with_change=True), headers={"ETag": p.etag(asset.version)}
        )

    @r.get(
        "/{id}/versions",
        summary=f"List the versions of a {name}",
        responses=answers(json_ok(ref("VersionPage"), "Every version, oldest first"), *READ, 404),
    )
    def versions(svc: Services, _: Reader, id: AssetId) -> Response:
        recs = svc.catalog.versions(name, Key(id=id))
        return json_response(
            {
                "data": [p.version_json(v) for v in recs],
                "paging": {"after": None, "total": len(recs)},
            }
        )

    @r.get(
        "/{id}/versions/{version}",
        summary=f"Get one version of a {name}",
        responses=answers(json_ok(ref("Version"), "That version"), *READ, 404),
    )
    def version(
        svc: Services, _: Reader, id: AssetId, version: Annotated[int, Path(ge=1, le=2**31 - 1)]
    ) -> Response:
        return json_response(p.version_json(svc.catalog.version(name, Key(id=id), version)))

    return r
