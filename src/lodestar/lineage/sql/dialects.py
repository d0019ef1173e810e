"""Dialect names the analyzer accepts: sqlglot's own, plus the common other spellings
(sqlfluff's `ansi`, `sparksql`, `greenplum`...) mapped onto the nearest sqlglot dialect."""

from __future__ import annotations

# Other spellings -> the sqlglot dialect that reads them; None is sqlglot's generic SQL.
ALIASES: dict[str, str | None] = {
    "ansi": None,
    "sql": None,
    "generic": None,
    "db2": None,
    "sparksql": "spark",
    "spark_sql": "spark",
    "greenplum": "postgres",
    "postgresql": "postgres",
    "vertica": "postgres",
    "mariadb": "mysql",
    "sqlserver": "tsql",
    "mssql": "tsql",
    "synapse": "tsql",
    "azuresql": "tsql",
    "googlesql": "bigquery",
}

# sqlglot dialects that are not SQL engines or that this analyzer does not offer.
_EXCLUDED = {"", "dax", "prql", "tableau", "solr", "druid", "dune"}


class UnknownDialectError(ValueError):
    """The dialect name is not one the analyzer knows; the message lists the known ones."""


def known_dialects() -> list[str]:
    """Every accepted name, sorted: sqlglot's dialects and the aliases above."""
    from sqlglot.dialects.dialect import Dialect

    names = {name for name in Dialect.classes if name not in _EXCLUDED}
    return sorted(names | set(ALIASES))


def sqlglot_dialect(name: str | None) -> str | None:
    """The sqlglot dialect for a user-given name (case-insensitive; None or "" is generic)."""
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    from sqlglot.dialects.dialect import Dialect

    if key in Dialect.classes and key not in _EXCLUDED:
        return key
    raise UnknownDialectError(
        f"unknown SQL dialect {name!r}; known dialects: {', '.join(known_dialects())}"
    )
