"""Lineage traversal on a large synthetic graph (issue 11): 100,000 assets and 1,000,000 column
edges, on SQLite and on PostgreSQL; downstream walks from a hub at depth 3, 5 and 10, p50/p95.

The graph is written straight into the real tables with bulk SQL (`executemany` in one
transaction on SQLite, COPY on PostgreSQL), not through the API: the write path is measured by
`bulk_ingest.py`; this measures the read. It is what the write path would have stored: one
`table` asset per node (with its `columns` identity rows), one asserted `lineage` edge row per
table-level edge with its column pairs in `props.columns`, and the derived `lineage_columns`
rows that the `lineage_columns` writer keeps.

Shape: `--assets` tables in `--layers` layers; every table past the first layer has `--fan-in`
upstream tables in the layer before (random), and every edge carries `--pairs` column pairs, so
edges x pairs = column edges (with the defaults: 100,000 tables, 180,050 table
edges, 1,080,300 column edges). The hub is a first-layer table given `--hub-fanout` extra
downstream tables.

Each walk goes through the real API code path in-process: `create_app(settings)` served by
Starlette's TestClient (ASGI, no socket): routing, token check, the lineage service, JSON.
"First page" is one request with the default limit (500 nodes); "all" follows the cursor with
`limit=10000` until the walk is exhausted (several requests when more than 10,000 nodes).
Also the column impact of one hub column (`/lineage/impact/...?column=`). Besides wall time
it prints the CPU time of this process per walk (the client, the app and, on SQLite, the
database), which a loaded machine inflates less than wall time.

Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import fresh_database
from lodestar.model.ids import column_id, new_id
from lodestar.store import open_store

SCHEMA = "bench.db.lin"


def build(url: str, args: argparse.Namespace) -> tuple[str, int, int]:
    """Load the graph; returns (hub FQN, table edges, column edges)."""
    rng = random.Random(11)
    store = open_store(url)
    n, layers = args.assets, args.layers
    per = n // layers
    ids = sorted(new_id() for _ in range(n))
    rng.shuffle(ids)
    cols = [f"c{i}" for i in range(args.pairs)]
    now = int(time.time() * 1e6)
    parents = [
        ("service", "bench", "bench"),
        ("database", "bench.db", "db"),
        ("schema", SCHEMA, "lin"),
    ]
    parent_ids = {fqn: new_id() for _, fqn, _ in parents}
    docs = {
        "service": {"name": "bench", "category": "database", "service_type": "postgres"},
        "database": {"name": "db", "service": "bench"},
        "schema": {"name": "lin", "database": "bench.db"},
    }
    asset_rows: list[tuple[Any, ...]] = []
    for kind, fqn, name in parents:
        pid = {"bench.db": parent_ids["bench"], SCHEMA: parent_ids["bench.db"]}.get(fqn)
        asset_rows.append((parent_ids[fqn], kind, fqn, name, pid, json.dumps(docs[kind])))
    schema_id = parent_ids[SCHEMA]
    for i, aid in enumerate(ids):
        name = f"t{i:06d}"
        doc = {
            "name": name,
            "schema": SCHEMA,
            "columns": [{"name": c, "data_type": "int"} for c in cols],
            "owners": [{"kind": "user", "fqn": f"owner{i % 50}"}],
        }
        asset_rows.append((aid, "table", f"{SCHEMA}.{name}", name, schema_id, json.dumps(doc)))
    column_rows = [(aid, c, column_id(aid, c)) for aid in ids for c in cols]
    edges: set[tuple[str, str]] = set()
    for layer in range(1, layers):
        ups = ids[(layer - 1) * per : layer * per]
        for aid in ids[layer * per : (layer + 1) * per]:
            for up in rng.sample(ups, args.fan_in):
                edges.add((up, aid))
    hub = ids[0]
    for down in rng.sample(ids[per : 2 * per], args.hub_fanout):
        edges.add((hub, down))
    props = json.dumps({"columns": [[c, c] for c in cols], "pipeline": "bench.etl"})
    edge_rows = [
        (f, "lineage", t, "pipeline:bench.etl", "ingestion:bench", props, now, now)
        for f, t in sorted(edges)
    ]
    pair_rows = [
        (f, c, t, c, "pipeline:bench.etl", "ingestion:bench")
        for f, t in sorted(edges)
        for c in cols
    ]
    t0 = time.perf_counter()
    _load(store, asset_rows, column_rows, edge_rows, pair_rows, now)
    print(
        f"  loaded {len(asset_rows):,} assets, {len(column_rows):,} columns, "
        f"{len(edge_rows):,} table edges, {len(pair_rows):,} column edges "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    store.dispose()
    return f"{SCHEMA}.t000000", len(edge_rows), len(pair_rows)


ASSET_COLS = (
    "id, kind, fqn, name, parent_id, version, doc, provenance, deleted, created_at, "
    "updated_at, updated_by"
)


def _load(
    store: Any,
    assets: list[tuple[Any, ...]],
    columns: list[tuple[Any, ...]],
    edges: list[tuple[Any, ...]],
    pairs: list[tuple[Any, ...]],
    now: int,
) -> None:
    full_assets = [(*a[:5], 1, a[5], "{}", False, now, now, "bench") for a in assets]
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                for table, cols, rows in (
                    ("assets", ASSET_COLS, full_assets),
                    ("columns", "asset_id, name, id", columns),
                    (
                        "edges",
                        "from_id, relation, to_id, via, source, props, created_at, last_seen",
                        edges,
                    ),
                    (
                        "lineage_columns",
                        "from_id, from_column, to_id, to_column, via, source",
                        pairs,
                    ),
                ):
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        else:
            for table, cols, rows in (
                ("assets", ASSET_COLS, full_assets),
                ("columns", "asset_id, name, id", columns),
                (
                    "edges",
                    "from_id, relation, to_id, via, source, props, created_at, last_seen",
                    edges,
                ),
                ("lineage_columns", "from_id, from_column, to_id, to_column, via, source", pairs),
            ):
                marks = ", ".join("?" * len(rows[0]))
                conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            # What autovacuum does on a live server: statistics, and the visibility map that
            # lets the edge hops be index-only scans.
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def measure(url: str, hub: str, args: argparse.Namespace) -> list[list[Any]]:
    from starlette.testclient import TestClient

    from lodestar.api.app import create_app
    from lodestar.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="lodestar_bench_lineage_"))
    rows: list[list[Any]] = []
    try:
        app = create_app(Settings(data_dir=data_dir, database_url=url, scheduler=False))
        with TestClient(app) as client:
            token = (data_dir / "admin.token").read_text().strip()
            client.headers["Authorization"] = f"Bearer {token}"
            path = f"/api/v1/lineage/tables/name/{hub}"

            def walk(depth: int, limit: int | None, columns: bool) -> tuple[int, int, int]:
                params: dict[str, Any] = {"direction": "downstream", "depth": depth}
                if limit:
                    params["limit"] = limit
                if columns:
                    params["columns"] = "true"
                nodes = edges = requests = 0
                while True:
                    resp = client.get(path, params=params)
                    assert resp.status_code == 200, resp.text
                    body = resp.json()
                    nodes += len(body["nodes"])
                    edges += len(body["edges"])
                    requests += 1
                    after = body["paging"]["after"]
                    if after is None or limit is None:
                        return nodes, edges, requests
                    params["after"] = after

            for depth in args.depths:
                for label, limit, columns in (
                    ("first page (limit 500)", None, False),
                    ("all (limit 10000/page)", 10_000, False),
                    ("all, columns=true", 10_000, True),
                ):
                    times: list[float] = []
                    cpu: list[float] = []
                    shape = (0, 0, 0)
                    for _ in range(args.repeat):
                        t0, c0 = time.perf_counter(), time.process_time()
                        shape = walk(depth, limit, columns)
                        times.append((time.perf_counter() - t0) * 1000)
                        cpu.append((time.process_time() - c0) * 1000)
                    rows.append(
                        [
                            f"depth {depth}, {label}",
                            f"{shape[0]:,} nodes, {shape[1]:,} edges, {shape[2]} req",
                            f"{statistics.median(times):.1f}",
                            f"{pct(times, 95):.1f}",
                            f"{statistics.median(cpu):.1f}",
                        ]
                    )
                    print("   ", " | ".join(rows[-1]), flush=True)
            impact = f"/api/v1/lineage/impact/tables/name/{hub}"
            for depth in (3, 5):
                times, cpu = [], []
                count = 0
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    resp = client.get(impact, params={"column": "c0", "depth": depth})
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                    assert resp.status_code == 200, resp.text
                    count = len(resp.json()["nodes"])
                rows.append(
                    [
                        f"column impact c0, depth {depth} (first page)",
                        f"{count:,} assets",
                        f"{statistics.median(times):.1f}",
                        f"{pct(times, 95):.1f}",
                        f"{statistics.median(cpu):.1f}",
                    ]
                )
                print("   ", " | ".join(rows[-1]), flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--fan-in", type=int, default=2, help="upstream tables per table")
    ap.add_argument("--pairs", type=int, default=6, help="column pairs per table edge")
    ap.add_argument("--hub-fanout", type=int, default=50)
    ap.add_argument("--depths", type=int, nargs="+", default=[3, 5, 10])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(f"{backend}:", flush=True)
        with fresh_database(backend, "lodestar_bench_lineage") as url:
            open_store(url).dispose()  # migrate
            hub, _edges, _pairs = build(url, args)
            rows = measure(url, hub, args)
        print(f"\n{backend}: walk | answer | p50 ms | p95 ms | p50 CPU ms (this process)")
        for r in rows:
            print(" | ".join(r))


if __name__ == "__main__":
    main()
