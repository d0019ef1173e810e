"""Running recipes: from a file, or a pipeline stored in the catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lodestar.catalog import Catalog, Conflict, Key, NotFound
from lodestar.ingest import registry
from lodestar.ingest.errors import ConfigError
from lodestar.ingest.limits import ServerRunLimits
from lodestar.ingest.recipe import Recipe, check_pipeline_name, expand_env, parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.runner import Progress, run_pipeline
from lodestar.ingest.sinks import PIPELINE_KIND, CatalogSink, ServerSink, Sink
from lodestar.ingest.state import StateStore
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import us_to_iso
from lodestar.settings import Settings
from lodestar.store import Store, open_store


@contextmanager
def sink_for(
    recipe: Recipe,
    settings: Settings,
    catalog: Catalog | None = None,
    limits: ServerRunLimits | None = None,
) -> Iterator[tuple[Sink, StateStore]]:
    """The recipe's sink and the state store beside it (the catalog's own database when
    embedded or running a stored pipeline; a local SQLite file next to the data dir when a
    recipe file writes to a server). A local
    run (no `limits`) may store its recipe; a run by the server keeps the stored one."""
    opened: list[Store] = []
    sink: Sink
    try:
        if recipe.sink.type == "catalog":
            if catalog is None:
                store = open_store(settings.effective_database_url, settings.pool_size)
                opened.append(store)
                catalog = Catalog(store)
            rank = registry.load(recipe.source.type).documentation_rank
            sink = CatalogSink(catalog, recipe.pipeline, local=limits is None, rank=rank)
            state = StateStore(catalog.store)
        else:
            url = expand_env(recipe.sink.url, "sink.url", limits)
            if limits is not None:
                limits.check_url(url, "sink.url")
            token = (
                expand_env(recipe.sink.token, "sink.token", limits) if recipe.sink.token else None
            )
            sink = ServerSink(url, token, recipe.pipeline)
            if catalog is not None:
                # A stored pipeline: its runs stay beside it, where the scheduler reads them
                # for back-off and the API shows them.
                state = StateStore(catalog.store)
            else:
                store = open_store(f"sqlite:///{settings.data_dir / 'ingest-state.db'}")
                opened.append(store)
                state = StateStore(store)
        try:
            yield sink, state
        finally:
            sink.close()
    finally:
        for s in opened:
            s.dispose()


def run_recipe(
    recipe: Recipe,
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    raw: dict[str, Any] | None = None,
    catalog: Catalog | None = None,
    limits: ServerRunLimits | None = None,
    force: bool = False,
) -> RunReport:
    with sink_for(recipe, settings, catalog, limits) as (sink, state):
        return run_pipeline(
            recipe,
            sink,
            state,
            dry_run=dry_run,
            progress=progress,
            raw_recipe=raw,
            limits=limits,
            force=force,
        )


def stored_recipe(catalog: Catalog, name: str) -> tuple[Recipe, dict[str, Any]]:
    try:
        fqn = fqn_mod.quote(check_pipeline_name(name))
    except (fqn_mod.FQNError, ValueError) as e:
        raise ConfigError(f"no pipeline can be named {name!r}: {e}") from None
    try:
        asset = catalog.get(PIPELINE_KIND, Key(fqn=fqn))
    except NotFound:
        raise ConfigError(
            f"no pipeline named {name!r}: run `lodestar ingest recipe.yml` once to store it"
        ) from None
    raw = dict(asset.doc.get("recipe", {}))
    data = {**raw, "pipeline": name}
    if asset.doc.get("schedule"):
        data["schedule"] = asset.doc["schedule"]
    return parse_recipe(data), raw


def run_stored(
    name: str,
    settings: Settings,
    catalog: Catalog,
    progress: Progress | None = None,
    limits: ServerRunLimits | None = None,
) -> RunReport:
    """Run a stored pipeline; `limits` when the server runs it (its scheduler)."""
    recipe, raw = stored_recipe(catalog, name)
    return run_recipe(recipe, settings, progress=progress, raw=raw, catalog=catalog, limits=limits)


def pipeline_runs(catalog: Catalog, pipeline_id: str, limit: int) -> list[dict[str, Any]]:
    """The stored pipeline's latest runs, newest first, the one in progress included."""
    asset = catalog.get(PIPELINE_KIND, Key(id=pipeline_id))
    return StateStore(catalog.store).recent(asset.name, limit)


def ask_to_run(
    catalog: Catalog, pipeline_id: str, request_run: Callable[[str], None] | None
) -> str:
    """Hand the stored pipeline to the server's scheduler to run now; its name. Conflict when
    it cannot start: deleted, already running, or no scheduler in this server."""
    asset = catalog.get(PIPELINE_KIND, Key(id=pipeline_id))
    if asset.deleted:
        raise Conflict(f"pipeline {asset.name!r} is deleted: restore it before running it")
    if request_run is None:
        raise Conflict(
            "this server runs no pipelines (it was started with LODESTAR_SCHEDULER=false): "
            f"run `lodestar pipelines run {asset.name}` where the recipe's secrets are set"
        )
    running = StateStore(catalog.store).running(asset.name)
    if running is not None:
        raise Conflict(
            f"pipeline {asset.name!r} is already running (run {running['id']}, started "
            f"{us_to_iso(running['started_at'])}): wait for it to finish"
        )
    request_run(asset.name)
    return asset.name
