"""Data quality: what a test result says beyond its numbers (threshold, SQL, failing rows).

Revision ID: 0010
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "test_result_details",
        sa.Column("idem_key", sa.String(64), primary_key=True),
        sa.Column("test_id", sa.String(36), nullable=False),
        sa.Column("event_ts", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=True),
        sa.Column("detail", Doc, nullable=False),
    )
    op.create_index("ix_test_result_details_ts", "test_result_details", ["event_ts"])


def downgrade() -> None:
    op.drop_table("test_result_details")
