"""Identifier normalisation per dialect and table-name qualification with the caller's
defaults. Unquoted identifiers fold as the dialect folds them; quoted ones keep their case
where the dialect keeps it."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from lodestar.lineage.sql.dialects import reader as dialect_reader
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

Fold = Callable[[str], str]
FILE_FORMATS = frozenset({"parquet", "json", "csv", "orc", "avro", "text", "delta", "binaryfile"})


def _same(name: str) -> str:
    return name


# Per strategy: how an unquoted and a quoted name fold, for columns and for tables.
_FOLDS: dict[str, tuple[Fold, Fold, Fold, Fold]] = {
    "LOWERCASE": (str.lower, _same, str.lower, _same),
    "UPPERCASE": (str.upper, _same, str.upper, _same),
    "CASE_INSENSITIVE": (str.lower, str.lower, str.lower, str.lower),
    "CASE_INSENSITIVE_UPPERCASE": (str.upper, str.upper, str.upper, str.upper),
    "CASE_INSENSITIVE_EXCEPT_TABLES": (str.lower, str.lower, _same, _same),
}
_SENSITIVE: tuple[Fold, Fold, Fold, Fold] = (_same, _same, _same, _same)


class Names:
    """Folds identifiers and qualifies table names for one analysis."""

    __slots__ = ("_quoted", "_tables", "_unquoted", "database", "schema", "two_level")

    def __init__(
        self, dialect: str | None, default_database: str | None, default_schema: str | None
    ) -> None:
        # By name: the set of strategies differs between sqlglot releases.
        strategy = str(dialect_reader(dialect).normalization_strategy.value)
        unquoted, quoted, table_unquoted, table_quoted = _FOLDS.get(strategy, _SENSITIVE)
        self._unquoted = (unquoted, table_unquoted)
        self._quoted = (quoted, table_quoted)
        self._tables: dict[tuple[object, ...], str] = {}
        self.two_level = dialect in TWO_LEVEL
        database = default_database or None
        schema = default_schema or None
        if schema is None and database is not None and self.two_level:
            database, schema = None, database
        self.database = database
        self.schema = schema

    def fold(self, name: str, quoted: bool, *, table: bool = False) -> str:
        return (self._quoted if quoted else self._unquoted)[table](name)

    def ident(self, node: exp.Expr | None, *, table: bool = False) -> str:
        if node is None:
            return ""
        if type(node) is exp.Identifier:
            folds = self._quoted if node.args.get("quoted") else self._unquoted
            return folds[table](node.this)
        if isinstance(node, exp.Dot):
            return ".".join(self.ident(p, table=table) for p in node.flatten())
        return self._unquoted[table](node.name)

    def table(self, node: exp.Table) -> str:
        """The table's name qualified as far as the SQL and the defaults go; a file read
        directly (Spark's parquet.`path`) is its path. Cached per spelling: a script names
        the same tables again and again."""
        args = node.args
        this, db_node, catalog_node = args.get("this"), args.get("db"), args.get("catalog")
        cache_key = (
            _spelling(this),
            _spelling(db_node),
            _spelling(catalog_node),
            self.schema,
            self.database,
        )
        found = self._tables.get(cache_key)
        if found is not None:
            return found
        name = self.ident(this, table=True)
        db = self.ident(db_node, table=True)
        if db.lower() in FILE_FORMATS and "/" in name and catalog_node is None:
            result = node.name
        else:
            catalog = self.ident(catalog_node, table=True)
            if not db and self.schema:
                db = self.schema
            if db and not catalog and self.database:
                catalog = self.database
            parts = [p for p in (catalog, db) if p]
            parts.append(name)
            result = qualified(parts)
        self._tables[cache_key] = result
        return result


def _spelling(node: exp.Expr | None) -> object:
    if node is None:
        return None
    if type(node) is exp.Identifier:
        return (node.this, bool(node.args.get("quoted")))
    return node.sql()


def qualified(parts: list[str]) -> str:
    try:
        return fqn.join(parts)
    except fqn.FQNError:
        return ".".join(parts)


# Case-insensitive lookup key for aliases, CTE names and columns.
key: Fold = str.casefold
