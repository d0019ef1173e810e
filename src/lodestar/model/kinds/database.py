"""A database inside a database service."""

from __future__ import annotations

from pydantic import Field

from lodestar.model.common import AssetSpec, FQNText
from lodestar.model.registry import KindSpec, ParentField, register


class Database(AssetSpec):
    service: FQNText = Field(description="FQN of the database service holding it.")


register(
    KindSpec(
        name="database",
        plural="databases",
        model=Database,
        description="A database of a database service.",
        parents=(ParentField("service", "service"),),
    )
)
