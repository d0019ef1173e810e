"""A term of a glossary; terms nest under other terms of the same glossary."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from lodestar.model.common import AssetSpec, FQNText, OwnerRef, RefUse, ShortText
from lodestar.model.registry import KindSpec, ParentField, register


class GlossaryTerm(AssetSpec):
    glossary: FQNText = Field(description="FQN of the glossary.")
    parent: FQNText | None = Field(None, description="FQN of the parent term, when nested.")
    synonyms: list[ShortText] = Field(default_factory=list, max_length=256)
    related_terms: list[FQNText] = Field(default_factory=list, max_length=256)
    reviewers: list[OwnerRef] = Field(default_factory=list, max_length=64)

    def references(self) -> Iterator[RefUse]:
        yield from super().references()
        for i, t in enumerate(self.related_terms):
            yield RefUse(("related_terms", i), "glossary_term", t, "related_to")
        for i, r in enumerate(self.reviewers):
            yield RefUse(("reviewers", i), r.kind, r.fqn, "reviewed_by")


register(
    KindSpec(
        name="glossary_term",
        plural="glossary-terms",
        model=GlossaryTerm,
        description="A term of a business glossary.",
        parents=(ParentField("glossary", "glossary"), ParentField("parent", "glossary_term")),
    )
)
