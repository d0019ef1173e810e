"""The five checks of bench/quality.py in Great Expectations, as one process; run by
bench/quality.py with the peers' python (great-expectations is never a dependency of this
project). Analytics are off (GX_ANALYTICS_ENABLED=false, set here too, before the import)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

os.environ["GX_ANALYTICS_ENABLED"] = "false"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    args = ap.parse_args()
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_postgres(name="pg", connection_string=args.url)
    asset = source.add_table_asset(name="orders", table_name="orders", schema_name="public")
    batch = asset.add_batch_definition_whole_table("all")
    suite = context.suites.add(gx.ExpectationSuite(name="five"))
    since = datetime.now(UTC) - timedelta(days=1)
    for e in (
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=10000),
        gxe.ExpectColumnMaxToBeBetween(column="placed_at", min_value=since),
    ):
        suite.add_expectation(e)
    run = context.validation_definitions.add(
        gx.ValidationDefinition(data=batch, suite=suite, name="five")
    )
    result = run.run()
    print(json.dumps({"success": result.success, "checks": len(result.results)}))
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
