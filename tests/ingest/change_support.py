"""What the change-detection tests of the SQL connectors share: counting what a connector reads,
and reading back what the catalog shows."""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from lodestar.catalog import Catalog, Key
from lodestar.catalog.observations import ObservationLog
from lodestar.ingest.connectors.sql_common import SQLSource, TableMeta


class Ingested(Protocol):
    """A test source ingested into `catalog`, whose relations are named by `fqn`."""

    catalog: Catalog

    def fqn(self, name: str) -> str: ...


def count_reads(
    monkeypatch: pytest.MonkeyPatch, source: type[SQLSource], extracted: list[str]
) -> None:
    """Append to `extracted` the name of every relation the connector reads, through its two
    real read methods (`read_schema`, and `read_relations` for the changed ones)."""
    read_schema = source.read_schema
    read_relations = source.read_relations

    def counted_schema(self: SQLSource, conn: Any, database: str, schema: str) -> Any:
        tables: list[TableMeta] = read_schema(self, conn, database, schema)
        extracted.extend(t.name for t in tables)
        return tables

    def counted_relations(
        self: SQLSource, conn: Any, database: str, schema: str, names: set[str]
    ) -> Any:
        tables: list[TableMeta] = read_relations(self, conn, database, schema, names)
        extracted.extend(t.name for t in tables)
        return tables

    monkeypatch.setattr(source, "read_schema", counted_schema)
    monkeypatch.setattr(source, "read_relations", counted_relations)


def doc(ingested: Ingested, name: str, kind: str = "table") -> dict[str, Any]:
    return dict(ingested.catalog.get(kind, Key(fqn=ingested.fqn(name))).doc)


def column(ingested: Ingested, table: str, name: str) -> dict[str, Any]:
    return dict(next(c for c in doc(ingested, table)["columns"] if c["name"] == name))


def column_names(ingested: Ingested, table: str) -> list[str]:
    return [c["name"] for c in doc(ingested, table)["columns"]]


def row_counts(ingested: Ingested, table: str) -> list[int]:
    """The table's row_count observations, newest first."""
    asset = ingested.catalog.get("table", Key(fqn=ingested.fqn(table)))
    return [o["value"]["rows"] for o in ObservationLog(ingested.catalog.store).read(asset.id)]


def foreign_key(ingested: Ingested, table: str) -> dict[str, Any]:
    (fk,) = [c for c in doc(ingested, table)["constraints"] if c["type"] == "foreign_key"]
    return dict(fk)
