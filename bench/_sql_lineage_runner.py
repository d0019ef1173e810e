"""One SQL lineage tool over the generated queries; a JSON document on stdout.

Run by bench/sql_lineage.py as a subprocess: with the project's python for `lodestar` and
`sqlglot` (the floor: parsing alone), with the peer venv's python for `datahub`,
`sqllineage` and `openlineage`. Only the analysis calls are timed (imports and set-up are
not); each repeat runs every query once; wall and CPU seconds of each repeat are reported.

    .venv/bin/python bench/_sql_lineage_runner.py --tool lodestar --queries q.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"

Answer = dict[str, list[Any]]
DIALECT = "postgres"


def _lodestar(schema: dict[str, list[str]]) -> Callable[[str], Answer]:
    from lodestar.lineage.sql import analyze

    def run(sql: str) -> Answer:
        r = analyze(sql, dialect=DIALECT, schema=schema)
        return {
            "sources": r.sources,
            "targets": r.targets,
            "pairs": [[f.source, s, f.target, t] for f in r.flows for s, t in f.columns],
        }

    return run


def _sqlglot(_: dict[str, list[str]]) -> Callable[[str], Answer]:
    import sqlglot

    def run(sql: str) -> Answer:
        sqlglot.parse(sql, read=DIALECT)
        return {"sources": [], "targets": [], "pairs": []}

    return run


def _datahub(schema: dict[str, list[str]]) -> Callable[[str], Answer]:
    import datahub.upgrade.upgrade as upgrade

    upgrade.check_upgrade_post = lambda *a, **k: None  # type: ignore[assignment]
    from datahub.sql_parsing import sqlglot_lineage as dh
    from datahub.sql_parsing.schema_resolver import SchemaResolver

    resolver = SchemaResolver(platform="postgres", env="PROD")
    for table, columns in schema.items():
        urn = f"urn:li:dataset:(urn:li:dataPlatform:postgres,{table},PROD)"
        resolver.add_raw_schema_info(urn, {c: "int" for c in columns})

    def name(urn: str | None) -> str:
        parts = (urn or "").split(",")
        return parts[1] if len(parts) > 2 else ""

    def run(sql: str) -> Answer:
        r = dh.sqlglot_lineage(sql, schema_resolver=resolver)
        # A SELECT's columns have no downstream table: they feed no table.
        pairs = [
            [name(u.table), u.column, name(c.downstream.table), c.downstream.column]
            for c in r.column_lineage or []
            if name(c.downstream.table)
            for u in c.upstreams
        ]
        return {
            "sources": [name(u) for u in r.in_tables],
            "targets": [name(u) for u in r.out_tables],
            "pairs": pairs,
        }

    run.clear = dh._sqlglot_lineage_cached.cache_clear  # type: ignore[attr-defined]
    return run


def _sqllineage(schema: dict[str, list[str]]) -> Callable[[str], Answer]:
    from sqllineage.core.metadata.dummy import DummyMetaDataProvider
    from sqllineage.runner import LineageRunner

    provider = DummyMetaDataProvider(schema)

    def run(sql: str) -> Answer:
        r = LineageRunner(sql, dialect="postgres", metadata_provider=provider, silent_mode=True)
        pairs = []
        for path in r.get_column_lineage():
            src, tgt = path[0], path[-1]
            pairs.append([str(src.parent), src.raw_name, str(tgt.parent), tgt.raw_name])
        return {
            "sources": [str(t) for t in r.source_tables],
            "targets": [str(t) for t in r.target_tables],
            "pairs": pairs,
        }

    return run


def _openlineage(_: dict[str, list[str]]) -> Callable[[str], Answer]:
    import openlineage_sql

    def run(sql: str) -> Answer:
        r = openlineage_sql.parse([sql], dialect="postgres")
        if r is None:
            return {"sources": [], "targets": [], "pairs": []}
        target = r.out_tables[0].qualified_name if r.out_tables else ""
        pairs = [
            [
                u.origin.qualified_name if u.origin else "",
                u.name,
                c.descendant.origin.qualified_name if c.descendant.origin else target,
                c.descendant.name,
            ]
            for c in r.column_lineage
            for u in c.lineage
        ]
        return {
            "sources": [t.qualified_name for t in r.in_tables],
            "targets": [t.qualified_name for t in r.out_tables],
            "pairs": pairs,
        }

    return run


TOOLS = {
    "lodestar": _lodestar,
    "sqlglot": _sqlglot,
    "datahub": _datahub,
    "sqllineage": _sqllineage,
    "openlineage": _openlineage,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", choices=sorted(TOOLS), required=True)
    ap.add_argument("--queries", required=True, help="JSON written by bench/sql_lineage.py")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with open(args.queries) as f:
        doc = json.load(f)
    run = TOOLS[args.tool](doc["schema"])
    queries = [q["sql"] for q in doc["queries"]]
    seconds: list[float] = []
    cpu: list[float] = []
    answers: list[Answer | None] = []
    failures = 0
    for _ in range(args.repeat):
        clear = getattr(run, "clear", None)
        if clear is not None:
            clear()
        answers, failures = [], 0
        start, start_cpu = time.perf_counter(), time.process_time()
        for sql in queries:
            try:
                answers.append(run(sql))
            except Exception:  # a peer that raises on a query scores it wrong
                answers.append(None)
                failures += 1
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    doc = {
        "tool": args.tool,
        "seconds": seconds,
        "cpu": cpu,
        "answers": answers,
        "failures": failures,
    }
    json.dump(doc, sys.stdout)


if __name__ == "__main__":
    main()
