"""Start-up: how long the `lodestar` command takes before it does what was asked.

Each figure is the wall time of a fresh process, as a user meets it:

- `--help`: `lodestar --help` until it exits;
- `serve (new)`: `lodestar serve` on an empty data dir (a new SQLite catalog, migrated on
  start) until the first 200 of `GET /api/v1/health`, polled every 5 ms;
- `serve (existing)`: the same on the catalog the first start left;
- `ingest (unchanged)`: `lodestar ingest recipe.yml --json` of a 10-table SQLite source that
  the catalog already holds, until it exits.

Each is run `--repeat` times in turn (so noise from other work spreads over all of them); the
script prints min and median. `--python` runs another tree's interpreter side by side (e.g.
`/work/main/.venv/bin/python`), with `--src` for its source if it is not installed there.

    .venv/bin/python bench/startup.py --repeat 7
    .venv/bin/python bench/startup.py --repeat 7 --python /work/main/.venv/bin/python
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path, src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env["LODESTAR_DATA_DIR"] = str(data_dir)
    if src:
        env["PYTHONPATH"] = src
    return env


def _cli(python: str) -> list[str]:
    return [python, "-m", "lodestar.cli"]


def time_help(python: str, src: str | None, tmp: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*_cli(python), "--help"], env=_env(tmp, src), check=True, capture_output=True)
    return time.perf_counter() - start


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/api/v1/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def time_serve(python: str, src: str | None, data_dir: Path) -> float:
    port = _free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*_cli(python), "serve", "--port", str(port)],
        env=_env(data_dir, src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _healthy(port):
            if proc.poll() is not None:
                raise RuntimeError(f"lodestar serve exited with {proc.returncode}")
            if time.perf_counter() - start > 60:
                raise RuntimeError("no 200 within 60 s")
            time.sleep(0.005)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)


def make_source(tmp: Path) -> Path:
    source = tmp / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        for i in range(10):
            conn.execute(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, email TEXT, amount REAL)")
    conn.close()
    recipe = tmp / "shop.yml"
    config = {"path": str(source), "service": "shop"}
    recipe.write_text(json.dumps({"source": {"type": "sqlite", "config": config}}))
    return recipe


def time_ingest(python: str, src: str | None, data_dir: Path, recipe: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [*_cli(python), "ingest", str(recipe), "--json"],
        env=_env(data_dir, src),
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python", action="append", default=[], help="another tree's python")
    ap.add_argument("--src", action="append", default=[], help="PYTHONPATH for each --python")
    args = ap.parse_args()
    trees = [(sys.executable, None)]
    trees += [(p, args.src[i] if i < len(args.src) else None) for i, p in enumerate(args.python)]
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lodestar_startup_") as t:
        tmp = Path(t)
        recipe = make_source(tmp)
        for rep in range(args.repeat):
            for n, (python, src) in enumerate(trees):
                tree = f"{python}" + (f" ({src})" if src else "")
                work = tmp / f"{rep}-{n}"
                work.mkdir()
                timed = [
                    ("--help", time_help(python, src, work)),
                    ("serve (new)", time_serve(python, src, work / "catalog")),
                    ("serve (existing)", time_serve(python, src, work / "catalog")),
                ]
                for name, took in timed:
                    results.setdefault((tree, name), []).append(took)
                ingest_dir = work / "ingest"
                time_ingest(python, src, ingest_dir, recipe)  # creates; the next is unchanged
                took = time_ingest(python, src, ingest_dir, recipe)
                results.setdefault((tree, "ingest (unchanged)"), []).append(took)
    load = os.getloadavg()[0]
    print(f"{args.repeat} runs each, load average {load:.2f}, {os.cpu_count()} CPUs")
    print(f"{'tree':<48} {'command':<20} {'min s':>7} {'median s':>9}")
    for (tree, name), times in results.items():
        print(f"{tree[-48:]:<48} {name:<20} {min(times):7.3f} {statistics.median(times):9.3f}")


if __name__ == "__main__":
    main()
