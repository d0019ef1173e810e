"""Search: one document per asset kept in the write transaction (`writer.SearchWriter`),
full text on SQLite FTS5 or PostgreSQL tsvector + pg_trgm, facets, typo tolerance and
ranking with configurable boosts (`service.SearchService`)."""

from lodestar.search.models import Boosts, Hit, SearchQuery, SearchResult, Suggestion
from lodestar.search.service import SearchService, make_query
from lodestar.search.writer import SearchWriter

__all__ = [
    "Boosts",
    "Hit",
    "SearchQuery",
    "SearchResult",
    "SearchService",
    "SearchWriter",
    "Suggestion",
    "make_query",
]
