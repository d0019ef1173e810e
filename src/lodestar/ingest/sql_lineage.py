"""Lineage from SQL for connectors: a view's definition, a dbt model's compiled SQL, a logged
query, through the SQL analyzer (`lodestar.lineage.sql`), with the analyzer's table names put
onto the catalog's FQNs (`service.database.schema.table`).

The analyzer qualifies a name as far as the SQL and the given defaults go. Databases with one
namespace level under the server (MySQL, SQLite) call the schema what their SQL calls a
database; there the FQN's database level is the connector's own (`database_name`, the file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodestar.ingest.source import Lineage
from lodestar.model import fqn as fqn_mod

if TYPE_CHECKING:
    from lodestar.lineage.sql import SqlLineage

# Dialects whose SQL names `schema.table` only, the schema being what they call a database.
_TWO_LEVEL = frozenset({"mysql", "sqlite", "hive", "spark", "databricks", "clickhouse"})


@dataclass(frozen=True, slots=True)
class Naming:
    """Where unqualified names in a SQL text live, and how its names become FQNs."""

    service: str
    database: str
    schema: str | None
    dialect: str

    @property
    def two_level(self) -> bool:
        return self.dialect in _TWO_LEVEL

    def fqn(self, name: str) -> str | None:
        """The catalog FQN of a table name the analyzer returned; None if it is not one."""
        try:
            parts = fqn_mod.split(name)
        except fqn_mod.FQNError:
            return None
        if self.two_level:
            if len(parts) == 1 and self.schema:
                parts = [self.schema, *parts]
            parts = parts[-2:] if len(parts) >= 2 else parts
            if len(parts) != 2:
                return None
            full = [self.database, *parts]
        else:
            if len(parts) == 1 and self.schema:
                parts = [self.schema, *parts]
            if len(parts) == 2:
                parts = [self.database, *parts]
            if len(parts) != 3:
                return None
            full = parts
        try:
            return fqn_mod.join([*fqn_mod.split(self.service), *full])
        except fqn_mod.FQNError:
            return None

    def sql_name(self, fqn: str) -> str | None:
        """A catalog table FQN as the analyzer names it (the key of its `schema` map)."""
        try:
            parts = fqn_mod.split(fqn)
        except fqn_mod.FQNError:
            return None
        service = fqn_mod.split(self.service)
        if parts[: len(service)] != service or len(parts) != len(service) + 3:
            return None
        database, schema, table = parts[len(service) :]
        try:
            if self.two_level:
                return fqn_mod.join([schema, table]) if database == self.database else None
            return fqn_mod.join([database, schema, table])
        except fqn_mod.FQNError:
            return None


@dataclass(slots=True)
class Analysis:
    """A SQL text's lineage on catalog FQNs."""

    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    # (source FQN, target FQN) -> column pairs
    flows: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def lineage(self, *, via: str = "", props: Mapping[str, Any] | None = None) -> list[Lineage]:
        return [
            Lineage(
                "table",
                src,
                "table",
                tgt,
                via=via,
                columns=tuple(cols),
                props=dict(props) if props else None,
            )
            for (src, tgt), cols in self.flows.items()
        ]


def analyze(
    sql: str,
    naming: Naming,
    *,
    target: str | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> Analysis:
    """Lineage of `sql` on catalog FQNs. `target`: the FQN the text defines (a view, a dbt
    model) when the text is only its SELECT; every flow of the text then lands there.
    `columns`: table FQN -> its column names, for `*` expansion."""
    from lodestar.lineage.sql import analyze as analyze_sql

    text = sql
    if target is not None and not _is_create(sql):
        target_name = naming.sql_name(target)
        if target_name is None:
            return Analysis(errors=[f"{target} cannot be named in {naming.dialect} SQL"])
        text = f"CREATE VIEW {_quoted(target_name, naming.dialect)} AS {sql.rstrip().rstrip(';')}"
    schema = None
    if columns:
        schema = {}
        for fqn, cols in columns.items():
            name = naming.sql_name(fqn)
            if name is not None:
                schema[name] = list(cols)
                # where the dialect folds names (SQLite: `Orders` is `orders`)
                schema.setdefault(name.casefold(), list(cols))
    result = analyze_sql(
        text,
        dialect=naming.dialect,
        default_database=None if naming.two_level else naming.database,
        default_schema=naming.schema,
        schema=schema,
    )
    return _on_fqns(result, naming, target, columns or {})


def _on_fqns(
    result: SqlLineage, naming: Naming, target: str | None, known: Mapping[str, Any]
) -> Analysis:
    out = Analysis(errors=[f"statement {e.statement}: {e.message}" for e in result.errors])
    unnamed: set[str] = set()
    # A dialect that folds names (SQLite's are case-insensitive) may name `Orders` `orders`.
    folded = {k.casefold(): k for k in known}

    def fqn(name: str) -> str | None:
        f = naming.fqn(name)
        if f is None:
            unnamed.add(name)
        elif f not in known:
            f = folded.get(f.casefold(), f)
        return f

    out.sources = sorted({f for f in map(fqn, result.sources) if f is not None})
    out.targets = sorted({f for f in map(fqn, result.targets) if f is not None})
    if target is not None:
        out.targets = [target]
    for flow in result.flows:
        src = fqn(flow.source)
        tgt = target if target is not None else fqn(flow.target)
        if src is None or tgt is None or src == tgt:
            continue
        pairs = out.flows.setdefault((src, tgt), [])
        for pair in flow.columns:
            # `*` is no column (count(*), a star the analyzer could not expand): the
            # table-level edge says it all
            if pair not in pairs and "*" not in pair:
                pairs.append(pair)
    if target is not None:
        for src in out.sources:
            if src != target:
                out.flows.setdefault((src, target), [])
    for name in sorted(unnamed):
        out.errors.append(f"table {name!r} does not map onto a catalog name")
    return out


def _is_create(sql: str) -> bool:
    """Whether the text is a whole CREATE statement (SQLite and DuckDB keep views so)."""
    text = sql.lstrip()
    while text.startswith("--") or text.startswith("/*"):
        if text.startswith("--"):
            text = text.split("\n", 1)[1].lstrip() if "\n" in text else ""
        else:
            text = text.split("*/", 1)[1].lstrip() if "*/" in text else ""
    return text[:6].upper() == "CREATE"


def _quoted(name: str, dialect: str) -> str:
    quote = "`" if dialect in ("mysql", "hive", "spark", "databricks") else '"'
    return ".".join(quote + part.replace(quote, quote * 2) + quote for part in fqn_mod.split(name))
