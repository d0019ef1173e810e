"""The catalog core: assets, versions, edges, events, tokens, observations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("fqn", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("doc", Doc, nullable=False),
        sa.Column("provenance", Doc, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.UniqueConstraint("kind", "fqn", name="uq_assets_kind_fqn"),
    )
    op.create_index("ix_assets_parent", "assets", ["parent_id"])
    op.create_index("ix_assets_updated", "assets", ["updated_at"])
    op.create_table(
        "asset_versions",
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
    op.create_index("ix_versions_kind_ts", "asset_versions", ["kind", "ts"])
    op.create_table(
        "edges",
        sa.Column("from_id", sa.String(36), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("to_id", sa.String(36), primary_key=True),
        sa.Column("via", sa.String(512), primary_key=True),
        sa.Column("props", Doc, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_edges_to", "edges", ["to_id", "relation"])
    op.create_table(
        "events",
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
    op.create_index("ix_events_kind_seq", "events", ["asset_kind", "seq"])
    clock = op.create_table(
        "event_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(clock, [{"id": 1, "seq": 0}])
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_fqn", sa.String(256), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "observations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("asset_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("value", Doc, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
    )
    op.create_index("ix_observations_asset", "observations", ["asset_id", "kind", "ts"])


def downgrade() -> None:
    for name in ("observations", "tokens", "event_clock", "events", "edges"):
        op.drop_table(name)
    op.drop_table("asset_versions")
    op.drop_table("assets")
