"""A data system: a database server, an orchestrator, a BI tool, a broker, a store."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from lodestar.model.common import AssetSpec
from lodestar.model.registry import KindSpec, register
from lodestar.model.secrets import check_no_clear_secrets

ServiceCategory = Literal["database", "pipeline", "dashboard", "messaging", "ml_model", "storage"]

ConnectionValue = str | int | float | bool | None


class Service(AssetSpec):
    category: ServiceCategory = Field(description="What sort of system this is.")
    service_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The platform: postgres, mysql, snowflake, airflow, dbt, looker, kafka, ..."
    )
    connection: dict[str, ConnectionValue] = Field(
        default_factory=dict,
        max_length=64,
        description="Connection details. Secrets (also a URL's password) must be "
        "`${LODESTAR_SECRET_...}` references, never values.",
    )

    @field_validator("connection")
    @classmethod
    def _no_clear_secrets(cls, v: dict[str, ConnectionValue]) -> dict[str, ConnectionValue]:
        check_no_clear_secrets(v, "connection")
        return v


register(
    KindSpec(
        name="service",
        plural="services",
        model=Service,
        description="A data system (database, orchestrator, BI tool, broker, storage).",
    )
)
