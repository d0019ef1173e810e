"""Search latency and index build rate on large generated catalogs (tables with columns).

For each backend and size: a fresh database is loaded with N tables (10 typed, described
columns each, owners, tier and PII tags, a domain; the words of bench/search_catalog.py's
seven business domains) through `Catalog.bulk_upsert`, the search writer indexing them in the
same transactions (the "ingest" rate), then the search index alone is rebuilt from the stored
assets (`derived.rebuild`, the "rebuild" rate). Then each query class runs `--repeat` times
per query through `SearchService` in this process (facets are part of every search answer):
p50 and p95 per class.

    .venv/bin/python bench/search_latency.py --backend sqlite --assets 100000
    .venv/bin/python bench/search_latency.py --backend both --assets 100000 --repeat 10
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S
import search_catalog as C
from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, WriteContext, derived
from lodestar.search import SearchService, make_query
from lodestar.store import Store, open_store

PREFIXES = ["raw", "stg", "int", "fct", "dim", "agg", "snap", "tmp", "rpt", "mart"]
SCHEMAS_PER_DOMAIN = 20
CHUNK = 1000

QUERIES: dict[str, list[tuple[str, dict[str, list[str]]]]] = {
    "single word": [(w, {}) for w in ("orders", "revenue", "payroll", "inventory", "tickets",
                                      "campaigns", "invoices", "experiments")],
    "phrase": [(w, {}) for w in ("monthly recurring revenue", "customer support tickets",
                                 "foreign exchange rates", "abandoned carts",
                                 "stock on hand per warehouse", "general ledger journal")],
    "prefix": [(w, {}) for w in ("ord", "cust", "inv", "payr", "camp", "subscr")],
    "typo": [(w, {}) for w in ("custmer", "revnue", "invetory", "emplyees", "oportunities",
                               "shipmnts")],
    "filtered": [
        ("orders", {"kind": ["table"], "domain": ["Sales"]}),
        ("revenue", {"tag": ["Tier.Tier1"]}),
        ("email", {"tag": ["PII.Sensitive"], "domain": ["Marketing"]}),
        ("payments", {"owner": ["alice"]}),
        ("rates", {"schema": ["warehouse.analytics.finance_3"]}),
    ],
}  # fmt: skip
SUGGEST = ["cu", "cust", "fct_or", "warehouse.analytics.sa", "inv", "dim_cust", "pay"]


def seed_lines() -> list[dict[str, Any]]:
    lines = [d for d in C._base() if d["kind"] not in ("schema",)]
    for schema in C.DOMAIN_SCHEMA.values():
        for k in range(SCHEMAS_PER_DOMAIN):
            lines.append({"kind": "schema", "name": f"{schema}_{k}",
                          "database": f"{C.WAREHOUSE}.analytics"})  # fmt: skip
    return lines


def tables(n: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(11)
    users = C.USERS + C.ANALYSTS
    for i in range(n):
        e = C.ENTITIES[i % len(C.ENTITIES)]
        schema = f"{C.DOMAIN_SCHEMA[e.domain]}_{(i // len(C.ENTITIES)) % SCHEMAS_PER_DOMAIN}"
        prefix = PREFIXES[(i // 7) % len(PREFIXES)]
        pool = list(dict.fromkeys([*e.columns, *e.metrics, C.CREATED, C.UPDATED]))
        pool = list({c[0]: c for c in pool}.values())
        cols = C._columns(tuple(pool[:10]), e.pii)
        body: dict[str, Any] = {
            "kind": "table",
            "name": f"{prefix}_{e.name}_{i:07d}",
            "schema": f"{C.WAREHOUSE}.analytics.{schema}",
            "description": f"{e.phrase} Copy {i % 97} for the {prefix} layer."
            if i % 4
            else "",
            "columns": cols,
            "tags": [f"Tier.Tier{1 + i % 3}"],
            "domain": e.domain.replace(" ", "_"),
            "custom_properties": {"popularity": rng.randint(0, 1000)},
        }
        if i % 5:
            body["owners"] = [{"kind": "user", "fqn": users[i % len(users)]}]
        yield body


def load(store: Store, n: int) -> float:
    """Bulk-upsert the seed and n tables; tables per second."""
    ctx = WriteContext.for_principal(Principal("bench", "admin"))
    catalog = Catalog(store)

    def write(chunk: list[dict[str, Any]]) -> None:
        lines = [BulkLine(d["kind"], {k: v for k, v in d.items() if k != "kind"}) for d in chunk]
        for o in catalog.bulk_upsert(lines, ctx):
            if o.error:
                raise SystemExit(f"refused: {o.error}")

    write(seed_lines())
    chunk: list[dict[str, Any]] = []
    start = time.perf_counter()
    done = 0
    for body in tables(n):
        chunk.append(body)
        if len(chunk) == CHUNK:
            write(chunk)
            done += len(chunk)
            chunk = []
            if done % 20_000 == 0:
                print(f"  loaded {done:,} tables", file=sys.stderr, flush=True)
    if chunk:
        write(chunk)
    return n / (time.perf_counter() - start)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm the caches once
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def measure(store: Store, repeat: int) -> list[list[Any]]:
    svc = SearchService(store)
    rows = []
    for name, queries in QUERIES.items():
        ms: list[float] = []
        totals = []
        for q, filters in queries:
            query = make_query(q, filters, limit=10)
            ms += timed(lambda query=query: svc.search(query), repeat)
            totals.append(svc.search(query).total)
        rows.append([name, len(queries), f"{pct(ms, 50):.1f}", f"{pct(ms, 95):.1f}",
                     f"{statistics.median(totals):,.0f}"])  # fmt: skip
    ms = []
    for q in SUGGEST:
        ms += timed(lambda q=q: svc.suggest(q), repeat)
    rows.append(["suggest", len(SUGGEST), f"{pct(ms, 50):.1f}", f"{pct(ms, 95):.1f}", "-"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--assets", type=int, default=100_000, help="Tables to generate.")
    ap.add_argument("--repeat", type=int, default=10, help="Runs of each query.")
    ap.add_argument("--no-rebuild", action="store_true", help="Skip the rebuild timing.")
    args = ap.parse_args()
    print(S.machine())
    for backend in S.backends(args.backend):
        with S.fresh_database(backend, "lodestar_search") as url:
            store = open_store(url)
            try:
                rate = load(store, args.assets)
                if store.engine.dialect.name == "postgresql":
                    with store.write() as conn:
                        conn.exec_driver_sql("ANALYZE")
                rebuild = "-"
                if not args.no_rebuild:
                    t = time.perf_counter()
                    fed = derived.rebuild(store, derived.find("search"))
                    rebuild = f"{fed / (time.perf_counter() - t):,.0f} assets/s"
                print(f"\n{backend}: {args.assets:,} tables x 10 columns; ingest with the index "
                      f"{rate:,.0f} tables/s; index rebuild {rebuild}")  # fmt: skip
                rows = measure(store, args.repeat)
            finally:
                store.dispose()
        S.print_table(["queries", "n", "p50 ms", "p95 ms", "median matches"], rows)


if __name__ == "__main__":
    main()
