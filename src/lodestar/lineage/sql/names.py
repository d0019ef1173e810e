"""Identifier normalisation per dialect and table-name qualification with the caller's
defaults. Unquoted identifiers fold as the dialect folds them; quoted ones keep their case
where the dialect keeps it."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

from lodestar.model import fqn

# Dialects with one namespace level under the server: there "database" is the schema.
TWO_LEVEL = frozenset(
    {
        "mysql",
        "hive",
        "spark",
        "spark2",
        "databricks",
        "clickhouse",
        "doris",
        "starrocks",
        "singlestore",
        "sqlite",
        "drill",
    }
)


class Names:
    """Folds identifiers and qualifies table names for one analysis."""

    __slots__ = ("_strategy", "database", "schema", "two_level")

    def __init__(
        self, dialect: str | None, default_database: str | None, default_schema: str | None
    ) -> None:
        self._strategy = Dialect.get_or_raise(dialect).normalization_strategy
        self.two_level = dialect in TWO_LEVEL
        database = default_database or None
        schema = default_schema or None
        if schema is None and database is not None and self.two_level:
            database, schema = None, database
        self.database = database
        self.schema = schema

    def fold(self, name: str, quoted: bool, *, table: bool = False) -> str:
        strategy = self._strategy
        if strategy is NormalizationStrategy.LOWERCASE:
            return name if quoted else name.lower()
        if strategy is NormalizationStrategy.UPPERCASE:
            return name if quoted else name.upper()
        if strategy is NormalizationStrategy.CASE_INSENSITIVE:
            return name.lower()
        if strategy is NormalizationStrategy.CASE_INSENSITIVE_UPPERCASE:
            return name.upper()
        if strategy is NormalizationStrategy.CASE_INSENSITIVE_EXCEPT_TABLES:
            return name if table else name.lower()
        return name

    def ident(self, node: exp.Expr | None, *, table: bool = False) -> str:
        if node is None:
            return ""
        if isinstance(node, exp.Identifier):
            return self.fold(node.name, bool(node.args.get("quoted")), table=table)
        if isinstance(node, exp.Dot):
            return ".".join(self.ident(p, table=table) for p in node.flatten())
        return self.fold(node.name, False, table=table)

    def table(self, node: exp.Table) -> str:
        """The table's name qualified as far as the SQL and the defaults go."""
        name = self.ident(node.this, table=True)
        db = self.ident(node.args.get("db"), table=True)
        catalog = self.ident(node.args.get("catalog"), table=True)
        if not db and self.schema:
            db = self.schema
        if db and not catalog and self.database:
            catalog = self.database
        parts = [p for p in (catalog, db) if p]
        parts.append(name)
        return qualified(parts)


def qualified(parts: list[str]) -> str:
    try:
        return fqn.join(parts)
    except fqn.FQNError:
        return ".".join(parts)


def key(name: str) -> str:
    """Case-insensitive lookup key for aliases, CTE names and columns."""
    return name.casefold()
