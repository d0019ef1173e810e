"""A server per backend with a small catalog of its own, so counts and facets are exact."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.support import BACKENDS, PG_HINT, ApiServer, api_server_running, pg_unreachable


class SearchApi:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=30.0,
        )

    def put(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.put(f"/api/v1/{plural}", json=body)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out

    def search(self, q: str, **params: Any) -> dict[str, Any]:
        r = self.http.get("/api/v1/search", params={"q": q, **params})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def fqns(self, q: str, **params: Any) -> list[str]:
        return [h["fqn"] for h in self.search(q, **params)["data"]]


def col(name: str, description: str = "", **kw: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "data_type": "varchar"}
    if description:
        c["description"] = description
    c.update(kw)
    return c


def seed(api: SearchApi) -> None:
    for plural, body in (
        ("users", {"name": "alice", "email": "alice@example.com"}),
        ("users", {"name": "bob", "email": "bob@example.com"}),
        ("teams", {"name": "finance_eng", "members": ["bob"]}),
        ("classifications", {"name": "PII"}),
        ("tags", {"name": "Sensitive", "classification": "PII"}),
        ("classifications", {"name": "Tier"}),
        ("tags", {"name": "Tier1", "classification": "Tier"}),
        ("tags", {"name": "Tier3", "classification": "Tier"}),
        ("classifications", {"name": "Lifecycle"}),
        ("tags", {"name": "Deprecated", "classification": "Lifecycle"}),
        ("glossaries", {"name": "Business"}),
        ("glossary-terms", {"name": "Revenue", "glossary": "Business"}),
        ("domains", {"name": "Sales"}),
        ("domains", {"name": "Finance"}),
        ("custom-properties", {"name": "popularity", "entity_kind": "table",
                               "property_type": "number"}),
        ("services", {"name": "shop", "category": "database", "service_type": "postgres"}),
        ("databases", {"name": "sales", "service": "shop"}),
        ("schemas", {"name": "public", "database": "shop.sales"}),
        ("schemas", {"name": "analytics", "database": "shop.sales"}),
        ("services", {"name": "ledger", "category": "database", "service_type": "postgres"}),
        ("databases", {"name": "fx", "service": "ledger"}),
        ("services", {"name": "bi", "category": "dashboard", "service_type": "superset"}),
        ("schemas", {"name": "rates", "database": "ledger.fx"}),
    ):  # fmt: skip
        api.put(plural, body)
    tables = [
        {
            "name": "customer_addresses",
            "schema": "shop.sales.public",
            "description": "Postal addresses of every customer, one row per address.",
            "owners": [{"kind": "user", "fqn": "alice"}],
            "domain": "Sales",
            "columns": [
                col("customerId", "The customer who lives here."),
                col("street", "Street and house number.", tags=["PII.Sensitive"]),
                col("churn_probability", "Model score: how likely the customer leaves."),
            ],
        },
        {
            "name": "orders",
            "schema": "shop.sales.public",
            "description": "Every order placed in the web shop.",
            "owners": [{"kind": "team", "fqn": "finance_eng"}],
            "domain": "Sales",
            "glossary_terms": ["Business.Revenue"],
            "custom_properties": {"popularity": 50},
            "columns": [col("order_id", "The order."), col("amount", "Order total in EUR.")],
        },
        {
            "name": "fct_orders",
            "schema": "shop.sales.analytics",
            "description": "Orders fact table: one row per order with its revenue.",
            "tags": ["Tier.Tier1"],
            "owners": [{"kind": "user", "fqn": "alice"}],
            "domain": "Sales",
            "custom_properties": {"popularity": 900},
            "columns": [col("order_id"), col("net_revenue", "Revenue after refunds.")],
        },
        {
            "name": "orders_backup",
            "schema": "shop.sales.analytics",
            "description": "Old copy of the orders fact table, one row per order.",
            "tags": ["Lifecycle.Deprecated"],
            "columns": [col("order_id"), col("net_revenue")],
        },
        {
            "name": "orders_snapshot",
            "schema": "shop.sales.analytics",
            "description": "Orders fact table as of each night, one row per order.",
            "tags": ["Tier.Tier3"],
            "columns": [col("order_id"), col("net_revenue")],
        },
        {
            "name": "daily_rates",
            "schema": "ledger.fx.rates",
            "description": "Foreign exchange rates, one row per currency pair and day.",
            "owners": [{"kind": "team", "fqn": "finance_eng"}],
            "domain": "Finance",
            "columns": [col("currency_pair"), col("rate", "Mid-market rate.")],
        },
    ]
    for t in tables:
        api.put("tables", t)
    api.put(
        "dashboards",
        {
            "name": "revenue_overview",
            "service": "bi",
            "display_name": "Revenue overview",
            "description": "Revenue by month and region.",
        },
    )


@pytest.fixture(scope="module", params=BACKENDS)
def search_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[SearchApi]:  # fmt: skip
    backend: str = request.param
    if backend == "postgres" and (why := pg_unreachable()) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_HINT}. CI must run the PostgreSQL search tests. ({why})")
        pytest.skip(f"{PG_HINT} ({why})")
    data_dir: Path = tmp_path_factory.mktemp(f"search-{backend}")
    with api_server_running(data_dir, backend, {"LODESTAR_SCHEDULER": "false"}) as server:
        api = SearchApi(server)
        try:
            seed(api)
            yield api
        finally:
            api.http.close()
