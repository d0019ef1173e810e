"""One failing pipeline does not stop the others (issue 9): a stored schedule that cannot be
read, an unreachable sink and a recipe that cannot be parsed each end as a failed run (backed
off, health kept) or a skipped job, and the healthy pipeline due in the same tick runs. On
SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import socket
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.ingest.jobs import IngestionJobs
from lodestar.ingest.runner import UNHEALTHY_AFTER, backoff_until
from lodestar.ingest.sinks import PIPELINE_KIND
from lodestar.ingest.state import StateStore
from lodestar.model.records import now_us
from lodestar.settings import Settings

DAY = 86_400 * 1_000_000
STEWARD = WriteContext.for_principal(Principal("stella", "steward"))
FAST = {"retry": {"attempts": 1, "base_delay": 0.01, "max_delay": 0.02}}


class Tomorrow(IngestionJobs):
    """The clock a day ahead: every stored pipeline is due."""

    def due(self, now_us_: int | None = None) -> list[str]:
        return super().due(now_us_=now_us() + DAY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _store(catalog: Catalog, name: str, recipe: dict[str, Any]) -> str:
    body = {"name": name, "recipe": recipe, "schedule": "* * * * *"}
    outcome = catalog.upsert(PIPELINE_KIND, body, STEWARD)
    assert outcome.asset is not None
    return outcome.asset.id


def _corrupt(catalog: Catalog, asset_id: str, **fields: Any) -> None:
    """Rewrite a stored body behind the write path, as an older release could store it."""
    doc = {**catalog.get(PIPELINE_KIND, Key(id=asset_id)).doc, **fields}
    with catalog.store.write() as conn:
        conn.execute(
            sa.text("UPDATE assets SET doc = :d WHERE id = :i"),
            {"d": orjson.dumps(doc).decode(), "i": asset_id},
        )


def test_one_failing_pipeline_does_not_stop_the_others(
    catalog: Catalog, db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    source = tmp_path / "shop.sqlite"
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.commit()
    sqlite_source = {"type": "sqlite", "config": {"path": str(source), "service": "shop"}}
    _store(catalog, "a-good", {"source": sqlite_source, "options": FAST})
    down_sink = {"type": "server", "url": f"http://127.0.0.1:{_free_port()}"}
    _store(catalog, "b-down", {"source": sqlite_source, "options": FAST, "sink": down_sink})
    broken = _store(catalog, "c-broken", {"source": sqlite_source})
    _corrupt(catalog, broken, recipe={"source": sqlite_source, "options": {"batch_size": "x"}})
    bad_cron = _store(catalog, "d-bad-cron", {"source": sqlite_source})
    _corrupt(catalog, bad_cron, schedule="every tuesday")

    jobs = Tomorrow(catalog, settings)
    assert sorted(jobs.due()) == ["a-good", "b-down", "c-broken"]  # the bad cron is skipped
    state = StateStore(catalog.store)
    for tick in range(1, UNHEALTHY_AFTER + 1):
        jobs.tick()
        assert state.recent("a-good")[0]["status"] == "success"
        for name in ("b-down", "c-broken"):
            runs = state.recent(name)
            assert [r["status"] for r in runs] == ["failed"] * tick, (name, runs)
            assert backoff_until(runs) is not None, "a failed run backs off"
    down = state.recent("b-down")[0]["report"]["failures"][0]
    assert "storing the pipeline in the sink" in down, down
    broken_failure = state.recent("c-broken")[0]["report"]["failures"][0]
    assert "batch_size" in broken_failure, broken_failure
    # health goes where the pipeline writes: this catalog for c-broken (b-down's server is
    # the one that is down)
    assert catalog.get(PIPELINE_KIND, Key(fqn="c-broken")).doc["health"] == "unhealthy"
    # backed off on the real clock, not listed again until the back-off has passed
    on_time = IngestionJobs(catalog, settings).due(now_us_=now_us())
    assert [n for n in on_time if n in ("b-down", "c-broken")] == []
    assert catalog.get("table", Key(fqn="shop.shop.main.orders")).deleted is False
