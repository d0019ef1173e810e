"""Search over real HTTP, on SQLite and PostgreSQL: what a user typing in a search box sees."""

from __future__ import annotations

import pytest

from .support import SearchApi, col

HIT_KEYS = {
    "id", "kind", "fqn", "name", "display_name", "description", "score", "highlights",
    "matched_columns",
}  # fmt: skip
FACETS = {"kind", "service", "database", "schema", "owner", "tag", "glossary_term", "domain"}


def test_the_answer_has_the_documented_shape(search_api: SearchApi) -> None:
    got = search_api.search("orders")
    assert set(got) == {"data", "paging", "facets"}
    assert set(got["paging"]) == {"after", "total"}
    assert set(got["facets"]) == FACETS
    assert got["data"] and all(set(h) == HIT_KEYS for h in got["data"])
    assert got["data"][0]["score"] >= got["data"][-1]["score"]


def test_identifiers_are_split_as_people_type_them(search_api: SearchApi) -> None:
    got = search_api.search("churn probability")
    assert got["data"][0]["fqn"] == "shop.sales.public.customer_addresses"
    assert got["data"][0]["matched_columns"] == ["churn_probability"]
    hit = search_api.search("customer id")["data"][0]
    assert hit["fqn"] == "shop.sales.public.customer_addresses"
    assert "customerId" in hit["matched_columns"]


def test_an_exact_name_comes_first_and_fqn_fragments_find_their_asset(
    search_api: SearchApi,
) -> None:
    assert search_api.fqns("orders")[0] == "shop.sales.public.orders"
    assert search_api.fqns("fct_orders")[0] == "shop.sales.analytics.fct_orders"
    assert search_api.fqns("sales.analytics.fct_ord")[0] == "shop.sales.analytics.fct_orders"
    assert search_api.fqns("ledger.fx")[0] == "ledger.fx"
    assert search_api.fqns("fx.rates.daily_rates")[0] == "ledger.fx.rates.daily_rates"


def test_typos_and_partial_words_are_forgiven(search_api: SearchApi) -> None:
    assert search_api.fqns("custmer adresses")[0] == "shop.sales.public.customer_addresses"
    assert search_api.fqns("exchnage rates")[0] == "ledger.fx.rates.daily_rates"
    assert "shop.sales.analytics.fct_orders" in search_api.fqns("ord", limit=20)


def test_the_tier_tag_lifts_and_deprecation_demotes(search_api: SearchApi) -> None:
    ranked = search_api.fqns("orders fact table", kind="table")
    assert ranked.index("shop.sales.analytics.fct_orders") < ranked.index(
        "shop.sales.analytics.orders_snapshot"
    )
    assert ranked[-1] == "shop.sales.analytics.orders_backup"


def test_highlights_mark_the_matching_words(search_api: SearchApi) -> None:
    hit = search_api.search("revenue", kind="dashboard")["data"][0]
    assert hit["highlights"]["display_name"] == "<em>Revenue</em> overview"
    assert hit["highlights"]["description"].startswith("<em>Revenue</em> by month")


def test_filters_narrow_and_facets_count_the_matches(search_api: SearchApi) -> None:
    got = search_api.search("order", kind="table")
    assert got["facets"]["kind"] == {"table": got["paging"]["total"]}
    assert got["facets"]["schema"] == {"shop.sales.analytics": 3, "shop.sales.public": 1}
    assert got["facets"]["owner"] == {"alice": 1, "finance_eng": 1}
    assert got["facets"]["glossary_term"] == {"Business.Revenue": 1}
    assert got["facets"]["domain"] == {"Sales": 2}

    assert search_api.fqns("order", owner="alice") == ["shop.sales.analytics.fct_orders"]
    assert search_api.fqns("order", owner="team:finance_eng") == ["shop.sales.public.orders"]
    pii = search_api.search("street", tag="PII.Sensitive")  # a column's tag counts
    assert [h["fqn"] for h in pii["data"]] == ["shop.sales.public.customer_addresses"]
    either = search_api.fqns("rates orders", domain=["Finance", "Sales"], kind="table")
    assert "ledger.fx.rates.daily_rates" in either and "shop.sales.public.orders" in either
    assert search_api.fqns("order", glossary_term="Business.Revenue") == [
        "shop.sales.public.orders"
    ]
    assert search_api.fqns("order", service="ledger") == []
    assert set(search_api.fqns("order", database="shop.sales", schema="shop.sales.public")) == {
        "shop.sales.public.orders"
    }


def test_sorts_and_cursor_paging(search_api: SearchApi) -> None:
    everything = search_api.search("order", kind="table", limit=100)
    total = everything["paging"]["total"]
    assert total == len(everything["data"]) == 4
    seen: list[str] = []
    after = None
    while True:
        params = {"kind": "table", "limit": 3}
        if after:
            params["after"] = after
        page = search_api.search("order", **params)
        assert page["paging"]["total"] == total
        seen += [h["fqn"] for h in page["data"]]
        after = page["paging"]["after"]
        if after is None:
            break
    assert seen == [h["fqn"] for h in everything["data"]]
    by_name = [h["name"] for h in search_api.search("order", sort="name", limit=100)["data"]]
    assert by_name == sorted(by_name)
    popular = search_api.fqns("order", sort="popularity", kind="table")
    assert popular[:2] == ["shop.sales.analytics.fct_orders", "shop.sales.public.orders"]
    updated = search_api.fqns("order", sort="updated", kind="table")
    assert updated[0] == "shop.sales.analytics.orders_snapshot"  # written last of them


def test_a_write_is_searchable_at_once_and_a_delete_leaves_at_once(
    search_api: SearchApi,
) -> None:
    api = search_api
    api.put("tables", {"name": "shipments", "schema": "shop.sales.public",
                       "description": "Parcels handed to the carrier."})  # fmt: skip
    assert api.fqns("parcels carrier") == ["shop.sales.public.shipments"]
    api.put("tables", {"name": "shipments", "schema": "shop.sales.public",
                       "description": "Deliveries by courier."})  # fmt: skip
    assert api.fqns("parcels carrier") == []
    assert api.fqns("courier") == ["shop.sales.public.shipments"]

    r = api.http.delete("/api/v1/tables/name/shop.sales.public.shipments")
    assert r.status_code == 200, r.text
    table_id = r.json()["id"]
    assert api.fqns("courier") == []
    assert api.fqns("courier", deleted="true") == ["shop.sales.public.shipments"]
    r = api.http.post(f"/api/v1/tables/{table_id}/restore")
    assert r.status_code == 200, r.text
    assert api.fqns("courier") == ["shop.sales.public.shipments"]
    r = api.http.delete("/api/v1/tables/name/shop.sales.public.shipments?hard=true")
    assert r.status_code == 204, r.text
    assert api.fqns("courier", deleted="true") == []


def test_suggest_completes_names_and_fqns(search_api: SearchApi) -> None:
    def suggest(q: str) -> list[str]:
        r = search_api.http.get("/api/v1/search/suggest", params={"q": q})
        assert r.status_code == 200, r.text
        return [s["fqn"] for s in r.json()["data"]]

    assert suggest("cust")[0] == "shop.sales.public.customer_addresses"
    assert suggest("fct_")[0] == "shop.sales.analytics.fct_orders"
    assert suggest("shop.sales.an")[0] == "shop.sales.analytics"
    assert "ledger.fx.rates.daily_rates" in suggest("rates")
    assert suggest("zzzz") == []


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 10_000},
        {"q": "orders", "limit": 0},
        {"q": "orders", "limit": 1000},
        {"q": "orders", "sort": "random"},
        {},
    ],
)
def test_bad_queries_are_clear_422s(search_api: SearchApi, params: dict[str, object]) -> None:
    r = search_api.http.get("/api/v1/search", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"q": "orders", "colour": "red"},
        {"q": "orders", "after": "not-a-cursor"},
        {"q": "orders", "after": "eno"},  # base64 of a text that is not a search cursor
    ],
)
def test_unknown_filters_and_foreign_cursors_are_400s(
    search_api: SearchApi, params: dict[str, object]
) -> None:
    r = search_api.http.get("/api/v1/search", params=params)
    assert r.status_code == 400, r.text
    assert "detail" in r.json()


@pytest.mark.parametrize(
    "q",
    ['"orders', "orders*", "-orders", "orders NEAR customer", "name:orders", "(orders",
     "orders)", 'NEAR("a" "b")', "ord* AND", "'; DROP TABLE assets; --", "café ☕ 🎉",
     "東京", "\\", "%", "_"],
)  # fmt: skip
def test_query_syntax_characters_are_words_not_syntax(search_api: SearchApi, q: str) -> None:
    r = search_api.http.get("/api/v1/search", params={"q": q})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "paging", "facets"}
    if "orders" in q:
        assert "shop.sales.public.orders" in [h["fqn"] for h in body["data"]]


def test_reading_needs_a_token(search_api: SearchApi) -> None:
    r = httpx_get_anonymous(search_api, "/api/v1/search?q=orders")
    assert r.status_code == 401
    r = httpx_get_anonymous(search_api, "/api/v1/search/suggest?q=ord")
    assert r.status_code == 401


def httpx_get_anonymous(api: SearchApi, url: str):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.get(api.server.base_url + url, timeout=10)


def test_bulk_writes_are_indexed(search_api: SearchApi) -> None:
    import orjson

    lines = [
        {"kind": "table", "name": f"bulk_invoice_{i}", "schema": "shop.sales.public",
         "columns": [col("invoice_number", "Printed on the invoice.")]}
        for i in range(30)
    ]  # fmt: skip
    r = search_api.http.post(
        "/api/v1/bulk",
        content=b"\n".join(orjson.dumps(x) for x in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    got = search_api.search("invoice number", limit=100)
    assert got["paging"]["total"] == 30
    assert all(h["matched_columns"] == ["invoice_number"] for h in got["data"])
