"""What the SQL analyzer answers: tables read and written, column pairs, and per-statement
errors. Plain dataclasses: callers (the API, the CLI, ingestion) present them as they need."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StatementError:
    """A statement the analyzer could not read; `statement` counts from 1 in the text."""

    statement: int
    message: str


@dataclass(frozen=True, slots=True)
class Flow:
    """Data moved from one table to another; `columns` are (source, target) bare column names."""

    source: str
    target: str
    columns: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class SqlLineage:
    """Lineage of a whole SQL text. Tables written and read again later in the same text
    (temporary or intermediate tables) are left out: their sources flow through."""

    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    errors: list[StatementError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON contract of `POST /api/v1/sql/lineage` and `lodestar lineage sql --json`."""
        return {
            "sources": list(self.sources),
            "targets": list(self.targets),
            "columns": [[s, t] for s, t in self.columns],
            "errors": [{"statement": e.statement, "message": e.message} for e in self.errors],
        }
