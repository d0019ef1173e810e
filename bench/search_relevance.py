"""Search relevance on the labelled set (bench/search_catalog.py): MRR and nDCG@10 per backend.

For each backend, a fresh database (SQLite file / new PostgreSQL database) is loaded with the
generated catalog through `Catalog.bulk_upsert` (the search writer indexes it in the same
transactions), then every labelled query runs through `SearchService`. A query scores
1/rank of its expected asset (0 beyond 10) for MRR and 1/log2(rank + 1) for nDCG@10 (one
relevant asset per query).

    .venv/bin/python bench/search_relevance.py                  # both backends
    .venv/bin/python bench/search_relevance.py --backend sqlite --misses
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S
import search_catalog as C
from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, WriteContext
from lodestar.search import SearchService, make_query
from lodestar.store import Store, open_store


@dataclass
class Scored:
    query: C.Query
    rank: int | None  # 1-based; None: not in the top 10
    top: list[str]


def load(store: Store) -> int:
    ctx = WriteContext.for_principal(Principal("bench", "admin"))
    catalog = Catalog(store)
    lines = C.catalog()
    for i in range(0, len(lines), 500):
        chunk = [BulkLine(d["kind"], {k: v for k, v in d.items() if k != "kind"})
                 for d in lines[i : i + 500]]  # fmt: skip
        for o in catalog.bulk_upsert(chunk, ctx):
            if o.error:
                raise SystemExit(f"generated catalog refused: {o.error}")
    return len(lines)


def evaluate(store: Store) -> list[Scored]:
    svc = SearchService(store)
    out = []
    for q in C.QUERIES:
        hits = svc.search(make_query(q.q, q.filters, limit=10)).hits
        top = [h.asset.fqn for h in hits]
        found = [(h.asset.fqn, h.asset.kind) for h in hits]
        rank = next((i + 1 for i, x in enumerate(found) if x == (q.expected, q.kind)), None)
        out.append(Scored(q, rank, top))
    return out


def mrr(scored: list[Scored]) -> float:
    return sum(1 / s.rank for s in scored if s.rank) / len(scored)


def ndcg10(scored: list[Scored]) -> float:
    return sum(1 / math.log2(s.rank + 1) for s in scored if s.rank) / len(scored)


def run(backend: str) -> tuple[int, list[Scored]]:
    with S.fresh_database(backend, "lodestar_rel") as url:
        store = open_store(url)
        try:
            n = load(store)
            return n, evaluate(store)
        finally:
            store.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--misses", action="store_true", help="List the queries not ranked first.")
    args = ap.parse_args()
    rows = []
    for backend in S.backends(args.backend):
        n, scored = run(backend)
        first = sum(1 for s in scored if s.rank == 1)
        rows.append([backend, n, len(scored), first, f"{mrr(scored):.3f}", f"{ndcg10(scored):.3f}"])
        if args.misses:
            for s in scored:
                if s.rank != 1:
                    print(f"{backend}: {s.query.q!r} {s.query.filters or ''} -> rank {s.rank}; "
                          f"expected {s.query.expected}; got {s.top[:3]}")  # fmt: skip
    S.print_table(["backend", "assets", "queries", "ranked first", "MRR", "nDCG@10"], rows)


if __name__ == "__main__":
    main()
