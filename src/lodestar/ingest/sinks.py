"""Where ingested metadata goes: the embedded catalog, or a Lodestar server over HTTP.

Both write as an ingestion origin, so the catalog keeps every description, owner and tag a
person set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from lodestar.auth.principal import Principal, Role
from lodestar.catalog import (
    BulkLine,
    Catalog,
    CatalogError,
    Key,
    NotFound,
    Outcome,
    WriteContext,
)
from lodestar.catalog.changes import keep_person_edits
from lodestar.catalog.edges import LINEAGE, EdgeIn
from lodestar.catalog.errors import Conflict
from lodestar.catalog.observations import Observation
from lodestar.ingest.source import Lineage
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Origin
from lodestar.model.registry import find_kind
from lodestar.store import edges as edges_q
from lodestar.store.engine import Store
from lodestar.usage import queries as query_store
from lodestar.usage.queries import QueryFact

# An edge as the run state names it: (from kind, from FQN, to kind, to FQN, via).
EdgeIdent = tuple[str, str, str, str, str]

PIPELINE_KIND = "ingestion_pipeline"
log = logging.getLogger("lodestar.ingest")


@dataclass(frozen=True, slots=True)
class LineResult:
    kind: str
    fqn: str
    status: str  # created | updated | unchanged | error
    error: str | None = None


@dataclass(slots=True)
class FollowUp:
    """What a batch's written units bring besides their assets: observations, lineage edges,
    and the run-state checkpoint (given the transaction's connection when there is one)."""

    observations: list[Observation] = field(default_factory=list)
    lineage: list[Lineage] = field(default_factory=list)
    queries: list[QueryFact] = field(default_factory=list)
    checkpoint: Callable[[Connection | None], None] | None = None


@dataclass(slots=True)
class BatchResult:
    lines: list[LineResult]
    observation_problems: list[str] = field(default_factory=list)
    lineage_problems: list[str] = field(default_factory=list)
    lineage: list[Lineage] = field(default_factory=list)  # what the batch asserted
    queries_not_stored: int = 0  # query statistics are kept by the embedded catalog only


# Given the batch's line results, what to write with them.
Follow = Callable[[list[LineResult]], FollowUp]


class Sink(Protocol):
    def write(self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool) -> list[LineResult]:
        """Upsert assets; one result per line, in order."""

    def write_batch(
        self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool, follow: Follow
    ) -> BatchResult:
        """Upsert a batch's assets, then what `follow` makes of the results (unless a dry
        run): in one unit of work where the sink can (the embedded catalog)."""

    def live(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (kind, FQN) exist and are not deleted."""

    def observe(self, items: Sequence[Observation]) -> list[str]: ...

    def add_lineage(self, items: Sequence[Lineage]) -> list[str]:
        """Assert lineage edges; a message for each one not stored (an end is missing)."""

    def soft_delete(self, kind: str, fqn: str) -> bool:
        """Soft-delete with what it contains; False when already gone."""

    def save_pipeline(
        self,
        name: str,
        recipe: dict[str, Any],
        schedule: str | None,
        owners: list[dict[str, str]],
        dry_run: bool = False,
    ) -> None:
        """Store the pipeline asset (recipe, schedule, owners when given); `dry_run`: only
        raise what storing it would raise (CatalogError)."""

    def set_health(self, name: str, health: str) -> None: ...

    def retract_stale_lineage(self, keep: set[EdgeIdent]) -> int | None:
        """Retract the pipeline's lineage edges that are not in `keep`; how many went, or
        None where the sink cannot list them (a remote server)."""

    def retract_lineage_seen_before(self, ts: int) -> int | None:
        """Retract the pipeline's lineage edges last seen before `ts` (epoch µs); how many
        went, or None where the sink cannot (a remote server)."""

    def close(self) -> None: ...


def edge_in(item: Lineage) -> EdgeIn:
    """A unit's lineage as the catalog asserts it. Props are always given, so an edge whose
    column pairs went away loses them (props not given would keep the stored ones)."""
    return EdgeIn(
        item.from_kind,
        item.from_fqn,
        item.to_kind,
        item.to_fqn,
        LINEAGE,
        item.via,
        item.edge_props() or {},
    )


def normal_ident(ident: EdgeIdent) -> EdgeIdent | None:
    """An edge's ident as the catalog stores its ends (canonical kind, normalised FQN); None
    for one the catalog would refuse anyway."""
    fk, ff, tk, tf, via = ident
    a, b = find_kind(fk), find_kind(tk)
    if a is None or b is None:
        return None
    try:
        return (a.name, fqn_mod.normalize(ff), b.name, fqn_mod.normalize(tf), via)
    except fqn_mod.FQNError:
        return None


def ingestion_context(pipeline: str, local: bool = False, rank: int = 0) -> WriteContext:
    """A run's write context. A local run (`lodestar ingest`: the user holds the database)
    acts as a steward, so it may store its recipe; a run by the server acts as a bot, which
    may not change what the server runs (the stored recipe, schedule, enabled flag)."""
    role: Role = "steward" if local else "bot"
    principal = Principal(f"ingestion:{pipeline}", role, origin=Origin("ingestion", pipeline))
    return WriteContext.for_principal(principal, rank=rank)


class CatalogSink:
    """Writes straight into the catalog in this process (the embedded deployment)."""

    def __init__(self, catalog: Catalog, pipeline: str, local: bool = True, rank: int = 0) -> None:
        self.catalog = catalog
        self.store: Store = catalog.store
        self.ctx = ingestion_context(pipeline, local, rank)

    def write(self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool) -> list[LineResult]:
        outcomes = self.catalog.bulk_upsert(
            [BulkLine(k, b) for k, b in lines], self.ctx, dry_run=dry_run
        )
        return _line_results(lines, outcomes)

    def write_batch(
        self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool, follow: Follow
    ) -> BatchResult:
        if dry_run:
            results = self.write(lines, dry_run) if lines else []
            follow(results)
            return BatchResult(results)
        with self.catalog.transaction(self.ctx) as tx:
            outcomes = tx.upsert_many([BulkLine(k, b) for k, b in lines])
            results = _line_results(lines, outcomes)
            then = follow(results)
            out = BatchResult(results, tx.record(then.observations))
            if then.lineage:
                out.lineage = then.lineage
                out.lineage_problems = tx.add_edges([edge_in(e) for e in then.lineage]).problems
            if then.queries:
                query_store.record(tx.conn, then.queries, str(self.ctx.origin))
            if then.checkpoint is not None:
                then.checkpoint(tx.conn)
            return out

    def live(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return self.catalog.live(pairs)

    def observe(self, items: Sequence[Observation]) -> list[str]:
        return self.catalog.observations.record(items, self.ctx)

    def add_lineage(self, items: Sequence[Lineage]) -> list[str]:
        with self.catalog.transaction(self.ctx) as tx:
            return tx.add_edges([edge_in(e) for e in items]).problems

    def soft_delete(self, kind: str, fqn: str) -> bool:
        try:
            self.catalog.delete(kind, Key(fqn=fqn), self.ctx, recursive=True)
            return True
        except (NotFound, Conflict):
            return False

    def save_pipeline(
        self,
        name: str,
        recipe: dict[str, Any],
        schedule: str | None,
        owners: list[dict[str, str]],
        dry_run: bool = False,
    ) -> None:
        try:
            current = self.catalog.get(PIPELINE_KIND, Key(fqn=fqn_mod.quote(name)))
            body = {**current.doc, "recipe": recipe}
            if schedule is not None:
                body["schedule"] = schedule
            if owners:
                body["owners"] = owners
            # What the write would keep of a person's edits, so that an owner a person set
            # does not cost a write transaction on every run.
            body = keep_person_edits(current.doc, body, current.provenance)
            if body == current.doc and not current.deleted:
                return  # as stored: no write transaction for an upsert that changes nothing
        except NotFound:
            body = {"name": name, "recipe": recipe, "schedule": schedule, "owners": owners}
        if dry_run:
            (outcome,) = self.catalog.bulk_upsert(
                [BulkLine(PIPELINE_KIND, body)], self.ctx, dry_run=True
            )
            if outcome.error is not None:
                raise outcome.error
            return
        self.catalog.upsert(PIPELINE_KIND, body, self.ctx)

    def set_health(self, name: str, health: str) -> None:
        try:
            current = self.catalog.get(PIPELINE_KIND, Key(fqn=fqn_mod.quote(name)))
        except NotFound:
            return
        if current.doc.get("health") != health:
            self.catalog.upsert(PIPELINE_KIND, {**current.doc, "health": health}, self.ctx)

    def retract_stale_lineage(self, keep: set[EdgeIdent]) -> int:
        wanted = {n for n in map(normal_ident, keep) if n is not None}
        source = str(self.ctx.origin)
        # Read first: a run that changed nothing takes no write transaction for this.
        with self.store.read() as conn:
            have = edges_q.asserted_ends(conn, source=source, relation=LINEAGE)
        stale = [EdgeIn(*e[:4], LINEAGE, e[4]) for e in have if e not in wanted]
        if not stale:
            return 0
        with self.catalog.transaction(self.ctx) as tx:
            return tx.retract_edges(items=stale).removed

    def retract_lineage_seen_before(self, ts: int) -> int:
        with self.catalog.transaction(self.ctx) as tx:
            return tx.retract_edges(relation_name=LINEAGE, seen_before=ts).removed

    def close(self) -> None:
        return None


def _line_results(
    lines: Sequence[tuple[str, dict[str, Any]]], outcomes: Sequence[Outcome]
) -> list[LineResult]:
    out: list[LineResult] = []
    for (kind, body), o in zip(lines, outcomes, strict=True):
        if o.error is not None or o.asset is None:
            detail = o.error.detail if o.error else "not stored"
            out.append(LineResult(kind, str(body.get("name", "?")), "error", detail))
        else:
            out.append(LineResult(kind, o.asset.fqn, str(o.status)))
    return out


class ServerSink:
    """Writes to a Lodestar server through the SDK, declaring itself an ingestion origin.
    Each call is its own request, so a batch is not one unit of work here: the checkpoint is
    written last, and a batch cut short is read again by the next run."""

    def __init__(self, url: str, token: str | None, pipeline: str) -> None:
        from lodestar.client import LodestarClient

        self.pipeline = pipeline
        self.client = LodestarClient(url, token=token, origin=f"ingestion:{pipeline}")

    def write(self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool) -> list[LineResult]:
        if dry_run:
            raise CatalogError("--dry-run needs the embedded catalog sink (sink: type: catalog)")
        results = self.client.bulk([{**body, "kind": kind} for kind, body in lines])
        out: list[LineResult] = []
        for (kind, body), r in zip(lines, results, strict=True):
            if r.get("result") == "error":
                detail = r.get("error", {}).get("detail", "error")
                out.append(LineResult(kind, str(body.get("name", "?")), "error", detail))
            else:
                out.append(LineResult(kind, r["fqn"], r["result"]))
        return out

    def write_batch(
        self, lines: Sequence[tuple[str, dict[str, Any]]], dry_run: bool, follow: Follow
    ) -> BatchResult:
        results = self.write(lines, dry_run) if lines else []
        then = follow(results)
        out = BatchResult(results)
        if then.observations:
            out.observation_problems = self.observe(then.observations)
        if then.lineage:
            out.lineage = then.lineage
            out.lineage_problems = self.add_lineage(then.lineage)
        if then.queries:
            out.queries_not_stored = len(then.queries)
        if then.checkpoint is not None:
            then.checkpoint(None)
        return out

    def live(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        # Trusting the fingerprint: an asset deleted by hand comes back on the next change.
        return set(pairs)

    def observe(self, items: Sequence[Observation]) -> list[str]:
        body = [
            {"kind": o.kind, "fqn": o.fqn, "observation": o.observation, "value": o.value}
            | ({"idempotency_key": o.idempotency_key} if o.idempotency_key else {})
            for o in items
        ]
        result = self.client.request_json("POST", "/api/v1/observations", json_body=body)
        problems: list[str] = result.get("problems", [])
        return problems

    def add_lineage(self, edges: Sequence[Lineage]) -> list[str]:
        body = []
        for e in edges:
            edge = edge_in(e)
            item: dict[str, Any] = {
                "from": {"kind": e.from_kind, "fqn": e.from_fqn},
                "to": {"kind": e.to_kind, "fqn": e.to_fqn},
            }
            if edge.via:
                item["via"] = edge.via
            if edge.props:
                item["props"] = edge.props
            body.append(item)
        result = self.client.request_json("POST", "/api/v1/lineage/edges", json_body=body)
        problems: list[str] = result.get("problems", [])
        return problems

    def soft_delete(self, kind: str, fqn: str) -> bool:
        from lodestar.client import LodestarError

        try:
            self.client.delete(kind, fqn=fqn, recursive=True)
            return True
        except LodestarError as e:
            if e.status in (404, 409):
                return False
            raise

    def save_pipeline(
        self,
        name: str,
        recipe: dict[str, Any],
        schedule: str | None,
        owners: list[dict[str, str]],
        dry_run: bool = False,
    ) -> None:
        if dry_run:
            return  # a dry run needs the embedded catalog: write() says so
        body: dict[str, Any] = {"name": name, "recipe": recipe}
        if schedule is not None:
            body["schedule"] = schedule
        if owners:  # the server keeps an owner a person set over this
            body["owners"] = owners
        from lodestar.client import LodestarError

        try:
            self.client.put(PIPELINE_KIND, body)
        except LodestarError as e:
            if e.status != 403:
                raise
            # Only admins and stewards store what the server runs: a bot's run goes on.
            log.warning("pipeline %r: the recipe is not stored on the server: %s", name, e)

    def set_health(self, name: str, health: str) -> None:
        self.client.patch(PIPELINE_KIND, fqn_mod.quote(name), {"health": health})

    def retract_stale_lineage(self, keep: set[EdgeIdent]) -> int | None:
        return None  # the HTTP API lists no edges by source

    def retract_lineage_seen_before(self, ts: int) -> int | None:
        return None

    def close(self) -> None:
        self.client.close()
