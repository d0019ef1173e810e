"""PostgreSQL: the bulk write path's look-ups by key on a catalog without statistics.

For each catalog size, a fresh database gets that many `table` assets (a 1 KB document each)
written straight to the table, so nothing analyzed it, as on a freshly restored server or one
with autovacuum off. Then, in one transaction each:

- `preload (old)`: the IN-list query the bulk preload sent before (500 FQNs, FOR UPDATE);
- `preload`: `store.assets.get_many_by_fqn(..., for_update=True)` as it is now;
- `ids (old)`, `ids`: `store.assets.ids_by_fqn` of 500 (kind, FQN) pairs, as it was (a join
  against unnest()) and as it is;

each run `--calls` times on one connection (psycopg prepares a statement from its 6th run,
so later calls use PostgreSQL's generic plan), and again after ANALYZE. It prints the median
milliseconds per call (500 keys) and how long the ANALYZE took.

    .venv/bin/python bench/pg_lookups.py --assets 10000 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import create_pg_database, drop_pg_database, print_table
from lodestar.model.ids import new_id
from lodestar.store import assets as q
from lodestar.store import open_store
from lodestar.store.stats import _analyze_sql
from lodestar.store.tables import assets

DOC = '{"description": "' + "x" * 1000 + '"}'


def old_preload(conn: Connection, kind: str, fqns: list[str]) -> int:
    """The bulk preload as it was: an IN list of 500 parameters, locked in FQN order."""
    cols = [c for c in assets.c]
    ordered = sorted(set(fqns))
    q_ = (
        sa.select(*cols)
        .where(assets.c.kind == kind, assets.c.fqn.in_(ordered))
        .order_by(assets.c.fqn)
        .with_for_update()
    )
    return len(conn.execute(q_).all())


_OLD_IDS = """
SELECT a.kind, a.fqn, a.id, a.deleted
FROM unnest(%s::text[], %s::text[]) AS p(kind, fqn)
JOIN assets AS a ON a.kind = p.kind AND a.fqn = p.fqn
"""


def old_ids(conn: Connection, pairs: list[tuple[str, str]]) -> int:
    """ids_by_fqn as it was: a plain join against unnest()."""
    kinds, fqns = [k for k, _ in pairs], [f for _, f in pairs]
    return len(conn.exec_driver_sql(_OLD_IDS, (kinds, fqns)).all())


def timed(conn: Connection, call: Callable[[], object], calls: int) -> float:
    took = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


def measure(n: int, calls: int) -> list[list[object]]:
    name, url = create_pg_database("lodestar_bench_lookups")
    try:
        store = open_store(url)
        store.statistics = None  # write the catalog without analyzing it
        fqns = [f"wh.db.s{i % 10}.t{i:07d}" for i in range(n)]
        for i in range(0, n, 10_000):
            rows = [
                (new_id(), "table", f, f, None, 1, DOC, "{}", False, 1, 1, "x")
                for f in fqns[i : i + 10_000]
            ]
            with store.write() as conn:
                q.insert_assets(conn, rows)
        wanted = random.Random(n).sample(fqns, 500)
        pairs = [("table", f) for f in wanted]
        rows_out: list[list[object]] = []
        for stats in ("none", "analyzed"):
            if stats == "analyzed":
                start = time.perf_counter()
                with store.engine.connect() as conn:
                    conn.exec_driver_sql(_analyze_sql("assets"))  # as the write path runs it
                    conn.commit()
                took = time.perf_counter() - start
            with store.engine.connect() as conn, conn.begin():
                old = timed(conn, lambda c=conn: old_preload(c, "table", wanted), calls)
                new = timed(
                    conn,
                    lambda c=conn: q.get_many_by_fqn(c, "table", wanted, for_update=True),
                    calls,
                )
                ids_old = timed(conn, lambda c=conn: old_ids(c, pairs), calls)
                ids = timed(conn, lambda c=conn: q.ids_by_fqn(c, pairs), calls)
            note = f"ANALYZE {took * 1000:.0f} ms" if stats == "analyzed" else ""
            figures = [f"{v:.1f}" for v in (old, new, ids_old, ids)]
            rows_out.append([f"{n:,}", stats, *figures, note])
        store.dispose()
        return rows_out
    finally:
        drop_pg_database(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--calls", type=int, default=12)
    args = ap.parse_args()
    rows: list[list[object]] = []
    for n in args.assets:
        rows += measure(n, args.calls)
    print("median ms per call of 500 keys (one connection; calls 6+ use the generic plan)")
    headers = ["assets", "statistics", "preload (old)", "preload", "ids (old)", "ids", ""]
    print_table(headers, rows)


if __name__ == "__main__":
    main()
