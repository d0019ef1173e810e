"""A topic of a messaging service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from lodestar.model.common import AssetSpec, FQNText
from lodestar.model.registry import KindSpec, ParentField, register


class Topic(AssetSpec):
    service: FQNText = Field(description="FQN of the messaging service (broker).")
    partitions: int | None = Field(None, ge=1)
    replication_factor: int | None = Field(None, ge=1)
    retention_ms: int | None = Field(None, ge=-1)
    schema_type: Literal["avro", "protobuf", "json", "none"] | None = None
    schema_text: Annotated[str, StringConstraints(max_length=1_048_576)] | None = None


register(
    KindSpec(
        name="topic",
        plural="topics",
        model=Topic,
        description="A topic of a messaging service.",
        parents=(ParentField("service", "service"),),
    )
)
