"""`lodestar search` through a real server, and `lodestar search reindex` while it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .support import SearchApi

LODESTAR = str(Path(sys.executable).with_name("lodestar"))


def run(api: SearchApi, *args: str, database: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env.update(LODESTAR_URL=api.server.base_url, LODESTAR_TOKEN=api.server.admin_token)
    env["COLUMNS"] = "200"
    if database:
        env["LODESTAR_DATABASE_URL"] = api.server.database_url
    return subprocess.run(
        [LODESTAR, "search", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_search_prints_a_table_of_hits_and_json_for_scripts(search_api: SearchApi) -> None:
    done = run(search_api, "churn", "probability")
    assert done.returncode == 0, done.stderr
    assert "shop.sales.public.customer_addresses" in done.stdout
    assert "churn_probability" in done.stdout
    done = run(search_api, "order", "--kind", "table", "--owner", "alice", "--json")
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert [h["fqn"] for h in page["data"]] == ["shop.sales.analytics.fct_orders"]
    assert page["facets"]["kind"] == {"table": 1}
    done = run(search_api, "street", "--tag", "PII.Sensitive", "--json")
    assert [h["fqn"] for h in json.loads(done.stdout)["data"]] == [
        "shop.sales.public.customer_addresses"
    ]


def test_bad_search_input_is_a_usage_error(search_api: SearchApi) -> None:
    done = run(search_api, "   ")
    assert done.returncode == 2
    assert "give the words" in done.stderr
    done = run(search_api, "orders", "--sort", "sideways")
    assert done.returncode == 2
    assert "sort" in done.stderr


def test_reindex_rebuilds_while_the_server_serves(search_api: SearchApi) -> None:
    before = search_api.search("order", limit=100)
    done = run(search_api, "reindex", database=True)
    assert done.returncode == 0, done.stderr
    assert "search: rebuilt from" in done.stdout
    after = search_api.search("order", limit=100)
    assert [h["fqn"] for h in after["data"]] == [h["fqn"] for h in before["data"]]
    assert after["facets"] == before["facets"]
