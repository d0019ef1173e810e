"""A data system: a database server, an orchestrator, a BI tool, a broker, a store."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from lodestar.model.common import AssetSpec
from lodestar.model.registry import KindSpec, register

ServiceCategory = Literal["database", "pipeline", "dashboard", "messaging", "ml_model", "storage"]

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential)", re.I)
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")

ConnectionValue = str | int | float | bool | None


class Service(AssetSpec):
    category: ServiceCategory = Field(description="What sort of system this is.")
    service_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The platform: postgres, mysql, snowflake, airflow, dbt, looker, kafka, ..."
    )
    connection: dict[str, ConnectionValue] = Field(
        default_factory=dict,
        max_length=64,
        description="Connection details. Secrets must be `${ENV_VAR}` references, never values.",
    )

    @field_validator("connection")
    @classmethod
    def _no_clear_secrets(cls, v: dict[str, ConnectionValue]) -> dict[str, ConnectionValue]:
        for key, value in v.items():
            secret = _SECRET_KEY.search(key) and value not in (None, "")
            if secret and not (isinstance(value, str) and _ENV_REF.match(value)):
                raise ValueError(
                    f"connection.{key} looks like a secret: store a reference such as "
                    f"'${{{key.upper()}}}' and set that environment variable where the "
                    "connector runs"
                )
        return v


register(
    KindSpec(
        name="service",
        plural="services",
        model=Service,
        description="A data system (database, orchestrator, BI tool, broker, storage).",
    )
)
