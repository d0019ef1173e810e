"""Lineage from SQL text (sqlglot): tables read and written, column pairs, per-statement
errors, and query fingerprints. Domain code: no web or terminal imports.

    analyze("INSERT INTO b SELECT x FROM a", dialect="postgres").columns
    -> [("a.x", "b.x")]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lodestar.lineage.sql.dialects import UnknownDialectError, known_dialects, sqlglot_dialect
from lodestar.lineage.sql.fingerprint import fingerprint, normalized
from lodestar.lineage.sql.models import Flow, SqlLineage, StatementError

__all__ = [
    "Flow",
    "SqlLineage",
    "StatementError",
    "UnknownDialectError",
    "analyze",
    "fingerprint",
    "known_dialects",
    "normalized",
    "sqlglot_dialect",
]


def analyze(
    sql: str,
    *,
    dialect: str | None = None,
    default_database: str | None = None,
    default_schema: str | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
) -> SqlLineage:
    """Lineage of a SQL text (one or many statements).

    `schema` maps qualified table names (as this function qualifies them) to their column
    lists, for `*` expansion and positional INSERTs. Never raises on bad SQL: a statement that
    cannot be read is reported in `errors` with its 1-based number. Raises
    `UnknownDialectError` for a dialect name it does not know.
    """
    from lodestar.lineage.sql.names import Names
    from lodestar.lineage.sql.parsing import parse_statements
    from lodestar.lineage.sql.script import Script

    read = sqlglot_dialect(dialect)
    names = Names(read, default_database, default_schema)
    script = Script(names, read, schema)
    for parsed in parse_statements(sql, read):
        if parsed.error is not None:
            script.errors.append(StatementError(parsed.number, parsed.error))
            continue
        for statement in parsed.statements:
            try:
                script.statement(statement)
            except (RecursionError, ValueError, TypeError, AttributeError, KeyError) as error:
                script.errors.append(
                    StatementError(
                        parsed.number, f"cannot analyze: {error.__class__.__name__}: {error}"
                    )
                )
    return script.result()
