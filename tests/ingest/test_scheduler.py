"""Stored pipelines and the built-in scheduler: cron schedules, back-off of failing pipelines,
health on the pipeline asset and the change events others can alert on.

The failing source is a real PostgreSQL port nothing listens on; "the server comes back" is a
TCP forwarder started on that port towards the test server.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, InvalidInput, Key, WriteContext
from lodestar.catalog.observations import ObservationLog
from lodestar.ingest.errors import ConfigError
from lodestar.ingest.jobs import IngestionJobs as Scheduler
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.runner import UNHEALTHY_AFTER, backoff_until
from lodestar.ingest.service import run_recipe, run_stored
from lodestar.ingest.sinks import PIPELINE_KIND
from lodestar.ingest.state import StateStore
from lodestar.model import fqn
from lodestar.model.records import Event, now_us
from lodestar.settings import Settings
from lodestar.store import open_store

S = 1_000_000  # microseconds
FAST_RETRY = {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02}
ALICE = WriteContext.for_principal(Principal("alice", "steward"))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("LODESTAR_DATABASE_URL", raising=False)
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def catalog(settings: Settings) -> Iterator[Catalog]:
    store = open_store(settings.effective_database_url)
    try:
        yield Catalog(store)
    finally:
        store.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def pipeline_asset(catalog: Catalog, name: str) -> Any:
    return catalog.get(PIPELINE_KIND, Key(fqn=fqn.quote(name)))


def health_changes(events: list[Event]) -> list[str]:
    """The new `health` value of each update that changed it."""
    out = []
    for e in events:
        if e.event_type != "entity_updated":
            continue
        change = e.change or {}
        for entry in change.get("fields_added", []) + change.get("fields_updated", []):
            if entry["name"] == "health":
                out.append(entry["new"])
    return out


class _Forward(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        target = self.server.upstream  # type: ignore[attr-defined]
        with socket.create_connection(target) as up, selectors.DefaultSelector() as sel:
            sel.register(self.request, selectors.EVENT_READ, up)
            sel.register(up, selectors.EVENT_READ, self.request)
            while True:
                for key, _ in sel.select():
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)


@contextmanager
def forwarding(port: int, upstream: tuple[str, int]) -> Iterator[None]:
    """Listen on `port` and pass every connection through to `upstream`."""

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True

    server = Server(("127.0.0.1", port), _Forward)
    server.upstream = upstream  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()  # joins the connection threads: every client has hung up
        thread.join()


def test_a_failing_pipeline_backs_off_turns_unhealthy_and_recovers(
    request: pytest.FixtureRequest, settings: Settings, catalog: Catalog
) -> None:
    port = free_port()
    raw = {
        "pipeline": "flaky",
        "schedule": "* * * * *",
        "source": {
            "type": "postgres",
            "config": {
                "service": "pg",
                "host": "127.0.0.1",
                "port": port,
                "username": "postgres",
                "database": "postgres",
                "connect_timeout": 2,
            },
        },
        "options": {"retry": FAST_RETRY},
    }
    recipe = parse_recipe(raw)
    state = StateStore(catalog.store)
    scheduler = Scheduler(catalog, settings)
    cursor = catalog.last_event()

    for failures in range(1, UNHEALTHY_AFTER + 2):
        before = catalog.last_event()
        report = run_recipe(recipe, settings)
        assert report.status == "failed"
        assert "refused" in report.failures[0].lower()
        runs = state.recent("flaky")
        assert [r["status"] for r in runs] == ["failed"] * failures
        # backed off exponentially from the end of the last run: 1, 2, 4, 8 minutes
        until = backoff_until(runs)
        assert until == runs[0]["ended_at"] + 60 * S * 2 ** (failures - 1)
        health = pipeline_asset(catalog, "flaky").doc.get("health", "unknown")
        changed = health_changes(catalog.events(after=before, kinds=[PIPELINE_KIND]))
        if failures < UNHEALTHY_AFTER:
            assert health == "unknown"
            assert changed == []
        elif failures == UNHEALTHY_AFTER:
            assert health == "unhealthy"
            assert changed == ["unhealthy"]  # one event, for others to alert on
        else:
            assert health == "unhealthy"
            assert changed == []  # still unhealthy: no new event per failed run

    unhealthy = [
        e
        for e in catalog.events(after=cursor, kinds=[PIPELINE_KIND])
        if health_changes([e]) == ["unhealthy"]
    ]
    assert [(e.event_type, e.fqn, e.origin) for e in unhealthy] == [
        ("entity_updated", "flaky", "ingestion:flaky")
    ]

    # The cron says "every minute", but the scheduler waits out the back-off.
    runs = state.recent("flaky")
    until = backoff_until(runs)
    assert until is not None
    last_start = runs[0]["started_at"]
    next_cron = croniter("* * * * *", last_start / S).get_next(float) * S
    assert next_cron < until
    assert "flaky" not in scheduler.due(now_us_=int(next_cron) + S)
    assert "flaky" not in scheduler.due(now_us_=until - 1)
    assert "flaky" in scheduler.due(now_us_=until + 1)

    # The server comes back on the same port; the stored pipeline runs and is healthy again.
    pg_server = request.getfixturevalue("pg_server")
    cursor = catalog.last_event()
    upstream = (pg_server.url.host or "127.0.0.1", pg_server.url.port or 5432)
    with forwarding(port, upstream):
        report = run_stored("flaky", settings, catalog)
    assert report.status == "success", report.failures
    assert pipeline_asset(catalog, "flaky").doc["health"] == "healthy"
    assert health_changes(catalog.events(after=cursor, kinds=[PIPELINE_KIND])) == ["healthy"]
    assert backoff_until(state.recent("flaky")) is None
    observed = ObservationLog(catalog.store).read(pipeline_asset(catalog, "flaky").id)
    assert [o["value"]["status"] for o in observed] == ["success"] + ["failed"] * 4


def _sqlite_pipeline(tmp: Path, name: str, schedule: str | None) -> dict[str, Any]:
    path = tmp / f"{name}.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
        conn.commit()
    raw: dict[str, Any] = {
        "pipeline": name,
        "source": {"type": "sqlite", "config": {"path": str(path), "service": name}},
        "options": {"retry": FAST_RETRY},
    }
    if schedule is not None:
        raw["schedule"] = schedule
    return raw


def test_due_follows_each_pipelines_cron_and_skips_disabled_ones(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    for name, schedule in [("hourly", "0 * * * *"), ("often", "*/5 * * * *"), ("manual", None)]:
        report = run_recipe(parse_recipe(_sqlite_pipeline(tmp_path, name, schedule)), settings)
        assert report.status == "success", report.failures
    state = StateStore(catalog.store)
    scheduler = Scheduler(catalog, settings)

    def next_run(name: str, schedule: str) -> int:
        started = state.recent(name)[0]["started_at"]
        return int(croniter(schedule, started / S).get_next(float) * S)

    often, hourly = next_run("often", "*/5 * * * *"), next_run("hourly", "0 * * * *")
    assert often <= hourly
    assert scheduler.due(now_us_=often - 1) == []
    if often < hourly:
        assert scheduler.due(now_us_=often) == ["often"]
    assert sorted(scheduler.due(now_us_=hourly)) == ["hourly", "often"]
    assert pipeline_asset(catalog, "manual").doc.get("schedule") is None  # run on demand only

    # a person disables a pipeline: the scheduler leaves it alone
    catalog.patch(PIPELINE_KIND, Key(fqn="hourly"), {"enabled": False}, ALICE, json_patch=False)
    assert scheduler.due(now_us_=hourly) == ["often"]
    # ...and a later run of its recipe does not turn it back on
    run_recipe(parse_recipe(_sqlite_pipeline(tmp_path, "hourly", "0 * * * *")), settings)
    assert pipeline_asset(catalog, "hourly").doc["enabled"] is False


def test_tick_runs_the_due_stored_pipelines(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    raw = _sqlite_pipeline(tmp_path, "nightly", "0 3 * * *")
    assert run_recipe(parse_recipe(raw), settings).status == "success"
    with closing(sqlite3.connect(tmp_path / "nightly.sqlite")) as conn:
        conn.execute("CREATE TABLE added (id INTEGER)")
        conn.commit()

    class Tomorrow(Scheduler):
        def due(self, now_us_: int | None = None) -> list[str]:
            return super().due(now_us_=now_us() + 86_400 * S)

    # With the clock a day ahead, the stored pipeline is due and tick() runs it.
    ahead = Tomorrow(catalog, settings)
    assert ahead.due() == ["nightly"]
    ahead.tick()
    runs = StateStore(catalog.store).recent("nightly")
    assert [r["status"] for r in runs] == ["success", "success"]
    assert catalog.get("table", Key(fqn="nightly.nightly.main.added")).deleted is False
    # on the real clock nothing is due: it ran moments ago
    assert Scheduler(catalog, settings).due() == []


def test_the_recipe_names_the_pipelines_owners_and_a_persons_choice_stays(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    for team in ("data-platform", "analytics"):
        catalog.upsert("team", {"name": team}, ALICE)
    platform = {"kind": "team", "fqn": "data-platform"}
    analytics = {"kind": "team", "fqn": "analytics"}
    raw = _sqlite_pipeline(tmp_path, "owned", None) | {"owners": [platform]}
    assert run_recipe(parse_recipe(raw), settings).status == "success"
    assert pipeline_asset(catalog, "owned").doc["owners"] == [platform]

    # A person hands the pipeline to another team: later runs keep that (no new version).
    catalog.patch(PIPELINE_KIND, Key(fqn="owned"), {"owners": [analytics]}, ALICE, json_patch=False)
    version = pipeline_asset(catalog, "owned").version
    assert run_recipe(parse_recipe(raw), settings).status == "success"
    assert run_stored("owned", settings, catalog).status == "success"
    asset = pipeline_asset(catalog, "owned")
    assert (asset.doc["owners"], asset.version) == ([analytics], version)

    # An owner the catalog does not know is refused, naming the field, before anything runs.
    orphan = _sqlite_pipeline(tmp_path, "orphan", None) | {
        "owners": [{"kind": "team", "fqn": "nobody"}]
    }
    with pytest.raises(InvalidInput, match=r"owners\.0: no team named 'nobody'"):
        run_recipe(parse_recipe(orphan), settings)
    assert StateStore(catalog.store).recent("orphan") == []
    # ...and a recipe owner must be a user or a team
    with pytest.raises(ConfigError, match="owners"):
        parse_recipe(orphan | {"owners": [{"kind": "table", "fqn": "x"}]})


def test_a_pipeline_running_elsewhere_is_left_to_it_quietly(
    tmp_path: Path, settings: Settings, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    raw = _sqlite_pipeline(tmp_path, "hourly", "0 * * * *")
    assert run_recipe(parse_recipe(raw), settings).status == "success"
    state = StateStore(catalog.store)
    elsewhere = state.begin("hourly")  # e.g. the other server worker's scheduler

    class Due(Scheduler):
        def due(self, now_us_: int | None = None) -> list[str]:
            return ["hourly"]

    with caplog.at_level("INFO", logger="lodestar.scheduler"):
        Due(catalog, settings).tick()

    runs = state.recent("hourly")  # no run was added: the one elsewhere, then the first
    assert [r["status"] for r in runs] == ["running", "success"]
    assert runs[0]["id"] == elsewhere.run_id
    (record,) = [r for r in caplog.records if "hourly" in r.getMessage()]
    assert record.levelname == "INFO" and "already running" in record.getMessage()
