"""Lineage over HTTP: the graph around an asset, impact, paths, and edges asserted by hand."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lodestar.api.bodies import read_json
from lodestar.api.deps import Reader, Services, Writer
from lodestar.api.openapi import BODY, READ, WRITE, answers, json_ok
from lodestar.api.routers.assets import After, json_response
from lodestar.api.routers.observations import _array_body, _counts, _validated
from lodestar.catalog import Key, NotFound
from lodestar.catalog.edges import LINEAGE, EdgeIn
from lodestar.lineage import edges as lineage_edges
from lodestar.lineage.service import MAX_LIMIT, MAX_PATHS, Lineage, Options, parse_end
from lodestar.model.registry import find_kind

router = APIRouter(prefix="/api/v1/lineage", tags=["lineage"], default_response_class=Response)

_STR = {"type": "string"}
_OBJ: dict[str, Any] = {"type": "object"}
_PAIRS = {
    "type": "array",
    "description": "Column pairs [upstream column, downstream column].",
    "items": {"type": "array", "items": _STR, "minItems": 2, "maxItems": 2},
}
_NODE = {
    "type": "object",
    "required": ["id", "kind", "fqn", "name", "distance"],
    "properties": {
        "id": _STR,
        "kind": _STR,
        "fqn": _STR,
        "name": _STR,
        "distance": {"type": "integer", "description": "Hops from the root (0 for the root)."},
        "direction": {"type": "string", "description": "With direction=both: the walk's side."},
        "deleted": {"type": "boolean", "description": "With include=all."},
        "owners": {"type": "array", "items": _OBJ, "description": "Impact: the owners."},
        "columns": {"type": "array", "items": _OBJ, "description": "Impact of a column."},
    },
}
_EDGE_OUT = {
    "type": "object",
    "required": ["from", "to", "provenance"],
    "properties": {
        "from": {"type": "string", "description": "Upstream asset id."},
        "to": {"type": "string", "description": "Downstream asset id."},
        "columns": _PAIRS,
        "provenance": {
            "type": "array",
            "description": "Each source's assertion: source, via, first_seen, last_seen, and "
            "its props (query, pipeline, run, transformation, ...).",
            "items": _OBJ,
        },
    },
}
_PAGING = {
    "type": "object",
    "required": ["after", "limit"],
    "properties": {"after": {"type": ["string", "null"]}, "limit": {"type": "integer"}},
}
_GRAPH = {
    "type": "object",
    "required": ["root", "nodes", "edges", "paging"],
    "properties": {
        "root": _OBJ,
        "direction": _STR,
        "depth": {"type": ["integer", "null"]},
        "nodes": {"type": "array", "items": _NODE},
        "edges": {"type": "array", "items": _EDGE_OUT},
        "paging": _PAGING,
    },
}
_IMPACT = {
    "type": "object",
    "required": ["root", "nodes", "paging"],
    "properties": {
        "root": _OBJ,
        "nodes": {"type": "array", "items": _NODE},
        "paging": _PAGING,
    },
}
_PATHS = {
    "type": "object",
    "required": ["from", "to", "paths", "nodes", "edges", "complete"],
    "properties": {
        "from": _OBJ,
        "to": _OBJ,
        "paths": {"type": "array", "items": {"type": "array", "items": _STR}},
        "nodes": {"type": "array", "items": _NODE},
        "edges": {"type": "array", "items": _EDGE_OUT},
        "complete": {"type": "boolean", "description": "False when `limit` cut the paths."},
    },
}
_END = {
    "type": "object",
    "required": ["kind", "fqn"],
    "properties": {"kind": _STR, "fqn": _STR},
    "additionalProperties": False,
}
_EDGE_IN = {
    "type": "object",
    "description": "Lineage from the upstream asset `from` to the downstream asset `to`.",
    "required": ["from", "to"],
    "properties": {
        "from": _END,
        "to": _END,
        "columns": _PAIRS,
        "transformation": _STR,
        "query": _STR,
        "pipeline": _STR,
        "run": _STR,
        "via": _STR,
        "props": {
            "type": ["object", "null"],
            "description": "Any other props of the edge; the named fields above win over "
            "the same keys here.",
        },
    },
    "additionalProperties": False,
}
_REMOVED = _counts("removed")

Direction = Annotated[
    Literal["upstream", "downstream", "both"], Query(description="Which way to walk.")
]
Include = Annotated[
    Literal["non-deleted", "all"],
    Query(description="`all` walks through soft-deleted assets too."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Nodes per page.")]


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    fqn: str


class LineageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: EndIn = Field(alias="from")
    to: EndIn
    columns: list[tuple[str, str]] | None = Field(None, max_length=10_000)
    transformation: str | None = Field(None, max_length=10_000)
    query: str | None = Field(None, max_length=256)
    pipeline: str | None = Field(None, max_length=2048)
    run: str | None = Field(None, max_length=256)
    via: str = Field("", max_length=512)
    props: dict[str, Any] | None = None

    def edge(self) -> EdgeIn:
        props: dict[str, Any] = dict(self.props or {})
        if self.columns is not None:
            props["columns"] = [list(p) for p in self.columns]
        for name in ("transformation", "query", "pipeline", "run"):
            value = getattr(self, name)
            if value is not None:
                props[name] = value
        return EdgeIn(
            self.from_.kind,
            self.from_.fqn,
            self.to.kind,
            self.to.fqn,
            LINEAGE,
            self.via,
            props or None,
        )


def _kind(plural: str) -> str:
    spec = find_kind(plural)
    if spec is None:
        raise NotFound(f"no collection {plural!r}: GET /api/v1/kinds lists them")
    return spec.name


@router.post(
    "/edges",
    summary="Record lineage edges (upstream -> downstream), with column pairs",
    responses=answers(json_ok(_counts("added", "refreshed"), "Recorded"), *BODY),
    openapi_extra=_array_body(_EDGE_IN),
)
async def post_edges(request: Request, svc: Services, ctx: Writer) -> Response:
    """Admins, stewards and bots record any edge; an editor records edges into assets they
    own. Each edge is kept per source (the caller's origin: `person:<name>` for people), with
    first and last seen; sending it again refreshes it and replaces its column pairs."""
    items: list[LineageIn] = _validated(
        LineageIn, await read_json(request, svc.settings.max_body_bytes)
    )
    result = await run_in_threadpool(
        lineage_edges.add_lineage, svc.catalog, [i.edge() for i in items], ctx
    )
    return json_response(
        {"added": result.added, "refreshed": result.refreshed, "problems": result.problems}
    )


@router.delete(
    "/edges",
    summary="Retract a lineage edge",
    responses=answers(json_ok(_REMOVED, "Retracted"), *WRITE, 404),
)
def delete_edge(
    svc: Services,
    ctx: Writer,
    from_: Annotated[str, Query(alias="from", description="Upstream `<kind>:<fqn>`.")],
    to: Annotated[str, Query(description="Downstream `<kind>:<fqn>`.")],
    via: Annotated[str, Query(max_length=512)] = "",
    source: Annotated[
        str | None,
        Query(
            max_length=300,
            description="Whose assertion (default: the caller's own, `person:<name>` for a "
            "person). A person may retract any source's edge into an asset they may edit.",
        ),
    ] = None,
) -> Response:
    (fk, ff), (tk, tf) = parse_end(from_, "from"), parse_end(to, "to")
    item = EdgeIn(fk, ff, tk, tf, LINEAGE, via)
    result = lineage_edges.retract(svc.catalog, item, ctx, source=source)
    if not result.removed:
        raise NotFound(f"no lineage edge {ff} -> {tf} from that source and via")
    return json_response({"removed": result.removed, "problems": result.problems})


@router.get(
    "/paths",
    summary="The lineage paths from an upstream asset down to another",
    responses=answers(json_ok(_PATHS, "Paths, shortest first"), *READ, 404),
)
def get_paths(
    svc: Services,
    _: Reader,
    from_: Annotated[str, Query(alias="from", description="Upstream `<kind>:<fqn>`.")],
    to: Annotated[str, Query(description="Downstream `<kind>:<fqn>`.")],
    depth: Annotated[int | None, Query(ge=0, description="Most hops of a path.")] = 10,
    limit: Annotated[int, Query(ge=1, le=MAX_PATHS, description="Most paths.")] = 100,
    columns: Annotated[bool, Query(description="Column pairs on the edges.")] = False,
) -> Response:
    start, end = parse_end(from_, "from"), parse_end(to, "to")
    return json_response(
        Lineage(svc.catalog).paths(start, end, depth=depth, limit=limit, columns=columns)
    )


def _impact(
    svc: Services,
    plural: str,
    key: Key,
    column: str | None,
    depth: int | None,
    limit: int,
    after: str | None,
) -> Response:
    answer = Lineage(svc.catalog).impact(
        _kind(plural), key, column=column, depth=depth, limit=limit, after=after
    )
    return json_response(answer)


_IMPACT_OK = answers(json_ok(_IMPACT, "What is downstream, nearest first"), *READ, 404)
Column = Annotated[
    str | None, Query(max_length=256, description="Only what derives from this column.")
]
ImpactDepth = Annotated[int | None, Query(ge=0, description="Hops; none: all the way.")]


@router.get(
    "/impact/{plural}/name/{fqn:path}",
    summary="Impact: everything downstream of an asset or one of its columns",
    responses=_IMPACT_OK,
)
def impact_by_name(
    svc: Services,
    _: Reader,
    plural: Annotated[str, Path()],
    fqn: Annotated[str, Path()],
    column: Column = None,
    depth: ImpactDepth = None,
    limit: Limit = 500,
    after: After = None,
) -> Response:
    return _impact(svc, plural, Key(fqn=fqn), column, depth, limit, after)


@router.get(
    "/impact/{plural}/{id}",
    summary="Impact: everything downstream of an asset (by id) or one of its columns",
    responses=_IMPACT_OK,
)
def impact_by_id(
    svc: Services,
    _: Reader,
    plural: Annotated[str, Path()],
    id: Annotated[str, Path(max_length=64)],
    column: Column = None,
    depth: ImpactDepth = None,
    limit: Limit = 500,
    after: After = None,
) -> Response:
    return _impact(svc, plural, Key(id=id), column, depth, limit, after)


def _graph(
    svc: Services,
    plural: str,
    key: Key,
    direction: str,
    depth: int | None,
    columns: bool,
    limit: int,
    after: str | None,
    include: str,
) -> Response:
    opts = Options(
        direction=direction,  # type: ignore[arg-type]
        depth=depth,
        limit=limit,
        after=after,
        columns=columns,
        with_deleted=include == "all",
    )
    return json_response(Lineage(svc.catalog).graph(_kind(plural), key, opts))


_GRAPH_OK = answers(json_ok(_GRAPH, "A page of the lineage graph"), *READ, 404)
GraphDepth = Annotated[int | None, Query(ge=0, description="Hops from the asset.")]
Columns = Annotated[bool, Query(description="Column pairs on the edges.")]


@router.get(
    "/{plural}/name/{fqn:path}",
    summary="The lineage graph around an asset",
    responses=_GRAPH_OK,
)
def graph_by_name(
    svc: Services,
    _: Reader,
    plural: Annotated[str, Path()],
    fqn: Annotated[str, Path()],
    direction: Direction = "downstream",
    depth: GraphDepth = 3,
    columns: Columns = False,
    limit: Limit = 500,
    after: After = None,
    include: Include = "non-deleted",
) -> Response:
    return _graph(svc, plural, Key(fqn=fqn), direction, depth, columns, limit, after, include)


@router.get(
    "/{plural}/{id}",
    summary="The lineage graph around an asset (by id)",
    responses=_GRAPH_OK,
)
def graph_by_id(
    svc: Services,
    _: Reader,
    plural: Annotated[str, Path()],
    id: Annotated[str, Path(max_length=64)],
    direction: Direction = "downstream",
    depth: GraphDepth = 3,
    columns: Columns = False,
    limit: Limit = 500,
    after: After = None,
    include: Include = "non-deleted",
) -> Response:
    return _graph(svc, plural, Key(id=id), direction, depth, columns, limit, after, include)
