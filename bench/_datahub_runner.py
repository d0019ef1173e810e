"""Run DataHub's postgres ingestion once, through its Python API; a JSON line on stdout.

Executed by bench/ingest_postgres.py with the peer venv's python (acryl-datahub is never a
dependency of this project). DataHub calls home: telemetry is switched off through
DATAHUB_TELEMETRY_ENABLED=false (set here too, before datahub is imported), and the version
checks (the CLI's `check_upgrade_post` and the pipeline's `_warn_old_cli_version`, which both
fetch version stats over the network) are replaced by no-ops, so the timing contains no
network wait.

    /work/datahub-venv/bin/python bench/_datahub_runner.py --sink file --out /tmp/x \
        --database lodestar_bench_1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"


def _quiet_upgrade_checks() -> None:
    import datahub.upgrade.upgrade as upgrade

    def _no_check(*_args: Any, **_kwargs: Any) -> None:
        return None

    upgrade.check_upgrade_post = _no_check  # type: ignore[assignment]
    upgrade.retrieve_version_stats = _no_check  # type: ignore[assignment]
    import datahub.ingestion.run.pipeline as pipeline_mod

    pipeline_mod.retrieve_version_stats = _no_check  # type: ignore[attr-defined]
    pipeline_mod.Pipeline._warn_old_cli_version = lambda self: None  # type: ignore[method-assign]


def recipe(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    if args.sink == "file":
        sink: dict[str, Any] = {"type": "file", "config": {"filename": str(out / "mces.json")}}
    elif args.sink == "datahub-lite":
        sink = {
            "type": "datahub-lite",
            "config": {"type": "duckdb", "config": {"file": str(out / "lite.duckdb")}},
        }
    else:
        raise SystemExit(f"unknown sink {args.sink!r}: file or datahub-lite")
    return {
        "run_id": f"bench-{args.sink}-{int(time.time())}",
        "source": {
            "type": "postgres",
            "config": {
                "host_port": args.host_port,
                "database": args.database,
                "username": args.username,
                "include_views": True,
                "include_tables": True,
                "profiling": {"enabled": False},
                **(
                    {"include_view_lineage": False, "include_view_column_lineage": False}
                    if args.no_view_lineage
                    else {}
                ),
            },
        },
        "sink": sink,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sink", required=True, choices=["file", "datahub-lite"])
    p.add_argument("--out", required=True, help="directory for the sink's file")
    p.add_argument("--host-port", default="127.0.0.1:5432")
    p.add_argument("--database", required=True)
    p.add_argument("--username", default="postgres")
    p.add_argument("--no-view-lineage", action="store_true", help="skip parsing view SQL")
    args = p.parse_args()

    t_import = time.perf_counter()
    _quiet_upgrade_checks()
    import datahub
    from datahub.ingestion.run.pipeline import Pipeline

    t0 = time.perf_counter()
    pipeline = Pipeline.create(recipe(args))
    pipeline.run()
    in_run = time.perf_counter() - t0
    ok = True
    error = None
    try:
        pipeline.raise_from_status()
    except Exception as e:  # reported, and the exit code says it failed
        ok, error = False, f"{type(e).__name__}: {e}"[:2000]
    src = pipeline.source.get_report()
    sink = pipeline.sink.get_report()
    out_bytes = sum(f.stat().st_size for f in Path(args.out).glob("*") if f.is_file())
    print(
        json.dumps(
            {
                "ok": ok,
                "error": error,
                "version": datahub.__version__,
                "import_s": t0 - t_import,
                "in_run": in_run,
                "tables_scanned": getattr(src, "tables_scanned", None),
                "views_scanned": getattr(src, "views_scanned", None),
                "workunits": getattr(src, "events_produced", None),
                "records_written": getattr(sink, "total_records_written", None),
                "source_warnings": len(getattr(src, "warnings", []) or []),
                "source_failures": len(getattr(src, "failures", []) or []),
                "out_bytes": out_bytes,
            }
        )
    )
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
