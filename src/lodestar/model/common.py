"""Fields every asset kind shares, and the references an asset makes to others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Union, get_args, get_origin

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

    model_config = ConfigDict(extra="forbid", frozen=False, strict=True, defer_build=True)


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


def _is_plain(annotation: Any) -> bool:
    """Whether values of this type are already JSON documents once validated: str, numbers,
    booleans, literals, Any, and lists and dicts of those (not models, not TypedDicts)."""
    if annotation in (str, int, float, bool, type(None), Any):
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_plain(get_args(annotation)[0])
    if origin in (Literal,):
        return True
    if origin in (Union, UnionType, list, dict):
        return all(_is_plain(a) for a in get_args(annotation))
    return False


class AssetSpec(Strict):
    """What a client may set on any asset. Kind modules extend it."""

    # Fields that are not plain (see _is_plain) but that the kind's validators leave
    # document-ready: plain values only, no None values (Table.columns).
    _document_ready: ClassVar[frozenset[str]] = frozenset()
    # (field name, document key, plain) in field order, per class.
    _document_plan: ClassVar[tuple[tuple[str, str, bool], ...] | None] = None

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

    @classmethod
    def _plan(cls) -> tuple[tuple[str, str, bool], ...]:
        plan = cls.__dict__.get("_document_plan")
        if plan is None:
            plan = tuple(
                (
                    name,
                    info.alias or name,
                    name in cls._document_ready or _is_plain(info.annotation),
                )
                for name, info in cls.model_fields.items()
            )
            cls._document_plan = plan
        return plan

    def document(self) -> dict[str, Any]:
        """The body as stored: what `model_dump(mode="json", by_alias=True, exclude_none=True)`
        gives, but plain values are taken as validated instead of copied (a bulk write dumps
        thousands of 30-column tables; validation already made these values the body's own).
        Only nested models go through pydantic's serialiser."""
        values = self.__dict__
        out: dict[str, Any] = {}
        nested: set[str] = set()
        for name, key, plain in self._plan():
            v = values[name]
            if v is None:
                continue
            if plain or (isinstance(v, list) and not v):
                out[key] = v
            else:
                out[key] = None  # keeps the field order; filled in below
                nested.add(name)
        if nested:
            out.update(
                self.model_dump(mode="json", by_alias=True, exclude_none=True, include=nested)
            )
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
