"""SQL lineage: queries/s and accuracy of Lodestar's analyzer against its peers, in one run.

Generates `--queries` realistic statements (deterministic `--seed`) over a warehouse of
raw/stage/mart tables, each with its known answer (tables read, tables written, column
pairs), in PostgreSQL's dialect: INSERT ... SELECT with and without column lists, CREATE
TABLE AS with joins, CTEs (several, aggregated), derived tables, UNION ALL, window
functions, CASE, COALESCE, CREATE VIEW, MERGE, UPDATE ... FROM and plain SELECTs. Every
tool gets the tables' column lists where it takes them.

Each tool runs in its own subprocess (bench/_sql_lineage_runner.py): Lodestar and bare
`sqlglot.parse` (the floor: parsing alone, the same sqlglot Lodestar uses) with this
project's python; DataHub's parser (acryl-datahub, `sqlglot_lineage`), sqllineage and
openlineage-sql with the peer venv's (`--peers`, default /work/peers/sql; telemetry off).
A query counts as right at table level when both table sets match, at column level when
its set of (source table, source column, target table, target column) matches.

The peers' virtualenv (never a dependency of this project):

    python3 -m venv /work/peers/sql
    /work/peers/sql/bin/pip install 'acryl-datahub[sql-parser]' sqllineage openlineage-sql

    .venv/bin/python bench/sql_lineage.py --no-peers
    .venv/bin/python bench/sql_lineage.py --repeat 3 --passes 2 --peers /work/peers/sql
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_sql_lineage_runner.py"

WORDS = [
    "id",
    "customer_id",
    "order_id",
    "product_id",
    "amount",
    "price",
    "qty",
    "region",
    "country",
    "status",
    "created_at",
    "updated_at",
    "name",
    "email",
    "category",
    "discount",
    "tax",
    "channel",
    "currency",
    "score",
    "segment",
    "city",
    "store_id",
    "weight",
]
SCHEMAS = {"raw": 12, "stage": 10, "mart": 10}

Pair = tuple[str, str, str, str]


@dataclass
class Query:
    sql: str
    sources: set[str]
    targets: set[str]
    pairs: set[Pair] = field(default_factory=set)


class Generator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.schema: dict[str, list[str]] = {}
        for schema, count in SCHEMAS.items():
            for i in range(count):
                columns = ["id", *self.r.sample(WORDS[1:], self.r.randint(5, 11))]
                self.schema[f"{schema}.t{i:02d}"] = columns
        self.n = 0

    def table(self, schema: str | None = None) -> str:
        names = [t for t in self.schema if schema is None or t.startswith(schema + ".")]
        return self.r.choice(names)

    def cols(self, table: str, k: int) -> list[str]:
        pool = self.schema[table]
        return self.r.sample(pool, min(k, len(pool)))

    def new_target(self) -> str:
        self.n += 1
        return f"mart.out_{self.n:04d}"

    def common(self, a: str, b: str) -> str:
        shared = [c for c in self.schema[a] if c in self.schema[b]]
        return shared[0] if shared else "id"

    # -- templates -----------------------------------------------------------------------

    def insert_listed(self) -> Query:
        src, tgt = self.table("raw"), self.new_target()
        cols = self.cols(src, self.r.randint(2, 5))
        names = [f"c_{c}" for c in cols]
        sql = (
            f"INSERT INTO {tgt} ({', '.join(names)}) SELECT {', '.join('s.' + c for c in cols)} "
            f"FROM {src} s WHERE s.id > {self.r.randint(1, 999)}"
        )
        return Query(
            sql, {src}, {tgt}, {(src, c, tgt, n) for c, n in zip(cols, names, strict=True)}
        )

    def ctas_join(self) -> Query:
        a, b = self.table("raw"), self.table("stage")
        while b == a:
            b = self.table("stage")
        tgt = self.new_target()
        ca, cb = self.cols(a, 2), self.cols(b, 2)
        key = self.common(a, b)
        sql = (
            f"CREATE TABLE {tgt} AS SELECT x.{ca[0]} AS a_{ca[0]}, y.{cb[0]} AS b_{cb[0]}, "
            f"x.{ca[1]} + y.{cb[1]} AS mixed FROM {a} x JOIN {b} y ON x.{key} = y.{key} "
            f"WHERE y.id IS NOT NULL"
        )
        pairs = {
            (a, ca[0], tgt, f"a_{ca[0]}"),
            (b, cb[0], tgt, f"b_{cb[0]}"),
            (a, ca[1], tgt, "mixed"),
            (b, cb[1], tgt, "mixed"),
        }
        return Query(sql, {a, b}, {tgt}, pairs)

    def cte_agg(self) -> Query:
        src, tgt = self.table(), self.new_target()
        key, val = self.cols(src, 2)
        sql = (
            f"INSERT INTO {tgt} WITH agg AS (SELECT s.{key}, SUM(s.{val}) AS total, "
            f"COUNT(*) AS n FROM {src} s GROUP BY s.{key}) "
            f"SELECT agg.{key}, agg.total FROM agg WHERE agg.n > 1"
        )
        return Query(sql, {src}, {tgt}, {(src, key, tgt, key), (src, val, tgt, "total")})

    def derived(self) -> Query:
        src, tgt = self.table("stage"), self.new_target()
        key, val = self.cols(src, 2)
        sql = (
            f"INSERT INTO {tgt} SELECT d.{key}, d.top FROM (SELECT s.{key}, MAX(s.{val}) AS top "
            f"FROM {src} s GROUP BY s.{key}) d"
        )
        return Query(sql, {src}, {tgt}, {(src, key, tgt, key), (src, val, tgt, "top")})

    def union(self) -> Query:
        a, b = self.table("raw"), self.table("raw")
        while b == a:
            b = self.table("raw")
        tgt = self.new_target()
        ca, cb = self.cols(a, 2), self.cols(b, 2)
        sql = (
            f"INSERT INTO {tgt} SELECT p.{ca[0]} AS k, p.{ca[1]} AS v FROM {a} p "
            f"UNION ALL SELECT q.{cb[0]} AS k, q.{cb[1]} AS v FROM {b} q"
        )
        pairs = {
            (a, ca[0], tgt, "k"),
            (a, ca[1], tgt, "v"),
            (b, cb[0], tgt, "k"),
            (b, cb[1], tgt, "v"),
        }
        return Query(sql, {a, b}, {tgt}, pairs)

    def window(self) -> Query:
        src, tgt = self.table(), self.new_target()
        part, order, val = self.cols(src, 3)
        sql = (
            f"CREATE TABLE {tgt} AS SELECT w.id, w.{val}, ROW_NUMBER() OVER "
            f"(PARTITION BY w.{part} ORDER BY w.{order} DESC) AS rn FROM {src} w"
        )
        pairs = {
            (src, "id", tgt, "id"),
            (src, val, tgt, val),
            (src, part, tgt, "rn"),
            (src, order, tgt, "rn"),
        }
        return Query(sql, {src}, {tgt}, pairs)

    def view_case(self) -> Query:
        src = self.table("stage")
        self.n += 1
        tgt = f"mart.v_{self.n:04d}"
        val, other = self.cols(src, 2)
        sql = (
            f"CREATE VIEW {tgt} AS SELECT v.id, CASE WHEN v.{val} > 100 THEN 'big' ELSE 'small' "
            f"END AS size, COALESCE(v.{other}, v.{val}) AS filled FROM {src} v"
        )
        pairs = {
            (src, "id", tgt, "id"),
            (src, val, tgt, "size"),
            (src, other, tgt, "filled"),
            (src, val, tgt, "filled"),
        }
        return Query(sql, {src}, {tgt}, pairs)

    def merge(self) -> Query:
        tgt, src = self.table("mart"), self.table("stage")
        val = self.cols(src, 1)[0]
        dst = self.r.choice([c for c in self.schema[tgt] if c != "id"])
        sql = (
            f"MERGE INTO {tgt} t USING {src} s ON t.id = s.id "
            f"WHEN MATCHED THEN UPDATE SET {dst} = s.{val} "
            f"WHEN NOT MATCHED THEN INSERT (id, {dst}) VALUES (s.id, s.{val})"
        )
        return Query(sql, {src}, {tgt}, {(src, val, tgt, dst), (src, "id", tgt, "id")})

    def update_from(self) -> Query:
        tgt, src = self.table("mart"), self.table("raw")
        val = self.cols(src, 1)[0]
        dst = self.r.choice([c for c in self.schema[tgt] if c != "id"])
        sql = f"UPDATE {tgt} SET {dst} = s.{val} FROM {src} s WHERE {tgt}.id = s.id"
        return Query(sql, {src}, {tgt}, {(src, val, tgt, dst)})

    def select(self) -> Query:
        a, b = self.table(), self.table()
        while b == a:
            b = self.table()
        ca, cb = self.cols(a, 1)[0], self.cols(b, 1)[0]
        sql = (
            f"SELECT x.{ca}, y.{cb} FROM {a} x LEFT JOIN {b} y ON x.id = y.id "
            f"WHERE x.{ca} IS NOT NULL ORDER BY 1 LIMIT {self.r.randint(10, 500)}"
        )
        return Query(sql, {a, b}, set())

    def two_ctes(self) -> Query:
        a, b = self.table("raw"), self.table("stage")
        tgt = self.new_target()
        va, vb = self.cols(a, 1)[0], self.cols(b, 1)[0]
        sql = (
            f"WITH s1 AS (SELECT r.id, SUM(r.{va}) AS total FROM {a} r GROUP BY r.id), "
            f"s2 AS (SELECT g.id, COUNT(g.{vb}) AS cnt FROM {b} g GROUP BY g.id) "
            f"INSERT INTO {tgt} SELECT s1.id, s1.total, s2.cnt FROM s1 JOIN s2 ON s1.id = s2.id"
        )
        pairs = {(a, "id", tgt, "id"), (a, va, tgt, "total"), (b, vb, tgt, "cnt")}
        return Query(sql, {a, b}, {tgt}, pairs)

    def generate(self, count: int) -> list[Query]:
        templates = [
            self.insert_listed,
            self.ctas_join,
            self.cte_agg,
            self.derived,
            self.union,
            self.window,
            self.view_case,
            self.merge,
            self.update_from,
            self.select,
            self.two_ctes,
        ]
        return [self.r.choice(templates)() for _ in range(count)]


def _norm_table(name: str) -> str:
    name = name.strip().strip('"').lower()
    return name.removeprefix("<default>.")


def score(queries: list[Query], answers: list[dict[str, Any] | None]) -> tuple[float, float]:
    tables = columns = 0
    for q, a in zip(queries, answers, strict=True):
        if a is None:
            continue
        if {_norm_table(t) for t in a["sources"]} == q.sources and {
            _norm_table(t) for t in a["targets"]
        } == q.targets:
            tables += 1
        got = {
            (_norm_table(s), sc.lower(), _norm_table(t), tc.lower()) for s, sc, t, tc in a["pairs"]
        }
        if got == q.pairs:
            columns += 1
    return tables / len(queries), columns / len(queries)


def run_tool(
    python: str, tool: str, path: Path, repeat: int, env: dict[str, str]
) -> dict[str, Any]:
    done = subprocess.run(
        [python, str(RUNNER), "--tool", tool, "--queries", str(path), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=5, help="rounds per tool; the fastest counts")
    ap.add_argument("--passes", type=int, default=2, help="passes over the queries per round")
    ap.add_argument("--sqllineage-repeat", type=int, default=1, help="it is slow: fewer runs")
    ap.add_argument("--peers", default="/work/peers/sql", help="the peers' virtualenv")
    ap.add_argument("--no-peers", action="store_true", help="Lodestar and sqlglot only")
    ap.add_argument("--skip", action="append", default=[], help="leave a peer out (repeatable)")
    args = ap.parse_args()

    gen = Generator(args.seed)
    queries = gen.generate(args.queries)
    env = {
        **os.environ,
        "DATAHUB_TELEMETRY_ENABLED": "false",
        "SQLLINEAGE_DEFAULT_SCHEMA": "",
        "PYTHONPATH": str(HERE.parent / "src"),
    }
    peer_python = str(Path(args.peers) / "bin" / "python")
    plan = [("sqlglot", sys.executable, args.repeat), ("lodestar", sys.executable, args.repeat)]
    if not args.no_peers:
        if not Path(peer_python).exists():
            raise SystemExit(f"no peer venv at {args.peers}: create it or pass --no-peers")
        peer_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        plan += [
            ("datahub", peer_python, args.repeat),
            ("openlineage", peer_python, args.repeat),
            ("sqllineage", peer_python, args.sqllineage_repeat),
        ]
        plan = [p for p in plan if p[0] not in args.skip]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queries.json"
        path.write_text(
            json.dumps(
                {
                    "schema": gen.schema,
                    "queries": [{"sql": q.sql} for q in queries],
                }
            )
        )
        # Rounds interleave the tools, so load from elsewhere on the machine spreads over all.
        results: dict[str, dict[str, Any]] = {}
        for round_ in range(max(r for _, _, r in plan)):
            for tool, python, repeat in plan:
                if round_ >= repeat:
                    continue
                passes = 1 if tool == "sqllineage" else args.passes
                tool_env = env if python == sys.executable else peer_env
                got = run_tool(python, tool, path, passes, tool_env)
                kept = results.setdefault(tool, {**got, "seconds": [], "cpu": []})
                kept["seconds"] += got["seconds"]
                kept["cpu"] += got["cpu"]
                print(
                    f"  round {round_ + 1}: {tool} {got['seconds'][0]:.2f} s wall, "
                    f"{got['cpu'][0]:.2f} s CPU",
                    file=sys.stderr,
                )
    rows = []
    for tool, _, _ in plan:
        result = results[tool]
        wall, cpu = min(result["seconds"]), min(result["cpu"])
        table, column = score(queries, result["answers"]) if tool != "sqlglot" else (0.0, 0.0)
        rows.append((tool, wall, cpu, table, column, result["failures"]))
    floor = next(r[2] for r in rows if r[0] == "sqlglot")
    ours = next(r[2] for r in rows if r[0] == "lodestar")
    print(
        f"{len(queries)} queries, seed {args.seed}; fastest of {args.repeat} interleaved rounds "
        f"(sqllineage {args.sqllineage_repeat}); CPU seconds of the tool's process"
    )
    print(
        f"{'tool':<12} {'wall s':>7} {'CPU s':>7} {'queries/s':>10} {'x floor':>8} "
        f"{'table':>7} {'column':>7} {'raised':>6}"
    )
    for tool, wall, cpu, table, column, failures in rows:
        acc = f"{table:>7.1%} {column:>7.1%}" if tool != "sqlglot" else f"{'-':>7} {'-':>7}"
        print(
            f"{tool:<12} {wall:>7.2f} {cpu:>7.2f} {len(queries) / cpu:>10.0f} "
            f"{cpu / floor:>8.2f} {acc} {failures:>6}"
        )
    dh = next((r[2] for r in rows if r[0] == "datahub"), None)
    if dh is not None:
        print(
            f"Lodestar: {dh / ours:.1f}x faster than DataHub's parser (CPU), "
            f"{ours / floor:.2f}x the time of parsing alone"
        )


if __name__ == "__main__":
    main()
