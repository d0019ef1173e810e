"""A classification: a family of tags such as PII or Tier."""

from __future__ import annotations

from lodestar.model.common import AssetSpec
from lodestar.model.registry import KindSpec, register


class Classification(AssetSpec):
    mutually_exclusive: bool = False


register(
    KindSpec(
        name="classification",
        plural="classifications",
        model=Classification,
        description="A family of tags (PII, Tier, ...).",
    )
)
