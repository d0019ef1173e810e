"""A derived writer registered for the process sees every write, whoever makes it.

The writer is a plugin: a module and an entry point (`lodestar.derived_writers`) in a folder
put on PYTHONPATH, as an installed package would be. It keeps its own tables in the catalog's
database (outside the declared schema, so the schema check must leave them alone). The demo,
`lodestar ingest`, `lodestar pipelines run`, and a server (PUT, bulk, lineage edges, and a run
its scheduler makes) all write into one catalog; the writer must have seen each, and
`lodestar db reindex probe` must rebuild exactly what it saw.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from lodestar.catalog import derived
from lodestar.schema import drift, undeclared_tables
from lodestar.store import open_store
from serving import serving

pytestmark = pytest.mark.slow

PLUGIN = textwrap.dedent(
    '''
    """A derived writer for the tests: the latest view of every asset, and asserted edges."""
    import sqlalchemy as sa

    DDL = (
        "CREATE TABLE IF NOT EXISTS probe_assets (asset_id VARCHAR(36) PRIMARY KEY, "
        "fqn TEXT NOT NULL, kind TEXT NOT NULL, deleted BOOLEAN NOT NULL, tags TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS probe_edges (from_id VARCHAR(36), relation TEXT, "
        "to_id VARCHAR(36), source TEXT, PRIMARY KEY (from_id, relation, to_id, source))",
    )


    class ProbeWriter:
        name = "probe"

        def _ensure(self, conn):
            for ddl in DDL:
                conn.exec_driver_sql(ddl)

        def apply(self, conn, batch):
            self._ensure(conn)
            for ap in batch.assets:
                a = ap.asset
                conn.execute(sa.text("DELETE FROM probe_assets WHERE asset_id = :i"), {"i": a.id})
                if ap.event_type != "entity_hard_deleted":
                    conn.execute(
                        sa.text("INSERT INTO probe_assets VALUES (:i, :f, :k, :d, :t)"),
                        {"i": a.id, "f": a.fqn, "k": a.kind, "d": a.deleted,
                         "t": ",".join(a.doc.get("tags", []))},
                    )
            for e in batch.edges:
                key = {"f": e.from_id, "r": e.relation, "t": e.to_id, "s": e.source}
                conn.execute(
                    sa.text("DELETE FROM probe_edges WHERE from_id = :f AND relation = :r "
                            "AND to_id = :t AND source = :s"),
                    key,
                )
                if e.action == "added":
                    conn.execute(sa.text("INSERT INTO probe_edges VALUES (:f, :r, :t, :s)"), key)

        def clear(self, conn):
            self._ensure(conn)
            conn.exec_driver_sql("DELETE FROM probe_assets")
            conn.exec_driver_sql("DELETE FROM probe_edges")

        def manages(self, object_name):
            return object_name.startswith("probe_")
    '''
)


def _plugin_dir(root: Path) -> Path:
    root.mkdir()
    (root / "lodestar_probe_writer.py").write_text(PLUGIN)
    info = root / "lodestar_probe_writer-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lodestar-probe-writer\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text(
        "[lodestar.derived_writers]\nprobe = lodestar_probe_writer:ProbeWriter\n"
    )
    return root


def _env(data_dir: Path, plugin: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["LODESTAR_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _lodestar(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lodestar.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"lodestar {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _sqlite_source(path: Path, *tables: str) -> None:
    with sqlite3.connect(path) as conn:
        for t in tables:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, note TEXT)")
    conn.close()


def _recipe(directory: Path, name: str, source: Path) -> Path:
    path = directory / f"{name}.yml"
    path.write_text(
        json.dumps(
            {
                "pipeline": name,
                "source": {"type": "sqlite", "config": {"path": str(source), "service": name}},
            }
        )
    )
    return path


def _probe(url: str) -> tuple[dict[str, tuple[str, str, bool, str]], set[tuple[str, ...]]]:
    store = open_store(url)
    try:
        with store.read() as conn:
            assets = {
                str(r[0]): (str(r[1]), str(r[2]), bool(r[3]), str(r[4]))
                for r in conn.exec_driver_sql("SELECT * FROM probe_assets")
            }
            edges = {tuple(map(str, r)) for r in conn.exec_driver_sql("SELECT * FROM probe_edges")}
        return assets, edges
    finally:
        store.dispose()


def test_a_registered_writer_sees_every_entry_point_and_rebuilds_what_it_saw(
    tmp_path: Path,
) -> None:
    plugin = _plugin_dir(tmp_path / "plugin")
    demo_dir = tmp_path / "data" / "demo"
    env = _env(tmp_path / "data", plugin)
    url = f"sqlite:///{demo_dir / 'catalog.db'}"
    here = _env(tmp_path / "data", plugin, LODESTAR_DATABASE_URL=url)

    # The demo loads its sample through the catalog.
    _lodestar(env, "demo", "--no-serve", "--data-dir", str(demo_dir))
    # `lodestar ingest`, then `lodestar pipelines run` after the source grew a table.
    shop = tmp_path / "shop.sqlite"
    _sqlite_source(shop, "orders")
    _lodestar(here, "ingest", str(_recipe(tmp_path, "shop", shop)))
    _sqlite_source(shop, "refunds")
    _lodestar(here, "pipelines", "run", "shop")
    # A second pipeline, stored now, that the server's scheduler runs when asked.
    crm = tmp_path / "crm.sqlite"
    _sqlite_source(crm, "leads")
    _lodestar(here, "ingest", str(_recipe(tmp_path, "crm", crm)))
    _sqlite_source(crm, "accounts")
    token = _lodestar(here, "token", "create", "--role", "admin", "--name", "probe-admin").strip()

    with serving(here, tmp_path / "serve.log") as base:
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=30) as c:
            r = c.put("/api/v1/tables", json={"name": "via_put", "schema": "shop.shop.main"})
            assert r.status_code in (200, 201), r.text
            bulk = json.dumps({"kind": "table", "name": "via_bulk", "schema": "shop.shop.main"})
            r = c.post(
                "/api/v1/bulk",
                content=bulk + "\n",
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 200 and '"error"' not in r.text, r.text
            edge = {
                "from": {"kind": "table", "fqn": "shop.shop.main.orders"},
                "to": {"kind": "table", "fqn": "shop.shop.main.via_put"},
            }
            r = c.post("/api/v1/lineage/edges", json=[edge])
            assert r.status_code == 200 and r.json()["added"] == 1, r.text
            pipeline = c.get("/api/v1/ingestion-pipelines/name/crm").json()
            r = c.post(f"/api/v1/ingestion-pipelines/{pipeline['id']}/runs")
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 60
            while True:
                runs = c.get(f"/api/v1/ingestion-pipelines/{pipeline['id']}/runs").json()["data"]
                if len(runs) >= 2 and runs[0]["status"] != "running":
                    break
                assert time.monotonic() < deadline, f"the scheduler did not run crm: {runs}"
                time.sleep(0.2)
            assert runs[0]["status"] == "success", runs[0]

    seen, edges = _probe(url)
    fqns = {(kind, fqn) for fqn, kind, _deleted, _tags in seen.values()}
    for expected in [
        ("table", "warehouse.analytics.marts.fct_orders"),  # the demo
        ("table", "shop.shop.main.orders"),  # lodestar ingest
        ("table", "shop.shop.main.refunds"),  # lodestar pipelines run
        ("table", "shop.shop.main.via_put"),  # PUT
        ("table", "shop.shop.main.via_bulk"),  # bulk
        ("table", "crm.crm.main.accounts"),  # the server's scheduler
        ("ingestion_pipeline", "crm"),
    ]:
        assert expected in fqns, f"the writer did not see {expected}"
    store = open_store(url)
    try:
        with store.read() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM assets")).scalar_one()
    finally:
        store.dispose()
    assert len(seen) == stored
    assert len(edges) == 1

    # The rebuild reproduces what the writer saw, row for row.
    out = _lodestar(here, "db", "reindex", "probe")
    assert out.strip() == f"probe: rebuilt from {stored} assets"
    assert _probe(url) == (seen, edges)

    # The schema check leaves a registered writer's tables alone, and only then.
    store = open_store(url)
    try:
        assert undeclared_tables(store.engine) == {"probe_assets", "probe_edges"}
        sys.path.insert(0, str(plugin))
        try:
            from lodestar_probe_writer import ProbeWriter  # type: ignore[import-not-found]

            derived.register(ProbeWriter())
            try:
                assert undeclared_tables(store.engine) == set()
                assert drift(store.engine) == []
            finally:
                derived.unregister("probe")
        finally:
            sys.path.remove(str(plugin))
            sys.modules.pop("lodestar_probe_writer", None)
    finally:
        store.dispose()
