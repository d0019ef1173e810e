"""Reading OpenLineage events: lenient where producers are sloppy, strict where an event is
unusable.

Accepted although the spec says otherwise: no `schemaURL`, no `producer`, facets without
`_producer`/`_schemaURL`, times without a zone (taken as UTC), fractions of a second beyond
microseconds (cut to microseconds), a lower-case `eventType`, `null` for a list or a facet
map. Refused with a 400 that names the field: a run event without `run.runId`, a run or job
event without `job.namespace`/`job.name`, an event with neither a job nor a `dataset`, a
missing or unreadable `eventTime`, a field of the wrong JSON type.

Which kind an event is follows from what it holds (the spec's three shapes): `run` -> a run
event, else `job` -> a job event, else `dataset` -> a dataset event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from lodestar.catalog.errors import BadRequest
from lodestar.openlineage.naming import without_credentials

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
MAX_NAMESPACE = 1024
MAX_NAME = 2048
MAX_RUN_ID = 256

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)


class EventError(BadRequest):
    """An event that cannot be used: the detail and `errors` name the field."""

    def __init__(self, loc: list[str | int], msg: str) -> None:
        where = ".".join(str(p) for p in loc) or "the event"
        super().__init__(f"{where}: {msg}", errors=[{"loc": loc, "msg": msg}])
        self.loc = loc
        self.msg = msg


def parse_time(text: str) -> int:
    """An ISO 8601 time as producers send it, in epoch microseconds; ValueError otherwise."""
    m = _TIME.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{text[:64]!r} is not an ISO 8601 time")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or "0")
        tz = timezone(sign * timedelta(minutes=minutes))
    dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro, tz)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


@dataclass(slots=True)
class DatasetIn:
    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    input_facets: dict[str, Any] = field(default_factory=dict)
    output_facets: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Event:
    shape: Literal["run", "job", "dataset"]
    event_time: int
    producer: str
    raw: dict[str, Any]
    event_type: str | None = None
    run_id: str | None = None
    run_facets: dict[str, Any] = field(default_factory=dict)
    job_namespace: str | None = None
    job_name: str | None = None
    job_facets: dict[str, Any] = field(default_factory=dict)
    inputs: list[DatasetIn] = field(default_factory=list)
    outputs: list[DatasetIn] = field(default_factory=list)


def _obj(value: Any, loc: list[str | int], *, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise EventError(loc, "is required")
        return {}
    if not isinstance(value, dict):
        raise EventError(loc, "must be a JSON object")
    return value


def _text(value: Any, loc: list[str | int], limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise EventError(loc, "is required (a non-empty string)")
        return ""
    if not isinstance(value, str):
        raise EventError(loc, "must be a string")
    if len(value) > limit:
        raise EventError(loc, f"has {len(value)} characters; at most {limit} are accepted")
    return value


def _facets(value: Any, loc: list[str | int]) -> dict[str, Any]:
    facets = _obj(value, loc)
    for key, facet in facets.items():
        if facet is not None and not isinstance(facet, dict):
            raise EventError([*loc, key], "a facet must be a JSON object")
    return {k: v for k, v in facets.items() if v is not None}


def _dataset(value: Any, loc: list[str | int]) -> DatasetIn:
    d = _obj(value, loc, required=True)
    return DatasetIn(
        namespace=without_credentials(
            _text(d.get("namespace"), [*loc, "namespace"], MAX_NAMESPACE)
        ),
        name=_text(d.get("name"), [*loc, "name"], MAX_NAME),
        facets=_facets(d.get("facets"), [*loc, "facets"]),
        input_facets=_facets(d.get("inputFacets"), [*loc, "inputFacets"]),
        output_facets=_facets(d.get("outputFacets"), [*loc, "outputFacets"]),
    )


def _datasets(value: Any, loc: str) -> list[DatasetIn]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventError([loc], "must be a JSON array of datasets")
    return [_dataset(d, [loc, i]) for i, d in enumerate(value)]


def parse_event(raw: Any) -> Event:
    """One event as sent; raises EventError naming the field that makes it unusable."""
    if not isinstance(raw, dict):
        raise EventError([], "an OpenLineage event must be a JSON object")
    when = raw.get("eventTime")
    if not isinstance(when, str) or not when:
        raise EventError(["eventTime"], "is required (an ISO 8601 time)")
    try:
        event_time = parse_time(when)
    except (ValueError, OverflowError) as e:
        raise EventError(["eventTime"], str(e)) from None
    producer = _text(raw.get("producer"), ["producer"], 2048, required=False)
    kind = raw.get("eventType")
    event_type = None
    if kind is not None:
        if not isinstance(kind, str) or kind.upper() not in EVENT_TYPES:
            raise EventError(["eventType"], f"must be one of {', '.join(EVENT_TYPES)}")
        event_type = kind.upper()
    ev = Event("run", event_time, producer, raw, event_type=event_type)
    if "run" in raw:
        run = _obj(raw.get("run"), ["run"], required=True)
        ev.run_id = _text(run.get("runId"), ["run", "runId"], MAX_RUN_ID)
        ev.run_facets = _facets(run.get("facets"), ["run", "facets"])
    elif "job" in raw:
        ev.shape = "job"
    elif "dataset" in raw:
        ev.shape = "dataset"
        ev.outputs = [_dataset(raw.get("dataset"), ["dataset"])]
        return ev
    else:
        raise EventError(["job"], "is required: a run or job event names its job")
    job = _obj(raw.get("job"), ["job"], required=True)
    ev.job_namespace = without_credentials(
        _text(job.get("namespace"), ["job", "namespace"], MAX_NAMESPACE)
    )
    ev.job_name = _text(job.get("name"), ["job", "name"], MAX_NAME)
    ev.job_facets = _facets(job.get("facets"), ["job", "facets"])
    ev.inputs = _datasets(raw.get("inputs"), "inputs")
    ev.outputs = _datasets(raw.get("outputs"), "outputs")
    return ev
