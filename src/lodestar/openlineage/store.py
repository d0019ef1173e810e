"""The OpenLineage intake's own tables and their queries.

- `openlineage_events`: every accepted event as it arrived, append-only.
- `openlineage_runs`: one row per run id, the merge of its START/RUNNING/COMPLETE/FAIL/ABORT
  events (state, start, end, error message) on the pipeline the job maps to.
- `openlineage_names`: which catalog asset an OpenLineage dataset or job name maps to, and the
  names its `symlinks` facet gives it (aliases).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.store.tables import Doc, metadata

events = sa.Table(
    "openlineage_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("event_time", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.String(16), nullable=True),
    sa.Column("run_id", sa.String(256), nullable=True),
    sa.Column("job_namespace", sa.Text, nullable=True),
    sa.Column("job_name", sa.Text, nullable=True),
    sa.Column("producer", sa.Text, nullable=False),
    sa.Column("event", Doc, nullable=False),
)
sa.Index("ix_openlineage_events_run", events.c.run_id)
sa.Index("ix_openlineage_events_time", events.c.event_time)

runs = sa.Table(
    "openlineage_runs",
    metadata,
    sa.Column("run_id", sa.String(256), primary_key=True),
    sa.Column("pipeline_id", sa.String(36), nullable=False),
    sa.Column("job_namespace", sa.Text, nullable=False),
    sa.Column("job_name", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=True),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Column("last_event_time", sa.BigInteger, nullable=False),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("parent_run_id", sa.String(256), nullable=True),
    sa.Column("nominal_start", sa.BigInteger, nullable=True),
    sa.Column("nominal_end", sa.BigInteger, nullable=True),
    sa.Column("producer", sa.Text, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)
sa.Index("ix_openlineage_runs_pipeline", runs.c.pipeline_id, runs.c.last_event_time)
sa.Index("ix_openlineage_runs_time", runs.c.last_event_time)

names = sa.Table(
    "openlineage_names",
    metadata,
    # A digest of (type, namespace, name): names can be long, an index key cannot.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("ol_type", sa.String(8), nullable=False),  # dataset | job
    sa.Column("namespace", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("asset_id", sa.String(36), nullable=False),
    sa.Column("asset_kind", sa.String(64), nullable=False),
    sa.Column("fqn", sa.String(2048), nullable=False),
    sa.Column("alias_type", sa.String(64), nullable=True),  # set for a symlink's name
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)
sa.Index("ix_openlineage_names_asset", names.c.asset_id)
sa.Index("ix_openlineage_names_list", names.c.ol_type, names.c.namespace)

NameKey = tuple[str, str, str]  # (ol_type, namespace, name)


def name_key(key: NameKey) -> str:
    return hashlib.sha256("\x00".join(key).encode()).hexdigest()


def append_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(events.insert(), list(rows))


def count_events(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def known_names(conn: Connection, keys: Sequence[NameKey]) -> dict[NameKey, tuple[str, str]]:
    """(ol_type, namespace, name) -> (asset id, fqn) for the keys stored."""
    by_digest = {name_key(k): k for k in keys}
    out: dict[NameKey, tuple[str, str]] = {}
    digests = list(by_digest)
    for i in range(0, len(digests), 500):
        q = sa.select(names.c.key, names.c.asset_id, names.c.fqn).where(
            names.c.key.in_(digests[i : i + 500])
        )
        for digest, aid, fqn in conn.execute(q):
            out[by_digest[str(digest)]] = (str(aid), str(fqn))
    return out


def put_names(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or repoint name rows (a name now maps to another asset, e.g. after the
    namespace setting changed). Rows: ol_type, namespace, name, asset_id, asset_kind, fqn,
    alias_type, updated_at."""
    if not rows:
        return
    keyed = {name_key((r["ol_type"], r["namespace"], r["name"])): r for r in rows}
    q = sa.select(names.c.key, names.c.asset_id).where(names.c.key.in_(list(keyed)))
    have: dict[str, str] = {str(k): str(a) for k, a in conn.execute(q)}
    new = [{"key": k, **r} for k, r in keyed.items() if k not in have]
    if new:
        conn.execute(names.insert(), new)
    for k, r in keyed.items():
        if k in have and have[k] != r["asset_id"]:
            conn.execute(names.update().where(names.c.key == k).values(**r))


def name_row(conn: Connection, ol_type: str, namespace: str, name: str) -> dict[str, Any] | None:
    q = sa.select(*names.c).where(names.c.key == name_key((ol_type, namespace, name)))
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def names_page(
    conn: Connection, ol_type: str, namespace: str | None, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    q = sa.select(*names.c).where(names.c.ol_type == ol_type)
    if namespace is not None:
        q = q.where(names.c.namespace == namespace)
    if after is not None:
        q = q.where(sa.tuple_(names.c.namespace, names.c.name) > sa.tuple_(*after))
    q = q.order_by(names.c.namespace, names.c.name).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def get_run(conn: Connection, run_id: str) -> dict[str, Any] | None:
    return get_runs(conn, [run_id]).get(run_id)


def get_runs(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Run rows by id; on PostgreSQL locked until the transaction ends, so two writers of one
    run merge one after the other."""
    out: dict[str, dict[str, Any]] = {}
    ids = sorted(set(run_ids))
    for i in range(0, len(ids), 500):
        q = sa.select(*runs.c).where(runs.c.run_id.in_(ids[i : i + 500])).order_by(runs.c.run_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        for row in conn.execute(q).mappings():
            out[row["run_id"]] = dict(row)
    return out


def insert_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(runs.insert(), list(rows))


def update_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = [c.name for c in runs.c if c.name != "run_id"]
    stmt = (
        runs.update()
        .where(runs.c.run_id == sa.bindparam("b_run_id"))
        .values({c: sa.bindparam(f"b_{c}") for c in cols})
    )
    conn.execute(stmt, [{f"b_{k}": v for k, v in r.items()} for r in rows])


def runs_of(
    conn: Connection, pipeline_id: str | None, limit: int, after: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """A pipeline's runs (or every run), latest first by (last event time, run id)."""
    q = sa.select(*runs.c)
    if pipeline_id is not None:
        q = q.where(runs.c.pipeline_id == pipeline_id)
    if after is not None:
        q = q.where(sa.tuple_(runs.c.last_event_time, runs.c.run_id) < sa.tuple_(*after))
    q = q.order_by(runs.c.last_event_time.desc(), runs.c.run_id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]
