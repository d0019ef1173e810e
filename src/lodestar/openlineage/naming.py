"""OpenLineage names -> catalog FQNs, predictably (docs/api.md, "OpenLineage").

A namespace becomes a service. Its name is the namespace itself (`postgres://db:5432` is the
service `"postgres://db:5432"`), unless the setting `LODESTAR_OPENLINEAGE_NAMESPACES` maps it
onto another one (`postgres://db:5432=warehouse`), such as the service a database connector
fills, so that both describe the same tables.

Datasets, by the scheme of their namespace (the OpenLineage naming spec):

- a database (`postgres://`, `mysql://`, `snowflake://`, `bigquery`, `trino://`, ...): the
  name's dot-separated parts are `database.schema.table` -> table `service.database.schema.table`;
  `schema.table` (MySQL, Hive) -> `service.default.schema.table`; `table` ->
  `service.default.default.table`; more than three parts keep the last two as schema and table.
- a broker (`kafka://`): the name is a topic -> topic `service.name`.
- anything else (`s3://`, `gs://`, `file://`, `hdfs://`, a plain namespace such as
  `food_delivery`): the whole name is one table name -> `service.default.default."name"`, an
  external table for storage schemes.

A job becomes a pipeline `<service of the job namespace>.<job name>`; the service has the
category `pipeline`. A name part longer than 256 characters keeps its first 200 and a digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lodestar.model import fqn as fqn_mod

DATABASE_SCHEMES = frozenset(
    {
        "postgres",
        "postgresql",
        "mysql",
        "mariadb",
        "redshift",
        "snowflake",
        "bigquery",
        "trino",
        "presto",
        "mssql",
        "sqlserver",
        "oracle",
        "db2",
        "teradata",
        "hive",
        "duckdb",
        "sqlite",
        "awsathena",
        "athena",
        "clickhouse",
        "databricks",
        "vertica",
        "spanner",
        "cassandra",
        "azuresql",
        "synapse",
        "sqlite3",
        "crate",
        "greenplum",
    }
)
STORAGE_SCHEMES = frozenset(
    {"s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "wasb", "wasbs", "hdfs", "file", "dbfs"}
)
MESSAGING_SCHEMES = frozenset({"kafka", "pulsar", "kinesis", "pubsub"})
DEFAULT = "default"


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


def without_credentials(namespace: str) -> str:
    """The namespace without a `user:password@` part: names are shown to every reader, and a
    producer that puts credentials in a connection URL must not publish them."""
    return _USERINFO.sub(r"\1", namespace, count=1) if "@" in namespace else namespace


def scheme_of(namespace: str) -> str:
    head, sep, _rest = namespace.partition("://")
    if sep:
        return head.lower()
    return namespace.split(":", 1)[0].lower() if namespace.lower() == "bigquery" else ""


def part(text: str) -> str:
    """A name part the catalog can hold (at most 256 characters)."""
    if len(text) <= fqn_mod.MAX_PART_LENGTH:
        return text
    return text[:200] + "~" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a name lands: the asset's kind, FQN and base body, and the containers it needs
    (kind, FQN, body), outermost first, created when missing."""

    kind: str
    fqn: str
    body: dict[str, Any]
    containers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def parse_namespace_map(text: str) -> dict[str, str]:
    """`ns=service,ns2=service2` -> mapping; ValueError saying how to fix a bad entry."""
    out: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        ns, sep, service = entry.rpartition("=")
        if not sep or not ns.strip() or not service.strip():
            raise ValueError(
                f"openlineage_namespaces entry {entry!r}: write namespace=service, "
                "e.g. postgres://db.prod:5432=warehouse"
            )
        out[ns.strip()] = service.strip()
    return out


class Naming:
    def __init__(self, services: Mapping[str, str] | None = None) -> None:
        self.services = dict(services or {})
        self._datasets: dict[tuple[str, str], Target] = {}

    def service_name(self, namespace: str) -> str:
        return part(self.services.get(namespace, namespace))

    def _service(
        self, namespace: str, category: str, service_type: str
    ) -> tuple[str, str, dict[str, Any]]:
        name = self.service_name(namespace)
        body = {
            "name": name,
            "category": category,
            "service_type": service_type[:64] or "openlineage",
        }
        return ("service", fqn_mod.quote(name), body)

    def dataset(self, namespace: str, name: str) -> Target:
        """Where a dataset lands (cached: a batch names the same datasets again and again;
        callers copy the body before changing it)."""
        key = (namespace, name)
        hit = self._datasets.get(key)
        if hit is None:
            if len(self._datasets) > 10_000:
                self._datasets.clear()
            hit = self._datasets[key] = self._dataset(namespace, name)
        return hit

    def _dataset(self, namespace: str, name: str) -> Target:
        scheme = scheme_of(namespace)
        if scheme in MESSAGING_SCHEMES:
            service = self._service(namespace, "messaging", scheme)
            topic = part(name)
            return Target(
                "topic",
                fqn_mod.join([service[2]["name"], topic]),
                {"name": topic, "service": service[1]},
                [service],
            )
        if scheme in DATABASE_SCHEMES:
            service = self._service(namespace, "database", scheme)
            parts = [p for p in name.split(".")] if name.strip(".") == name else [name]
            if any(not p for p in parts):
                parts = [name]
            if len(parts) >= 3:
                database, schema, table = ".".join(parts[:-2]), parts[-2], parts[-1]
            elif len(parts) == 2:
                database, schema, table = DEFAULT, parts[0], parts[1]
            else:
                database, schema, table = DEFAULT, DEFAULT, parts[0]
            table_type = "table"
        else:
            storage = scheme in STORAGE_SCHEMES
            service = self._service(
                namespace, "storage" if storage else "database", scheme or "openlineage"
            )
            database, schema, table = DEFAULT, DEFAULT, name
            table_type = "external" if storage else "table"
        svc = service[2]["name"]
        db_fqn = fqn_mod.join([svc, part(database)])
        schema_fqn = fqn_mod.join([svc, part(database), part(schema)])
        return Target(
            "table",
            fqn_mod.join([svc, part(database), part(schema), part(table)]),
            {"name": part(table), "schema": schema_fqn, "table_type": table_type},
            [
                service,
                ("database", db_fqn, {"name": part(database), "service": service[1]}),
                ("schema", schema_fqn, {"name": part(schema), "database": db_fqn}),
            ],
        )

    def job(self, namespace: str, name: str, integration: str = "") -> Target:
        service = self._service(namespace, "pipeline", integration.lower() or "openlineage")
        job = part(name)
        return Target(
            "pipeline",
            fqn_mod.join([service[2]["name"], job]),
            {"name": job, "service": service[1]},
            [service],
        )
