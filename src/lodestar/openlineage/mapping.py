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

from lodestar.catalog import BulkLine, CatalogError, EdgeIn, Transaction
from lodestar.catalog.edges import LINEAGE
from lodestar.catalog.observations import Observation
from lodestar.model.records import Asset
from lodestar.openlineage import store as ols
from lodestar.openlineage.events import DatasetIn, Event, parse_time
from lodestar.openlineage.naming import Naming, Target, part
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


class EventMapper:
    def __init__(self, tx: Transaction, naming: Naming, now: int) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.naming = naming
        self.now = now

    # -- the event ------------------------------------------------------------------------
    def apply(self, ev: Event) -> Landed:
        landed = Landed()
        inputs = self._with_lineage_inputs(ev)
        datasets = [*inputs, *ev.outputs]
        targets = {
            (d.namespace, d.name): self.naming.dataset(d.namespace, d.name) for d in datasets
        }
        job_target = parent_target = None
        parent = ev.run_facets.get("parent") if ev.run_id else None
        parent_job = parent.get("job") if isinstance(parent, dict) else None
        if ev.job_namespace is not None and ev.job_name is not None:
            integration = ev.job_facets.get("jobType", {}).get("integration", "")
            job_target = self.naming.job(ev.job_namespace, ev.job_name, _str(integration) or "")
            if (
                isinstance(parent_job, dict)
                and isinstance(parent_job.get("namespace"), str)
                and isinstance(parent_job.get("name"), str)
                and parent_job["name"]
                and (parent_job["namespace"], parent_job["name"]) != (ev.job_namespace, ev.job_name)
            ):
                parent_target = self.naming.job(parent_job["namespace"], parent_job["name"])
        all_targets = [*targets.values(), *(t for t in (job_target, parent_target) if t)]
        self._containers(all_targets)
        self._datasets(datasets, targets, landed)
        if job_target is not None:
            landed.job = job_target.fqn
            self._pipeline(ev, job_target, parent_target)
            self._edges(ev, inputs, targets, job_target.fqn, landed)
        if ev.run_id is not None and job_target is not None:
            landed.run_state = self._run(ev, job_target.fqn)
        landed.observations = self._observations(ev, targets, landed)
        self._names(ev, targets, job_target, parent_target, parent_job)
        ols.append_events(
            self.conn,
            [
                {
                    "received_at": self.now,
                    "event_time": ev.event_time,
                    "event_type": ev.event_type,
                    "run_id": ev.run_id,
                    "job_namespace": ev.job_namespace,
                    "job_name": ev.job_name,
                    "producer": ev.producer,
                    "event": ev.raw,
                }
            ],
        )
        landed.datasets = list(dict.fromkeys(t.fqn for t in targets.values()))
        return landed

    @staticmethod
    def _with_lineage_inputs(ev: Event) -> list[DatasetIn]:
        """The inputs, plus datasets a `columnLineage` facet reads from that are not listed."""
        inputs = list(ev.inputs)
        seen = {(d.namespace, d.name) for d in inputs} | {(d.namespace, d.name) for d in ev.outputs}
        for out in ev.outputs:
            for src in _lineage_sources(out):
                if src not in seen:
                    seen.add(src)
                    inputs.append(DatasetIn(*src))
        return inputs

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

    def _existing(self, targets: Iterable[Target]) -> dict[tuple[str, str], Asset]:
        by_kind: dict[str, list[str]] = {}
        for t in targets:
            by_kind.setdefault(t.kind, []).append(t.fqn)
        out: dict[tuple[str, str], Asset] = {}
        for kind, fqns in by_kind.items():
            for fqn, asset in q.get_many_by_fqn(self.conn, kind, fqns).items():
                out[(kind, fqn)] = asset
        return out

    def _datasets(
        self, datasets: list[DatasetIn], targets: dict[tuple[str, str], Target], landed: Landed
    ) -> None:
        existing = self._existing(targets.values())
        bodies: dict[tuple[str, str], dict[str, Any]] = {}
        for d in datasets:
            t = targets[(d.namespace, d.name)]
            key = (t.kind, t.fqn)
            if key not in bodies:
                stored = existing.get(key)
                bodies[key] = dict(stored.doc) if stored and not stored.deleted else dict(t.body)
            body = bodies[key]
            doc = d.facets.get("documentation")
            if isinstance(doc, dict) and _str(doc.get("description")):
                body["description"] = _str(doc.get("description"))
            schema = d.facets.get("schema")
            if (
                t.kind == "table"
                and isinstance(schema, dict)
                and isinstance(schema.get("fields"), list)
            ):
                body["columns"] = _columns(schema["fields"], body.get("columns") or [])
            owners = d.facets.get("ownership")
            if isinstance(owners, dict):
                resolved = self._owners(owners, landed)
                if resolved:
                    body["owners"] = resolved
        lines = []
        for key, body in bodies.items():
            stored = existing.get(key)
            if stored is None or stored.deleted or stored.doc != body:
                lines.append(BulkLine(key[0], body))
        self._write(lines)

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
            if hit and not hit[1]:
                entry = {"kind": kind, "fqn": name}
                if entry not in out:
                    out.append(entry)
        named = {n for _k, n in wanted}
        found = {o["fqn"] for o in out}
        landed.problems.extend(
            f"owner {n!r} is not a user or team of the catalog" for n in sorted(named - found)
        )
        return out

    def _pipeline(self, ev: Event, target: Target, parent: Target | None) -> None:
        existing = self._existing([t for t in (target, parent) if t])
        stored = existing.get(("pipeline", target.fqn))
        body = dict(stored.doc) if stored and not stored.deleted else dict(target.body)
        f = ev.job_facets
        doc = f.get("documentation")
        if isinstance(doc, dict) and _str(doc.get("description")):
            body["description"] = _str(doc.get("description"))
        source = dict(body.get("source_code") or {})
        loc = f.get("sourceCodeLocation")
        if isinstance(loc, dict):
            url = _str(loc.get("url"), 2048)
            if url and url.startswith(("http://", "https://")):
                body["source_url"] = url
            for ours, theirs in (
                ("repository", "repoUrl"),
                ("path", "path"),
                ("revision", "version"),
            ):
                value = _str(loc.get(theirs), 2048 if ours != "revision" else 256)
                if value:
                    source[ours] = value
        sql = f.get("sql")
        if isinstance(sql, dict) and _str(sql.get("query"), MAX_CODE):
            source["code"] = _str(sql.get("query"), MAX_CODE)
            source["language"] = "sql"
        code = f.get("sourceCode")
        if isinstance(code, dict) and _str(code.get("sourceCode"), MAX_CODE):
            source["code"] = _str(code.get("sourceCode"), MAX_CODE)
            if _str(code.get("language"), 256):
                source["language"] = _str(code.get("language"), 256)
        if source:
            body["source_code"] = source
        owners = f.get("ownership")
        if isinstance(owners, dict):
            resolved = self._owners(owners, Landed())
            if resolved:
                body["owners"] = resolved
        lines = []
        if stored is None or stored.deleted or stored.doc != body:
            lines.append(BulkLine("pipeline", body))
        if parent is not None:
            p_stored = existing.get(("pipeline", parent.fqn))
            p_body = dict(p_stored.doc) if p_stored and not p_stored.deleted else dict(parent.body)
            tasks = list(p_body.get("tasks") or [])
            task = target.body["name"]
            if all(t.get("name") != task for t in tasks) and len(tasks) < 4096:
                p_body["tasks"] = [*tasks, {"name": task, "task_type": "openlineage_job"}]
            if p_stored is None or p_stored.deleted or p_stored.doc != p_body:
                lines.append(BulkLine("pipeline", p_body))
        self._write(lines)

    # -- lineage, observations, runs, names -------------------------------------------------
    def _edges(
        self,
        ev: Event,
        inputs: list[DatasetIn],
        targets: dict[tuple[str, str], Target],
        job_fqn: str,
        landed: Landed,
    ) -> None:
        items: dict[tuple[str, str, str, str], EdgeIn] = {}
        for out in ev.outputs:
            o = targets[(out.namespace, out.name)]
            pairs = _column_pairs(out)
            for src in inputs:
                i = targets[(src.namespace, src.name)]
                if (i.kind, i.fqn) == (o.kind, o.fqn):
                    continue
                props: dict[str, Any] = {"pipeline": job_fqn}
                cols = sorted(pairs.get((src.namespace, src.name), ()))
                key = (i.kind, i.fqn, o.kind, o.fqn)
                if key in items:  # two OpenLineage names for one asset: merge the pairs
                    prev = items[key].props or {}
                    cols = sorted({*map(tuple, prev.get("columns", [])), *cols})
                if cols:
                    props["columns"] = [list(c) for c in cols]
                if ev.run_id:
                    props["run"] = ev.run_id
                items[key] = EdgeIn(
                    i.kind, i.fqn, o.kind, o.fqn, LINEAGE, via=f"pipeline:{job_fqn}", props=props
                )
        if not items:
            return
        qualifier = ev.producer[:200] or None
        result = self.tx.add_edges(list(items.values()), qualifier=qualifier)
        landed.edges = result.added + result.refreshed
        landed.problems.extend(result.problems)

    def _observations(
        self, ev: Event, targets: dict[tuple[str, str], Target], landed: Landed
    ) -> int:
        items: list[Observation] = []
        run_id = ev.run_id if ev.run_id and len(ev.run_id) <= 64 else None
        for d in [*ev.inputs, *ev.outputs]:
            t = targets[(d.namespace, d.name)]
            for facets in (d.facets, d.input_facets, d.output_facets):
                for facet_name, observation in QUALITY_FACETS.items():
                    facet = facets.get(facet_name)
                    if isinstance(facet, dict):
                        value = _plain(facet)
                        items.append(
                            Observation(
                                t.kind, t.fqn, observation, value, ev.event_time, run_id=run_id
                            )
                        )
        if not items:
            return 0
        recorded = self.tx.record(items)
        landed.problems.extend(recorded)
        return len(items)

    def _run(self, ev: Event, pipeline_fqn: str) -> str:
        assert ev.run_id is not None and ev.job_namespace is not None and ev.job_name is not None
        pipeline = q.ids_by_fqn(self.conn, [("pipeline", pipeline_fqn)])[
            ("pipeline", pipeline_fqn)
        ][0]
        facets = ev.run_facets
        err = facets.get("errorMessage")
        error = _str(err.get("message")) if isinstance(err, dict) else None
        nominal = facets.get("nominalTime")
        n_start = (
            _time_or_none(nominal.get("nominalStartTime")) if isinstance(nominal, dict) else None
        )
        n_end = _time_or_none(nominal.get("nominalEndTime")) if isinstance(nominal, dict) else None
        parent = facets.get("parent")
        parent_run = parent.get("run") if isinstance(parent, dict) else None
        parent_id = _str(parent_run.get("runId"), 256) if isinstance(parent_run, dict) else None
        state = STATES.get(ev.event_type or "OTHER")
        t = ev.event_time
        row = ols.get_run(self.conn, ev.run_id, for_update=True)
        if row is None:
            values: dict[str, Any] = {
                "run_id": ev.run_id,
                "pipeline_id": pipeline,
                "job_namespace": ev.job_namespace,
                "job_name": ev.job_name,
                "state": state or "OTHER",
                "started_at": t if ev.event_type == "START" else None,
                "ended_at": t if state in TERMINAL else None,
                "last_event_time": t,
                "error_message": error,
                "parent_run_id": parent_id,
                "nominal_start": n_start,
                "nominal_end": n_end,
                "producer": ev.producer,
                "events": 1,
                "updated_at": self.now,
            }
            ols.insert_run(self.conn, values)
            return str(values["state"])
        values = {
            "pipeline_id": pipeline,
            "events": row["events"] + 1,
            "updated_at": self.now,
            "last_event_time": max(row["last_event_time"], t),
        }
        if ev.event_type == "START" and (row["started_at"] is None or t < row["started_at"]):
            values["started_at"] = t
        current = row["state"]
        if state in TERMINAL:
            if current not in TERMINAL or row["ended_at"] is None or t >= row["ended_at"]:
                values["state"], values["ended_at"] = state, t
        elif state is not None and current not in TERMINAL and t >= row["last_event_time"]:
            values["state"] = state
        for name, value in (
            ("error_message", error),
            ("parent_run_id", parent_id),
            ("nominal_start", n_start),
            ("nominal_end", n_end),
        ):
            if value is not None:
                values[name] = value
        ols.update_run(self.conn, ev.run_id, values)
        return str(values.get("state", current))

    def _names(
        self,
        ev: Event,
        targets: dict[tuple[str, str], Target],
        job: Target | None,
        parent: Target | None,
        parent_job: Any,
    ) -> None:
        entries: list[tuple[str, str, str, Target, str | None]] = [
            ("dataset", ns, name, t, None) for (ns, name), t in targets.items()
        ]
        for d in [*ev.inputs, *ev.outputs]:
            links = d.facets.get("symlinks")
            for ident in (links.get("identifiers") or []) if isinstance(links, dict) else []:
                if not isinstance(ident, dict):
                    continue
                ns, name = ident.get("namespace"), ident.get("name")
                if isinstance(ns, str) and isinstance(name, str) and ns and name:
                    kind = _str(ident.get("type"), 64) or "symlink"
                    entries.append(("dataset", ns, name, targets[(d.namespace, d.name)], kind))
        if job is not None and ev.job_namespace is not None and ev.job_name is not None:
            entries.append(("job", ev.job_namespace, ev.job_name, job, None))
        if parent is not None:
            entries.append(("job", parent_job["namespace"], parent_job["name"], parent, None))
        pairs = [(t.kind, t.fqn) for _o, _ns, _n, t, _a in entries]
        ids = q.ids_by_fqn(self.conn, pairs)
        rows = []
        for ol_type, ns, name, t, alias in entries:
            hit = ids.get((t.kind, t.fqn))
            if hit is None:
                continue
            rows.append(
                {
                    "ol_type": ol_type,
                    "namespace": ns,
                    "name": name,
                    "asset_id": hit[0],
                    "asset_kind": t.kind,
                    "fqn": t.fqn,
                    "alias_type": alias,
                    "updated_at": self.now,
                }
            )
        ols.put_names(self.conn, rows)


def _time_or_none(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        return None


def _columns(fields: list[Any], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schema facet's top-level fields as columns; what the stored column holds beyond
    name, type and description (tags, terms, constraint) is kept."""
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
                yield ns, name, part(fld), part(out_field)


def _column_pairs(out: DatasetIn) -> dict[tuple[str, str], set[tuple[str, str]]]:
    pairs: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for ns, name, fld, out_field in _lineage_fields(out):
        pairs.setdefault((ns, name), set()).add((fld, out_field))
    return pairs


__all__ = ["CatalogError", "EventMapper", "Landed"]
