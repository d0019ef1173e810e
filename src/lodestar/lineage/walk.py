"""Breadth-first walks over lineage, a hop (a whole frontier) at a time, and their paging.

A walk yields levels: the nodes first reached at each distance from the root, in a fixed
order (by key). Upstream and downstream are walked apart (each with its own visited set, so a
cycle ends each walk), and with both directions a node belongs to the level of its nearest
reach. The order of nodes over a whole walk, (distance, key), is what a page cursor names: a
later page walks again up to the cursor's distance and continues after its key, so the pages
of a walk list every node exactly once, whatever the page size, without a stored state.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from lodestar.catalog import BadRequest

K = TypeVar("K", str, tuple[str, str])
# One hop: (frontier, downstream?) -> (near, far) pairs.
Hop = Callable[[list[K], bool], Sequence[tuple[K, K]]]

UP, DOWN = "upstream", "downstream"


@dataclass(frozen=True, slots=True)
class Reached(Generic[K]):
    node: K
    distance: int
    directions: tuple[str, ...]  # which walks reached it at that distance


def levels(
    hop: Hop[K], root: K, downstream: Sequence[bool], depth: int | None
) -> Iterator[list[Reached[K]]]:
    """The levels of the walk from `root` (distance 1, 2, ...), up to `depth` hops."""
    seen: set[K] = {root}
    frontier = {d: [root] for d in downstream}
    visited = {d: {root} for d in downstream}
    distance = 0
    while depth is None or distance < depth:
        distance += 1
        level: dict[K, set[str]] = {}
        for d in downstream:
            if not frontier[d]:
                continue
            nxt: list[K] = []
            for _near, far in hop(frontier[d], d):
                if far not in visited[d]:
                    visited[d].add(far)
                    nxt.append(far)
            frontier[d] = sorted(nxt)
            for n in nxt:
                if n not in seen:
                    level.setdefault(n, set()).add(DOWN if d else UP)
        seen.update(level)
        if level:
            yield [Reached(n, distance, tuple(sorted(level[n]))) for n in sorted(level)]
        if not any(frontier.values()):
            return


@dataclass(frozen=True, slots=True)
class Cursor:
    distance: int
    key: tuple[str, ...]


def encode(distance: int, key: str | tuple[str, str]) -> str:
    parts = [key] if isinstance(key, str) else list(key)
    raw = orjson.dumps([distance, *parts])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    bad = BadRequest("the 'after' cursor is not one this server handed out for this walk")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise bad from None
    ok = (
        isinstance(value, list)
        and 2 <= len(value) <= 3
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and value[0] >= 0
        and all(isinstance(v, str) for v in value[1:])
    )
    if not ok:
        raise bad
    return Cursor(value[0], tuple(value[1:]))


def _key_tuple(node: str | tuple[str, str]) -> tuple[str, ...]:
    return (node,) if isinstance(node, str) else node


@dataclass(slots=True)
class Page(Generic[K]):
    reached: list[Reached[K]]  # the root first on the first page
    after: str | None
    seen_before: set[K]  # every node the walk listed before this page (the root included)


def page(
    hop: Hop[K],
    root: K,
    downstream: Sequence[bool],
    depth: int | None,
    limit: int,
    after: str | None,
) -> Page[K]:
    """One page of the walk: `limit` nodes after the cursor, in walk order."""
    cursor = decode(after)
    if cursor is not None and len(cursor.key) != len(_key_tuple(root)):
        raise BadRequest("the 'after' cursor is not one this server handed out for this walk")
    out: list[Reached[K]] = []
    before: set[K] = set()
    if cursor is None:
        out.append(Reached(root, 0, ()))
    else:
        before.add(root)
    more = False
    for level in levels(hop, root, downstream, depth):
        for r in level:
            if cursor is not None and (r.distance, _key_tuple(r.node)) <= (
                cursor.distance,
                cursor.key,
            ):
                before.add(r.node)
                continue
            if len(out) == limit:
                more = True
                break
            out.append(r)
        if more:
            break
    nxt = encode(out[-1].distance, out[-1].node) if more and out else None
    return Page(out, nxt, before)
