"""The search index as part of the one write path, on SQLite and PostgreSQL: a rolled-back
write leaves nothing, versions stay as they were, a rebuild gives the same answers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import Seed
from lodestar.catalog import Catalog, Key, derived
from lodestar.search import Boosts, SearchService, make_query
from lodestar.settings import SEARCH_BOOSTS, Settings, SettingsError, load_settings


def fqns(store: object, q: str, **filters: list[str]) -> list[str]:
    svc = SearchService(store)  # type: ignore[arg-type]
    return [h.asset.fqn for h in svc.search(make_query(q, filters, limit=50)).hits]


def test_a_rolled_back_write_leaves_no_document(catalog: Catalog, seed: Seed) -> None:
    def count() -> int:
        with catalog.store.read() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM search_docs")).scalar_one())

    before = count()
    with pytest.raises(RuntimeError), catalog.transaction(seed.ctx) as tx:
        tx.upsert("table", {"name": "ghost_ledger", "schema": seed.schema})
        assert fqns(catalog.store, "ghost ledger") == []  # not visible before commit
        raise RuntimeError("the unit of work fails")
    assert count() == before
    assert fqns(catalog.store, "ghost ledger") == []
    seed.table("ghost_ledger")
    assert fqns(catalog.store, "ghost ledger") == ["wh.db.raw.ghost_ledger"]


def test_versions_and_as_of_reads_are_untouched(catalog: Catalog, seed: Seed) -> None:
    seed.table("payments", description="Card payments.")
    seed.table("payments", description="Card and wire payments.")
    versions = catalog.versions("table", _key("wh.db.raw.payments"))
    versions.sort(key=lambda v: v.version)
    assert [v.version for v in versions] == [1, 2]
    assert [v.doc.get("description") for v in versions] == [
        "Card payments.",
        "Card and wire payments.",
    ]
    assert fqns(catalog.store, "wire") == ["wh.db.raw.payments"]


def test_a_rebuild_gives_the_same_answers(catalog: Catalog, seed: Seed) -> None:
    seed.table("invoices", description="Invoices sent to customers.", tags=["PII.email"])
    seed.table("invoice_lines", description="One row per line of an invoice.")
    seed.table("old_invoices", description="Invoices before 2020.")
    catalog.delete("table", _key("wh.db.raw.old_invoices"), seed.ctx)
    before = fqns(catalog.store, "invoice")
    tagged = fqns(catalog.store, "invoice", tag=["PII.email"])
    deleted = SearchService(catalog.store).search(make_query("invoice", {}, deleted=True))
    with catalog.store.write() as conn:
        conn.execute(sa.text("DELETE FROM search_facets"))
    assert fqns(catalog.store, "invoice", tag=["PII.email"]) == []
    seen: list[tuple[int, int]] = []
    fed = derived.rebuild(catalog.store, derived.find("search"), lambda d, t: seen.append((d, t)))
    assert fed == seen[-1][0] == seen[-1][1]
    assert fqns(catalog.store, "invoice") == before
    assert fqns(catalog.store, "invoice", tag=["PII.email"]) == tagged == ["wh.db.raw.invoices"]
    again = SearchService(catalog.store).search(make_query("invoice", {}, deleted=True))
    assert [h.asset.fqn for h in again.hits] == [h.asset.fqn for h in deleted.hits]
    assert "wh.db.raw.old_invoices" in [h.asset.fqn for h in again.hits]


def test_boosts_come_from_the_settings_and_unknown_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert set(SEARCH_BOOSTS) == set(Boosts.__dataclass_fields__)
    s = Settings(search_boosts={"tier": 2.0, "exact": 50})
    assert Boosts.from_settings(s.search_boosts).tier == 2.0
    monkeypatch.setenv("LODESTAR_SEARCH_BOOSTS", '{"teir": 1}')
    with pytest.raises(SettingsError, match="unknown search boost 'teir'"):
        load_settings()


def _key(fqn: str) -> Key:
    return Key(fqn=fqn)
