"""One seam, two sides: what the search writer and the search service ask of the database's
full-text machinery (`sqlite_index.py`: FTS5; `postgres_index.py`: tsvector and pg_trgm)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from sqlalchemy.engine import Connection

from lodestar.search.documents import SearchDoc
from lodestar.search.models import Boosts
from lodestar.search.query import Term

Mode = Literal["all", "any"]


class IndexBackend(Protocol):
    def write(self, conn: Connection, docs: Sequence[SearchDoc], gone: Sequence[int]) -> None:
        """Drop the documents `gone` (doc ids) and add `docs`, in a few statements."""

    def clear(self, conn: Connection) -> None: ...

    def matched(
        self,
        terms: Sequence[Term],
        mode: Mode,
        boosts: Boosts,
        params: dict[str, Any],
        *,
        ranked: bool,
        top: int | None = None,
    ) -> str:
        """SQL of the matched set: rows (doc_id, ts), ts the text score (higher better) when
        `ranked`, else 0 (counting and facets need no score); with `top`, only the `top`
        best by text score."""

    def known(self, conn: Connection, word: str) -> bool:
        """Whether some indexed word starts with `word`."""

    def complete(self, conn: Connection, prefix: str) -> list[str]:
        """Indexed words that start with `prefix`, shortest first, when the backend has no
        fast prefix match of its own (else none)."""

    def candidates(self, conn: Connection, word: str) -> list[str]:
        """Indexed words that share trigrams with `word` (typo corrections to check)."""

    def suggest(self, conn: Connection, prefix: str, words: Sequence[str], limit: int) -> list[str]:
        """Asset ids whose name or FQN starts with `prefix`, or whose name words start with
        `words`, the likeliest first."""


def backend_for(conn: Connection) -> IndexBackend:
    if conn.dialect.name == "postgresql":
        from lodestar.search.postgres_index import PostgresIndex

        return PostgresIndex()
    from lodestar.search.sqlite_index import SQLiteIndex

    return SQLiteIndex()
