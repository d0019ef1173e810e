"""Query logs as a source: lineage from the queries that write, and query statistics by
fingerprint (see source.py). `query_log` reads JSON Lines or CSV files; `pg_stat_statements`
reads PostgreSQL's view."""

from lodestar.ingest.connectors.query_log.source import (
    PgStatStatementsConfig,
    PgStatStatementsSource,
    QueryLogConfig,
    QueryLogSource,
)

__all__ = ["PgStatStatementsConfig", "PgStatStatementsSource", "QueryLogConfig", "QueryLogSource"]
