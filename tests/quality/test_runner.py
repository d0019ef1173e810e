"""Every test type of the library catches its defect on `dirty` and passes on `clean`, in
SQLite, DuckDB and PostgreSQL, with the column metrics of a table read in ONE scan."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lodestar.catalog import Key
from lodestar.quality import checks
from lodestar.quality import store as qstore
from lodestar.quality.runner import Runner

from .conftest import NOW_US, Source


def suite(src: Source, table: str) -> dict[str, Any]:
    """The same tests on a table, one of each type."""
    return {
        "table": src.fqn(table),
        "tests": [
            {"row_count_between": {"min": 4, "max": 4}},
            {"freshness": {"column": "placed_at", "max_age": "1d"}},
            {"column_count_between": {"min": 7, "max": 7}},
            {"schema_unchanged": {"since_version": 1}},
            {"custom_sql": {"sql": f"SELECT * FROM {src.name(table)} WHERE amount < 0"}},
        ],
        "columns": {
            "id": ["not_null", "unique"],
            "email": [
                {"null_ratio_at_most": {"max": 0.1}},
                {"regex_match": {"pattern": "^[^@]+@[^@]+$"}},
            ],
            "status": [
                {"accepted_values": {"values": ["new", "paid", "shipped"]}},
                {"distinct_count_between": {"max": 3}},
            ],
            "amount": [
                {"between": {"min": 0, "max": 1000}},
                {"mean_between": {"min": 0, "max": 100}},
            ],
            "code": [{"length_between": {"min": 4, "max": 4}}],
            "customer_id": [{"reference": {"table": src.fqn("customers"), "column": "id"}}],
        },
    }


EXPECTED_DIRTY = {  # test name -> (value, failed rows)
    "row_count_between": (5.0, None),
    "freshness": (72 * 3600.0, None),
    "column_count_between": (8.0, None),
    "schema_unchanged": (1.0, None),
    "custom_sql": (1.0, 1),
    "id_not_null": (1.0, 1),
    "id_unique": (1.0, 1),
    "email_null_ratio_at_most": (0.2, 1),
    "email_regex_match": (1.0, 1),
    "status_accepted_values": (1.0, 1),
    "status_distinct_count_between": (4.0, None),
    "amount_between": (2.0, 2),
    "amount_mean_between": (pytest.approx(100054.0 / 5), None),
    "code_length_between": (1.0, 1),
    "customer_id_reference": (1.0, 1),
}


class Statements:
    """The statements sent to the source database (not the catalog's)."""

    def __init__(self, catalog_engine: sa.Engine) -> None:
        self.catalog_engine = catalog_engine
        self.sql: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if conn.engine is not self.catalog_engine and statement.strip() != "SELECT 1":
            self.sql.append(statement)


@pytest.fixture
def statements(source: Source) -> Iterator[Statements]:
    seen = Statements(source.catalog.store.engine)
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)


def _retype_dirty(src: Source) -> None:
    """A second version of `dirty` in the catalog with `extra` retyped: its schema changed."""
    table = src.catalog.get("table", Key(fqn=src.fqn("dirty")))
    cols = [dict(c) for c in table.doc["columns"]]
    for c in cols:
        if c["name"] == "extra":
            c["data_type"] = "BIGINT"
    body = {**table.doc, "columns": cols}
    assert src.catalog.upsert("table", body, src.ctx).status == "updated"


def test_each_test_type_catches_its_defect_and_passes_on_clean_data(
    source: Source, statements: Statements
) -> None:
    src = source
    doc = {"checks": [suite(src, "clean")]}
    report = checks.apply(src.catalog, doc, src.ctx, connect=True)
    assert len(report.created) == 15

    runs = Runner(src.catalog, now=NOW_US).run([src.fqn("clean")])
    results = {r.case.name: r for r in runs[0].results}
    assert {n: (r.status, r.message) for n, r in results.items()} == {
        n: ("passed", None) for n in EXPECTED_DIRTY
    }
    assert results["freshness"].value == 3600.0
    assert results["amount_mean_between"].value == 25.0
    # One scan for every column metric; apart only custom SQL, the reference and the column
    # count (a zero-row SELECT); no samples, since nothing failed.
    clean = src.name("clean")
    scans = [
        s
        for s in statements.sql
        if "count(*)" in s.lower() and "custom" not in s and "EXISTS" not in s.upper()
    ]
    assert len(scans) == 1, statements.sql
    assert len(statements.sql) == 4, statements.sql
    assert all(clean.split(".")[-1] in s for s in statements.sql)

    _retype_dirty(src)
    dirty = suite(src, "dirty")
    assert checks.apply(src.catalog, {"checks": [dirty]}, src.ctx).created
    statements.sql.clear()
    runs = Runner(src.catalog, now=NOW_US).run([src.fqn("dirty")])
    results = {r.case.name: r for r in runs[0].results}
    got = {n: (r.status, r.value, r.failed_rows) for n, r in results.items()}
    want = {n: ("failed", v, rows) for n, (v, rows) in EXPECTED_DIRTY.items()}
    assert got == want, {n: results[n].message for n in got if got[n] != want.get(n)}

    # Failing rows: bounded samples, fetched after the scan, one query per failed test.
    assert results["id_not_null"].sample == [
        {
            "id": None,
            "amount": 99999.0,
            "status": "lost",
            "email": "bad-email",
            "placed_at": results["id_not_null"].sample[0]["placed_at"],
            "customer_id": 9,
            "code": "X",
            "extra": "x",
        }
    ]
    assert results["id_unique"].sample == [{"id": 1, "occurrences": 2}]
    assert results["customer_id_reference"].sample == [{"customer_id": 9}]
    assert sorted(r["amount"] for r in results["amount_between"].sample or []) == [-5.0, 99999.0]
    assert results["schema_unchanged"].observed == {
        "added": [],
        "removed": [],
        "retyped": ["extra"],
    }
    scan_sql = results["id_not_null"].sql[0]
    assert scan_sql == results["amount_between"].sql[0], "column tests share the one scan"
    assert "count(*)" in scan_sql.lower()

    # What was written: one result per test, with its details, in the catalog.
    with src.catalog.store.read() as conn:
        latest = qstore.latest_per_test(conn).rows
        assert len(latest) == 30
        keys = conn.execute(sa.select(qstore.test_latest.c.idem_key)).scalars().all()
        details = qstore.details_of(conn, keys)
    assert len(details) == 30
    some = next(d for d in details.values() if d.get("sample") == [{"customer_id": 9}])
    assert some["sql"] and some["threshold"] == {"min": None, "max": 0.0}


def test_a_broken_test_errors_alone(source: Source) -> None:
    """A column the source no longer has breaks the scan; that test errors, the rest run."""
    src = source
    doc = {
        "checks": [
            {
                "table": src.fqn("clean"),
                "tests": [{"row_count_between": {"min": 1}}],
                "columns": {"id": ["not_null"], "code": ["unique"]},
            }
        ]
    }
    checks.apply(src.catalog, doc, src.ctx)
    if src.system == "sqlite":
        src.execute("ALTER TABLE clean DROP COLUMN code")
    else:
        src.execute(f"ALTER TABLE {src.name('clean')} DROP COLUMN code")
    runs = Runner(src.catalog, now=NOW_US).run([src.fqn("clean")])
    got = {r.case.name: r.status for r in runs[0].results}
    assert got == {"row_count_between": "passed", "id_not_null": "passed", "code_unique": "error"}
    broken = next(r for r in runs[0].results if r.status == "error")
    assert broken.message and "code" in broken.message.lower()


def test_an_unreachable_source_is_an_error_result_per_test(source: Source) -> None:
    src = source
    checks.apply(
        src.catalog,
        {"checks": [{"table": src.fqn("clean"), "columns": {"id": ["unique"]}}]},
        src.ctx,
    )
    service = src.catalog.get("service", Key(fqn=src.service))
    conn = dict(service.doc["connection"])
    if "path" in conn:
        conn["path"] = conn["path"] + ".missing"
    else:
        conn["port"] = 1
    src.catalog.upsert("service", {**service.doc, "connection": conn}, src.ctx)
    runs = Runner(src.catalog, now=NOW_US).run([src.fqn("clean")])
    (result,) = runs[0].results
    assert result.status == "error"
    assert result.message
