"""`dbt-ol` (openlineage-dbt) runs a small real dbt-duckdb project, generated here, and sends
its OpenLineage events to a live server: the models become tables with their lineage, the
dbt job a pipeline with its runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .support import Api

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

DBT_OL = Path(sys.executable).parent / "dbt-ol"

PROJECT = """
name: shop
version: "1.0"
config-version: 2
profile: shop
model-paths: ["models"]
"""
PROFILES = """
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {path}
      threads: 1
"""
MODELS = {
    "raw_orders.sql": "select 1 as id, 10.0 as amount union all select 2, 20.0",
    "orders.sql": "select id, amount * 2 as amount from {{ ref('raw_orders') }}",
    "big_orders.sql": "select id from {{ ref('orders') }} where amount > 25",
}


def _dbt_ol() -> Path:
    if not DBT_OL.exists():
        why = f"dbt-ol is not installed at {DBT_OL}: pip install -e '.[dev]' installs it"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the dbt-ol test")
        pytest.skip(why)
    return DBT_OL


def test_dbt_ol_runs_a_dbt_duckdb_project_against_the_server(api: Api, tmp_path: Path) -> None:
    assert api.server.backend == "sqlite"
    dbt_ol = _dbt_ol()
    project = tmp_path / "shop"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "profiles.yml").write_text(PROFILES.format(path=tmp_path / "shop.duckdb"))
    for name, sql in MODELS.items():
        (project / "models" / name).write_text(sql)
    namespace = f"dbt-{tmp_path.name}"
    env = {
        **os.environ,
        "PATH": f"{DBT_OL.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OPENLINEAGE_URL": api.server.base_url,
        "OPENLINEAGE_API_KEY": api.token("bot"),
        "OPENLINEAGE_NAMESPACE": namespace,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run(
        [str(dbt_ol), "run", "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    jobs = api.get("/api/v1/openlineage/jobs", params={"namespace": namespace}).json()["data"]
    names = {j["name"] for j in jobs}
    assert any(n.endswith("orders") for n in names), names
    datasets = api.get("/api/v1/openlineage/datasets", params={"limit": 1000}).json()["data"]
    ours = {
        d["name"].rsplit(".", 1)[-1]: d
        for d in datasets
        if d["namespace"].startswith("duckdb://") and str(tmp_path) in d["namespace"]
    }
    assert {"raw_orders", "orders", "big_orders"} <= set(ours), ours
    big = api.get(f"/api/v1/tables/{ours['big_orders']['id']}", params={"fields": "relations"})
    upstream = {
        r["fqn"]
        for r in big.json()["relations"]
        if r["relation"] == "lineage" and r["direction"] == "in"
    }
    assert upstream == {ours["orders"]["fqn"]}
    orders = api.get(f"/api/v1/tables/{ours['orders']['id']}", params={"fields": "relations"})
    assert {
        r["fqn"]
        for r in orders.json()["relations"]
        if r["relation"] == "lineage" and r["direction"] == "in"
    } == {ours["raw_orders"]["fqn"]}
    # The model's run went from START to COMPLETE.
    job = next(j for j in jobs if j["name"].endswith("big_orders"))
    runs = api.get(
        "/api/v1/openlineage/runs", params={"namespace": namespace, "name": job["name"]}
    ).json()["data"]
    assert [r["state"] for r in runs] == ["COMPLETED"]
    assert runs[0]["started_at"] is not None and runs[0]["duration_ms"] is not None
