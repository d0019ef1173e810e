"""The read pages: home, an asset with its tabs, and the lists (glossaries, domains, people,
ingestion pipelines, any kind)."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from lodestar.catalog import InvalidInput, Key, NotFound
from lodestar.model.registry import all_kinds, find_kind
from lodestar.ui import reads
from lodestar.ui.extensions import tabs_for
from lodestar.ui.render import asset_url
from lodestar.ui.web import Ctx

PAGE_SIZE = 50
# Inbound relations an asset page lists, by the kind of the page's asset.
INBOUND = {
    "owned_by": "Owns",
    "tagged_with": "Tagged with this",
    "has_term": "Described by this term",
    "in_domain": "In this domain",
}
# Fields the overview shows in their own sections, or not at all (a pipeline's recipe may name
# where its secrets come from; the API serves it to those who need it).
OWN_SECTIONS = frozenset(
    {
        "name",
        "display_name",
        "description",
        "owners",
        "tags",
        "glossary_terms",
        "domain",
        "links",
        "source_code",
        "custom_properties",
        "columns",
        "constraints",
        "sample_data",
        "view_sql",
        "recipe",
        "schema",
        "database",
        "service",
        "glossary",
        "parent",
    }
)
RUN_LIMIT = 20


def home(ctx: Ctx) -> Response:
    q = ctx.param("q").strip()[:512]
    hits, how = reads.search(ctx.catalog, q) if q else ([], "")
    mine = []
    if ctx.principal.user_fqn:
        mine = reads.owned_by(ctx.catalog, f"user:{ctx.principal.user_fqn}", limit=25)
    return ctx.html(
        "home.html",
        q=q,
        hits=hits,
        how=how,
        recent=reads.recent_changes(ctx.catalog),
        mine=mine,
    )


def _tabs(ctx: Ctx, asset: Any) -> list[tuple[str, str]]:
    doc = asset.doc
    tabs = [("overview", "Overview")]
    if "columns" in doc:
        tabs.append(("schema", f"Schema ({len(doc['columns'])})"))
    if doc.get("sample_data"):
        tabs.append(("sample", "Sample data"))
    if asset.kind == "ingestion_pipeline":
        tabs.append(("runs", "Runs"))
    if asset.kind in ("user", "team", "tag", "glossary_term", "domain"):
        tabs.append(("assets", "Assets"))
    tabs.extend((t.name, t.label) for t in tabs_for(asset))
    tabs.append(("versions", f"Versions ({asset.version})"))
    return tabs


def asset_page(ctx: Ctx) -> Response:
    kind = ctx.request.path_params["kind"]
    fqn = ctx.request.path_params["fqn"]
    spec = find_kind(kind)
    if spec is None:
        raise NotFound(f"no kind of asset named {kind!r}")
    if spec.name != kind:
        return RedirectResponse(asset_url(spec.name, fqn), status_code=301)
    asset = reads.asset_by_fqn(ctx.catalog, spec.name, fqn)
    tabs = _tabs(ctx, asset)
    tab = ctx.param("tab", "overview")
    if tab not in {t for t, _ in tabs}:
        raise NotFound(f"this {kind.replace('_', ' ')} has no {tab!r} tab")
    context: dict[str, Any] = {"asset": asset, "tabs": tabs, "tab": tab, "doc": asset.doc}
    if tab == "overview":
        context["details"] = {
            k: v for k, v in asset.doc.items() if k not in OWN_SECTIONS and v not in (None, [], {})
        }
        context["parent"] = _parent(asset)
        if asset.kind in ("service", "database", "schema", "glossary", "classification"):
            context["children"] = ctx.catalog.children(asset)[:200]
    elif tab == "schema":
        context["keys"] = reads.keys_of(asset)
    elif tab == "sample":
        context["sample"] = reads.sample(asset)
    elif tab == "runs":
        from lodestar.ingest.service import pipeline_runs

        context["runs"] = pipeline_runs(ctx.catalog, asset.id, RUN_LIMIT)
    elif tab == "assets":
        groups: dict[str, list[dict[str, Any]]] = {}
        for edge in ctx.catalog.relations(asset):
            if edge["direction"] == "in" and edge["relation"] in INBOUND:
                groups.setdefault(INBOUND[edge["relation"]], []).append(edge)
        context["groups"] = groups
    elif tab == "versions":
        context.update(_versions(ctx, asset))
    else:
        ext = next(t for t in tabs_for(asset) if t.name == tab)
        context["extension"] = ext.render(ctx.catalog, asset, dict(ctx.request.query_params))
    return ctx.html("asset.html", **context)


def _parent(asset: Any) -> tuple[str, str] | None:
    spec = find_kind(asset.kind)
    if spec is None:
        return None
    for pf in spec.parents:
        value = asset.doc.get(pf.field)
        if isinstance(value, str):
            return pf.kind, value
    return None


def _versions(ctx: Ctx, asset: Any) -> dict[str, Any]:
    versions = ctx.catalog.versions(asset.kind, Key(id=asset.id))
    out: dict[str, Any] = {"versions": sorted(versions, key=lambda v: -v.version)}
    a, b = ctx.param("from"), ctx.param("to")
    if a or b:
        try:
            old, new = int(a or max(1, asset.version - 1)), int(b or asset.version)
        except ValueError:
            raise InvalidInput("from and to are version numbers, such as 1 and 3") from None
        if old > new:
            old, new = new, old
        va, vb, change = reads.version_diff(ctx.catalog, asset, old, new)
        out.update(diff_from=va, diff_to=vb, diff=change)
    return out


def kind_list(ctx: Ctx) -> Response:
    kind = ctx.request.path_params["kind"]
    spec = find_kind(kind)
    if spec is None:
        raise NotFound(f"no kind of asset named {kind!r}")
    after = ctx.param("after") or None
    page = ctx.catalog.list_page(spec.name, limit=PAGE_SIZE, after=after)
    return ctx.html(
        "list.html",
        spec=spec,
        kinds=all_kinds(),
        page=page,
        title=spec.plural.replace("-", " ").capitalize(),
    )


def glossary(ctx: Ctx) -> Response:
    glossaries = ctx.catalog.list_page("glossary", limit=200).items
    terms: dict[str, list[Any]] = {}
    for t in ctx.catalog.list_page("glossary_term", limit=1000).items:
        terms.setdefault(t.doc.get("glossary", ""), []).append(t)
    return ctx.html("glossary.html", glossaries=glossaries, terms=terms)


def domains(ctx: Ctx) -> Response:
    items = ctx.catalog.list_page("domain", limit=500).items
    return ctx.html("domains.html", domains=items)


def people(ctx: Ctx) -> Response:
    teams = ctx.catalog.list_page("team", limit=500).items
    users = ctx.catalog.list_page("user", limit=1000).items
    return ctx.html("people.html", teams=teams, users=users)


def pipelines(ctx: Ctx) -> Response:
    from lodestar.ingest.service import pipeline_runs

    rows = []
    for p in ctx.catalog.list_page("ingestion_pipeline", limit=200).items:
        runs = pipeline_runs(ctx.catalog, p.id, 5)
        rows.append((p, runs))
    return ctx.html("pipelines.html", rows=rows)
