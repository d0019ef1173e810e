"""Include/exclude filters on names, as regular expressions matched against the full name.

Patterns are compiled with DOTALL: `.` matches a line break too, since a name may hold one
(PostgreSQL allows it) and `.*` means every name.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Filter(BaseModel):
    """A name passes when it matches some `include` pattern and no `exclude` pattern."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include: list[str] = Field(
        default_factory=lambda: [".*"], description="Regular expressions of names to take."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Regular expressions of names to leave out."
    )

    @field_validator("include", "exclude")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"{p!r} is not a valid regular expression: {e}") from None
        return v

    @cached_property
    def _inc(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.DOTALL) for p in self.include]

    @cached_property
    def _exc(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.DOTALL) for p in self.exclude]

    def allows(self, name: str) -> bool:
        if any(p.fullmatch(name) for p in self._exc):
            return False
        return any(p.fullmatch(name) for p in self._inc)


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    databases: Filter = Field(default_factory=Filter)
    schemas: Filter = Field(default_factory=Filter)
    tables: Filter = Field(default_factory=Filter, description="Tables, views and files.")
