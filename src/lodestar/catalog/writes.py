"""The one write path: validate, resolve, plan, then apply in the caller's transaction.

Every mutation (single write, bulk line, patch, delete, restore) ends in `apply()`, which writes
asset rows, version records, edges, the derived rows of registered `DerivedWriter`s and the
change events, in that order, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from lodestar.auth.principal import Principal
from lodestar.catalog import changes
from lodestar.catalog import edges as edge_ops
from lodestar.catalog.derived import Applied, Batch, EdgeChange, EventType, apply_all
from lodestar.catalog.errors import (
    AlreadyExists,
    CatalogError,
    InvalidInput,
    VersionMismatch,
)
from lodestar.catalog.policy import check_write
from lodestar.model import fqn as fqn_mod
from lodestar.model.common import READ_ONLY_FIELDS, AssetSpec, RefUse
from lodestar.model.ids import column_id, column_ids, new_id
from lodestar.model.kinds.custom_property import CustomProperty
from lodestar.model.kinds.table import fill_column_defaults
from lodestar.model.records import Asset, Origin, now_us
from lodestar.model.registry import KindSpec, find_kind, get_kind
from lodestar.store import assets as q
from lodestar.store import columns as cq
from lodestar.store import edges as eq
from lodestar.store import events as ev
from lodestar.store.rows import json_text


@dataclass(frozen=True, slots=True)
class WriteContext:
    principal: Principal
    origin: Origin
    keep_person_edits: bool
    # The documentation rank of an automated writer's descriptions: a description set by
    # an origin of a higher rank is kept over a lower one's (dbt 1 over a database's 0).
    rank: int = 0

    @classmethod
    def for_principal(
        cls, principal: Principal, origin: Origin | None = None, rank: int = 0
    ) -> WriteContext:
        o = origin or principal.origin
        return cls(principal, o, keep_person_edits=o.type != "person", rank=rank)

    @property
    def actor(self) -> str:
        return self.principal.name


@dataclass(slots=True)
class Outcome:
    index: int
    status: Literal["created", "updated", "unchanged"] | None = None
    asset: Asset | None = None
    error: CatalogError | None = None


@dataclass(slots=True)
class _Line:
    index: int
    kind: KindSpec
    spec: AssetSpec
    doc: dict[str, Any]
    fqn: str
    parent: tuple[str, str] | None
    refs: list[RefUse] = field(default_factory=list)


def _pydantic_errors(e: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(err["loc"]),
            "msg": fqn_mod.NAME_RULE if err["type"] == "string_pattern_mismatch" else err["msg"],
        }
        for err in e.errors(include_input=False)
    ]


def validate_body(kind: KindSpec, body: Any) -> AssetSpec:
    if not isinstance(body, dict):
        raise InvalidInput(f"a {kind.name} body must be a JSON object")
    declared = body.get("kind")
    if declared is not None and declared != kind.name:
        raise InvalidInput(
            f"the body says kind {declared!r} but this is the {kind.name} collection",
            errors=[{"loc": ["kind"], "msg": f"expected {kind.name!r}"}],
        )
    clean = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
    try:
        return kind.model.model_validate(clean)
    except ValidationError as e:
        errors = _pydantic_errors(e)
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"invalid {kind.name}: {where}: {first['msg']}", errors=errors) from None


def to_doc(spec: AssetSpec) -> dict[str, Any]:
    return spec.document()


def _locate(
    kind: KindSpec, spec: AssetSpec, doc: dict[str, Any]
) -> tuple[str, tuple[str, str] | None]:
    """The asset's FQN and its parent's (kind, FQN)."""
    if kind.fqn_prefix is not None:
        return fqn_mod.join([*kind.fqn_prefix(spec), spec.name]), None
    parent: tuple[str, str] | None = None
    for pf in kind.parents:
        value = doc.get(pf.field)
        if value:
            try:
                norm = fqn_mod.normalize(value)
            except fqn_mod.FQNError as e:
                raise InvalidInput(
                    f"{pf.field}: {e}", errors=[{"loc": [pf.field], "msg": str(e)}]
                ) from None
            doc[pf.field] = norm
            parent = (pf.kind, norm)
    if kind.parents and parent is None:
        names = " or ".join(pf.field for pf in kind.parents)
        raise InvalidInput(
            f"a {kind.name} needs its parent: set {names}",
            errors=[{"loc": [kind.parents[0].field], "msg": "Field required"}],
        )
    if parent is None:
        return fqn_mod.join([spec.name]), None
    fqn = f"{parent[1]}.{fqn_mod.quote(spec.name)}"
    if len(fqn) > fqn_mod.MAX_FQN_LENGTH:
        raise InvalidInput(
            f"the fully qualified name would be {len(fqn)} characters; the limit is "
            f"{fqn_mod.MAX_FQN_LENGTH}: use a shorter name",
            errors=[{"loc": ["name"], "msg": "fully qualified name too long"}],
        )
    return fqn, parent


def prepare(kind: KindSpec, body: Any, index: int = 0) -> _Line:
    spec = validate_body(kind, body)
    doc = to_doc(spec)
    fqn, parent = _locate(kind, spec, doc)
    refs = list(spec.references())
    for r in refs:
        if r.kind is not None and find_kind(r.kind) is None:
            raise InvalidInput(
                f"{'.'.join(map(str, r.loc))}: unknown asset kind {r.kind!r}",
                errors=[{"loc": list(r.loc), "msg": f"unknown asset kind {r.kind!r}"}],
            )
    return _Line(index, kind, spec, doc, fqn, parent, refs)


class Planner:
    """Plans a batch of upserts against the database and the batch itself."""

    def __init__(self, conn: Connection, ctx: WriteContext) -> None:
        self.conn = conn
        self.ctx = ctx
        self.now = now_us()
        # (kind, fqn) -> (id, deleted), from the database and from earlier lines in the batch.
        self.known: dict[tuple[str, str], tuple[str, bool]] = {}
        self.current: dict[tuple[str, str], Asset] = {}
        self.props: dict[str, dict[str, CustomProperty]] = {}
        self._team_names: list[str] | None = None
        self.inserts: list[Asset] = []
        self.updates: list[tuple[Asset, int]] = []
        # Body-derived edges per asset, as rows in eq.EDGE_COLUMNS order.
        self.edge_rows: dict[str, list[eq.EdgeRow]] = {}
        self.applied: list[Applied] = []
        self.edge_changes: list[EdgeChange] = []
        # Column identity: rows of the assets created here, and for assets changed here
        # (asset id, name) -> the row to have, or None for a column gone.
        self.column_rows: list[cq.ColumnRow] = []
        self.column_ops: dict[tuple[str, str], cq.ColumnRow | None] = {}

    # -- look-ups -----------------------------------------------------------------------
    def preload(self, lines: Sequence[_Line]) -> None:
        pairs: set[tuple[str, str]] = set()
        for line in lines:
            if line.parent:
                pairs.add(line.parent)
            for r in line.refs:
                pairs.add((r.kind or "", r.fqn))
        self.lookup(pairs)
        by_kind: dict[str, list[str]] = {}
        for line in lines:
            if (line.kind.name, line.fqn) not in self.current:
                by_kind.setdefault(line.kind.name, []).append(line.fqn)
        for kind, fqns in sorted(by_kind.items()):
            for fqn, asset in q.get_many_by_fqn(self.conn, kind, fqns, for_update=True).items():
                self.current[(kind, fqn)] = asset
                self.known[(kind, fqn)] = (asset.id, asset.deleted)

    def _custom_props(self, kind: str) -> dict[str, CustomProperty]:
        if kind not in self.props:
            prefix = fqn_mod.quote(kind) + "."
            found = {a.fqn: a for a in q.by_fqn_prefix(self.conn, "custom_property", prefix)}
            for (k, fqn), a in self.current.items():  # defined earlier in this batch
                if k == "custom_property" and fqn.startswith(prefix):
                    found[fqn] = a
            self.props[kind] = {
                a.name: CustomProperty.model_validate(a.doc)
                for a in found.values()
                if not a.deleted
            }
        return self.props[kind]

    def _check_custom(
        self, line: _Line, values: dict[str, Any], before: dict[str, Any] | None
    ) -> None:
        """Values fit their definitions. A required property is asked of a person creating an
        asset, and a value it has may not be removed; an asset that existed before the
        definition is not blocked, and automated origins (a connector cannot know the value)
        create assets without it."""
        defs = self._custom_props(line.kind.name)
        errors: list[dict[str, Any]] = []
        had = None if before is None else before.get("custom_properties", {})
        for name, value in values.items():
            if had is not None and name in had and had[name] == value:
                continue  # as stored: a definition changed later does not block other edits
            d = defs.get(name)
            if d is None:
                known = ", ".join(sorted(defs)) or "none"
                errors.append(
                    {
                        "loc": ["custom_properties", name],
                        "msg": f"no custom property {name!r} is defined for {line.kind.name} "
                        f"(defined: {known}); define it under /api/v1/custom-properties",
                    }
                )
            elif (problem := d.check_value(value)) is not None:
                errors.append({"loc": ["custom_properties", name], "msg": problem})
        person = self.ctx.origin.type == "person"
        for name, d in defs.items():
            if not d.required or name in values:
                continue
            if had is None and person:
                errors.append({"loc": ["custom_properties", name], "msg": "required"})
            elif had is not None and name in had:
                msg = "required: it may be changed but not removed"
                errors.append({"loc": ["custom_properties", name], "msg": msg})
        if errors:
            raise InvalidInput(f"custom_properties: {errors[0]['msg']}", errors=errors)

    def lookup(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Learn the (id, deleted) of these (kind, FQN) pairs into `known`."""
        missing = [p for p in pairs if p not in self.known]
        if missing:
            self.known.update(q.ids_by_fqn(self.conn, missing))

    def asset_by_id(self, asset_id: str) -> Asset | None:
        for a in self.current.values():
            if a.id == asset_id:
                return a
        return q.get(self.conn, asset_id)

    def _resolve(
        self, line: _Line, refs: list[RefUse]
    ) -> tuple[str | None, list[tuple[RefUse, str]]]:
        self.lookup(
            [*([line.parent] if line.parent else []), *((r.kind or "", r.fqn) for r in refs)]
        )
        parent_id: str | None = None
        if line.parent:
            hit = self.known.get(line.parent)
            field_name = next(
                pf.field for pf in reversed(line.kind.parents) if line.doc.get(pf.field)
            )
            if hit is None:
                raise InvalidInput(
                    f"{field_name}: no {line.parent[0]} named {line.parent[1]!r}; create it first",
                    errors=[{"loc": [field_name], "msg": f"{line.parent[0]} not found"}],
                )
            if hit[1]:
                raise InvalidInput(
                    f"{field_name}: {line.parent[0]} {line.parent[1]!r} is deleted; restore it",
                    errors=[{"loc": [field_name], "msg": f"{line.parent[0]} is deleted"}],
                )
            parent_id = hit[0]
        resolved: list[tuple[RefUse, str]] = []
        errors: list[dict[str, Any]] = []
        for r in refs:
            hit = self.known.get((r.kind or "", r.fqn))
            if hit is None:
                errors.append({"loc": list(r.loc), "msg": f"no {r.kind} named {r.fqn!r}"})
            else:
                resolved.append((r, hit[0]))
        if errors:
            where = ".".join(map(str, errors[0]["loc"]))
            raise InvalidInput(f"{where}: {errors[0]['msg']}", errors=errors)
        return parent_id, resolved

    def teams(self) -> list[str]:
        if self._team_names is None:
            user = self.ctx.principal.user_fqn
            self._team_names = q.team_fqns_of_user(self.conn, user) if user else []
        return self._team_names

    # -- planning -------------------------------------------------------------------------
    def plan(self, line: _Line, *, mode: str = "upsert", if_match: int | None = None) -> Outcome:
        key = (line.kind.name, line.fqn)
        existing = self.current.get(key)
        if mode == "create" and existing is not None:
            hint = " (it is soft-deleted: restore it instead)" if existing.deleted else ""
            raise AlreadyExists(f"{line.kind.name} {line.fqn!r} already exists{hint}")
        if if_match is not None and (existing is None or existing.version != if_match):
            have = existing.version if existing else "none"
            raise VersionMismatch(
                f"If-Match names version {if_match} but the current version is {have}; "
                "read the asset again and retry"
            )
        doc, ref_uses = line.doc, line.refs
        if existing is not None and self.ctx.keep_person_edits:
            doc = changes.keep_person_edits(existing.doc, doc, existing.provenance)
            doc = changes.keep_other_origins(
                existing.doc, doc, existing.provenance, str(self.ctx.origin)
            )
            doc = changes.keep_ranked_descriptions(
                existing.doc, doc, existing.provenance, str(self.ctx.origin), self.ctx.rank
            )
            if doc != line.doc:
                ref_uses = list(line.kind.model.model_validate(doc).references())
        doc = fill_column_defaults(doc)
        # What the asset will hold, person edits kept: an automated write that leaves out a
        # value a person set does not remove it.
        self._check_custom(
            line, doc.get("custom_properties") or {}, existing.doc if existing else None
        )
        parent_id, refs = self._resolve(line, ref_uses)
        check_write(
            self.ctx.principal,
            line.kind.name,
            line.fqn,
            existing.doc if existing else None,
            doc,
            self.teams() if self.ctx.principal.role == "editor" else (),
        )
        origin = str(self.ctx.origin)
        if existing is None:
            change = changes.creation(doc)
            asset = Asset(
                id=new_id(),
                kind=line.kind.name,
                fqn=line.fqn,
                name=line.spec.name,
                parent_id=parent_id,
                version=1,
                doc=doc,
                provenance=changes.record_provenance(
                    {}, change, origin, self.ctx.actor, self.now, doc, self.ctx.rank
                ),
                deleted=False,
                created_at=self.now,
                updated_at=self.now,
                updated_by=self.ctx.actor,
                change=change,
            )
            self.inserts.append(asset)
            self.edge_rows[asset.id] = self._edges(asset.id, parent_id, refs, contains=True)
            self._columns(asset, None)
            self._record("entity_created", asset, None, change)
            status: Literal["created", "updated", "unchanged"] = "created"
        else:
            change = changes.diff(existing.doc, doc)
            if existing.deleted:
                change["fields_updated"].append({"name": "deleted", "old": True, "new": False})
            if changes.is_empty_change(change):
                return Outcome(line.index, "unchanged", existing)
            change["previous_version"] = existing.version
            asset = Asset(
                id=existing.id,
                kind=existing.kind,
                fqn=existing.fqn,
                name=existing.name,
                parent_id=existing.parent_id,
                version=existing.version + 1,
                doc=doc,
                provenance=changes.record_provenance(
                    existing.provenance,
                    change,
                    origin,
                    self.ctx.actor,
                    self.now,
                    rank=self.ctx.rank,
                ),
                deleted=False,
                created_at=existing.created_at,
                updated_at=self.now,
                updated_by=self.ctx.actor,
                change=change,
            )
            self.updates.append((asset, existing.version))
            self._columns(asset, existing.doc)
            if existing.deleted or _ref_key(ref_uses) != _ref_key(
                _references(line.kind, existing.doc)
            ):
                fresh = any(a.id == asset.id for a in self.inserts)
                self.edge_rows[asset.id] = self._edges(asset.id, parent_id, refs, contains=fresh)
            event: EventType = "entity_restored" if existing.deleted else "entity_updated"
            self._record(event, asset, existing.doc, change)
            status = "updated"
        self.current[key] = asset
        self.known[key] = (asset.id, False)
        if line.kind.name == "custom_property":
            self.props.clear()
        return Outcome(line.index, status, asset)

    def _edges(
        self,
        asset_id: str,
        parent_id: str | None,
        refs: Iterable[tuple[RefUse, str]],
        contains: bool,
    ) -> list[eq.EdgeRow]:
        now = self.now
        rows: dict[tuple[str, str, str, str], eq.EdgeRow] = {}
        if contains and parent_id:
            rows[(parent_id, "contains", asset_id, "")] = (
                parent_id, "contains", asset_id, "", eq.PARENT, None, now, now,
            )  # fmt: skip
        for r, target in refs:
            rows[(asset_id, r.relation, target, r.via)] = (
                asset_id, r.relation, target, r.via, eq.BODY, None, now, now,
            )  # fmt: skip
        return list(rows.values())

    def _columns(self, asset: Asset, old: dict[str, Any] | None) -> None:
        """Keep the asset's column identity rows: new names get rows, gone names lose them."""
        new_cols = asset.doc.get("columns")
        aid = asset.id
        if old is None:
            if new_cols:  # the bulk of a bulk create: one row per column, nothing to compare
                names = _names(new_cols)
                ids = column_ids(aid, names)
                self.column_rows.extend(zip([aid] * len(names), names, ids, strict=True))
            return
        old_cols = old.get("columns")
        if not new_cols and not old_cols:
            return
        new_names = _names(new_cols or ())
        old_names = set(_names(old_cols or ()))
        kept = set(new_names)
        if old_names == kept:
            return
        added = [n for n in new_names if n not in old_names]
        gone = sorted(old_names - kept)
        ops = self.column_ops
        for n in added:
            ops[(aid, n)] = (aid, n, column_id(aid, n))
        for n in gone:
            ops[(aid, n)] = None
        if asset.change is not None:
            # A renamed column is a new column: say which identities came and went.
            asset.change["columns"] = {
                "added": [{"name": n, "id": column_id(aid, n)} for n in added],
                "removed": [{"name": n, "id": column_id(aid, n)} for n in gone],
            }

    def _record(
        self,
        event: EventType,
        asset: Asset,
        previous: dict[str, Any] | None,
        change: dict[str, Any] | None,
    ) -> None:
        self.applied.append(Applied(event, asset, previous, change))

    # -- deletes and restores go through the same apply ----------------------------------
    def set_deleted(self, asset: Asset, deleted: bool, cascade_from: str | None = None) -> Asset:
        change = {
            "fields_added": [],
            "fields_updated": [{"name": "deleted", "old": asset.deleted, "new": deleted}],
            "fields_deleted": [],
            "breaking": [],
            "previous_version": asset.version,
        }
        new = Asset(
            id=asset.id,
            kind=asset.kind,
            fqn=asset.fqn,
            name=asset.name,
            parent_id=asset.parent_id,
            version=asset.version + 1,
            doc=asset.doc,
            provenance=_cascade_mark(asset.provenance, cascade_from),
            deleted=deleted,
            created_at=asset.created_at,
            updated_at=self.now,
            updated_by=self.ctx.actor,
            change=change,
        )
        self.updates.append((new, asset.version))
        self._record(
            "entity_soft_deleted" if deleted else "entity_restored", new, asset.doc, change
        )
        self.current[(asset.kind, asset.fqn)] = new
        return new

    def authorize(self, asset: Asset, new_doc: dict[str, Any] | None) -> None:
        check_write(
            self.ctx.principal,
            asset.kind,
            asset.fqn,
            asset.doc,
            new_doc,
            self.teams() if self.ctx.principal.role == "editor" else (),
        )

    # -- apply ------------------------------------------------------------------------------
    def apply(self, erased: Sequence[Asset] = ()) -> None:
        """Write everything planned, then start afresh (a unit of work applies a planner
        more than once in its transaction). Each document and change description is
        serialised once, although it lands in two rows (asset and version, version and
        event)."""
        conn = self.conn
        actor, origin, now = self.ctx.actor, str(self.ctx.origin), self.now
        docs: dict[tuple[str, int], str] = {}

        def doc_text(a: Asset) -> str:
            key = (a.id, a.version)
            text = docs.get(key)
            if text is None:
                text = docs[key] = orjson.dumps(a.doc).decode()
            return text

        q.insert_assets(
            conn,
            [
                (
                    a.id,
                    a.kind,
                    a.fqn,
                    a.name,
                    a.parent_id,
                    a.version,
                    doc_text(a),
                    json_text(a.provenance),
                    a.deleted,
                    a.created_at,
                    a.updated_at,
                    a.updated_by,
                )
                for a in self.inserts
            ],
        )
        for asset, expected in self.updates:
            row = _asset_row(asset)
            del row["id"]
            if not q.update_asset(conn, asset.id, expected, **row):
                raise VersionMismatch(
                    f"{asset.kind} {asset.fqn!r} changed while this write was prepared; retry"
                )
        version_rows = []
        event_rows = []
        for ap in self.applied:
            a = ap.asset
            change = json_text(ap.change)
            version_change = change if a.change is ap.change else json_text(a.change)
            version_rows.append(
                (
                    a.id,
                    a.version,
                    a.kind,
                    a.fqn,
                    doc_text(a),
                    version_change,
                    a.deleted,
                    actor,
                    origin,
                    now,
                )
            )
            event_rows.append(
                (now, ap.event_type, a.kind, a.id, a.fqn, a.version, actor, origin, change)
            )
        q.insert_versions(conn, version_rows)
        inserted = {a.id for a in self.inserts}
        if self.edge_rows:
            fresh = [r for aid, rows in self.edge_rows.items() if aid in inserted for r in rows]
            eq.insert_edge_rows(conn, fresh)
            replaced = [aid for aid in self.edge_rows if aid not in inserted]
            eq.replace_body_edges(
                conn, replaced, [r for aid in replaced for r in self.edge_rows[aid]]
            )
        cq.insert(conn, self.column_rows)
        if self.column_ops:
            # Deleted first, then inserted: a column may have gone and come back in one batch.
            ops = self.column_ops
            cq.delete(conn, list(ops))
            cq.insert(conn, [row for row in ops.values() if row is not None])
        for e in erased:
            self.applied.append(Applied("entity_hard_deleted", e, e.doc, None))
            event_rows.append(
                (now, "entity_hard_deleted", e.kind, e.id, e.fqn, e.version, actor, origin, None)
            )
        event_rows.extend(edge_ops.events(self, self.edge_changes))
        apply_all(conn, Batch(self.applied, self.edge_changes))
        ev.append_rows(conn, event_rows)
        self.inserts, self.updates, self.applied, self.edge_changes = [], [], [], []
        self.edge_rows, self.column_ops, self.column_rows = {}, {}, []

    # -- asserted edges ---------------------------------------------------------------------
    def add_edges(
        self, items: Sequence[edge_ops.EdgeIn], qualifier: str | None = None
    ) -> edge_ops.EdgeResult:
        return edge_ops.add(self, items, qualifier)

    def retract_edges(self, **how: Any) -> edge_ops.EdgeResult:
        return edge_ops.retract(self, **how)


CASCADE_KEY = "_deleted_with"


def _cascade_mark(provenance: dict[str, Any], cascade_from: str | None) -> dict[str, Any]:
    """Remember which delete cascaded to an asset, so restoring that root brings back only
    what it took down."""
    out = {k: v for k, v in provenance.items() if k != CASCADE_KEY}
    if cascade_from is not None:
        out[CASCADE_KEY] = cascade_from
    return out


def _references(kind: KindSpec, doc: dict[str, Any]) -> list[RefUse]:
    try:
        return list(kind.model.model_validate(doc).references())
    except ValidationError:
        return []


def _names(columns: Iterable[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in columns]


def _ref_key(refs: Iterable[RefUse]) -> list[tuple[str, str, str, str]]:
    return sorted((r.kind or "", r.fqn, r.relation, r.via) for r in refs)


def _asset_row(a: Asset) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "fqn": a.fqn,
        "name": a.name,
        "parent_id": a.parent_id,
        "version": a.version,
        "doc": a.doc,
        "provenance": a.provenance,
        "deleted": a.deleted,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "updated_by": a.updated_by,
    }


def kind_of(name: str) -> KindSpec:
    k = find_kind(name)
    if k is None:
        raise InvalidInput(f"unknown asset kind {name!r}")
    return get_kind(k.name)


__all__ = [
    "Applied",
    "Outcome",
    "Planner",
    "WriteContext",
    "kind_of",
    "prepare",
    "to_doc",
    "validate_body",
]
