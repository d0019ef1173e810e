"""Settings: environment variables `LODESTAR_*`, or a TOML/YAML config file named by
`LODESTAR_CONFIG`; the environment wins over the file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The weights of lodestar.search.models.Boosts (settings import no other layer).
SEARCH_BOOSTS = (
    "name",
    "fqn",
    "description",
    "columns",
    "meta",
    "documented",
    "owned",
    "tier",
    "certified",
    "popularity",
    "deprecated_factor",
    "exact",
    "fqn_suffix",
    "name_words",
    "name_prefix",
)


class SettingsError(ValueError):
    """A setting that cannot be used; the message says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LODESTAR_", extra="forbid")

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".lodestar",
        description="Where the embedded catalog file and the first admin token live.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db. "
        "Default: a SQLite file in data_dir.",
    )
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8585, ge=1, le=65535, description="Port the server listens on.")
    anonymous_read: bool = Field(False, description="Let requests without a token read.")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest request body.")
    max_bulk_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Largest bulk body.")
    pool_size: int = Field(8, ge=1, le=256, description="Database connections per process.")
    workers: int = Field(
        1, ge=1, le=64, description="Server processes (the API is stateless: one per core)."
    )
    scheduler: bool = Field(
        True, description="Run due jobs (ingestion pipelines) and run-now requests in the server."
    )
    scheduler_interval: float = Field(30.0, gt=0, description="Seconds between schedule checks.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info",
        description="Level of the server's own log (scheduled runs: start, end, failure) on "
        "standard error, beside uvicorn's.",
    )
    scheduler_concurrency: int = Field(
        2, ge=1, le=64, description="Jobs one server process runs at the same time."
    )
    retention_days_test_results: int | None = Field(
        None, ge=0, description="Days of test results kept (by when they ran); 0 or unset: all."
    )
    retention_days_usage: int | None = Field(
        None, ge=0, description="Days of usage kept; 0 or unset: all."
    )
    retention_days_observations: int | None = Field(
        None, ge=0, description="Days of other observations kept; 0 or unset: all."
    )
    ingest_secret_prefix: str = Field(
        "LODESTAR_SECRET_",
        min_length=1,
        description="A recipe the server runs expands only `${VAR}`s whose name starts so.",
    )
    ingest_allowed_paths: str = Field(
        "",
        description="Comma-separated directories a recipe the server runs may read files "
        "under; empty: any path outside data_dir and the catalog's database.",
    )
    ingest_allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts (or *.domain) a recipe the server runs may reach; "
        "empty: any host.",
    )
    openlineage_namespaces: str = Field(
        "",
        description="Comma-separated namespace=service pairs: OpenLineage datasets of the "
        "namespace land under that catalog service (postgres://db:5432=warehouse); other "
        "namespaces become services named as the namespace.",
    )

    @field_validator("openlineage_namespaces")
    @classmethod
    def _namespaces(cls, v: str) -> str:
        for entry in (e.strip() for e in v.split(",")):
            ns, sep, service = entry.rpartition("=")
            if entry and not (sep and ns.strip() and service.strip()):
                raise ValueError(
                    f"entry {entry!r}: write namespace=service, e.g. "
                    "postgres://db.prod:5432=warehouse"
                )
        return v

    search_boosts: dict[str, float] = Field(
        default_factory=dict,
        description="Search ranking weights that differ from the defaults, by name "
        "(lodestar.search.models.Boosts): name, fqn, description, columns, meta, documented, "
        "owned, tier, certified, popularity, deprecated_factor, exact, fqn_suffix, name_words, "
        "name_prefix.",
    )

    @field_validator("search_boosts")
    @classmethod
    def _boosts(cls, v: dict[str, float]) -> dict[str, float]:
        known = SEARCH_BOOSTS
        for k, x in v.items():
            if k not in known:
                raise ValueError(
                    f"unknown search boost {k!r}: use one of {', '.join(sorted(known))}"
                )
            if not 0 <= x <= 1_000_000:
                raise ValueError(f"search boost {k!r} must be between 0 and 1000000")
        return v

    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs web UI session cookies; every replica needs the same one. "
        "Unset: a random key kept in data_dir/session.key.",
    )
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="Hours a web UI login lasts before asking again."
    )

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError(
                "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"
            )
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'catalog.db'}"


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"config file {path} does not exist (set by LODESTAR_CONFIG)")
    text = path.read_text()
    data: Any = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a mapping of settings")
    return {str(k): v for k, v in data.items()}


def load_settings(**overrides: Any) -> Settings:
    """Settings from the config file, then the environment, then explicit overrides."""
    file_values: dict[str, Any] = {}
    config = os.environ.get("LODESTAR_CONFIG")
    if config:
        file_values = _read_config_file(Path(config))
    env_names = {n for n in Settings.model_fields if f"LODESTAR_{n.upper()}" in os.environ}
    values = {k: v for k, v in file_values.items() if k not in env_names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise SettingsError(f"invalid settings: {msgs}") from None
