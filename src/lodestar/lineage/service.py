"""Reading lineage: the graph around an asset, the impact of changing an asset or one of its
columns, and the paths between two assets. Every read is one read transaction (one snapshot)
and walks a whole frontier per query (`lineage.walk`, `lineage.store`).

Answers are plain JSON-ready dicts: the HTTP adapter sends them as they are, the SDK and the
CLI read the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from lodestar.catalog import BadRequest, Catalog, InvalidInput, Key, NotFound
from lodestar.lineage import store as ls
from lodestar.lineage import walk
from lodestar.lineage.columns import column_pairs
from lodestar.model.ids import column_id
from lodestar.model.records import Asset, us_to_iso
from lodestar.model.registry import find_kind

Direction = Literal["upstream", "downstream", "both"]
DIRECTIONS: dict[str, tuple[bool, ...]] = {
    "upstream": (False,),
    "downstream": (True,),
    "both": (False, True),
}
MAX_LIMIT = 10_000
MAX_PATHS = 1_000
PATH_STEPS = 1_000_000  # steps of the path search before it answers with what it found


@dataclass(frozen=True, slots=True)
class Options:
    direction: Direction = "downstream"
    depth: int | None = 3
    limit: int = 500
    after: str | None = None
    columns: bool = False
    with_deleted: bool = False


def _check(depth: int | None, limit: int) -> None:
    if depth is not None and depth < 0:
        raise InvalidInput(
            "depth: give 0 or more hops, or leave it out for no limit",
            errors=[{"loc": ["query", "depth"], "msg": "must be 0 or more"}],
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit: give 1 to {MAX_LIMIT} nodes per page",
            errors=[{"loc": ["query", "limit"], "msg": f"must be 1 to {MAX_LIMIT}"}],
        )


def parse_end(text: str, where: str) -> tuple[str, str]:
    """`<kind>:<fqn>` (e.g. `table:wh.db.raw.orders`) as (kind, fqn)."""
    kind, sep, fqn = text.partition(":")
    if not sep or not fqn:
        raise InvalidInput(
            f"{where}: name an asset as <kind>:<fqn>, e.g. table:warehouse.analytics.raw.orders",
            errors=[{"loc": ["query", where], "msg": "expected <kind>:<fqn>"}],
        )
    spec = find_kind(kind)
    if spec is None:
        raise InvalidInput(f"{where}: unknown asset kind {kind!r}")
    return spec.name, fqn


def _provenance(row: Any) -> dict[str, Any]:
    props = row.props if isinstance(row.props, dict) else {}
    out: dict[str, Any] = {
        "source": row.source,
        "via": row.via,
        "first_seen": us_to_iso(row.created_at),
        "last_seen": us_to_iso(row.last_seen),
    }
    out.update({k: v for k, v in sorted(props.items()) if k != "columns"})
    return out


def merge_edges(rows: Iterable[Any], *, columns: bool) -> list[dict[str, Any]]:
    """Edge rows (one per source and via) as one edge per (from, to) with every source's
    provenance and, with `columns`, the union of their column pairs."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    pairs: dict[tuple[str, str], dict[tuple[str, str], None]] = {}
    for row in rows:
        key = (str(row.from_id), str(row.to_id))
        edge = merged.setdefault(key, {"from": key[0], "to": key[1], "provenance": []})
        edge["provenance"].append(_provenance(row))
        if columns:
            props = row.props if isinstance(row.props, dict) else None
            try:
                pairs.setdefault(key, {}).update(dict.fromkeys(column_pairs(props)))
            except InvalidInput:  # stored before pairs were checked; shown without them
                pairs.setdefault(key, {})
    out = []
    for key in sorted(merged):
        edge = merged[key]
        edge["provenance"].sort(key=lambda p: (p["source"], p["via"]))
        if columns:
            edge["columns"] = [list(p) for p in sorted(pairs.get(key, {}))]
        out.append(edge)
    return out


def _owners(owners: Any) -> list[dict[str, str]]:
    return [
        {"kind": str(o.get("kind")), "fqn": str(o.get("fqn"))}
        for o in (owners if isinstance(owners, list) else [])
        if isinstance(o, dict)
    ]


def _node(row: Any, distance: int, *, with_deleted: bool) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "fqn": row.fqn,
        "name": row.name,
        "distance": distance,
    }
    if with_deleted:
        node["deleted"] = bool(row.deleted)
    return node


class Lineage:
    """The lineage reads of one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- the root -----------------------------------------------------------------------------
    def _root(self, kind: str, key: Key, with_deleted: bool) -> Asset:
        spec = find_kind(kind)
        if spec is None:
            raise InvalidInput(f"unknown asset kind or collection {kind!r}")
        asset = self.catalog.get(spec.name, key)
        if asset.deleted and not with_deleted:
            raise NotFound(f"{asset.kind} {asset.fqn!r} is deleted (include=all shows it)")
        return asset

    # -- the graph ------------------------------------------------------------------------------
    def graph(self, kind: str, key: Key, opts: Options) -> dict[str, Any]:
        _check(opts.depth, opts.limit)
        root = self._root(kind, key, opts.with_deleted)
        downs = DIRECTIONS[opts.direction]
        with self.catalog.store.read() as conn:

            def hop(ids: list[str], down: bool) -> Sequence[tuple[str, str]]:
                return ls.asset_hop(conn, ids, downstream=down, with_deleted=opts.with_deleted)

            pg = walk.page(hop, root.id, downs, opts.depth, opts.limit, opts.after)
            ids = [r.node for r in pg.reached]
            rows = ls.nodes(conn, ids)
            nodes = []
            for r in pg.reached:
                node = _node(rows[r.node], r.distance, with_deleted=opts.with_deleted)
                if opts.direction == "both" and r.directions:
                    node["direction"] = r.directions[0] if len(r.directions) == 1 else "both"
                nodes.append(node)
            edges = self._page_edges(conn, ids, pg.seen_before, opts.columns)
        return {
            "root": {"id": root.id, "kind": root.kind, "fqn": root.fqn},
            "direction": opts.direction,
            "depth": opts.depth,
            "nodes": nodes,
            "edges": edges,
            "paging": {"after": pg.after, "limit": opts.limit},
        }

    @staticmethod
    def _page_edges(
        conn: Connection, page_ids: list[str], before: set[str], columns: bool
    ) -> list[dict[str, Any]]:
        """The lineage edges among the walk's nodes that this page completes: both ends listed
        by now, at least one on this page (so every edge is on exactly one page)."""
        on_page = set(page_ids)
        listed = before | on_page
        pairs: set[tuple[str, str]] = set()
        for down in (True, False):
            for near, far in ls.asset_hop(conn, page_ids, downstream=down, with_deleted=True):
                if far in listed:
                    pairs.add((near, far) if down else (far, near))
        rows = ls.edge_rows(conn, pairs, columns=columns)
        return merge_edges(rows, columns=columns)

    # -- impact ---------------------------------------------------------------------------------
    def impact(
        self,
        kind: str,
        key: Key,
        *,
        column: str | None = None,
        depth: int | None = None,
        limit: int = 500,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Everything downstream of an asset (or of one of its columns), nearest first, with
        distance and owners."""
        _check(depth, limit)
        root = self._root(kind, key, False)
        with self.catalog.store.read() as conn:
            if column is None:

                def hop(ids: list[str], down: bool) -> Sequence[tuple[str, str]]:
                    return ls.asset_hop(conn, ids, downstream=down, with_deleted=False)

                pg = walk.page(hop, root.id, (True,), depth, limit, after)
                reached = [(r.node, r.distance) for r in pg.reached if r.distance > 0]
                next_after = pg.after
                affected: dict[str, list[dict[str, Any]]] = {}
            else:
                reached, affected, next_after = self._column_impact(
                    conn, root, column, depth, limit, after
                )
            rows = ls.nodes(conn, [i for i, _d in reached], with_owners=True)
        nodes = []
        for asset_id, distance in reached:
            row = rows[asset_id]
            node = _node(row, distance, with_deleted=False)
            node["owners"] = _owners(row.owners)
            if column is not None:
                node["columns"] = affected.get(asset_id, [])
            nodes.append(node)
        answer: dict[str, Any] = {
            "root": {"id": root.id, "kind": root.kind, "fqn": root.fqn},
            "nodes": nodes,
            "paging": {"after": next_after, "limit": limit},
        }
        if column is not None:
            answer["root"]["column"] = column
            answer["root"]["column_id"] = column_id(root.id, column)
        return answer

    @staticmethod
    def _column_impact(
        conn: Connection,
        root: Asset,
        column: str,
        depth: int | None,
        limit: int,
        after: str | None,
    ) -> tuple[list[tuple[str, int]], dict[str, list[dict[str, Any]]], str | None]:
        """The assets whose columns derive from the root column, within `depth` column hops:
        the whole column walk (columns fan out far less than tables), paged by asset."""
        if not 0 < len(column) <= 256:
            raise InvalidInput("column: give a column name of 1 to 256 characters")

        def hop(
            keys: list[ls.ColumnKey], down: bool
        ) -> Sequence[tuple[ls.ColumnKey, ls.ColumnKey]]:
            return ls.column_hop(conn, keys, downstream=down, with_deleted=False)

        start: ls.ColumnKey = (root.id, column)
        reached = [r for lvl in walk.levels(hop, start, (True,), depth) for r in lvl]
        known = ls.known_columns(conn, [r.node for r in reached])
        by_asset: dict[str, list[dict[str, Any]]] = {}
        nearest: dict[str, int] = {}
        for r in reached:
            asset_id, name = r.node
            by_asset.setdefault(asset_id, []).append(
                {
                    "name": name,
                    "id": column_id(asset_id, name),
                    "distance": r.distance,
                    "known": r.node in known,
                }
            )
            nearest.setdefault(asset_id, r.distance)
        order = sorted(((d, a) for a, d in nearest.items() if a != root.id))
        cursor = walk.decode(after)
        if cursor is not None:
            if len(cursor.key) != 1:
                raise BadRequest("the 'after' cursor is not one this server handed out")
            order = [(d, a) for d, a in order if (d, (a,)) > (cursor.distance, cursor.key)]
        page, rest = order[:limit], order[limit:]
        nxt = walk.encode(page[-1][0], page[-1][1]) if rest else None
        for cols in by_asset.values():
            cols.sort(key=lambda c: (c["distance"], c["name"]))
        return [(a, d) for d, a in page], by_asset, nxt

    # -- paths ----------------------------------------------------------------------------------
    def paths(
        self,
        start: tuple[str, str],
        end: tuple[str, str],
        *,
        depth: int | None = 10,
        limit: int = 100,
        columns: bool = False,
    ) -> dict[str, Any]:
        """The lineage paths from the upstream asset `start` down to `end`, shortest first (each
        path a list of node ids, no node twice), up to `limit` paths of at most `depth` hops."""
        _check(depth, 1)
        if not 1 <= limit <= MAX_PATHS:
            raise InvalidInput(f"limit: give 1 to {MAX_PATHS} paths")
        a = self._root(start[0], Key(fqn=start[1]), False)
        b = self._root(end[0], Key(fqn=end[1]), False)
        with self.catalog.store.read() as conn:

            def hop(ids: list[str], down: bool) -> Sequence[tuple[str, str]]:
                return ls.asset_hop(conn, ids, downstream=down, with_deleted=False)

            # Distances from `a` downstream and to `b` upstream: a node is on a path of at most
            # `depth` hops exactly when the two add up to no more than `depth`.
            down = {a.id: 0} | {
                r.node: r.distance for lvl in walk.levels(hop, a.id, (True,), depth) for r in lvl
            }
            up = {b.id: 0} | {
                r.node: r.distance for lvl in walk.levels(hop, b.id, (False,), depth) for r in lvl
            }
            limit_hops = depth if depth is not None else len(down) + len(up)
            on_path = {n for n in down if n in up and down[n] + up[n] <= limit_hops}
            found: list[list[str]] = []
            complete = True
            edges: list[dict[str, Any]] = []
            nodes: list[dict[str, Any]] = []
            if a.id in on_path and b.id in on_path and a.id != b.id:
                succ: dict[str, list[str]] = {}
                for near, far in ls.asset_hop(
                    conn, sorted(on_path), downstream=True, with_deleted=False
                ):
                    if far in on_path:
                        succ.setdefault(near, []).append(far)
                found, complete = _simple_paths(succ, a.id, b.id, up, limit_hops, limit)
                used = sorted({n for p in found for n in p})
                rows = ls.nodes(conn, used)
                nodes = [_node(rows[n], down[n], with_deleted=False) for n in used]
                hops = {(p[i], p[i + 1]) for p in found for i in range(len(p) - 1)}
                edges = merge_edges(ls.edge_rows(conn, hops, columns=columns), columns=columns)
        nodes.sort(key=lambda n: (n["distance"], n["id"]))
        return {
            "from": {"id": a.id, "kind": a.kind, "fqn": a.fqn},
            "to": {"id": b.id, "kind": b.kind, "fqn": b.fqn},
            "paths": found,
            "nodes": nodes,
            "edges": edges,
            "complete": len(found) < limit and complete,
        }


def _simple_paths(
    succ: dict[str, list[str]], start: str, end: str, to_end: dict[str, int], hops: int, limit: int
) -> tuple[list[list[str]], bool]:
    """Simple paths from start to end of at most `hops` hops, shortest first, then by ids: one
    depth-first search per length, pruned by each node's distance to the end; False when the
    search gave up after PATH_STEPS steps (dense graphs have exponentially many paths)."""
    for nexts in succ.values():
        nexts.sort()
    out: list[list[str]] = []
    budget = PATH_STEPS
    for length in range(1, hops + 1):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack and len(out) < limit:
            budget -= 1
            if budget < 0:
                return out, False
            node, path = stack.pop()
            left = length - (len(path) - 1)
            if node == end:
                if left == 0:
                    out.append(path)
                continue
            for nxt in reversed(succ.get(node, [])):
                if nxt not in path and to_end.get(nxt, hops + 1) <= left - 1:
                    stack.append((nxt, [*path, nxt]))
        if len(out) >= limit:
            break
    return out, True
