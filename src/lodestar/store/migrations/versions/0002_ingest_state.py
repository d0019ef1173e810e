"""Ingestion run state: runs with heartbeats, and the units each pipeline last committed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("report", Doc, nullable=True),
    )
    op.create_index("ix_ingest_runs_pipeline", "ingest_runs", ["pipeline", "started_at"])
    op.create_table(
        "ingest_units",
        sa.Column("pipeline", sa.String(128), primary_key=True),
        sa.Column("unit_key", sa.String(2048), primary_key=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("assets", Doc, nullable=False),
    )
    op.create_index("ix_ingest_units_run", "ingest_units", ["pipeline", "run_id"])


def downgrade() -> None:
    op.drop_table("ingest_units")
    op.drop_table("ingest_runs")
