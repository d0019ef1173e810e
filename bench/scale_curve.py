"""The scale curve: does the cost of a write or a read grow with the catalog?

For each backend, one server (one worker) on one fresh catalog is grown to each size in turn
(default 1,000, 10,000 and 50,000 tables; add 200000 with --sizes). At each size:

1. the catalog is filled, untimed, to the size less one batch (generated tables of 30 columns,
   as bench/bulk_ingest.py makes them);
2. created: the next `--batch` new tables through POST /api/v1/bulk, timed, so the catalog
   reaches the size; unchanged: exactly the same bodies again;
3. plain: a plain table (id, fqn, doc) in a database of the same kind, grown alongside to the
   same size, takes the same batch as one executemany INSERT per request (the physical limit,
   measured at the same moment and the same size, not once at the start);
4. reads: wrk (when installed) at 16 connections for `--read-seconds`, GET by FQN of tables
   drawn from the whole catalog.

Printed per backend and size: tables/s and CPU (server process, and PostgreSQL's backends) of
each pass, the created pass's CPU against the plain insert's, and the read rate and latency.
A flat curve is the same figures at every size.

    .venv/bin/python bench/scale_curve.py                                  # both, 1k/10k/50k
    .venv/bin/python bench/scale_curve.py --backend postgres --sizes 1000 10000 50000 200000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S
from read_latency import LUA, run_wrk

TARGET_TABLES_PER_S = 2000
TARGET_CPU_RATIO = 6.0


class Plain:
    """A plain (id, fqn, doc) table in a fresh database of the backend's kind."""

    def __init__(self, url: str, backend: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        if backend == "sqlite":

            @sa.event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        md = sa.MetaData()
        doc_type: Any = JSONB() if backend == "postgres" else sa.Text()
        self.table = sa.Table(
            "plain_docs",
            md,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("fqn", sa.String(2048), nullable=False),
            sa.Column("doc", doc_type, nullable=False),
        )
        md.create_all(self.engine)
        self.stmt: Any = (
            self.table.insert().values(
                id=sa.bindparam("id"),
                fqn=sa.bindparam("fqn"),
                doc=sa.cast(sa.bindparam("doc", type_=sa.Text()), JSONB()),
            )
            if backend == "postgres"
            else self.table.insert()
        )

    def insert(self, first: int, bodies: list[dict[str, Any]], per_request: int) -> None:
        for i in range(0, len(bodies), per_request):
            rows = [
                {"id": f"{j:08d}-0000-4000-8000-000000000000", "fqn": S.table_fqn(b),
                 "doc": orjson.dumps(b).decode()}
                for j, b in enumerate(bodies[i : i + per_request], start=first + i)
            ]  # fmt: skip
            with self.engine.begin() as conn:
                conn.execute(self.stmt, rows)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
            )


def _bodies(first: int, last: int) -> Iterator[list[dict[str, Any]]]:
    """Generated tables first..last-1, a thousand at a time (200,000 at once would not fit)."""
    for i in range(first, last, 1000):
        yield [S.table_body(j) for j in range(i, min(i + 1000, last))]


def _post(server: S.Server, bodies: list[dict[str, Any]], per_request: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    with server.client() as c:
        for i in range(0, len(bodies), per_request):
            for line in S.post_bulk(c, S.ndjson(bodies[i : i + per_request]), "ingestion:bench"):
                counts[line["result"]] = counts.get(line["result"], 0) + 1
    return counts


def _reads(server: S.Server, size: int, seconds: int) -> dict[str, Any] | None:
    if shutil.which("wrk") is None or seconds <= 0:
        return None
    rng = random.Random(size)
    picks = sorted({rng.randrange(size) for _ in range(2000)})
    paths = [f"/api/v1/tables/name/{S.table_fqn(S.table_body(i))}" for i in picks]
    token = server.headers["Authorization"].split(" ", 1)[1]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (",".join(json.dumps(p) for p in paths), token))
    script = Path(f.name)
    try:
        run_wrk(server.url, script, 16, 2, 2)  # warm the caches the reads use
        meter = S.Meter(server.worker_pids(), server.database_url)
        with meter:
            r = run_wrk(server.url, script, 16, seconds, 2)
    finally:
        script.unlink()
    r["server_cpu"] = meter.server
    return r


@contextmanager
def _plain(backend: str) -> Iterator[Plain]:
    with S.fresh_database(backend, "lodestar_bench_plain") as url:
        plain = Plain(url, backend)
        try:
            yield plain
        finally:
            plain.engine.dispose()


def run(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    env = {"LODESTAR_SCHEDULER": "false"}
    with S.running_server(backend, workers=1, env=env) as server, _plain(backend) as plain:
        with server.client() as c:
            S.post_bulk(c, S.ndjson(S.seed_lines()))
        have = 0
        for size in sorted(args.sizes):
            start = size - args.batch
            if start < have:
                raise SystemExit(f"--sizes must be at least --batch ({args.batch}) apart")
            for chunk in _bodies(have, start):
                _post(server, chunk, args.per_request)
                plain.insert(have, chunk, args.per_request)
                have += len(chunk)
            batch = [S.table_body(j) for j in range(start, size)]
            row: dict[str, Any] = {"backend": backend, "size": size}
            for label in ("created", "unchanged"):
                if args.wait_quiet:
                    S.wait_quiet(args.wait_quiet)
                meter = S.Meter(server.worker_pids(), server.database_url)
                with meter:
                    counts = _post(server, batch, args.per_request)
                if counts.get(label) != len(batch):
                    raise RuntimeError(f"{label} pass at {size}: expected {len(batch)}, {counts}")
                row[label] = (len(batch) / meter.wall, meter.server, meter.pg)
            meter = S.Meter([], plain.url)
            with meter:
                plain.insert(start, batch, args.per_request)
            row["plain"] = (len(batch) / meter.wall, meter.own, meter.pg)
            have = size
            assert plain.count() == size
            row["reads"] = _reads(server, size, args.read_seconds)
            rows.append(row)
            print(f"  {backend} at {size:,} tables: {_line(row)}", flush=True)
    return rows


def _ratio(r: dict[str, Any]) -> float:
    """The created pass's CPU (server and PostgreSQL) over the plain insert's."""
    c, p = r["created"], r["plain"]
    return float((c[1] + c[2]) / max(p[1] + p[2], 1e-9))


def _line(r: dict[str, Any]) -> str:
    c, u, p = r["created"], r["unchanged"], r["plain"]
    reads = r["reads"]
    read = (
        "reads: no wrk"
        if reads is None
        else f"reads {reads['req/s']:,.0f}/s p99 {reads['p99']:.1f} ms"
    )
    return (
        f"created {c[0]:,.0f}/s, unchanged {u[0]:,.0f}/s, plain {p[0]:,.0f}/s, "
        f"CPU created/plain {_ratio(r):.1f}x; {read}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--batch", type=int, default=1000, help="timed tables per size (default 1000)")
    ap.add_argument("--per-request", type=int, default=1000, help="NDJSON lines per POST")
    ap.add_argument("--read-seconds", type=int, default=5, help="wrk seconds per size (0: none)")
    ap.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="S",
        help="before each timed pass wait up to S seconds for the machine to be idle",
    )  # fmt: skip
    args = ap.parse_args()
    print(f"machine: {S.machine()}; {S.load_note()}")
    print(f"scale curve: sizes {args.sizes}, {args.batch} timed tables per size, 30 columns each")
    if shutil.which("wrk") is None:
        print("reads SKIPPED: wrk is not installed (apt-get install wrk)")
    rows: list[dict[str, Any]] = []
    for backend in S.backends(args.backend):
        rows += run(backend, args)
    print()

    def reads(r: dict[str, Any], key: str) -> Any:
        return "-" if r["reads"] is None else r["reads"][key]

    S.print_table(
        ["backend", "tables", "created/s", "CPU s", "PG CPU s", "unchanged/s", "CPU s",
         "PG CPU s", "plain/s", "plain CPU s", "created CPU / plain", "reads/s", "p50 ms",
         "p99 ms", "server CPU ms/read"],
        [
            [r["backend"], r["size"], r["created"][0], r["created"][1], r["created"][2],
             r["unchanged"][0], r["unchanged"][1], r["unchanged"][2], r["plain"][0],
             r["plain"][1] + r["plain"][2],
             f"{_ratio(r):.1f}x",
             reads(r, "req/s"), reads(r, "p50"), reads(r, "p99"),
             "-" if r["reads"] is None
             else 1000 * r["reads"]["server_cpu"] / max(r["reads"]["requests"], 1)]
            for r in rows
        ],
    )  # fmt: skip
    print(
        "\nCPU s = the server process's CPU during the pass; PG CPU s = PostgreSQL's backends of"
        "\nthat database; plain CPU s = this process's and PostgreSQL's during the plain insert."
        f"\nTargets: >= {TARGET_TABLES_PER_S:,} created tables/s on one SQLite worker; created"
        f" CPU within {TARGET_CPU_RATIO:.0f}x of the plain insert's; flat across sizes."
        f"\n{S.load_note()}"
    )


if __name__ == "__main__":
    main()
