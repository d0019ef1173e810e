"""Server memory: RSS of the server process idle and after a burst of reads.

For each backend: start a server as users do (`lodestar serve`, one worker) on a fresh
database, read VmRSS from /proc/<pid>/status right after start-up; load the demo catalog
(`lodestar.demo.sample.sample_assets()`) plus --tables generated tables (30 columns each) so the
catalog holds a few hundred assets; wait --wait seconds and read the idle RSS; then send a
burst of reads (GET by FQN of random tables, list pages of every kind, versions, events) from
--clients threads, wait again and read RSS and the peak (VmHWM).

    .venv/bin/python bench/idle_rss.py
    .venv/bin/python bench/idle_rss.py --backend sqlite --tables 500 --burst 5000
    .venv/bin/python bench/idle_rss.py --tables 100000        # a catalog of 100k tables
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S

TARGET_MB = 150.0
GENERATED_SERVICE = "lakehouse"  # apart from the demo's own services


def mb(kib: int) -> float:
    return kib / 1024


def burst(server: S.Server, fqns: list[str], n: int, clients: int) -> tuple[int, float]:
    """n read requests of several shapes; (requests that failed, seconds)."""
    with server.client() as c:
        kinds = [k["path"] for k in c.get("/api/v1/kinds").json()["data"]]
        ids = [
            a["id"] for a in c.get("/api/v1/tables", params={"limit": 1000}).json()["data"][:200]
        ]

    def worker(i: int) -> int:
        rng = random.Random(i)
        failed = 0
        with server.client() as c:
            for j in range(n // clients):
                shape = j % 10
                if shape < 6:
                    r = c.get(f"/api/v1/tables/name/{rng.choice(fqns)}")
                elif shape == 6:
                    r = c.get(rng.choice(kinds), params={"limit": 100})
                elif shape == 7:
                    r = c.get(f"/api/v1/tables/{rng.choice(ids)}/versions")
                elif shape == 8:
                    r = c.get("/api/v1/events", params={"after": 0, "limit": 200})
                else:
                    r = c.get(
                        f"/api/v1/tables/{rng.choice(ids)}", params={"fields": "relations,children"}
                    )
                failed += r.status_code != 200
        return failed

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        failed = sum(pool.map(worker, range(clients)))
    return failed, time.perf_counter() - t0


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    from lodestar.demo.sample import sample_assets

    with S.running_server(backend, serve=True) as server:
        time.sleep(1.0)
        start = S.rss_kib(server.pid)
        demo = [{"kind": kind, **body} for kind, body in sample_assets()]
        with server.client() as c:
            S.post_bulk(c, S.ndjson(demo))
        fqns = S.seed_tables(server, args.tables, service=GENERATED_SERVICE)
        with server.client() as c:
            total = sum(
                c.get(k["path"], params={"limit": 1}).json()["paging"]["total"]
                for k in c.get("/api/v1/kinds").json()["data"]
            )
        seeded = S.rss_kib(server.pid)
        time.sleep(args.wait)
        idle = S.rss_kib(server.pid)
        failed, secs = burst(server, fqns, args.burst, args.clients)
        time.sleep(args.wait)
        after = S.rss_kib(server.pid)
    return {
        "backend": backend,
        "assets": total,
        "start": start["VmRSS"],
        "seeded": seeded["VmRSS"],
        "idle": idle["VmRSS"],
        "after": after["VmRSS"],
        "peak": after["VmHWM"],
        "anon": after.get("RssAnon", 0),
        "burst": args.burst,
        "failed": failed,
        "burst_s": secs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--tables", type=int, default=250, help="generated tables beside the demo")
    ap.add_argument("--wait", type=float, default=10.0, help="idle seconds before each reading")
    ap.add_argument("--burst", type=int, default=4000, help="read requests in the burst")
    ap.add_argument("--clients", type=int, default=8, help="threads sending the burst")
    args = ap.parse_args()

    print(f"machine: {S.machine()}; {S.load_note()}")
    print(
        f"idle RSS: demo catalog + {args.tables} generated tables, {args.wait:g} s idle, burst of "
        f"{args.burst} reads from {args.clients} clients"
    )
    results = [bench_backend(b, args) for b in S.backends(args.backend)]
    print()
    S.print_table(
        ["backend", "assets", "started MB", "seeded MB", "idle MB", "after burst MB",
         "peak (VmHWM) MB", "burst req/s", "failed"],
        [[r["backend"], r["assets"], mb(r["start"]), mb(r["seeded"]), mb(r["idle"]),
          mb(r["after"]), mb(r["peak"]), r["burst"] / r["burst_s"], r["failed"]]
         for r in results],
    )  # fmt: skip
    print("\nRSS of the `lodestar serve` process (/proc/<pid>/status VmRSS, VmHWM); MB = MiB.\n")
    for r in results:
        worst = max(mb(r["idle"]), mb(r["after"]))
        ok = worst < TARGET_MB
        print(
            f"target {r['backend']}: idle {mb(r['idle']):.1f} MB, after burst "
            f"{mb(r['after']):.1f} MB ({'meets' if ok else 'MISSES'} < {TARGET_MB:g} MB)"
        )


if __name__ == "__main__":
    main()
