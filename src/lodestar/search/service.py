"""Search over the catalog: `SearchService.search` and `suggest`, read from the documents
the search writer keeps. Every query is planned the same way on both backends (search/query.py)
and scored with the same formula (models.Boosts); only the full-text match differs."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from lodestar.catalog.errors import InvalidInput
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset
from lodestar.search import query as qp
from lodestar.search import sql, text
from lodestar.search.backend import backend_for
from lodestar.search.models import (
    FILTERS,
    MAX_QUERY_CHARS,
    Boosts,
    Hit,
    SearchQuery,
    SearchResult,
    Suggestion,
)
from lodestar.store import assets as asset_rows
from lodestar.store.engine import Store

SNIPPET = 160
TOP_CANDIDATES = 400
MAX_LIMIT = 100
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def check_query(q: str) -> str:
    """The query text, or InvalidInput saying what is wrong with it."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is {len(q)} characters; keep it under {MAX_QUERY_CHARS}")
    if not q.strip():
        raise InvalidInput("q is empty: give a word or more to search for")
    return q


def _filter_value(name: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{name}: an empty value; give a {name} or leave the filter out")
    if name == "kind":
        return value
    if name == "owner":
        value = value.removeprefix("user:").removeprefix("team:")
    try:
        return fqn_mod.normalize(value)
    except fqn_mod.FQNError as e:
        raise InvalidInput(f"{name}: {e}") from None


def make_query(
    q: str,
    filters: Mapping[str, Sequence[str]],
    *,
    deleted: bool = False,
    sort: str = "relevance",
    limit: int = 10,
    offset: int = 0,
) -> SearchQuery:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise InvalidInput(f"unknown filter {unknown[0]!r}: use one of {', '.join(FILTERS)}")
    if sort not in ("relevance", "name", "updated", "popularity"):
        raise InvalidInput(f"sort {sort!r}: use relevance, name, updated or popularity")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    clean = {
        name: tuple(dict.fromkeys(_filter_value(name, v) for v in values))
        for name, values in filters.items()
        if values
    }
    return SearchQuery(
        check_query(q),
        clean,
        deleted=deleted,
        sort=sort,  # type: ignore[arg-type]
        limit=limit,
        offset=max(0, offset),
    )


def _mark(s: str, forms: tuple[str, ...]) -> tuple[str, bool]:
    """`s` html-escaped with the words that answer a term in <em>; whether any did."""
    out: list[str] = []
    pos = 0
    hit = False
    for m in _WORD.finditer(s):
        word = m.group()
        parts = text.split_words(word)
        if any(qp.matches(forms, p) for p in parts) or qp.matches(forms, word.lower()):
            out.append(html.escape(s[pos : m.start()]))
            out.append(f"<em>{html.escape(word)}</em>")
            pos = m.end()
            hit = True
    out.append(html.escape(s[pos:]))
    return "".join(out), hit


def _snippet(s: str, forms: tuple[str, ...]) -> str | None:
    """A window of the text around its first matching word, marked."""
    for m in _WORD.finditer(s):
        parts = text.split_words(m.group())
        if any(qp.matches(forms, p) for p in parts):
            start = max(0, m.start() - SNIPPET // 3)
            end = min(len(s), start + SNIPPET)
            window = s[start:end]
            marked, _ = _mark(window, forms)
            return ("…" if start else "") + marked + ("…" if end < len(s) else "")
    return None


def explain(asset: Asset, forms: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Highlights per field and the columns that answer the query."""
    doc = asset.doc
    highlights: dict[str, str] = {}
    for field, value in (
        ("name", asset.name),
        ("display_name", doc.get("display_name")),
        ("fqn", asset.fqn),
    ):
        if value:
            marked, hit = _mark(value, forms)
            if hit:
                highlights[field] = marked
    if doc.get("description"):
        snip = _snippet(doc["description"], forms)
        if snip:
            highlights["description"] = snip
    matched: list[str] = []
    for col in doc.get("columns") or ():
        name = col.get("name", "")
        words = [*text.words(name), *text.split_words(col.get("description") or "")]
        if any(qp.matches(forms, w) for w in words):
            matched.append(name)
    return highlights, matched[:20]


class SearchService:
    def __init__(self, store: Store, boosts: Boosts | None = None) -> None:
        self.store = store
        self.boosts = boosts or Boosts()

    def _terms(self, conn: Connection, q: str) -> tuple[list[qp.Term], dict[str, list[str]]]:
        backend = backend_for(conn)
        return qp.plan(
            qp.query_words(q),
            lambda w: backend.known(conn, w),
            lambda w: backend.candidates(conn, w),
            lambda w: backend.complete(conn, w),
        )

    @staticmethod
    def _top(query: SearchQuery) -> int | None:
        """How many of the best text matches the boosts re-rank: all of them when a filter
        or another sort could leave out or reorder any (exact name and FQN matches are added
        in any case, sql.page)."""
        if query.sort != "relevance" or any(query.filters.values()) or query.deleted:
            return None
        return max(TOP_CANDIDATES, 4 * (query.offset + query.limit))

    def search(self, query: SearchQuery) -> SearchResult:
        with self.store.read() as conn:
            terms, corrected = self._terms(conn, query.q)
            if not terms:  # only symbols or emoji: nothing to look for
                return SearchResult([], 0, None, {name: {} for name in FILTERS}, {})
            backend = backend_for(conn)
            key = text.key(query.q)
            rows: list[tuple[str, float]] = []
            total = 0
            facets: dict[str, dict[str, int]] = {name: {} for name in FILTERS}
            for mode in ("all", "any"):
                if mode == "any" and len(terms) == 1:
                    break
                params: dict[str, Any] = {}
                ranked = backend.matched(
                    terms, mode, self.boosts, params, ranked=True, top=self._top(query)
                )
                rows = sql.page(conn, ranked, dict(params), query, self.boosts, key)
                if rows or query.offset:
                    params = {}
                    matched = backend.matched(terms, mode, self.boosts, params, ranked=False)
                    if query.facets:
                        total, facets = sql.facets(conn, matched, params, query)
                    else:
                        total = sql.count(conn, matched, params, query)
                    break
            assets = asset_rows.get_many(conn, [r[0] for r in rows])
        forms = tuple(dict.fromkeys(f for t in terms for f in t.forms))
        hits = []
        for asset_id, score in rows:
            asset = assets.get(asset_id)
            if asset is None:
                continue
            highlights, columns = explain(asset, forms)
            hits.append(Hit(asset, round(score, 6), highlights, columns))
        end = query.offset + len(rows)
        after = end if end < total else None
        return SearchResult(hits, total, after, facets, corrected)

    def suggest(self, q: str, limit: int = 10) -> list[Suggestion]:
        check_query(q)
        if not 1 <= limit <= 25:
            raise InvalidInput("limit must be between 1 and 25")
        prefix = q.strip().lower()
        words = qp.query_words(q)
        with self.store.read() as conn:
            ids = backend_for(conn).suggest(conn, prefix, words, limit)
            assets = asset_rows.get_many(conn, ids)
        return [
            Suggestion(a.id, a.kind, a.fqn, a.name, a.doc.get("display_name"))
            for i in ids
            if (a := assets.get(i)) is not None
        ]
