"""A team of users; owning a team's asset is owning it as any member."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from lodestar.model.common import AssetSpec, FQNText, RefUse
from lodestar.model.registry import KindSpec, register


class Team(AssetSpec):
    team_type: Literal["organization", "business_unit", "division", "department", "group"] = "group"
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    members: list[FQNText] = Field(
        default_factory=list, max_length=10_000, description="Names of member users."
    )
    parent_team: FQNText | None = None

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, m in enumerate(self.members):
            yield RefUse(("members", i), "user", m, "has_member")
        if self.parent_team:
            yield RefUse(("parent_team",), "team", self.parent_team, "part_of")


register(KindSpec(name="team", plural="teams", model=Team, description="A team of users."))
