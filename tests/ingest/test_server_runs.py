"""What a stored recipe may reach when the server runs it (issue 9): only the `${VAR}`s an
administrator allowed, no file of the catalog's own data directory, only the paths and hosts
the settings allow; a local run (`lodestar pipelines run`) acts for its user and is not limited.
On SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, NotFound, WriteContext
from lodestar.ingest.errors import ConfigError
from lodestar.ingest.jobs import IngestionJobs
from lodestar.ingest.limits import ServerRunLimits
from lodestar.ingest.service import run_stored
from lodestar.ingest.sinks import PIPELINE_KIND
from lodestar.jobs.models import JobContext, JobResult
from lodestar.settings import Settings

STEWARD = WriteContext.for_principal(Principal("stella", "steward"))
FAST = {"retry": {"attempts": 1, "base_delay": 0.01, "max_delay": 0.02}}


def _sqlite_file(path: Path, table: str = "orders") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (secret TEXT)")
        conn.execute(f"INSERT INTO {table} VALUES ('hunter2')")
        conn.commit()
    return path


def _store(catalog: Catalog, name: str, source: dict[str, Any], **recipe: Any) -> None:
    body = {"name": name, "recipe": {"source": source, "options": FAST, **recipe}}
    catalog.upsert(PIPELINE_KIND, body, STEWARD)


def _server_run(catalog: Catalog, settings: Settings, name: str) -> JobResult:
    jobs = IngestionJobs(catalog, settings)
    return jobs.run(name, JobContext("ingestion", name, None, 1, True, threading.Event()))


def _sqlite_source(path: Path | str, service: str) -> dict[str, Any]:
    return {"type": "sqlite", "config": {"path": str(path), "service": service}}


def _assets(catalog: Catalog, service: str) -> bool:
    try:
        catalog.get("service", Key(fqn=service))
    except NotFound:
        return False
    return True


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def test_a_server_run_may_not_read_the_catalogs_data_dir(
    catalog: Catalog, settings: Settings, tmp_path: Path
) -> None:
    # A SQLite file in the data directory stands for the catalog's own tables (tokens...).
    inside = _sqlite_file(settings.data_dir / "catalog-copy.db", "tokens")
    _store(
        catalog,
        "peek",
        {**_sqlite_source(inside, "peek"), "config": {"path": str(inside), "service": "peek"}},
        options={**FAST, "sample_data": True},
    )
    result = _server_run(catalog, settings, "peek")
    assert result.status == "failed"
    assert "data directory" in (result.error or "")
    assert not _assets(catalog, "peek"), "nothing of the data dir reaches the catalog"
    # a relative path or a sqlite URL into it is refused alike
    limits = ServerRunLimits.from_settings(settings)
    with pytest.raises(ConfigError, match="data directory"):
        limits.check({"url": f"sqlite:///{inside}"}, "source.config")
    if settings.effective_database_url.startswith("sqlite"):
        db_file = settings.effective_database_url.split(":///", 1)[1]
        with pytest.raises(ConfigError, match="data directory or database"):
            limits.check({"path": db_file}, "source.config")

    # The same recipe run by a local user (`lodestar pipelines run peek`) is theirs to run.
    assert run_stored("peek", settings, catalog).status == "success"


def test_a_server_run_expands_only_allowed_variables(
    catalog: Catalog, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _sqlite_file(tmp_path / "shop.sqlite")
    monkeypatch.setenv("SHOP_DIR", str(tmp_path))
    monkeypatch.setenv("LODESTAR_SECRET_SHOP_DIR", str(tmp_path))
    _store(catalog, "env", _sqlite_source("${SHOP_DIR}/shop.sqlite", "env"))
    result = _server_run(catalog, settings, "env")
    assert result.status == "failed"
    assert "${SHOP_DIR} is not expanded" in (result.error or "")
    assert str(tmp_path) not in str(result.summary), "the value is never shown"
    assert not _assets(catalog, "env")

    _store(catalog, "env", _sqlite_source("${LODESTAR_SECRET_SHOP_DIR}/shop.sqlite", "env"))
    ok = _server_run(catalog, settings, "env")
    assert ok.status == "success", ok.error
    assert source.exists() and _assets(catalog, "env")


def test_a_server_run_may_not_send_a_server_variable_to_a_url(
    catalog: Catalog, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LODESTAR_DATA_DIR", str(settings.data_dir))
    source = _sqlite_file(tmp_path / "shop.sqlite")
    sink = {"type": "server", "url": "http://127.0.0.1:9", "token": "${LODESTAR_DATA_DIR}"}
    _store(catalog, "exfil", _sqlite_source(source, "exfil"), sink=sink)
    limits = ServerRunLimits.from_settings(settings)
    with pytest.raises(ConfigError, match=r"\$\{LODESTAR_DATA_DIR\} is not expanded"):
        run_stored("exfil", settings, catalog, limits=limits)


def test_allowed_paths_and_hosts_bound_a_server_run(
    catalog: Catalog, db_url: str, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        ingest_allowed_paths=str(allowed),
        ingest_allowed_hosts="db.internal, *.corp.example",
    )
    _store(catalog, "out", _sqlite_source(_sqlite_file(tmp_path / "other" / "x.sqlite"), "out"))
    result = _server_run(catalog, settings, "out")
    assert result.status == "failed" and "LODESTAR_INGEST_ALLOWED_PATHS" in (result.error or "")
    assert not _assets(catalog, "out")

    _store(catalog, "in", _sqlite_source(_sqlite_file(allowed / "x.sqlite"), "in"))
    assert _server_run(catalog, settings, "in").status == "success"

    pg = {
        "type": "postgres",
        "config": {"service": "pg", "host": "10.0.0.7", "username": "u", "database": "d"},
    }
    _store(catalog, "pg", pg)
    result = _server_run(catalog, settings, "pg")
    assert result.status == "failed" and "'10.0.0.7' is not in" in (result.error or "")
    limits = ServerRunLimits.from_settings(settings)
    limits.check({"host": "db.internal"}, "c")
    limits.check({"url": "postgresql+psycopg://u@a.corp.example:5432/d"}, "c")
    with pytest.raises(ConfigError, match=r"'evil\.example' is not in"):
        limits.check({"url": "postgresql+psycopg://u@evil.example/d"}, "c")
