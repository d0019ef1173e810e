"""Status, delivered SLA and readiness from a constructed history: the runner runs at set
clock times against data changed in between, and every figure is exact."""

from __future__ import annotations

from typing import Any

import pytest

from lodestar.catalog import EdgeIn, InvalidInput, Key
from lodestar.quality import checks, service
from lodestar.quality.runner import Runner

from .conftest import CLEAN, NOW_US, Source, _ddl

HOUR = 3600 * 1_000_000


def _run(src: Source, at: int, table: str = "clean") -> None:
    Runner(src.catalog, now=at).run([src.fqn(table)])


def _history(src: Source) -> None:
    """12:00 all pass (newest row 11:00); 14:00 the table is empty; 16:00 the rows are back."""
    doc = {
        "checks": [
            {
                "table": src.fqn("clean"),
                "tests": [
                    {"row_count_between": {"min": 1}},
                    {"freshness": {"column": "placed_at", "max_age": "6h"}},
                ],
                "columns": {"email": [{"null_ratio_at_most": {"max": 0.0}, "severity": "warning"}]},
            }
        ]
    }
    checks.apply(src.catalog, doc, src.ctx)
    _run(src, NOW_US)
    src.execute("DELETE FROM clean")
    _run(src, NOW_US + 2 * HOUR)
    rows = _ddl("sqlite", "clean", [], [], CLEAN)[1:]
    src.execute(*rows)
    _run(src, NOW_US + 4 * HOUR)


def _tests(answer: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {t["name"]: (t["status"], t["value"]) for t in answer["tests"]}


def test_status_follows_the_latest_results_and_the_clock(lite: Source) -> None:
    src = lite
    table = src.fqn("clean")
    assert service.status(src.catalog, "table", table)["status"] == "untested"
    _history(src)

    at_12 = service.status(src.catalog, "table", table, now=NOW_US + 1 * HOUR)
    assert at_12["status"] == "passing"
    assert _tests(at_12) == {
        "email_null_ratio_at_most": ("passed", 0.0),
        "freshness": ("passed", 5 * 3600.0),
        "row_count_between": ("passed", 4.0),
    }
    assert at_12["tests"][0]["last_run"] == "2026-06-01T16:00:00Z"
    # Four hours on, the data the freshness test saw (5 h old then) is 9 h old: stale.
    later = service.status(src.catalog, "table", table, now=NOW_US + 8 * HOUR)
    assert later["status"] == "stale"
    fresh = next(t for t in later["tests"] if t["name"] == "freshness")
    assert fresh["stale"] == "the data is now older than the freshness test's max_age"
    # Unscheduled tests go stale after stale_after.
    days = service.status(
        src.catalog,
        "table",
        table,
        now=NOW_US + 4 * HOUR + 2 * 86_400 * 10**6,
        stale_after_s=86_400,
    )
    assert days["status"] == "stale"


def test_failing_while_a_blocking_test_fails_and_transitions_are_events(lite: Source) -> None:
    src = lite
    table = src.fqn("clean")
    _history(src)
    versions = src.catalog.versions(
        "test_case",
        Key(fqn=f"{table}.row_count_between"),
    )
    assert [v.doc.get("status") for v in reversed(versions)] == [
        None,
        "passing",
        "failing",
        "passing",
    ]
    events = [
        e
        for e in src.catalog.events(limit=1000, kinds=["test_case"])
        if e.fqn == f"{table}.row_count_between"
    ]
    assert [e.event_type for e in events][-3:] == ["entity_updated"] * 3
    assert [e.origin for e in events][-3:] == ["integration:quality"] * 3
    # A test whose status never changed made one version after its creation.
    warn = src.catalog.versions(
        "test_case",
        Key(fqn=f"{table}.email_null_ratio_at_most"),
    )
    assert [v.doc.get("status") for v in reversed(warn)] == [None, "passing"]


def test_sla_is_the_share_of_the_window_in_which_every_blocking_test_held(lite: Source) -> None:
    src = lite
    table = src.fqn("clean")
    _history(src)
    got = service.sla(src.catalog, "table", table, "10h", now=NOW_US + 8 * HOUR)
    assert got["from"] == "2026-06-01T10:00:00Z" and got["to"] == "2026-06-01T20:00:00Z"
    assert got["blocking_tests"] == ["freshness", "row_count_between"]
    assert [
        (i["from"][11:16], i["to"][11:16], i["state"], i["tests"]) for i in got["intervals"]
    ] == [
        ("10:00", "12:00", "unknown", ["freshness", "row_count_between"]),
        ("12:00", "14:00", "held", []),
        ("14:00", "16:00", "broken", ["freshness", "row_count_between"]),
        ("16:00", "17:00", "held", []),
        ("17:00", "20:00", "broken", ["freshness"]),
    ]
    assert (got["held_seconds"], got["broken_seconds"], got["unknown_seconds"]) == (
        3 * 3600.0,
        5 * 3600.0,
        2 * 3600.0,
    )
    assert got["sla"] == 0.3
    with pytest.raises(InvalidInput):
        service.sla(src.catalog, "table", table, "a month")


def test_ready_needs_the_asset_and_its_upstream_fresh_and_passing(lite: Source) -> None:
    src = lite
    table = src.fqn("clean")
    _history(src)
    ok = service.ready(src.catalog, "table", table, now=NOW_US + 4 * HOUR)
    assert (ok["ready"], ok["reasons"], ok["upstream"]) == (True, [], [])
    late = service.ready(src.catalog, "table", table, now=NOW_US + 8 * HOUR)
    assert late["ready"] is False
    assert late["reasons"] == [
        "test freshness is stale: the data is now older than the freshness test's max_age"
    ]

    # An upstream table whose blocking test fails makes its downstream not ready.
    upstream = src.fqn("customers")
    checks.apply(
        src.catalog,
        {"checks": [{"table": upstream, "tests": [{"row_count_between": {"min": 5}}]}]},
        src.ctx,
    )
    _run(src, NOW_US + 4 * HOUR, "customers")
    with src.catalog.transaction(src.ctx) as tx:
        tx.add_edges([EdgeIn("table", upstream, "table", table)])
    got = service.ready(src.catalog, "table", table, now=NOW_US + 4 * HOUR)
    assert got["ready"] is False
    assert got["reasons"] == [f"upstream table {upstream}: test row_count_between failed"]
    assert got["upstream"] == [{"kind": "table", "fqn": upstream, "status": "failing"}]


def test_volume_anomaly_learns_then_judges_against_its_own_history(lite: Source) -> None:
    src = lite
    doc = {
        "checks": [
            {
                "table": src.fqn("clean"),
                "tests": [{"volume_anomaly": {"min_history": 7}}],
                "columns": {"email": [{"null_ratio_anomaly": {"min_history": 7}}]},
            }
        ]
    }
    checks.apply(src.catalog, doc, src.ctx)
    day = 86_400 * 10**6
    seen = []
    for k in range(8, 0, -1):  # a result a day for 8 days: 4 rows, no NULL email
        run = Runner(src.catalog, now=NOW_US - k * day).run([src.fqn("clean")])
        seen.append({r.case.name: (r.status, r.message) for r in run[0].results})
    assert seen[0]["volume_anomaly"] == (
        "passed",
        "learning: 0 of 7 results needed before it judges",
    )
    assert seen[6]["volume_anomaly"] == (
        "passed",
        "learning: 6 of 7 results needed before it judges",
    )
    assert seen[7]["volume_anomaly"] == ("passed", None)

    src.execute("DELETE FROM clean WHERE id = 4", "UPDATE clean SET email = NULL WHERE id = 3")
    (run,) = Runner(src.catalog, now=NOW_US).run([src.fqn("clean")])
    got = {r.case.name: r for r in run.results}
    volume = got["volume_anomaly"]
    assert (volume.status, volume.value) == ("failed", 3.0)
    # History: 8 results of 4 rows (fewer than 7 on this weekday, so all of them): median 4,
    # MAD 0, so the spread is its floor, 0.1% of the median, times 3.
    assert (volume.expected_min, volume.expected_max) == (4 - 0.012, 4 + 0.012)
    assert volume.message == "3.0 is outside the expected [3.988, 4.012]"
    nulls = got["email_null_ratio_anomaly"]
    assert (nulls.status, nulls.value, nulls.failed_rows) == ("failed", 1 / 3, 1)
