"""Fields every asset kind shares, and the references an asset makes to others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from lodestar.model import fqn as fqn_mod

ShortText = Annotated[str, StringConstraints(max_length=512)]
Markdown = Annotated[str, StringConstraints(max_length=65_536)]
FQNText = Annotated[str, StringConstraints(min_length=1, max_length=fqn_mod.MAX_FQN_LENGTH)]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")

# Fields the server owns: accepted in a body (so a GET result can be PUT back) but ignored.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "kind",
        "fqn",
        "version",
        "created_at",
        "updated_at",
        "updated_by",
        "deleted",
        "change_description",
        "href",
        "provenance",
        "children",
        "relations",
    }
)


class Strict(BaseModel):
    """Base for every body part: a typo in a field name is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=False, strict=True)


class OwnerRef(Strict):
    kind: Literal["user", "team"] = Field(description="Whether the owner is a user or a team.")
    fqn: FQNText = Field(description="The owner's name (users and teams are top-level).")


class AssetRef(Strict):
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The kind of the referenced asset, e.g. `table`."
    )
    fqn: FQNText = Field(description="The referenced asset's fully qualified name.")


class Link(Strict):
    title: ShortText
    url: Annotated[str, StringConstraints(max_length=2048)]

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _URL.match(v):
            raise ValueError("must be an absolute URL such as https://example.com/page")
        return v


class SourceCode(Strict):
    """Where the code that produces an asset lives."""

    repository: Annotated[str, StringConstraints(max_length=2048)] | None = None
    path: Annotated[str, StringConstraints(max_length=2048)] | None = None
    revision: ShortText | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    language: ShortText | None = None
    code: Annotated[str, StringConstraints(max_length=262_144)] | None = None


class RefUse(NamedTuple):
    """One reference an asset makes: checked to exist, and kept as an edge. A named tuple,
    not a dataclass: a table with a few tagged columns makes a dozen of these per write."""

    loc: tuple[str | int, ...]
    kind: str | None  # None: the body says the kind (AssetRef)
    fqn: str
    relation: str
    via: str = ""


class AssetSpec(Strict):
    """What a client may set on any asset. Kind modules extend it."""

    name: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=fqn_mod.MAX_PART_LENGTH, pattern=fqn_mod.NAME_PATTERN
        ),
    ] = Field(description="The asset's own name: the last part of its FQN.")
    display_name: ShortText | None = None
    description: Markdown | None = Field(None, description="Documentation, in Markdown.")
    owners: list[OwnerRef] = Field(default_factory=list, max_length=64)
    tags: list[FQNText] = Field(
        default_factory=list, max_length=256, description="Tag FQNs: `Classification.Tag`."
    )
    glossary_terms: list[FQNText] = Field(
        default_factory=list, max_length=256, description="Glossary term FQNs."
    )
    domain: FQNText | None = Field(None, description="FQN of the domain the asset belongs to.")
    links: list[Link] = Field(default_factory=list, max_length=64)
    source_code: SourceCode | None = None
    custom_properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the custom properties defined for this kind.",
    )

    @field_validator("tags", "glossary_terms")
    @classmethod
    def _fqns(cls, v: list[str]) -> list[str]:
        if not v:
            return v
        out: list[str] = []
        for item in v:
            try:
                norm = fqn_mod.normalize(item)
            except fqn_mod.FQNError as e:
                raise ValueError(str(e)) from None
            if norm not in out:
                out.append(norm)
        return out

    def references(self) -> Iterator[RefUse]:
        """Every reference this body makes; kinds with more references extend it."""
        for i, o in enumerate(self.owners):
            yield RefUse(("owners", i), o.kind, o.fqn, "owned_by")
        for i, t in enumerate(self.tags):
            yield RefUse(("tags", i), "tag", t, "tagged_with")
        for i, g in enumerate(self.glossary_terms):
            yield RefUse(("glossary_terms", i), "glossary_term", g, "has_term")
        if self.domain:
            yield RefUse(("domain",), "domain", self.domain, "in_domain")
