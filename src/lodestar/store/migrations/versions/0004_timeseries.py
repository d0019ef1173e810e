"""Typed time series: observations with event time, origin and idempotency key; fact tables.

Observations stored before keep their `ts` as the time they were recorded, origin `unknown`
and the key `legacy:<id>`.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _series() -> list[Any]:
    return [
        sa.Column("event_ts", sa.BigInteger, nullable=False),
        sa.Column("recorded_ts", sa.BigInteger, nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("idem_key", sa.String(64), nullable=False),
    ]


def _result_columns() -> list[Any]:
    return [
        sa.Column("asset_id", sa.String(36), nullable=False),
        sa.Column("column_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("expected_min", sa.Float, nullable=True),
        sa.Column("expected_max", sa.Float, nullable=True),
        sa.Column("failed_rows", sa.BigInteger, nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("recorded_ts", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("origin", sa.String(300), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("idem_key", sa.String(64), nullable=True))
    op.execute(
        "UPDATE observations SET recorded_ts = ts, origin = 'unknown', idem_key = 'legacy:' || id"
    )
    with op.batch_alter_table("observations") as batch:
        batch.alter_column("recorded_ts", existing_type=sa.BigInteger, nullable=False)
        batch.alter_column("origin", existing_type=sa.String(300), nullable=False)
        batch.alter_column("idem_key", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_observations_idem_key", ["idem_key"])

    op.create_table(
        "test_results",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("test_id", sa.String(36), nullable=False),
        *_result_columns(),
        *_series(),
        sa.UniqueConstraint("idem_key", name="uq_test_results_idem_key"),
    )
    op.create_index("ix_test_results_test", "test_results", ["test_id", "event_ts"])
    op.create_index("ix_test_results_asset", "test_results", ["asset_id", "event_ts"])
    op.create_index("ix_test_results_status", "test_results", ["status", "event_ts", "id"])
    op.create_table(
        "test_latest",
        sa.Column("test_id", sa.String(36), primary_key=True),
        *_result_columns(),
        *_series(),
    )
    op.create_index("ix_test_latest_asset", "test_latest", ["asset_id", "test_id"])

    op.create_table(
        "usage_daily",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("asset_id", sa.String(36), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("reads", sa.BigInteger, nullable=False),
        sa.Column("writes", sa.BigInteger, nullable=False),
        sa.Column("users", sa.Integer, nullable=False),
        sa.Column("queries", sa.Integer, nullable=False),
        *_series(),
        sa.UniqueConstraint("idem_key", name="uq_usage_daily_idem_key"),
    )
    op.create_index("ix_usage_daily_asset", "usage_daily", ["asset_id", "day"])
    op.create_index("ix_usage_daily_day", "usage_daily", ["day", "asset_id", "reads"])
    op.create_table(
        "usage_weekly",
        sa.Column("asset_id", sa.String(36), primary_key=True),
        sa.Column("week", sa.Integer, primary_key=True),
        sa.Column("reads", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_usage_weekly_week", "usage_weekly", ["week", "asset_id", "reads"])


def downgrade() -> None:
    op.drop_table("usage_weekly")
    op.drop_table("usage_daily")
    op.drop_table("test_latest")
    op.drop_table("test_results")
    with op.batch_alter_table("observations") as batch:
        batch.drop_constraint("uq_observations_idem_key", type_="unique")
        for name in ("idem_key", "run_id", "origin", "recorded_ts"):
            batch.drop_column(name)
