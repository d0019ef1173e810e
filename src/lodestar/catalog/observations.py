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
    ts: int | None = None  # when it happened; default: when it is recorded
    idempotency_key: str | None = None  # default: a digest of asset, observation, ts and value
    run_id: str | None = None  # the run that produced it


class Recorded(list[str]):
    """What `record` did: the list of problems (assets that do not exist), as before, plus
    how many observations were `new` and how many were `duplicates` of stored ones."""

    def __init__(self, problems: list[str], new: int, duplicates: int) -> None:
        super().__init__(problems)
        self.new = new
        self.duplicates = duplicates


class ObservationLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, items: Sequence[Observation], ctx: WriteContext) -> Recorded:
        """Append observations, each once: one whose idempotency key is stored already (the
        same delivery again) is a duplicate. The origin is the write context's. Returns the
        problems (assets that do not exist) with the counts of new and duplicate ones."""
        if not items:
            return Recorded([], 0, 0)
        with self.store.write() as conn:
            return self.record_in(conn, items, ctx)

    def record_in(
        self, conn: Connection, items: Sequence[Observation], ctx: WriteContext
    ) -> Recorded:
        """`record` inside the caller's transaction (a unit of work)."""
        if not items:
            return Recorded([], 0, 0)
        problems: list[str] = []
        now = now_us()
        origin = str(ctx.origin)
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
            for name, text in (("idempotency key", o.idempotency_key), ("run id", o.run_id)):
                if text is not None and not 0 < len(text) <= 64:
                    raise InvalidInput(f"an observation's {name} has 1 to 64 characters")
            row = {
                "asset_id": hit[0],
                "kind": o.observation,
                "ts": o.ts or now,
                "value": o.value,
                "actor": ctx.actor,
                "recorded_ts": now,
                "origin": origin,
                "run_id": o.run_id,
                "idem_key": o.idempotency_key,
            }
            row["idem_key"] = obs.key_of(row)
            rows.append(row)
        new = obs.append(conn, rows)
        return Recorded(problems, new, len(rows) - new)

    def read(
        self,
        asset_id: str,
        observation: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int = 100,
        after: tuple[int, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `after` is the (ts, id) of the last row of the previous page."""
        with self.store.read() as conn:
            if q.get(conn, asset_id) is None:
                raise NotFound(f"no asset with id {asset_id}")
            return obs.read(
                conn, asset_id, observation, since=since, until=until, limit=limit, after=after
            )


def _norm(fqn: str, index: int) -> str:
    try:
        return fqn_mod.normalize(fqn)
    except fqn_mod.FQNError as e:
        raise InvalidInput(
            f"item {index}: bad fully qualified name: {e}",
            errors=[{"loc": [index, "fqn"], "msg": str(e)}],
        ) from None
