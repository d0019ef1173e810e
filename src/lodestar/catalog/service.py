"""The catalog: the one place that reads and changes metadata.

Adapters (HTTP, CLI, ingestion) call these methods; each write method runs one transaction
through `Planner.apply`, so an asset, its version, its edges, its derived rows and its event are
stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from lodestar.catalog import patching
from lodestar.catalog.errors import (
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from lodestar.catalog.observations import ObservationLog
from lodestar.catalog.transaction import Transaction, in_chunks, plan_lines
from lodestar.catalog.writes import (
    CASCADE_KEY,
    Outcome,
    Planner,
    WriteContext,
    kind_of,
    prepare,
    validate_body,
)
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset, Event, VersionRecord
from lodestar.runtime import gc_paused
from lodestar.store import assets as q
from lodestar.store import columns as cq
from lodestar.store import edges as eq
from lodestar.store import events as ev
from lodestar.store.engine import Store

Include = Literal["non-deleted", "deleted", "all"]
BULK_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Key:
    """An asset named by id or by FQN."""

    id: str | None = None
    fqn: str | None = None

    def __str__(self) -> str:
        return self.fqn if self.fqn is not None else f"id {self.id}"


@dataclass(slots=True)
class Page:
    items: list[Asset]
    total: int
    after: str | None


@dataclass(slots=True)
class BulkLine:
    kind: str
    body: Any


def find(conn: Connection, kind: str, key: Key, *, for_update: bool = False) -> Asset:
    asset: Asset | None
    if key.id is not None:
        asset = q.get(conn, key.id, for_update=for_update)
        if asset is not None and asset.kind != kind:
            asset = None
    else:
        asset = q.get_by_fqn(conn, kind, _norm(key.fqn or ""), for_update=for_update)
    if asset is None:
        raise NotFound(f"no {kind} {key}")
    return asset


def plan_soft_delete(conn: Connection, planner: Planner, asset: Asset, *, recursive: bool) -> Asset:
    """Plan a soft delete of a live asset and, with `recursive`, of what it contains."""
    planner.authorize(asset, None)
    live_below = [a for a in q.descendants(conn, asset.id) if not a.deleted]
    if live_below and not recursive:
        raise Conflict(
            f"{asset.kind} {asset.fqn!r} contains {len(live_below)} assets; "
            "pass recursive=true to delete them too"
        )
    for child in live_below:
        planner.authorize(child, None)
    if asset.deleted:
        raise Conflict(f"{asset.kind} {asset.fqn!r} is already deleted")
    result = planner.set_deleted(asset, True)
    for child in live_below:
        planner.set_deleted(child, True, cascade_from=asset.id)
    return result


class Catalog:
    """Reads and writes of the catalog. Derived writers (`catalog.derived`) are registered for
    the process, so every Catalog hands them every write."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.observations = ObservationLog(store)

    @contextmanager
    def transaction(self, ctx: WriteContext) -> Iterator[Transaction]:
        """A unit of work: everything done through the yielded `Transaction` commits together
        when the block ends, or not at all if it raises."""
        try:
            with self.store.write() as conn:
                yield Transaction(self, conn, ctx)
        except IntegrityError as e:
            raise Conflict(
                f"the unit of work met a concurrent write; retry it ({e.orig})"
            ) from None

    # -- reads ------------------------------------------------------------------------------
    def _find(self, conn: Connection, kind: str, key: Key, *, for_update: bool = False) -> Asset:
        return find(conn, kind, key, for_update=for_update)

    def get(self, kind: str, key: Key, *, as_of: int | None = None) -> Asset:
        k = kind_of(kind).name
        with self.store.read() as conn:
            if as_of is None:
                return self._find(conn, k, key)
            asset_id = key.id or q.id_as_of(conn, k, _norm(key.fqn or ""), as_of)
            rec = q.version_as_of(conn, asset_id, as_of) if asset_id else None
            if rec is None or rec.kind != k:
                raise NotFound(f"no {k} {key} existed at that time")
            current = q.get(conn, rec.asset_id)
            return _from_version(rec, current)

    def list_page(
        self,
        kind: str,
        *,
        limit: int = 100,
        after: str | None = None,
        include: Include = "non-deleted",
        parent: str | None = None,
        tag: str | None = None,
        owner: str | None = None,
        as_of: int | None = None,
    ) -> Page:
        spec = kind_of(kind)
        with self.store.read() as conn:
            if as_of is not None:
                if parent or tag or owner:
                    raise InvalidInput("as_of cannot be combined with parent, tag or owner")
                recs, total = q.list_as_of(
                    conn, spec.name, as_of, limit=limit + 1, after=after, include=include
                )
                items = [_from_version(r, None) for r in recs]
            else:
                parent_id = None
                if parent is not None:
                    if not spec.parents:
                        raise InvalidInput(f"a {spec.name} has no parent to filter by")
                    parent_kinds = [pf.kind for pf in spec.parents]
                    parent_id = self._parent_id(conn, parent_kinds, parent)
                related: list[tuple[str, str]] = []
                if tag is not None:
                    related.append(("tagged_with", self._id_or_missing(conn, "tag", tag)))
                if owner is not None:
                    kind_name, _, name = owner.partition(":")
                    if kind_name not in ("user", "team") or not name:
                        raise InvalidInput("owner filter: use user:<name> or team:<name>")
                    related.append(("owned_by", self._id_or_missing(conn, kind_name, name)))
                items, total = q.list_page(
                    conn,
                    spec.name,
                    limit=limit + 1,
                    after=after,
                    include=include,
                    parent_id=parent_id,
                    related_to=related,
                )
        more = len(items) > limit
        items = items[:limit]
        return Page(items, total, items[-1].fqn if more else None)

    def _parent_id(self, conn: Connection, kinds: list[str], fqn: str) -> str:
        norm = _norm(fqn)
        for k in kinds:
            hit = q.ids_by_fqn(conn, [(k, norm)]).get((k, norm))
            if hit:
                return hit[0]
        return "-"  # matches nothing: an empty page, not an error

    def _id_or_missing(self, conn: Connection, kind: str, fqn: str) -> str:
        norm = _norm(fqn)
        hit = q.ids_by_fqn(conn, [(kind, norm)]).get((kind, norm))
        return hit[0] if hit else "-"

    def live(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (kind, FQN) exist and are not deleted."""
        with self.store.read() as conn:
            found = q.ids_by_fqn(conn, pairs)
        return {p for p, (_id, deleted) in found.items() if not deleted}

    def versions(self, kind: str, key: Key) -> list[VersionRecord]:
        with self.store.read() as conn:
            asset = self._find(conn, kind_of(kind).name, key)
            return q.list_versions(conn, asset.id)

    def version(self, kind: str, key: Key, version: int) -> VersionRecord:
        with self.store.read() as conn:
            asset = self._find(conn, kind_of(kind).name, key)
            rec = q.get_version(conn, asset.id, version)
            if rec is None:
                raise NotFound(f"{kind} {key} has no version {version}")
            return rec

    def relations(self, asset: Asset) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return eq.edges_of(conn, asset.id)

    def column(self, column_id: str) -> dict[str, str]:
        """A column by its id: its name, FQN, and the asset that has it."""
        with self.store.read() as conn:
            hit = cq.by_id(conn, column_id)
        if hit is None:
            raise NotFound(f"no column with id {column_id}")
        asset_id, kind, fqn, name = hit
        return _column_json(column_id, name, fqn, asset_id, kind)

    def column_by_fqn(self, fqn: str) -> dict[str, str]:
        """A column by FQN: the FQN of the table (or other asset with columns), then the
        column's name."""
        try:
            parts = fqn_mod.split(fqn)
        except fqn_mod.FQNError as e:
            raise InvalidInput(f"bad fully qualified name: {e}") from None
        if len(parts) < 2:
            raise InvalidInput("a column FQN names its table, then the column: t.column")
        owner, name = fqn_mod.join(parts[:-1]), parts[-1]
        with self.store.read() as conn:
            for kind in COLUMN_KINDS:
                asset = q.get_by_fqn(conn, kind, owner)
                if asset is None:
                    continue
                column_id = cq.id_of(conn, asset.id, name)
                if column_id is not None:
                    return _column_json(column_id, name, asset.fqn, asset.id, kind)
        raise NotFound(f"no column {fqn!r}")

    def columns(self, kind: str, key: Key) -> list[dict[str, str]]:
        """The columns of an asset with their identity: id, name and FQN."""
        with self.store.read() as conn:
            asset = self._find(conn, kind_of(kind).name, key)
            prefix = asset.fqn + "."
            return [
                {"id": i, "name": n, "fqn": prefix + fqn_mod.quote(n)}
                for i, n in cq.of_asset(conn, asset.id)
            ]

    def children(self, asset: Asset) -> list[Asset]:
        with self.store.read() as conn:
            return [c for c in q.children(conn, [asset.id]) if not c.deleted]

    def events(
        self, *, after: int = 0, limit: int = 100, kinds: list[str] | None = None
    ) -> list[Event]:
        names = [kind_of(k).name for k in kinds] if kinds else None
        with self.store.read() as conn:
            return ev.read(conn, after=after, limit=limit, kinds=names)

    def last_event(self) -> int:
        with self.store.read() as conn:
            return ev.last_seq(conn)

    # -- writes -----------------------------------------------------------------------------
    def _write_one(
        self, kind: str, body: Any, ctx: WriteContext, mode: str, if_match: int | None
    ) -> Outcome:
        spec = kind_of(kind)
        line = prepare(spec, body)
        for attempt in range(3):
            try:
                with self.store.write() as conn:
                    planner = Planner(conn, ctx)
                    planner.preload([line])
                    outcome = planner.plan(line, mode=mode, if_match=if_match)
                    planner.apply()
                    return outcome
            except VersionMismatch:
                # Another writer updated the asset between our read and our write; without an
                # If-Match from the client, plan again on top of theirs.
                if if_match is not None or attempt == 2:
                    raise
            except IntegrityError:
                # Another writer created the same FQN between our read and our insert
                # (PostgreSQL); the next attempt sees it and updates instead.
                if attempt == 2:
                    raise Conflict(
                        f"{spec.name} {line.fqn!r} is being written concurrently"
                    ) from None
        raise AssertionError("unreachable")

    def upsert(
        self, kind: str, body: Any, ctx: WriteContext, *, if_match: int | None = None
    ) -> Outcome:
        return self._write_one(kind, body, ctx, "upsert", if_match)

    def create(self, kind: str, body: Any, ctx: WriteContext) -> Outcome:
        return self._write_one(kind, body, ctx, "create", None)

    def patch(
        self,
        kind: str,
        key: Key,
        patch: Any,
        ctx: WriteContext,
        *,
        json_patch: bool,
        if_match: int | None = None,
    ) -> Outcome:
        spec = kind_of(kind)
        with self.store.write() as conn:
            current = self._find(conn, spec.name, key, for_update=True)
            if current.deleted:
                raise Conflict(f"{spec.name} {current.fqn!r} is deleted: restore it before editing")
            if json_patch:
                new_body = patching.json_patch(current.doc, patch)
            else:
                if not isinstance(patch, dict):
                    raise InvalidInput("a JSON Merge Patch body must be a JSON object")
                new_body = patching.merge_patch(current.doc, patch)
            line = prepare(spec, new_body)
            if line.fqn != current.fqn:
                raise InvalidInput(
                    "name and parent identify an asset and cannot be patched; "
                    "create a new asset and delete this one",
                    errors=[{"loc": ["name"], "msg": "immutable"}],
                )
            planner = Planner(conn, ctx)
            planner.current[(spec.name, current.fqn)] = current
            planner.known[(spec.name, current.fqn)] = (current.id, current.deleted)
            outcome = planner.plan(
                line, if_match=if_match if if_match is not None else current.version
            )
            planner.apply()
            return outcome

    def delete(
        self,
        kind: str,
        key: Key,
        ctx: WriteContext,
        *,
        hard: bool = False,
        recursive: bool = False,
        if_match: int | None = None,
    ) -> Asset:
        spec = kind_of(kind)
        with self.store.write() as conn:
            asset = self._find(conn, spec.name, key, for_update=True)
            _check_if_match(asset, if_match)
            planner = Planner(conn, ctx)
            if not hard:
                result = plan_soft_delete(conn, planner, asset, recursive=recursive)
                planner.apply()
                return result
            if ctx.principal.role not in ("admin", "steward"):
                raise Forbidden("erasing history (hard=true) needs an admin or steward token")
            planner.authorize(asset, None)
            below = q.descendants(conn, asset.id)
            if below and not recursive:
                raise Conflict(
                    f"{spec.name} {asset.fqn!r} contains {len(below)} assets; "
                    "pass recursive=true to delete them too"
                )
            for child in below:
                planner.authorize(child, None)
            targets = [asset, *below]
            q.erase(conn, [a.id for a in targets])
            planner.apply(erased=targets)
            return asset

    def restore(
        self,
        kind: str,
        key: Key,
        ctx: WriteContext,
        *,
        recursive: bool = True,
        if_match: int | None = None,
    ) -> Asset:
        """Undelete an asset and, with `recursive`, what its delete cascaded to (not children
        that had been deleted on their own before)."""
        spec = kind_of(kind)
        with self.store.write() as conn:
            asset = self._find(conn, spec.name, key, for_update=True)
            _check_if_match(asset, if_match)
            if not asset.deleted:
                raise Conflict(f"{spec.name} {asset.fqn!r} is not deleted")
            if asset.parent_id:
                parent = q.get(conn, asset.parent_id)
                if parent is not None and parent.deleted:
                    raise Conflict(f"restore the parent {parent.kind} {parent.fqn!r} first")
            planner = Planner(conn, ctx)
            planner.authorize(asset, asset.doc)
            result = planner.set_deleted(asset, False)
            if recursive:
                for child in q.descendants(conn, asset.id):
                    if child.deleted and child.provenance.get(CASCADE_KEY) == asset.id:
                        planner.authorize(child, child.doc)
                        planner.set_deleted(child, False)
            planner.apply()
            return result

    def bulk_upsert(
        self, lines: Iterable[BulkLine | CatalogError], ctx: WriteContext, *, dry_run: bool = False
    ) -> list[Outcome]:
        """Upsert many assets; each line succeeds or fails on its own.

        Lines are planned and applied in chunks, each chunk in one transaction. A line that
        fails validation is reported and skipped; if applying a chunk fails in the database,
        its lines are retried one by one so that only the faulty line fails.
        """
        return in_chunks(lines, lambda chunk: self._bulk_chunk(chunk, ctx, dry_run), BULK_CHUNK)

    def _bulk_chunk(
        self, chunk: list[tuple[int, BulkLine]], ctx: WriteContext, dry_run: bool = False
    ) -> list[Outcome]:
        try:
            with gc_paused():
                return self._bulk_attempt(chunk, ctx, dry_run)
        except (IntegrityError, OperationalError, CatalogError):
            if len(chunk) == 1:
                i = chunk[0][0]
                try:
                    return self._bulk_attempt(chunk, ctx, dry_run)
                except CatalogError as e:
                    return [Outcome(i, error=e)]
                except (IntegrityError, OperationalError) as e:
                    return [Outcome(i, error=Conflict(f"could not store the line: {e.orig}"))]
            out: list[Outcome] = []
            for item in chunk:
                out.extend(self._bulk_chunk([item], ctx, dry_run))
            return out

    def _bulk_attempt(
        self, chunk: list[tuple[int, BulkLine]], ctx: WriteContext, dry_run: bool = False
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with self.store.write() as conn:
                outcomes = plan_lines(Planner(conn, ctx), chunk)
                if dry_run:
                    raise _RollBack
        except _RollBack:
            pass
        return outcomes


class _RollBack(Exception):
    """Raised to end a dry run's transaction without committing it."""


# Kinds whose assets have columns (and so column identity rows).
COLUMN_KINDS = ("table", "container")


def _column_json(
    column_id: str, name: str, asset_fqn: str, asset_id: str, kind: str
) -> dict[str, str]:
    return {
        "id": column_id,
        "name": name,
        "fqn": f"{asset_fqn}.{fqn_mod.quote(name)}",
        "asset_id": asset_id,
        "asset_kind": kind,
    }


def _check_if_match(asset: Asset, if_match: int | None) -> None:
    if if_match is not None and asset.version != if_match:
        raise VersionMismatch(
            f"If-Match names version {if_match} but the current version is {asset.version}"
        )


def _norm(fqn: str) -> str:
    try:
        return fqn_mod.normalize(fqn)
    except fqn_mod.FQNError as e:
        raise InvalidInput(f"bad fully qualified name: {e}") from None


def _from_version(rec: VersionRecord, current: Asset | None) -> Asset:
    return Asset(
        id=rec.asset_id,
        kind=rec.kind,
        fqn=rec.fqn,
        name=rec.doc.get("name", rec.fqn),
        parent_id=current.parent_id if current else None,
        version=rec.version,
        doc=rec.doc,
        provenance={},
        deleted=rec.deleted,
        created_at=current.created_at if current else rec.ts,
        updated_at=rec.ts,
        updated_by=rec.actor,
        change=rec.change,
    )


__all__ = ["BulkLine", "Catalog", "Include", "Key", "Page", "Transaction", "validate_body"]
