"""Recipes: YAML files naming a source, its config, filters, options and a sink."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.limits import ServerRunLimits
from lodestar.ingest.patterns import Filters
from lodestar.ingest.source import Options
from lodestar.model.common import OwnerRef
from lodestar.model.cron import check_cron

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="Connector name: postgres, mysql, sqlite, duckdb, files, dbt...")
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's config.")


class SinkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["catalog", "server"] = Field(
        "catalog",
        description="catalog: the embedded catalog of LODESTAR_DATABASE_URL; server: a remote "
        "Lodestar over HTTP.",
    )
    url: str | None = Field(None, description="Server URL, for type server.")
    token: str | None = Field(None, description="Bot token, e.g. ${LODESTAR_TOKEN}.")

    @model_validator(mode="after")
    def _server(self) -> SinkSpec:
        if self.type == "server" and not self.url:
            raise ValueError("a server sink needs url: http://host:8585")
        return self


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pipeline: str = Field(description="Pipeline name: keys the run state and the report.")
    source: SourceSpec
    filters: Filters = Field(default_factory=Filters)
    options: Options = Field(default_factory=Options)
    sink: SinkSpec = Field(default_factory=SinkSpec)
    schedule: str | None = Field(None, description="Cron expression, for stored pipelines.")
    owners: list[OwnerRef] = Field(
        default_factory=list,
        max_length=64,
        description="Who owns the stored pipeline, e.g. `[{kind: team, fqn: data-platform}]` "
        "(users and teams that exist in the catalog). An owner a person sets on the pipeline "
        "in the catalog is kept over this.",
    )

    @model_validator(mode="after")
    def _name(self) -> Recipe:
        check_pipeline_name(self.pipeline)
        if self.schedule is not None:
            self.schedule = check_cron(self.schedule)
        return self


def check_pipeline_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            "pipeline names use letters, digits, '_', '.', '-' (at most 128 characters)"
        )
    return name


def expand_env(value: Any, where: str = "", limits: ServerRunLimits | None = None) -> Any:
    """Replace ${VAR} in strings with the environment's value; a missing one is an error. In
    a run by the server (`limits`), only the variables the administrator allowed expand."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if limits is not None and not limits.may_expand(name):
                raise limits.refuse_variable(name, where or "recipe")
            if name not in os.environ:
                raise ConfigError(f"{where or 'recipe'}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: expand_env(v, f"{where}.{k}" if where else str(k), limits) for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", limits) for i, v in enumerate(value)]
    return value


def errors_text(e: ValidationError, prefix: str = "") -> str:
    """Each error as `path: message`; `prefix` is where the validated value sits in the
    recipe (`source.config`), so the path names the field as the user wrote it."""
    return "; ".join(
        f"{'.'.join([prefix] * bool(prefix) + [str(p) for p in err['loc']]) or 'recipe'}: "
        f"{err['msg']}"
        for err in e.errors(include_input=False)
    )


def parse_recipe(data: Any, default_name: str | None = None) -> Recipe:
    if not isinstance(data, dict):
        raise ConfigError("a recipe is a mapping with source:, and optionally sink:, filters:")
    if "pipeline" not in data and default_name:
        data = {"pipeline": default_name, **data}
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"invalid recipe: {errors_text(e)}") from None


def load_recipe(path: Path) -> Recipe:
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"recipe {path} is not valid YAML: {e}") from None
    return parse_recipe(data, default_name=path.stem)
