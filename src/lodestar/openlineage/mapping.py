"""One OpenLineage event -> catalog writes, inside the caller's unit of work.

Jobs become pipelines (a `parent` run facet lists the job as a task of its parent's
pipeline), datasets become tables or topics with their `schema` (columns), `documentation`
(description) and `ownership` (owners that exist in the catalog), inputs -> outputs become
lineage edges (`via = "pipeline:<fqn>"`, props `columns`/`pipeline`/`run`), data-quality
facets become observations, and a run event updates the run's row. Every write goes through
the transaction as the write context's origin (`integration:openlineage`), so a description,
owner or tag a person set is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lodestar.catalog import BulkLine, EdgeIn, Transaction
from lodestar.catalog.edges import LINEAGE
from lodestar.catalog.observations import Observation
from lodestar.openlineage import store as ols
from lodestar.openlineage.events import DatasetIn, Event, parse_time
from lodestar.openlineage.naming import Naming, Target, part, without_credentials
from lodestar.store import assets as q

STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
TERMINAL = frozenset({"COMPLETED", "FAILED", "ABORTED"})
MAX_TEXT = 65_536
MAX_CODE = 262_144
QUALITY_FACETS = {
    "dataQualityMetrics": "data_quality_metrics",
    "dataQualityAssertions": "data_quality_assertions",
    "outputStatistics": "output_statistics",
    "inputStatistics": "input_statistics",
}


@dataclass(slots=True)
class Landed:
    """What an event wrote: the pipeline and datasets it maps to, edges, observations."""

    job: str | None = None
    datasets: list[str] = field(default_factory=list)
    edges: int = 0
    observations: int = 0
    run_state: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.job,
            "datasets": self.datasets,
            "lineage_edges": self.edges,
            "observations": self.observations,
            "run_state": self.run_state,
            "problems": self.problems,
        }


def _plain(facet: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facet.items() if not k.startswith("_")}


def _str(value: Any, limit: int = MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


@dataclass(slots=True)
class _Plan:
    """Where one event's names land."""

    ev: Event
    inputs: list[DatasetIn]
    targets: dict[tuple[str, str], Target]
    job: Target | None = None
    parent: Target | None = None
    parent_job: tuple[str, str] | None = None


class EventMapper:
    """Maps events in order inside one transaction: one event, or a batch whose lookups and
    writes are made once for all of its events (the same result as one after the other)."""

    def __init__(self, tx: Transaction, naming: Naming, now: int) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.naming = naming
        self.now = now

    def apply(self, events: list[Event]) -> list[Landed]:
        plans = [self._plan(ev) for ev in events]
        landed = [Landed() for _ in events]
        self._containers(
            [t for p in plans for t in (*p.targets.values(), p.job, p.parent) if t is not None]
        )
        self._datasets(plans, landed)
        self._pipelines(plans)
        self._edges(plans, landed)
        self._observations(plans, landed)
        self._runs(plans, landed)
        self._names(plans)
        ols.append_events(
            self.conn,
            [
                {
                    "received_at": self.now,
                    "event_time": p.ev.event_time,
                    "event_type": p.ev.event_type,
                    "run_id": p.ev.run_id,
                    "job_namespace": p.ev.job_namespace,
                    "job_name": p.ev.job_name,
                    "producer": p.ev.producer,
                    "event": p.ev.raw,
                }
                for p in plans
            ],
        )
        for p, out in zip(plans, landed, strict=True):
            out.job = p.job.fqn if p.job else None
            out.datasets = list(dict.fromkeys(t.fqn for t in p.targets.values()))
        return landed

    def _plan(self, ev: Event) -> _Plan:
        inputs = _with_lineage_inputs(ev)
        targets = {
            (d.namespace, d.name): self.naming.dataset(d.namespace, d.name)
            for d in (*inputs, *ev.outputs)
        }
        plan = _Plan(ev, inputs, targets)
        if ev.job_namespace is None or ev.job_name is None:
            return plan
        job_type = ev.job_facets.get("jobType")
        integration = _str(job_type.get("integration"), 64) if isinstance(job_type, dict) else None
        plan.job = self.naming.job(ev.job_namespace, ev.job_name, integration or "")
        parent = ev.run_facets.get("parent") if ev.run_id else None
        pj = parent.get("job") if isinstance(parent, dict) else None
        if isinstance(pj, dict):
            ns, name = pj.get("namespace"), pj.get("name")
            if (
                isinstance(ns, str)
                and isinstance(name, str)
                and ns
                and name
                and (ns, name) != (ev.job_namespace, ev.job_name)
            ):
                plan.parent = self.naming.job(without_credentials(ns), name)
                plan.parent_job = (without_credentials(ns), name)
        return plan

    # -- assets ---------------------------------------------------------------------------
    def _write(self, lines: list[BulkLine]) -> None:
        if not lines:
            return
        for outcome in self.tx.upsert_many(lines):
            if outcome.error is not None:
                raise outcome.error

    def _containers(self, targets: Iterable[Target]) -> None:
        """Create the services, databases and schemas the targets need and do not find."""
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        for t in targets:
            for kind, fqn, body in t.containers:
                wanted.setdefault((kind, fqn), body)
        have = q.ids_by_fqn(self.conn, list(wanted))
        missing = [k for k in wanted if k not in have or have[k][1]]
        self._write([BulkLine(kind, wanted[(kind, fqn)]) for kind, fqn in missing])

    def _bodies(
        self, targets: Iterable[Target]
    ) -> tuple[dict[Any, dict[str, Any]], dict[Any, Any]]:
        """The stored body of each target (its base body when new), and the stored docs."""
        by_kind: dict[str, dict[str, Target]] = {}
        for t in targets:
            by_kind.setdefault(t.kind, {})[t.fqn] = t
        bodies: dict[tuple[str, str], dict[str, Any]] = {}
        stored: dict[tuple[str, str], Any] = {}
        for kind, wanted in by_kind.items():
            found = q.get_many_by_fqn(self.conn, kind, list(wanted))
            for fqn, t in wanted.items():
                asset = found.get(fqn)
                live = asset is not None and not asset.deleted
                stored[(kind, fqn)] = asset.doc if asset is not None and live else None
                bodies[(kind, fqn)] = (
                    dict(asset.doc) if asset is not None and live else dict(t.body)
                )
        return bodies, stored

    def _flush(self, bodies: dict[Any, dict[str, Any]], stored: dict[Any, Any]) -> None:
        lines = [BulkLine(k[0], b) for k, b in bodies.items() if stored.get(k) != b]
        self._write(lines)

    def _datasets(self, plans: list[_Plan], landed: list[Landed]) -> None:
        bodies, stored = self._bodies(t for p in plans for t in p.targets.values())
        for p, out in zip(plans, landed, strict=True):
            for d in (*p.inputs, *p.ev.outputs):
                t = p.targets[(d.namespace, d.name)]
                body = bodies[(t.kind, t.fqn)]
                doc = d.facets.get("documentation")
                if isinstance(doc, dict) and _str(doc.get("description")):
                    body["description"] = _str(doc.get("description"))
                schema = d.facets.get("schema")
                fields = schema.get("fields") if isinstance(schema, dict) else None
                if t.kind == "table" and isinstance(fields, list):
                    body["columns"] = _columns(fields, body.get("columns") or [])
                owners = d.facets.get("ownership")
                if isinstance(owners, dict):
                    resolved = self._owners(owners, out)
                    if resolved:
                        body["owners"] = resolved
        self._flush(bodies, stored)

    def _owners(self, facet: dict[str, Any], landed: Landed) -> list[dict[str, str]]:
        """Owners named `user:x`, `team:x` or `x` that exist in the catalog; the others are
        reported, not created."""
        wanted: list[tuple[str, str]] = []
        for o in facet.get("owners") or []:
            name = o.get("name") if isinstance(o, dict) else None
            if not isinstance(name, str) or not name:
                continue
            prefix, sep, rest = name.partition(":")
            if sep and prefix in ("user", "team") and rest:
                wanted.append((prefix, rest))
            else:
                wanted.extend([("user", name), ("team", name)])
        have = q.ids_by_fqn(self.conn, wanted)
        out: list[dict[str, str]] = []
        for kind, name in wanted:
            hit = have.get((kind, name))
            entry = {"kind": kind, "fqn": name}
            if hit and not hit[1] and entry not in out:
                out.append(entry)
        missing = {n for _k, n in wanted} - {o["fqn"] for o in out}
        landed.problems.extend(
            f"owner {n!r} is not a user or team of the catalog" for n in sorted(missing)
        )
        return out

    def _pipelines(self, plans: list[_Plan]) -> None:
        bodies, stored = self._bodies(t for p in plans for t in (p.job, p.parent) if t is not None)
        for p in plans:
            if p.job is None:
                continue
            _job_facets(bodies[("pipeline", p.job.fqn)], p.ev.job_facets)
            owners = p.ev.job_facets.get("ownership")
            if isinstance(owners, dict):
                resolved = self._owners(owners, Landed())
                if resolved:
                    bodies[("pipeline", p.job.fqn)]["owners"] = resolved
            if p.parent is not None:
                parent = bodies[("pipeline", p.parent.fqn)]
                tasks = list(parent.get("tasks") or [])
                task = p.job.body["name"]
                if all(t.get("name") != task for t in tasks) and len(tasks) < 4096:
                    parent["tasks"] = [*tasks, {"name": task, "task_type": "openlineage_job"}]
        self._flush(bodies, stored)

    # -- lineage, observations, runs, names -------------------------------------------------
    def _edges(self, plans: list[_Plan], landed: list[Landed]) -> None:
        """Input -> output lineage of each job's event; an edge several events of the batch
        report keeps the last one's props, as if they had come one after the other."""
        # Keyed as the edges table keys them (ends, via, source): two jobs carrying the same
        # flow are two edges, in a batch as one after the other.
        items: dict[tuple[str, str, str, str, str, str], EdgeIn] = {}
        for p, out in zip(plans, landed, strict=True):
            if p.job is None:
                continue
            via = f"pipeline:{p.job.fqn}"
            mine: dict[tuple[str, str, str, str, str, str], EdgeIn] = {}
            for o_in in p.ev.outputs:
                o = p.targets[(o_in.namespace, o_in.name)]
                pairs = _column_pairs(o_in)
                for src in p.inputs:
                    i = p.targets[(src.namespace, src.name)]
                    if (i.kind, i.fqn) == (o.kind, o.fqn):
                        continue
                    key = (i.kind, i.fqn, o.kind, o.fqn, via, p.ev.producer[:200])
                    cols = set(pairs.get((src.namespace, src.name), ()))
                    if key in mine:  # two OpenLineage names for one asset: merge the pairs
                        prev = (mine[key].props or {}).get("columns", [])
                        cols |= {(a, b) for a, b in prev}
                    props: dict[str, Any] = {"pipeline": p.job.fqn}
                    if cols:
                        props["columns"] = [list(c) for c in sorted(cols)]
                    if p.ev.run_id:
                        props["run"] = p.ev.run_id
                    mine[key] = EdgeIn(i.kind, i.fqn, o.kind, o.fqn, LINEAGE, via=via, props=props)
            out.edges = len(mine)
            for key, edge in mine.items():
                items.pop(key, None)
                items[key] = edge
        by_producer: dict[str, list[EdgeIn]] = {}
        for key, edge in items.items():
            by_producer.setdefault(key[5], []).append(edge)
        for producer, edges in by_producer.items():
            result = self.tx.add_edges(edges, qualifier=producer or None)
            if result.problems:
                landed[0].problems.extend(result.problems)

    def _observations(self, plans: list[_Plan], landed: list[Landed]) -> None:
        items: list[Observation] = []
        for p, out in zip(plans, landed, strict=True):
            ev = p.ev
            run_id = ev.run_id if ev.run_id and len(ev.run_id) <= 64 else None
            before = len(items)
            for d in (*ev.inputs, *ev.outputs):
                t = p.targets[(d.namespace, d.name)]
                for facets in (d.facets, d.input_facets, d.output_facets):
                    for facet_name, observation in QUALITY_FACETS.items():
                        facet = facets.get(facet_name)
                        if isinstance(facet, dict):
                            items.append(
                                Observation(
                                    t.kind,
                                    t.fqn,
                                    observation,
                                    _plain(facet),
                                    ev.event_time,
                                    run_id=run_id,
                                )
                            )
            out.observations = len(items) - before
        if items:
            problems = self.tx.record(items)
            if problems:
                landed[0].problems.extend(problems)

    def _runs(self, plans: list[_Plan], landed: list[Landed]) -> None:
        runs = [(p, out) for p, out in zip(plans, landed, strict=True) if p.ev.run_id and p.job]
        if not runs:
            return
        pipelines = q.ids_by_fqn(self.conn, [("pipeline", p.job.fqn) for p, _o in runs if p.job])
        rows = ols.get_runs(self.conn, [str(p.ev.run_id) for p, _o in runs])
        new: set[str] = set()
        changed: set[str] = set()
        for p, out in runs:
            assert p.job is not None and p.ev.run_id is not None
            pipeline = pipelines[("pipeline", p.job.fqn)][0]
            row = rows.get(p.ev.run_id)
            if row is None:
                rows[p.ev.run_id] = _new_run(p.ev, pipeline, self.now)
                new.add(p.ev.run_id)
            else:
                _merge_run(row, p.ev, pipeline, self.now)
                changed.add(p.ev.run_id)
            out.run_state = str(rows[p.ev.run_id]["state"])
        ols.insert_runs(self.conn, [rows[r] for r in new])
        ols.update_runs(self.conn, [rows[r] for r in changed - new])

    def _names(self, plans: list[_Plan]) -> None:
        entries: dict[tuple[str, str, str], tuple[Target, str | None]] = {}
        for p in plans:
            for (ns, name), t in p.targets.items():
                entries[("dataset", ns, name)] = (t, None)
            for d in (*p.ev.inputs, *p.ev.outputs):
                links = d.facets.get("symlinks")
                idents = links.get("identifiers") if isinstance(links, dict) else None
                for ident in idents if isinstance(idents, list) else []:
                    if not isinstance(ident, dict):
                        continue
                    a_ns, a_name = ident.get("namespace"), ident.get("name")
                    if isinstance(a_ns, str) and isinstance(a_name, str) and a_ns and a_name:
                        alias = _str(ident.get("type"), 64) or "symlink"
                        target = p.targets[(d.namespace, d.name)]
                        entries[("dataset", without_credentials(a_ns), a_name)] = (target, alias)
            if p.job is not None and p.ev.job_namespace and p.ev.job_name:
                entries[("job", p.ev.job_namespace, p.ev.job_name)] = (p.job, None)
            if p.parent is not None and p.parent_job is not None:
                entries[("job", *p.parent_job)] = (p.parent, None)
        ids = q.ids_by_fqn(self.conn, [(t.kind, t.fqn) for t, _a in entries.values()])
        rows = []
        for (ol_type, e_ns, e_name), (t, kind) in entries.items():
            hit = ids.get((t.kind, t.fqn))
            if hit is not None:
                rows.append(
                    {
                        "ol_type": ol_type,
                        "namespace": e_ns,
                        "name": e_name,
                        "asset_id": hit[0],
                        "asset_kind": t.kind,
                        "fqn": t.fqn,
                        "alias_type": kind,
                        "updated_at": self.now,
                    }
                )
        ols.put_names(self.conn, rows)


def _with_lineage_inputs(ev: Event) -> list[DatasetIn]:
    """The inputs, plus datasets a `columnLineage` facet reads from that are not listed."""
    inputs = list(ev.inputs)
    seen = {(d.namespace, d.name) for d in (*inputs, *ev.outputs)}
    for out in ev.outputs:
        for src in _lineage_sources(out):
            if src not in seen:
                seen.add(src)
                inputs.append(DatasetIn(*src))
    return inputs


def _job_facets(body: dict[str, Any], f: dict[str, Any]) -> None:
    """documentation, sourceCodeLocation, sql and sourceCode job facets onto a pipeline."""
    doc = f.get("documentation")
    if isinstance(doc, dict) and _str(doc.get("description")):
        body["description"] = _str(doc.get("description"))
    source = dict(body.get("source_code") or {})
    loc = f.get("sourceCodeLocation")
    if isinstance(loc, dict):
        url = _str(loc.get("url"), 2048)
        if url and url.startswith(("http://", "https://")):
            body["source_url"] = url
        for ours, theirs, limit in (
            ("repository", "repoUrl", 2048),
            ("path", "path", 2048),
            ("revision", "version", 512),
        ):
            value = _str(loc.get(theirs), limit)
            if value:
                source[ours] = value
    sql = f.get("sql")
    if isinstance(sql, dict) and _str(sql.get("query"), MAX_CODE):
        source["code"] = _str(sql.get("query"), MAX_CODE)
        source["language"] = "sql"
    code = f.get("sourceCode")
    if isinstance(code, dict) and _str(code.get("sourceCode"), MAX_CODE):
        source["code"] = _str(code.get("sourceCode"), MAX_CODE)
        language = _str(code.get("language"), 512)
        if language:
            source["language"] = language
    if source:
        body["source_code"] = source


def _run_facts(ev: Event) -> dict[str, Any]:
    facets = ev.run_facets
    err = facets.get("errorMessage")
    nominal = facets.get("nominalTime")
    nominal = nominal if isinstance(nominal, dict) else {}
    parent = facets.get("parent")
    parent_run = parent.get("run") if isinstance(parent, dict) else None
    return {
        "error_message": _str(err.get("message")) if isinstance(err, dict) else None,
        "parent_run_id": (
            _str(parent_run.get("runId"), 256) if isinstance(parent_run, dict) else None
        ),
        "nominal_start": _time_or_none(nominal.get("nominalStartTime")),
        "nominal_end": _time_or_none(nominal.get("nominalEndTime")),
    }


def _new_run(ev: Event, pipeline: str, now: int) -> dict[str, Any]:
    state = STATES.get(ev.event_type or "OTHER") or "OTHER"
    t = ev.event_time
    return {
        "run_id": ev.run_id,
        "pipeline_id": pipeline,
        "job_namespace": ev.job_namespace,
        "job_name": ev.job_name,
        "state": state,
        "started_at": t if ev.event_type == "START" else None,
        "ended_at": t if state in TERMINAL else None,
        "last_event_time": t,
        "producer": ev.producer,
        "events": 1,
        "updated_at": now,
        **_run_facts(ev),
    }


def _merge_run(row: dict[str, Any], ev: Event, pipeline: str, now: int) -> None:
    """One more event of a known run: a terminal state (COMPLETE, FAIL, ABORT) wins over
    START and RUNNING whatever the order they arrive in; the latest terminal one wins."""
    t = ev.event_time
    state = STATES.get(ev.event_type or "OTHER")
    current = row["state"]
    if state in TERMINAL:
        if current not in TERMINAL or row["ended_at"] is None or t >= row["ended_at"]:
            row["state"], row["ended_at"] = state, t
    elif state is not None and current not in TERMINAL and t >= row["last_event_time"]:
        row["state"] = state
    if ev.event_type == "START" and (row["started_at"] is None or t < row["started_at"]):
        row["started_at"] = t
    row["pipeline_id"] = pipeline
    row["events"] += 1
    row["updated_at"] = now
    row["last_event_time"] = max(row["last_event_time"], t)
    for name, value in _run_facts(ev).items():
        if value is not None:
            row[name] = value


def _time_or_none(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        return None


def _columns(fields: list[Any], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schema facet's top-level fields as columns; what the stored column holds beyond
    name, type and description (tags, terms, constraint) is kept. The stored list itself when
    the facet says what it already holds (the common case: a job's schema is sent with
    every event)."""
    if len(fields) == len(stored):
        for f, c in zip(fields, stored, strict=True):
            if not isinstance(f, dict) or f.get("name") != c["name"]:
                break
            if (f.get("type") or "unknown") != c["data_type"]:
                break
            if f.get("description") and f["description"] != c.get("description"):
                break
        else:
            return stored
    by_name = {c["name"]: c for c in stored}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            continue
        name = part(f["name"])
        if name in seen:
            continue
        seen.add(name)
        col = {k: v for k, v in by_name.get(name, {}).items() if k != "ordinal"}
        col["name"] = name
        col["data_type"] = _str(f.get("type"), 512) or col.get("data_type") or "unknown"
        if _str(f.get("description")):
            col["description"] = _str(f.get("description"))
        col["ordinal"] = len(out) + 1
        out.append(col)
    return out


def _lineage_sources(out: DatasetIn) -> set[tuple[str, str]]:
    return {(ns, name) for ns, name, _f, _o in _lineage_fields(out)}


def _lineage_fields(out: DatasetIn) -> Iterable[tuple[str, str, str, str]]:
    """(input namespace, input name, input field, output field) of a columnLineage facet."""
    facet = out.facets.get("columnLineage")
    fields = facet.get("fields") if isinstance(facet, dict) else None
    if not isinstance(fields, dict):
        return
    for out_field, spec in fields.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("inputFields"), list):
            continue
        for src in spec["inputFields"]:
            if not isinstance(src, dict):
                continue
            ns, name, fld = src.get("namespace"), src.get("name"), src.get("field")
            ok = isinstance(ns, str) and isinstance(name, str) and isinstance(fld, str)
            if ok and ns and name and fld and out_field:
                yield without_credentials(ns), name, part(fld), part(out_field)


def _column_pairs(out: DatasetIn) -> dict[tuple[str, str], set[tuple[str, str]]]:
    pairs: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for ns, name, fld, out_field in _lineage_fields(out):
        pairs.setdefault((ns, name), set()).add((fld, out_field))
    return pairs


__all__ = ["EventMapper", "Landed"]
