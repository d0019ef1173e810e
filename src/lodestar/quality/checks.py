"""Checks as code: a checks file turned into `test_case` assets, applied in one unit of work.

```yaml
checks:
  - table: pg.shop.public.orders          # the catalog FQN
    schedule: "0 * * * *"                 # optional, for every test of the table
    owners: [alice, "team:data"]          # optional
    tests:
      - row_count_between: {min: 1}
      - freshness: {column: placed_at, max_age: 1d}
    columns:
      id: [not_null, unique]
      email: [{null_ratio_at_most: {max: 0.05}, severity: warning}]
```

A test is a type name, or a one-key mapping `{type: parameters}` with optional `severity`,
`name` (default `<column>_<type>` or `<type>`), `description`, `schedule` and `enabled`.
Every problem of the file is reported with where it is (`checks[0].columns.id[1]`) and nothing
is written unless the whole file is right. Applying the same file again changes nothing; a
test no longer in the file is deleted only with `prune`, and only on the tables the file names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lodestar.catalog import Catalog, InvalidInput, Key, NotFound, WriteContext
from lodestar.ingest.errors import ConfigError
from lodestar.model import fqn as fqn_mod
from lodestar.model.test_types import TEST_TYPES, check_type, family
from lodestar.quality.connect import Engines, locate
from lodestar.store import assets as q

_TEST_KEYS = {"severity", "name", "description", "schedule", "enabled"}
_CHECK_KEYS = {"table", "schedule", "owners", "tests", "columns"}


@dataclass(slots=True)
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, loc: Sequence[str | int], msg: str) -> None:
        self.items.append({"loc": list(loc), "msg": msg})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise InvalidInput(f"{where(first['loc'])}: {first['msg']}{more}", errors=self.items)


def where(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _owners(value: Any, loc: list[str | int], problems: _Problems) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(loc, "a list of owners: `alice` (a user) or `team:data`")
        return []
    out = []
    for i, o in enumerate(value):
        if isinstance(o, str) and o:
            kind, _, name = o.partition(":") if ":" in o else ("user", "", o)
            if kind not in ("user", "team") or not name:
                problems.add([*loc, i], "an owner is `alice` (a user) or `team:data`")
                continue
            out.append({"kind": kind, "fqn": name})
        else:
            problems.add([*loc, i], "an owner is `alice` (a user) or `team:data`")
    return out


def _tests(
    items: Any,
    loc: list[str | int],
    column: str | None,
    problems: _Problems,
) -> list[tuple[list[str | int], dict[str, Any]]]:
    """The (where, body fields) of each test in a list of the file."""
    if items is None:
        return []
    if not isinstance(items, list):
        problems.add(loc, "a list of tests, e.g. [not_null, {between: {min: 0}}]")
        return []
    out = []
    for i, item in enumerate(items):
        at = [*loc, i]
        if isinstance(item, str):
            type_name = item
            params: Any = {}
            extra: dict[str, Any] = {}
        elif isinstance(item, dict):
            names = [k for k in item if k not in _TEST_KEYS]
            if len(names) != 1:
                problems.add(
                    at,
                    "a test is one type name with its parameters, e.g. "
                    "{between: {min: 0, max: 10}, severity: warning}",
                )
                continue
            type_name = str(names[0])
            params = item[type_name] if item[type_name] is not None else {}
            extra = {k: item[k] for k in _TEST_KEYS if k in item}
        else:
            problems.add(at, "a test is a type name or a mapping {type: parameters}")
            continue
        if type_name not in TEST_TYPES:
            problems.add(
                [*at, type_name], f"unknown test type; known: {', '.join(sorted(TEST_TYPES))}"
            )
            continue
        spec = check_type(type_name)
        if spec.level == "column" and column is None:
            problems.add([*at, type_name], "a column test: list it under columns:")
            continue
        if spec.level == "table" and column is not None:
            problems.add([*at, type_name], "a table test: list it under tests:")
            continue
        try:
            params = spec.validate(params)
        except ValueError as e:
            problems.add([*at, type_name], str(e))
            continue
        sev = extra.get("severity", "blocking")
        if sev not in ("blocking", "warning"):
            problems.add([*at, "severity"], "severity is blocking or warning")
            continue
        body: dict[str, Any] = {
            "name": str(extra.get("name") or (f"{column}_{type_name}" if column else type_name)),
            "test_type": type_name,
            "parameters": params,
            "severity": sev,
        }
        if column is not None:
            body["column"] = column
        for key in ("description", "schedule", "enabled"):
            if key in extra:
                body[key] = extra[key]
        out.append((at, body))
    return out


def parse(document: Any, catalog: Catalog, *, connect: bool = False) -> list[dict[str, Any]]:
    """The test case bodies a checks file asks for; InvalidInput listing every problem. With
    `connect`, each table's database must answer too (its connection is usable from here)."""
    problems = _Problems()
    engines = Engines(catalog) if connect else None
    if not isinstance(document, dict) or not isinstance(document.get("checks"), list):
        raise InvalidInput(
            "a checks file is a mapping with `checks:`, a list of tables and their tests",
            errors=[{"loc": ["checks"], "msg": "a list is required"}],
        )
    bodies: list[dict[str, Any]] = []
    names: dict[str, list[str | int]] = {}
    for i, check in enumerate(document["checks"]):
        loc: list[str | int] = ["checks", i]
        if not isinstance(check, dict):
            problems.add(loc, "each check is a mapping with table: and tests: or columns:")
            continue
        for key in check:
            if key not in _CHECK_KEYS:
                problems.add([*loc, str(key)], f"unknown key; use {', '.join(sorted(_CHECK_KEYS))}")
        table_fqn = check.get("table")
        table = None
        if not isinstance(table_fqn, str) or not table_fqn:
            problems.add([*loc, "table"], "the table's catalog FQN is required")
        else:
            try:
                table_fqn = fqn_mod.normalize(table_fqn)
                table = catalog.get("table", Key(fqn=table_fqn))
            except (fqn_mod.FQNError, NotFound):
                problems.add([*loc, "table"], f"no table {table_fqn!r} in the catalog")
        columns = {
            c["name"]: c["data_type"] for c in (table.doc.get("columns", []) if table else [])
        }
        if engines is not None and table is not None:
            why = _unreachable(engines, table.fqn)
            if why:
                problems.add([*loc, "table"], why)
        owners = _owners(check.get("owners"), [*loc, "owners"], problems)
        found = _tests(check.get("tests"), [*loc, "tests"], None, problems)
        per_column = check.get("columns") or {}
        if not isinstance(per_column, dict):
            problems.add([*loc, "columns"], "a mapping of column name to its list of tests")
            per_column = {}
        for col, items in per_column.items():
            at: list[str | int] = [*loc, "columns", str(col)]
            if table is not None and col not in columns:
                problems.add(at, f"{table_fqn} has no column {col!r}")
                continue
            for where, body in _tests(items, at, str(col), problems):
                spec = TEST_TYPES[body["test_type"]]
                fam = family(columns.get(str(col), ""))
                if table is not None and fam not in spec.applies_to:
                    problems.add(
                        [*where, body["test_type"]],
                        f"{body['test_type']} does not apply to {col} ({columns[str(col)]}, "
                        f"{fam}); it applies to {', '.join(spec.applies_to)} columns",
                    )
                    continue
                found.append((where, body))
        for where, body in found:
            fresh_col = (
                body["parameters"].get("column") if body["test_type"] == "freshness" else None
            )
            if table is not None and fresh_col and fresh_col not in columns:
                problems.add(
                    [*where, "freshness", "column"], f"{table_fqn} has no column {fresh_col!r}"
                )
                continue
            if body["test_type"] == "reference":
                ref = body["parameters"]["table"]
                try:
                    target = catalog.get("table", Key(fqn=fqn_mod.normalize(ref)))
                except (fqn_mod.FQNError, NotFound):
                    problems.add([*where, "reference", "table"], f"no table {ref!r} in the catalog")
                    continue
                ref_cols = {c["name"] for c in target.doc.get("columns", [])}
                if body["parameters"]["column"] not in ref_cols:
                    problems.add(
                        [*where, "reference", "column"],
                        f"{ref} has no column {body['parameters']['column']!r}",
                    )
                    continue
            body["table"] = table_fqn
            if "schedule" not in body and check.get("schedule"):
                body["schedule"] = check["schedule"]
            if owners:
                body["owners"] = owners
            key = f"{table_fqn}.{body['name']}"
            if key in names:
                problems.add(
                    where,
                    f"a second test named {body['name']!r} on {table_fqn}; give "
                    "one of them a `name:`",
                )
                continue
            names[key] = where
            bodies.append(body)
    if engines is not None:
        engines.dispose()
    problems.raise_any()
    return bodies


def _unreachable(engines: Engines, table_fqn: str) -> str | None:
    """Why the table's database cannot be reached from here, or None."""
    import sqlalchemy as sa

    try:
        service = fqn_mod.split(table_fqn)[0]
        loc = locate(table_fqn, engines.service_type(service))
        with engines.engine(loc.service, loc.database).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except ConfigError as e:
        return f"no usable connection: {e}"
    except Exception as e:  # any driver's failure to connect
        orig = getattr(e, "orig", None) or e
        return f"cannot reach the table's database: {' '.join(str(orig).split())[:300]}"
    return None


def apply(
    catalog: Catalog,
    document: Any,
    ctx: WriteContext,
    *,
    prune: bool = False,
    connect: bool = False,
) -> ApplyReport:
    """Write the file's test cases in one unit of work; a second apply changes nothing."""
    bodies = parse(document, catalog, connect=connect)
    tables = sorted({b["table"] for b in bodies} | _named_tables(document))
    report = ApplyReport()
    with catalog.transaction(ctx) as tx:
        wanted: set[str] = set()
        for body in bodies:
            fqn = f"{body['table']}.{fqn_mod.quote(body['name'])}"
            wanted.add(fqn)
            current = q.get_by_fqn(tx.conn, "test_case", fqn)
            if current is not None and not current.deleted and current.doc.get("status"):
                body = {**body, "status": current.doc["status"]}  # the runner's, kept
            outcome = tx.upsert("test_case", body)
            getattr(report, outcome.status or "unchanged").append(fqn)
        if prune:
            for table in tables:
                for asset in q.by_fqn_prefix(tx.conn, "test_case", table + "."):
                    if asset.deleted or asset.fqn in wanted or asset.doc.get("table") != table:
                        continue
                    if tx.delete("test_case", Key(id=asset.id)):
                        report.deleted.append(asset.fqn)
    return report


def _named_tables(document: Mapping[str, Any]) -> set[str]:
    out = set()
    for check in document.get("checks") or []:
        if isinstance(check, dict) and isinstance(check.get("table"), str):
            try:
                out.add(fqn_mod.normalize(check["table"]))
            except fqn_mod.FQNError:
                continue
    return out


__all__ = ["ApplyReport", "apply", "parse", "where"]
