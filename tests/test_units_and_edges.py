"""Units of work, asserted edges and column identity, on SQLite and on PostgreSQL alike.

Every test takes `catalog` or `seed` (through `db_url`), so it runs once per backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from lodestar.auth.principal import Principal
from lodestar.catalog import (
    AlreadyExists,
    BulkLine,
    Catalog,
    EdgeIn,
    Forbidden,
    InvalidInput,
    Key,
    NotFound,
    WriteContext,
)
from lodestar.catalog.observations import Observation
from lodestar.model.ids import column_id
from lodestar.model.records import Origin
from lodestar.store import edges as eq
from lodestar.store.tables import assets, columns, edges, events, observations, versions

if TYPE_CHECKING:
    from conftest import Seed

PIPE_A = WriteContext.for_principal(Principal("ing-a", "bot", origin=Origin("ingestion", "a")))
PIPE_B = WriteContext.for_principal(Principal("ing-b", "bot", origin=Origin("ingestion", "b")))
BOB = WriteContext.for_principal(Principal("bob", "editor", user_fqn="bob"))
ALICE_PERSON = WriteContext.for_principal(Principal("alice", "steward"))


def rows(catalog: Catalog) -> dict[str, list[str]]:
    with catalog.store.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
            for t in (assets, versions, edges, events, observations, columns)
        }


def lineage(a: str, b: str) -> EdgeIn:
    return EdgeIn("table", a, "table", b)


def asserted(catalog: Catalog, relation: str | None = None) -> list[tuple[str, str, str, str]]:
    """(from FQN, relation, to FQN, source) of the asserted edges."""
    with catalog.store.read() as conn:
        found = eq.asserted(conn, relation=relation)
        ids = {r["from_id"] for r in found} | {r["to_id"] for r in found}
        q = sa.select(assets.c.id, assets.c.fqn).where(assets.c.id.in_(ids))
        names = {str(i): str(f) for i, f in conn.execute(q)}
    return sorted(
        (names[r["from_id"]], r["relation"], names[r["to_id"]], r["source"]) for r in found
    )


def events_since(catalog: Catalog, seq: int) -> list[tuple[str, str, Any]]:
    return [(e.event_type, e.fqn, e.change) for e in catalog.events(after=seq, limit=1000)]


# -- units of work ----------------------------------------------------------------------------


def test_a_unit_of_work_lands_whole(seed: Seed) -> None:
    catalog = seed.catalog
    before = catalog.last_event()
    with catalog.transaction(seed.ctx) as tx:
        a = tx.upsert("table", {"name": "a", "schema": seed.schema})
        outcomes = tx.upsert_many(
            [BulkLine("table", {"name": n, "schema": seed.schema}) for n in ("b", "c")]
        )
        result = tx.add_edges([lineage("wh.db.raw.a", "wh.db.raw.b")])
        problems = tx.record([Observation("table", "wh.db.raw.c", "row_count", {"rows": 3})])
    assert a.status == "created" and [o.status for o in outcomes] == ["created", "created"]
    assert (result.added, result.problems, problems) == (1, [], [])
    got = events_since(catalog, before)
    assert [e[:2] for e in got] == [
        ("entity_created", "wh.db.raw.a"),
        ("entity_created", "wh.db.raw.b"),
        ("entity_created", "wh.db.raw.c"),
        ("lineage_updated", "wh.db.raw.b"),
    ]
    c = catalog.get("table", Key(fqn="wh.db.raw.c"))
    assert [o["value"] for o in catalog.observations.read(c.id)] == [{"rows": 3}]


def test_a_unit_of_work_that_raises_leaves_nothing(seed: Seed) -> None:
    catalog = seed.catalog
    seed.table("a")
    seed.table("b")
    before = rows(catalog)
    changed_mind = pytest.raises(RuntimeError, match="caller changed its mind")
    with changed_mind, catalog.transaction(seed.ctx) as tx:
        tx.upsert("table", {"name": "new", "schema": seed.schema})
        tx.upsert("table", {"name": "a", "schema": seed.schema, "description": "changed"})
        tx.add_edges([lineage("wh.db.raw.a", "wh.db.raw.b")])
        tx.record([Observation("table", "wh.db.raw.a", "row_count", {"rows": 1})])
        assert tx.delete("table", Key(fqn="wh.db.raw.b"))
        raise RuntimeError("caller changed its mind")
    assert rows(catalog) == before


def test_a_refused_write_inside_a_unit_rolls_back_the_rest(seed: Seed) -> None:
    catalog = seed.catalog
    seed.table("theirs")  # owned by nobody: bob may not change it
    before = rows(catalog)
    ctx = WriteContext.for_principal(Principal("bob", "editor", user_fqn="bob"))
    mine = {"name": "mine", "schema": seed.schema, "owners": [{"kind": "user", "fqn": "bob"}]}
    with pytest.raises(Forbidden), catalog.transaction(ctx) as tx:
        tx.upsert("table", mine)
        tx.upsert("table", {"name": "theirs", "schema": seed.schema, "description": "x"})
    assert rows(catalog) == before


def test_bulk_lines_inside_a_unit_fail_alone(seed: Seed) -> None:
    catalog = seed.catalog
    with catalog.transaction(seed.ctx) as tx:
        outcomes = tx.upsert_many(
            [
                BulkLine("table", {"name": "ok1", "schema": seed.schema}),
                BulkLine("table", {"name": "orphan", "schema": "wh.db.nope"}),
                BulkLine("table", {"name": "ok2", "schema": seed.schema}),
            ]
        )
        after = tx.upsert("table", {"name": "ok1", "schema": seed.schema, "description": "d"})
    assert [o.status for o in outcomes] == ["created", None, "created"]
    assert outcomes[1].error is not None and "create it first" in outcomes[1].error.detail
    assert after.status == "updated" and after.asset is not None and after.asset.version == 2
    assert catalog.get("table", Key(fqn="wh.db.raw.ok2")).version == 1


# -- edges ------------------------------------------------------------------------------------


def test_each_source_keeps_its_own_edge_and_retracts_only_it(seed: Seed) -> None:
    catalog = seed.catalog
    for n in ("up", "down"):
        seed.table(n)
    edge = [lineage("wh.db.raw.up", "wh.db.raw.down")]
    for ctx in (PIPE_A, PIPE_B):
        with catalog.transaction(ctx) as tx:
            assert tx.add_edges(edge).added == 1
    assert asserted(catalog) == [
        ("wh.db.raw.up", "lineage", "wh.db.raw.down", "ingestion:a"),
        ("wh.db.raw.up", "lineage", "wh.db.raw.down", "ingestion:b"),
    ]
    seq = catalog.last_event()
    with catalog.transaction(PIPE_A) as tx:
        assert tx.retract_edges().removed == 1  # all of its own
    assert asserted(catalog) == [("wh.db.raw.up", "lineage", "wh.db.raw.down", "ingestion:b")]
    assert events_since(catalog, seq) == [
        (
            "lineage_updated",
            "wh.db.raw.down",
            {"upstream_added": [], "upstream_removed": ["wh.db.raw.up"], "source": "ingestion:a"},
        )
    ]
    # A source may not retract another's edges; a person may.
    refused = pytest.raises(Forbidden, match="retracted by that source or by a person")
    with refused, catalog.transaction(PIPE_A) as tx:
        tx.retract_edges(source="ingestion:b")
    with catalog.transaction(ALICE_PERSON) as tx:
        assert tx.retract_edges(items=edge, source="ingestion:b").removed == 1
    assert asserted(catalog) == []


def test_an_edge_seen_again_keeps_first_seen_and_moves_last_seen(seed: Seed) -> None:
    catalog = seed.catalog
    for n in ("up", "down"):
        seed.table(n)
    mapping = EdgeIn(
        "table", "wh.db.raw.up", "table", "wh.db.raw.down", props={"columns": [["id", "id"]]}
    )
    with catalog.transaction(PIPE_A) as tx:
        tx.add_edges([mapping])
    with catalog.store.read() as conn:
        (first,) = eq.asserted(conn)
    seq = catalog.last_event()
    with catalog.transaction(PIPE_A) as tx:
        result = tx.add_edges([lineage("wh.db.raw.up", "wh.db.raw.down")])
    assert (result.added, result.refreshed) == (0, 1)
    with catalog.store.read() as conn:
        (again,) = eq.asserted(conn)
    assert again["created_at"] == first["created_at"]
    assert again["last_seen"] > first["last_seen"]
    assert again["props"] == {"columns": [["id", "id"]]}  # props not given are kept
    assert events_since(catalog, seq) == []  # nothing new to announce
    # What a completed run no longer reported goes: edges last seen before the run began.
    with catalog.transaction(PIPE_A) as tx:
        assert tx.retract_edges(seen_before=first["last_seen"]).removed == 0
        assert tx.retract_edges(seen_before=again["last_seen"] + 1).removed == 1


def test_a_body_write_keeps_asserted_edges(seed: Seed) -> None:
    """Tagging an asset rewrites its body edges, and only those: a used-with edge and lineage
    that other sources asserted stay."""
    catalog = seed.catalog
    for n in ("a", "b"):
        seed.table(n)
    with catalog.transaction(PIPE_A) as tx:
        tx.add_edges(
            [
                EdgeIn("table", "wh.db.raw.a", "table", "wh.db.raw.b", "used_with"),
                lineage("wh.db.raw.a", "wh.db.raw.b"),
            ]
        )
    alice = [{"kind": "user", "fqn": "alice"}]
    seed.table("a", tags=["PII.email"], owners=alice)
    seed.table("a", tags=[], owners=alice)
    assert asserted(catalog) == [
        ("wh.db.raw.a", "lineage", "wh.db.raw.b", "ingestion:a"),
        ("wh.db.raw.a", "used_with", "wh.db.raw.b", "ingestion:a"),
    ]
    relations = catalog.relations(catalog.get("table", Key(fqn="wh.db.raw.a")))
    body = [(r["relation"], r["fqn"], r["derived"]) for r in relations if r["direction"] == "out"]
    assert ("owned_by", "alice", True) in body
    assert ("used_with", "wh.db.raw.b", False) in body


def test_edges_to_missing_or_deleted_assets_are_reported_not_stored(seed: Seed) -> None:
    catalog = seed.catalog
    seed.table("a")
    seed.table("gone")
    catalog.delete("table", Key(fqn="wh.db.raw.gone"), seed.ctx)
    with catalog.transaction(PIPE_A) as tx:
        result = tx.add_edges(
            [lineage("wh.db.raw.a", "wh.db.raw.nope"), lineage("wh.db.raw.a", "wh.db.raw.gone")]
        )
    assert result.added == 0
    assert result.problems == [
        "lineage wh.db.raw.a -> wh.db.raw.nope: table 'wh.db.raw.nope' does not exist",
        "lineage wh.db.raw.a -> wh.db.raw.gone: table 'wh.db.raw.gone' is deleted",
    ]
    assert asserted(catalog) == []


@pytest.mark.parametrize(
    ("edge", "message"),
    [
        (EdgeIn("table", "wh..x", "table", "wh.db.raw.a"), "bad fully qualified name"),
        (EdgeIn("table", "wh.db.raw.a", "nope", "x"), "unknown asset kind"),
        (EdgeIn("table", "wh.db.raw.a", "tag", "PII.email", "tagged_with"), "cannot be asserted"),
    ],
)
def test_bad_edges_are_refused_with_the_reason(seed: Seed, edge: EdgeIn, message: str) -> None:
    catalog = seed.catalog
    seed.table("a")
    before = rows(catalog)
    with pytest.raises(InvalidInput, match=message), catalog.transaction(PIPE_A) as tx:
        tx.add_edges([edge])
    assert rows(catalog) == before


def test_an_editor_asserts_lineage_only_into_what_they_own(seed: Seed) -> None:
    catalog = seed.catalog
    bob = [{"kind": "user", "fqn": "bob"}]
    seed.table("theirs")
    seed.table("mine", owners=bob)
    with catalog.transaction(BOB) as tx:
        assert tx.add_edges([lineage("wh.db.raw.theirs", "wh.db.raw.mine")]).added == 1
    before = rows(catalog)
    with pytest.raises(Forbidden, match="not owned by 'bob'"), catalog.transaction(BOB) as tx:
        tx.add_edges([lineage("wh.db.raw.mine", "wh.db.raw.theirs")])
    assert rows(catalog) == before
    viewer = WriteContext.for_principal(Principal("vera", "viewer"))
    with pytest.raises(Forbidden), catalog.transaction(viewer) as tx:
        tx.add_edges([lineage("wh.db.raw.theirs", "wh.db.raw.mine")])
    assert asserted(catalog) == [("wh.db.raw.theirs", "lineage", "wh.db.raw.mine", "person:bob")]


def test_hard_delete_erases_edges_and_columns(seed: Seed) -> None:
    catalog = seed.catalog
    seed.table("a")
    seed.table("b")
    with catalog.transaction(PIPE_A) as tx:
        tx.add_edges([lineage("wh.db.raw.a", "wh.db.raw.b")])
    catalog.delete("table", Key(fqn="wh.db.raw.a"), seed.ctx, hard=True)
    assert asserted(catalog) == []
    with catalog.store.read() as conn:
        left = [tuple(r) for r in conn.execute(sa.select(columns.c.asset_id, columns.c.name))]
    assert left == [(catalog.get("table", Key(fqn="wh.db.raw.b")).id, "id")]


# -- column identity -------------------------------------------------------------------------


def test_columns_have_stable_ids_and_fqns_and_a_rename_is_a_new_column(seed: Seed) -> None:
    catalog = seed.catalog
    cols = [{"name": "id", "data_type": "int"}, {"name": "a.b", "data_type": "text"}]
    created = seed.table("t", columns=cols).asset
    assert created is not None
    got = catalog.columns("table", Key(fqn="wh.db.raw.t"))
    assert got == [
        {"id": column_id(created.id, "a.b"), "name": "a.b", "fqn": 'wh.db.raw.t."a.b"'},
        {"id": column_id(created.id, "id"), "name": "id", "fqn": "wh.db.raw.t.id"},
    ]
    assert catalog.column(column_id(created.id, "a.b")) == {
        "id": column_id(created.id, "a.b"),
        "name": "a.b",
        "fqn": 'wh.db.raw.t."a.b"',
        "asset_id": created.id,
        "asset_kind": "table",
    }
    with pytest.raises(NotFound):
        catalog.column(column_id(created.id, "nope"))
    # Descriptions and types change; the ids stay.
    changed = [{**c, "description": "d", "data_type": "bigint"} for c in cols]
    seed.table("t", columns=changed)
    assert catalog.columns("table", Key(fqn="wh.db.raw.t")) == got
    # A renamed column is a new column, and the change description says so.
    renamed = [cols[0], {"name": "ab", "data_type": "text"}]
    out = seed.table("t", columns=renamed).asset
    assert out is not None and out.change is not None
    assert out.change["columns"] == {
        "added": [{"name": "ab", "id": column_id(created.id, "ab")}],
        "removed": [{"name": "a.b", "id": column_id(created.id, "a.b")}],
    }
    assert [c["name"] for c in catalog.columns("table", Key(fqn="wh.db.raw.t"))] == ["ab", "id"]
    record = catalog.version("table", Key(fqn="wh.db.raw.t"), out.version)
    assert record.change is not None and record.change["columns"] == out.change["columns"]


def test_columns_follow_bulk_writes_in_one_batch(seed: Seed) -> None:
    catalog = seed.catalog
    body = {"name": "t", "schema": seed.schema, "columns": [{"name": "x", "data_type": "int"}]}
    outcomes = catalog.bulk_upsert(
        [
            BulkLine("table", body),
            BulkLine("table", {**body, "columns": [{"name": "y", "data_type": "int"}]}),
            BulkLine("table", body),
        ],
        seed.ctx,
    )
    assert [o.status for o in outcomes] == ["created", "updated", "updated"]
    assert [c["name"] for c in catalog.columns("table", Key(fqn="wh.db.raw.t"))] == ["x"]


def test_a_create_that_exists_fails_the_whole_unit(seed: Seed) -> None:
    catalog = seed.catalog
    seed.table("a")
    before = rows(catalog)
    with pytest.raises(AlreadyExists), catalog.transaction(seed.ctx) as tx:
        tx.upsert("table", {"name": "b", "schema": seed.schema})
        tx.create("table", {"name": "a", "schema": seed.schema})
    assert rows(catalog) == before
