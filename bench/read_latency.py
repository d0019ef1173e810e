"""Read latency with a C load generator: GET /api/v1/tables/name/{fqn} (or /tables/{id}) from
wrk at N connections (default 16). A Python client would need more CPU than the server it
measures (0.92 cores for 650 GETs/s against the server's 0.13), so its latency would be its
own queueing; wrk's CPU is printed beside the server's to show it is not the bottleneck.
Needs `wrk` (Debian: apt-get install wrk).

Printed per backend and worker count: wrk's request rate and latency percentiles (p50, p90,
p99, max), the CPU the server used per request (all its worker processes, plus the PostgreSQL
backends of its database), and where the machine's CPU went while wrk ran: server, wrk,
PostgreSQL and `others` (everything else: other people's work on this shared box).

    .venv/bin/python bench/read_latency.py --backend both --workers 1 2
    .venv/bin/python bench/read_latency.py --backend sqlite --workers 1 --py-spy
    .venv/bin/python bench/read_latency.py --backend sqlite --route id --repeat 3
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _server as S

TARGET_P99_MS = 20.0

LUA = """
paths = {%s}
token = "%s"
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Authorization"] = "Bearer " .. token})
end
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(url: str, script: Path, connections: int, seconds: int, threads: int) -> dict[str, Any]:
    cpu0 = _children_cpu()
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip
    wrk_cpu = _children_cpu() - cpu0

    def ms(text: str, unit: str) -> float:
        value = float(text)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    def pct(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return ms(m.group(1), m.group(2)) if m else float("nan")

    lat = re.search(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "req/s": float(rps.group(1)) if rps else float("nan"),
        "requests": int(n.group(1)) if n else 0,
        "p50": pct("50"),
        "p90": pct("90"),
        "p99": pct("99"),
        "max": ms(lat.group(1), lat.group(2)) if lat else float("nan"),
        "non-2xx": int(errors.group(1)) if errors else 0,
        "wrk_cpu": wrk_cpu,
        "raw": out,
    }


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def table_ids(server: S.Server, fqns: list[str]) -> list[str]:
    with server.client() as c:
        return [str(c.get(f"/api/v1/tables/name/{f}").json()["id"]) for f in fqns]


def one_run(backend: str, workers: int, args: argparse.Namespace, run: int) -> dict[str, Any]:
    env = {"LODESTAR_SCHEDULER": "false"}
    gc_stats = args.gc_stats and workers == 1
    with S.running_server(backend, workers=workers, env=env, gc_stats=gc_stats) as server:
        fqns = S.seed_tables(server, args.tables)
        if args.route == "id":
            paths = [f"/api/v1/tables/{i}" for i in table_ids(server, fqns)]
        else:
            paths = [f"/api/v1/tables/name/{f}" for f in fqns]
        with httpx.Client(base_url=server.url, headers=server.headers) as c:
            assert c.get(paths[0]).status_code == 200, "the benchmark's GET does not answer 200"
        token = server.headers["Authorization"].split(" ", 1)[1]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(LUA % (",".join(json.dumps(p) for p in paths), token))
        script = Path(f.name)
        try:
            run_wrk(server.url, script, args.connections, args.warmup, args.threads)
            if args.wait_quiet:
                S.wait_quiet(args.wait_quiet)
            gc0 = server.gc_stats() if gc_stats else None
            pids = [p for p in server.worker_pids() if "resource_tracker" not in _cmdline(p)]
            per_worker0 = [S.cpu_seconds(p) for p in pids]
            meter = S.Meter(server.worker_pids(), server.database_url)
            if args.py_spy:
                prefix = Path(tempfile.gettempdir()) / f"lodestar_wrk_{backend}_{workers}w"
                with S.py_spy(server.worker_pids(), prefix, gil=True) as spy_paths, meter:
                    r = run_wrk(server.url, script, args.connections, args.duration, args.threads)
                print(f"\n--- py-spy --gil: server during the wrk run ({backend}, {workers} "
                      f"worker(s), run {run}) ---")  # fmt: skip
                print(S.summarize_collapsed(spy_paths, top=args.top))
            else:
                with meter:
                    r = run_wrk(server.url, script, args.connections, args.duration, args.threads)
            per_worker = [S.cpu_seconds(p) - c for p, c in zip(pids, per_worker0, strict=True)]
        except Exception:
            print(f"the run failed; server log:\n{server.log_path.read_text()[-4000:]}")
            raise
        finally:
            script.unlink()
        if args.show_wrk:
            print(r["raw"])
        if gc0 is not None:
            gc1 = server.gc_stats()
            r["gc_s"] = sum(gc1["seconds"]) - sum(gc0["seconds"])
            r["gc_n"] = [b - a for a, b in zip(gc0["collections"], gc1["collections"], strict=True)]
    requests = max(r["requests"], 1)
    return {
        **r,
        "backend": backend,
        "workers": workers,
        "server_ms": 1000 * (meter.server + meter.pg) / requests,
        "server_cores": meter.cores(meter.server),
        "wrk_cores": meter.cores(r["wrk_cpu"]),
        "pg_cores": meter.cores(meter.pg),
        "others": meter.cores(max(meter.others - r["wrk_cpu"], 0.0)),
        "balance": "/".join(f"{100 * c / max(sum(per_worker), 1e-9):.0f}" for c in per_worker),
        "gc": (
            f"{100 * r['gc_s'] / max(meter.server, 1e-9):.1f}% ({'/'.join(map(str, r['gc_n']))})"
            if "gc_s" in r
            else "-"
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument(
        "--route",
        choices=["name", "id"],
        default="name",
        help="GET by FQN (/tables/name/{fqn}, default) or by id (/tables/{id})",
    )
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3, help="seconds of wrk before the run")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="runs per backend and worker count")
    ap.add_argument(
        "--py-spy",
        action="store_true",
        help="profile the server's workers with py-spy --gil during the run",
    )
    ap.add_argument("--top", type=int, default=15, help="rows per profile listing")
    ap.add_argument("--show-wrk", action="store_true", help="print wrk's own output")
    ap.add_argument(
        "--gc-stats",
        action="store_true",
        help="one worker only: time the server's garbage collector (share of its CPU, and "
        "collections of generation 0/1/2)",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run wait up to S seconds for the machine to be idle",
    )
    args = ap.parse_args()  # fmt: skip
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    print(f"machine: {S.machine()}; {S.load_note()}")
    where = "/api/v1/tables/{id}" if args.route == "id" else "/api/v1/tables/name/{fqn}"
    print(
        f"client: wrk (C), not Python; GET {where} over {args.tables} tables, "
        f"wrk -t{args.threads} at {args.connections} "
        f"connections for {args.duration} s (after a {args.warmup} s warm-up)\n"
    )
    rows = []
    results = []
    for backend in S.backends(args.backend):
        for workers in args.workers:
            for run in range(1, args.repeat + 1):
                r = one_run(backend, workers, args, run)
                results.append(r)
                rows.append(
                    [backend, workers, r["requests"], r["req/s"], r["p50"], r["p90"], r["p99"],
                     r["max"], r["non-2xx"], r["server_ms"], r["gc"], r["balance"],
                     r["server_cores"], r["wrk_cores"], r["pg_cores"], r["others"]]
                )  # fmt: skip
    S.print_table(
        ["backend", "workers", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
         "non-2xx", "server CPU ms/req", "of it GC", "workers' CPU %", "server (cores)",
         "wrk (cores)", "PG (cores)", "others (cores)"],
        rows,
    )  # fmt: skip
    print(
        "\nserver CPU ms/req = CPU of every server worker (+ PostgreSQL backends) / requests;"
        " of it GC = the garbage collector's share of the server's CPU (--gc-stats);"
        " workers' CPU % = how the server's CPU split between its workers;"
        f" others = the rest of the machine. {S.load_note()}\n"
    )
    for r in results:
        ok = r["p99"] < TARGET_P99_MS
        print(
            f"target {r['backend']} x{r['workers']}: p99 {r['p99']:.1f} ms at "
            f"{args.connections} connections ({'meets' if ok else 'MISSES'} < {TARGET_P99_MS:g} ms)"
        )


if __name__ == "__main__":
    main()
