"""Star expansion from what the catalog knows: the column lists of the tables a query reads,
looked up through `Catalog`, for `analyze(..., schema=...)`."""

from __future__ import annotations

from lodestar.catalog import Catalog
from lodestar.catalog.errors import CatalogError
from lodestar.catalog.service import Key
from lodestar.lineage.sql import SqlLineage, analyze
from lodestar.model import fqn

# Services tried for a `database.schema.table` name when the caller names none.
MAX_SERVICES = 1000


def analyze_with_catalog(
    catalog: Catalog,
    sql: str,
    *,
    dialect: str | None = None,
    default_database: str | None = None,
    default_schema: str | None = None,
    service: str | None = None,
) -> SqlLineage:
    """`analyze`, with `*` expanded from the catalog's tables: a `database.schema.table`
    name is looked up as `service.database.schema.table` under the given service, else
    under each service the catalog holds (the first that has it wins). Read twice only
    when the first reading met a `*` it could not expand."""
    first = analyze(
        sql, dialect=dialect, default_database=default_database, default_schema=default_schema
    )
    if not any(src.endswith(".*") for src, _ in first.columns):
        return first
    services = [service] if service else _services(catalog)
    schema: dict[str, list[str]] = {}
    for table in dict.fromkeys([f.source for f in first.flows] + first.sources):
        columns = _columns(catalog, services, table)
        if columns:
            schema[table] = columns
    if not schema:
        return first
    return analyze(
        sql,
        dialect=dialect,
        default_database=default_database,
        default_schema=default_schema,
        schema=schema,
    )


def _services(catalog: Catalog) -> list[str]:
    """Every service's FQN, page by page (up to MAX_SERVICES)."""
    out: list[str] = []
    after: str | None = None
    while len(out) < MAX_SERVICES:
        page = catalog.list_page("service", limit=500, after=after)
        out += [a.fqn for a in page.items]
        if page.after is None:
            break
        after = page.after
    return out[:MAX_SERVICES]


def _columns(catalog: Catalog, services: list[str], table: str) -> list[str] | None:
    try:
        parts = fqn.split(table)
    except fqn.FQNError:
        return None
    if len(parts) != 3:
        return None
    for service in services:
        try:
            asset = catalog.get("table", Key(fqn=fqn.join([service, *parts])))
        except (CatalogError, fqn.FQNError):
            continue
        columns = asset.doc.get("columns") or []
        names = [c["name"] for c in columns if isinstance(c, dict) and c.get("name")]
        if names:
            return names
    return None
