"""The job kind registry: each kind registers a factory once per process, at import of its
module (ingestion's is `lodestar.ingest.jobs`); the scheduler builds every registered kind on
the catalog it runs against. Built-in kinds are imported on first use, as asset kinds are."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from lodestar.catalog import Catalog
from lodestar.jobs.models import JobKind
from lodestar.settings import Settings

JobKindFactory = Callable[[Catalog, Settings], JobKind]

BUILTIN = ("lodestar.ingest.jobs", "lodestar.series_retention", "lodestar.quality.jobs")

_FACTORIES: dict[str, JobKindFactory] = {}
_loaded = False


def register(name: str, factory: JobKindFactory) -> None:
    if name in _FACTORIES and _FACTORIES[name] is not factory:
        raise ValueError(f"job kind {name!r} is registered twice")
    _FACTORIES[name] = factory


def unregister(name: str) -> None:
    """Forget a kind (a test's, or a plugin being unloaded); unknown names are ignored."""
    _FACTORIES.pop(name, None)


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN:
            importlib.import_module(module)
        _loaded = True


def kind_names() -> list[str]:
    _load()
    return sorted(_FACTORIES)


def build_kinds(catalog: Catalog, settings: Settings) -> list[JobKind]:
    """One instance of every registered kind, in name order."""
    _load()
    kinds = []
    for name in sorted(_FACTORIES):
        kind = _FACTORIES[name](catalog, settings)
        if kind.name != name:
            raise ValueError(f"job kind registered as {name!r} calls itself {kind.name!r}")
        kinds.append(kind)
    return kinds
