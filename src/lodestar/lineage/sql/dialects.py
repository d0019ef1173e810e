"""Dialect names the analyzer accepts: sqlglot's own, plus the common other spellings
(sqlfluff's `ansi`, `sparksql`, `greenplum`...) mapped onto the nearest sqlglot dialect."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot.dialects.dialect import Dialect

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


@cache
def _sqlglot_names() -> frozenset[str]:
    # The names sqlglot lists, without importing every dialect's module.
    from sqlglot.dialects import DIALECT_MODULE_NAMES

    return frozenset(name for name in DIALECT_MODULE_NAMES if name not in _EXCLUDED)


def known_dialects() -> list[str]:
    """Every accepted name, sorted: sqlglot's dialects and the aliases above."""
    return sorted(_sqlglot_names() | set(ALIASES))


@lru_cache(maxsize=256)
def sqlglot_dialect(name: str | None) -> str | None:
    """The sqlglot dialect for a user-given name (case-insensitive; None or "" is generic)."""
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key in _sqlglot_names():
        return key
    raise UnknownDialectError(
        f"unknown SQL dialect {name!r}; known dialects: {', '.join(known_dialects())}"
    )


@lru_cache(maxsize=64)
def reader(name: str | None) -> Dialect:
    """The sqlglot dialect object for a sqlglot dialect name (None: generic), made once."""
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(name)
