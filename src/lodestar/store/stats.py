"""Planner statistics on PostgreSQL: refreshed after large writes, and a warning when nothing
else refreshes them.

The hot look-ups do not depend on statistics (store/assets.py), but the rest of the queries
(lists, counts, the change feed, a capability's own) do, and a catalog that grew from empty to
100,000 assets without an ANALYZE is planned as if it were empty. Autovacuum analyzes a table
once a tenth of it changed; where it is off (as on some busy or freshly restored servers) the
write path does it for the tables it fills: when a process has inserted at least `MIN_ROWS`
rows into a table, and at least as many as the server last counted in it (the table doubled),
it runs ANALYZE on that table's key columns once its transaction committed. Plans change at
orders of magnitude, so statistics at most 2x stale keep them right. ANALYZE reads a fixed
sample (30,000 rows at the default statistics target), so each costs about the same at any
size (20-65 ms for a 150,000-row table here), and there are log2(rows / 1,000) of them per
table: 3 while a catalog grows to 5,000 tables, 10 to a million. The inserts are counted where
they are made (`rows.insert_rows`), on the connection, and handed over by `Store.write` after
the commit. At start-up the server also
analyzes, in the background, the tables that hold data but were never analyzed (a restored
catalog that is only read would otherwise never be).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lodestar.store.tables import metadata

log = logging.getLogger("lodestar.store")

# The tables the write path fills, and the key under which a connection counts its inserts.
TABLES = ("assets", "asset_versions", "edges", "columns", "events")
INSERTED = "lodestar_inserted"
MIN_ROWS = 1000
GROWTH = 1.0
CATCH_UP_BYTES = 64 * 8192  # a table smaller than this is read whole in any plan


def _analyze_sql(table: str) -> str:
    """ANALYZE of the columns queries filter, join or sort on: not the JSON documents, whose
    sampled values (a few KB each, most of them TOASTed) made the bulk of the cost."""
    names = [c.name for c in metadata.tables[table].c if not isinstance(c.type, sa.JSON)]
    return f"ANALYZE {table} ({', '.join(names)})"


def count_inserts(conn: Connection, table: str, n: int) -> None:
    if table in TABLES:
        counts: Counter[str] = conn.info.setdefault(INSERTED, Counter())
        counts[table] += n


def take_inserts(conn: Connection) -> Counter[str] | None:
    """The inserts counted on this connection since the last call (a rolled-back write's
    too, when called at the start of a write to forget them)."""
    counts: Counter[str] | None = conn.info.pop(INSERTED, None)
    return counts


class Statistics:
    """Runs ANALYZE on a table once this process grew it enough (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._rows: dict[str, float] = {}  # the server's count at our last look
        self._failed = False
        self.analyzed: Counter[str] = Counter()  # ANALYZEs run, per table

    def _due(self, table: str) -> bool:
        n = self._pending[table]
        return n >= MIN_ROWS and n >= GROWTH * self._rows.get(table, 0.0)

    def note(self, inserted: Mapping[str, int]) -> None:
        """Count committed inserts; analyze the tables they grew enough."""
        with self._lock:
            self._pending.update(inserted)
            candidates = [t for t in inserted if self._due(t)]
        if not candidates or self._failed:
            return
        try:
            with self.engine.connect() as conn:
                self._analyze(conn, candidates)
        except sa.exc.DBAPIError as e:  # e.g. not the tables' owner: say so once, go on
            self._failed = True
            log.warning("could not refresh planner statistics (ANALYZE): %s", e.orig)

    def _analyze(self, conn: Connection, candidates: list[str]) -> None:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        # The server's count moves with every ANALYZE, ours or another process's: compare
        # with it, so N processes writing one catalog do not each analyze it.
        counted: dict[str, float] = dict(
            conn.exec_driver_sql(
                "SELECT relname, greatest(reltuples, 0) FROM pg_class "
                "WHERE oid = ANY(%s::regclass[])",
                (candidates,),
            ).all()
        )
        with self._lock:
            self._rows.update({str(t): float(n) for t, n in counted.items()})
            due = [t for t in candidates if self._due(t)]
            for t in due:
                self._pending[t] = 0
        for table in due:
            conn.exec_driver_sql(_analyze_sql(table))
            self.analyzed[table] += 1
        if due:
            log.info("refreshed planner statistics of %s", ", ".join(due))

    def catch_up(self) -> list[str]:
        """Analyze the tables the server has never analyzed although they hold data (a
        restored catalog): without it, one that is only read would never be. Returns them."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                rows = conn.exec_driver_sql(
                    "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[]) "
                    "AND reltuples < 0 AND pg_relation_size(oid) > %s",
                    (list(TABLES), CATCH_UP_BYTES),
                ).all()
                never = [str(r[0]) for r in rows]
                for table in never:
                    conn.exec_driver_sql(_analyze_sql(table))
                    self.analyzed[table] += 1
        except sa.exc.DBAPIError as e:
            log.warning("could not refresh planner statistics (ANALYZE): %s", e.orig)
            return []
        if never:
            log.info("analyzed %s, which held data but had never been analyzed", ", ".join(never))
        return never


def autovacuum_off(conn: Connection) -> bool:
    return str(conn.exec_driver_sql("SHOW autovacuum").scalar()).lower() == "off"
