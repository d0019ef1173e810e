"""The pipeline runner: extract units, skip what has not changed, write the rest in batches,
checkpoint after each batch, remove what the source no longer has, and report.

Self-healing behaviour lives here: transient errors are retried by the source's retry policy,
a failing unit is reported and skipped, a killed run is resumed from its last checkpoint, and
stale removal refuses to delete more than the configured share of a pipeline's assets.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from lodestar.catalog.errors import CatalogError
from lodestar.catalog.observations import Observation
from lodestar.ingest import registry
from lodestar.ingest.errors import ConfigError, IngestError
from lodestar.ingest.limits import ServerRunLimits
from lodestar.ingest.recipe import Recipe, errors_text, expand_env
from lodestar.ingest.report import RunReport
from lodestar.ingest.sinks import PIPELINE_KIND, FollowUp, LineResult, Sink
from lodestar.ingest.source import (
    Lineage,
    ObservationItem,
    Source,
    SourceConfig,
    SourceContext,
    Unit,
    as_lineage,
)
from lodestar.ingest.state import EdgeIdent, RunState, StateStore, UnitState, Written
from lodestar.jobs import models as jobs_models
from lodestar.jobs.models import Backoff, JobRun
from lodestar.model import fqn as fqn_mod

log = logging.getLogger("lodestar.ingest")

UNHEALTHY_AFTER = 3
BACKOFF = Backoff(base_s=60.0, max_s=6 * 3600.0)  # 1, 2, 4 ... minutes, at most 6 hours

Progress = Callable[[RunReport], None]


def _digest(value: Any) -> str:
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fingerprint(unit: Unit) -> str:
    """The source's own fingerprint of the unit, else a digest of everything it carries."""
    return unit.fingerprint or _digest([unit.assets, unit.lineage, unit.observations])


def to_observation(item: ObservationItem) -> Observation:
    if len(item) == 5:
        kind, fqn, name, value, key = item
        return Observation(kind, fqn, name, value, idempotency_key=key)
    kind, fqn, name, value = item
    return Observation(kind, fqn, name, value)


def source_config(
    recipe: Recipe, limits: ServerRunLimits | None = None
) -> tuple[type[Source], SourceConfig]:
    """The recipe's connector and its validated config; ConfigError naming the field by its
    full path (`source.config.host: Field required`) when either is wrong."""
    cls = registry.load(recipe.source.type)
    config_data = expand_env(recipe.source.config, "source.config", limits)
    if limits is not None:
        limits.check(config_data, "source.config")
    try:
        return cls, cls.config_model.model_validate(config_data)
    except ValidationError as e:
        where = errors_text(e, prefix="source.config")
        raise ConfigError(f"invalid {recipe.source.type} config: {where}") from None


def open_source(
    recipe: Recipe, ctx: SourceContext, limits: ServerRunLimits | None = None
) -> Source:
    cls, config = source_config(recipe, limits)
    return cls(config, ctx)


@dataclass
class _Run:
    recipe: Recipe
    sink: Sink
    state: StateStore
    report: RunReport
    run: RunState
    dry_run: bool
    progress: Progress | None
    units_now: dict[str, UnitState] = field(default_factory=dict)
    written_bodies: dict[str, tuple[str, str]] = field(default_factory=dict)
    counted: set[tuple[str, str]] = field(default_factory=set)
    # unit key -> fingerprint, for the committed units whose assets are all still live
    previous: dict[str, str] = field(default_factory=dict)
    # keys of the units that failed in this run (to extract or to write)
    failed: set[str] = field(default_factory=set)
    # lineage of batches where an edge's end did not exist (yet): sent again after the last
    # batch, since a view may come before the table it reads
    deferred: list[Lineage] = field(default_factory=list)
    deferred_problems: int = 0

    @property
    def pipeline(self) -> str:
        return self.recipe.pipeline

    def _count(self, kind: str, fqn: str, status: str) -> None:
        if (kind, fqn) not in self.counted:
            self.counted.add((kind, fqn))
            self.report.count(status)

    def load_previous(self) -> None:
        """What may be skipped: the committed units whose assets the catalog still has live
        (one whose asset was deleted by hand is sent again), checked once per run."""
        prior = self.run.units
        pairs = list(dict.fromkeys(a for st in prior.values() if st.fingerprint for a in st.assets))
        live = self.sink.live(pairs) if pairs else set()
        # A unit committed before its edges were tracked is sent again once, so that stale
        # edge removal knows what it reports.
        self.previous = {
            k: st.fingerprint
            for k, st in prior.items()
            if st.fingerprint and st.lineage is not None and all(a in live for a in st.assets)
        }

    def keep_prior(self, key: str) -> None:
        """A unit that failed keeps what it committed before: not stale, not deleted, and
        read again next run (its fingerprint no longer matches the source)."""
        self.failed.add(key)
        st = self.run.units.get(key)
        if st is not None and key not in self.units_now:
            self.units_now[key] = UnitState(self.run.run_id, st.fingerprint, st.assets, st.lineage)

    def flush(self, batch: list[Unit]) -> None:
        if not batch:
            return
        if self.dry_run:  # a dry run keeps nothing an earlier batch planned
            self.written_bodies.clear()
        prior = self.run.units
        fps = {u.key: fingerprint(u) for u in batch}
        skipped = [u for u in batch if self.previous.get(u.key) == fps[u.key]]
        skipped_keys = {u.key for u in skipped}
        to_send = [u for u in batch if u.key not in skipped_keys]

        lines: list[tuple[str, dict[str, Any]]] = []
        line_of: dict[str, int] = {}
        for u in to_send:
            for kind, body in u.assets:
                h = _digest([kind, body])
                if h not in self.written_bodies and h not in line_of:
                    line_of[h] = len(lines)
                    lines.append((kind, body))
        for u in skipped:
            if not u.marker:
                self.report.units_skipped += 1
                self.report.units_not_extracted += u.unchanged
            for kind, fqn in prior[u.key].assets:
                self._count(kind, fqn, "unchanged")
            was = prior[u.key]
            self.units_now[u.key] = UnitState(self.run.run_id, fps[u.key], was.assets, was.lineage)

        def follow(results: list[LineResult]) -> FollowUp:
            return self._follow(to_send, fps, line_of, results)

        if to_send:
            # The batch's assets, observations, lineage and checkpoint land as one unit of work:
            # a crash between them cannot leave a unit committed without its facts, or the
            # reverse. Only written units are committed; a skipped unit's row is already right
            # (stale removal counts what this run saw in memory, `units_now`, and a run killed
            # before the end merely looks at its skipped units again).
            batch_result = self.sink.write_batch(lines, self.dry_run, follow)
            for problem in batch_result.observation_problems:
                self.report.warn(problem)
            self.report.observations -= len(batch_result.observation_problems)
            if batch_result.queries_not_stored:
                self.report.queries -= batch_result.queries_not_stored
                self.report.warn(
                    f"{batch_result.queries_not_stored} parsed queries not stored: query "
                    "statistics are kept by the embedded catalog sink only"
                )
            if batch_result.lineage_problems:
                self.deferred.extend(batch_result.lineage)
                self.deferred_problems += len(batch_result.lineage_problems)
            self.report.lineage_edges -= len(batch_result.lineage_problems)
        if self.progress is not None:
            self.progress(self.report)

    def _follow(
        self,
        to_send: list[Unit],
        fps: dict[str, str],
        line_of: dict[str, int],
        results: list[LineResult],
    ) -> FollowUp:
        """Per unit: failed (a line of it failed) or written; what the written ones bring."""
        written: list[Written] = []
        lineage: list[Lineage] = []
        for r in results:
            if r.status != "error":
                self._count(r.kind, r.fqn, r.status)
        for u in to_send:
            assets: list[tuple[str, str]] = []
            error: str | None = None
            for kind, body in u.assets:
                h = _digest([kind, body])
                if h in self.written_bodies:
                    assets.append(self.written_bodies[h])
                    continue
                r = results[line_of[h]]
                if r.status == "error":
                    error = error or f"{kind} {body.get('name', '?')!r}: {r.error}"
                else:
                    assets.append((kind, r.fqn))
            if error is not None:
                self.report.units_failed += 1
                self.report.fail(f"{u.key}: {error}")
                self.keep_prior(u.key)
                continue
            for kind, body in u.assets:
                h = _digest([kind, body])
                idx = line_of.get(h)
                if idx is not None and h not in self.written_bodies:
                    self.written_bodies[h] = (kind, results[idx].fqn)
            edges = [as_lineage(e) for e in u.lineage]
            idents = list(dict.fromkeys(e.ident for e in edges))
            written.append((u.key, fps[u.key], assets, idents))
            lineage.extend(edges)
            self.units_now[u.key] = UnitState(self.run.run_id, fps[u.key], assets, idents)
        if self.dry_run:
            return FollowUp()
        # Observations of a skipped unit are the ones already recorded: only new facts go in.
        ok = {w[0] for w in written}
        obs = [to_observation(o) for u in to_send if u.key in ok for o in u.observations]
        queries = [q for u in to_send if u.key in ok for q in u.queries]
        self.report.observations += len(obs)
        self.report.queries += len(queries)
        self.report.lineage_edges += len(lineage)
        pipeline, run_id = self.pipeline, self.run.run_id

        def checkpoint(conn: Connection | None) -> None:
            if not written:
                return
            if conn is None:
                self.state.commit(pipeline, run_id, written)
            else:
                self.state.commit_in(conn, pipeline, run_id, written)

        return FollowUp(obs, lineage, queries, checkpoint)

    def add_deferred_lineage(self) -> None:
        """Send the lineage of batches that had an end missing once more, now that every
        batch's assets are written; what is still missing is a warning."""
        if not self.deferred or self.dry_run:
            return
        problems = self.sink.add_lineage(self.deferred)
        for problem in problems:
            self.report.warn(problem)
        self.report.lineage_edges += self.deferred_problems - len(problems)
        self.deferred.clear()

    def remove_stale(
        self,
        scope: list[tuple[str, str]],
        in_scope: Callable[[str, str], bool],
        *,
        assets: bool = True,
        append_only: bool = False,
        expire_before: int | None = None,
    ) -> None:
        """Soft-delete the assets (with `assets`) and retract the lineage edges this complete
        run no longer reported, keeping what failed units (and what lies under them) had. An
        append-only source reports only what is new: its edges expire by age instead."""
        if append_only:
            if expire_before is not None and not self.dry_run:
                removed = self.sink.retract_lineage_seen_before(expire_before)
                self.report.lineage_removed += removed or 0
            return
        opts = self.recipe.options
        current = {k for k, st in self.units_now.items() if st.run_id == self.run.run_id}

        def under_failed(name: str) -> bool:
            """Whether `name` (a unit key or an asset FQN) is in the scope of a failed unit: a
            database or schema that failed did not list what it holds, so none of it is
            stale."""
            return any(name == f or name.startswith(f + ".") for f in self.failed)

        stale_keys = [k for k in self.run.units if k not in current and not under_failed(k)]
        if stale_keys:
            ratio = len(stale_keys) / (len(stale_keys) + len(current))
            if ratio > opts.max_deletion_ratio:
                self.report.warn(
                    f"not deleting anything: {len(stale_keys)} of "
                    f"{len(stale_keys) + len(current)} units ({ratio:.0%}) were not seen, over "
                    f"max_deletion_ratio {opts.max_deletion_ratio:.0%}. If the source really "
                    "lost them, raise options.max_deletion_ratio for one run."
                )
                return
            if assets:
                self._remove_stale_assets(stale_keys, current, scope, in_scope, under_failed)
        if not self.dry_run:
            self._remove_stale_lineage(current, under_failed)
        if stale_keys and assets and not self.dry_run:
            self.state.forget(self.pipeline, stale_keys)

    def _remove_stale_lineage(self, current: set[str], under_failed: Callable[[str], bool]) -> None:
        """Every lineage edge of this pipeline that no unit of this run reported goes, except
        those of units kept as they were (failed, or under a failed unit)."""
        kept = [self.units_now[k] for k in current]
        kept += [st for k, st in self.run.units.items() if k not in current and under_failed(k)]
        if any(st.lineage is None for st in kept):
            return  # a failed unit from before edges were tracked: what it reported is unknown
        keep: set[EdgeIdent] = {e for st in kept for e in st.lineage or ()}
        removed = self.sink.retract_stale_lineage(keep)
        if removed is None:
            if self.report.lineage_edges:
                self.report.warn(
                    "lineage edges this pipeline no longer reports are removed only by the "
                    "embedded catalog sink"
                )
            return
        self.report.lineage_removed += removed

    def _remove_stale_assets(
        self,
        stale_keys: list[str],
        current: set[str],
        scope: list[tuple[str, str]],
        in_scope: Callable[[str, str], bool],
        under_failed: Callable[[str], bool],
    ) -> None:
        seen = {a for k in current for a in self.units_now[k].assets}
        stale = {
            a
            for k in stale_keys
            for a in self.run.units[k].assets
            if a not in seen and not under_failed(a[1])
        }

        def owned(kind: str, fqn: str) -> bool:
            under = any(fqn == p or fqn.startswith(p + ".") for _k, p in scope)
            return kind != "service" and under and in_scope(kind, fqn)

        order = sorted(
            (a for a in stale if owned(*a)),
            key=lambda a: (-len(fqn_mod.split(a[1])), a[1]),
        )
        if self.dry_run:
            self.report.would_delete = [f"{k} {f}" for k, f in order][:100]
            return
        for kind, fqn in order:
            if self.sink.soft_delete(kind, fqn):
                self.report.deleted += 1


def run_pipeline(
    recipe: Recipe,
    sink: Sink,
    state: StateStore,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    raw_recipe: dict[str, Any] | None = None,
    limits: ServerRunLimits | None = None,
    force: bool = False,
) -> RunReport:
    """Run a recipe once; never raises for a source problem: the report says what failed.
    `limits`: what a run by the server may reach (None: a local run, unlimited)."""
    report = RunReport(recipe.pipeline, dry_run=dry_run)
    ctx = SourceContext(recipe.pipeline, recipe.filters, recipe.options)
    # A recipe the connector cannot take is a recipe error, like a bad field elsewhere in
    # it: raised before anything is stored (a dry run checks the same). Opening a source
    # validates its config; it connects only in check().
    source = open_source(recipe, ctx) if limits is None else open_source(recipe, ctx, limits)
    not_saved: str | None = None
    owners = [o.model_dump() for o in recipe.owners]
    raw = raw_recipe or recipe.model_dump()
    try:
        # what the real run would refuse to store (a bad cron, a secret in clear, an owner
        # the catalog lacks) a dry run refuses alike, storing nothing
        sink.save_pipeline(recipe.pipeline, raw, recipe.schedule, owners, dry_run=dry_run)
    except CatalogError:
        source.close()
        raise  # the recipe is wrong (an owner the catalog lacks...): say so, run nothing
    except Exception as e:  # an unreachable sink: a failed run, recorded and backed off
        not_saved = f"storing the pipeline in the sink: {type(e).__name__}: {e}"
    try:
        run = state.peek(recipe.pipeline) if dry_run else state.begin(recipe.pipeline, force=force)
    except BaseException:  # already running elsewhere...
        source.close()
        raise
    report.run_id, report.resumed = run.run_id, run.resumed
    if not dry_run:
        log.info(
            "pipeline %r: run %s %s",
            recipe.pipeline,
            run.run_id,
            "resumed" if run.resumed else "started",
        )
    r = _Run(recipe, sink, state, report, run, dry_run, progress)
    beat = None if dry_run else state.keep_alive(run.run_id)
    complete = False
    scope: list[tuple[str, str]] = []
    try:
        if not_saved is not None:
            raise IngestError(not_saved)
        recipe.options.retry.run(f"connect to the {recipe.source.type} source", source.check)
        r.load_previous()
        source.skip_unchanged(r.previous)
        batch: list[Unit] = []
        for unit in source.units():
            report.units += not unit.marker
            prior = run.units.get(unit.key)
            if run.resumed and prior is not None and prior.run_id == run.run_id:
                report.units_resumed += not unit.marker
                r.units_now[unit.key] = prior
                continue
            if unit.unchanged and (
                unit.fingerprint is None or r.previous.get(unit.key) != unit.fingerprint
            ):  # a connector bug: never keep what was not committed with this fingerprint
                unit.error = "the source skipped it as unchanged, but it was not committed so"
            if unit.error is not None:
                report.units_failed += 1
                report.fail(f"{unit.key}: {unit.error}")
                r.keep_prior(unit.key)
                continue
            batch.append(unit)
            if len(batch) >= recipe.options.batch_size:
                r.flush(batch)
                batch = []
        r.flush(batch)
        r.add_deferred_lineage()
        scope = source.scope()  # while the source is still open
        complete = True
    except (IngestError, CatalogError) as e:
        report.fail(str(e))
    except Exception as e:  # a connector bug must still end the run with a report
        report.fail(f"unexpected {type(e).__name__}: {e}")
    finally:
        if beat is not None:
            beat.set()
        source.close()
    for w in ctx.warnings:
        report.warn(w)
    # Stale removal runs after every complete run, also one with failed units: a failed unit
    # keeps what it committed before (keep_prior), and so does everything under its key (a
    # failed database or schema), while what the units that did complete no longer list goes.
    # One unit failing for a reason of its own (a broken view) must not keep every dropped
    # table of the source in the catalog for as long as it fails.
    if complete:
        try:
            r.remove_stale(
                scope,
                source.in_scope,
                assets=recipe.options.mark_deleted,
                append_only=source.append_only,
                expire_before=source.lineage_expires_before(),
            )
        except (IngestError, CatalogError) as e:
            report.fail(f"stale removal: {e}")
            complete = False
        except Exception as e:  # the run must still end with a status
            report.fail(f"stale removal: unexpected {type(e).__name__}: {e}")
            complete = False
    report.status = "failed" if not complete else ("partial" if report.units_failed else "success")
    report.ended = time.time()
    if not dry_run:
        state.finish(run.run_id, report.status, report.to_dict())
        try:
            _record(sink, state, recipe.pipeline, report)
        except Exception as e:  # the run is recorded; its observation and health wait
            log.warning("pipeline %r: could not record the run in the sink: %s", recipe.pipeline, e)
    return report


def record_failed_run(sink: Sink, state: StateStore, pipeline: str, failure: str) -> RunReport:
    """A run that could not start (its stored recipe is unusable, its sink unreachable...)
    still counts: recorded as failed, so back-off and health apply as to any failed run."""
    run = state.begin(pipeline)
    report = RunReport(pipeline)
    report.run_id = run.run_id
    report.fail(failure)
    report.status = "failed"
    report.ended = time.time()
    state.finish(run.run_id, report.status, report.to_dict())
    try:
        _record(sink, state, pipeline, report)
    except Exception as e:
        log.warning("pipeline %r: could not record the failed run: %s", pipeline, e)
    return report


def _record(sink: Sink, state: StateStore, pipeline: str, report: RunReport) -> None:
    value = {
        k: v
        for k, v in report.to_dict().items()
        if k not in ("would_delete", "pipeline", "dry_run")
    }
    sink.observe([Observation(PIPELINE_KIND, fqn_mod.quote(pipeline), "pipeline_run", value)])
    failures = consecutive_failures(state.recent(pipeline))
    if report.status in ("success", "partial"):
        sink.set_health(pipeline, "healthy")
    elif failures >= UNHEALTHY_AFTER:
        sink.set_health(pipeline, "unhealthy")


def consecutive_failures(runs: list[dict[str, Any]]) -> int:
    return jobs_models.consecutive_failures([JobRun.from_row(r) for r in runs])


def backoff_until(runs: list[dict[str, Any]]) -> int | None:
    """Epoch microseconds before which a failing pipeline should not be retried."""
    return BACKOFF.until([JobRun.from_row(r) for r in runs])
