"""A unit of work killed with SIGKILL part-way leaves nothing of it, on SQLite and PostgreSQL.

A child process opens the catalog, starts a unit of work, writes assets (bulk and single),
lineage, observations and a deletion through it, says so on stdout, and waits inside the open
transaction; the test kills it there (no rollback, no shutdown) and compares every table with
what it held before. Then a write from this process goes through: nothing stayed locked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import BulkLine, Catalog, Key, WriteContext
from lodestar.store import open_store
from lodestar.store.tables import assets, columns, edges, events, observations, versions

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent(
    """
    import sys, time
    from lodestar.auth.principal import Principal
    from lodestar.catalog import BulkLine, Catalog, EdgeIn, Key, WriteContext
    from lodestar.catalog.observations import Observation
    from lodestar.model.records import Origin
    from lodestar.store import open_store

    ctx = WriteContext.for_principal(Principal("ing", "bot", origin=Origin("ingestion", "x")))
    catalog = Catalog(open_store(sys.argv[1]))
    with catalog.transaction(ctx) as tx:
        lines = [
            BulkLine("table", {"name": f"t{i:03d}", "schema": "wh.db.raw",
                               "columns": [{"name": f"c{j}", "data_type": "int"}
                                           for j in range(20)]})
            for i in range(600)
        ]
        assert all(o.error is None for o in tx.upsert_many(lines))
        tx.upsert("table", {"name": "kept", "schema": "wh.db.raw", "description": "changed"})
        assert tx.add_edges([EdgeIn("table", "wh.db.raw.kept", "table", "wh.db.raw.t000")]).added
        assert tx.record([Observation("table", "wh.db.raw.kept", "row_count", {"n": 1})]) == []
        assert tx.delete("table", Key(fqn="wh.db.raw.doomed"))
        print("in-transaction", flush=True)
        time.sleep(120)
    """
)


def _rows(url: str) -> dict[str, list[str]]:
    store = open_store(url)
    try:
        with store.read() as conn:
            return {
                t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
                for t in (assets, versions, edges, events, observations, columns)
            }
    finally:
        store.dispose()


def test_a_unit_of_work_killed_part_way_leaves_nothing(db_url: str) -> None:
    admin = WriteContext.for_principal(Principal("alice", "admin"))
    store = open_store(db_url)
    try:
        catalog = Catalog(store)
        for kind, body in (
            ("service", {"name": "wh", "category": "database", "service_type": "postgres"}),
            ("database", {"name": "db", "service": "wh"}),
            ("schema", {"name": "raw", "database": "wh.db"}),
            ("table", {"name": "kept", "schema": "wh.db.raw"}),
            ("table", {"name": "doomed", "schema": "wh.db.raw"}),
        ):
            catalog.upsert(kind, body, admin)
    finally:
        store.dispose()
    before = _rows(db_url)

    with subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline()
        if line != b"in-transaction\n":
            child.kill()
            pytest.fail(f"the child did not reach its transaction: {child.stderr.read()!r}")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL

    assert _rows(db_url) == before
    store = open_store(db_url)
    try:
        out = Catalog(store).bulk_upsert(
            [BulkLine("table", {"name": "after", "schema": "wh.db.raw"})], admin
        )
        assert out[0].status == "created"
        assert Catalog(store).get("table", Key(fqn="wh.db.raw.doomed")).deleted is False
    finally:
        store.dispose()
