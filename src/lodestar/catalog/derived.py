"""Derived writers: rows kept from the catalog's writes (search documents, graph indexes, ...)
in the same transaction as the writes themselves, so they can never drift apart.

Writers are registered once for the process, like asset kinds: every `Catalog`, whoever built
it (the server, bulk writes, `lodestar ingest`, the scheduler, the demo), hands every write to
every registered writer. Capabilities and plugins declare theirs under the entry-point group
`lodestar.derived_writers` (an object, or a class built without arguments); tests and embedders
may call `register()`. `rebuild()` backfills a writer from what is stored, page by page, so its
memory stays bounded whatever the catalog's size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from sqlalchemy.engine import Connection

from lodestar.catalog.errors import NotFound
from lodestar.model.records import Asset
from lodestar.store import assets as q
from lodestar.store import edges as eq

if TYPE_CHECKING:
    from lodestar.store.engine import Store

GROUP = "lodestar.derived_writers"

EventType = Literal[
    "entity_created",
    "entity_updated",
    "entity_soft_deleted",
    "entity_restored",
    "entity_hard_deleted",
]


@dataclass(slots=True)
class Applied:
    """One asset change as the derived writers and the event feed see it."""

    event_type: EventType
    asset: Asset
    previous: dict[str, Any] | None
    change: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """An asserted edge added, retracted, or asserted again with other props ("updated": its
    column pairs changed, say); body-derived edges change with their asset's `Applied`, and a
    writer reads them from the body."""

    action: Literal["added", "removed", "updated"]
    from_id: str
    relation: str
    to_id: str
    via: str
    source: str
    props: dict[str, Any] | None = None


@dataclass(slots=True)
class Batch:
    """What one flush of the write path changed."""

    assets: Sequence[Applied] = ()
    edges: Sequence[EdgeChange] = field(default_factory=list)


@runtime_checkable
class DerivedWriter(Protocol):
    """Keeps rows derived from the catalog's writes. `apply` runs inside the write transaction
    (raise to refuse the write); `clear` empties what the writer keeps before a rebuild;
    `manages` names the database objects the writer creates that the declared tables do not
    describe (FTS5 shadow tables, tsvector indexes), so the schema check leaves them alone."""

    name: str

    def apply(self, conn: Connection, batch: Batch) -> None: ...

    def clear(self, conn: Connection) -> None: ...

    def manages(self, object_name: str) -> bool: ...


_WRITERS: dict[str, DerivedWriter] = {}
_loaded = False
_lock = threading.Lock()


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for ep in entry_points(group=GROUP):
            obj = ep.load()
            writer = obj() if isinstance(obj, type) else obj
            _WRITERS.setdefault(writer.name, writer)
        _loaded = True


def register(writer: DerivedWriter) -> DerivedWriter:
    """Hand every later write of this process to `writer` (replacing one of the same name)."""
    _load()
    _WRITERS[writer.name] = writer
    return writer


def unregister(name: str) -> None:
    _WRITERS.pop(name, None)


def writers() -> list[DerivedWriter]:
    _load()
    return list(_WRITERS.values())


def find(name: str) -> DerivedWriter:
    _load()
    try:
        return _WRITERS[name]
    except KeyError:
        known = ", ".join(sorted(_WRITERS)) or "none are registered"
        raise NotFound(f"no derived writer {name!r} ({known})") from None


def managed(object_name: str) -> bool:
    """Whether a registered writer manages this database object (for the schema check)."""
    return any(w.manages(object_name) for w in writers())


def apply_all(conn: Connection, batch: Batch) -> None:
    if batch.assets or batch.edges:
        for writer in writers():
            writer.apply(conn, batch)


Progress = Callable[[int, int], None]  # (done, total)
PAGE = 500


def _pages(store: Store) -> Iterator[tuple[list[Applied], list[EdgeChange]]]:
    after = ""
    while True:
        with store.read() as conn:
            assets = q.page_by_id(conn, after, PAGE)
            if not assets:
                return
            edges = eq.asserted_from(conn, [a.id for a in assets])
        after = assets[-1].id
        applied = [
            Applied("entity_soft_deleted" if a.deleted else "entity_created", a, None, None)
            for a in assets
        ]
        changes = [EdgeChange("added", e[0], e[1], e[2], e[3], e[4], e[5]) for e in edges]
        yield applied, changes


def rebuild(store: Store, writer: DerivedWriter, progress: Progress | None = None) -> int:
    """Empty the writer's rows and feed it every stored asset and asserted edge again, a page
    per transaction; returns the number of assets fed."""
    with store.read() as conn:
        total = q.count(conn)
    with store.write() as conn:
        writer.clear(conn)
    done = 0
    for applied, changes in _pages(store):
        with store.write() as conn:
            writer.apply(conn, Batch(applied, changes))
        done += len(applied)
        if progress is not None:
            progress(done, total)
    return done


__all__ = [
    "Applied",
    "Batch",
    "DerivedWriter",
    "EdgeChange",
    "EventType",
    "apply_all",
    "find",
    "managed",
    "rebuild",
    "register",
    "unregister",
    "writers",
]
