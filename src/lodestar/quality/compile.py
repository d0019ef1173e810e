"""Compiling one table's tests into SQL for the source's own engine.

Every column metric of every test on a table goes into ONE aggregate SELECT (one scan); each
test then judges its own metrics. Only what cannot be an aggregate of that scan runs apart:
custom SQL, reference checks, the source's column count (a zero-row SELECT), and failing-row
samples, which are fetched only after a test failed. The statements are SQLAlchemy Core, so
each dialect quotes and spells them (PostgreSQL, SQLite, DuckDB, and any other with a dialect).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from lodestar.model.test_types import duration_s

SAMPLE_ROWS = 10
SAMPLE_VALUE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Case:
    """A test case as the runner needs it (from its `test_case` asset)."""

    id: str
    fqn: str
    name: str
    table: str
    column: str | None
    test_type: str
    params: Mapping[str, Any]
    severity: str
    status: str | None = None


@dataclass(slots=True)
class Verdict:
    """A test's judgement of its metrics."""

    status: str  # passed | failed | error
    value: float | None = None
    expected_min: float | None = None
    expected_max: float | None = None
    failed_rows: int | None = None
    message: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Source:
    """Where the table lives in its engine, and the columns its tests name: one table clause
    for every statement, so the scan reads the table once."""

    schema: str | None
    table: str
    dialect: sa.Dialect
    columns: Sequence[str] = ()
    _rel: sa.TableClause | None = None

    def relation(self) -> sa.TableClause:
        if self._rel is None:
            cols = dict.fromkeys(self.columns)
            self._rel = sa.table(self.table, *(sa.column(c) for c in cols), schema=self.schema)
        return self._rel

    def sql(self, stmt: sa.ClauseElement) -> str:
        """The statement as text with its values inlined: what a person can run again."""
        return str(stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))


Metrics = dict[str, sa.ColumnElement[Any]]


@dataclass(slots=True)
class Compiled:
    """One test's part of the scan: its aggregates, how it judges them, and the predicate
    that finds its failing rows (for the sample)."""

    metrics: Metrics
    judge: Callable[[Mapping[str, Any]], Verdict]
    failing: Callable[[sa.TableClause], sa.ColumnElement[bool]] | None = None
    duplicates: bool = False  # unique: the sample is the duplicated values


def _num(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, Decimal | int | float):
        return float(v)
    return float(v)


def _count(v: Any) -> int:
    return 0 if v is None else int(v)


def _range(value: float | None, lo: float | None, hi: float | None) -> bool:
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _bounded(value: float | None, p: Mapping[str, Any], *, failed: int | None = None) -> Verdict:
    lo, hi = p.get("min"), p.get("max")
    ok = _range(value, lo, hi)
    return Verdict(
        "passed" if ok else "failed",
        value,
        None if lo is None else float(lo),
        None if hi is None else float(hi),
        failed,
    )


def _bad_rows(value: int, message: str | None = None) -> Verdict:
    return Verdict("passed" if value == 0 else "failed", float(value), None, 0.0, value, message)


def _sum_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((cond, 1), else_=0))


def _regex(col: sa.ColumnElement[Any], pattern: str, dialect: str) -> sa.ColumnElement[bool]:
    if dialect == "duckdb":
        return sa.func.regexp_matches(col, pattern)
    return col.regexp_match(pattern)


def to_epoch_s(value: Any) -> float | None:
    """A newest timestamp as the source returns it (datetime, date, ISO text, epoch number)
    in epoch seconds; a naive time is UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, int | float | Decimal):
        v = float(value)
        return v / 1000 if v > 1e11 else v
    text = str(value).strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def compile_case(case: Case, source: Source, now_s: float) -> Compiled | None:
    """The scan part of a test; None for a test that needs no part of the scan."""
    p = case.params
    t = source.relation()
    colname = case.column or ""
    col: sa.ColumnElement[Any] = t.c[colname] if case.column else sa.null()
    rows = sa.func.count()
    kind = case.test_type
    if kind == "row_count_between":
        return Compiled({"rows": rows}, lambda m: _bounded(_num(m["rows"]), p))
    if kind == "freshness":
        if not p.get("column"):
            return None
        newest_col = t.c[p["column"]]
        max_age = duration_s(p["max_age"])

        def fresh(m: Mapping[str, Any]) -> Verdict:
            newest = to_epoch_s(m["newest"])
            if newest is None:
                return Verdict("failed", None, None, max_age, None, "the table has no rows")
            age = round(now_s - newest, 3)
            v = Verdict("passed" if age <= max_age else "failed", age, None, max_age)
            v.observed["newest"] = datetime.fromtimestamp(newest, UTC).isoformat()
            return v

        return Compiled({"newest": sa.func.max(newest_col)}, fresh)
    if kind == "not_null":
        return Compiled(
            {"nulls": rows - sa.func.count(col)},
            lambda m: _bad_rows(_count(m["nulls"])),
            lambda tt: tt.c[colname].is_(None),
        )
    if kind == "null_ratio_at_most":

        def ratio(m: Mapping[str, Any]) -> Verdict:
            n, total = _count(m["nulls"]), _count(m["rows"])
            value = n / total if total else 0.0
            ok = value <= p["max"]
            return Verdict("passed" if ok else "failed", value, None, float(p["max"]), n)

        return Compiled(
            {"nulls": rows - sa.func.count(col), "rows": rows},
            ratio,
            lambda tt: tt.c[colname].is_(None),
        )
    if kind == "unique":
        return Compiled(
            {"dups": sa.func.count(col) - sa.func.count(sa.distinct(col))},
            lambda m: _bad_rows(_count(m["dups"])),
            duplicates=True,
        )
    if kind == "accepted_values":
        values = list(p["values"])

        def outside(tt: sa.TableClause) -> sa.ColumnElement[bool]:
            c = tt.c[colname]
            return sa.and_(c.is_not(None), c.not_in(values))

        return Compiled(
            {"bad": _sum_if(outside(t))}, lambda m: _bad_rows(_count(m["bad"])), outside
        )
    if kind == "between":
        lo, hi = p.get("min"), p.get("max")

        def out_of_range(tt: sa.TableClause) -> sa.ColumnElement[bool]:
            c = tt.c[colname]
            parts = []
            if lo is not None:
                parts.append(c < lo)
            if hi is not None:
                parts.append(c > hi)
            return sa.or_(*parts)

        def judge_between(m: Mapping[str, Any]) -> Verdict:
            bad = _count(m["bad"])
            v = Verdict("passed" if bad == 0 else "failed", float(bad), None, 0.0, bad)
            v.observed = {"min": _num(m["min"]), "max": _num(m["max"])}
            if bad:
                v.message = f"values must be within [{lo}, {hi}]"
            return v

        return Compiled(
            {"bad": _sum_if(out_of_range(t)), "min": sa.func.min(col), "max": sa.func.max(col)},
            judge_between,
            out_of_range,
        )
    if kind == "regex_match":

        def mismatch(tt: sa.TableClause) -> sa.ColumnElement[bool]:
            c = tt.c[colname]
            return sa.and_(c.is_not(None), sa.not_(_regex(c, p["pattern"], source.dialect.name)))

        return Compiled(
            {"bad": _sum_if(mismatch(t))}, lambda m: _bad_rows(_count(m["bad"])), mismatch
        )
    if kind == "length_between":
        lo, hi = p.get("min"), p.get("max")

        def bad_length(tt: sa.TableClause) -> sa.ColumnElement[bool]:
            n = sa.func.length(tt.c[colname])
            parts = []
            if lo is not None:
                parts.append(n < lo)
            if hi is not None:
                parts.append(n > hi)
            return sa.and_(tt.c[colname].is_not(None), sa.or_(*parts))

        return Compiled(
            {"bad": _sum_if(bad_length(t))}, lambda m: _bad_rows(_count(m["bad"])), bad_length
        )
    if kind == "volume_anomaly":  # judged against its history by the runner
        return Compiled({"rows": rows}, lambda m: Verdict("passed", _num(m["rows"])))
    if kind == "null_ratio_anomaly":

        def share(m: Mapping[str, Any]) -> Verdict:
            n, total = _count(m["nulls"]), _count(m["rows"])
            return Verdict("passed", n / total if total else 0.0, failed_rows=n)

        return Compiled({"nulls": rows - sa.func.count(col), "rows": rows}, share)
    if kind == "distinct_count_between":
        return Compiled(
            {"distinct": sa.func.count(sa.distinct(col))},
            lambda m: _bounded(_num(m["distinct"]), p),
        )
    if kind == "mean_between":
        return Compiled({"mean": sa.func.avg(col)}, lambda m: _bounded(_num(m["mean"]), p))
    return None  # custom_sql, reference, column_count_between, schema_unchanged


@dataclass(slots=True)
class Scan:
    """The one aggregate SELECT of a table's tests: each test's metrics under its own labels."""

    source: Source
    parts: dict[str, Compiled]  # test id -> its part
    labels: dict[str, dict[str, str]]  # test id -> metric name -> label in the SELECT

    def statement(self, only: Sequence[str] | None = None) -> sa.Select[Any]:
        cols = []
        seen: dict[str, str] = {}  # compiled SQL of a metric -> its label: computed once
        ids = list(only) if only is not None else list(self.parts)
        for tid in ids:
            mine = self.labels.setdefault(tid, {})
            for name, expr in self.parts[tid].metrics.items():
                key = self.source.sql(expr)
                label = seen.get(key)
                if label is None:
                    label = f"m{len(seen)}"
                    seen[key] = label
                    cols.append(expr.label(label))
                mine[name] = label
        return sa.select(*cols).select_from(self.source.relation())

    def metrics_of(self, tid: str, row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: row[label] for name, label in self.labels[tid].items()}


def plan_scan(cases: Sequence[Case], source: Source, now_s: float) -> tuple[Scan, list[Case]]:
    """The scan of the tests that have a part in it, and the tests that run apart."""
    parts: dict[str, Compiled] = {}
    apart: list[Case] = []
    for case in cases:
        part = compile_case(case, source, now_s)
        if part is None:
            apart.append(case)
        else:
            parts[case.id] = part
    return Scan(source, parts, {}), apart


def sample_statement(case: Case, part: Compiled, source: Source) -> sa.Select[Any] | None:
    """The failing rows of a failed test, bounded."""
    t = source.relation()
    if part.duplicates and case.column:
        c = t.c[case.column]
        return (
            sa.select(c, sa.func.count().label("occurrences"))
            .select_from(t)
            .where(c.is_not(None))
            .group_by(c)
            .having(sa.func.count() > 1)
            .order_by(sa.func.count().desc())
            .limit(SAMPLE_ROWS)
        )
    if part.failing is None:
        return None
    return sa.select(sa.text("*")).select_from(t).where(part.failing(t)).limit(SAMPLE_ROWS)


def custom_statements(sql: str, source: Source) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The count of a custom query's rows, and a bounded sample of them."""
    inner = sa.text(sql.strip().rstrip(";")).columns().subquery("custom")
    count = sa.select(sa.func.count()).select_from(inner)
    sample = sa.select(sa.text("*")).select_from(inner).limit(SAMPLE_ROWS)
    return count, sample


def reference_statements(
    case: Case, source: Source, target: Source
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """Rows whose value is missing from the referenced column: their count and a sample."""
    assert case.column is not None
    t = source.relation()
    ref_col = str(case.params["column"])
    r = target.relation()
    c = t.c[case.column]
    orphan = sa.and_(
        c.is_not(None),
        ~sa.exists(sa.select(sa.literal(1)).select_from(r).where(r.c[ref_col] == c)),
    )
    count = sa.select(sa.func.count()).select_from(t).where(orphan)
    sample = sa.select(c).select_from(t).where(orphan).distinct().limit(SAMPLE_ROWS)
    return count, sample


def json_value(v: Any) -> Any:
    """A database value fit for a stored sample: JSON types as they are, long text cut."""
    if v is None or isinstance(v, bool | int | float):
        return v
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes | bytearray | memoryview):
        return f"<{len(bytes(v))} bytes>"
    text = str(v)
    return text if len(text) <= SAMPLE_VALUE_CHARS else text[:SAMPLE_VALUE_CHARS] + "…"


def rows_of(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    keys = list(result.keys())
    return [{k: json_value(v) for k, v in zip(keys, row, strict=True)} for row in result]


ANOMALY = ("volume_anomaly", "null_ratio_anomaly")
MAD_SCALE = 1.4826  # a normal distribution's standard deviation per median absolute deviation


def expected_range(
    history: Sequence[tuple[int, float]], now_us: int, params: Mapping[str, Any]
) -> tuple[float, float, int] | None:
    """(low, high, results used) from a test's past values, or None while it has fewer than
    `min_history`: the median plus or minus `sensitivity` scaled MADs, of the same weekday's
    values when there are enough of them (weekly seasonality)."""
    need = int(params.get("min_history", 7))
    values = [v for _ts, v in history]
    if params.get("weekly", True):
        day = datetime.fromtimestamp(now_us / 1e6, UTC).weekday()
        same = [v for ts, v in history if datetime.fromtimestamp(ts / 1e6, UTC).weekday() == day]
        if len(same) >= need:
            values = same
    if len(values) < need:
        return None
    mid = statistics.median(values)
    mad = statistics.median(abs(v - mid) for v in values) * MAD_SCALE
    spread = float(params.get("sensitivity", 3.0)) * max(mad, abs(mid) * 0.001, 1e-9)
    return mid - spread, mid + spread, len(values)


__all__ = [
    "ANOMALY",
    "SAMPLE_ROWS",
    "Case",
    "Compiled",
    "Scan",
    "Source",
    "Verdict",
    "compile_case",
    "custom_statements",
    "expected_range",
    "json_value",
    "plan_scan",
    "reference_statements",
    "rows_of",
    "sample_statement",
    "to_epoch_s",
]
