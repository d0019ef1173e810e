"""Lineage from ingestion: the edges each unit reported (for stale edges), parsed queries
from query logs, and how far each log was read.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("ingest_units", sa.Column("lineage", Doc, nullable=True))


def downgrade() -> None:
    op.drop_column("ingest_units", "lineage")
