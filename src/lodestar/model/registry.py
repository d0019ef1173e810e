"""The kind registry: each asset kind is one module in `lodestar.model.kinds` that registers."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from lodestar.model.common import AssetSpec


@dataclass(frozen=True, slots=True)
class ParentField:
    """A body field naming the asset's parent by FQN."""

    field: str
    kind: str


@dataclass(frozen=True, slots=True)
class KindSpec:
    name: str
    plural: str
    model: type[AssetSpec]
    description: str
    parents: tuple[ParentField, ...] = ()
    parent_required: bool = True
    # For kinds whose FQN prefix is not a parent asset (custom property definitions).
    fqn_prefix: Callable[[AssetSpec], list[str]] | None = None


_KINDS: dict[str, KindSpec] = {}
_BY_PLURAL: dict[str, KindSpec] = {}
_loaded = False


def register(spec: KindSpec) -> KindSpec:
    if spec.name in _KINDS and _KINDS[spec.name] is not spec:
        raise ValueError(f"asset kind {spec.name!r} is registered twice")
    _KINDS[spec.name] = spec
    _BY_PLURAL[spec.plural] = spec
    return spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    from lodestar.model import kinds

    for mod in pkgutil.iter_modules(kinds.__path__):
        importlib.import_module(f"{kinds.__name__}.{mod.name}")
    _loaded = True


def _load_one(name: str) -> KindSpec | None:
    """A kind by name, importing only its own module (named after the kind) when it is not
    registered yet: a command that touches four kinds does not build all twenty models.
    Anything else (a plural, a kind in a module of another name) loads them all."""
    spec = _KINDS.get(name)
    if spec is None and not _loaded and name.isidentifier():
        from lodestar.model import kinds

        if importlib.util.find_spec(f"{kinds.__name__}.{name}") is not None:
            importlib.import_module(f"{kinds.__name__}.{name}")
            spec = _KINDS.get(name)
    return spec


def all_kinds() -> list[KindSpec]:
    _load()
    return sorted(_KINDS.values(), key=lambda k: k.name)


def get_kind(name: str) -> KindSpec:
    spec = _load_one(name)
    if spec is None:
        _load()
        spec = _KINDS.get(name)
    if spec is None:
        raise KeyError(name)
    return spec


def find_kind(name: str) -> KindSpec | None:
    spec = _load_one(name)
    if spec is None:
        _load()
        spec = _KINDS.get(name) or _BY_PLURAL.get(name)
    return spec
