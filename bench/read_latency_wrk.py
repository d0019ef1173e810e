"""Read latency with a C load generator: GET /api/v1/tables/name/{fqn} from wrk at N
connections (default 16), so the Python load generator of read_latency.py does not take the
CPU the server needs. Needs `wrk` (Debian: apt-get install wrk).

    .venv/bin/python bench/read_latency_wrk.py --backend both --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _server as S

LUA = """
paths = {%s}
token = "%s"
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Authorization"] = "Bearer " .. token})
end
"""


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "req/s": float(rps.group(1)) if rps else float("nan"),
        "p50": ms("50"),
        "p90": ms("90"),
        "p99": ms("99"),
        "non-2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    print(S.machine())
    print(
        f"GET /api/v1/tables/name/{{fqn}} over {args.tables} tables, wrk at "
        f"{args.connections} connections for {args.duration} s (after a 3 s warm-up)\n"
    )
    rows = []
    for backend in S.backends(args.backend):
        for workers in args.workers:
            env = {"LODESTAR_SCHEDULER": "false"}
            with S.running_server(backend, workers=workers, env=env) as server:
                fqns = S.seed_tables(server, args.tables)
                paths = ",".join(json.dumps(f"/api/v1/tables/name/{f}") for f in fqns)
                token = server.headers["Authorization"].split(" ", 1)[1]
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                    f.write(LUA % (paths, token))
                script = Path(f.name)
                run_wrk(server.url, script, args.connections, 3)
                r = run_wrk(server.url, script, args.connections, args.duration)
                script.unlink()
            rows.append(
                [
                    backend,
                    workers,
                    f"{r['req/s']:,.0f}",
                    f"{r['p50']:.2f}",
                    f"{r['p90']:.2f}",
                    f"{r['p99']:.2f}",
                    int(r["non-2xx"]),
                ]
            )
    S.print_table(["backend", "workers", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx"], rows)
    print()


if __name__ == "__main__":
    main()
