"""Read latency: GET /api/v1/tables/name/{fqn} at N concurrent clients for a fixed time.

For each backend: start a server (uvicorn subprocess, one worker unless --workers), seed
--tables generated tables (30 columns each, ~5 KB of JSON per response), warm up, then run
--clients closed-loop clients (each sends its next request when the previous one answered; the
table is drawn at random) for --duration seconds, with the admin token.

Printed per backend: requests/s, client-side latency p50/p90/p99/max (what a caller sees,
including the time the request waits for the CPU), the server-side latency of the same route
from the server's own Prometheus histogram (/metrics, bucket-interpolated), and the CPU used
by the server, the load generator and the PostgreSQL backends.

The load generator is Python (httpx) and shares the machine's 2 cores with the server, so at
16 clients it takes a large share of the CPU; the CPU columns show how much.

    .venv/bin/python bench/read_latency.py                       # both backends, 16 clients, 10 s
    .venv/bin/python bench/read_latency.py --backend sqlite --clients 1 --duration 5
    .venv/bin/python bench/read_latency.py --backend sqlite --py-spy
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S

ROUTE = "/api/v1/tables/name/{fqn:path}"
TARGET_P99_MS = 20.0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(round(q / 100 * (len(sorted_values) - 1)), len(sorted_values) - 1)
    return sorted_values[k]


# -- load generators -----------------------------------------------------------------------
def run_threads(server: S.Server, fqns: list[str], clients: int, duration: float) -> Any:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = threading.Event()
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        rng = random.Random(i)
        with server.client() as c:
            start.wait()
            mine = latencies[i]
            while not stop.is_set():
                fqn = fqns[rng.randrange(len(fqns))]
                t0 = time.perf_counter()
                r = c.get(f"/api/v1/tables/name/{fqn}")
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for lst in latencies for x in lst], sum(errors), wall


def run_async(server: S.Server, fqns: list[str], clients: int, duration: float) -> Any:
    async def main() -> tuple[list[float], int, float]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(
            base_url=server.url, headers=server.headers, timeout=60.0, limits=limits
        ) as c:
            deadline = time.perf_counter() + duration

            async def client(i: int) -> None:
                nonlocal errors
                rng = random.Random(i)
                while time.perf_counter() < deadline:
                    fqn = fqns[rng.randrange(len(fqns))]
                    t0 = time.perf_counter()
                    r = await c.get(f"/api/v1/tables/name/{fqn}")
                    latencies.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        errors += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(client(i) for i in range(clients)))
            wall = time.perf_counter() - t0
        return latencies, errors, wall

    return asyncio.run(main())


# -- the server's own view -----------------------------------------------------------------
def route_histogram(server: S.Server) -> dict[float, float]:
    """Cumulative bucket counts (le -> count) of the route's latency histogram."""
    text = httpx.get(f"{server.url}/metrics", headers=server.headers, timeout=10).text
    out: dict[float, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name != "lodestar_http_request_duration_seconds":
            continue
        for s in fam.samples:
            if (
                s.name.endswith("_bucket")
                and s.labels.get("route") == ROUTE
                and s.labels.get("method") == "GET"
            ):
                out[float(s.labels["le"])] = s.value
    return out


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Like PromQL histogram_quantile over the difference of two scrapes, in seconds."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, counts, strict=True):
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-12)
        prev_le, prev_c = le, c
    return les[-1]


# -- one backend -----------------------------------------------------------------------------
def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    gc_stats = args.workers == 1
    with S.running_server(
        backend,
        workers=args.workers,
        gc_stats=gc_stats,
        gc_threshold=args.server_gc_threshold,
    ) as server:
        fqns = S.seed_tables(server, args.tables)
        gen = run_threads if args.mode == "threads" else run_async
        gen(server, fqns, args.clients, args.warmup)  # warm caches, pools, token cache
        if args.wait_quiet:
            S.wait_quiet(args.wait_quiet)
        hist0 = route_histogram(server) if args.workers == 1 else {}
        gc0 = sum(server.gc_stats()["seconds"]) if gc_stats else float("nan")
        meter = S.Meter(server.worker_pids(), server.database_url)
        if args.py_spy:
            prefix = Path(tempfile.gettempdir()) / f"lodestar_read_{backend}"
            with S.py_spy(server.worker_pids(), prefix, gil=True) as spy_paths, meter:
                lat, errors, wall = gen(server, fqns, args.clients, args.duration)
        else:
            with meter:
                lat, errors, wall = gen(server, fqns, args.clients, args.duration)
        hist1 = route_histogram(server) if args.workers == 1 else {}
        gc_s = sum(server.gc_stats()["seconds"]) - gc0 if gc_stats else float("nan")
        if args.py_spy:
            print(f"\n--- py-spy --gil: server during the read run ({backend}) ---")
            print(S.summarize_collapsed(spy_paths, top=args.top))
    lat.sort()
    n = len(lat)
    ms = [x * 1000 for x in lat]
    srv = {
        q: histogram_quantile(hist0, hist1, q / 100) * 1000 if hist1 else float("nan")
        for q in (50, 90, 99)
    }
    return {
        "backend": backend,
        "requests": n,
        "errors": errors,
        "rps": n / wall,
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": ms[-1] if ms else float("nan"),
        "srv": srv,
        "server_cpu": meter.server,
        "gc_s": gc_s,
        "client_cpu": meter.own,
        "pg_cpu": meter.pg,
        "others": meter.cores(meter.others),
        "wall": meter.wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tables", type=int, default=1000, help="tables to seed (default 1000)")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up (default 2)")
    ap.add_argument(
        "--mode", choices=["threads", "async"], default="async",
        help="load generator: one asyncio loop with httpx.AsyncClient (default), or a thread "
        "with its own httpx.Client per client",
    )  # fmt: skip
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--py-spy", action="store_true", help="profile the server with py-spy")
    ap.add_argument(
        "--server-gc-threshold", type=int, default=None, metavar="N",
        help="what-if: gc.set_threshold(N, 50, 50) in the server",
    )  # fmt: skip
    ap.add_argument("--top", type=int, default=15, help="rows per profile listing")
    ap.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="S",
        help="before the run wait up to S seconds for the machine to be idle (shared box)",
    )  # fmt: skip
    args = ap.parse_args()

    print(f"machine: {S.machine()}; {S.load_note()}")
    print(
        f"read latency: GET {ROUTE} over {args.tables} tables, {args.clients} clients "
        f"({args.mode}), {args.duration:g} s after {args.warmup:g} s warm-up, "
        f"{args.workers} server worker(s)"
    )
    results = [bench_backend(b, args) for b in S.backends(args.backend)]
    print()
    S.print_table(
        ["backend", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
         "server p50", "server p90", "server p99"],
        [[r["backend"], r["requests"], r["errors"], r["rps"], r["p50"], r["p90"], r["p99"],
          r["max"], r["srv"][50], r["srv"][90], r["srv"][99]] for r in results],
    )  # fmt: skip
    print()
    S.print_table(
        ["backend", "server CPU (cores)", "of it GC", "load gen CPU (cores)", "PG CPU (cores)",
         "others (cores)", "server CPU ms/req"],
        [[r["backend"], r["server_cpu"] / r["wall"],
          "-" if r["gc_s"] != r["gc_s"] else f"{100 * r['gc_s'] / max(r['server_cpu'], 1e-9):.0f}%",
          r["client_cpu"] / r["wall"],
          r["pg_cpu"] / r["wall"], r["others"],
          1000 * (r["server_cpu"] + r["pg_cpu"]) / max(r["requests"], 1)] for r in results],
    )  # fmt: skip
    print(
        "\nclient latency = measured by the load generator (includes waiting for a CPU); server"
        " = the server's\nown histogram for the route (time inside the ASGI app), interpolated"
        f" within its buckets. {S.load_note()}\n"
    )
    for r in results:
        ok = r["p99"] < TARGET_P99_MS
        print(
            f"target {r['backend']}: p99 {r['p99']:.1f} ms at {args.clients} clients "
            f"({'meets' if ok else 'MISSES'} < {TARGET_P99_MS:g} ms)"
        )


if __name__ == "__main__":
    main()
