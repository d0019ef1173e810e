"""Query-log sources: lineage and query statistics from the queries a database ran.

Each query is fingerprinted (literals normalised) and analysed: a query that writes (INSERT
... SELECT, CREATE TABLE AS, MERGE, UPDATE ... FROM) becomes lineage edges from the tables it
read into the tables it wrote, with `via = "query:<fingerprint>"` and the fingerprint (and,
with `keep_sql`, the text) as the edge's provenance. Every parsed query, reads too, adds to its
row in the `queries` table (usage/queries.py).

Both sources are append-only: a run reads what is new since the last one (a file from the byte
where the last run stopped; `pg_stat_statements` the calls since the counts it last saw), and
remembers that in the run state of the units it commits, in the same transaction as their
facts. An edge seen in an earlier run is not stale because this run's part of the log lacks
it; with `lineage_max_age_days` set, one not seen again for that long is retracted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from pydantic import Field, field_validator

from lodestar.ingest.connectors.query_log.records import (
    Chunk,
    FieldNames,
    QueryRecord,
    read_chunks,
)
from lodestar.ingest.connectors.sql_config import ServerConfig, SQLConfig
from lodestar.ingest.errors import PermanentError
from lodestar.ingest.source import Lineage, Source, SourceConfig, SourceContext, Unit
from lodestar.ingest.sql_lineage import Analysis, Naming
from lodestar.ingest.sql_lineage import analyze as analyze_sql
from lodestar.model import fqn as fqn_mod
from lodestar.usage.queries import QueryFact

MAX_PROBLEMS = 20  # per run, in the report


class _Common(SQLConfig):
    keep_sql: bool = Field(
        False,
        description="Keep the query text in the `queries` table and on lineage edges. Off: "
        "only the fingerprint is kept (query text can hold personal data).",
    )
    lineage_max_age_days: int | None = Field(
        None,
        ge=1,
        description="Retract an edge this pipeline has not seen in a query for this many days; "
        "unset: its edges stay until a person removes them.",
    )
    chunk_records: int = Field(
        5000, ge=1, le=100_000, description="Records per unit (per commit and checkpoint)."
    )


class QueryLogConfig(_Common):
    path: Path = Field(
        description="A JSON Lines or CSV file of query records, or a directory of them "
        "(`*.jsonl`, `*.json`, `*.ndjson`, `*.csv`, read in name order)."
    )
    format: Literal["auto", "jsonl", "csv"] = Field(
        "auto", description="Record format; `auto` goes by the file's suffix."
    )
    dialect: str = Field("postgres", description="SQL dialect of the queries (sqlglot's names).")
    database: str = Field(
        description="The database a query runs in when its record names none (the second "
        "part of the FQNs, as the database connector names it)."
    )
    default_schema: str | None = Field(
        None, description="The schema of unqualified table names when a record names none."
    )
    fields: FieldNames = Field(
        default_factory=FieldNames,
        description="Which record field holds the query, user, start time, duration...",
    )

    @field_validator("database")
    @classmethod
    def _database(cls, v: str) -> str:
        try:
            return fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(str(e)) from None

    @field_validator("dialect")
    @classmethod
    def _dialect(cls, v: str) -> str:
        from lodestar.lineage.sql import UnknownDialectError, sqlglot_dialect

        try:
            sqlglot_dialect(v)
        except UnknownDialectError as e:
            raise ValueError(str(e)) from None
        return v


class PgStatStatementsConfig(_Common, ServerConfig):
    port: int = Field(5432, ge=1, le=65535)
    database: str = Field(
        "postgres", description="The database to connect to and read the view from."
    )
    default_schema: str = Field(
        "public", description="The schema of unqualified table names (the search path)."
    )
    min_calls: int = Field(1, ge=1, description="Leave out statements run fewer times.")


@dataclass(slots=True)
class _Batch:
    """One unit's worth of records turned into facts and edges."""

    facts: dict[str, QueryFact] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], list[tuple[str, str]]] = field(default_factory=dict)
    sql_of: dict[str, str] = field(default_factory=dict)


class _QuerySource(Source):
    append_only: ClassVar[bool] = True

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, _Common)
        self.common = config
        self._previous: Mapping[str, str] = {}
        self._analysed: dict[tuple[str, str | None, str | None], tuple[str, Analysis]] = {}
        self._problems = 0

    @property
    def dialect(self) -> str:
        raise NotImplementedError

    def skip_unchanged(self, previous: Mapping[str, str]) -> None:
        self._previous = previous

    def scope(self) -> list[tuple[str, str]]:
        return []  # no assets of its own

    def lineage_expires_before(self) -> int | None:
        days = self.common.lineage_max_age_days
        return None if days is None else int((time.time() - days * 86400) * 1_000_000)

    def problem(self, message: str) -> None:
        self._problems += 1
        if self._problems <= MAX_PROBLEMS:
            self.ctx.warn(message)
        elif self._problems == MAX_PROBLEMS + 1:
            self.ctx.warn("more query records could not be read; only the first are listed")

    def _analyse(
        self, r: QueryRecord, default_db: str, default_schema: str | None
    ) -> tuple[str, Analysis]:
        from lodestar.lineage.sql import fingerprint

        database = r.database or default_db
        schema = r.schema or default_schema
        fp = fingerprint(r.sql, self.dialect)
        key = (fp, database, schema)
        hit = self._analysed.get(key)
        if hit is None:
            naming = Naming(self.common.service, database, schema, self.dialect)
            hit = self._analysed[key] = (fp, analyze_sql(r.sql, naming))
            if len(self._analysed) > 50_000:
                self._analysed.clear()
        return hit

    def unit(
        self,
        key: str,
        fingerprint: str,
        records: list[QueryRecord],
        default_db: str,
        default_schema: str | None,
        now_us: int,
    ) -> Unit:
        batch = _Batch()
        for r in records:
            fp, found = self._analyse(r, default_db, default_schema)
            if found.errors and not (found.sources or found.targets):
                self.problem(f"query {r.query_id or fp}: not parsed: {found.errors[0]}")
                continue
            start = r.start_us if r.start_us is not None else now_us
            fact = batch.facts.get(fp)
            if fact is None:
                fact = batch.facts[fp] = QueryFact(
                    fingerprint=fp,
                    dialect=self.dialect,
                    kind="write" if found.targets else "read",
                    first_seen=start,
                    last_seen=start,
                    count=0,
                    total_duration_ms=0.0,
                    sources=list(found.sources),
                    targets=list(found.targets),
                    sql=r.sql if self.common.keep_sql else None,
                )
            fact.first_seen, fact.last_seen = (
                min(fact.first_seen, start),
                max(fact.last_seen, start),
            )
            fact.count += r.count
            fact.total_duration_ms += r.duration_ms
            if r.user and r.user not in fact.users and len(fact.users) < 100:
                fact.users.append(r.user)
            for (src, tgt), cols in found.flows.items():
                pairs = batch.edges.setdefault((src, tgt, fp), [])
                pairs.extend(c for c in cols if c not in pairs)
                if self.common.keep_sql:
                    batch.sql_of.setdefault(fp, r.sql)
        unit = Unit(key, fingerprint=fingerprint, queries=list(batch.facts.values()))
        for (src, tgt, fp), cols in batch.edges.items():
            props: dict[str, Any] = {"query": fp}
            if fp in batch.sql_of:
                props["sql"] = batch.sql_of[fp][:16_384]
            unit.lineage.append(
                Lineage(
                    "table", src, "table", tgt, via=f"query:{fp}", columns=tuple(cols), props=props
                )
            )
        return unit


class QueryLogSource(_QuerySource):
    """Query records from JSON Lines or CSV files."""

    config_model: ClassVar[type[SourceConfig]] = QueryLogConfig
    description: ClassVar[str] = (
        "Query logs (JSON Lines or CSV records): lineage from the queries that write, and "
        "query statistics by fingerprint; reads only what is new since the last run."
    )

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, QueryLogConfig)
        self.cfg = config

    @property
    def dialect(self) -> str:
        return self.cfg.dialect

    def files(self) -> list[Path]:
        path = self.cfg.path
        if path.is_dir():
            suffixes = {".jsonl", ".json", ".ndjson", ".csv"}
            return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if path.is_file():
            return [path]
        raise PermanentError(f"query log {path} does not exist: check `path`")

    def check(self) -> None:
        for p in self.files():
            with p.open("rb"):
                pass

    def _format(self, path: Path) -> Literal["jsonl", "csv"]:
        if self.cfg.format != "auto":
            return self.cfg.format
        return "csv" if path.suffix.lower() == ".csv" else "jsonl"

    def _position(self, name: str, size: int) -> int:
        prefix = f"query-log:{name}@"
        ends = [
            int(fp) for k, fp in self._previous.items() if k.startswith(prefix) and fp.isdigit()
        ]
        pos = max(ends, default=0)
        if pos > size:
            self.ctx.warn(f"{name} is shorter than when last read: read again from the start")
            return 0
        return pos

    def units(self) -> Iterator[Unit]:
        now_us = int(time.time() * 1_000_000)
        root = self.cfg.path if self.cfg.path.is_dir() else self.cfg.path.parent
        for path in self.files():
            name = str(path.relative_to(root))
            start = self._position(name, path.stat().st_size)
            chunks: Iterator[Chunk] = read_chunks(
                path, start, self._format(path), self.cfg.fields, self.cfg.chunk_records
            )
            for chunk in chunks:
                for p in chunk.problems:
                    self.problem(p)
                yield self.unit(
                    f"query-log:{name}@{chunk.start}",
                    str(chunk.end),
                    chunk.records,
                    self.cfg.database,
                    self.cfg.default_schema,
                    now_us,
                )


_PGSS = sa.text(
    """
    SELECT d.datname, s.userid::regrole::text AS username, s.queryid, s.query, s.calls,
           s.total_exec_time
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE s.calls >= :min_calls AND s.queryid IS NOT NULL
    ORDER BY d.datname, s.queryid, s.userid
    """
)


class PgStatStatementsSource(_QuerySource):
    """PostgreSQL's `pg_stat_statements`: cumulative counts per statement, read as the calls
    since the counts this pipeline last committed."""

    config_model: ClassVar[type[SourceConfig]] = PgStatStatementsConfig
    description: ClassVar[str] = (
        "PostgreSQL pg_stat_statements: lineage from the statements that write, and query "
        "statistics by fingerprint, counting the calls since the last run."
    )

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, PgStatStatementsConfig)
        self.cfg = config
        self._engine: sa.Engine | None = None

    @property
    def dialect(self) -> str:
        return "postgres"

    def engine(self) -> sa.Engine:
        if self._engine is None:
            c = self.cfg
            url = sa.URL.create(
                "postgresql+psycopg",
                username=c.username,
                password=c.secret(),
                host=c.host,
                port=c.port,
                database=c.database,
            )
            self._engine = sa.create_engine(
                url, connect_args={"connect_timeout": c.connect_timeout}, poolclass=sa.NullPool
            )
        return self._engine

    def _rows(self) -> list[Any]:
        from lodestar.ingest.connectors.sql_common import connect_error, driver_message

        try:
            with self.engine().connect() as conn:
                return list(conn.execute(_PGSS, {"min_calls": self.cfg.min_calls}).all())
        except sa.exc.ProgrammingError as e:
            raise PermanentError(
                f"cannot read pg_stat_statements at {self.cfg.where()}: {driver_message(e)} "
                "(CREATE EXTENSION pg_stat_statements in that database; the server needs "
                "shared_preload_libraries = 'pg_stat_statements')"
            ) from None
        except sa.exc.DBAPIError as e:
            raise connect_error(e, "PostgreSQL", self.cfg.where()) from e

    def check(self) -> None:
        self.ctx.retry(f"read pg_stat_statements at {self.cfg.where()}", self._rows)

    def units(self) -> Iterator[Unit]:
        now_us = int(time.time() * 1_000_000)
        allows = self.ctx.filters.databases.allows
        rows = self.ctx.retry(f"read pg_stat_statements at {self.cfg.where()}", self._rows)
        for datname, user, queryid, query, calls, total_ms in rows:
            if not allows(datname) or not query:
                continue
            try:
                fqn_mod.check_part(datname)
            except fqn_mod.FQNError:
                continue
            key = f"pg_stat_statements:{datname}:{user}:{queryid}"
            seen = f"{int(calls)}:{float(total_ms):.3f}"
            calls_before, ms_before = _counts(self._previous.get(key))
            if int(calls) == calls_before:
                continue  # not run since: nothing to add
            if int(calls) < calls_before:  # the counters were reset
                calls_before, ms_before = 0, 0.0
            record = QueryRecord(
                sql=str(query),
                user=user,
                start_us=now_us,
                duration_ms=max(0.0, float(total_ms) - ms_before),
                database=datname,
                query_id=str(queryid),
                count=int(calls) - calls_before,
            )
            yield self.unit(key, seen, [record], datname, self.cfg.default_schema, now_us)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _counts(fingerprint: str | None) -> tuple[int, float]:
    if not fingerprint:
        return 0, 0.0
    calls, _, ms = fingerprint.partition(":")
    try:
        return int(calls), float(ms)
    except ValueError:
        return 0, 0.0
