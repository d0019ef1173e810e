"""Bulk ingestion throughput: tables/s through POST /api/v1/bulk, against the physical limit.

For each backend (a fresh SQLite data dir and/or a fresh PostgreSQL database):

1. start a server (uvicorn subprocess, one worker), seed users, classifications + tags, the
   service, database and 10 schemas;
2. upsert N generated tables (30 typed, documented columns; PII columns tagged
   `PII.Sensitive`; a `Tier.*` tag and an owner per table) as NDJSON, `--per-request` lines per
   POST — the "created" pass — then POST exactly the same bodies again: the "unchanged" pass;
3. in-process (no HTTP): the same two passes through `Catalog.bulk_upsert` on another fresh
   database, to split the HTTP cost from the catalog cost (`--no-inprocess` skips it);
4. the physical limit: a plain SQLAlchemy executemany INSERT of the same orjson-serialised
   table documents into a plain table (id, fqn, doc) of a fresh database of the same kind
   (SQLite file in WAL mode / new PostgreSQL database), one transaction per `--per-request` rows.

The NDJSON payloads are built before the clock starts; the load generator runs on the same
2 cores as the server.

    .venv/bin/python bench/bulk_ingest.py                      # 5000 tables, both backends
    .venv/bin/python bench/bulk_ingest.py --backend sqlite --tables 2000 --py-spy
    .venv/bin/python bench/bulk_ingest.py --backend sqlite --cprofile --no-http
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server as S

TARGET_TABLES_PER_S = 2000
_GC_DEFAULT = gc.get_threshold()
TARGET_RATIO = 10.0


# -- HTTP --------------------------------------------------------------------------------
def _payloads(bodies: list[dict[str, Any]], per_request: int) -> list[bytes]:
    return [S.ndjson(bodies[i : i + per_request]) for i in range(0, len(bodies), per_request)]


def _post_all(server: S.Server, payloads: list[bytes], clients: int, origin: str) -> dict[str, int]:
    """POST every payload (`clients` at a time); the results counted."""
    counts: dict[str, int] = {}
    if clients <= 1:
        with server.client() as c:
            results = [S.post_bulk(c, p, origin) for p in payloads]
    else:
        http = [server.client() for _ in range(clients)]
        try:
            with cf.ThreadPoolExecutor(clients) as pool:
                futs = [
                    pool.submit(S.post_bulk, http[i % clients], p, origin)
                    for i, p in enumerate(payloads)
                ]
                results = [f.result() for f in futs]
        finally:
            for c in http:
                c.close()
    for lines in results:
        for line in lines:
            counts[line["result"]] = counts.get(line["result"], 0) + 1
    return counts


def _row(
    backend: str,
    path: str,
    label: str,
    n: int,
    m: S.Meter,
    server_cpu: float,
    gc_s: float | None = None,
) -> dict[str, Any]:
    return {"backend": backend, "path": path, "pass": label, "n": n, "seconds": m.wall,
            "rate": n / m.wall, "server_cpu": server_cpu, "pg_cpu": m.pg,
            "client_cpu": m.own if path.startswith("HTTP") else None,
            "others": m.cores(m.others), "gc_s": gc_s}  # fmt: skip


def _gc_seconds(stats: dict[str, Any]) -> float:
    return float(sum(stats["seconds"]))


class GCTimer:
    """CPU seconds spent in the garbage collector of this process (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._t0

    def close(self) -> None:
        gc.callbacks.remove(self._cb)


def run_http(
    backend: str, bodies: list[dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    payloads = _payloads(bodies, args.per_request)
    with S.running_server(
        backend,
        workers=args.workers,
        gc_stats=args.workers == 1,
        gc_threshold=args.server_gc_threshold,
    ) as server:
        with server.client() as c:
            S.post_bulk(c, S.ndjson(S.seed_lines(owners=not args.no_owners)), args.origin)
        for label in ("created", "unchanged"):
            if args.wait_quiet:
                S.wait_quiet(args.wait_quiet)
            gc0 = _gc_seconds(server.gc_stats()) if args.workers == 1 else None
            pids = server.worker_pids()
            meter = S.Meter(pids, server.database_url)
            if args.py_spy:
                prefix = Path(tempfile.gettempdir()) / f"lodestar_bulk_{backend}_{label}"
                with S.py_spy(pids, prefix, gil=True) as spy_paths, meter:
                    counts = _post_all(server, payloads, args.clients, args.origin)
            else:
                with meter:
                    counts = _post_all(server, payloads, args.clients, args.origin)
            gc_s = None if gc0 is None else _gc_seconds(server.gc_stats()) - gc0
            _check(counts, label, len(bodies))
            rows.append(
                _row(backend, "HTTP /api/v1/bulk", label, len(bodies), meter, meter.server, gc_s)
            )
            if args.py_spy:
                print(f"\n--- py-spy --gil: server during the {label} pass ({backend}) ---")
                print(S.summarize_collapsed(spy_paths, top=args.top))
                print(f"(raw collapsed stacks: {', '.join(map(str, spy_paths))})")
    return rows


def _check(counts: dict[str, int], label: str, n: int) -> None:
    if counts.get(label, 0) != n:
        raise RuntimeError(f"expected {n} lines {label}, got {counts}")


# -- in-process catalog --------------------------------------------------------------------
def run_inprocess(
    backend: str, bodies: list[dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    from lodestar.auth.principal import SYSTEM
    from lodestar.catalog import BulkLine, Catalog, WriteContext
    from lodestar.model.records import Origin
    from lodestar.store import open_store

    rows: list[dict[str, Any]] = []
    payloads = _payloads(bodies, args.per_request)
    with S.fresh_database(backend, "lodestar_bench_inproc") as url:
        store = open_store(url)
        try:
            catalog = Catalog(store)
            # The HTTP passes use the admin token with X-Lodestar-Origin; the same here.
            ctx = WriteContext.for_principal(SYSTEM, Origin.parse(args.origin))
            seed = [BulkLine(b["kind"], b) for b in S.seed_lines(owners=not args.no_owners)]
            _outcomes(catalog.bulk_upsert(seed, ctx))
            timer = StageTimer() if args.breakdown else None
            # Keep the harness's own objects (the pre-built bodies and payloads, the imported
            # modules) out of this process's GC, so that the GC time counted below is the cost
            # of the catalog's own allocations, as in a server.
            gc.collect()
            gc.freeze()
            if args.server_gc_threshold:
                gc.set_threshold(args.server_gc_threshold, 50, 50)
            gct = GCTimer()
            for label in ("created", "unchanged"):
                prof = cProfile.Profile() if args.cprofile else None
                counts: dict[str, int] = {}
                if args.wait_quiet:
                    S.wait_quiet(args.wait_quiet)
                spy: Any = contextlib.nullcontext([])
                if args.py_spy:
                    prefix = Path(tempfile.gettempdir()) / f"lodestar_inproc_{backend}_{label}"
                    spy = S.py_spy([os.getpid()], prefix)
                if timer:
                    timer.reset()
                cpu0 = time.thread_time()
                gc0 = gct.seconds
                with spy as spy_paths, S.Meter([], url) as meter:
                    if prof:
                        prof.enable()
                    for payload in payloads:
                        # Parse as the bulk router does: one orjson.loads per NDJSON line.
                        values = map(orjson.loads, payload.splitlines())
                        lines = [BulkLine(v["kind"], v) for v in values]
                        for status in _outcomes(catalog.bulk_upsert(lines, ctx)):
                            counts[status] = counts.get(status, 0) + 1
                    if prof:
                        prof.disable()
                cpu = time.thread_time() - cpu0
                gc_s = gct.seconds - gc0
                if timer:
                    print(f"\n--- stage breakdown, in-process, {label} pass ({backend}) ---")
                    timer.report(len(bodies), meter.wall, cpu)
                    if backend == "postgres":
                        print(f"(PostgreSQL backend CPU meanwhile: {meter.pg:.2f} s)")
                if args.py_spy:
                    print(f"\n--- py-spy: in-process bulk_upsert, {label} pass ({backend}) ---")
                    print(S.summarize_collapsed(spy_paths, top=args.top))
                _check(counts, label, len(bodies))
                rows.append(
                    _row(
                        backend,
                        "in-process Catalog.bulk_upsert",
                        label,
                        len(bodies),
                        meter,
                        meter.own,
                        gc_s,
                    )
                )
                if prof:
                    print(f"\n--- cProfile: Catalog.bulk_upsert, {label} pass ({backend}) ---")
                    print(summarize_cprofile(prof, top=args.top))
        finally:
            if timer:
                timer.undo()
            if "gct" in locals():
                gct.close()
            gc.unfreeze()
            gc.set_threshold(*_GC_DEFAULT)
            store.dispose()
    return rows


# -- stage breakdown (in-process) ------------------------------------------------------------
# (label, module, attribute path): functions of the write path wrapped with timers. Labels that
# start with spaces are nested inside the stage above them (inclusive times).
STAGES = [
    ("prepare: validate, dump, FQN, refs", "lodestar.catalog.service", "prepare"),
    ("  validate_body (pydantic validate)", "lodestar.catalog.writes", "validate_body"),
    ("  to_doc (AssetSpec.document)", "lodestar.catalog.writes", "to_doc"),
    ("Store.write (BEGIN .. COMMIT)", "lodestar.store.engine", "Store.write"),
    ("  Planner.preload (read current)", "lodestar.catalog.writes", "Planner.preload"),
    ("  Planner.plan (diff, provenance, policy)", "lodestar.catalog.writes", "Planner.plan"),
    ("    changes.diff", "lodestar.catalog.changes", "diff"),
    ("    changes.keep_person_edits", "lodestar.catalog.changes", "keep_person_edits"),
    ("    changes.record_provenance", "lodestar.catalog.changes", "record_provenance"),
    ("  Planner.apply (all writes)", "lodestar.catalog.writes", "Planner.apply"),
    ("    insert_assets", "lodestar.store.assets", "insert_assets"),
    ("    update_asset", "lodestar.store.assets", "update_asset"),
    ("    insert_versions", "lodestar.store.assets", "insert_versions"),
    ("    insert_edges", "lodestar.store.assets", "insert_edges"),
    ("    replace_edges", "lodestar.store.assets", "replace_edges"),
    ("    events.append", "lodestar.store.events", "append"),
]


class StageTimer:
    """Wraps the STAGES functions with wall and thread-CPU timers (inclusive)."""

    def __init__(self) -> None:
        import importlib

        self.stats: dict[str, list[float]] = {}
        self._undo: list[tuple[Any, str, Any]] = []
        for label, module, path in STAGES:
            owner: Any = importlib.import_module(module)
            *parents, name = path.split(".")
            for part in parents:
                owner = getattr(owner, part, None)
            if owner is None or not hasattr(owner, name):
                continue  # the code moved on: skip the stage
            orig = getattr(owner, name)
            if path == "Store.write":
                wrapped = self._wrap_cm(label, orig)
            else:
                wrapped = self._wrap(label, orig)
            setattr(owner, name, wrapped)
            self._undo.append((owner, name, orig))
        self.reset()

    def reset(self) -> None:
        self.stats = {label: [0, 0.0, 0.0] for label, _, _ in STAGES}

    def _wrap(self, label: str, fn: Any) -> Any:
        stats = self

        def timed(*a: Any, **kw: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                st = stats.stats[label]
                st[0] += 1
                st[1] += time.perf_counter() - w0
                st[2] += time.thread_time() - c0

        return timed

    def _wrap_cm(self, label: str, fn: Any) -> Any:
        stats = self

        @contextlib.contextmanager
        def timed(*a: Any, **kw: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                with fn(*a, **kw) as conn:
                    yield conn
            finally:
                st = stats.stats[label]
                st[0] += 1
                st[1] += time.perf_counter() - w0
                st[2] += time.thread_time() - c0

        return timed

    def undo(self) -> None:
        for owner, name, orig in reversed(self._undo):
            setattr(owner, name, orig)

    def report(self, n: int, wall: float, cpu: float) -> None:
        rows = [["bulk_upsert total (incl. NDJSON parse)", "", wall, cpu, 100.0,
                 1e6 * cpu / n]]  # fmt: skip
        for label, _, _ in STAGES:
            calls, w, c = self.stats[label]
            if calls:
                rows.append([label, int(calls), w, c, 100 * c / cpu, 1e6 * c / n])
        S.print_table(["stage", "calls", "wall s", "CPU s", "% CPU", "CPU us/table"], rows)


def _outcomes(outcomes: list[Any]) -> list[str]:
    bad = [o for o in outcomes if o.error is not None]
    if bad:
        raise RuntimeError(f"{len(bad)} lines failed, first: {bad[0].error}")
    return [str(o.status) for o in outcomes]


def summarize_cprofile(prof: cProfile.Profile, top: int = 15) -> str:
    st = pstats.Stats(prof)
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    layers: dict[str, float] = {}
    lode_cum: list[tuple[float, float, int, str]] = []
    for (file, _line, func), (_cc, nc, tt, ct, _callers) in raw.items():
        layer = S.layer_of(file) if file != "~" else _builtin_layer(func)
        layers[layer] = layers.get(layer, 0.0) + tt
        if S.is_lodestar(file):
            lode_cum.append((ct, tt, nc, f"{S.short_path(file)}:{func}"))
    out = [f"profiled CPU time: {total:.2f}s", "", "self time by layer:"]
    for name, tt in sorted(layers.items(), key=lambda kv: -kv[1]):
        out.append(f"  {100 * tt / total:5.1f}%  {name}")
    out += ["", f"src/lodestar functions by cumulative share (self share, calls) — top {top}:"]
    for ct, tt, nc, key in sorted(lode_cum, reverse=True)[:top]:
        out.append(
            f"  {100 * ct / total:5.1f}%  (self {100 * tt / total:4.1f}%, {nc:>8,} calls)  {key}"
        )
    return "\n".join(out)


def _builtin_layer(func: str) -> str:
    if "sqlite3" in func or "Cursor" in func or "Connection" in func:
        return "sqlite3/driver (C)"
    if "orjson" in func:
        return "orjson (C)"
    if "pydantic" in func or "validate" in func:
        return "pydantic (C)"
    return "builtins (C)"


# -- the physical limit --------------------------------------------------------------------
def run_plain(
    backend: str, bodies: list[dict[str, Any]], per_request: int, wait: float
) -> dict[str, Any]:
    with S.fresh_database(backend, "lodestar_bench_plain") as url:
        engine = sa.create_engine(url)
        if backend == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _wal(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        md = sa.MetaData()
        doc_type: Any = JSONB() if backend == "postgres" else sa.Text()
        plain = sa.Table(
            "plain_docs",
            md,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("fqn", sa.String(2048), nullable=False),
            sa.Column("doc", doc_type, nullable=False),
        )
        md.create_all(engine)
        if backend == "postgres":
            stmt = plain.insert().values(
                id=sa.bindparam("id"),
                fqn=sa.bindparam("fqn"),
                doc=sa.cast(sa.bindparam("doc", type_=sa.Text()), JSONB()),
            )
        else:
            stmt = plain.insert()
        ids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(len(bodies))]
        if wait:
            S.wait_quiet(wait)
        with engine.connect():
            pass  # open the pool's connection before the clock starts
        meter = S.Meter([], url)
        with meter:
            for i in range(0, len(bodies), per_request):
                rows = [
                    {"id": ids[j], "fqn": S.table_fqn(b), "doc": orjson.dumps(b).decode()}
                    for j, b in enumerate(bodies[i : i + per_request], start=i)
                ]
                with engine.begin() as conn:
                    conn.execute(stmt, rows)
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(plain)).scalar_one()
        engine.dispose()
        assert n == len(bodies), n
    return _row(backend, "plain executemany INSERT", "insert", len(bodies), meter, meter.own)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tables", type=int, default=5000, help="tables to upsert (default 5000)")
    ap.add_argument("--columns", type=int, default=30, help="columns per table (default 30)")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--per-request", type=int, default=1000, help="NDJSON lines per POST")
    ap.add_argument("--clients", type=int, default=1, help="concurrent bulk POSTs (default 1)")
    ap.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    ap.add_argument("--no-owners", action="store_true", help="tables without owners")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP passes")
    ap.add_argument("--no-inprocess", action="store_true", help="skip the in-process passes")
    ap.add_argument(
        "--origin", default="ingestion:bench",
        help="X-Lodestar-Origin of the writes (default ingestion:bench, as a connector would "
        "write; 'person' sends none)",
    )  # fmt: skip
    ap.add_argument(
        "--py-spy", action="store_true",
        help="profile the server (HTTP passes) and this process (in-process passes) with py-spy",
    )  # fmt: skip
    ap.add_argument("--cprofile", action="store_true", help="cProfile the in-process passes")
    ap.add_argument(
        "--breakdown", action="store_true",
        help="time the stages of the in-process write path (wall and CPU per stage)",
    )  # fmt: skip
    ap.add_argument("--top", type=int, default=15, help="rows per profile listing")
    ap.add_argument(
        "--server-gc-threshold", type=int, default=None, metavar="N",
        help="what-if: gc.set_threshold(N, 50, 50) in the server (and in-process) before the "
        "passes (default: Python's 700, 10, 10)",
    )  # fmt: skip
    ap.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="S",
        help="before each pass wait up to S seconds for the machine to be idle (shared box)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.columns > len(S.COLUMN_POOL):
        ap.error(f"--columns is at most {len(S.COLUMN_POOL)}")

    bodies = [
        S.table_body(i, columns=args.columns, owners=not args.no_owners) for i in range(args.tables)
    ]
    avg = sum(len(orjson.dumps(b)) for b in bodies) / len(bodies)
    print(f"machine: {S.machine()}; {S.load_note()}")
    print(
        f"bulk ingest: {args.tables} tables x {args.columns} columns (avg {avg:,.0f} B JSON), "
        f"{args.per_request} lines/request, {args.clients} client(s)"
    )
    rows: list[dict[str, Any]] = []
    for backend in S.backends(args.backend):
        plain = run_plain(backend, bodies, args.per_request, args.wait_quiet)
        if not args.no_http:
            rows += run_http(backend, bodies, args)
        if not args.no_inprocess:
            rows += run_inprocess(backend, bodies, args)
        rows.append(plain)
    print()
    limit = {r["backend"]: r["rate"] for r in rows if r["pass"] == "insert"}
    S.print_table(
        ["backend", "path", "pass", "tables", "seconds", "tables/s", "plain/this",
         "proc CPU s", "of it GC", "PG CPU s", "client CPU s", "others (cores)", "tables/CPU-s"],
        [
            [r["backend"], r["path"], r["pass"], r["n"], r["seconds"], r["rate"],
             f"{limit[r['backend']] / r['rate']:.1f}x", r["server_cpu"],
             "-" if r["gc_s"] is None else f"{100 * r['gc_s'] / max(r['server_cpu'], 1e-9):.0f}%",
             r["pg_cpu"], "-" if r["client_cpu"] is None else r["client_cpu"], r["others"],
             r["n"] / max(r["server_cpu"] + r["pg_cpu"], 1e-9)]
            for r in rows
        ],
    )  # fmt: skip
    print(
        "\nproc CPU s = CPU of the server process (HTTP rows) or of this process (in-process\n"
        "and plain rows); of it GC = share of that CPU spent in Python's garbage collector;\n"
        "PG CPU s = CPU of the PostgreSQL backends of that database; others = average cores\n"
        "used by everything else on the machine during the pass; tables/CPU-s = tables per\n"
        "CPU-second of proc + PG (less sensitive to a busy machine).\n"
        f"{S.load_note()}"
    )
    print()
    for r in rows:
        if r["path"].startswith("HTTP") and r["pass"] == "created":
            ratio = limit[r["backend"]] / r["rate"]
            rate_note = ""
            if r["backend"] == "sqlite":
                ok = r["rate"] >= TARGET_TABLES_PER_S
                rate_note = f" ({'meets' if ok else 'MISSES'} >= {TARGET_TABLES_PER_S:,} on SQLite)"
            print(
                f"target {r['backend']}: {r['rate']:,.0f} tables/s{rate_note}; the plain insert is "
                f"{ratio:.1f}x faster ({'meets' if ratio <= TARGET_RATIO else 'MISSES'} "
                f"within {TARGET_RATIO:.0f}x)"
            )


if __name__ == "__main__":
    main()
