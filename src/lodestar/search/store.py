"""The search index's tables, declared on the one `store.tables.metadata`.

`search_docs` holds one row per asset: what ranking and filtering read (kind, service,
database, schema, domain, the boost signals, popularity) and, on PostgreSQL, the weighted
`tsvector`. `search_facets` holds the many-valued filters (owner, tag, glossary term) as
(doc, facet, value) rows. `search_vocab` is every word the index has seen, for typo
tolerance. The full-text index itself is a backend matter (`FTS_OBJECTS`): an FTS5 table and
a trigram FTS5 table over the vocabulary on SQLite, GIN indexes (tsvector, `pg_trgm`) on
PostgreSQL. The search writer names them in `manages`; migration 0009 creates them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR

from lodestar.store.tables import metadata

search_docs = sa.Table(
    "search_docs",
    metadata,
    # 63 bits of a hash of the asset id (documents.doc_id): the FTS5 rowid on SQLite, so a
    # write needs no look-up to find the full-text row of an asset.
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
    # Boost signals, combined with the settings' weights at query time (search/ranking.py).
    sa.Column("documented", sa.Boolean, nullable=False),
    sa.Column("owned", sa.Boolean, nullable=False),
    sa.Column("tier", sa.Float, nullable=False),
    sa.Column("certified", sa.Boolean, nullable=False),
    sa.Column("deprecated", sa.Boolean, nullable=False),
    sa.Column("pop_log", sa.Float, nullable=False),
    # PostgreSQL only: name (A), description (B), FQN and metadata (C), columns (D).
    sa.Column("tsv", TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
)
# The columns a document row fills (the tsvector is written apart, on PostgreSQL only).
DOC_COLUMNS = tuple(c.name for c in search_docs.columns if c.name != "tsv")
# Prefix look-ups (suggest): on PostgreSQL `LIKE 'p%'` needs the pattern operator class.
sa.Index(
    "ix_search_docs_name", search_docs.c.name_lc, postgresql_ops={"name_lc": "text_pattern_ops"}
)
sa.Index("ix_search_docs_key", search_docs.c.name_key)
sa.Index("ix_search_docs_fqn", search_docs.c.fqn_lc, postgresql_ops={"fqn_lc": "text_pattern_ops"})

search_facets = sa.Table(
    "search_facets",
    metadata,
    sa.Column("doc_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("facet", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(2048), primary_key=True),
    sqlite_with_rowid=False,
)
sa.Index("ix_search_facets_value", search_facets.c.facet, search_facets.c.value)

search_vocab = sa.Table(
    "search_vocab",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("term", sa.String(64), nullable=False, unique=True),
)

FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

SQLITE_DDL = (
    # name, fqn, description, columns, meta: bm25 weighs each (settings.search_weight_*).
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    f"name, fqn, description, columns, meta, tokenize='{FTS_TOKENIZE}', "
    "detail=full)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_vocab_tri USING fts5("
    "term, tokenize='trigram', content='search_vocab', content_rowid='id')",
)
SQLITE_DROP = ("DROP TABLE IF EXISTS search_vocab_tri", "DROP TABLE IF EXISTS search_fts")

POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_search_docs_tsv ON search_docs USING gin (tsv)",
    "CREATE INDEX IF NOT EXISTS ix_search_vocab_trgm ON search_vocab USING gin (term gin_trgm_ops)",
)
POSTGRES_DROP = (
    "DROP INDEX IF EXISTS ix_search_vocab_trgm",
    "DROP INDEX IF EXISTS ix_search_docs_tsv",
)

FTS_OBJECTS = ("search_fts", "search_vocab_tri", "ix_search_docs_tsv", "ix_search_vocab_trgm")


def manages(object_name: str) -> bool:
    """The objects above and FTS5's shadow tables (`search_fts_data`, ...)."""
    return (
        any(object_name == o or object_name.startswith(o + "_") for o in FTS_OBJECTS[:2])
        or object_name in FTS_OBJECTS
    )
