"""An ingestion pipeline: a stored recipe with a schedule, an owner and a health status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lodestar.model.common import AssetSpec, ShortText
from lodestar.model.kinds.service import check_no_clear_secrets
from lodestar.model.registry import KindSpec, register


class IngestionPipeline(AssetSpec):
    recipe: dict[str, Any] = Field(
        description="The recipe: source (type, config), filters, options, sink. Secrets as "
        "${ENV_VAR} references."
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
        from croniter import croniter  # 20 ms to import: only for a pipeline with a schedule

        if not croniter.is_valid(v):
            raise ValueError("not a cron expression: use five fields such as '*/30 * * * *'")
        return v

    @field_validator("recipe")
    @classmethod
    def _secrets(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_no_clear_secrets(v, "recipe")
        return v


register(
    KindSpec(
        name="ingestion_pipeline",
        plural="ingestion-pipelines",
        model=IngestionPipeline,
        description="A stored ingestion recipe with its schedule and health.",
    )
)
