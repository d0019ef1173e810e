"""Running a table's tests in the source's engine and writing the results to the catalog.

Per table: ONE aggregate scan for every column metric of its tests (`compile.py`), then only
what needs its own query (custom SQL, reference checks, the column count, and failing-row
samples of the tests that failed). A test that errors (bad SQL, a missing column, an
unreachable source) is an `error` result of its own; the others still run: when the scan
fails, its tests run one query each so the broken one is found. The results of one table are
one unit of work: the `test_results` rows, their details, and the test cases whose status
changed (a new version of the test case, so a change event).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lodestar.auth.principal import SYSTEM
from lodestar.catalog import Catalog, Key, NotFound, WriteContext
from lodestar.ingest.errors import ConfigError
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset, Origin, now_us
from lodestar.model.test_types import duration_s
from lodestar.quality import compile as qc
from lodestar.quality import store as qstore
from lodestar.quality.connect import Engines, locate
from lodestar.store import assets as q
from lodestar.store import series

if TYPE_CHECKING:
    from lodestar.ingest.limits import ServerRunLimits

ORIGIN = Origin("integration", "quality")
# The stored status of each result status (the fact table's vocabulary, which dbt shares).
STORED = {"passed": "success", "failed": "failed", "error": "aborted"}
FROM_STORED = {"success": "passed", "failed": "failed", "aborted": "error", "warning": "failed"}
CASE_STATUS = {"passed": "passing", "failed": "failing", "error": "error"}
LOAD_OBSERVATIONS = ("pipeline_run", "load")
DAY_US = 86_400_000_000


@dataclass(slots=True)
class Result:
    case: qc.Case
    status: str
    value: float | None = None
    expected_min: float | None = None
    expected_max: float | None = None
    failed_rows: int | None = None
    message: str | None = None
    sample: list[dict[str, Any]] | None = None
    sql: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking_failure(self) -> bool:
        return self.case.severity == "blocking" and self.status != "passed"

    def to_json(self) -> dict[str, Any]:
        c = self.case
        return {
            "test": c.fqn,
            "name": c.name,
            "table": c.table,
            "column": c.column,
            "test_type": c.test_type,
            "severity": c.severity,
            "status": self.status,
            "value": self.value,
            "expected_min": self.expected_min,
            "expected_max": self.expected_max,
            "failed_rows": self.failed_rows,
            "message": self.message,
            "observed": self.observed or None,
            "sample": self.sample,
            "sql": self.sql,
            "duration_ms": round(self.duration_ms, 3),
        }

    def detail(self) -> dict[str, Any]:
        out = {
            "threshold": {"min": self.expected_min, "max": self.expected_max},
            "sql": self.sql,
            "severity": self.case.severity,
        }
        for key in ("message", "sample", "observed"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


def case_of(asset: Asset) -> qc.Case:
    d = asset.doc
    return qc.Case(
        id=asset.id,
        fqn=asset.fqn,
        name=asset.name,
        table=d["table"],
        column=d.get("column"),
        test_type=d["test_type"],
        params=d.get("parameters") or {},
        severity=d.get("severity", "blocking"),
        status=d.get("status"),
    )


def cases_of(catalog: Catalog, targets: Sequence[str] | None) -> dict[str, list[qc.Case]]:
    """The enabled test cases to run, by table: those of the named tables or test cases (a
    name that is neither is a NotFound), or every one."""
    by_table: dict[str, list[qc.Case]] = {}
    with catalog.store.read() as conn:
        found: list[Asset] = []
        if not targets:
            found = q.by_fqn_prefix(conn, "test_case", "")
        for name in targets or ():
            try:
                norm = fqn_mod.normalize(name)
            except fqn_mod.FQNError as e:
                raise NotFound(f"{name!r}: {e}") from None
            case = q.get_by_fqn(conn, "test_case", norm)
            if case is not None and not case.deleted:
                found.append(case)
                continue
            table = q.get_by_fqn(conn, "table", norm)
            if table is None or table.deleted:
                raise NotFound(f"{name!r} is neither a table nor a test case in the catalog")
            found += q.by_fqn_prefix(conn, "test_case", norm + ".")
    seen: set[str] = set()
    for asset in found:
        if asset.deleted or asset.id in seen or not asset.doc.get("enabled", True):
            continue
        seen.add(asset.id)
        tc = case_of(asset)
        by_table.setdefault(tc.table, []).append(tc)
    for cases in by_table.values():
        cases.sort(key=lambda c: c.fqn)
    return by_table


@dataclass(slots=True)
class TableRun:
    table: str
    results: list[Result]


class Runner:
    """Runs tests table by table; `now` (epoch µs) is the clock the results are stamped with
    (and freshness is judged by)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        limits: ServerRunLimits | None = None,
        now: int | None = None,
        run_id: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.engines = Engines(catalog, limits)
        self.now = now
        self.run_id = run_id or uuid.uuid4().hex
        self.ctx = WriteContext.for_principal(SYSTEM, ORIGIN)

    def run(self, targets: Sequence[str] | None = None) -> list[TableRun]:
        try:
            runs = []
            for table, cases in sorted(cases_of(self.catalog, targets).items()):
                results = self.run_table(table, cases)
                self.write(table, results)
                runs.append(TableRun(table, results))
            return runs
        finally:
            self.engines.dispose()

    # -- one table ------------------------------------------------------------------------
    def run_table(self, table_fqn: str, cases: Sequence[qc.Case]) -> list[Result]:
        now = self.now if self.now is not None else now_us()
        try:
            table = self.catalog.get("table", Key(fqn=table_fqn))
        except NotFound:
            return [
                Result(c, "error", message=f"table {table_fqn} is not in the catalog")
                for c in cases
            ]
        columns = {c["name"]: c["data_type"] for c in table.doc.get("columns", [])}
        results: dict[str, Result] = {}
        runnable: list[qc.Case] = []
        for c in cases:
            missing = [n for n in _columns_named(c) if n not in columns]
            if missing:
                results[c.id] = Result(
                    c, "error", message=f"column {missing[0]!r} is not a column of {table_fqn}"
                )
            else:
                runnable.append(c)
        try:
            service = fqn_mod.split(table_fqn)[0]
            loc = locate(table_fqn, self.engines.service_type(service))
            engine = self.engines.engine(loc.service, loc.database)
        except (ConfigError, sa.exc.ArgumentError) as e:
            for c in runnable:
                results[c.id] = Result(c, "error", message=f"no connection: {e}")
            return [results[c.id] for c in cases]
        needed = [n for c in runnable for n in _columns_named(c)]
        source = qc.Source(loc.schema, loc.table, engine.dialect, needed)
        scan, apart = qc.plan_scan(runnable, source, now / 1e6)
        if scan.parts:
            results.update(self._scan(engine, scan, {c.id: c for c in runnable}))
        for c in apart:
            started = time.perf_counter()
            try:
                r = self._apart(engine, source, table, c, now)
            except Exception as e:
                r = Result(c, "error", message=_said(e))
            r.duration_ms = (time.perf_counter() - started) * 1000
            results[c.id] = r
        return [results[c.id] for c in cases]

    def _scan(
        self, engine: Engine, scan: qc.Scan, cases: Mapping[str, qc.Case]
    ) -> dict[str, Result]:
        out: dict[str, Result] = {}
        started = time.perf_counter()
        stmt = scan.statement()
        try:
            with engine.connect() as conn:
                row = dict(conn.execute(stmt).mappings().one())
            groups = [(list(scan.parts), row, scan.source.sql(stmt))]
        except Exception:
            groups = []
            for tid in scan.parts:
                one = scan.statement([tid])
                try:
                    with engine.connect() as conn:
                        groups.append(([tid], dict(conn.execute(one).mappings().one()), ""))
                except Exception as e:
                    out[tid] = Result(cases[tid], "error", message=_said(e))
                    out[tid].sql = [scan.source.sql(one)]
        elapsed = (time.perf_counter() - started) * 1000
        for tids, row, sql in groups:
            for tid in tids:
                case = cases[tid]
                text = sql or scan.source.sql(scan.statement([tid]))
                try:
                    v = scan.parts[tid].judge(scan.metrics_of(tid, row))
                    r = Result(
                        case,
                        v.status,
                        v.value,
                        v.expected_min,
                        v.expected_max,
                        v.failed_rows,
                        v.message,
                        None,
                        [text],
                        elapsed,
                        v.observed,
                    )
                except Exception as e:
                    r = Result(case, "error", message=_said(e), sql=[text], duration_ms=elapsed)
                out[tid] = r
        for tid, r in out.items():
            if r.case.test_type in qc.ANOMALY and r.status == "passed":
                self._judge_anomaly(r)
            if r.status == "failed":
                self._sample(engine, scan, cases[tid], r)
        return out

    def _judge_anomaly(self, r: Result) -> None:
        """Compare the measured value with the test's own history (12 weeks before now)."""
        now = self.now if self.now is not None else now_us()
        with self.catalog.store.read() as conn:
            past = qstore.results_between(conn, [r.case.id], now - 84 * DAY_US, now)
        history = [
            (int(p["event_ts"]), float(p["value"]))
            for p in past
            if p["value"] is not None
            and p["status"] != "aborted"
            and p["event_ts"] >= now - 84 * DAY_US
        ]
        window = qc.expected_range(history, now, r.case.params)
        if window is None:
            need = r.case.params.get("min_history", 7)
            r.message = f"learning: {len(history)} of {need} results needed before it judges"
            return
        low, high, used = window
        r.expected_min, r.expected_max = low, high
        r.observed = {"history": used}
        if r.value is None or not low <= r.value <= high:
            r.status = "failed"
            r.message = f"{r.value} is outside the expected [{low:.6g}, {high:.6g}]"

    def _sample(self, engine: Engine, scan: qc.Scan, case: qc.Case, r: Result) -> None:
        stmt = qc.sample_statement(case, scan.parts[case.id], scan.source)
        if stmt is None:
            return
        started = time.perf_counter()
        try:
            with engine.connect() as conn:
                r.sample = qc.rows_of(conn.execute(stmt))
            r.sql.append(scan.source.sql(stmt))
        except Exception as e:
            r.message = f"{r.message + '; ' if r.message else ''}no sample: {_said(e)}"
        r.duration_ms += (time.perf_counter() - started) * 1000

    def _apart(
        self, engine: Engine, source: qc.Source, table: Asset, c: qc.Case, now: int
    ) -> Result:
        p = c.params
        if c.test_type == "custom_sql":
            count, sample = qc.custom_statements(str(p["sql"]), source)
            with engine.connect() as conn:
                n = int(conn.execute(count).scalar_one())
                rows = qc.rows_of(conn.execute(sample)) if n else None
            sql = [source.sql(count)] + ([source.sql(sample)] if n else [])
            return Result(
                c, "passed" if n == 0 else "failed", float(n), None, 0.0, n, sample=rows, sql=sql
            )
        if c.test_type == "reference":
            target_fqn = fqn_mod.normalize(str(p["table"]))
            tloc = locate(target_fqn, self.engines.service_type(fqn_mod.split(target_fqn)[0]))
            here = fqn_mod.split(c.table)
            if (tloc.service, tloc.database) != (here[0], here[1]):
                return Result(
                    c,
                    "error",
                    message=f"{target_fqn} is not in the database of "
                    f"{c.table}: a reference test joins within one database",
                )
            target = qc.Source(tloc.schema, tloc.table, source.dialect, [str(p["column"])])
            count, sample = qc.reference_statements(c, source, target)
            with engine.connect() as conn:
                n = int(conn.execute(count).scalar_one())
                rows = qc.rows_of(conn.execute(sample)) if n else None
            sql = [source.sql(count)] + ([source.sql(sample)] if n else [])
            return Result(
                c, "passed" if n == 0 else "failed", float(n), None, 0.0, n, sample=rows, sql=sql
            )
        if c.test_type == "column_count_between":
            stmt = sa.select(sa.text("*")).select_from(source.relation()).where(sa.false())
            with engine.connect() as conn:
                n = len(conn.execute(stmt).keys())
            v = qc.Verdict("passed", float(n))
            lo, hi = p.get("min"), p.get("max")
            ok = (lo is None or n >= lo) and (hi is None or n <= hi)
            return Result(
                c,
                "passed" if ok else "failed",
                v.value,
                None if lo is None else float(lo),
                None if hi is None else float(hi),
                sql=[source.sql(stmt)],
            )
        if c.test_type == "schema_unchanged":
            return self._schema_unchanged(table, c)
        if c.test_type == "freshness":
            return self._load_freshness(table, c, now)
        return Result(c, "error", message=f"no runner for test type {c.test_type!r}")

    def _schema_unchanged(self, table: Asset, c: qc.Case) -> Result:
        version = int(c.params["since_version"])
        try:
            then = self.catalog.version("table", Key(id=table.id), version)
        except NotFound:
            return Result(c, "error", message=f"{c.table} has no version {version}")
        before = {x["name"]: x["data_type"] for x in then.doc.get("columns", [])}
        now_cols = {x["name"]: x["data_type"] for x in table.doc.get("columns", [])}
        added = sorted(set(now_cols) - set(before))
        removed = sorted(set(before) - set(now_cols))
        retyped = sorted(n for n in set(before) & set(now_cols) if before[n] != now_cols[n])
        n = len(added) + len(removed) + len(retyped)
        r = Result(c, "passed" if n == 0 else "failed", float(n), None, 0.0)
        if n:
            r.observed = {"added": added, "removed": removed, "retyped": retyped}
            r.message = f"the columns changed since version {version}"
        return r

    def _load_freshness(self, table: Asset, c: qc.Case, now: int) -> Result:
        from lodestar.store.tables import observations as obs

        max_age = duration_s(str(c.params["max_age"]))
        with self.catalog.store.read() as conn:
            newest = conn.execute(
                sa.select(sa.func.max(obs.c.ts)).where(
                    obs.c.asset_id == table.id, obs.c.kind.in_(LOAD_OBSERVATIONS)
                )
            ).scalar()
        if newest is None:
            return Result(
                c,
                "failed",
                None,
                None,
                max_age,
                message="no load of the table is recorded (pipeline_run or load)",
            )
        age = round((now - int(newest)) / 1e6, 3)
        return Result(c, "passed" if age <= max_age else "failed", age, None, max_age)

    # -- writing --------------------------------------------------------------------------
    def write(self, table_fqn: str, results: Sequence[Result]) -> None:
        """One unit of work: the results, their details, the test cases whose status moved."""
        if not results:
            return
        now = self.now if self.now is not None else now_us()
        try:
            table_id = self.catalog.get("table", Key(fqn=table_fqn)).id
        except NotFound:
            table_id = None
        rows, details = [], []
        for r in results:
            row: dict[str, Any] = {
                "test_id": r.case.id,
                "asset_id": table_id or r.case.id,
                "column_id": _column_id(table_id, r.case.column),
                "status": STORED[r.status],
                "value": r.value,
                "expected_min": r.expected_min,
                "expected_max": r.expected_max,
                "failed_rows": r.failed_rows,
                "event_ts": now,
                "origin": str(ORIGIN),
                "run_id": self.run_id,
            }
            row["idem_key"] = series.key_of(qstore.test_results, row)
            rows.append(row)
            details.append(
                {
                    "idem_key": row["idem_key"],
                    "test_id": r.case.id,
                    "event_ts": now,
                    "duration_ms": round(r.duration_ms, 3),
                    "detail": r.detail(),
                }
            )
        with self.catalog.transaction(self.ctx) as tx:
            qstore.record_results(tx.conn, rows)
            qstore.record_details(tx.conn, details)
            for r in results:
                status = CASE_STATUS[r.status]
                if status == r.case.status:
                    continue
                try:
                    current = self.catalog_asset(tx.conn, r.case.id)
                except NotFound:
                    continue
                tx.upsert("test_case", {**current.doc, "status": status})

    @staticmethod
    def catalog_asset(conn: Any, asset_id: str) -> Asset:
        found = q.get(conn, asset_id, for_update=True)
        if found is None or found.deleted:
            raise NotFound(asset_id)
        return found


def _columns_named(c: qc.Case) -> list[str]:
    names = [c.column] if c.column else []
    if c.test_type == "freshness" and c.params.get("column"):
        names.append(str(c.params["column"]))
    return names


def _column_id(table_id: str | None, column: str | None) -> str | None:
    if table_id is None or column is None:
        return None
    from lodestar.model.ids import column_id

    return str(column_id(table_id, column))


def _said(e: Exception) -> str:
    """An error as one line, without the SQL and parameters SQLAlchemy appends."""
    orig = e.orig if isinstance(e, sa.exc.DBAPIError) else None
    text = str(orig) if orig is not None else str(e)
    return " ".join(text.split())[:500] or type(e).__name__


__all__ = ["FROM_STORED", "STORED", "Result", "Runner", "TableRun", "case_of", "cases_of"]
