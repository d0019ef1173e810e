"""What the catalog does for its users, on SQLite and on PostgreSQL alike.

Every test takes `catalog` (through `db_url`), so it runs once per backend.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import (
    AlreadyExists,
    BadRequest,
    BulkLine,
    Catalog,
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    Key,
    NotFound,
    Outcome,
    VersionMismatch,
    WriteContext,
)
from lodestar.catalog.observations import Observation
from lodestar.model.records import Origin
from lodestar.store.tables import assets, edges, events, versions

if TYPE_CHECKING:  # the `seed` fixture's type; tests/conftest.py is not importable by name
    from conftest import Seed

BOT = WriteContext.for_principal(Principal("ingest", "bot", origin=Origin("ingestion", "pg")))
BOB = WriteContext.for_principal(Principal("bob", "editor", user_fqn="bob"))
VIEWER = WriteContext.for_principal(Principal("vera", "viewer"))

ORDERS = "wh.db.raw.orders"


def tick() -> None:
    """Let the microsecond clock move on, so consecutive writes have distinct times."""
    time.sleep(0.003)


def snapshot(catalog: Catalog) -> dict[str, list[str]]:
    """Every stored row that a write touches, to prove a failed write left nothing behind."""
    with catalog.store.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
            for t in (assets, versions, edges, events)
        }


def table_key(fqn: str = ORDERS) -> Key:
    return Key(fqn=fqn)


def all_events(catalog: Catalog) -> list[Any]:
    return catalog.events(after=0, limit=100_000)


def events_of(catalog: Catalog, asset_id: str) -> list[Any]:
    return [e for e in all_events(catalog) if e.asset_id == asset_id]


# -- idempotent upsert ------------------------------------------------------------------------


def test_same_body_twice_makes_one_version_and_one_event(catalog: Catalog, seed: Seed) -> None:
    body = {
        "name": "orders",
        "schema": seed.schema,
        "description": "All orders.",
        "owners": [{"kind": "user", "fqn": seed.user}],
        "tags": [seed.tag],
        "columns": [
            {"name": "id", "data_type": "int", "constraint": "primary_key"},
            {"name": "email", "data_type": "text", "tags": [seed.tag]},
        ],
    }
    first = catalog.upsert("table", copy.deepcopy(body), seed.ctx)
    assert first.status == "created"
    assert first.asset is not None and first.asset.version == 1
    after_first = catalog.last_event()

    again = catalog.upsert("table", copy.deepcopy(body), seed.ctx)
    assert again.status == "unchanged"
    assert again.asset is not None and again.asset.id == first.asset.id
    assert again.asset.version == 1

    # The same body spelled differently (quoted FQNs) and a GET result PUT back are no change.
    respelled = {**copy.deepcopy(body), "schema": '"wh"."db"."raw"', "tags": ['"PII".email']}
    assert catalog.upsert("table", respelled, seed.ctx).status == "unchanged"
    current = catalog.get("table", table_key())
    round_trip = {
        **current.doc,
        "id": current.id,
        "fqn": current.fqn,
        "version": current.version,
        "updated_by": current.updated_by,
    }
    assert catalog.upsert("table", round_trip, seed.ctx).status == "unchanged"

    assert [v.version for v in catalog.versions("table", table_key())] == [1]
    assert catalog.last_event() == after_first
    assert [e.event_type for e in events_of(catalog, first.asset.id)] == ["entity_created"]


# -- versions and change descriptions ---------------------------------------------------------


def test_versions_record_fields_added_updated_deleted_and_breaking(
    catalog: Catalog, seed: Seed
) -> None:
    v1 = seed.table(
        "orders",
        description="Orders v1.",
        columns=[
            {"name": "id", "data_type": "int"},
            {"name": "amount", "data_type": "numeric"},
            {"name": "note", "data_type": "text"},
        ],
    )
    assert v1.asset is not None
    assert v1.asset.change is not None
    created = {e["name"] for e in v1.asset.change["fields_added"]}
    assert "description" in created
    assert any(name.startswith("columns") for name in created)

    v2 = seed.table(
        "orders",
        description="Orders v2.",
        display_name="Orders",
        columns=[
            {"name": "id", "data_type": "int"},
            {"name": "amount", "data_type": "decimal(12,2)"},
            {"name": "created_at", "data_type": "timestamp"},
        ],
    )
    assert v2.status == "updated"
    assert v2.asset is not None and v2.asset.version == 2
    change = v2.asset.change
    assert change is not None
    assert change["previous_version"] == 1
    assert change["fields_added"] == [
        {"name": "columns.created_at", "new": _col("created_at", "timestamp", 3)},
        {"name": "display_name", "new": "Orders"},
    ]
    assert change["fields_updated"] == [
        {"name": "columns.amount.data_type", "old": "numeric", "new": "decimal(12,2)"},
        {"name": "description", "old": "Orders v1.", "new": "Orders v2."},
    ]
    assert change["fields_deleted"] == [{"name": "columns.note", "old": _col("note", "text", 3)}]
    assert len(change["breaking"]) == 2
    assert any("note" in b and "removed" in b for b in change["breaking"])
    assert any("amount" in b and "decimal(12,2)" in b for b in change["breaking"])

    # A documentation-only change is not breaking; removing a field is a deletion.
    v3 = seed.table(
        "orders",
        description="Orders v3.",
        columns=v2.asset.doc["columns"],
    )
    assert v3.asset is not None and v3.asset.change is not None
    assert v3.asset.change["breaking"] == []
    assert v3.asset.change["fields_deleted"] == [{"name": "display_name", "old": "Orders"}]

    history = catalog.versions("table", table_key())
    assert [v.version for v in history] == [3, 2, 1]
    assert history[1].change == change
    assert history[0].actor == "alice" and history[0].origin == "person"
    old = catalog.version("table", table_key(), 1)
    assert old.doc["description"] == "Orders v1."
    assert [c["name"] for c in old.doc["columns"]] == ["id", "amount", "note"]
    with pytest.raises(NotFound):
        catalog.version("table", table_key(), 4)


def _col(name: str, data_type: str, ordinal: int) -> dict[str, Any]:
    return {
        "name": name,
        "data_type": data_type,
        "ordinal": ordinal,
        "nullable": True,
        "tags": [],
        "glossary_terms": [],
    }


# -- time travel ------------------------------------------------------------------------------


def test_get_and_list_as_of_a_past_time(catalog: Catalog, seed: Seed) -> None:
    tick()
    v1 = seed.table("orders", description="first")
    tick()
    v2 = seed.table("orders", description="second")
    tick()
    other = seed.table("customers")
    tick()
    deleted = catalog.delete("table", table_key(), seed.ctx)
    assert v1.asset is not None and v2.asset is not None and other.asset is not None
    t1, t2, t_other = v1.asset.updated_at, v2.asset.updated_at, other.asset.updated_at
    assert t1 < t2 < t_other < deleted.updated_at

    past = catalog.get("table", table_key(), as_of=t1)
    assert (past.version, past.doc["description"], past.deleted) == (1, "first", False)
    assert catalog.get("table", table_key(), as_of=t2 - 1).version == 1
    assert catalog.get("table", table_key(), as_of=t2).doc["description"] == "second"
    by_id = catalog.get("table", Key(id=v1.asset.id), as_of=t2 - 1)
    assert by_id.doc["description"] == "first"
    gone = catalog.get("table", table_key(), as_of=deleted.updated_at)
    assert gone.deleted and gone.version == 3
    assert not catalog.get("table", table_key(), as_of=deleted.updated_at - 1).deleted

    with pytest.raises(NotFound):
        catalog.get("table", table_key(), as_of=t1 - 1)
    with pytest.raises(NotFound):
        catalog.get("table", Key(id=v1.asset.id), as_of=t1 - 1)

    def names(as_of: int, include: Any = "non-deleted") -> list[tuple[str, str | None]]:
        page = catalog.list_page("table", as_of=as_of, include=include)
        assert page.total == len(page.items)
        return [(a.name, a.doc.get("description")) for a in page.items]

    assert names(t1 - 1) == []
    assert names(t1) == [("orders", "first")]
    assert names(t_other) == [("customers", None), ("orders", "second")]
    assert names(deleted.updated_at) == [("customers", None)]
    assert names(deleted.updated_at, "all") == [("customers", None), ("orders", "second")]
    assert names(deleted.updated_at, "deleted") == [("orders", "second")]


# -- soft delete, recursive delete, restore, hard delete --------------------------------------


def test_soft_delete_keeps_the_asset_readable_and_out_of_lists(
    catalog: Catalog, seed: Seed
) -> None:
    t = seed.table("orders")
    seed.table("customers")
    assert t.asset is not None
    deleted = catalog.delete("table", table_key(), seed.ctx)
    assert deleted.deleted and deleted.version == 2

    got = catalog.get("table", table_key())
    assert got.deleted and got.id == t.asset.id and got.version == 2
    assert catalog.get("table", Key(id=t.asset.id)).deleted

    assert [a.name for a in catalog.list_page("table").items] == ["customers"]
    assert catalog.list_page("table").total == 1
    assert [a.name for a in catalog.list_page("table", include="all").items] == [
        "customers",
        "orders",
    ]
    assert [a.name for a in catalog.list_page("table", include="deleted").items] == ["orders"]
    assert [a.name for a in catalog.list_page("table", parent=seed.schema).items] == ["customers"]

    ev = events_of(catalog, t.asset.id)
    assert [(e.event_type, e.version) for e in ev] == [
        ("entity_created", 1),
        ("entity_soft_deleted", 2),
    ]
    assert ev[1].change["fields_updated"] == [{"name": "deleted", "old": False, "new": True}]

    with pytest.raises(Conflict):
        catalog.delete("table", table_key(), seed.ctx)
    with pytest.raises(NotFound):
        catalog.delete("table", table_key("wh.db.raw.nothing"), seed.ctx)


def test_deleting_a_schema_with_tables_needs_recursive(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders")
    before = snapshot(catalog)
    with pytest.raises(Conflict, match="recursive"):
        catalog.delete("schema", Key(fqn=seed.schema), seed.ctx)
    with pytest.raises(Conflict, match="recursive"):
        catalog.delete("schema", Key(fqn=seed.schema), seed.ctx, hard=True)
    assert snapshot(catalog) == before
    assert not catalog.get("schema", Key(fqn=seed.schema)).deleted


def test_recursive_soft_delete_and_restore(catalog: Catalog, seed: Seed) -> None:
    catalog.upsert("schema", {"name": "staging", "database": seed.database}, seed.ctx)
    a = seed.table("a", schema="wh.db.staging")
    b = seed.table("b", schema="wh.db.staging")
    assert a.asset is not None and b.asset is not None
    staging = Key(fqn="wh.db.staging")
    start = catalog.last_event()

    catalog.delete("schema", staging, seed.ctx, recursive=True)
    for fqn in ("wh.db.staging.a", "wh.db.staging.b"):
        got = catalog.get("table", Key(fqn=fqn))
        assert got.deleted and got.version == 2
    assert catalog.get("schema", staging).deleted
    new = catalog.events(after=start)
    assert sorted((e.event_type, e.fqn, e.version) for e in new) == [
        ("entity_soft_deleted", "wh.db.staging", 2),
        ("entity_soft_deleted", "wh.db.staging.a", 2),
        ("entity_soft_deleted", "wh.db.staging.b", 2),
    ]
    assert catalog.list_page("table", parent="wh.db.staging").items == []
    assert catalog.children(catalog.get("schema", staging)) == []

    # Nothing new goes into a deleted schema, and a table cannot come back before it.
    with pytest.raises(InvalidInput, match="deleted") as exc:
        seed.table("c", schema="wh.db.staging")
    assert exc.value.errors[0]["loc"] == ["schema"]
    with pytest.raises(Conflict, match="parent"):
        catalog.restore("table", Key(fqn="wh.db.staging.a"), seed.ctx)
    with pytest.raises(NotFound):
        catalog.restore("table", table_key(f"{seed.schema}.nothing_here"), seed.ctx)

    mid = catalog.last_event()
    restored = catalog.restore("schema", staging, seed.ctx)
    assert not restored.deleted and restored.version == 3
    for t in (a, b):
        assert t.asset is not None
        got = catalog.get("table", Key(id=t.asset.id))
        assert not got.deleted and got.version == 3
        assert got.doc == t.asset.doc
    assert sorted((e.event_type, e.fqn) for e in catalog.events(after=mid)) == [
        ("entity_restored", "wh.db.staging"),
        ("entity_restored", "wh.db.staging.a"),
        ("entity_restored", "wh.db.staging.b"),
    ]
    assert [t.name for t in catalog.list_page("table", parent="wh.db.staging").items] == ["a", "b"]
    with pytest.raises(Conflict, match="not deleted"):
        catalog.restore("schema", staging, seed.ctx)


def test_restore_without_recursive_leaves_children_deleted(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders")
    catalog.delete("schema", Key(fqn=seed.schema), seed.ctx, recursive=True)
    catalog.restore("schema", Key(fqn=seed.schema), seed.ctx, recursive=False)
    assert not catalog.get("schema", Key(fqn=seed.schema)).deleted
    assert catalog.get("table", table_key()).deleted
    catalog.restore("table", table_key(), seed.ctx)
    assert not catalog.get("table", table_key()).deleted


def test_hard_delete_erases_asset_history_and_children(catalog: Catalog, seed: Seed) -> None:
    catalog.upsert("schema", {"name": "staging", "database": seed.database}, seed.ctx)
    a = seed.table("a", schema="wh.db.staging", tags=[seed.tag])
    seed.table("a", schema="wh.db.staging", tags=[seed.tag], description="two versions")
    b = seed.table("b", schema="wh.db.staging")
    keep = seed.table("orders", tags=[seed.tag])
    assert a.asset is not None and b.asset is not None and keep.asset is not None
    staging = catalog.get("schema", Key(fqn="wh.db.staging"))
    tag = catalog.get("tag", Key(fqn=seed.tag))
    assert {r["fqn"] for r in catalog.relations(tag)} == {"PII", "wh.db.staging.a", ORDERS}
    start = catalog.last_event()

    erased = catalog.delete("schema", Key(fqn="wh.db.staging"), seed.ctx, hard=True, recursive=True)
    assert erased.id == staging.id

    for kind, fqn in (
        ("schema", "wh.db.staging"),
        ("table", "wh.db.staging.a"),
        ("table", "wh.db.staging.b"),
    ):
        with pytest.raises(NotFound):
            catalog.get(kind, Key(fqn=fqn))
        with pytest.raises(NotFound):
            catalog.versions(kind, Key(fqn=fqn))
    with pytest.raises(NotFound):
        catalog.get("table", Key(id=a.asset.id), as_of=a.asset.updated_at)
    assert [t.fqn for t in catalog.list_page("table", include="all").items] == [ORDERS]
    gone_ids = {staging.id, a.asset.id, b.asset.id}
    with catalog.store.read() as conn:
        assert (
            conn.execute(sa.select(versions).where(versions.c.asset_id.in_(gone_ids))).all() == []
        )
        assert (
            conn.execute(
                sa.select(edges).where(
                    sa.or_(edges.c.from_id.in_(gone_ids), edges.c.to_id.in_(gone_ids))
                )
            ).all()
            == []
        )
    assert {r["fqn"] for r in catalog.relations(tag)} == {"PII", ORDERS}

    new = catalog.events(after=start)
    assert sorted((e.event_type, e.fqn, e.asset_id, e.version) for e in new) == [
        ("entity_hard_deleted", "wh.db.staging", staging.id, 1),
        ("entity_hard_deleted", "wh.db.staging.a", a.asset.id, 2),
        ("entity_hard_deleted", "wh.db.staging.b", b.asset.id, 1),
    ]

    # The name is free again: a new asset with a new id and a fresh history.
    catalog.upsert("schema", {"name": "staging", "database": seed.database}, seed.ctx)
    again = seed.table("a", schema="wh.db.staging")
    assert again.status == "created"
    assert again.asset is not None
    assert again.asset.id != a.asset.id and again.asset.version == 1


def test_hard_delete_of_a_soft_deleted_table(catalog: Catalog, seed: Seed) -> None:
    t = seed.table("orders")
    assert t.asset is not None
    catalog.delete("table", table_key(), seed.ctx)
    catalog.delete("table", table_key(), seed.ctx, hard=True)
    with pytest.raises(NotFound):
        catalog.get("table", table_key())
    assert [e.event_type for e in events_of(catalog, t.asset.id)] == [
        "entity_created",
        "entity_soft_deleted",
        "entity_hard_deleted",
    ]


def test_upsert_of_a_soft_deleted_asset_revives_it(catalog: Catalog, seed: Seed) -> None:
    t = seed.table("orders", description="before")
    assert t.asset is not None
    catalog.delete("table", table_key(), seed.ctx)

    with pytest.raises(AlreadyExists, match="restore"):
        catalog.create("table", {"name": "orders", "schema": seed.schema}, seed.ctx)

    revived = seed.table("orders", description="before")
    assert revived.status == "updated"
    assert revived.asset is not None
    assert not revived.asset.deleted and revived.asset.version == 3
    assert revived.asset.id == t.asset.id
    assert revived.asset.change is not None
    assert revived.asset.change["fields_updated"] == [
        {"name": "deleted", "old": True, "new": False}
    ]
    assert [a.name for a in catalog.list_page("table").items] == ["orders"]
    assert events_of(catalog, t.asset.id)[-1].event_type == "entity_restored"


# -- validation: nothing is stored from a bad write -------------------------------------------


def test_missing_parent_is_invalid_input_with_its_location(catalog: Catalog, seed: Seed) -> None:
    before = snapshot(catalog)
    with pytest.raises(InvalidInput) as exc:
        seed.table("orders", schema="wh.db.nope")
    assert exc.value.errors == [{"loc": ["schema"], "msg": "schema not found"}]
    with pytest.raises(InvalidInput) as exc:
        catalog.upsert("database", {"name": "db2", "service": "no_such_service"}, seed.ctx)
    assert exc.value.errors[0]["loc"] == ["service"]
    with pytest.raises(InvalidInput) as exc:
        catalog.upsert("table", {"name": "orphan"}, seed.ctx)
    assert exc.value.errors[0]["loc"] == ["schema"]
    with pytest.raises(InvalidInput) as exc:
        seed.table("bad", columns=[{"name": "id"}])
    assert exc.value.errors[0]["loc"] == ["columns", 0, "data_type"]
    with pytest.raises(InvalidInput) as exc:
        seed.table("bad", colums=[])
    assert exc.value.errors[0]["loc"] == ["colums"]
    assert snapshot(catalog) == before


def test_unknown_owner_or_tag_is_invalid_input_and_nothing_is_stored(
    catalog: Catalog, seed: Seed
) -> None:
    seed.table("orders")
    before = snapshot(catalog)
    with pytest.raises(InvalidInput) as exc:
        seed.table("orders", owners=[{"kind": "user", "fqn": "nobody"}])
    assert exc.value.errors == [{"loc": ["owners", 0], "msg": "no user named 'nobody'"}]
    with pytest.raises(InvalidInput) as exc:
        seed.table("new_one", tags=[seed.tag, "PII.nope"])
    assert [e["loc"] for e in exc.value.errors] == [["tags", 1]]
    with pytest.raises(InvalidInput) as exc:
        seed.table("new_one", columns=[{"name": "id", "data_type": "int", "tags": ["X.y"]}])
    assert exc.value.errors[0]["loc"] == ["columns", 0, "tags", 0]
    with pytest.raises(InvalidInput) as exc:
        seed.table("new_one", owners=[{"kind": "team", "fqn": seed.user}])  # a user, not a team
    assert exc.value.errors[0]["loc"] == ["owners", 0]
    assert snapshot(catalog) == before
    with pytest.raises(NotFound):
        catalog.get("table", table_key("wh.db.raw.new_one"))


def test_create_of_an_existing_asset_is_already_exists(catalog: Catalog, seed: Seed) -> None:
    body = {"name": "orders", "schema": seed.schema}
    assert catalog.create("table", body, seed.ctx).status == "created"
    before = snapshot(catalog)
    with pytest.raises(AlreadyExists):
        catalog.create("table", {**body, "description": "other"}, seed.ctx)
    assert snapshot(catalog) == before


def test_stale_if_match_is_version_mismatch(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders", description="one")
    seed.table("orders", description="two")
    before = snapshot(catalog)
    body = {"name": "orders", "schema": seed.schema, "description": "three"}
    with pytest.raises(VersionMismatch):
        catalog.upsert("table", body, seed.ctx, if_match=1)
    with pytest.raises(VersionMismatch):
        catalog.upsert("table", {**body, "name": "not_yet"}, seed.ctx, if_match=1)
    with pytest.raises(VersionMismatch):
        catalog.patch(
            "table", table_key(), {"description": "x"}, seed.ctx, json_patch=False, if_match=1
        )
    with pytest.raises(VersionMismatch):
        catalog.delete("table", table_key(), seed.ctx, if_match=1)
    assert snapshot(catalog) == before

    ok = catalog.upsert("table", body, seed.ctx, if_match=2)
    assert ok.asset is not None and ok.asset.version == 3
    assert catalog.delete("table", table_key(), seed.ctx, if_match=3).deleted


# -- patch -------------------------------------------------------------------------------------


def test_merge_patch(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders", columns=[{"name": "id", "data_type": "int"}])
    out = catalog.patch(
        "table",
        table_key(),
        {"description": "Patched.", "display_name": "Orders"},
        seed.ctx,
        json_patch=False,
    )
    assert out.status == "updated"
    assert out.asset is not None and out.asset.version == 2
    assert out.asset.doc["description"] == "Patched."
    assert out.asset.doc["columns"][0]["name"] == "id"  # untouched fields stay

    removed = catalog.patch(
        "table", table_key(), {"display_name": None}, seed.ctx, json_patch=False
    )
    assert removed.asset is not None
    assert "display_name" not in removed.asset.doc
    assert removed.asset.change is not None
    assert removed.asset.change["fields_deleted"] == [{"name": "display_name", "old": "Orders"}]

    same = catalog.patch(
        "table", table_key(), {"description": "Patched."}, seed.ctx, json_patch=False
    )
    assert same.status == "unchanged"
    assert catalog.get("table", table_key()).version == 3


def test_json_patch(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders", description="d", columns=[{"name": "id", "data_type": "int"}])
    ops = [
        {"op": "test", "path": "/description", "value": "d"},
        {"op": "add", "path": "/columns/0/description", "value": "Primary key."},
        {"op": "add", "path": "/tags/-", "value": seed.tag},
    ]
    out = catalog.patch("table", table_key(), ops, seed.ctx, json_patch=True)
    assert out.asset is not None and out.asset.version == 2
    assert out.asset.doc["columns"][0]["description"] == "Primary key."
    assert out.asset.doc["tags"] == [seed.tag]
    assert [t.name for t in catalog.list_page("table", tag=seed.tag).items] == ["orders"]


def test_failing_patches_change_nothing(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders", description="d")
    before = snapshot(catalog)
    failing_test = [
        {"op": "test", "path": "/description", "value": "something else"},
        {"op": "replace", "path": "/description", "value": "x"},
    ]
    with pytest.raises(Conflict, match="test"):
        catalog.patch("table", table_key(), failing_test, seed.ctx, json_patch=True)

    with pytest.raises(InvalidInput) as exc:
        catalog.patch("table", table_key(), {"name": "renamed"}, seed.ctx, json_patch=False)
    assert exc.value.errors == [{"loc": ["name"], "msg": "immutable"}]
    with pytest.raises(InvalidInput):
        catalog.patch(
            "table",
            table_key(),
            [{"op": "replace", "path": "/name", "value": "renamed"}],
            seed.ctx,
            json_patch=True,
        )
    catalog.upsert("schema", {"name": "other", "database": seed.database}, seed.ctx)
    moved = {"schema": "wh.db.other"}
    after_schema = snapshot(catalog)
    with pytest.raises(InvalidInput):
        catalog.patch("table", table_key(), moved, seed.ctx, json_patch=False)
    assert snapshot(catalog) == after_schema
    before = after_schema

    bad_cases: list[tuple[Any, bool, type[CatalogError]]] = [
        ({"columns": [{"name": "id", "data_type": 5}]}, False, InvalidInput),
        ({"owners": [{"kind": "user", "fqn": "nobody"}]}, False, InvalidInput),
        ([{"op": "remove", "path": "/no_such_field"}], True, InvalidInput),
        ({"op": "replace"}, True, InvalidInput),  # not a list of operations
        (["not an op"], True, InvalidInput),
        (["description"], False, InvalidInput),  # merge patch must be an object
    ]
    for patch, is_json, error in bad_cases:
        with pytest.raises(error):
            catalog.patch("table", table_key(), patch, seed.ctx, json_patch=is_json)
    with pytest.raises(NotFound):
        catalog.patch("table", table_key("wh.db.raw.nope"), {}, seed.ctx, json_patch=False)
    assert snapshot(catalog) == before

    catalog.delete("table", table_key(), seed.ctx)
    with pytest.raises(Conflict, match="restore"):
        catalog.patch("table", table_key(), {"description": "x"}, seed.ctx, json_patch=False)


# -- the event feed ---------------------------------------------------------------------------


def test_every_version_has_exactly_one_event_in_a_dense_sequence(
    catalog: Catalog, seed: Seed
) -> None:
    ctx = seed.ctx
    seed.table("orders")
    seed.table("orders", description="changed")
    seed.table("orders", description="changed")  # unchanged: no version, no event
    seed.table("customers")
    catalog.delete("table", table_key(), ctx)
    catalog.restore("table", table_key(), ctx)
    catalog.patch(
        "table", table_key("wh.db.raw.customers"), {"description": "c"}, ctx, json_patch=False
    )
    catalog.delete("schema", Key(fqn=seed.schema), ctx, recursive=True)
    catalog.restore("schema", Key(fqn=seed.schema), ctx)
    catalog.bulk_upsert(
        [BulkLine("table", {"name": f"bulk{i}", "schema": seed.schema}) for i in range(3)], ctx
    )
    doomed = seed.table("doomed")
    assert doomed.asset is not None
    catalog.delete("table", table_key("wh.db.raw.doomed"), ctx, hard=True)

    feed = all_events(catalog)
    seqs = [e.seq for e in feed]
    assert seqs == list(range(1, len(feed) + 1))
    assert catalog.last_event() == len(feed)

    with catalog.store.read() as conn:
        stored = {
            (r.asset_id, r.version): r
            for r in conn.execute(
                sa.select(versions.c.asset_id, versions.c.version, versions.c.change)
            )
        }
    # Hard deletes erase history but not the feed: only the erased asset's events lack versions.
    erased = {e.asset_id for e in feed if e.event_type == "entity_hard_deleted"}
    assert erased == {doomed.asset.id}
    assert [e.event_type for e in feed if e.asset_id in erased] == [
        "entity_created",
        "entity_hard_deleted",
    ]
    kept = [e for e in feed if e.asset_id not in erased]
    per_version = Counter((e.asset_id, e.version) for e in kept)
    assert set(per_version) == set(stored)
    assert set(per_version.values()) == {1}
    for e in kept:
        assert e.change == stored[(e.asset_id, e.version)].change
        assert (e.actor, e.origin) == ("alice", "person")
    # seed; orders created + updated; customers; delete + restore orders; patch customers;
    # schema delete and restore (schema + 2 tables each); 3 bulk lines.
    assert len(kept) == seed.versions + 2 + 1 + 2 + 1 + 3 + 3 + 3

    # Following the feed: after=, kinds= and limit slice it consistently.
    assert catalog.events(after=5, limit=100_000) == feed[5:]
    assert catalog.events(after=5, limit=3) == feed[5:8]
    assert catalog.events(after=len(feed)) == []
    tables = [e for e in feed if e.asset_kind == "table"]
    assert catalog.events(kinds=["table"], limit=100_000) == tables
    assert catalog.events(kinds=["tables"], limit=100_000) == tables
    assert catalog.events(after=tables[2].seq, kinds=["table"], limit=100_000) == tables[3:]
    schema_and_tags = [e for e in feed if e.asset_kind in ("schema", "tag")]
    assert catalog.events(kinds=["schema", "tag"], limit=100_000) == schema_and_tags
    with pytest.raises(InvalidInput):
        catalog.events(kinds=["no_such_kind"])


# -- custom properties ------------------------------------------------------------------------


def test_custom_properties_are_typed(catalog: Catalog, seed: Seed) -> None:
    defined = catalog.upsert(
        "custom_property",
        {"name": "retention_days", "entity_kind": "table", "property_type": "integer"},
        seed.ctx,
    )
    assert defined.asset is not None and defined.asset.fqn == "table.retention_days"
    catalog.upsert(
        "custom_property",
        {"name": "tier", "entity_kind": "schema", "property_type": "string"},
        seed.ctx,
    )
    before = snapshot(catalog)
    for value in ("thirty", True, 1.5, None):
        with pytest.raises(InvalidInput) as exc:
            seed.table("orders", custom_properties={"retention_days": value})
        assert exc.value.errors[0]["loc"] == ["custom_properties", "retention_days"]
    with pytest.raises(InvalidInput, match="no custom property 'undefined'") as exc:
        seed.table("orders", custom_properties={"undefined": 1})
    assert exc.value.errors[0]["loc"] == ["custom_properties", "undefined"]
    with pytest.raises(InvalidInput, match="tier"):  # defined for schemas, not tables
        seed.table("orders", custom_properties={"tier": "gold"})
    assert snapshot(catalog) == before

    ok = seed.table("orders", custom_properties={"retention_days": 30})
    assert ok.status == "created"
    assert catalog.get("table", table_key()).doc["custom_properties"] == {"retention_days": 30}
    schema = catalog.patch(
        "schema",
        Key(fqn=seed.schema),
        {"custom_properties": {"tier": "gold"}},
        seed.ctx,
        json_patch=False,
    )
    assert schema.asset is not None and schema.asset.doc["custom_properties"] == {"tier": "gold"}

    # A deleted definition is no longer accepted.
    catalog.delete("custom_property", Key(fqn="table.retention_days"), seed.ctx)
    with pytest.raises(InvalidInput):
        seed.table("customers", custom_properties={"retention_days": 7})


# -- human edits win over automated writers ---------------------------------------------------


def test_ingestion_never_overwrites_what_a_person_set(catalog: Catalog, seed: Seed) -> None:
    created = seed.table(
        "orders",
        ctx=BOT,
        description="From the source.",
        columns=[{"name": "id", "data_type": "int"}, {"name": "amount", "data_type": "numeric"}],
    )
    assert created.asset is not None
    assert created.asset.provenance["description"]["origin"] == "ingestion:pg"

    person = catalog.patch(
        "table",
        table_key(),
        [
            {"op": "replace", "path": "/description", "value": "Curated by a person."},
            {"op": "add", "path": "/owners/-", "value": {"kind": "user", "fqn": seed.user}},
            {"op": "add", "path": "/tags/-", "value": seed.tag},
            {"op": "add", "path": "/columns/0/description", "value": "The order id."},
        ],
        seed.ctx,
        json_patch=True,
    )
    assert person.asset is not None and person.asset.version == 2

    ingest_body = {
        "name": "orders",
        "schema": seed.schema,
        "description": "From the source, again.",
        "display_name": "Orders (source)",
        "columns": [
            {"name": "id", "data_type": "int", "description": "source comment"},
            {"name": "amount", "data_type": "numeric"},
            {"name": "email", "data_type": "text"},
        ],
    }
    bot = catalog.upsert("table", copy.deepcopy(ingest_body), BOT)
    assert bot.status == "updated"
    asset = catalog.get("table", table_key())
    assert asset.version == 3
    assert asset.doc["description"] == "Curated by a person."
    assert asset.doc["owners"] == [{"kind": "user", "fqn": seed.user}]
    assert asset.doc["tags"] == [seed.tag]
    assert asset.doc["columns"][0]["description"] == "The order id."
    assert [c["name"] for c in asset.doc["columns"]] == ["id", "amount", "email"]
    assert asset.doc["display_name"] == "Orders (source)"  # no person set it: the bot may
    assert [t.name for t in catalog.list_page("table", tag=seed.tag).items] == ["orders"]
    assert [t.name for t in catalog.list_page("table", owner=f"user:{seed.user}").items] == [
        "orders"
    ]

    prov = asset.provenance
    assert prov["description"]["origin"].startswith("person")
    assert prov["description"]["actor"] == "alice"
    assert prov["columns.id.description"]["origin"].startswith("person")
    assert prov["owners"]["origin"].startswith("person")
    assert prov["columns.email"]["origin"] == "ingestion:pg"
    assert prov["display_name"]["actor"] == "ingest"
    v3 = catalog.version("table", table_key(), 3)
    assert (v3.actor, v3.origin) == ("ingest", "ingestion:pg")
    assert v3.change is not None
    touched = {
        e["name"]
        for k in ("fields_added", "fields_updated", "fields_deleted")
        for e in v3.change[k]
    }
    assert touched == {"columns.email", "display_name"}

    # Re-running the same ingestion is no change at all.
    assert catalog.upsert("table", copy.deepcopy(ingest_body), BOT).status == "unchanged"
    # A person removing the description is a person's edit too: ingestion does not refill it.
    catalog.patch("table", table_key(), {"description": None}, seed.ctx, json_patch=False)
    catalog.upsert("table", copy.deepcopy(ingest_body), BOT)
    assert "description" not in catalog.get("table", table_key()).doc
    # A person may always overwrite, whoever wrote last.
    catalog.patch("table", table_key(), {"display_name": "Orders"}, seed.ctx, json_patch=False)
    assert catalog.get("table", table_key()).doc["display_name"] == "Orders"
    assert catalog.get("table", table_key()).provenance["display_name"]["origin"] == "person"


# -- who may write ----------------------------------------------------------------------------


def test_editors_change_only_what_they_or_their_teams_own(catalog: Catalog, seed: Seed) -> None:
    catalog.upsert("user", {"name": "carol"}, seed.ctx)
    catalog.upsert("team", {"name": "analytics", "members": ["bob"]}, seed.ctx)
    seed.table("carols", owners=[{"kind": "user", "fqn": "carol"}])
    seed.table("teams", owners=[{"kind": "team", "fqn": "analytics"}])
    carols, teams = table_key("wh.db.raw.carols"), table_key("wh.db.raw.teams")

    before = snapshot(catalog)
    with pytest.raises(Forbidden):
        seed.table("carols", ctx=BOB, owners=[{"kind": "user", "fqn": "carol"}], description="x")
    with pytest.raises(Forbidden):
        catalog.patch("table", carols, {"description": "x"}, BOB, json_patch=False)
    with pytest.raises(Forbidden):
        catalog.delete("table", carols, BOB)
    with pytest.raises(Forbidden):  # an editor creates only what they own
        seed.table("unowned", ctx=BOB)
    with pytest.raises(Forbidden):  # and cannot give away their last claim on an asset
        catalog.patch(
            "table", teams, {"owners": [{"kind": "user", "fqn": "carol"}]}, BOB, json_patch=False
        )
    assert snapshot(catalog) == before

    ok = catalog.patch("table", teams, {"description": "Team docs."}, BOB, json_patch=False)
    assert ok.status == "updated"
    assert catalog.version("table", teams, 2).actor == "bob"
    mine = seed.table("bobs", ctx=BOB, owners=[{"kind": "user", "fqn": "bob"}])
    assert mine.status == "created"
    catalog.delete("table", table_key("wh.db.raw.bobs"), BOB)

    # Membership is looked up at write time: out of the team, out of its assets.
    catalog.upsert("team", {"name": "analytics", "members": []}, seed.ctx)
    with pytest.raises(Forbidden):
        catalog.patch("table", teams, {"description": "again"}, BOB, json_patch=False)


def test_viewers_cannot_write(catalog: Catalog, seed: Seed) -> None:
    seed.table("orders")
    catalog.upsert("table", {"name": "gone", "schema": seed.schema}, seed.ctx)
    catalog.delete("table", table_key("wh.db.raw.gone"), seed.ctx)
    before = snapshot(catalog)
    writes: list[Callable[[], Any]] = [
        lambda: seed.table("new", ctx=VIEWER),
        lambda: seed.table("orders", ctx=VIEWER),  # even an unchanged body
        lambda: catalog.create("table", {"name": "new", "schema": seed.schema}, VIEWER),
        lambda: catalog.patch("table", table_key(), {"description": "x"}, VIEWER, json_patch=False),
        lambda: catalog.delete("table", table_key(), VIEWER),
        lambda: catalog.delete("table", table_key(), VIEWER, hard=True),
        lambda: catalog.restore("table", table_key("wh.db.raw.gone"), VIEWER),
    ]
    for write in writes:
        with pytest.raises(Forbidden):
            write()
    out = catalog.bulk_upsert([BulkLine("table", {"name": "new", "schema": seed.schema})], VIEWER)
    assert isinstance(out[0].error, Forbidden)
    assert snapshot(catalog) == before
    assert catalog.get("table", table_key()).version == 1  # reading is fine


def test_editor_cannot_take_over_a_deleted_asset_by_upsert(catalog: Catalog, seed: Seed) -> None:
    catalog.upsert("user", {"name": "carol"}, seed.ctx)
    seed.table("carols", owners=[{"kind": "user", "fqn": "carol"}])
    catalog.delete("table", table_key("wh.db.raw.carols"), seed.ctx)
    with pytest.raises(Forbidden):
        catalog.restore("table", table_key("wh.db.raw.carols"), BOB)
    with pytest.raises(Forbidden):
        seed.table("carols", ctx=BOB, owners=[{"kind": "user", "fqn": "bob"}])


# -- bulk ---------------------------------------------------------------------------------------


def test_bulk_upsert_stores_the_good_lines_and_reports_the_bad(
    catalog: Catalog, seed: Seed
) -> None:
    lines: list[BulkLine | CatalogError] = [
        BulkLine("schema", {"name": "staging", "database": seed.database}),
        BulkLine("table", {"name": "a", "schema": "wh.db.staging"}),  # parent from line 0
        BulkLine("table", {"name": "b", "schema": "wh.db.missing"}),
        BulkLine("table", {"name": "c", "schema": seed.schema, "tags": [seed.tag]}),
        BulkLine("table", {"name": "d", "schema": seed.schema, "columns": [{"name": "x"}]}),
        BadRequest("line 6 is not JSON"),
        BulkLine("no_such_kind", {"name": "e"}),
        BulkLine(
            "table", {"name": "f", "schema": seed.schema, "owners": [{"kind": "user", "fqn": "x"}]}
        ),
        BulkLine("table", {"name": "g", "schema": seed.schema}),
    ]
    start = catalog.last_event()
    out = catalog.bulk_upsert(lines, seed.ctx)
    assert [o.index for o in out] == list(range(len(lines)))
    assert [o.status for o in out] == [
        "created",
        "created",
        None,
        "created",
        None,
        None,
        None,
        None,
        "created",
    ]
    errors = {o.index: o.error for o in out if o.error is not None}
    assert set(errors) == {2, 4, 5, 6, 7}
    assert all(isinstance(e, InvalidInput) for e in errors.values())
    assert errors[2].errors[0]["loc"] == ["schema"]
    assert errors[4].errors[0]["loc"] == ["columns", 0, "data_type"]
    assert errors[5] is lines[5]
    assert errors[7].errors[0]["loc"] == ["owners", 0]

    stored = {a.fqn for a in catalog.list_page("table").items}
    assert stored == {"wh.db.staging.a", "wh.db.raw.c", "wh.db.raw.g"}
    assert [(e.event_type, e.fqn) for e in catalog.events(after=start)] == [
        ("entity_created", "wh.db.staging"),
        ("entity_created", "wh.db.staging.a"),
        ("entity_created", "wh.db.raw.c"),
        ("entity_created", "wh.db.raw.g"),
    ]
    again = catalog.bulk_upsert([x for x in lines if isinstance(x, BulkLine)], seed.ctx)
    assert [o.status for o in again if o.error is None] == ["unchanged"] * 4


def test_bulk_create_then_update_in_one_batch_keeps_the_parent_edge(
    catalog: Catalog, seed: Seed
) -> None:
    out = catalog.bulk_upsert(
        [
            BulkLine("table", {"name": "t", "schema": seed.schema}),
            BulkLine("table", {"name": "t", "schema": seed.schema, "tags": [seed.tag]}),
        ],
        seed.ctx,
    )
    assert [o.status for o in out] == ["created", "updated"]
    rel = catalog.relations(catalog.get("table", table_key("wh.db.raw.t")))
    assert {(r["direction"], r["relation"], r["fqn"]) for r in rel} == {
        ("in", "contains", seed.schema),
        ("out", "tagged_with", seed.tag),
    }


def test_bulk_custom_property_defined_earlier_in_the_batch_is_usable(
    catalog: Catalog, seed: Seed
) -> None:
    out = catalog.bulk_upsert(
        [
            BulkLine(
                "custom_property",
                {"name": "retention_days", "entity_kind": "table", "property_type": "integer"},
            ),
            BulkLine(
                "table",
                {"name": "t", "schema": seed.schema, "custom_properties": {"retention_days": 3}},
            ),
        ],
        seed.ctx,
    )
    assert [(o.status, o.error) for o in out] == [("created", None), ("created", None)]


# -- names ------------------------------------------------------------------------------------


def test_names_with_dots_and_quotes_round_trip(catalog: Catalog, seed: Seed) -> None:
    catalog.upsert("schema", {"name": "my.schema", "database": seed.database}, seed.ctx)
    name = 'we.ird "name"'
    out = catalog.upsert(
        "table",
        {
            "name": name,
            "schema": 'wh.db."my.schema"',
            "columns": [{"name": "a.b", "data_type": "int"}],
        },
        seed.ctx,
    )
    assert out.asset is not None
    fqn = 'wh.db."my.schema"."we.ird ""name"""'
    assert out.asset.fqn == fqn and out.asset.name == name

    for spelling in (fqn, '"wh"."db"."my.schema"."we.ird ""name"""'):
        got = catalog.get("table", Key(fqn=spelling))
        assert got.id == out.asset.id and got.name == name
    page = catalog.list_page("table", parent='"wh".db."my.schema"')
    assert [(a.fqn, a.name) for a in page.items] == [(fqn, name)]
    assert catalog.get("schema", Key(fqn='wh.db."my.schema"')).name == "my.schema"

    changed = catalog.upsert(
        "table",
        {
            "name": name,
            "schema": 'wh.db."my.schema"',
            "columns": [
                {"name": "a.b", "data_type": "bigint"},
                {"name": 'q"c', "data_type": "int"},
            ],
        },
        seed.ctx,
    )
    assert changed.asset is not None and changed.asset.change is not None
    assert [e["name"] for e in changed.asset.change["fields_updated"]] == [
        'columns."a.b".data_type'
    ]
    assert [e["name"] for e in changed.asset.change["fields_added"]] == ['columns."q""c"']

    uni = seed.table("größe_数据")
    assert uni.asset is not None
    assert catalog.get("table", Key(fqn="wh.db.raw.größe_数据")).id == uni.asset.id

    with pytest.raises(InvalidInput, match="fully qualified name"):
        catalog.get("table", Key(fqn='wh.db."unterminated'))
    with pytest.raises(NotFound):
        catalog.get("table", Key(fqn='wh.db."my.schema".other'))
    with pytest.raises(InvalidInput):
        seed.table("bad\x00name")
    odd = seed.table("line\nbreak ")  # a name PostgreSQL allows: quoted, kept as it is
    assert odd.asset is not None and odd.asset.fqn == 'wh.db.raw."line\nbreak "'
    assert catalog.get("table", Key(fqn='wh.db.raw."line\nbreak "')).id == odd.asset.id
    with pytest.raises(InvalidInput):
        catalog.get("no_such_kind", Key(fqn="x"))


def test_list_pages_in_fqn_order(catalog: Catalog, seed: Seed) -> None:
    for name in ("c", "a", "b"):
        seed.table(name)
    first = catalog.list_page("table", limit=2)
    assert [a.name for a in first.items] == ["a", "b"]
    assert first.total == 3 and first.after == "wh.db.raw.b"
    second = catalog.list_page("table", limit=2, after=first.after)
    assert [a.name for a in second.items] == ["c"]
    assert second.after is None


def test_too_long_fqn_is_invalid_input(catalog: Catalog, seed: Seed) -> None:
    part = '"' * 256  # each part quotes to 514 characters
    quoted = '"' + '""' * 256 + '"'
    catalog.upsert(
        "service", {"name": part, "category": "database", "service_type": "pg"}, seed.ctx
    )
    catalog.upsert("database", {"name": part, "service": quoted}, seed.ctx)
    catalog.upsert("schema", {"name": part, "database": f"{quoted}.{quoted}"}, seed.ctx)
    before = snapshot(catalog)
    with pytest.raises(InvalidInput):
        catalog.upsert("table", {"name": part, "schema": f"{quoted}.{quoted}.{quoted}"}, seed.ctx)
    assert snapshot(catalog) == before


@pytest.mark.parametrize("bad", ["wh..raw", 'wh.db."unterminated', "wh.db.raw.", ""])
def test_observation_on_a_malformed_fqn_is_invalid_input_and_records_nothing(
    catalog: Catalog, seed: Seed, bad: str
) -> None:
    out = seed.table("orders")
    assert out.asset is not None
    good = Observation("table", ORDERS, "row_count", {"rows": 1})
    with pytest.raises(InvalidInput, match="fully qualified name"):
        catalog.observations.record([good, Observation("table", bad, "row_count", {})], seed.ctx)
    assert catalog.observations.read(out.asset.id) == []


# -- PostgreSQL: concurrent transactions -------------------------------------------------------


def _wait_for_lock_waiter(catalog: Catalog, done: Callable[[], bool], timeout: float = 5) -> None:
    """Until a backend of this database waits on a lock (or `done()`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with catalog.store.engine.connect() as conn:
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting or done():
            return
        time.sleep(0.02)
    raise AssertionError("no writer ever waited on a lock")


class _Pause:
    """Holds one named thread's write transaction open right after it inserted its events."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            threading.current_thread().name == self.thread_name
            and statement.lstrip().upper().startswith("INSERT INTO EVENTS")
        ):
            self.reached.set()
            assert self.release.wait(10)


def _run(name: str, fn: Callable[[], Outcome], results: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        try:
            results[name] = fn()
        except BaseException as e:
            results[name] = e

    t = threading.Thread(target=target, name=name)
    t.start()
    return t


# Only the PostgreSQL case of `db_url`: these tests are about its concurrent transactions.
postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.mark.postgres
@postgres_only
def test_event_feed_never_skips_an_event_that_commits_late(catalog: Catalog, seed: Seed) -> None:
    """A reader following `after=cursor` must not see event N+1 while N is uncommitted."""
    start = catalog.last_event()
    pause = _Pause("slow")
    sa.event.listen(catalog.store.engine, "after_cursor_execute", pause)
    results: dict[str, Any] = {}
    try:
        slow = _run("slow", lambda: seed.table("slow"), results)
        assert pause.reached.wait(5)
        fast = _run("fast", lambda: seed.table("fast"), results)
        _wait_for_lock_waiter(catalog, lambda: "fast" in results)
        # The slow transaction holds event start+1; nothing after it may be visible yet.
        assert catalog.events(after=start) == []
        pause.release.set()
        slow.join(10)
        fast.join(10)
    finally:
        pause.release.set()
        sa.event.remove(catalog.store.engine, "after_cursor_execute", pause)
    assert isinstance(results["slow"], Outcome) and isinstance(results["fast"], Outcome)
    feed = catalog.events(after=start)
    assert [(e.seq, e.fqn) for e in feed] == [
        (start + 1, "wh.db.raw.slow"),
        (start + 2, "wh.db.raw.fast"),
    ]


@pytest.mark.postgres
@postgres_only
def test_event_feed_is_complete_under_concurrent_writers(catalog: Catalog, seed: Seed) -> None:
    stop = threading.Event()
    writers_done = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []
    seen: list[int] = []

    def writer(i: int) -> None:
        n = j = 0
        try:
            while j < 8 or not stop.is_set():  # 1.5 s, and at least 4 creates and 4 updates
                out = seed.table(f"t{i}_{j % 4}", description=f"revision {j}")
                n += out.status != "unchanged"
                j += 1
        except BaseException as e:
            failures.append(e)
        written.append(n)

    def reader() -> None:
        cursor = 0
        try:
            while True:
                finished = writers_done.is_set()
                batch = catalog.events(after=cursor, limit=500)
                seen.extend(e.seq for e in batch)
                if batch:
                    cursor = batch[-1].seq
                elif finished:
                    return
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    follower = threading.Thread(target=reader)
    follower.start()
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(10)
    writers_done.set()
    follower.join(10)

    assert failures == []
    total = seed.versions + sum(written)
    assert sum(written) >= 8 * 8  # every write was a change: 4 creates and 4+ updates each
    assert seen == list(range(1, total + 1))  # each event once, in order, none skipped
    assert catalog.last_event() == total
    with catalog.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one() == total


@pytest.mark.postgres
@postgres_only
def test_concurrent_upserts_of_one_asset_without_if_match_both_apply(
    catalog: Catalog, seed: Seed
) -> None:
    seed.table("hot")
    pause = _Pause("slow")
    sa.event.listen(catalog.store.engine, "after_cursor_execute", pause)
    results: dict[str, Any] = {}
    try:
        slow = _run("slow", lambda: seed.table("hot", description="slow"), results)
        assert pause.reached.wait(5)
        fast = _run("fast", lambda: seed.table("hot", description="fast"), results)
        _wait_for_lock_waiter(catalog, lambda: "fast" in results)
        pause.release.set()
        slow.join(10)
        fast.join(10)
    finally:
        pause.release.set()
        sa.event.remove(catalog.store.engine, "after_cursor_execute", pause)
    assert isinstance(results["slow"], Outcome)
    assert isinstance(results["fast"], Outcome), results["fast"]
    hot = catalog.get("table", table_key("wh.db.raw.hot"))
    assert (hot.version, hot.doc["description"]) == (3, "fast")


@pytest.mark.postgres
@postgres_only
def test_many_concurrent_upserts_of_one_asset_all_apply(catalog: Catalog, seed: Seed) -> None:
    seed.table("hot")
    failures: list[BaseException] = []

    def writer(i: int) -> None:
        for j in range(10):
            try:
                seed.table("hot", description=f"writer {i} revision {j}")
            except CatalogError as e:
                failures.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [type(e).__name__ for e in failures] == []
    assert catalog.get("table", table_key("wh.db.raw.hot")).version == 1 + 8 * 10
