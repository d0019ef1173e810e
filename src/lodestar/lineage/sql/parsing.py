"""Split a SQL text into statements and parse each on its own, so one statement sqlglot
cannot read costs that statement only. Statements wrapped in procedural text (a procedure
header, BEGIN, IF ... THEN) are recovered from their first DML keyword."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

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
_MAX_RECOVERIES = 4


@dataclass(frozen=True, slots=True)
class Parsed:
    number: int
    statements: tuple[exp.Expr, ...]
    error: str | None = None


def parse_statements(sql: str, dialect: str | None) -> list[Parsed]:
    reader = Dialect.get_or_raise(dialect)
    try:
        tokens = reader.tokenize(sql)
    except TokenError as error:
        return [Parsed(1, (), f"cannot read the SQL text: {_clean(str(error))}")]
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
        parsed = [e for e in reader.parser().parse(group, sql) if e is not None]
    except ParseError as error:
        recovered = _recover(reader, sql, group)
        if recovered is not None:
            return Parsed(number, recovered)
        return Parsed(number, (), _message(error))
    except (TokenError, RecursionError, ValueError) as error:
        return Parsed(number, (), f"cannot parse: {_clean(str(error))}")
    if any(_opaque(e) for e in parsed):
        recovered = _recover(reader, sql, group)
        if recovered is not None:
            return Parsed(number, recovered)
    return Parsed(number, tuple(parsed))


def _opaque(node: exp.Expr) -> bool:
    """A statement sqlglot kept as raw text, or a procedure whose body it did not read."""
    if isinstance(node, exp.Command):
        return True
    return isinstance(node, exp.Create) and isinstance(node.expression, exp.Command)


def _recover(reader: Dialect, sql: str, group: list[Token]) -> tuple[exp.Expr, ...] | None:
    tries = 0
    for i in range(1, len(group)):
        if group[i].token_type not in _STARTS:
            continue
        tries += 1
        if tries > _MAX_RECOVERIES:
            return None
        try:
            parsed = [e for e in reader.parser().parse(group[i:], sql) if e is not None]
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
