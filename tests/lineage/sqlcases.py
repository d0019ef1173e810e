"""Scoring of the analyzer against the shared SQL lineage cases (format in the cases' README):
a table case counts when both table sets match, a column case when the pair set matches,
names compared case-insensitively and unqualified names as `<default>.name`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lodestar.lineage.sql import analyze
from lodestar.model import fqn

CASES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "sqllineage" / "cases.json"
)

Pair = tuple[str, str, str, str]


@dataclass
class Score:
    table_ok: int = 0
    table_total: int = 0
    column_ok: int = 0
    column_total: int = 0
    failures: list[tuple[dict[str, Any], object, object]] = field(default_factory=list)

    @property
    def table(self) -> float:
        return self.table_ok / self.table_total if self.table_total else 0.0

    @property
    def column(self) -> float:
        return self.column_ok / self.column_total if self.column_total else 0.0


def load_cases() -> list[dict[str, Any]]:
    """The cases; a case run with sqllineage's database-backed metadata provider gets the
    schemas its twin run with the in-memory provider lists (the same tables: the fixture
    records only the latter's)."""
    cases: list[dict[str, Any]] = json.loads(CASES.read_text())
    schemas = {
        _twin(c["test"]): c["metadata"]["schemas"]
        for c in cases
        if (c.get("metadata") or {}).get("schemas")
    }
    for case in cases:
        metadata = case.get("metadata") or {}
        if metadata.get("provider") and not metadata.get("schemas"):
            case["metadata"] = {**metadata, "schemas": schemas.get(_twin(case["test"]))}
    return cases


def _twin(test: str) -> str:
    return test.replace("sqlalchemy", "").replace("dummy", "")


def _table(name: str | None) -> str:
    if name is None:
        return "<none>"
    name = name.lower()
    return name.removeprefix("<default>.")


def _plain(name: str) -> str:
    """An FQN as the cases spell names: parts joined by dots, unquoted, lower case."""
    try:
        return ".".join(fqn.split(name)).lower()
    except fqn.FQNError:
        return name.lower()


def expected_tables(case: dict[str, Any]) -> tuple[set[str], set[str]]:
    return (
        {_table(t) for t in case["source_tables"]},
        {_table(t) for t in case["target_tables"]},
    )


def expected_pairs(case: dict[str, Any]) -> set[Pair]:
    return {
        (_table(src[1]), src[0].lower(), _table(tgt[1]), tgt[0].lower())
        for src, tgt in case["column_lineage"]
    }


def run_case(case: dict[str, Any]) -> tuple[object, object]:
    """(expected, got) for one case, both normalised."""
    metadata = case.get("metadata") or {}
    lineage = analyze(case["sql"], dialect=case["dialect"], schema=metadata.get("schemas"))
    if case["kind"] == "table":
        got_tables = ({_plain(t) for t in lineage.sources}, {_plain(t) for t in lineage.targets})
        return expected_tables(case), got_tables
    got: set[Pair] = {
        (_plain(flow.source), s.lower(), _plain(flow.target), t.lower())
        for flow in lineage.flows
        for s, t in flow.columns
    }
    return expected_pairs(case), got


def score(cases: list[dict[str, Any]]) -> Score:
    result = Score()
    for case in cases:
        expected, got = run_case(case)
        ok = expected == got
        if case["kind"] == "table":
            result.table_total += 1
            result.table_ok += ok
        else:
            result.column_total += 1
            result.column_ok += ok
        if not ok:
            result.failures.append((case, expected, got))
    return result
