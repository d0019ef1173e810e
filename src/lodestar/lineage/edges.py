"""Lineage edges (upstream -> downstream) with provenance: which integration said so, and when
it was first and last seen. Written in one transaction with an event per downstream asset whose
upstream set grew."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lodestar.catalog.writes import WriteContext, kind_of
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import now_us
from lodestar.store import assets as q
from lodestar.store import events as ev
from lodestar.store.engine import Store

LINEAGE = "lineage"


def add_lineage(
    store: Store, edges: Sequence[tuple[str, str, str, str]], ctx: WriteContext
) -> tuple[int, list[str]]:
    """Record (from kind, from FQN, to kind, to FQN) edges; returns (new edges, problems)."""
    if not edges:
        return 0, []
    now = now_us()
    source = str(ctx.origin)
    problems: list[str] = []
    with store.write() as conn:
        pairs: set[tuple[str, str]] = set()
        norm: list[tuple[tuple[str, str], tuple[str, str]]] = []
        for fk, ff, tk, tf in edges:
            a = (kind_of(fk).name, fqn_mod.normalize(ff))
            b = (kind_of(tk).name, fqn_mod.normalize(tf))
            pairs.update((a, b))
            norm.append((a, b))
        ids = q.ids_by_fqn(conn, pairs)
        wanted: list[tuple[str, str]] = []
        for a, b in norm:
            if a not in ids or b not in ids:
                missing = a if a not in ids else b
                problems.append(f"lineage {a[1]} -> {b[1]}: no {missing[0]} {missing[1]!r}")
                continue
            wanted.append((ids[a][0], ids[b][0]))
        existing = q.get_edges(conn, LINEAGE, wanted)
        new_rows: list[dict[str, Any]] = []
        grown: dict[str, list[str]] = {}
        for f, t in dict.fromkeys(wanted):
            props = existing.get((f, t))
            if props is None:
                new_rows.append(
                    {
                        "from_id": f,
                        "relation": LINEAGE,
                        "to_id": t,
                        "via": "",
                        "props": {"sources": [source], "first_seen": now, "last_seen": now},
                        "created_at": now,
                    }
                )
                grown.setdefault(t, []).append(f)
            else:
                sources = list(props.get("sources", []))
                if source not in sources:
                    sources.append(source)
                q.update_edge_props(
                    conn, f, LINEAGE, t, {**props, "sources": sources, "last_seen": now}
                )
        q.insert_edges(conn, new_rows)
        events = []
        for to_id, froms in grown.items():
            asset = q.get(conn, to_id)
            if asset is None:
                continue
            upstream = [a.fqn for a in (q.get(conn, f) for f in froms) if a is not None]
            events.append(
                {
                    "ts": now,
                    "event_type": "lineage_updated",
                    "asset_kind": asset.kind,
                    "asset_id": asset.id,
                    "fqn": asset.fqn,
                    "version": asset.version,
                    "actor": ctx.actor,
                    "origin": source,
                    "change": {"upstream_added": sorted(upstream)},
                }
            )
        ev.append(conn, events)
    return len(new_rows), problems
