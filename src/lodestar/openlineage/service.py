"""The OpenLineage intake: events in, catalog writes out, and the reads that map an
OpenLineage name back to its catalog asset.

Each event is one unit of work (`catalog.transaction`): its raw row, the assets, edges,
observations and run row it implies land together, or, when any part is refused, none of it.
Writes carry the origin `integration:openlineage` whoever sends them, and lineage edges the
event's producer as their source qualifier (`integration:openlineage/<producer>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, CatalogError, Conflict, Forbidden, NotFound, WriteContext
from lodestar.model.records import Asset, Origin, now_us, us_to_iso
from lodestar.openlineage import store as ols
from lodestar.openlineage.events import Event, EventError, parse_event
from lodestar.openlineage.mapping import EventMapper, Landed
from lodestar.openlineage.naming import Naming, without_credentials
from lodestar.store import assets as q

ORIGIN = Origin("integration", "openlineage")
CHUNK = 200  # events of a batch mapped in one transaction


def context_for(principal: Principal) -> WriteContext:
    """Admins, stewards and bots send OpenLineage events: an event creates and changes assets
    all over the catalog, which an editor (who changes only what they own) may not."""
    if not principal.writes_everything:
        raise Forbidden(
            f"role {principal.role!r} may not send OpenLineage events: use a bot token "
            "(`lodestar token create --role bot --name openlineage`)"
        )
    return WriteContext.for_principal(principal, ORIGIN)


@dataclass(slots=True)
class Failure:
    index: int
    reason: str
    retriable: bool
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class BatchResult:
    received: int
    landed: list[Landed] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        retriable = sum(1 for f in self.failed if f.retriable)
        return {
            "status": "partial_success" if self.failed else "success",
            "summary": {
                "received": self.received,
                "successful": len(self.landed),
                "failed": len(self.failed),
                "retriable": retriable,
                "non_retriable": len(self.failed) - retriable,
            },
            "failed_events": [
                {
                    "index": f.index,
                    "reason": f.reason,
                    "retriable": f.retriable,
                    **({"errors": f.errors} if f.errors else {}),
                }
                for f in self.failed
            ],
        }


class OpenLineageIntake:
    def __init__(self, catalog: Catalog, naming: Naming | None = None) -> None:
        self.catalog = catalog
        self.naming = naming or Naming()

    # -- writes ---------------------------------------------------------------------------
    def accept(self, raw: Any, ctx: WriteContext) -> Landed:
        """Map one event in one unit of work; raises EventError (unusable event) or another
        CatalogError (refused by the catalog), leaving nothing behind."""
        ev = parse_event(raw)
        with self.catalog.transaction(ctx) as tx:
            return EventMapper(tx, self.naming, now_us()).apply([ev])[0]

    def accept_many(self, raws: Sequence[Any], ctx: WriteContext) -> BatchResult:
        """Each event on its own: one that fails is reported by its index, the rest land.

        The usable events are mapped together, `CHUNK` at a time, in one transaction (the
        same result as one after the other, with one lookup and one write of each sort per
        chunk); when the catalog refuses anything in a chunk, its events are mapped again one
        per transaction, so only the faulty event fails."""
        result = BatchResult(len(raws))
        parsed: list[tuple[int, Event]] = []
        for i, raw in enumerate(raws):
            try:
                parsed.append((i, parse_event(raw)))
            except CatalogError as e:
                result.failed.append(Failure(i, e.detail, False, e.errors))
        for start in range(0, len(parsed), CHUNK):
            chunk = parsed[start : start + CHUNK]
            if len(chunk) > 1:
                try:
                    with self.catalog.transaction(ctx) as tx:
                        mapper = EventMapper(tx, self.naming, now_us())
                        result.landed.extend(mapper.apply([e for _i, e in chunk]))
                    continue
                except CatalogError:
                    pass  # one of them is refused: find which, one event at a time
            for i, ev in chunk:
                try:
                    with self.catalog.transaction(ctx) as tx:
                        result.landed.extend(EventMapper(tx, self.naming, now_us()).apply([ev]))
                except CatalogError as e:
                    result.failed.append(Failure(i, e.detail, isinstance(e, Conflict), e.errors))
        result.failed.sort(key=lambda f: f.index)
        return result

    # -- reads ----------------------------------------------------------------------------
    def lookup(self, ol_type: str, namespace: str, name: str) -> tuple[dict[str, Any], Asset]:
        """The name's row and the catalog asset it maps to (NotFound when none)."""
        with self.catalog.store.read() as conn:
            row = ols.name_row(conn, ol_type, without_credentials(namespace), name)
            asset = q.get(conn, row["asset_id"]) if row else None
        if row is None or asset is None:
            raise NotFound(f"no catalog asset for the OpenLineage {ol_type} {namespace!r} {name!r}")
        return row, asset

    def names(
        self, ol_type: str, namespace: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        ns = without_credentials(namespace) if namespace is not None else None
        with self.catalog.store.read() as conn:
            return ols.names_page(conn, ol_type, ns, after, limit)

    def run(self, run_id: str) -> dict[str, Any]:
        with self.catalog.store.read() as conn:
            row = ols.get_run(conn, run_id)
            if row is None:
                raise NotFound(f"no OpenLineage run {run_id!r}")
            return _run_json(row, q.get(conn, row["pipeline_id"]))

    def runs(
        self, job: tuple[str, str] | None, limit: int, after: tuple[int, str] | None
    ) -> list[dict[str, Any]]:
        """The runs of the job (namespace, name), or of every job, latest first."""
        pipeline_id = self.lookup("job", *job)[1].id if job is not None else None
        with self.catalog.store.read() as conn:
            rows = ols.runs_of(conn, pipeline_id, limit, after)
            pipelines = q.get_many(conn, list({r["pipeline_id"] for r in rows}))
        return [_run_json(r, pipelines.get(r["pipeline_id"])) for r in rows]


def _iso(us: int | None) -> str | None:
    return us_to_iso(us) if us is not None else None


def _run_json(row: dict[str, Any], pipeline: Asset | None) -> dict[str, Any]:
    start, end = row["started_at"], row["ended_at"]
    return {
        "run_id": row["run_id"],
        "pipeline": ({"id": pipeline.id, "fqn": pipeline.fqn} if pipeline is not None else None),
        "job": {"namespace": row["job_namespace"], "name": row["job_name"]},
        "state": row["state"],
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_ms": (end - start) // 1000 if start is not None and end is not None else None,
        "error_message": row["error_message"],
        "parent_run_id": row["parent_run_id"],
        "nominal_start_time": _iso(row["nominal_start"]),
        "nominal_end_time": _iso(row["nominal_end"]),
        "producer": row["producer"],
        "events": row["events"],
        "last_event_time": _iso(row["last_event_time"]),
        "_cursor": (row["last_event_time"], row["run_id"]),
    }


__all__ = ["BatchResult", "EventError", "Failure", "OpenLineageIntake", "context_for"]
