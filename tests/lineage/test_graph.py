"""The lineage reads on SQLite and PostgreSQL: walks in both directions, depth, cycles, paging
that lists every node once, column lineage kept by its derived writer, impact and paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import (
    BadRequest,
    Forbidden,
    InvalidInput,
    Key,
    NotFound,
    WriteContext,
    derived,
)
from lodestar.catalog.edges import EdgeIn
from lodestar.lineage import edges as lineage_edges
from lodestar.lineage import store as ls
from lodestar.lineage.service import Lineage, Options
from lodestar.model.ids import column_id
from lodestar.model.records import Origin

if TYPE_CHECKING:
    from conftest import Seed

S = "wh.db.raw"


def fqn(name: str) -> str:
    return f"{S}.{name}"


def tables(seed: Seed, *names: str, cols: tuple[str, ...] = ("id",)) -> dict[str, str]:
    """Create tables; name -> id."""
    out = {}
    for n in names:
        body_cols = [{"name": c, "data_type": "int"} for c in cols]
        out[n] = seed.table(n, columns=body_cols).asset.id  # type: ignore[union-attr]
    return out


def link(
    seed: Seed, *pairs: tuple[str, str], columns: Any = None, ctx: WriteContext | None = None
) -> None:
    props = {"columns": columns} if columns is not None else None
    items = [EdgeIn("table", fqn(a), "table", fqn(b), props=props) for a, b in pairs]
    result = lineage_edges.add_lineage(seed.catalog, items, ctx or seed.ctx)
    assert not result.problems, result.problems


def graph(seed: Seed, name: str, **opts: Any) -> dict[str, Any]:
    return Lineage(seed.catalog).graph("table", Key(fqn=fqn(name)), Options(**opts))


def names(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return [(n["name"], n["distance"]) for n in answer["nodes"]]


def edge_names(answer: dict[str, Any], ids: dict[str, str]) -> set[tuple[str, str]]:
    by_id = {v: k for k, v in ids.items()}
    return {(by_id[e["from"]], by_id[e["to"]]) for e in answer["edges"]}


def test_a_chain_walks_downstream_upstream_and_both_ways(seed: Seed) -> None:
    ids = tables(seed, "a", "b", "c", "d", "e")
    link(seed, ("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"))

    down = graph(seed, "b", direction="downstream", depth=None)
    assert names(down) == [("b", 0), ("c", 1), ("d", 2), ("e", 3)]
    assert edge_names(down, ids) == {("b", "c"), ("c", "d"), ("d", "e")}
    assert down["paging"]["after"] is None

    up = graph(seed, "d", direction="upstream", depth=None)
    assert names(up) == [("d", 0), ("c", 1), ("b", 2), ("a", 3)]
    assert edge_names(up, ids) == {("a", "b"), ("b", "c"), ("c", "d")}

    both = graph(seed, "c", direction="both", depth=1)
    assert sorted(names(both)) == [("b", 1), ("c", 0), ("d", 1)]
    sides = {n["name"]: n.get("direction") for n in both["nodes"]}
    assert sides == {"c": None, "b": "upstream", "d": "downstream"}

    assert names(graph(seed, "a", depth=2)) == [("a", 0), ("b", 1), ("c", 2)]
    assert names(graph(seed, "a", depth=0)) == [("a", 0)]
    assert graph(seed, "a", depth=0)["edges"] == []


def test_a_cycle_ends_the_walk_and_its_edges_are_shown(seed: Seed) -> None:
    ids = tables(seed, "x", "y", "z")
    link(seed, ("x", "y"), ("y", "z"), ("z", "x"))
    answer = graph(seed, "x", depth=None)
    assert names(answer) == [("x", 0), ("y", 1), ("z", 2)]
    assert edge_names(answer, ids) == {("x", "y"), ("y", "z"), ("z", "x")}
    both = graph(seed, "x", direction="both", depth=None)
    assert sorted(n["name"] for n in both["nodes"]) == ["x", "y", "z"]
    assert {n["name"]: n["distance"] for n in both["nodes"]} == {"x": 0, "y": 1, "z": 1}


def test_pages_list_every_node_and_edge_exactly_once(seed: Seed) -> None:
    # A hub feeding 12 tables, each feeding one more, with cross edges between them.
    names_ = ["hub"] + [f"m{i:02d}" for i in range(12)] + [f"l{i:02d}" for i in range(12)]
    ids = tables(seed, *names_)
    pairs = [("hub", f"m{i:02d}") for i in range(12)] + [
        (f"m{i:02d}", f"l{i:02d}") for i in range(12)
    ]
    pairs += [("m00", "m01"), ("l05", "m07"), ("l11", "hub")]
    link(seed, *pairs)
    whole = graph(seed, "hub", depth=None, limit=10_000)
    assert len(whole["nodes"]) == 25
    assert edge_names(whole, ids) == set(pairs)

    for limit in (1, 4, 7, 25):
        seen: list[str] = []
        edges: list[tuple[str, str]] = []
        after = None
        pages = 0
        while True:
            answer = graph(seed, "hub", depth=None, limit=limit, after=after)
            assert len(answer["nodes"]) <= limit
            seen += [n["name"] for n in answer["nodes"]]
            edges += sorted(edge_names(answer, ids))
            pages += 1
            after = answer["paging"]["after"]
            if after is None:
                break
        assert seen == [n["name"] for n in whole["nodes"]], limit
        assert len(edges) == len(set(edges)) == len(pairs), limit
        assert pages == -(-25 // limit)


def test_soft_deleted_assets_are_left_out_unless_asked(seed: Seed) -> None:
    tables(seed, "p", "q", "r")
    link(seed, ("p", "q"), ("q", "r"))
    seed.catalog.delete("table", Key(fqn=fqn("q")), seed.ctx)
    assert names(graph(seed, "p", depth=None)) == [("p", 0)]
    shown = graph(seed, "p", depth=None, with_deleted=True)
    assert [(n["name"], n["deleted"]) for n in shown["nodes"]] == [
        ("p", False),
        ("q", True),
        ("r", False),
    ]
    with pytest.raises(NotFound):
        graph(seed, "q")


def test_column_pairs_are_indexed_and_shown_even_for_unknown_columns(seed: Seed) -> None:
    ids = tables(seed, "src", "mid", "out", cols=("id", "amount", "email"))
    link(seed, ("src", "mid"), columns=[["amount", "amount"], ["id", "id"]])
    link(seed, ("mid", "out"), columns=[["amount", "total"], ["id", "total"]])
    with seed.catalog.store.read() as conn:
        rows = conn.execute(ls.lineage_columns.select()).fetchall()
    assert sorted((r.from_column, r.to_column) for r in rows) == [
        ("amount", "amount"),
        ("amount", "total"),
        ("id", "id"),
        ("id", "total"),
    ]
    answer = graph(seed, "src", depth=None, columns=True)
    cols = {(e["from"], e["to"]): e["columns"] for e in answer["edges"]}
    assert cols == {
        (ids["src"], ids["mid"]): [["amount", "amount"], ["id", "id"]],
        (ids["mid"], ids["out"]): [["amount", "total"], ["id", "total"]],
    }
    assert "columns" not in graph(seed, "src")["edges"][0]

    impact = Lineage(seed.catalog).impact("table", Key(fqn=fqn("src")), column="amount")
    assert [(n["name"], n["distance"]) for n in impact["nodes"]] == [("mid", 1), ("out", 2)]
    out_cols = impact["nodes"][1]["columns"]
    # `total` is not a column of `out` (yet): it is kept and shown, marked unknown.
    assert out_cols == [
        {"name": "total", "id": column_id(ids["out"], "total"), "distance": 2, "known": False}
    ]
    assert impact["nodes"][0]["columns"][0]["known"] is True
    assert impact["root"]["column_id"] == column_id(ids["src"], "amount")
    email = Lineage(seed.catalog).impact("table", Key(fqn=fqn("src")), column="email")
    assert email["nodes"] == []


def test_new_pairs_replace_old_and_retraction_and_erasure_drop_them(seed: Seed) -> None:
    ids = tables(seed, "s1", "s2", cols=("a", "b"))
    link(seed, ("s1", "s2"), columns=[["a", "a"]])
    cursor = seed.catalog.last_event()
    link(seed, ("s1", "s2"), columns=[["b", "b"]])  # the same source again: replaced
    answer = graph(seed, "s1", columns=True)
    assert answer["edges"][0]["columns"] == [["b", "b"]]
    events = seed.catalog.events(after=cursor)
    assert [(e.event_type, e.fqn, e.change) for e in events] == [
        (
            "lineage_updated",
            fqn("s2"),
            {
                "upstream_added": [],
                "upstream_removed": [],
                "upstream_changed": [fqn("s1")],
                "source": "person:alice",
            },
        )
    ]

    # Another source asserts the same pair; retracting the first leaves the second's.
    bot = WriteContext.for_principal(Principal("etl", "bot", origin=Origin("ingestion", "shop")))
    link(seed, ("s1", "s2"), columns=[["b", "b"]], ctx=bot)
    removed = lineage_edges.retract(
        seed.catalog, EdgeIn("table", fqn("s1"), "table", fqn("s2")), seed.ctx
    )
    assert removed.removed == 1
    with seed.catalog.store.read() as conn:
        rows = conn.execute(ls.lineage_columns.select()).fetchall()
    assert [(r.from_column, r.to_column, r.source) for r in rows] == [("b", "b", "ingestion:shop")]

    seed.catalog.delete("table", Key(fqn=fqn("s2")), seed.ctx, hard=True)
    with seed.catalog.store.read() as conn:
        assert conn.execute(ls.lineage_columns.select()).fetchall() == []
    assert ids


def test_reindex_rebuilds_the_column_index(seed: Seed) -> None:
    tables(seed, "r1", "r2", "r3", cols=("c",))
    link(seed, ("r1", "r2"), ("r2", "r3"), columns=[["c", "c"]])
    store = seed.catalog.store
    with store.read() as conn:
        before = sorted(conn.execute(ls.lineage_columns.select()).fetchall())
    with store.write() as conn:
        ls.clear(conn)
    derived.rebuild(store, derived.find("lineage_columns"))
    with store.read() as conn:
        assert sorted(conn.execute(ls.lineage_columns.select()).fetchall()) == before
    assert len(before) == 2


def test_a_malformed_column_list_is_refused_and_nothing_is_written(seed: Seed) -> None:
    tables(seed, "m1", "m2")
    for bad in ([["a"]], "a,b", [["a", 3]], [["", "b"]]):
        with pytest.raises(InvalidInput, match="columns"):
            link(seed, ("m1", "m2"), columns=bad)
    assert graph(seed, "m1")["edges"] == []


def test_impact_lists_owners_and_distance_and_pages(seed: Seed) -> None:
    owners = [{"kind": "user", "fqn": "bob"}]
    seed.table("i0")
    for n in ("i1", "i2", "i3"):
        seed.table(n, owners=owners)
    link(seed, ("i0", "i1"), ("i1", "i2"), ("i0", "i3"), ("i3", "i2"))
    lin = Lineage(seed.catalog)
    impact = lin.impact("table", Key(fqn=fqn("i0")))
    ids = {n["name"]: n["id"] for n in impact["nodes"]}
    nearest = sorted(["i1", "i3"], key=ids.__getitem__)  # within a distance, by id
    assert [(n["name"], n["distance"], n["owners"]) for n in impact["nodes"]] == [
        (nearest[0], 1, owners),
        (nearest[1], 1, owners),
        ("i2", 2, owners),
    ]
    first = lin.impact("table", Key(fqn=fqn("i0")), limit=2)
    rest = lin.impact("table", Key(fqn=fqn("i0")), limit=2, after=first["paging"]["after"])
    assert [n["name"] for n in first["nodes"] + rest["nodes"]] == [
        n["name"] for n in impact["nodes"]
    ]
    assert rest["paging"]["after"] is None
    assert [n["name"] for n in lin.impact("table", Key(fqn=fqn("i0")), depth=1)["nodes"]] == [
        n["name"] for n in impact["nodes"][:2]
    ]


def test_paths_between_two_assets_shortest_first(seed: Seed) -> None:
    ids = tables(seed, "f", "g", "h", "k", "far")
    link(seed, ("f", "g"), ("g", "h"), ("f", "h"), ("h", "k"), ("k", "g"))
    answer = Lineage(seed.catalog).paths(("table", fqn("f")), ("table", fqn("h")))
    by_id = {v: k for k, v in ids.items()}
    assert [[by_id[i] for i in p] for p in answer["paths"]] == [["f", "h"], ["f", "g", "h"]]
    assert answer["complete"] is True
    assert edge_names(answer, ids) == {("f", "h"), ("f", "g"), ("g", "h")}
    short = Lineage(seed.catalog).paths(("table", fqn("f")), ("table", fqn("h")), depth=1)
    assert len(short["paths"]) == 1
    none = Lineage(seed.catalog).paths(("table", fqn("h")), ("table", fqn("far")))
    assert none["paths"] == [] and none["nodes"] == []


def test_bad_input_is_refused(seed: Seed) -> None:
    tables(seed, "b1")
    with pytest.raises(InvalidInput):
        graph(seed, "b1", depth=-1)
    with pytest.raises(InvalidInput):
        graph(seed, "b1", limit=0)
    for cursor in ("not-a-cursor!", "W10", "WyJ4IiwiYSJd"):
        with pytest.raises(BadRequest):
            graph(seed, "b1", after=cursor)
    with pytest.raises(InvalidInput):
        Lineage(seed.catalog).graph("widget", Key(fqn=fqn("b1")), Options())
    with pytest.raises(NotFound):
        graph(seed, "nope")


def test_a_connectors_clean_up_never_removes_a_persons_edge(seed: Seed) -> None:
    tables(seed, "u1", "u2", "u3")
    pipe = WriteContext.for_principal(Principal("etl", "bot", origin=Origin("ingestion", "shop")))
    link(seed, ("u1", "u2"), columns=[["id", "id"]])  # a person's
    link(seed, ("u1", "u2"), ("u2", "u3"), columns=[["id", "id"]], ctx=pipe)
    with seed.catalog.transaction(pipe) as tx:  # what a completed run no longer reported
        assert tx.retract_edges(seen_before=2**62).removed == 2
    answer = graph(seed, "u1", depth=None, columns=True)
    assert names(answer) == [("u1", 0), ("u2", 1)]
    [edge] = answer["edges"]
    assert [p["source"] for p in edge["provenance"]] == ["person:alice"]
    assert edge["columns"] == [["id", "id"]]
    with seed.catalog.store.read() as conn:
        rows = conn.execute(ls.lineage_columns.select()).fetchall()
    assert [r.source for r in rows] == ["person:alice"]
    # Nor may the connector name the person's source.
    with pytest.raises(Forbidden):
        lineage_edges.retract(
            seed.catalog,
            EdgeIn("table", fqn("u1"), "table", fqn("u2")),
            pipe,
            source="person:alice",
        )
