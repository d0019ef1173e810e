"""Edges with their source and first/last seen, and columns with identity.

Edges gain `source` (in the key: each source asserts its own row) and `last_seen`. Existing
rows: `contains` comes from the child's parent field (source "parent"); lineage rows become
one row per source their props listed; every other relation came from the asset's body.
Columns of every existing asset that has them get their rows.

Revision ID: 0003
Revises: 0002
"""

import hashlib
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Doc = sa.JSON().with_variant(JSONB(), "postgresql")


def _column_id(asset_id: str, name: str) -> str:
    """A copy of lodestar.model.ids.column_id as of this revision: ids computed here and by
    the write path must agree."""
    h = hashlib.blake2b(f"{asset_id}/{name}".encode(), digest_size=8).hexdigest()
    return f"{asset_id[:19]}{h[:4]}-{h[4:16]}"


def _json(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return orjson.loads(value)


def upgrade() -> None:
    conn = op.get_bind()
    old = list(
        conn.execute(
            sa.text("SELECT from_id, relation, to_id, via, props, created_at FROM edges")
        ).mappings()
    )
    op.drop_index("ix_edges_to", table_name="edges")
    op.drop_table("edges")
    edges = op.create_table(
        "edges",
        sa.Column("from_id", sa.String(36), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("to_id", sa.String(36), primary_key=True),
        sa.Column("via", sa.String(512), primary_key=True),
        sa.Column("source", sa.String(300), primary_key=True),
        sa.Column("props", Doc, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_edges_to", "edges", ["to_id", "relation"])
    reserved = sa.text("source NOT IN ('body', 'parent')")
    op.create_index(
        "ix_edges_source",
        "edges",
        ["source", "last_seen"],
        sqlite_where=reserved,
        postgresql_where=reserved,
    )
    rows: list[dict[str, Any]] = []
    for r in old:
        base = {k: r[k] for k in ("from_id", "relation", "to_id", "via", "created_at")}
        props = _json(r["props"])
        if r["relation"] == "contains":
            rows.append({**base, "source": "parent", "props": None, "last_seen": r["created_at"]})
        elif r["relation"] == "lineage":
            props = props or {}
            last = props.get("last_seen", r["created_at"])
            first = props.get("first_seen", r["created_at"])
            rest = {
                k: v for k, v in props.items() if k not in ("sources", "first_seen", "last_seen")
            }
            for source in props.get("sources") or ["unknown"]:
                rows.append(
                    {
                        **base,
                        "source": source,
                        "props": rest or None,
                        "created_at": first,
                        "last_seen": last,
                    }
                )
        else:
            rows.append({**base, "source": "body", "props": props, "last_seen": r["created_at"]})
    if rows:
        op.bulk_insert(edges, rows)

    columns = op.create_table(
        "columns",
        sa.Column("asset_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("id", sa.String(36), nullable=False),
        sqlite_with_rowid=False,
    )
    col_rows: list[dict[str, Any]] = []
    for asset_id, doc in conn.execute(sa.text("SELECT id, doc FROM assets")):
        for col in _json(doc).get("columns") or ():
            if isinstance(col, dict) and isinstance(col.get("name"), str):
                name = col["name"]
                col_rows.append(
                    {"asset_id": asset_id, "name": name, "id": _column_id(str(asset_id), name)}
                )
        if len(col_rows) >= 5000:
            op.bulk_insert(columns, col_rows)
            col_rows = []
    if col_rows:
        op.bulk_insert(columns, col_rows)


def downgrade() -> None:
    op.drop_table("columns")
    conn = op.get_bind()
    rows = list(
        conn.execute(
            sa.text("SELECT DISTINCT from_id, relation, to_id, via, created_at FROM edges")
        ).mappings()
    )
    op.drop_index("ix_edges_source", table_name="edges")
    op.drop_index("ix_edges_to", table_name="edges")
    op.drop_table("edges")
    edges = op.create_table(
        "edges",
        sa.Column("from_id", sa.String(36), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("to_id", sa.String(36), primary_key=True),
        sa.Column("via", sa.String(512), primary_key=True),
        sa.Column("props", Doc, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_edges_to", "edges", ["to_id", "relation"])
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for r in rows:
        key = (r["from_id"], r["relation"], r["to_id"], r["via"])
        if key not in seen:
            seen.add(key)
            out.append({**dict(r), "props": None})
    if out:
        op.bulk_insert(edges, out)
