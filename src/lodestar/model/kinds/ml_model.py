"""A machine-learning model of an ML platform service."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from lodestar.model.common import AssetSpec, FQNText, Markdown, ShortText, Strict
from lodestar.model.registry import KindSpec, ParentField, register


class Feature(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    data_type: ShortText | None = None
    description: Markdown | None = None


class MlModel(AssetSpec):
    service: FQNText = Field(description="FQN of the ML platform service.")
    algorithm: ShortText | None = None
    target: ShortText | None = None
    features: list[Feature] = Field(default_factory=list, max_length=4096)


register(
    KindSpec(
        name="ml_model",
        plural="ml-models",
        model=MlModel,
        description="A machine-learning model.",
        parents=(ParentField("service", "service"),),
    )
)
