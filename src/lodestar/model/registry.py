"""The kind registry: each asset kind is one module in `lodestar.model.kinds` that registers."""

from __future__ import annotations

import importlib
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


def all_kinds() -> list[KindSpec]:
    _load()
    return sorted(_KINDS.values(), key=lambda k: k.name)


def get_kind(name: str) -> KindSpec:
    _load()
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(name) from None


def find_kind(name: str) -> KindSpec | None:
    _load()
    return _KINDS.get(name) or _BY_PLURAL.get(name)
