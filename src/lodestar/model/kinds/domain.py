"""A business domain grouping assets, with its experts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from lodestar.model.common import AssetSpec, OwnerRef, RefUse
from lodestar.model.registry import KindSpec, register


class Domain(AssetSpec):
    domain_type: Literal["aggregate", "consumer_aligned", "source_aligned"] = "aggregate"
    experts: list[OwnerRef] = Field(default_factory=list, max_length=64)

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, e in enumerate(self.experts):
            yield RefUse(("experts", i), e.kind, e.fqn, "expert")


register(KindSpec(name="domain", plural="domains", model=Domain, description="A business domain."))
