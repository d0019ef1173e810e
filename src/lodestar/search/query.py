"""From what was typed to what the index is asked: words split as the index splits them,
stop words dropped, every word a prefix (as you type), and a misspelt word widened to the
known words it is a typo or two away from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lodestar.search import text
from lodestar.search.models import MAX_WORDS

STOP_WORDS = text.STOP_WORDS


@dataclass(frozen=True, slots=True)
class Term:
    """One query word, matched as itself (stemmed), as any of its corrections, and, for the
    last word (the one being typed), as a prefix: the backend either matches the prefix
    natively or ORs the indexed words that start with it (`completions`)."""

    word: str
    corrections: tuple[str, ...] = ()
    prefix: bool = False
    completions: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.word, *self.corrections, *self.completions)


def query_words(q: str) -> list[str]:
    """The words of a query, in order, once each; stop words go unless nothing else is left."""
    found = list(dict.fromkeys(text.split_words(q)))
    kept = [w for w in found if w not in STOP_WORDS] or found
    return kept[:MAX_WORDS]


def plan(
    words: list[str],
    known: Callable[[str], bool],
    candidates: Callable[[str], list[str]],
    complete: Callable[[str], list[str]],
) -> tuple[list[Term], dict[str, list[str]]]:
    """Terms for the words; `known(w)`: some indexed word starts with w; `candidates(w)`:
    indexed words that look like w (trigram neighbours), checked here by edit distance;
    `complete(w)`: indexed words that start with w, for the last word."""
    terms: list[Term] = []
    corrected: dict[str, list[str]] = {}
    for i, w in enumerate(words):
        last = i == len(words) - 1
        limit = text.allowed_typos(w)
        if limit == 0 or not w.isalpha() or known(w):
            if last:
                terms.append(Term(w, prefix=True, completions=tuple(complete(w))))
            else:
                terms.append(Term(w))
            continue
        scored = sorted((d, c) for c in candidates(w) if (d := text.distance(w, c, limit)) <= limit)
        best = scored[0][0] if scored else None
        fixes = tuple(c for d, c in scored if d == best)[:5]
        if fixes:
            corrected[w] = list(fixes)
        terms.append(Term(w, fixes))
    return terms, corrected


def matches(forms: tuple[str, ...], token: str) -> bool:
    """Whether a word of a text answers any of the query's word forms (as the index would: a
    prefix, or the same stem give or take a plural or verb ending)."""
    if token.startswith(forms):
        return True
    if len(token) >= 4:
        return any(f.startswith(token) and len(f) - len(token) <= 3 for f in forms)
    return False
