"""A dashboard of a BI service, with its charts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, StringConstraints

from lodestar.model.common import AssetRef, AssetSpec, FQNText, Markdown, RefUse, ShortText, Strict
from lodestar.model.registry import KindSpec, ParentField, register

Url = Annotated[str, StringConstraints(max_length=2048)]


class Chart(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    display_name: ShortText | None = None
    description: Markdown | None = None
    chart_type: ShortText | None = None
    source_url: Url | None = None


class Dashboard(AssetSpec):
    service: FQNText = Field(description="FQN of the dashboard service (BI tool).")
    charts: list[Chart] = Field(default_factory=list, max_length=1024)
    source_url: Url | None = None
    data_sources: list[AssetRef] = Field(
        default_factory=list, max_length=1024, description="Assets the dashboard reads."
    )

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, r in enumerate(self.data_sources):
            yield RefUse(("data_sources", i), r.kind, r.fqn, "reads")


register(
    KindSpec(
        name="dashboard",
        plural="dashboards",
        model=Dashboard,
        description="A dashboard of a BI service.",
        parents=(ParentField("service", "service"),),
    )
)
