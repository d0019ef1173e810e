"""Words as people type them: identifiers split at `_`, `.`, `-`, camelCase and digits, so
`churn_probability`, `customerId` and `fct_orders2` are found by `churn probability`,
`customer id` and `orders 2`. The index and the queries go through the same functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

# Runs of letters and digits (any script); everything else separates words.
_RUN = re.compile(r"[^\W_]+", re.UNICODE)
# Inside a run: an upper-case letter after a lower-case one, and letters against digits.
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_DIGITS = re.compile(r"[0-9]+|[^0-9]+")

MAX_WORD = 64  # longer runs are noise (hashes, base64), not words anyone types


def _parts(run: str) -> list[str]:
    if run.isascii():
        return _CAMEL.findall(run) or [run]
    return _DIGITS.findall(run)  # other scripts: only letters against digits


@lru_cache(maxsize=32_768)
def words(text: str) -> tuple[str, ...]:
    """The lower-case words of `text`, each identifier split into its parts; a camelCase or
    digit-joined identifier also gives its whole lower-cased run (`customerid`). Cached:
    column names and descriptions repeat across the tables of a catalog."""
    out: list[str] = []
    for m in _RUN.finditer(text):
        run = m.group()
        if len(run) > MAX_WORD:
            continue
        parts = _parts(run)
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
        out.append(run.lower())
    return tuple(out)


@lru_cache(maxsize=32_768)
def split_words(text: str) -> tuple[str, ...]:
    """Only the split parts, for queries: `customerId` is `customer id`."""
    out: list[str] = []
    for m in _RUN.finditer(text):
        run = m.group()
        if len(run) > MAX_WORD:
            continue
        out.extend(p.lower() for p in _parts(run))
    return tuple(out)


STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
     "of", "on", "or", "per", "the", "to", "with"}
)  # fmt: skip


def joined(values: Iterable[str]) -> str:
    """The distinct words of several values as one text for the full-text index, stop words
    left out (a field's relevance is which words it has, not how often, and queries drop stop
    words too: that keeps the index small)."""
    seen = dict.fromkeys(chain.from_iterable(words(v) for v in values if v))
    return " ".join(w for w in seen if w not in STOP_WORDS)


def key(text: str) -> str:
    """A name or phrase reduced to its words, for exact-match comparison: `fct_orders`,
    `fct orders` and `FctOrders` share one key."""
    return " ".join(split_words(text))


def distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance with transpositions counted once, or `limit + 1` when over it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def allowed_typos(word: str) -> int:
    """Edits a misspelt word may be away from a known one: none below 4 letters (too many
    short words are one edit apart), one up to 7, two beyond."""
    n = len(word)
    return 0 if n < 4 else 1 if n < 8 else 2
