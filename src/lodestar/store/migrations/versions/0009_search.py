"""Search: one document per asset, its many-valued facets, the vocabulary for typos, and
the full-text machinery of each backend (FTS5 tables on SQLite; tsvector and pg_trgm GIN
indexes on PostgreSQL). Existing assets are indexed by `lodestar db reindex search`.

Revision ID: 0009
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "name, fqn, description, columns, meta, "
    "tokenize='porter unicode61 remove_diacritics 2', detail=full)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_vocab_tri USING fts5("
    "term, tokenize='trigram', content='search_vocab', content_rowid='id')",
)
POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_search_docs_tsv ON search_docs USING gin (tsv)",
    "CREATE INDEX IF NOT EXISTS ix_search_vocab_trgm ON search_vocab USING gin (term gin_trgm_ops)",
)


def upgrade() -> None:
    op.create_table(
        "search_docs",
        sa.Column("doc_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("asset_id", sa.String(36), nullable=False, unique=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name_lc", sa.String(256), nullable=False),
        sa.Column("name_key", sa.String(512), nullable=False),
        sa.Column("fqn_lc", sa.String(2048), nullable=False),
        sa.Column("service", sa.String(2048), nullable=True),
        sa.Column("database", sa.String(2048), nullable=True),
        sa.Column("schema", sa.String(2048), nullable=True),
        sa.Column("domain", sa.String(2048), nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("popularity", sa.Float, nullable=False),
        sa.Column("documented", sa.Boolean, nullable=False),
        sa.Column("owned", sa.Boolean, nullable=False),
        sa.Column("tier", sa.Float, nullable=False),
        sa.Column("certified", sa.Boolean, nullable=False),
        sa.Column("deprecated", sa.Boolean, nullable=False),
        sa.Column("pop_log", sa.Float, nullable=False),
        sa.Column("tsv", TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
    )
    op.create_index(
        "ix_search_docs_name",
        "search_docs",
        ["name_lc"],
        postgresql_ops={"name_lc": "text_pattern_ops"},
    )
    op.create_index("ix_search_docs_key", "search_docs", ["name_key"])
    op.create_index(
        "ix_search_docs_fqn",
        "search_docs",
        ["fqn_lc"],
        postgresql_ops={"fqn_lc": "text_pattern_ops"},
    )
    op.create_table(
        "search_facets",
        sa.Column("doc_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("facet", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(2048), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_facets_value", "search_facets", ["facet", "value"])
    op.create_table(
        "search_vocab",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("term", sa.String(64), nullable=False, unique=True),
    )
    ddl = POSTGRES_DDL if op.get_bind().dialect.name == "postgresql" else SQLITE_DDL
    for stmt in ddl:
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_vocab_trgm")
        op.execute("DROP INDEX IF EXISTS ix_search_docs_tsv")
    else:
        op.execute("DROP TABLE IF EXISTS search_vocab_tri")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_vocab")
    op.drop_table("search_facets")
    op.drop_table("search_docs")
