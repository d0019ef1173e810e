"""Lineage from ingestion: the edges each unit reported (for stale edges), and the parsed
queries of query logs.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("ingest_units", sa.Column("lineage", Doc, nullable=True))
    op.create_table(
        "queries",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("dialect", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("total_duration_ms", sa.Float, nullable=False),
        sa.Column("users", Doc, nullable=False),
        sa.Column("sources", Doc, nullable=False),
        sa.Column("targets", Doc, nullable=False),
        sa.Column("sql", sa.Text, nullable=True),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("recorded_ts", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_queries_last_seen", "queries", ["last_seen"])


def downgrade() -> None:
    op.drop_table("queries")
    op.drop_column("ingest_units", "lineage")
