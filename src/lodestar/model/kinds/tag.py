"""A tag of a classification: `Classification.Tag`."""

from __future__ import annotations

from pydantic import Field

from lodestar.model.common import AssetSpec, FQNText
from lodestar.model.registry import KindSpec, ParentField, register


class Tag(AssetSpec):
    classification: FQNText = Field(description="Name of the classification.")


register(
    KindSpec(
        name="tag",
        plural="tags",
        model=Tag,
        description="A tag of a classification.",
        parents=(ParentField("classification", "classification"),),
    )
)
