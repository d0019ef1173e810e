"""Asserted edges through the one write path: lineage, used-with, tested-by, incident-on...

An asserted edge is a relation some source (an ingestion pipeline, an integration, an
OpenLineage producer, a person) reports between two assets; it carries that source, when it
was first and last seen, and optional props (column mappings, the query that showed it). Each
source keeps its own row, so one source retracting its edges leaves the others'. Only the source
itself, or a person, retracts an edge. Edges an asset's body implies (owners, tags, terms,
domain, contains) are not asserted: they change with the body.

Relations are declared here, with the end whose owners may assert them and whose change feed
announces them (the downstream asset for lineage: its upstream changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from lodestar.catalog.derived import EdgeChange
from lodestar.catalog.errors import Forbidden, InvalidInput
from lodestar.catalog.policy import check_write
from lodestar.model import fqn as fqn_mod
from lodestar.model.registry import find_kind
from lodestar.store import assets as q
from lodestar.store import edges as eq

if TYPE_CHECKING:
    from lodestar.catalog.writes import Planner

LINEAGE = "lineage"
MAX_PROPS_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    view: Literal["from", "to"]  # whose owners assert it, whose feed announces it


_RELATIONS: dict[str, Relation] = {}


def declare(name: str, view: Literal["from", "to"] = "from") -> Relation:
    rel = Relation(name, view)
    _RELATIONS[name] = rel
    return rel


for _name, _view in (
    (LINEAGE, "to"),
    ("used_with", "from"),
    ("tested_by", "from"),
    ("incident_on", "to"),
    ("follows", "to"),
):
    declare(_name, _view)  # type: ignore[arg-type]


def relation(name: str) -> Relation:
    rel = _RELATIONS.get(name)
    if rel is None:
        known = ", ".join(sorted(_RELATIONS))
        raise InvalidInput(
            f"relation {name!r} cannot be asserted (asserted relations: {known}); owners, "
            "tags, terms and domains are set in the asset's body",
            errors=[{"loc": ["relation"], "msg": f"unknown relation {name!r}"}],
        )
    return rel


@dataclass(frozen=True, slots=True)
class EdgeIn:
    """One edge as a caller asserts it, by kinds and FQNs."""

    from_kind: str
    from_fqn: str
    to_kind: str
    to_fqn: str
    relation: str = LINEAGE
    via: str = ""
    props: dict[str, Any] | None = None


@dataclass(slots=True)
class EdgeResult:
    added: int = 0
    refreshed: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)


def source_of(planner: Planner, qualifier: str | None = None) -> str:
    """Who asserts: the write's origin (`ingestion:shop`), a person by name (`person:alice`),
    narrowed by an optional qualifier (`integration:openlineage/<producer>`)."""
    ctx = planner.ctx
    base = f"person:{ctx.actor}" if ctx.origin.type == "person" else str(ctx.origin)
    if qualifier:
        if len(qualifier) > 200:
            raise InvalidInput("an edge source qualifier has at most 200 characters")
        return f"{base}/{qualifier}"
    return base


def _norm(kind: str, fqn: str, where: str) -> tuple[str, str]:
    spec = find_kind(kind)
    if spec is None:
        raise InvalidInput(f"{where}: unknown asset kind {kind!r}")
    try:
        return spec.name, fqn_mod.normalize(fqn)
    except fqn_mod.FQNError as e:
        raise InvalidInput(
            f"{where}: bad fully qualified name: {e}", errors=[{"loc": [where], "msg": str(e)}]
        ) from None


def _props_text(props: dict[str, Any] | None) -> str | None:
    if props is None:
        return None
    text = orjson.dumps(props, option=orjson.OPT_SORT_KEYS).decode()
    if len(text) > MAX_PROPS_BYTES:
        raise InvalidInput(f"edge props are limited to {MAX_PROPS_BYTES} bytes of JSON")
    return text


def _authorize(planner: Planner, rel: Relation, view_id: str) -> None:
    principal = planner.ctx.principal
    if principal.writes_everything:
        return
    if not principal.can_write:
        raise Forbidden(f"role {principal.role!r} may read but not change lineage or relations")
    asset = planner.asset_by_id(view_id)
    if asset is not None:
        check_write(principal, asset.kind, asset.fqn, asset.doc, asset.doc, planner.teams())


def add(planner: Planner, items: Sequence[EdgeIn], qualifier: str | None = None) -> EdgeResult:
    """Assert edges: new ones are inserted, known ones marked seen (props replaced when given).
    An edge whose end does not exist, or is deleted, is reported, not stored."""
    result = EdgeResult()
    if not items:
        return result
    source = source_of(planner, qualifier)
    ends = [
        (
            _norm(e.from_kind, e.from_fqn, f"{i}.from"),
            _norm(e.to_kind, e.to_fqn, f"{i}.to"),
            relation(e.relation),
            e,
        )
        for i, e in enumerate(items)
    ]
    planner.lookup([p for a, b, _r, _e in ends for p in (a, b)])
    wanted: dict[eq.EdgeKey, str | None] = {}
    for a, b, rel, e in ends:
        ha, hb = planner.known.get(a), planner.known.get(b)
        bad = next(((p, h) for p, h in ((a, ha), (b, hb)) if h is None or h[1]), None)
        if bad is not None:
            (kind, fqn), hit = bad
            why = "is deleted" if hit else "does not exist"
            result.problems.append(f"{rel.name} {a[1]} -> {b[1]}: {kind} {fqn!r} {why}")
            continue
        assert ha is not None and hb is not None
        if ha[0] == hb[0]:
            result.problems.append(f"{rel.name} {a[1]} -> {b[1]}: an asset cannot relate to itself")
            continue
        _authorize(planner, rel, hb[0] if rel.view == "to" else ha[0])
        if len(e.via) > 512:
            raise InvalidInput("an edge's via has at most 512 characters")
        wanted[(ha[0], rel.name, hb[0], e.via, source)] = _props_text(e.props)
    if not wanted:
        return result
    have = eq.existing(planner.conn, wanted)
    now = planner.now
    new_rows: list[eq.EdgeRow] = []
    seen_keys: list[eq.EdgeKey] = []
    seen_props: list[str | None] = []
    for key, props in wanted.items():
        if key in have:
            old = have[key]
            seen_keys.append(key)
            # Props not given keep what the edge had; given ones replace them.
            seen_props.append(props if props is not None else _props_text(old))
            if props is not None and props != _props_text(old):
                planner.edge_changes.append(EdgeChange("updated", *key, props=orjson.loads(props)))
        else:
            new_rows.append((*key[:5], props, now, now))
            planner.edge_changes.append(
                EdgeChange("added", *key, props=orjson.loads(props) if props else None)
            )
    eq.insert_edge_rows(planner.conn, new_rows)
    eq.refresh(planner.conn, seen_keys, seen_props, now)
    result.added, result.refreshed = len(new_rows), len(seen_keys)
    return result


def retract(
    planner: Planner,
    *,
    items: Sequence[EdgeIn] = (),
    source: str | None = None,
    relation_name: str | None = None,
    seen_before: int | None = None,
    qualifier: str | None = None,
) -> EdgeResult:
    """Retract edges: the listed ones as this writer asserted them, or every edge of a source
    (this writer's own by default; a person may name any source), optionally only those of one
    relation or last seen before a time (what a completed run no longer reported)."""
    result = EdgeResult()
    own = source_of(planner, qualifier)
    person = planner.ctx.origin.type == "person"
    if source is None:
        source = own
    elif not person and source != own and not source.startswith(own + "/"):
        raise Forbidden(
            f"edges of {source!r} are retracted by that source or by a person, not by {own!r}"
        )
    if source in eq.DERIVED:
        raise InvalidInput(f"{source!r} edges come from asset bodies: change the body instead")
    if relation_name is not None:
        relation(relation_name)
    if items:
        ends = [
            (_norm(e.from_kind, e.from_fqn, f"{i}.from"), _norm(e.to_kind, e.to_fqn, f"{i}.to"), e)
            for i, e in enumerate(items)
        ]
        planner.lookup([p for a, b, _e in ends for p in (a, b)])
        keys: list[eq.EdgeKey] = []
        for a, b, e in ends:
            ha, hb = planner.known.get(a), planner.known.get(b)
            if ha is None or hb is None:
                result.problems.append(f"{e.relation} {a[1]} -> {b[1]}: no such edge")
                continue
            rel = relation(e.relation)
            _authorize(planner, rel, hb[0] if rel.view == "to" else ha[0])
            keys.append((ha[0], rel.name, hb[0], e.via, source))
        removed = eq.retract(planner.conn, keys=keys)
    else:
        if person and not planner.ctx.principal.writes_everything:
            raise Forbidden("retracting all edges of a source needs an admin or steward token")
        removed = eq.retract(
            planner.conn, source=source, relation=relation_name, seen_before=seen_before
        )
    planner.edge_changes.extend(EdgeChange("removed", *k) for k in removed)
    result.removed = len(removed)
    return result


def events(planner: Planner, changes: Sequence[EdgeChange]) -> list[tuple[Any, ...]]:
    """Event rows for edge changes: one per asset whose view changed and per source, listing the
    other ends added and removed (`lineage_updated` on the downstream asset for lineage)."""
    if not changes:
        return []
    ids = [i for c in changes for i in (c.from_id, c.to_id)]
    assets = q.get_many(planner.conn, ids)
    grouped: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for c in changes:
        rel = _RELATIONS.get(c.relation) or Relation(c.relation, "from")
        view, other = (c.to_id, c.from_id) if rel.view == "to" else (c.from_id, c.to_id)
        other_asset = assets.get(other)
        slot = grouped.setdefault(
            (view, c.relation, c.source), {"added": [], "removed": [], "updated": []}
        )
        slot[c.action].append(other_asset.fqn if other_asset else other)
    rows: list[tuple[Any, ...]] = []
    ctx = planner.ctx
    for (view, rel_name, source), slot in grouped.items():
        asset = assets.get(view)
        if asset is None:
            continue
        if rel_name == LINEAGE:
            change: dict[str, Any] = {
                "upstream_added": sorted(slot["added"]),
                "upstream_removed": sorted(slot["removed"]),
                "source": source,
            }
            if slot["updated"]:  # the same upstream, other props (column pairs, query)
                change["upstream_changed"] = sorted(slot["updated"])
            event = "lineage_updated"
        else:
            change = {
                "relation": rel_name,
                "added": sorted(slot["added"]),
                "removed": sorted(slot["removed"]),
                "source": source,
            }
            if slot["updated"]:
                change["changed"] = sorted(slot["updated"])
            event = "relations_updated"
        rows.append(
            (
                planner.now,
                event,
                asset.kind,
                asset.id,
                asset.fqn,
                asset.version,
                ctx.actor,
                str(ctx.origin),
                orjson.dumps(change).decode(),
            )
        )
    return rows
