"""Server time of the web UI's pages: the asset page (overview, schema and versions tabs), the
home page and its name-prefix search, on the demo catalog and again after N generated tables
(default 100,000, seeded a request at a time as bench/_server.py does).

"Server time" is what the UI itself measures from the request reaching its endpoint to the
response being ready (its `Server-Timing: app;dur=` header); the wall time httpx sees over
loopback, one request at a time, is printed beside it. Target: asset page p95 < 50 ms.

    .venv/bin/python bench/ui.py --backend sqlite
    .venv/bin/python bench/ui.py --backend both --tables 100000 --requests 300
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _server as S

TARGET_P95_MS = 50.0
GENERATED_SERVICE = "generated"
_TIMING = re.compile(r"app;dur=([0-9.]+)")


def login(server: S.Server) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60)
    page = c.get("/ui/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/ui/login", data={"token": server.token, "csrf": csrf})
    if r.status_code != 303:
        raise RuntimeError(f"login failed: {r.status_code} {r.text[:200]}")
    return c


def _get(c: httpx.Client, path: str) -> httpx.Response:
    """GET, once more on a connection the server dropped (counted and printed)."""
    for attempt in range(3):
        try:
            return c.get(path)
        except httpx.TransportError as e:
            print(f"  {path}: {e!r}, retrying", flush=True)
            if attempt == 2:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def measure(c: httpx.Client, paths: list[str], n: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    server_ms: list[float] = []
    wall_ms: list[float] = []
    for p in paths[:5]:  # warm: templates compiled, caches filled
        _get(c, p)
    for _ in range(n):
        path = rng.choice(paths)
        t0 = time.perf_counter()
        r = _get(c, path)
        wall_ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
        m = _TIMING.search(r.headers.get("server-timing", ""))
        if m is None:
            raise RuntimeError(f"{path}: no Server-Timing header")
        server_ms.append(float(m.group(1)))
    return server_ms, wall_ms


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def pages(fqns: list[str], prefix: str) -> dict[str, list[str]]:
    def asset(f: str, tab: str = "") -> str:
        return f"/ui/assets/table/{quote(f, safe='')}" + (f"?tab={tab}" if tab else "")

    return {
        "asset overview": [asset(f) for f in fqns],
        "asset schema": [asset(f, "schema") for f in fqns],
        "asset versions": [asset(f, "versions") for f in fqns],
        "home": ["/ui/"],
        "home + prefix search": [f"/ui/?q={quote(prefix)}"],
    }


def run(backend: str, args: argparse.Namespace) -> list[list[Any]]:
    from lodestar.demo.sample import sample_assets

    rows: list[list[Any]] = []
    with S.running_server(backend) as server:
        demo = [{"kind": kind, **body} for kind, body in sample_assets()]
        with server.client() as c:
            S.post_bulk(c, S.ndjson(demo))
        demo_tables = [f"{b['schema']}.{b['name']}" for b in demo if b["kind"] == "table"]
        sizes: list[tuple[str, list[str], str]] = [
            ("demo", demo_tables, "warehouse.analytics.marts.")
        ]
        for label, fqns, prefix in sizes:
            rows += _measure_all(server, backend, label, fqns, prefix, args.requests)
        if args.tables:
            t0 = time.perf_counter()
            fqns = S.seed_tables(server, args.tables, service=GENERATED_SERVICE)
            print(
                f"{backend}: seeded {args.tables:,} tables in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            label = f"+{args.tables:,} tables"
            prefix = f"{GENERATED_SERVICE}.{S.DATABASE}.sales.fct_"
            try:
                rows += _measure_all(server, backend, label, fqns, prefix, args.requests)
            except Exception:
                print(server.log_path.read_text()[-4000:], flush=True)
                raise
    return rows


def _measure_all(
    server: S.Server, backend: str, label: str, fqns: list[str], prefix: str, n: int
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    c = login(server)
    try:
        for page, paths in pages(fqns, prefix).items():
            srv, wall = measure(c, paths, n)
            rows.append(
                [
                    backend,
                    label,
                    page,
                    n,
                    f"{pct(srv, 50):.1f}",
                    f"{pct(srv, 95):.1f}",
                    f"{pct(wall, 50):.1f}",
                    f"{pct(wall, 95):.1f}",
                ]
            )
            print("  ".join(str(x) for x in rows[-1]), flush=True)
    finally:
        c.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--tables", type=int, default=100_000, help="generated tables (0: demo only)")
    ap.add_argument("--requests", type=int, default=300, help="requests per page")
    args = ap.parse_args()
    print(S.machine(), "|", S.load_note())
    rows: list[list[Any]] = []
    for backend in S.backends(args.backend):
        rows += run(backend, args)
    print()
    S.print_table(
        [
            "backend",
            "catalog",
            "page",
            "requests",
            "server p50 ms",
            "server p95 ms",
            "wall p50 ms",
            "wall p95 ms",
        ],
        rows,
    )
    worst = max(float(r[5]) for r in rows if r[2].startswith("asset"))
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(
        f"\nasset page server p95, worst case: {worst:.1f} ms (target < {TARGET_P95_MS:.0f} ms:"
        f" {verdict})"
    )


if __name__ == "__main__":
    main()
