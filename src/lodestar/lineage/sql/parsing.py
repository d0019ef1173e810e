"""Split a SQL text into statements and parse each on its own, so one statement sqlglot
cannot read costs that statement only. Statements wrapped in procedural text (a procedure
header, BEGIN, IF ... THEN) are recovered from their first DML keyword."""

from __future__ import annotations

import itertools
import logging
import re
import threading
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokenizer_core import Token, TokenType
from sqlglot.tokens import Tokenizer

from lodestar.lineage.sql.dialects import reader as dialect_reader

# Where a statement can start inside procedural text.
_STARTS = frozenset(
    {
        TokenType.INSERT,
        TokenType.MERGE,
        TokenType.UPDATE,
        TokenType.DELETE,
        TokenType.WITH,
        TokenType.SELECT,
        TokenType.CREATE,
    }
)
# sqlglot warns with the statement's text when it falls back to a raw command; the text may
# hold secrets, and what the analyzer could not read is reported in its answer instead.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_SPLITS = frozenset(
    {TokenType.INSERT, TokenType.MERGE, TokenType.UPDATE, TokenType.DELETE, TokenType.CREATE}
)
_MAX_RECOVERIES = 4


@dataclass(frozen=True, slots=True)
class Parsed:
    number: int
    statements: tuple[exp.Expr, ...]
    error: str | None = None


_LOCAL = threading.local()


def _tokenizer(reader: Dialect) -> Tokenizer:
    """One tokenizer per dialect and thread: making one costs as much as tokenizing a short
    query, and `tokenize` starts afresh each call."""
    cache: dict[int, Tokenizer] | None = getattr(_LOCAL, "tokenizers", None)
    if cache is None:
        cache = _LOCAL.tokenizers = {}
    found = cache.get(id(reader))
    if found is None:
        found = cache[id(reader)] = reader.tokenizer()
    return found


def _parser(reader: Dialect) -> Parser:
    """One parser per dialect and thread (`parse` resets it)."""
    cache: dict[int, Parser] | None = getattr(_LOCAL, "parsers", None)
    if cache is None:
        cache = _LOCAL.parsers = {}
    found = cache.get(id(reader))
    if found is None:
        found = cache[id(reader)] = reader.parser()
    return found


def parse_statements(sql: str, dialect: str | None) -> list[Parsed]:
    reader = dialect_reader(dialect)
    try:
        tokens = _tokenizer(reader).tokenize(sql)
    except TokenError as error:
        return [Parsed(1, (), f"cannot read the SQL text: {_clean(str(error))}")]
    try:
        whole = [e for e in _parser(reader).parse(tokens, sql) if e is not None]
    except (ParseError, TokenError, RecursionError, ValueError):
        whole = None
    if whole is not None and not any(_opaque(e) or _not_a_statement(e) for e in whole):
        return [Parsed(i, (e,)) for i, e in enumerate(whole, 1)]
    groups: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(token)
    results: list[Parsed] = []
    number = 0
    for group in groups:
        if not group:
            continue
        number += 1
        results.append(_parse_group(reader, sql, number, group))
    return results


def _parse_group(reader: Dialect, sql: str, number: int, group: list[Token]) -> Parsed:
    try:
        parsed = [e for e in _parser(reader).parse(group, sql) if e is not None]
    except ParseError as error:
        recovered = _segments(reader, sql, group)
        if recovered:
            return Parsed(number, recovered)
        return Parsed(number, (), _message(error))
    except (TokenError, RecursionError, ValueError) as error:
        return Parsed(number, (), f"cannot parse: {_clean(str(error))}")
    if any(_opaque(e) for e in parsed):
        salvaged = _recover(reader, sql, group)
        if salvaged is not None:
            return Parsed(number, salvaged)
    stray = next((e for e in parsed if _not_a_statement(e)), None)
    if stray is not None:
        text = _clean(sql[group[0].start : group[-1].end + 1])[:60]
        return Parsed(number, (), f"cannot parse: {text!r} is not a SQL statement")
    return Parsed(number, tuple(parsed))


def _not_a_statement(node: exp.Expr) -> bool:
    """sqlglot reads a bare expression (`SELEC x` as a column and its alias) as a statement."""
    return isinstance(node, (exp.Condition, exp.Alias, exp.Identifier)) and not isinstance(
        node, exp.Query
    )


def _opaque(node: exp.Expr) -> bool:
    """A statement sqlglot kept as raw text, or a procedure whose body it did not read."""
    if isinstance(node, exp.Command):
        return True
    return isinstance(node, exp.Create) and isinstance(node.expression, exp.Command)


def _segments(reader: Dialect, sql: str, group: list[Token]) -> tuple[exp.Expr, ...]:
    """Statements run together without semicolons (T-SQL allows it), or wrapped in
    procedural text: split before each top-level statement keyword and read each part."""
    cuts = [0]
    depth = 0
    for i, token in enumerate(group):
        kind = token.token_type
        if kind is TokenType.L_PAREN:
            depth += 1
        elif kind is TokenType.R_PAREN:
            depth -= 1
        elif i and depth == 0 and kind in _SPLITS:
            cuts.append(i)
    cuts.append(len(group))
    found: list[exp.Expr] = []
    for start, end in itertools.pairwise(cuts):
        part = group[start:end]
        try:
            parsed = [e for e in _parser(reader).parse(part, sql) if e is not None]
        except (ParseError, TokenError, RecursionError, ValueError):
            parsed = []
        if not parsed or any(_opaque(e) for e in parsed):
            parsed = list(_recover(reader, sql, part) or ())
        found.extend(parsed)
    return tuple(found)


def _recover(reader: Dialect, sql: str, group: list[Token]) -> tuple[exp.Expr, ...] | None:
    tries = 0
    for i in range(1, len(group)):
        if group[i].token_type not in _STARTS:
            continue
        tries += 1
        if tries > _MAX_RECOVERIES:
            return None
        try:
            parsed = [e for e in _parser(reader).parse(group[i:], sql) if e is not None]
        except (ParseError, TokenError, RecursionError, ValueError):
            continue
        if parsed and not any(_opaque(e) for e in parsed):
            return tuple(parsed)
    return None


def _message(error: ParseError) -> str:
    if error.errors:
        first = error.errors[0]
        where = (
            f" (line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        )
        return f"cannot parse: {_clean(str(first.get('description') or 'invalid SQL'))}{where}"
    return f"cannot parse: {_clean(str(error))}"


_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+, col: \d+, start: .*?>")


def _clean(text: str) -> str:
    """One line, no terminal escapes (sqlglot underlines the fault with them), tokens by text."""
    text = text.replace("\x1b[4m", "").replace("\x1b[0m", "")
    text = _TOKEN.sub(lambda m: repr(m.group(1)), text)
    return " ".join(text.split())[:300]
