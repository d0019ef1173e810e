"""An ingestion pipeline: a stored recipe with a schedule, an owner and a health status."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lodestar.model.common import AssetSpec, ShortText
from lodestar.model.cron import check_cron
from lodestar.model.registry import KindSpec, register
from lodestar.model.secrets import check_no_clear_secrets

CONNECTOR_GROUP = "lodestar.connectors"  # the entry points of lodestar.ingest.registry


@lru_cache(maxsize=1)
def connector_names() -> frozenset[str]:
    return frozenset(ep.name for ep in entry_points(group=CONNECTOR_GROUP))


class RecipeSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="Connector name: postgres, mysql, sqlite, duckdb, files, dbt...")
    config: dict[str, Any] | None = Field(None, description="The connector's config.")

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        known = connector_names()
        if v not in known:
            raise ValueError(f"no connector named {v!r}; known: {', '.join(sorted(known))}")
        return v


class StoredRecipe(BaseModel):
    """The shape of a stored recipe, checked on write so that the scheduler does not fail on
    it at every tick; the connector's own config is checked when it runs."""

    model_config = ConfigDict(extra="forbid")
    pipeline: str | None = None
    source: RecipeSource
    filters: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    sink: dict[str, Any] | None = None
    schedule: str | None = None
    owners: list[Any] | None = None


class IngestionPipeline(AssetSpec):
    recipe: StoredRecipe = Field(
        description="The recipe: source (type, config), filters, options, sink. Secrets as "
        "${LODESTAR_SECRET_...} references."
    )
    schedule: ShortText | None = Field(None, description="Cron expression, e.g. `0 * * * *`.")
    enabled: bool = True
    health: Literal["unknown", "healthy", "unhealthy"] = Field(
        "unknown", description="Set by the runner: unhealthy after repeated failures."
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        return check_cron(v)

    @field_validator("recipe")
    @classmethod
    def _secrets(cls, v: StoredRecipe) -> StoredRecipe:
        check_no_clear_secrets(v.model_dump(exclude_none=True), "recipe")
        return v


register(
    KindSpec(
        name="ingestion_pipeline",
        plural="ingestion-pipelines",
        model=IngestionPipeline,
        description="A stored ingestion recipe with its schedule and health.",
    )
)
