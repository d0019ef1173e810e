"""What a search asks and answers, and the ranking weights (from the settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lodestar.model.records import Asset

Sort = Literal["relevance", "name", "updated", "popularity"]
SORTS: tuple[Sort, ...] = ("relevance", "name", "updated", "popularity")
# Filters: query parameter -> facet. Each is repeatable; values of one filter are OR-ed,
# filters are AND-ed.
FILTERS = ("kind", "service", "database", "schema", "owner", "tag", "glossary_term", "domain")
SINGLE_VALUED = ("kind", "service", "database", "schema", "domain")  # search_docs columns
MULTI_VALUED = ("owner", "tag", "glossary_term")  # search_facets rows
MAX_QUERY_CHARS = 512
MAX_WORDS = 12
FACET_VALUES = 20


@dataclass(frozen=True, slots=True)
class Boosts:
    """How the text score and the asset's signals combine into its score:

    score = text * (1 + documented*w + owned*w + tier*w + certified*w + ln(1+popularity)*w)
                 * (deprecated_factor if deprecated)
            + exact (name or FQN equals the query)
            + fqn_suffix (a dotted query inside the FQN) + fqn_suffix (the FQN ends with it)
            + name_words (the name holds the query's words in a row: `fct_orders` for `orders`)
            + name_prefix * len(query) / len(name) (the name starts with what was typed)

    `text` is bm25 (SQLite FTS5) or ts_rank (PostgreSQL) with the field weights below."""

    name: float = 10.0
    fqn: float = 4.0
    description: float = 2.0
    columns: float = 1.0
    meta: float = 1.5
    documented: float = 0.3
    owned: float = 0.2
    tier: float = 0.5
    certified: float = 0.5
    popularity: float = 0.1
    deprecated_factor: float = 0.3
    exact: float = 1000.0
    fqn_suffix: float = 500.0
    name_words: float = 3.0
    name_prefix: float = 4.0

    @classmethod
    def from_settings(cls, overrides: Mapping[str, float]) -> Boosts:
        """The defaults with the settings' `search_boosts` applied (checked there)."""
        return replace(cls(), **dict(overrides))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    q: str
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    deleted: bool = False
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0
    facets: bool = True


@dataclass(slots=True)
class Hit:
    asset: Asset
    score: float
    highlights: dict[str, str]
    matched_columns: list[str]


@dataclass(slots=True)
class SearchResult:
    hits: list[Hit]
    total: int
    after: int | None
    facets: dict[str, dict[str, int]]
    corrected: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suggestion:
    id: str
    kind: str
    fqn: str
    name: str
    display_name: str | None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "fqn": self.fqn,
            "name": self.name,
            "display_name": self.display_name,
        }
