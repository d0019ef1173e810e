"""dbt: a project's artifacts (`manifest.json`, optionally `catalog.json` and `run_results.json`)
describe the tables it builds, in the FQNs the database connector gives the same tables
(`service.database.schema.relation`), so both connectors enrich one asset.

One unit per model, seed, snapshot or source, upstream first. Each carries what its table refers
to (service, database, schema, the `dbt` classification and its tags, owners as users) and then
the table: dbt descriptions, tags, `meta.owner`, column types from catalog.json, compiled SQL as
source code; dependencies as lineage; the latest dbt test results as `test_result` observations
on the tested table. Exposures of type dashboard become dashboards of an exposures service.
"""

from lodestar.ingest.connectors.dbt.source import DbtConfig, DbtSource

__all__ = ["DbtConfig", "DbtSource"]
