"""OpenLineage intake: raw events, runs, and the names that map to catalog assets.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "openlineage_events",
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
    op.create_index("ix_openlineage_events_run", "openlineage_events", ["run_id"])
    op.create_index("ix_openlineage_events_time", "openlineage_events", ["event_time"])
    op.create_table(
        "openlineage_runs",
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
    op.create_index(
        "ix_openlineage_runs_pipeline", "openlineage_runs", ["pipeline_id", "last_event_time"]
    )
    op.create_index("ix_openlineage_runs_time", "openlineage_runs", ["last_event_time"])
    op.create_table(
        "openlineage_names",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("ol_type", sa.String(8), nullable=False),
        sa.Column("namespace", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("asset_id", sa.String(36), nullable=False),
        sa.Column("asset_kind", sa.String(64), nullable=False),
        sa.Column("fqn", sa.String(2048), nullable=False),
        sa.Column("alias_type", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_openlineage_names_asset", "openlineage_names", ["asset_id"])
    op.create_index("ix_openlineage_names_list", "openlineage_names", ["ol_type", "namespace"])


def downgrade() -> None:
    op.drop_table("openlineage_names")
    op.drop_table("openlineage_runs")
    op.drop_table("openlineage_events")
