"""Checks as code: the file format, idempotent apply, prune, and bad input named by field with
nothing half-applied."""

from __future__ import annotations

from typing import Any

import pytest

from lodestar.catalog import Catalog, InvalidInput, Key
from lodestar.quality import checks

from .conftest import Source


def _cases(catalog: Catalog) -> list[tuple[str, int, dict[str, Any]]]:
    page = catalog.list_page("test_case", limit=500)
    return sorted((a.fqn, a.version, a.doc) for a in page.items)


def _file(src: Source) -> dict[str, Any]:
    return {
        "checks": [
            {
                "table": src.fqn("clean"),
                "schedule": "0 * * * *",
                "owners": ["alice"],
                "tests": [
                    {"row_count_between": {"min": 1}},
                    {"freshness": {"column": "placed_at", "max_age": "1d"}},
                ],
                "columns": {
                    "id": ["not_null", "unique"],
                    "amount": [{"between": {"min": 0, "max": 10000}}],
                    "status": [{"accepted_values": {"values": ["new", "paid", "shipped"]}}],
                    "email": [{"null_ratio_at_most": {"max": 0.05}, "severity": "warning"}],
                },
            }
        ]
    }


def test_apply_twice_changes_nothing_and_prune_removes_only_with_the_flag(lite: Source) -> None:
    src = lite
    doc = _file(src)
    first = checks.apply(src.catalog, doc, src.ctx, connect=True)
    assert len(first.created) == 7 and not first.updated
    before = _cases(src.catalog)
    events = src.catalog.last_event()
    second = checks.apply(src.catalog, doc, src.ctx, connect=True)
    assert (second.created, second.updated, len(second.unchanged)) == ([], [], 7)
    assert _cases(src.catalog) == before
    assert src.catalog.last_event() == events, "a second apply writes no event"

    email = src.catalog.get("test_case", Key(fqn=f"{src.fqn('clean')}.email_null_ratio_at_most"))
    assert email.doc["severity"] == "warning"
    assert email.doc["schedule"] == "0 * * * *"
    assert email.doc["owners"] == [{"kind": "user", "fqn": "alice"}]
    assert email.doc["parameters"] == {"max": 0.05}

    doc["checks"][0]["columns"].pop("email")
    kept = checks.apply(src.catalog, doc, src.ctx)
    assert kept.deleted == [] and len(_cases(src.catalog)) == 7
    pruned = checks.apply(src.catalog, doc, src.ctx, prune=True)
    assert pruned.deleted == [email.fqn]
    assert len(_cases(src.catalog)) == 6


BAD = [
    (
        {"columns": {"id": ["not_nul"]}},
        ["checks", 0, "columns", "id", 0, "not_nul"],
        "unknown test type",
    ),
    (
        {"tests": [{"row_count_between": {"min": "one"}}]},
        ["checks", 0, "tests", 0, "row_count_between"],
        "min",
    ),
    ({"columns": {"nope": ["not_null"]}}, ["checks", 0, "columns", "nope"], "has no column 'nope'"),
    (
        {"columns": {"status": [{"between": {"min": 0}}]}},
        ["checks", 0, "columns", "status", 0, "between"],
        "does not apply to status",
    ),
    ({"tests": ["not_null"]}, ["checks", 0, "tests", 0, "not_null"], "a column test"),
    (
        {"tests": [{"freshness": {"column": "placed_at", "max_age": "soon"}}]},
        ["checks", 0, "tests", 0, "freshness"],
        "not a duration",
    ),
    (
        {"tests": [{"freshness": {"column": "nope", "max_age": "1d"}}]},
        ["checks", 0, "tests", 0, "freshness", "column"],
        "no column 'nope'",
    ),
    (
        {"columns": {"id": [{"unique": None, "severity": "fatal"}]}},
        ["checks", 0, "columns", "id", 0, "severity"],
        "blocking or warning",
    ),
    (
        {"columns": {"id": ["unique", "unique"]}},
        ["checks", 0, "columns", "id", 1],
        "a second test named",
    ),
    (
        {
            "columns": {
                "customer_id": [{"reference": {"table": "no.such.table.here", "column": "id"}}]
            }
        },
        ["checks", 0, "columns", "customer_id", 0, "reference", "table"],
        "no table",
    ),
    (
        {"columns": {"email": [{"regex_match": {"pattern": "("}}]}},
        ["checks", 0, "columns", "email", 0, "regex_match"],
        "not a regular expression",
    ),
    ({"colums": {}}, ["checks", 0, "colums"], "unknown key"),
]


@pytest.mark.parametrize(("part", "loc", "msg"), BAD, ids=[str(b[1][-1]) for b in BAD])
def test_bad_input_names_the_field_and_applies_nothing(
    lite: Source, part: dict[str, Any], loc: list[Any], msg: str
) -> None:
    src = lite
    good = {"table": src.fqn("clean"), "columns": {"id": ["not_null"]}}
    doc = {"checks": [good, {"table": src.fqn("clean"), **part}]}
    before = _cases(src.catalog)
    with pytest.raises(InvalidInput) as e:
        checks.apply(src.catalog, doc, src.ctx)
    problems = e.value.errors
    loc = [1, *loc[2:]] if loc[:2] == ["checks", 0] else loc
    assert any(p["loc"] == ["checks", *loc] and msg in p["msg"] for p in problems), problems
    assert _cases(src.catalog) == before, "nothing was applied"


def test_a_missing_table_and_an_unreachable_database_are_named(source: Source) -> None:
    src = source
    doc = {"checks": [{"table": src.fqn("nope"), "columns": {"id": ["not_null"]}}]}
    with pytest.raises(InvalidInput) as e:
        checks.apply(src.catalog, doc, src.ctx)
    assert e.value.errors[0]["loc"] == ["checks", 0, "table"]
    assert "no table" in e.value.errors[0]["msg"]

    service = src.catalog.get("service", Key(fqn=src.service))
    conn = dict(service.doc["connection"])
    if "path" in conn:
        conn["path"] += ".gone"
    else:
        conn["port"] = 1
    src.catalog.upsert("service", {**service.doc, "connection": conn}, src.ctx)
    doc = {"checks": [{"table": src.fqn("clean"), "columns": {"id": ["not_null"]}}]}
    with pytest.raises(InvalidInput) as e:
        checks.apply(src.catalog, doc, src.ctx, connect=True)
    assert e.value.errors[0]["loc"] == ["checks", 0, "table"]
    assert _cases(src.catalog) == []
    # Without the connection check the file applies; the run then reports the error.
    assert checks.apply(src.catalog, doc, src.ctx).created


def test_the_write_path_refuses_a_bad_test_case(lite: Source) -> None:
    """The same rules hold on the asset's own write path (PUT /api/v1/test-cases)."""
    src = lite
    base = {"name": "t", "table": src.fqn("clean")}
    for body, words in (
        ({**base, "test_type": "nope"}, "unknown test type"),
        ({**base, "test_type": "between", "column": "amount", "parameters": {"min": "x"}}, "min"),
        ({**base, "test_type": "unique"}, "set column"),
        (
            {
                **base,
                "test_type": "row_count_between",
                "parameters": {"min": 1},
                "schedule": "hourly",
            },
            "cron",
        ),
    ):
        with pytest.raises(InvalidInput) as e:
            src.catalog.upsert("test_case", body, src.ctx)
        assert words in e.value.detail, e.value.detail
    ok = src.catalog.upsert("test_case", {**base, "test_type": "not_null", "column": "id"}, src.ctx)
    assert ok.asset is not None and ok.asset.fqn == f"{src.fqn('clean')}.t"
