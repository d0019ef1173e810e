"""`lodestar lineage show` against a real server: the tree, JSON, and errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lodestar.cli.main import app

from .support import Api

pytestmark = pytest.mark.slow


def _show(api: Api, *args: str) -> tuple[int, str, str]:
    env = {"LODESTAR_URL": api.server.base_url, "LODESTAR_TOKEN": api.admin_token}
    result = CliRunner().invoke(app, ["lineage", "show", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_show_draws_the_tree_and_prints_json(api: Api) -> None:
    seed = api.fresh_seed()
    t = {}
    for n in ("src", "mid", "out", "side"):
        t[n] = api.put_ok("tables", seed.table_body(n))
    pairs = [("src", "mid"), ("mid", "out"), ("src", "out"), ("side", "mid")]
    edges = [
        {
            "from": {"kind": "table", "fqn": t[a]["fqn"]},
            "to": {"kind": "table", "fqn": t[b]["fqn"]},
            "columns": [["id", "id"]],
        }
        for a, b in pairs
    ]
    assert api.client.post("/api/v1/lineage/edges", json=edges).json()["added"] == 4

    code, text, _ = _show(api, t["src"]["fqn"], "--columns")
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0].startswith(t["src"]["fqn"])
    # src -> mid -> out, and src -> out again: drawn once, then marked.
    assert sum(t["out"]["fqn"] in line for line in lines) == 2
    assert any("(shown above)" in line and t["out"]["fqn"] in line for line in lines)
    assert "id -> id" in text
    assert t["side"]["fqn"] not in text  # upstream of mid, not downstream of src

    code, text, _ = _show(api, t["mid"]["fqn"], "--upstream", "--downstream", "--depth", "1")
    assert code == 0, text
    assert "upstream" in text and "downstream" in text
    for n in ("src", "side", "out"):
        assert t[n]["fqn"] in text

    code, text, _ = _show(api, t["src"]["fqn"], "--json", "--depth", "5")
    assert code == 0, text
    graph = json.loads(text)
    assert [n["name"] for n in graph["nodes"]][:1] == ["src"]
    assert {n["name"] for n in graph["nodes"]} == {"src", "mid", "out"}
    assert len(graph["edges"]) == 3


def test_show_reports_bad_input(api: Api) -> None:
    code, _, err = _show(api, "wh.nope.nothing")
    assert code == 1 and "no table" in err, err
    code, _, err = _show(api, "a.b", "--depth", "-1")
    assert code == 2, err
    code, _, err = _show(api, "a.b", "--kind", "widget")
    assert code == 2 and "widget" in err, err
