"""A schema inside a database."""

from __future__ import annotations

from pydantic import Field

from lodestar.model.common import AssetSpec, FQNText
from lodestar.model.registry import KindSpec, ParentField, register


class Schema(AssetSpec):
    database: FQNText = Field(description="FQN of the database holding it: `service.database`.")


register(
    KindSpec(
        name="schema",
        plural="schemas",
        model=Schema,
        description="A schema of a database.",
        parents=(ParentField("database", "database"),),
    )
)
