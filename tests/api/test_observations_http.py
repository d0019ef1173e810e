"""Observations over HTTP: a re-delivery is stored once, and the list pages by cursor."""

from __future__ import annotations

from .support import Api


def test_a_repeated_delivery_is_stored_once_and_paging_walks_every_row_once(api: Api) -> None:
    seed = api.fresh_seed()
    table = api.put_ok("tables", seed.table_body("orders"))
    items = [
        {
            "kind": "table",
            "fqn": table["fqn"],
            "observation": "row_count",
            "value": {"rows": n},
            "ts": f"2024-01-{1 + n % 5:02}T00:00:00Z",  # several share a time: ties page too
        }
        for n in range(23)
    ]
    first = api.client.post("/api/v1/observations", json=items)
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": 23, "duplicates": 0, "problems": []}
    again = api.client.post("/api/v1/observations", json=items[:10])
    assert again.json() == {"recorded": 0, "duplicates": 10, "problems": []}
    keyed = {**items[0], "ts": None, "idempotency_key": "run-1:orders", "run_id": "run-1"}
    assert api.client.post("/api/v1/observations", json=[keyed, keyed]).json()["recorded"] == 1

    url = f"/api/v1/tables/{table['id']}/observations"
    seen: list[dict[str, object]] = []
    after = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 5, "observation": "row_count"}
        if after:
            params["after"] = after
        resp = api.get(url, params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += body["data"]
        pages += 1
        after = body["paging"]["after"]
        if after is None:
            break
    assert pages == 5
    assert sorted(o["value"]["rows"] for o in seen) == sorted([*range(23), 0])  # type: ignore[index]
    stamps = [o["ts"] for o in seen]
    assert stamps == sorted(stamps, reverse=True)
    newest = seen[0]
    assert newest["run_id"] == "run-1" and newest["origin"] == "person"
    assert api.get(url, params={"after": "!!"}).status_code == 400


def test_the_origin_is_the_callers_not_the_bodys(api: Api) -> None:
    seed = api.fresh_seed()
    table = api.put_ok("tables", seed.table_body("orders"))
    bot = api.as_role("bot")
    item = {"kind": "table", "fqn": table["fqn"], "observation": "x", "value": {}}
    spoof = bot.post("/api/v1/observations", json=[{**item, "origin": "person"}])
    assert spoof.status_code in (400, 422)
    resp = bot.post(
        "/api/v1/observations", json=[item], headers={"X-Lodestar-Origin": "ingestion:nightly"}
    )
    assert resp.json()["recorded"] == 1
    (obs,) = api.get(f"/api/v1/tables/{table['id']}/observations").json()["data"]
    assert obs["origin"] == "ingestion:nightly"
