"""Column lineage: one row per column pair of each asserted lineage edge, per source.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_columns",
        sa.Column("from_id", sa.String(36), primary_key=True),
        sa.Column("from_column", sa.String(256), primary_key=True),
        sa.Column("to_id", sa.String(36), primary_key=True),
        sa.Column("to_column", sa.String(256), primary_key=True),
        sa.Column("via", sa.String(512), primary_key=True),
        sa.Column("source", sa.String(300), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_lineage_columns_to", "lineage_columns", ["to_id", "to_column"])
    # Edges asserted before this revision: their pairs, from their props.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT from_id, to_id, via, source, props FROM edges "
            "WHERE relation = 'lineage' AND props IS NOT NULL"
        )
    )
    table = sa.table(
        "lineage_columns",
        *(sa.column(c) for c in ("from_id", "from_column", "to_id", "to_column", "via", "source")),
    )
    batch: dict[tuple[str, ...], None] = {}
    for f, t, via, source, props in rows:
        if isinstance(props, str):
            import json

            props = json.loads(props)
        pairs = props.get("columns") if isinstance(props, dict) else None
        for pair in pairs if isinstance(pairs, list) else []:
            if (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(c, str) and 0 < len(c) <= 256 for c in pair)
            ):
                batch[(str(f), pair[0], str(t), pair[1], str(via), str(source))] = None
    if batch:
        keys = ("from_id", "from_column", "to_id", "to_column", "via", "source")
        op.bulk_insert(table, [dict(zip(keys, r, strict=True)) for r in batch])


def downgrade() -> None:
    op.drop_table("lineage_columns")
