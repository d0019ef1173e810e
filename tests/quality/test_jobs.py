"""Scheduled tests as a job kind of the one scheduler: a job per table and schedule, due by
cron, running that table's tests in one unit of work."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lodestar.jobs import registry
from lodestar.jobs.errors import JobNotRunnable
from lodestar.jobs.models import JobContext
from lodestar.quality import checks, service
from lodestar.settings import Settings

from .conftest import Source


def test_scheduled_tests_are_jobs_that_run_their_table(lite: Source, tmp_path: Path) -> None:
    src = lite
    doc = {
        "checks": [
            {
                "table": src.fqn("clean"),
                "schedule": "0 * * * *",
                "tests": [{"row_count_between": {"min": 1}}],
                "columns": {"id": ["unique", {"not_null": None, "schedule": "*/5 * * * *"}]},
            },
            {"table": src.fqn("dirty"), "columns": {"id": ["unique"]}},  # no schedule: no job
        ]
    }
    checks.apply(src.catalog, doc, src.ctx)
    assert "quality" in registry.kind_names()
    settings = Settings(data_dir=tmp_path / "data")
    (kind,) = [k for k in registry.build_kinds(src.catalog, settings) if k.name == "quality"]
    hourly, five = f"{src.fqn('clean')} 0 * * * *", f"{src.fqn('clean')} */5 * * * *"
    assert sorted(j.name for j in kind.scheduled()) == sorted([five, hourly])  # type: ignore[attr-defined]
    case = src.catalog.list_page("test_case", limit=1).items[0]
    assert kind.due(case.created_at) == []
    assert sorted(kind.due(case.created_at + 3601 * 10**6)) == sorted([five, hourly])

    ctx = JobContext("quality", hourly, "run-1", 1, False, threading.Event())
    result = kind.run(hourly, ctx)
    assert (result.status, dict(result.summary)) == (
        "success",
        {"passed": 2, "failed": 0, "error": 0},
    )
    tests = {
        t["name"]: t["status"]
        for t in service.status(src.catalog, "table", src.fqn("clean"))["tests"]
    }
    assert tests == {"row_count_between": "passed", "id_unique": "passed", "id_not_null": "not_run"}
    with pytest.raises(JobNotRunnable):
        kind.run(f"{src.fqn('clean')} 1 1 1 1 1", ctx)
