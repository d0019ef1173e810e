"""The search writer: a `DerivedWriter` (entry point `lodestar.derived_writers`: `search`)
that keeps every asset's search document in the transaction that writes the asset. A write
rolled back leaves no document; an erased asset's document goes with it; a soft-deleted one
stays, marked deleted (found only with `deleted=true`)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from lodestar.catalog import Batch
from lodestar.search import documents
from lodestar.search.backend import backend_for
from lodestar.search.store import manages


class SearchWriter:
    name = "search"

    def apply(self, conn: Connection, batch: Batch) -> None:
        if not batch.assets:
            return
        latest = {a.asset.id: a for a in batch.assets}  # an asset written twice: its last
        docs = []
        gone = []
        for applied in latest.values():
            if applied.event_type != "entity_created":
                gone.append(documents.doc_id(applied.asset.id))
            if applied.event_type != "entity_hard_deleted":
                docs.append(documents.build(applied.asset))
        backend_for(conn).write(conn, docs, gone)

    def clear(self, conn: Connection) -> None:
        backend_for(conn).clear(conn)

    def manages(self, object_name: str) -> bool:
        return manages(object_name)
