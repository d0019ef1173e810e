"""Two automated writers describing the same asset enrich it; neither erases the other."""

from __future__ import annotations

from typing import Any

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.model.records import Origin


def _bot(pipeline: str) -> WriteContext:
    return WriteContext.for_principal(
        Principal(f"ingestion:{pipeline}", "bot", origin=Origin("ingestion", pipeline))
    )


def _table(**fields: Any) -> dict[str, Any]:
    return {"name": "orders", "schema": "wh.db.raw", **fields}


def test_dbt_enrichment_survives_the_database_connector(catalog: Catalog, seed: Any) -> None:
    db, dbt = _bot("warehouse"), _bot("dbt")
    from_db = _table(
        columns=[
            {"name": "id", "data_type": "bigint", "nullable": False},
            {"name": "amount", "data_type": "numeric(12,2)"},
        ]
    )
    catalog.upsert("table", from_db, db)
    catalog.upsert(
        "table",
        _table(
            description="One row per order.",
            columns=[
                {"name": "id", "data_type": "bigint", "description": "Order id."},
                {"name": "channel", "data_type": "text", "description": "Documented in dbt."},
            ],
        ),
        dbt,
    )
    enriched = catalog.get("table", Key(fqn="wh.db.raw.orders"))
    # dbt documented two columns; the one it left out is still there.
    assert [c["name"] for c in enriched.doc["columns"]] == ["id", "channel", "amount"]
    assert enriched.doc["description"] == "One row per order."

    # The database connector runs again with what it knows: nothing of dbt's is erased ...
    again = catalog.upsert("table", from_db, db)
    doc = again.asset.doc if again.asset else {}
    assert doc["description"] == "One row per order."
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["id"]["description"] == "Order id."
    assert "channel" in cols  # added by dbt, not the database connector's to remove
    # ... and the next identical run changes nothing.
    assert catalog.upsert("table", from_db, db).status == "unchanged"

    # A column the database connector itself created and no longer sees is removed.
    dropped = catalog.upsert(
        "table", _table(columns=[{"name": "id", "data_type": "bigint", "nullable": False}]), db
    )
    assert dropped.asset is not None
    assert [c["name"] for c in dropped.asset.doc["columns"]] == ["id", "channel"]
    assert dropped.asset.change and "column 'amount' removed" in dropped.asset.change["breaking"]


def test_a_second_writer_does_not_wipe_service_connection(catalog: Catalog, seed: Any) -> None:
    catalog.upsert(
        "service",
        {
            "name": "lake",
            "category": "database",
            "service_type": "duckdb",
            "connection": {"path": "/data/lake.duckdb"},
        },
        _bot("lake"),
    )
    catalog.upsert(
        "service", {"name": "lake", "category": "database", "service_type": "duckdb"}, _bot("dbt")
    )
    svc = catalog.get("service", Key(fqn="lake"))
    assert svc.doc["connection"] == {"path": "/data/lake.duckdb"}


def test_a_person_can_still_clear_a_field(catalog: Catalog, seed: Any, admin_ctx: Any) -> None:
    catalog.upsert("table", _table(description="from dbt"), _bot("dbt"))
    out = catalog.upsert("table", _table(), admin_ctx)
    assert out.asset is not None and "description" not in out.asset.doc


def test_what_a_person_set_when_creating_survives_an_automated_writer(
    catalog: Catalog, seed: Any, admin_ctx: Any
) -> None:
    """Curated fields, links and custom properties among them, and the curated fields of the
    columns a person created, keep the person's values; the rest follows the source."""
    catalog.upsert(
        "custom_property",
        {"name": "tier", "entity_kind": "table", "property_type": "string"},
        admin_ctx,
    )
    catalog.upsert(
        "table",
        _table(
            description="Curated.",
            links=[{"title": "Runbook", "url": "https://wiki.example.com/orders"}],
            custom_properties={"tier": "gold"},
            source_code={"path": "models/orders.sql"},
            columns=[
                {
                    "name": "id",
                    "data_type": "int",
                    "description": "Order id.",
                    "tags": ["PII.email"],
                }
            ],
        ),
        admin_ctx,
    )
    catalog.upsert(
        "table",
        _table(
            description="From the source.",
            links=[{"title": "Source", "url": "https://source.example.com"}],
            custom_properties={"tier": "bronze"},
            source_code={"path": "etl/orders.py"},
            columns=[{"name": "id", "data_type": "bigint", "description": "comment", "tags": []}],
        ),
        _bot("warehouse"),
    )
    doc = catalog.get("table", Key(fqn="wh.db.raw.orders")).doc
    assert doc["description"] == "Curated."
    assert doc["links"] == [{"title": "Runbook", "url": "https://wiki.example.com/orders"}]
    assert doc["custom_properties"] == {"tier": "gold"}
    assert doc["source_code"] == {"path": "etl/orders.py"}  # not curated: the source's
    (col,) = doc["columns"]
    assert (col["data_type"], col["description"], col["tags"]) == (
        "bigint",
        "Order id.",
        ["PII.email"],
    )
