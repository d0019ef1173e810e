"""OpenLineage intake rate: events/s through `POST /api/v1/lineage/batch` and through one
`POST /api/v1/lineage` per event, against a live server on a fresh database.

The events are what an orchestrator sends: each run of a job is a START and a COMPLETE event
(the same run id), reading two tables and writing one, every dataset with a `schema` facet
(`--columns` columns) and the output with a `columnLineage` facet; `--jobs` jobs over a pool
of `--tables` tables in one PostgreSQL namespace, so the first runs create the tables and
later ones find them. The batched phase and the single phase use namespaces of their own.
Only the HTTP round trips are timed (events are built and serialised beforehand).

    .venv/bin/python bench/openlineage_intake.py --backend sqlite
    .venv/bin/python bench/openlineage_intake.py --backend both --events 10000 --batch 100
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S

TARGET = 1000.0  # events/s, batched, SQLite


def events(prefix: str, n: int, jobs: int, tables: int, columns: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    ns = f"postgres://{prefix}.example:5432"
    cols = [f"c{i}" for i in range(columns)]
    schema = {"fields": [{"name": c, "type": "int"} for c in cols]}
    out: list[dict[str, Any]] = []
    t0 = 1_767_225_600  # 2026-01-01
    while len(out) < n:
        j = rng.randrange(jobs)
        a, b, o = rng.sample(range(tables), 3)
        ins = [
            {"namespace": ns, "name": f"shop.raw.t{x}", "facets": {"schema": schema}}
            for x in (a, b)
        ]
        lineage = {
            c: {"inputFields": [{"namespace": ns, "name": f"shop.raw.t{a}", "field": c}]}
            for c in cols
        }
        output = {
            "namespace": ns,
            "name": f"shop.raw.t{o}",
            "facets": {"schema": schema, "columnLineage": {"fields": lineage}},
        }
        run = {"runId": str(uuid.UUID(int=rng.getrandbits(128)))}
        start = t0 + len(out) * 10
        for kind, at in (("START", start), ("COMPLETE", start + 5)):
            out.append(
                {
                    "eventType": kind,
                    "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                    "run": run,
                    "job": {"namespace": f"airflow-{prefix}", "name": f"dag.job_{j}"},
                    "inputs": ins,
                    "outputs": [output],
                    "producer": "https://example.com/bench",
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                }
            )
    return out[:n]


def send(server: S.Server, path: str, bodies: list[bytes]) -> S.Meter:
    """POST each body; the meter has the wall time and the server's (and PostgreSQL's) CPU."""
    headers = {**server.headers, "Content-Type": "application/json"}
    with server.client() as c, S.Meter([server.pid], server.database_url) as meter:
        for body in bodies:
            resp = c.post(path, content=body, headers=headers)
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "success", resp.text
    return meter


def report(backend: str, path: str, n: int, m: S.Meter) -> float:
    """Prints wall rate and the rate per CPU-second of the server (and its PostgreSQL
    backends): what one otherwise idle core would do, the figure noise moves least."""
    cpu = m.server + m.pg
    rate = n / m.wall
    mark = ""
    if backend == "sqlite" and path.endswith("batch"):
        mark = "  target met" if n / cpu >= TARGET else "  BELOW TARGET (per CPU-second)"
    print(
        f"{backend:<9} {path:<22} {n:>6} {m.wall:>8.2f} {rate:>9.0f} {m.server:>7.2f} "
        f"{m.pg:>6.2f} {n / cpu:>9.0f}{mark}"
    )
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--events", type=int, default=5000, help="events sent batched")
    ap.add_argument("--single", type=int, default=1000, help="events sent one POST each")
    ap.add_argument("--batch", type=int, default=100, help="events per batch request")
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--tables", type=int, default=500)
    ap.add_argument("--columns", type=int, default=10)
    args = ap.parse_args()
    print(S.machine())
    print(
        f"{args.events} events batched ({args.batch} per request), {args.single} one per "
        f"request; {args.jobs} jobs over {args.tables} tables of {args.columns} columns"
    )
    print(S.load_note())
    print(
        f"{'backend':<9} {'path':<22} {'events':>6} {'wall s':>8} {'events/s':>9} "
        f"{'srv CPU':>7} {'pg CPU':>6} {'ev/CPU-s':>9}"
    )
    for backend in S.backends(args.backend):
        with S.running_server(backend) as server:
            evs = events("b", args.events, args.jobs, args.tables, args.columns, 1)
            size = args.batch
            bodies = [orjson.dumps(evs[i : i + size]) for i in range(0, len(evs), size)]
            path = "/api/v1/lineage/batch"
            report(backend, path, len(evs), send(server, path, bodies))
            evs = events("s", args.single, args.jobs, args.tables, args.columns, 2)
            bodies = [orjson.dumps(e) for e in evs]
            path = "/api/v1/lineage"
            report(backend, path, len(evs), send(server, path, bodies))
    print(S.load_note())


if __name__ == "__main__":
    main()
