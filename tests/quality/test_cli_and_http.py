"""The quality CLI as a user runs it (subprocesses), and the quality API over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from lodestar.client import LodestarClient, NotReady
from serving import serving

from .conftest import Source

pytestmark = pytest.mark.slow


def _env(src: Source, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env["LODESTAR_DATA_DIR"] = str(tmp_path / "data")
    env["LODESTAR_DATABASE_URL"] = src.catalog.store.engine.url.render_as_string(
        hide_password=False
    )
    env.update(extra)
    return env


def lodestar(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lodestar.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _checks(src: Source, table: str) -> dict[str, Any]:
    return {
        "checks": [
            {
                "table": src.fqn(table),
                "tests": [{"row_count_between": {"min": 1}}],
                "columns": {
                    "id": ["not_null", "unique"],
                    "email": [{"null_ratio_at_most": {"max": 0.05}, "severity": "warning"}],
                },
            }
        ]
    }


def test_apply_run_and_status_from_the_command_line(lite: Source, tmp_path: Path) -> None:
    src = lite
    env = _env(src, tmp_path)
    path = tmp_path / "checks.yml"
    path.write_text(yaml.safe_dump(_checks(src, "dirty")))

    first = lodestar(env, "quality", "apply", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("4 created, 0 updated, 0 unchanged, 0 deleted")
    again = lodestar(env, "quality", "apply", str(path), "--json")
    assert json.loads(again.stdout)["unchanged"] and not json.loads(again.stdout)["created"]

    bad = _checks(src, "dirty")
    bad["checks"][0]["columns"]["id"] = ["not_nul"]
    path.write_text(yaml.safe_dump(bad))
    refused = lodestar(env, "quality", "apply", str(path))
    assert refused.returncode == 2
    assert f"{path}: checks[0].columns.id[0].not_nul: unknown test type" in refused.stderr
    assert "nothing was applied" in refused.stderr

    ran = lodestar(env, "quality", "run", src.fqn("dirty"), "--json")
    assert ran.returncode == 1, ran.stderr  # blocking tests failed
    results = {r["test"].rsplit(".", 1)[-1]: r for r in json.loads(ran.stdout)}
    assert {n: (r["status"], r["value"]) for n, r in results.items()} == {
        "email_null_ratio_at_most": ("failed", 0.2),
        "id_not_null": ("failed", 1.0),
        "id_unique": ("failed", 1.0),
        "row_count_between": ("passed", 5.0),
    }
    assert results["id_unique"]["table"] == src.fqn("dirty")
    assert results["id_unique"]["column"] == "id"
    assert results["id_unique"]["sample"] == [{"id": 1, "occurrences": 2}]
    assert results["id_unique"]["sql"][0].startswith("SELECT")

    # Only warning tests failing: exit 0.
    path.write_text(yaml.safe_dump(_checks(src, "clean")))
    assert lodestar(env, "quality", "apply", str(path)).returncode == 0
    clean = lodestar(env, "quality", "run", src.fqn("clean"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "4 tests: 4 passed, 0 failed, 0 errors" in clean.stdout
    status = lodestar(env, "quality", "status", src.fqn("clean"), "--json")
    assert json.loads(status.stdout)["status"] == "passing"
    unknown = lodestar(env, "quality", "run", "no.such.table.x")
    assert unknown.returncode == 1
    assert "neither a table nor a test case" in unknown.stderr


def test_quality_over_http_and_waiting_for_readiness(lite: Source, tmp_path: Path) -> None:
    src = lite
    env = _env(src, tmp_path, LODESTAR_ANONYMOUS_READ="true", LODESTAR_SCHEDULER_INTERVAL="3600")
    for table in ("clean", "dirty"):
        path = tmp_path / f"{table}.yml"
        path.write_text(yaml.safe_dump(_checks(src, table)))
        assert lodestar(env, "quality", "apply", str(path)).returncode == 0
        lodestar(env, "quality", "run", src.fqn(table))
    with serving(env, tmp_path / "serve.log") as url:
        dirty = quote(src.fqn("dirty"), safe="")
        got = httpx.get(f"{url}/api/v1/quality/tables/name/{dirty}").json()
        assert got["status"] == "failing"
        tests = {t["name"]: t for t in got["tests"]}
        assert set(tests) == {
            "row_count_between",
            "id_not_null",
            "id_unique",
            "email_null_ratio_at_most",
        }
        assert tests["id_unique"]["sample"] == [{"id": 1, "occurrences": 2}]
        assert tests["id_unique"]["column"] == "id"
        assert tests["id_unique"]["last_run"].endswith("Z")

        sla = httpx.get(f"{url}/api/v1/quality/sla/tables/name/{dirty}?window=1d").json()
        assert sla["sla"] == 0.0 and sla["intervals"][-1]["state"] == "broken"
        bad = httpx.get(f"{url}/api/v1/quality/sla/tables/name/{dirty}?window=soon")
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        missing = httpx.get(f"{url}/api/v1/quality/tables/name/no.such.table.x")
        assert missing.status_code == 404
        assert httpx.get(f"{url}/api/v1/quality/nonsense/name/x").status_code == 404
        lib = httpx.get(f"{url}/api/v1/quality/test-types").json()["data"]
        assert {t["name"] for t in lib} >= {"not_null", "reference", "freshness", "custom_sql"}
        cases = httpx.get(f"{url}/api/v1/test-cases", params={"limit": 50}).json()["data"]
        assert len(cases) == 8

        with LodestarClient(url) as client:
            assert client.ready("table", src.fqn("clean"))["ready"] is True
            assert client.quality("table", src.fqn("clean"))["status"] == "passing"
            with pytest.raises(NotReady) as e:
                client.wait_ready("table", src.fqn("dirty"), timeout=0.2, interval=0.1)
            assert "test id_not_null failed" in e.value.detail
        ok = lodestar(env, "quality", "wait", src.fqn("clean"), "--timeout", "5s", "--url", url)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == f"{src.fqn('clean')}: ready"
        no = lodestar(
            env,
            "quality",
            "wait",
            src.fqn("dirty"),
            "--timeout",
            "1s",
            "--interval",
            "1s",
            "--url",
            url,
        )
        assert no.returncode == 1
        assert "not ready after 1s" in no.stderr and "test id_unique failed" in no.stderr
