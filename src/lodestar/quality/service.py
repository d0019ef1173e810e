"""What the catalog says about an asset's quality: its status, its delivered SLA, and whether
it (and everything upstream of it) is ready to be consumed.

- status: `untested` (no enabled test), `failing` (a blocking test's latest result failed or
  errored), `stale` (a test never ran, ran longer ago than twice its schedule's interval, or
  unscheduled longer ago than `stale_after`; or the data aged past a passing freshness test's
  `max_age` since it ran), else `passing`. Warning tests are listed but never fail an asset.
- SLA over a window: the time in which every blocking test held, where a test holds from a
  passing result until its next result, and a passing freshness test only until the data it
  saw would be `max_age` old. Time before a test's first result is `unknown`.
- ready: the asset is passing (or untested) and so is every asset upstream of it by lineage.

Every function takes `now` (epoch µs) so a history can be judged at any clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.catalog import Catalog, InvalidInput, NotFound
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset, now_us, us_to_iso
from lodestar.model.test_types import duration_s
from lodestar.quality import store as qstore
from lodestar.quality.runner import FROM_STORED
from lodestar.store import assets as q
from lodestar.store.tables import edges

S = 1_000_000
DEFAULT_STALE_AFTER_S = 7 * 86_400
UPSTREAM_LIMIT = 200
MAX_WINDOW_S = 3660 * 86_400


def parse_window(text: str) -> float:
    """Seconds of a window such as `30d`; InvalidInput saying how to write one."""
    try:
        seconds = duration_s(text)
    except ValueError as e:
        raise InvalidInput(str(e), errors=[{"loc": ["query", "window"], "msg": str(e)}]) from None
    if seconds > MAX_WINDOW_S:
        msg = "a window is at most 3660d (ten years)"
        raise InvalidInput(msg, errors=[{"loc": ["query", "window"], "msg": msg}])
    if seconds <= 0:
        msg = "a window is longer than 0: write 30d, 12h"
        raise InvalidInput(msg, errors=[{"loc": ["query", "window"], "msg": msg}])
    return seconds


def _asset(conn: Connection, kind: str, fqn: str) -> Asset:
    try:
        norm = fqn_mod.normalize(fqn)
    except fqn_mod.FQNError as e:
        raise InvalidInput(f"{fqn!r}: {e}") from None
    found = q.get_by_fqn(conn, kind, norm)
    if found is None or found.deleted:
        raise NotFound(f"no {kind} {norm!r}")
    return found


def _cases(conn: Connection, asset: Asset) -> list[Asset]:
    if asset.kind != "table":
        return []
    return sorted(
        (
            a
            for a in q.by_fqn_prefix(conn, "test_case", asset.fqn + ".")
            if not a.deleted and a.doc.get("table") == asset.fqn and a.doc.get("enabled", True)
        ),
        key=lambda a: a.fqn,
    )


def _latest(conn: Connection, test_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    t = qstore.test_latest
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(test_ids), 500):
        rows = conn.execute(sa.select(*t.c).where(t.c.test_id.in_(list(test_ids[i : i + 500]))))
        for r in rows:
            out[r.test_id] = dict(r._mapping)
    return out


def _interval_s(schedule: str, at_us: int) -> float:
    from lodestar.jobs.models import next_cron_us

    first = next_cron_us(schedule, at_us)
    return (next_cron_us(schedule, first) - first) / S


@dataclass(frozen=True, slots=True)
class CaseState:
    case: Asset
    latest: dict[str, Any] | None
    status: str  # passed | failed | error | not_run
    stale: str | None  # why it is stale, if it is

    def to_json(self, detail: dict[str, Any] | None) -> dict[str, Any]:
        d, r = self.case.doc, self.latest
        out: dict[str, Any] = {
            "name": self.case.name,
            "fqn": self.case.fqn,
            "column": d.get("column"),
            "test_type": d["test_type"],
            "severity": d.get("severity", "blocking"),
            "status": self.status,
            "last_run": us_to_iso(r["event_ts"]) if r else None,
            "value": r["value"] if r else None,
            "expected_min": r["expected_min"] if r else None,
            "expected_max": r["expected_max"] if r else None,
            "failed_rows": r["failed_rows"] if r else None,
            "stale": self.stale,
        }
        if detail:
            for key in ("message", "sample", "observed", "sql", "duration_ms"):
                if detail.get(key) is not None:
                    out[key] = detail[key]
        return out


def _state(case: Asset, latest: dict[str, Any] | None, now: int, stale_after_s: float) -> CaseState:
    if latest is None:
        return CaseState(case, None, "not_run", "it has not run yet")
    status = FROM_STORED.get(latest["status"], "error")
    age_s = (now - latest["event_ts"]) / S
    schedule = case.doc.get("schedule")
    stale = None
    if schedule:
        limit = 2 * _interval_s(schedule, latest["event_ts"])
        if age_s > limit:
            stale = f"its last run is {age_s:.0f} s old, over twice its schedule's interval"
    elif age_s > stale_after_s:
        stale = f"its last run is {age_s:.0f} s old (stale after {stale_after_s:.0f} s)"
    if (
        stale is None
        and status == "passed"
        and case.doc["test_type"] == "freshness"
        and latest["value"] is not None
        and latest["expected_max"] is not None
        and latest["value"] + age_s > latest["expected_max"]
    ):
        stale = "the data is now older than the freshness test's max_age"
    return CaseState(case, latest, status, stale)


def _overall(states: Sequence[CaseState]) -> str:
    if not states:
        return "untested"
    blocking = [s for s in states if s.case.doc.get("severity", "blocking") == "blocking"]
    if any(s.status in ("failed", "error") for s in blocking):
        return "failing"
    if any(s.stale for s in blocking):
        return "stale"
    return "passing"


def _states(conn: Connection, asset: Asset, now: int, stale_after_s: float) -> list[CaseState]:
    cases = _cases(conn, asset)
    latest = _latest(conn, [c.id for c in cases])
    return [_state(c, latest.get(c.id), now, stale_after_s) for c in cases]


def status(
    catalog: Catalog,
    kind: str,
    fqn: str,
    *,
    now: int | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> dict[str, Any]:
    at = now if now is not None else now_us()
    with catalog.store.read() as conn:
        asset = _asset(conn, kind, fqn)
        states = _states(conn, asset, at, stale_after_s)
        keys = [s.latest["idem_key"] for s in states if s.latest]
        details = qstore.details_of(conn, keys)
    return {
        "kind": asset.kind,
        "fqn": asset.fqn,
        "status": _overall(states),
        "tests": [
            s.to_json(details.get(s.latest["idem_key"]) if s.latest else None) for s in states
        ],
    }


def sla(
    catalog: Catalog, kind: str, fqn: str, window: str = "30d", *, now: int | None = None
) -> dict[str, Any]:
    end = now if now is not None else now_us()
    start = end - int(parse_window(window) * S)
    with catalog.store.read() as conn:
        asset = _asset(conn, kind, fqn)
        cases = [c for c in _cases(conn, asset) if c.doc.get("severity", "blocking") == "blocking"]
        rows = qstore.results_between(conn, [c.id for c in cases], start, end)
    names = {c.id: c.name for c in cases}
    freshness = {c.id for c in cases if c.doc["test_type"] == "freshness"}
    # Per test: its results as (time, holds, holds until) in time order.
    history: dict[str, list[tuple[int, bool, int | None]]] = {c.id: [] for c in cases}
    cuts = {start, end}
    for r in rows:
        held = r["status"] == "success"
        until = None
        if held and r["test_id"] in freshness and r["value"] is not None and r["expected_max"]:
            until = r["event_ts"] + int((r["expected_max"] - r["value"]) * S)
            if start < until < end:
                cuts.add(until)
        history[r["test_id"]].append((r["event_ts"], held, until))
        if start < r["event_ts"] < end:
            cuts.add(r["event_ts"])
    points = sorted(cuts)
    intervals: list[dict[str, Any]] = []
    totals = {"held": 0, "broken": 0, "unknown": 0}
    pos = dict.fromkeys(history, -1)
    for a, b in itertools.pairwise(points):
        broken, unknown = [], []
        for tid, hist in history.items():
            i = pos[tid]
            while i + 1 < len(hist) and hist[i + 1][0] <= a:
                i += 1
            pos[tid] = i
            if i < 0:
                unknown.append(names[tid])
                continue
            _ts, held, until = hist[i]
            if not held or (until is not None and until <= a):
                broken.append(names[tid])
        state = "broken" if broken else "unknown" if unknown else "held"
        totals[state] += b - a
        tests = sorted(broken or unknown)
        last = intervals[-1] if intervals else None
        if last and last["state"] == state and last["tests"] == tests and last["_to"] == a:
            last["_to"] = b
        else:
            intervals.append({"state": state, "tests": tests, "_from": a, "_to": b})
    window_us = end - start
    return {
        "kind": asset.kind,
        "fqn": asset.fqn,
        "window": window,
        "from": us_to_iso(start),
        "to": us_to_iso(end),
        "blocking_tests": sorted(names.values()),
        "sla": None if not cases else round(totals["held"] / window_us, 6),
        "held_seconds": totals["held"] / S,
        "broken_seconds": totals["broken"] / S,
        "unknown_seconds": totals["unknown"] / S,
        "intervals": [
            {
                "from": us_to_iso(i["_from"]),
                "to": us_to_iso(i["_to"]),
                "state": i["state"],
                "tests": i["tests"],
            }
            for i in intervals
        ]
        if cases
        else [],
    }


def _upstream(conn: Connection, asset_id: str) -> list[Asset]:
    """Every asset upstream of this one by lineage edges, nearest first (at most
    UPSTREAM_LIMIT)."""
    seen = {asset_id}
    frontier = [asset_id]
    order: list[str] = []
    while frontier and len(order) < UPSTREAM_LIMIT:
        rows: list[str] = list(
            conn.execute(
                sa.select(edges.c.from_id)
                .where(edges.c.to_id.in_(frontier), edges.c.relation == "lineage")
                .distinct()
            ).scalars()
        )
        frontier = []
        for up in rows:
            if up not in seen:
                seen.add(up)
                frontier.append(up)
                order.append(up)
    found = q.get_many(conn, order[:UPSTREAM_LIMIT])
    return [found[i] for i in order[:UPSTREAM_LIMIT] if i in found and not found[i].deleted]


def ready(
    catalog: Catalog,
    kind: str,
    fqn: str,
    *,
    now: int | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> dict[str, Any]:
    at = now if now is not None else now_us()
    reasons: list[str] = []
    with catalog.store.read() as conn:
        asset = _asset(conn, kind, fqn)
        checked = [asset, *_upstream(conn, asset.id)]
        report = []
        for a in checked:
            states = _states(conn, a, at, stale_after_s)
            overall = _overall(states)
            report.append({"kind": a.kind, "fqn": a.fqn, "status": overall})
            where = "" if a.id == asset.id else f"upstream {a.kind} {a.fqn}: "
            for s in states:
                if s.case.doc.get("severity", "blocking") != "blocking":
                    continue
                if s.status in ("failed", "error"):
                    reasons.append(f"{where}test {s.case.name} {s.status}")
                elif s.stale:
                    reasons.append(f"{where}test {s.case.name} is stale: {s.stale}")
    return {
        "kind": asset.kind,
        "fqn": asset.fqn,
        "ready": not reasons,
        "status": report[0]["status"],
        "reasons": reasons,
        "upstream": report[1:],
    }


def library() -> list[dict[str, Any]]:
    """The test library, for the API and the docs."""
    from lodestar.model.test_types import TEST_TYPES

    out = []
    for t in TEST_TYPES.values():
        schema = t.params.model_json_schema()
        out.append(
            {
                "name": t.name,
                "level": t.level,
                "description": t.description,
                "applies_to": list(t.applies_to) if t.level == "column" else None,
                "parameters": {
                    k: {
                        "type": v.get("type") or [x.get("type") for x in v.get("anyOf", [])],
                        "required": k in schema.get("required", []),
                        "description": v.get("description"),
                    }
                    for k, v in schema.get("properties", {}).items()
                },
            }
        )
    return out


__all__ = ["library", "parse_window", "ready", "sla", "status"]
