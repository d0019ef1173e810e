"""Units of work: several writes that land together or not at all.

```
with catalog.transaction(ctx) as tx:
    job = tx.upsert("pipeline", {...})
    tx.upsert_many(lines)
    tx.add_edges([EdgeIn("table", "a.b.c", "table", "a.b.d")])
    tx.record([Observation(...)])
```

Every operation goes through the planner as a single write would (policy checks, versions,
column identity, edges, derived writers, events) inside one database transaction; leaving the
block commits it, an exception rolls all of it back. A capability writes its own facts in the
same transaction through `tx.conn` (its own `store.py` functions take a connection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from lodestar.catalog.edges import EdgeIn, EdgeResult
from lodestar.catalog.errors import CatalogError, Conflict, NotFound
from lodestar.catalog.writes import Outcome, Planner, WriteContext, kind_of, prepare

if TYPE_CHECKING:
    from lodestar.catalog.observations import Observation
    from lodestar.catalog.service import BulkLine, Catalog, Key

CHUNK = 500


class Transaction:
    def __init__(self, catalog: Catalog, conn: Connection, ctx: WriteContext) -> None:
        self.catalog = catalog
        self.conn = conn
        self.ctx = ctx
        self._planner = Planner(conn, ctx)

    # -- assets ---------------------------------------------------------------------------
    def upsert(self, kind: str, body: Any, *, if_match: int | None = None) -> Outcome:
        return self._one(kind, body, "upsert", if_match)

    def create(self, kind: str, body: Any) -> Outcome:
        return self._one(kind, body, "create", None)

    def _one(self, kind: str, body: Any, mode: str, if_match: int | None) -> Outcome:
        line = prepare(kind_of(kind), body)
        p = self._planner
        p.preload([line])
        outcome = p.plan(line, mode=mode, if_match=if_match)
        p.apply()
        return outcome

    def upsert_many(self, lines: Iterable[BulkLine | CatalogError]) -> list[Outcome]:
        """Upsert many assets; each line succeeds or fails on its own (a failed line is
        reported in its outcome and leaves nothing behind), the rest land with the unit."""
        outcomes = in_chunks(lines, self._chunk)
        # Later single writes must not plan from assets cached before these lines landed.
        self._planner = Planner(self.conn, self.ctx)
        return outcomes

    def _chunk(self, chunk: list[tuple[int, BulkLine]]) -> list[Outcome]:
        savepoint = self.conn.begin_nested()
        try:
            out = plan_lines(Planner(self.conn, self.ctx), chunk)
            savepoint.commit()
            return out
        except (IntegrityError, OperationalError, CatalogError) as e:
            savepoint.rollback()
            if len(chunk) > 1:
                return [o for item in chunk for o in self._chunk([item])]
            error = e if isinstance(e, CatalogError) else Conflict(f"could not store: {e.orig}")
            return [Outcome(chunk[0][0], error=error)]

    def delete(self, kind: str, key: Key, *, recursive: bool = False) -> bool:
        """Soft-delete an asset (and, with `recursive`, what it contains); False if it is
        already gone."""
        from lodestar.catalog import service

        p = self._planner
        spec = kind_of(kind)
        try:
            asset = service.find(self.conn, spec.name, key, for_update=True)
        except NotFound:
            return False
        if asset.deleted:
            return False
        service.plan_soft_delete(self.conn, p, asset, recursive=recursive)
        p.apply()
        return True

    # -- edges and facts ------------------------------------------------------------------
    def add_edges(self, items: Sequence[EdgeIn], *, qualifier: str | None = None) -> EdgeResult:
        result = self._planner.add_edges(items, qualifier)
        self._planner.apply()
        return result

    def retract_edges(self, **how: Any) -> EdgeResult:
        """See `catalog.edges.retract`: the listed `items`, or a `source`'s edges (optionally
        of one `relation_name`, `seen_before` a time)."""
        result = self._planner.retract_edges(**how)
        self._planner.apply()
        return result

    def record(self, items: Sequence[Observation]) -> list[str]:
        """Append observations; returns a message for each one whose asset does not exist."""
        return self.catalog.observations.record_in(self.conn, items, self.ctx)


def in_chunks(
    lines: Iterable[BulkLine | CatalogError],
    write: Callable[[list[tuple[int, BulkLine]]], list[Outcome]],
    size: int = CHUNK,
) -> list[Outcome]:
    """Hand numbered lines to `write` `size` at a time; a line that is already an error is its
    own outcome. The outcomes come back in line order."""
    outcomes: list[Outcome] = []
    chunk: list[tuple[int, BulkLine]] = []
    for i, line in enumerate(lines):
        if isinstance(line, CatalogError):
            outcomes.append(Outcome(i, error=line))
            continue
        chunk.append((i, line))
        if len(chunk) >= size:
            outcomes.extend(write(chunk))
            chunk = []
    if chunk:
        outcomes.extend(write(chunk))
    outcomes.sort(key=lambda o: o.index)
    return outcomes


def plan_lines(planner: Planner, chunk: Sequence[tuple[int, BulkLine]]) -> list[Outcome]:
    """Plan and apply bulk lines with one planner: a line that fails validation or planning is
    reported in its outcome; a database failure raises for the whole chunk."""
    outcomes: list[Outcome] = []
    prepared = []
    for i, line in chunk:
        try:
            prepared.append(prepare(kind_of(line.kind), line.body, i))
        except CatalogError as e:
            outcomes.append(Outcome(i, error=e))
    planner.preload(prepared)
    for p in prepared:
        try:
            outcomes.append(planner.plan(p))
        except CatalogError as e:
            outcomes.append(Outcome(p.index, error=e))
    planner.apply()
    return outcomes
