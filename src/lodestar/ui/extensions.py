"""Places a capability fills in the UI when it is installed: asset-page tabs (lineage,
quality, usage, incidents) and the search behind the home page's box.

A capability's UI module registers itself under the entry-point group `lodestar.ui_tabs` (an
`AssetTab`) or `lodestar.ui_search` (a `SearchProvider`), or calls `register_tab` /
`register_search`. Nothing registered, nothing shown: the asset page has no lineage tab until a
lineage capability provides one, and the search box falls back to a name prefix lookup."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

from markupsafe import Markup

from lodestar.catalog import Catalog
from lodestar.model.records import Asset

log = logging.getLogger("lodestar.ui")

TAB_GROUP = "lodestar.ui_tabs"
SEARCH_GROUP = "lodestar.ui_search"


class AssetTab(Protocol):
    """One tab of the asset page."""

    name: str  # the `?tab=` value
    label: str
    order: int  # after overview (0), schema (10), before versions (80)

    def applies(self, asset: Asset) -> bool: ...

    def render(self, catalog: Catalog, asset: Asset, params: dict[str, str]) -> Markup: ...


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    fqn: str
    name: str
    description: str = ""
    highlight: Markup | None = None


class SearchProvider(Protocol):
    def search(self, catalog: Catalog, query: str, limit: int) -> list[Hit]: ...


_lock = threading.Lock()
_tabs: dict[str, AssetTab] = {}
_search: list[SearchProvider] = []
_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for group in (TAB_GROUP, SEARCH_GROUP):
            for ep in entry_points(group=group):
                try:
                    obj: Any = ep.load()
                    obj = obj() if isinstance(obj, type) else obj
                except Exception as e:  # one broken plug-in must not take the UI down
                    log.warning("UI extension %s (%s) did not load: %s", ep.name, group, e)
                    continue
                if group == TAB_GROUP:
                    _tabs.setdefault(obj.name, obj)
                else:
                    _search.append(obj)
        _loaded = True


def register_tab(tab: AssetTab) -> None:
    _load()
    with _lock:
        _tabs[tab.name] = tab


def unregister_tab(name: str) -> None:
    with _lock:
        _tabs.pop(name, None)


def register_search(provider: SearchProvider) -> None:
    _load()
    with _lock:
        _search.insert(0, provider)


def tabs_for(asset: Asset) -> list[AssetTab]:
    _load()
    return sorted((t for t in _tabs.values() if t.applies(asset)), key=lambda t: t.order)


def search_provider() -> SearchProvider | None:
    _load()
    return _search[0] if _search else None
