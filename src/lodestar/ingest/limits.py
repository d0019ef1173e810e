"""What a recipe run by the server may reach: which `${VAR}`s it expands, which files it
reads and which hosts it connects to. A recipe run by `lodestar ingest` or `lodestar pipelines
run` acts for the local user who runs it and is not limited.

The checks read the connector config after expansion, by key and by value, so that they hold
for every connector: keys named `path`, `*_path`, `*_dir`, `*_file` are files; `url`, `*_url`
and any string with `://` are URLs (a `sqlite:`/`duckdb:`/`file:` URL names a file, any other
a host); `host`, `hostname`, `*_host` are hosts.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lodestar.ingest.errors import ConfigError
from lodestar.settings import Settings

_FILE_SCHEMES = ("sqlite", "duckdb", "file")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclass(frozen=True, slots=True)
class ServerRunLimits:
    secret_prefix: str
    allowed_paths: tuple[Path, ...]
    allowed_hosts: tuple[str, ...]
    denied_paths: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerRunLimits:
        denied = [settings.data_dir.expanduser().resolve()]
        url = settings.effective_database_url
        if url.startswith("sqlite") and ":///" in url:
            db = Path(url.split(":///", 1)[1]).expanduser().resolve()
            denied += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")]
        return cls(
            secret_prefix=settings.ingest_secret_prefix,
            allowed_paths=tuple(
                Path(p).expanduser().resolve() for p in _csv(settings.ingest_allowed_paths)
            ),
            allowed_hosts=tuple(h.lower() for h in _csv(settings.ingest_allowed_hosts)),
            denied_paths=tuple(denied),
        )

    def may_expand(self, name: str) -> bool:
        return name.startswith(self.secret_prefix)

    def refuse_variable(self, name: str, where: str) -> ConfigError:
        return ConfigError(
            f"{where}: ${{{name}}} is not expanded in a run by the server: it expands only "
            f"variables whose name starts with {self.secret_prefix} "
            "(LODESTAR_INGEST_SECRET_PREFIX)"
        )

    def check_path(self, value: str, where: str) -> None:
        path = Path(value).expanduser().resolve()
        if any(_under(path, d) for d in self.denied_paths):
            raise ConfigError(
                f"{where}: a recipe run by the server may not read the catalog's own data "
                "directory or database"
            )
        if self.allowed_paths and not any(_under(path, a) for a in self.allowed_paths):
            raise ConfigError(
                f"{where}: {path} is not under a directory in LODESTAR_INGEST_ALLOWED_PATHS, "
                "so a recipe run by the server may not read it"
            )

    def check_host(self, host: str, where: str) -> None:
        if self.allowed_hosts and not any(
            fnmatch.fnmatch(host.lower(), pattern) for pattern in self.allowed_hosts
        ):
            raise ConfigError(
                f"{where}: host {host!r} is not in LODESTAR_INGEST_ALLOWED_HOSTS, so a recipe "
                "run by the server may not connect to it"
            )

    def check_url(self, value: str, where: str) -> None:
        scheme = value.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme in _FILE_SCHEMES:
            rest = value.split("://", 1)[1]
            path = rest[1:] if rest.startswith("/") and scheme != "file" else rest
            path = path.split("?", 1)[0]
            if path and path != ":memory:":
                self.check_path(path, where)
            return
        try:
            host = urlsplit(value).hostname
        except ValueError:
            raise ConfigError(f"{where}: not a valid URL") from None
        if host:
            self.check_host(host, where)

    def check(self, value: Any, where: str) -> None:
        """Raise ConfigError for a file or host in this expanded config that a run by the
        server may not reach."""
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}"
                k = str(key).lower()
                if isinstance(item, str) and item:
                    if "://" in item:
                        self.check_url(item, path)
                    elif k == "path" or k.endswith(("_path", "_dir", "_file")):
                        self.check_path(item, path)
                    elif k in ("host", "hostname") or k.endswith("_host"):
                        self.check_host(item, path)
                else:
                    self.check(item, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check(item, f"{where}[{i}]")
