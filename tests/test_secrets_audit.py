"""`lodestar db check` and the server's start-up warning find credentials that were stored in
clear before the write path refused them: in current bodies, versions and events, on SQLite
and PostgreSQL; they say where, never the value."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.catalog.audit import clear_secrets
from lodestar.cli.main import app
from lodestar.store import Store

LEAKY = "postgresql+psycopg://u:hunter2@db.internal/wh"


def _store_leak(catalog: Catalog, ctx: WriteContext) -> None:
    """A service stored as an old release let it: written, then its body rewritten in place
    (the write path refuses it now) in the asset, its version and its event."""
    body = {"name": "wh", "category": "database", "service_type": "postgres"}
    asset = catalog.upsert("service", body, ctx).asset
    assert asset is not None
    leaked = {**asset.doc, "connection": {"url": LEAKY}}
    change = {"fields_added": [{"name": "connection", "new": {"url": LEAKY}}]}
    with catalog.store.write() as conn:
        conn.execute(sa.text("UPDATE assets SET doc = :d WHERE id = :i"),
                     {"d": orjson.dumps(leaked).decode(), "i": asset.id})  # fmt: skip
        conn.execute(sa.text("UPDATE asset_versions SET doc = :d WHERE asset_id = :i"),
                     {"d": orjson.dumps(leaked).decode(), "i": asset.id})  # fmt: skip
        conn.execute(sa.text("UPDATE events SET change = :c WHERE asset_id = :i"),
                     {"c": orjson.dumps(change).decode(), "i": asset.id})  # fmt: skip


def test_the_audit_finds_clear_credentials_in_bodies_versions_and_events(
    catalog: Catalog, store: Store, admin_ctx: WriteContext
) -> None:
    assert clear_secrets(store) == []
    _store_leak(catalog, admin_ctx)
    assert catalog.get("service", Key(fqn="wh")).doc["connection"]["url"] == LEAKY
    found = clear_secrets(store)
    assert found[:2] == [
        "service wh: doc.connection.url holds a password in the URL",
        "service wh version 1: doc.connection.url holds a password in the URL",
    ]
    assert len(found) == 3 and found[2].startswith("service wh event ")
    assert not any("hunter2" in f for f in found)


def test_db_check_reports_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog, db_url: str,
    admin_ctx: WriteContext,
) -> None:  # fmt: skip
    monkeypatch.setenv("LODESTAR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LODESTAR_DATABASE_URL", db_url)
    clean = CliRunner().invoke(app, ["db", "check"])
    assert clean.exit_code == 0, clean.output
    assert "no credential in clear" in clean.output
    _store_leak(catalog, admin_ctx)
    leaky = CliRunner().invoke(app, ["db", "check"])
    assert leaky.exit_code == 1, leaky.output
    assert "service wh: doc.connection.url holds a password in the URL" in leaky.output
    assert "hunter2" not in leaky.output
