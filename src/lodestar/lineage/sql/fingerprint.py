"""Query fingerprints: the same query with other literals gets the same fingerprint, so
usage can be counted per query shape."""

from __future__ import annotations

import hashlib
import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")


def normalized(sql: str, dialect: str | None = None) -> str:
    """The query's text with every literal a `?` (an IN list of literals one `(?)`), in one
    canonical spelling; falls back to a textual normalisation when sqlglot cannot parse it."""
    try:
        reader = Dialect.get_or_raise(dialect)
        statements = [e for e in reader.parse(sql) if e is not None]
        parts = []
        for statement in statements:
            shaped = statement.transform(_placeholder, copy=True)
            parts.append(shaped.sql(dialect=reader, normalize=True))
        text = ";".join(parts)
    except (SqlglotError, RecursionError, ValueError):
        text = _NUMBER.sub("?", _STRING.sub("?", sql)).lower()
    text = " ".join(text.split())
    return _LIST.sub("(?)", text)


def fingerprint(sql: str, dialect: str | None = None) -> str:
    """A stable 32-hex-digit digest of `normalized(sql, dialect)`."""
    return hashlib.blake2b(normalized(sql, dialect).encode(), digest_size=16).hexdigest()


def _placeholder(node: exp.Expr) -> exp.Expr:
    if isinstance(node, (exp.Literal, exp.Boolean)):
        return exp.Placeholder()
    if isinstance(node, exp.In):
        values = node.expressions
        if values and all(isinstance(v, (exp.Literal, exp.Placeholder)) for v in values):
            node.set("expressions", [exp.Placeholder()])
    return node
