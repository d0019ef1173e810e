"""A business glossary: a named set of terms."""

from __future__ import annotations

from lodestar.model.common import AssetSpec
from lodestar.model.registry import KindSpec, register


class Glossary(AssetSpec):
    pass


register(
    KindSpec(
        name="glossary",
        plural="glossaries",
        model=Glossary,
        description="A business glossary.",
    )
)
