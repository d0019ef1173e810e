"""A data product of a domain: a curated set of assets with an owner and a promise."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from lodestar.model.common import AssetRef, AssetSpec, FQNText, RefUse
from lodestar.model.registry import KindSpec, ParentField, register


class DataProduct(AssetSpec):
    domain: FQNText | None = Field(None, description="FQN of the domain it belongs to.")
    assets: list[AssetRef] = Field(default_factory=list, max_length=10_000)

    def references(self) -> Iterator[RefUse]:
        yield from (r for r in super().references() if r.relation != "in_domain")
        for i, a in enumerate(self.assets):
            yield RefUse(("assets", i), a.kind, a.fqn, "includes")


register(
    KindSpec(
        name="data_product",
        plural="data-products",
        model=DataProduct,
        description="A data product of a domain.",
        parents=(ParentField("domain", "domain"),),
    )
)
