"""Connectors are registered as entry points in the `lodestar.connectors` group, one way only:

    [project.entry-points."lodestar.connectors"]
    mysql = "lodestar.ingest.connectors.mysql:MySQLSource [mysql]"

The bracketed extra names what to install when the connector's dependency is missing; such a
connector stays listed, and using it says `pip install 'lodestar[mysql]'`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.source import Source

GROUP = "lodestar.connectors"


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    name: str
    target: str
    extra: str | None
    available: bool
    problem: str | None
    description: str


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    """The installed connectors, read once per process (scanning the installed packages'
    metadata took 5 ms of every scheduled run); installing one needs a restart anyway."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _install_hint(ep: EntryPoint) -> str:
    extra = ep.extras[0] if ep.extras else None
    return f"pip install 'lodestar[{extra}]'" if extra else "pip install lodestar"


def load(name: str) -> type[Source]:
    eps = _entry_points()
    ep = eps.get(name)
    if ep is None:
        known = ", ".join(sorted(eps)) or "none (is lodestar installed with pip install -e .?)"
        raise ConfigError(f"no connector named {name!r}; known connectors: {known}")
    try:
        cls = ep.load()
    except ImportError as e:
        if (e.name or "").startswith("lodestar"):
            raise ConfigError(
                f"the {name} connector's module {ep.value!r} cannot be imported ({e}); "
                "reinstall lodestar"
            ) from None
        raise ConfigError(
            f"the {name} connector needs a package that is not installed ({e.name or e}): "
            f"run {_install_hint(ep)}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise ConfigError(f"entry point {name!r} does not name a Source class")
    return cls


def connectors() -> list[ConnectorInfo]:
    out: list[ConnectorInfo] = []
    for name, ep in sorted(_entry_points().items()):
        extra = ep.extras[0] if ep.extras else None
        try:
            cls = load(name)
            out.append(ConnectorInfo(name, ep.value, extra, True, None, cls.description))
        except ConfigError as e:
            out.append(ConnectorInfo(name, ep.value, extra, False, str(e), ""))
    return out
