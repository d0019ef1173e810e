"""A saved or observed SQL query against a database service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, StringConstraints

from lodestar.model.common import AssetRef, AssetSpec, FQNText, RefUse, ShortText
from lodestar.model.registry import KindSpec, ParentField, register


class Query(AssetSpec):
    service: FQNText = Field(description="FQN of the database service the query runs on.")
    sql: Annotated[str, StringConstraints(min_length=1, max_length=1_048_576)]
    dialect: ShortText | None = None
    used_in: list[AssetRef] = Field(
        default_factory=list, max_length=1024, description="Assets the query reads or writes."
    )

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, r in enumerate(self.used_in):
            yield RefUse(("used_in", i), r.kind, r.fqn, "uses")


register(
    KindSpec(
        name="query",
        plural="queries",
        model=Query,
        description="A SQL query run against a database service.",
        parents=(ParentField("service", "service"),),
    )
)
