"""The engine a table's tests run in, found from the catalog as ingestion found the table.

The table's FQN names its service and database (`service.database.schema.table`); the
service asset's `connection` says how to reach it:

- `url`: a SQLAlchemy URL (the `sqlalchemy` connector's), its password a `${VAR}` reference;
- `path`: a SQLite or DuckDB file (`service_type` says which), opened read-only;
- `host` (+ `port`, `username`): a PostgreSQL or MySQL server. The password is the
  connection's `password` (a `${VAR}` reference), else the one in the recipe of the stored
  ingestion pipeline that reads this service.

`${VAR}`s expand from the environment as in a recipe; a run by the server (`limits`) expands
only the allowed variables and reaches only the allowed files and hosts, as ingestion does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lodestar.catalog import Catalog, Key, NotFound
from lodestar.ingest.errors import ConfigError
from lodestar.model import fqn as fqn_mod

if TYPE_CHECKING:
    from lodestar.ingest.limits import ServerRunLimits

_SERVER_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class Location:
    service: str
    database: str
    schema: str | None
    table: str


def locate(table_fqn: str, service_type: str) -> Location:
    """Where a table is, from its FQN; SQLite has no schema of its own (`main`)."""
    parts = fqn_mod.split(table_fqn)
    if len(parts) != 4:
        raise ConfigError(f"{table_fqn!r} is not a table FQN (service.database.schema.table)")
    service, database, schema, table = parts
    if service_type == "sqlite":
        return Location(service, database, None, table)
    return Location(service, database, schema, table)


class Engines:
    """The engines of one run, one per service and database, disposed together."""

    def __init__(self, catalog: Catalog, limits: ServerRunLimits | None = None) -> None:
        self.catalog = catalog
        self.limits = limits
        self._engines: dict[tuple[str, str], Engine] = {}
        self._services: dict[str, dict[str, Any]] = {}

    def service(self, name: str) -> dict[str, Any]:
        doc = self._services.get(name)
        if doc is None:
            try:
                asset = self.catalog.get("service", Key(fqn=fqn_mod.quote(name)))
            except NotFound:
                raise ConfigError(f"the table's service {name!r} is not in the catalog") from None
            doc = dict(asset.doc)
            self._services[name] = doc
        return doc

    def service_type(self, name: str) -> str:
        return str(self.service(name).get("service_type", "")).lower()

    def engine(self, service: str, database: str) -> Engine:
        key = (service, database)
        found = self._engines.get(key)
        if found is None:
            found = self._make(service, database)
            self._engines[key] = found
        return found

    def _expand(self, value: Any, where: str) -> Any:
        expanded = value
        if "${" in str(value):  # the recipe module (yaml, pydantic) only when there is one
            from lodestar.ingest.recipe import expand_env

            expanded = expand_env(value, where, self.limits)
        if self.limits is not None:
            self.limits.check(expanded if isinstance(expanded, dict) else {"url": expanded}, where)
        return expanded

    def _make(self, service: str, database: str) -> Engine:
        doc = self.service(service)
        conn: dict[str, Any] = dict(doc.get("connection") or {})
        where = f"service {service!r} connection"
        stype = str(doc.get("service_type", "")).lower()
        if conn.get("url"):
            url = sa.make_url(self._expand(str(conn["url"]), f"{where}.url"))
            if url.get_backend_name() not in ("sqlite", "duckdb") and not url.database:
                url = url.set(database=database)
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
            return _create(url, {})
        if conn.get("path"):
            path = str(self._expand(str(conn["path"]), f"{where}.path"))
            if self.limits is not None:
                self.limits.check_path(path, f"{where}.path")
            if not Path(path).is_file():
                raise ConfigError(f"{where}.path: the file {path} does not exist")
            if stype == "duckdb":
                return _create(sa.URL.create("duckdb", database=path), {"read_only": True})
            uri = f"file:{Path(path).resolve()}?mode=ro&uri=true"
            return _create(sa.make_url(f"sqlite+pysqlite:///{uri}"), {})
        if conn.get("host"):
            driver = _SERVER_DRIVERS.get(stype)
            if driver is None:
                raise ConfigError(
                    f"{where}: service_type {stype!r} has no driver here; give the service a "
                    "`url` (a SQLAlchemy URL) in its connection"
                )
            settings = {**self._recipe_config(service), **conn}
            settings = self._expand(settings, where)
            url = sa.URL.create(
                driver,
                username=settings.get("username"),
                password=settings.get("password") or None,
                host=str(settings["host"]),
                port=int(settings["port"]) if settings.get("port") else None,
                database=database,
            )
            args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
            if driver.startswith("postgresql"):
                args["application_name"] = "lodestar-quality"
            return _create(url, args)
        raise ConfigError(
            f"{where}: no url, path or host: ingest the table with a connector (it records "
            "the connection), or set the service's connection"
        )

    def _recipe_config(self, service: str) -> dict[str, Any]:
        """The connector config of the stored pipeline that ingests this service: its
        password reference and port, for a service whose connection leaves them out."""
        after: str | None = None
        while True:
            page = self.catalog.list_page("ingestion_pipeline", limit=200, after=after)
            for asset in page.items:
                source = (asset.doc.get("recipe") or {}).get("source") or {}
                config = source.get("config") or {}
                if config.get("service") == service:
                    return {k: config[k] for k in ("password", "port") if config.get(k)}
            if page.after is None:
                return {}
            after = page.after

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def _create(url: sa.URL, connect_args: dict[str, Any]) -> Engine:
    try:
        return sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)
    except (ImportError, sa.exc.NoSuchModuleError) as e:
        raise ConfigError(
            f"cannot load the SQLAlchemy dialect {url.drivername!r}: {e}; install the package "
            "that provides it"
        ) from None


__all__ = ["Engines", "Location", "locate"]
