"""Shared helpers of the OpenLineage tests: the fixtures directory and event builders."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "openlineage"
EVENTS = FIXTURES / "events_full"
PRODUCER = "https://example.com/lodestar-tests"

# The seed template's placeholders, filled in as Marquez's seed script does.
SEED_TIMES = {
    "{{RUN_START_TIME}}": "2026-01-10T10:00:00.000Z",
    **{
        f"{{{{RUN_END_TIME_AFTER_{m}_MINUTES}}}}": f"2026-01-10T10:{m:02d}:00.000Z"
        for m in range(5, 11)
    },
}


def need_fixtures() -> None:
    if not EVENTS.is_dir():
        pytest.skip(f"the OpenLineage fixtures are not at {FIXTURES}")


def fixture_events(rel: str) -> list[dict[str, Any]]:
    """The events of one file under events_full/ (a file may hold one event or an array)."""
    text = (EVENTS / rel).read_text()
    for mark, value in SEED_TIMES.items():
        text = text.replace(mark, value)
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


def all_fixture_files() -> list[str]:
    if not EVENTS.is_dir():
        return []
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))


def run_event(
    job: tuple[str, str],
    event_type: str = "COMPLETE",
    *,
    run_id: str | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    when: str = "2026-03-01T12:00:00Z",
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": when,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def dataset(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def schema_facet(*cols: tuple[str, str]) -> dict[str, Any]:
    return {"fields": [{"name": n, "type": t} for n, t in cols]}


def column_lineage(mapping: dict[str, list[tuple[str, str, str]]]) -> dict[str, Any]:
    """{output field: [(input namespace, input name, input field), ...]}"""
    return {
        "fields": {
            out: {"inputFields": [{"namespace": ns, "name": n, "field": f} for ns, n, f in srcs]}
            for out, srcs in mapping.items()
        }
    }
