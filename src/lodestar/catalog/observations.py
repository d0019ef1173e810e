"""Observations: append-only facts about assets over time, kept apart from versioned metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from lodestar.catalog.errors import InvalidInput, NotFound
from lodestar.catalog.writes import WriteContext, kind_of
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import now_us
from lodestar.store import assets as q
from lodestar.store import observations as obs
from lodestar.store.engine import Store

MAX_VALUE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Observation:
    kind: str  # asset kind
    fqn: str
    observation: str  # e.g. pipeline_run, row_count, test_result
    value: dict[str, Any]
    ts: int | None = None


class ObservationLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, items: Sequence[Observation], ctx: WriteContext) -> list[str]:
        """Append observations; returns a message for each one whose asset does not exist."""
        if not items:
            return []
        with self.store.write() as conn:
            return self.record_in(conn, items, ctx)

    def record_in(
        self, conn: Connection, items: Sequence[Observation], ctx: WriteContext
    ) -> list[str]:
        """`record` inside the caller's transaction (a unit of work)."""
        if not items:
            return []
        problems: list[str] = []
        now = now_us()
        pairs = [(kind_of(o.kind).name, _norm(o.fqn, i)) for i, o in enumerate(items)]
        ids = q.ids_by_fqn(conn, pairs)
        rows = []
        for o, pair in zip(items, pairs, strict=True):
            hit = ids.get(pair)
            if hit is None:
                problems.append(f"no {pair[0]} {pair[1]!r} to record {o.observation} on")
                continue
            if not o.observation or len(o.observation) > 64:
                raise InvalidInput("an observation kind has 1 to 64 characters")
            rows.append(
                {
                    "asset_id": hit[0],
                    "kind": o.observation,
                    "ts": o.ts or now,
                    "value": o.value,
                    "actor": ctx.actor,
                }
            )
        obs.append(conn, rows)
        return problems

    def read(
        self,
        asset_id: str,
        observation: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            if q.get(conn, asset_id) is None:
                raise NotFound(f"no asset with id {asset_id}")
            return obs.read(conn, asset_id, observation, since=since, until=until, limit=limit)


def _norm(fqn: str, index: int) -> str:
    try:
        return fqn_mod.normalize(fqn)
    except fqn_mod.FQNError as e:
        raise InvalidInput(
            f"item {index}: bad fully qualified name: {e}",
            errors=[{"loc": [index, "fqn"], "msg": str(e)}],
        ) from None
