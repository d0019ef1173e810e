"""The built-in scheduler for the single-machine case: runs due pipelines from `lodestar serve`,
and the runs asked for through the API (`POST /api/v1/ingestion-pipelines/{id}/runs`) as soon
as its thread is free.

Any orchestrator can run `lodestar pipelines run NAME` instead; the run state keeps two runners
off the same pipeline either way.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from croniter import croniter

from lodestar.catalog import Catalog
from lodestar.ingest.errors import AlreadyRunning, ConfigError
from lodestar.ingest.runner import backoff_until
from lodestar.ingest.service import run_stored
from lodestar.ingest.sinks import PIPELINE_KIND
from lodestar.ingest.state import StateStore
from lodestar.model.records import now_us
from lodestar.settings import Settings

log = logging.getLogger("lodestar.scheduler")


class Scheduler:
    def __init__(self, catalog: Catalog, settings: Settings, interval: float = 30.0) -> None:
        self.catalog = catalog
        self.settings = settings
        self.interval = interval
        self.state = StateStore(catalog.store)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._requested: list[str] = []  # run-now requests, oldest first
        self._thread: threading.Thread | None = None

    def request(self, name: str) -> None:
        """Run this stored pipeline as soon as the scheduler's thread is free, whatever its
        schedule, enabled flag or back-off say: a person asked for it."""
        with self._lock:
            if name not in self._requested:
                self._requested.append(name)
        self._wake.set()

    def _take_requested(self) -> list[str]:
        with self._lock:
            names, self._requested = self._requested, []
        return names

    def due(self, now_us_: int | None = None) -> list[str]:
        """Names of enabled pipelines whose cron time has come and that are not backed off."""
        now = now_us_ if now_us_ is not None else now_us()
        names: list[str] = []
        after: str | None = None
        while True:
            page = self.catalog.list_page(PIPELINE_KIND, limit=500, after=after)
            for asset in page.items:
                doc = asset.doc
                if not doc.get("enabled", True) or not doc.get("schedule"):
                    continue
                runs = self.state.recent(asset.name, 20)
                until = backoff_until(runs)
                if until is not None and until > now:
                    continue
                base = runs[0]["started_at"] if runs else asset.created_at
                start = datetime.fromtimestamp(base / 1_000_000, UTC)
                nxt = croniter(doc["schedule"], start).get_next(datetime)
                if int(nxt.timestamp() * 1_000_000) <= now:
                    names.append(asset.name)
            if page.after is None:
                return names
            after = page.after

    def tick(self) -> None:
        requested = self._take_requested()
        due = [n for n in self.due() if n not in requested]
        for name in [*requested, *due]:
            if self._stop.is_set():
                return
            try:
                report = run_stored(name, self.settings, self.catalog)
                log.info("pipeline %s: %s in %.1fs", name, report.status, report.duration)
            except AlreadyRunning as e:  # e.g. by another server worker's scheduler
                log.info("pipeline %s not run here: %s", name, e)
            except ConfigError as e:
                log.warning("pipeline %s not run: %s", name, e)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)  # the interval, or a run asked for
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lodestar-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
