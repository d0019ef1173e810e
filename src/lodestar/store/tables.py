"""The storage schema. Migrations in `migrations/versions` must produce exactly this."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite (both serialised with orjson).
Doc = sa.JSON().with_variant(JSONB(), "postgresql")

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("fqn", sa.String(2048), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("doc", Doc, nullable=False),
    sa.Column("provenance", Doc, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.UniqueConstraint("kind", "fqn", name="uq_assets_kind_fqn"),
)
sa.Index("ix_assets_parent", assets.c.parent_id)
sa.Index("ix_assets_updated", assets.c.updated_at)

versions = sa.Table(
    "asset_versions",
    metadata,
    sa.Column("asset_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("fqn", sa.String(2048), nullable=False),
    sa.Column("doc", Doc, nullable=False),
    sa.Column("change", Doc, nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("origin", sa.String(300), nullable=False),
    sa.Column("ts", sa.BigInteger, nullable=False),
)
sa.Index("ix_versions_kind_ts", versions.c.kind, versions.c.ts)

# Relations between assets, each row asserted by one source. Edges derived from an asset's
# body have the reserved sources BODY (owner, tags, terms, domain... of the `from` asset) and
# PARENT (`contains`, from the child's parent field); any other source (an origin such as
# `ingestion:shop` or `person:alice`) asserted the edge itself and only it, or a person,
# retracts it. The same relation asserted by two sources is two rows.
edges = sa.Table(
    "edges",
    metadata,
    sa.Column("from_id", sa.String(36), primary_key=True),
    sa.Column("relation", sa.String(64), primary_key=True),
    sa.Column("to_id", sa.String(36), primary_key=True),
    sa.Column("via", sa.String(512), primary_key=True, default=""),
    sa.Column("source", sa.String(300), primary_key=True),
    sa.Column("props", Doc, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),  # first seen
    sa.Column("last_seen", sa.BigInteger, nullable=False),
)
sa.Index("ix_edges_to", edges.c.to_id, edges.c.relation)
# Asserted edges by source, for retracting what a source no longer reports; body edges (the
# bulk of the table) stay out of it.
sa.Index(
    "ix_edges_source",
    edges.c.source,
    edges.c.last_seen,
    sqlite_where=edges.c.source.not_in(("body", "parent")),
    postgresql_where=edges.c.source.not_in(("body", "parent")),
)

# Column identity: one row per column of a table (or any asset with `columns`), kept by the
# write path. The id is derived from the table's id and the column's name (model/ids.py), so a
# renamed column is a new column; it starts with its table's id prefix, so the primary key
# finds a column by id too. The FQN is the table's FQN and the quoted name.
columns = sa.Table(
    "columns",
    metadata,
    sa.Column("asset_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("id", sa.String(36), nullable=False),
    sqlite_with_rowid=False,  # clustered by its key: one B-tree per row written
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("asset_kind", sa.String(64), nullable=False),
    sa.Column("asset_id", sa.String(36), nullable=False),
    sa.Column("fqn", sa.String(2048), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("origin", sa.String(300), nullable=False),
    sa.Column("change", Doc, nullable=True),
)
sa.Index("ix_events_kind_seq", events.c.asset_kind, events.c.seq)

# One row: the last event sequence number handed out. Taking it is the last step of a write
# transaction, so its row lock orders sequence numbers exactly as transactions commit.
event_clock = sa.Table(
    "event_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_fqn", sa.String(256), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)

# Append-only facts about assets that no capability has a typed table for (pipeline runs,
# row counts, ...). `ts` is when the fact happened, `recorded_ts` when it was stored; `origin`,
# `run_id` and `idem_key` mean what they mean in every fact table (store/series.py).
observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("asset_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("value", Doc, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("recorded_ts", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.String(300), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("idem_key", sa.String(64), nullable=False),
    sa.UniqueConstraint("idem_key", name="uq_observations_idem_key"),
    info={"identity": ("asset_id", "kind", "ts", "value"), "time_column": "ts"},
)
sa.Index("ix_observations_asset", observations.c.asset_id, observations.c.kind, observations.c.ts)

# Ingestion run state: one row per run, one row per unit a pipeline last committed.
ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Column("report", Doc, nullable=True),
)
sa.Index("ix_ingest_runs_pipeline", ingest_runs.c.pipeline, ingest_runs.c.started_at)

ingest_units = sa.Table(
    "ingest_units",
    metadata,
    sa.Column("pipeline", sa.String(128), primary_key=True),
    sa.Column("unit_key", sa.String(2048), primary_key=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=True),
    sa.Column("assets", Doc, nullable=False),
    # The lineage edges the unit reported, [from kind, from FQN, to kind, to FQN, via]; NULL
    # for a unit committed before edges were tracked (it is not skipped, so it gets one).
    sa.Column("lineage", Doc, nullable=True),
)
sa.Index("ix_ingest_units_run", ingest_units.c.pipeline, ingest_units.c.run_id)
