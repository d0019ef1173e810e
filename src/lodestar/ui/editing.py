"""Editing after login: description, owners, tags and glossary terms, written through the
catalog with the signed-in user's principal (the API's roles and ownership rule apply as they
are). The form carries the version it was read at; when someone changed one of the edited
fields meanwhile, the page shows who changed what instead of overwriting it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from lodestar.auth.principal import ANONYMOUS
from lodestar.catalog import CatalogError, Forbidden, InvalidInput, Key, VersionMismatch
from lodestar.catalog.writes import WriteContext
from lodestar.model.records import Asset
from lodestar.ui import markdown, reads
from lodestar.ui.render import asset_url
from lodestar.ui.web import Ctx, login_redirect

FIELDS = ("description", "owners", "tags", "glossary_terms")


def _may_edit(ctx: Ctx) -> None:
    if not ctx.principal.can_write:
        raise Forbidden(
            f"your role ({ctx.principal.role}) may read but not change metadata: ask an admin "
            "for an editor or steward token"
        )


def _form_values(doc: dict[str, Any]) -> dict[str, str]:
    return {
        "description": doc.get("description") or "",
        "owners": "\n".join(f"{o['kind']}:{o['fqn']}" for o in doc.get("owners", [])),
        "tags": "\n".join(doc.get("tags", [])),
        "glossary_terms": "\n".join(doc.get("glossary_terms", [])),
    }


def _parsed(values: dict[str, str]) -> dict[str, Any]:
    description = values["description"].replace("\r\n", "\n")
    return {
        "description": description if description.strip() else None,
        "owners": reads.parse_owners(values["owners"]),
        "tags": reads.parse_refs(values["tags"]),
        "glossary_terms": reads.parse_refs(values["glossary_terms"]),
    }


def _stored(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": doc.get("description") or None,
        "owners": [{"kind": o["kind"], "fqn": o["fqn"]} for o in doc.get("owners", [])],
        "tags": list(doc.get("tags", [])),
        "glossary_terms": list(doc.get("glossary_terms", [])),
    }


def _asset(ctx: Ctx) -> Asset:
    p = ctx.request.path_params
    return reads.asset_by_fqn(ctx.catalog, p["kind"], p["fqn"])


def edit_form(ctx: Ctx) -> Response:
    if ctx.principal is ANONYMOUS:
        return login_redirect(ctx.request)
    _may_edit(ctx)
    asset = _asset(ctx)
    return ctx.html("edit.html", asset=asset, values=_form_values(asset.doc), base=asset.version)


def edit_save(ctx: Ctx) -> Response:
    _may_edit(ctx)
    asset = _asset(ctx)
    values = {f: ctx.form.get(f, "") for f in FIELDS}
    try:
        base = int(ctx.form.get("version", ""))
    except ValueError:
        raise InvalidInput("the form lost the version it was read at: reload the page") from None
    if ctx.form.get("action") == "preview":
        return ctx.html(
            "edit.html",
            asset=asset,
            values=values,
            base=base,
            preview=markdown.render(values["description"]),
        )
    try:
        wanted = _parsed(values)
        base_doc = asset.doc if base == asset.version else _version_doc(ctx, asset, base)
        mine = {f: v for f, v in wanted.items() if v != _stored(base_doc)[f]}
        if not mine:
            return RedirectResponse(asset_url(asset.kind, asset.fqn, notice="unchanged"), 303)
        if base != asset.version:
            theirs = reads.changed_since(ctx.catalog, asset, base, tuple(mine))
            if any(fields for _, fields in theirs):
                return _conflict(ctx, asset, values, base, theirs)
        outcome = ctx.catalog.patch(
            asset.kind,
            Key(id=asset.id),
            {f: v for f, v in mine.items()},
            WriteContext.for_principal(ctx.principal),
            json_patch=False,
            if_match=asset.version,
        )
    except VersionMismatch:
        fresh = _asset(ctx)
        theirs = reads.changed_since(ctx.catalog, fresh, base, FIELDS)
        return _conflict(ctx, fresh, values, base, theirs)
    except Forbidden:
        raise
    except CatalogError as e:
        return ctx.html(
            "edit.html",
            status=422,
            asset=asset,
            values=values,
            base=base,
            error=e.detail,
            errors=e.errors,
        )
    saved = outcome.asset.version if outcome.asset else asset.version
    return RedirectResponse(
        asset_url(asset.kind, asset.fqn, notice="saved", version=saved), status_code=303
    )


def _version_doc(ctx: Ctx, asset: Asset, version: int) -> dict[str, Any]:
    if version < 1 or version > asset.version:
        raise InvalidInput(f"version {version} does not exist: reload the page")
    return ctx.catalog.version(asset.kind, Key(id=asset.id), version).doc


def _conflict(
    ctx: Ctx, asset: Asset, values: dict[str, str], base: int, theirs: list[Any]
) -> Response:
    """The edit form again, at the current version, with the user's text kept and the
    versions that changed the same fields listed (diff links from the version read)."""
    return ctx.html(
        "edit.html",
        status=409,
        asset=asset,
        values=values,
        base=asset.version,
        read_at=base,
        theirs=[(rec, fields) for rec, fields in theirs if fields],
        current=_form_values(asset.doc),
    )


def preview(ctx: Ctx) -> Response:
    """The description as it will look (for the edit page's script)."""
    if ctx.principal is ANONYMOUS:
        raise Forbidden("log in to preview")
    return ctx.pages.fragment(markdown.render(ctx.form.get("description", "")))


def next_url(raw: str) -> str:
    """Where to go after logging in: only a page of this UI."""
    if raw.startswith("/ui/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/ui/"


def quoted(url: str) -> str:
    return quote(url, safe="")
