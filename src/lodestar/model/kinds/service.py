"""A data system: a database server, an orchestrator, a BI tool, a broker, a store."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from lodestar.model.common import AssetSpec
from lodestar.model.registry import KindSpec, register

ServiceCategory = Literal["database", "pipeline", "dashboard", "messaging", "ml_model", "storage"]

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential)", re.I)
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")

ConnectionValue = str | int | float | bool | None


def check_no_clear_secrets(value: Any, where: str) -> None:
    """Raise ValueError where a secret-looking key holds a value, not a ${ENV_VAR} reference."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            secret = isinstance(key, str) and _SECRET_KEY.search(key)
            if secret and isinstance(item, str | int | float) and item not in ("",):
                if not (isinstance(item, str) and _ENV_REF.match(item)):
                    raise ValueError(
                        f"{path} looks like a secret: store a reference such as "
                        f"'${{{str(key).upper()}}}' and set that environment variable where "
                        "it is used"
                    )
            else:
                check_no_clear_secrets(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_no_clear_secrets(item, f"{where}[{i}]")


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
