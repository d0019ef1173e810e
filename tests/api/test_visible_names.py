"""One rule for visible, unambiguous names (issue 9), over real HTTP: a token name is printable
with no white space at its ends and no `/`; an asset name that holds an invisible character
(zero-width, bidirectional, a space other than U+0020) is kept, as every source name is, but its
FQN quotes it, so it can never pass for its look-alike."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .support import Api, problem_of, unique

BAD_TOKEN_NAMES = [
    "tab\there",
    "line\nbreak",
    "zero\u200bwidth",
    "bidi\u202eevil",
    "isolate\u2066x\u2069",
    "nbsp\u00a0inside",
    "bom\ufeff",
    " leading",
    "trailing ",
    "a/b",
    "",
    "x" * 129,
]


@pytest.mark.parametrize("name", BAD_TOKEN_NAMES, ids=repr)
def test_a_token_name_that_is_not_visible_and_unambiguous_is_refused(api: Api, name: str) -> None:
    resp = api.client.post("/api/v1/tokens", json={"name": name, "role": "viewer"})
    assert resp.status_code == 422, resp.text
    problem = problem_of(resp)
    assert any(e["loc"][-1] == "name" for e in problem["errors"]), problem
    names = {t["name"] for t in api.get("/api/v1/tokens").json()["data"]}
    assert name not in names


@pytest.mark.parametrize("base", ["ci bot", "alice@laptop", "café-étl", "日本語", "a.b:c+d"])
def test_a_visible_token_name_is_issued_and_revoked_by_name(api: Api, base: str) -> None:
    name = f"{base} {unique('n')}"
    resp = api.client.post("/api/v1/tokens", json={"name": name, "role": "viewer"})
    assert resp.status_code == 201, resp.text
    assert api.client.delete(f"/api/v1/tokens/{quote(name, safe='')}").status_code == 204
    tokens = {t["name"]: t for t in api.get("/api/v1/tokens").json()["data"]}
    assert tokens[name]["revoked"]


def test_a_look_alike_asset_name_gets_a_visibly_different_fqn(api: Api) -> None:
    s = api.fresh_seed()
    plain = api.put_ok("tables", s.table_body("orders"))
    hidden = api.put_ok("tables", s.table_body("orders\u200b"))
    flipped = api.put_ok("tables", s.table_body("gro\u202esredro"))
    assert plain["fqn"] == f"{s.schema}.orders"
    assert hidden["fqn"] == f'{s.schema}."orders\u200b"'
    assert flipped["fqn"] == f'{s.schema}."gro\u202esredro"'
    assert len({plain["id"], hidden["id"], flipped["id"]}) == 3
    # Each is found by its own FQN, and the unquoted spelling of a hidden one is refused
    # rather than taken for either asset.
    assert api.by_name("tables", hidden["fqn"]).json()["id"] == hidden["id"]
    assert api.by_name("tables", plain["fqn"]).json()["id"] == plain["id"]
    resp = api.by_name("tables", f"{s.schema}.orders\u200b")
    assert resp.status_code == 422, resp.text
    assert "must be quoted" in problem_of(resp)["detail"]
