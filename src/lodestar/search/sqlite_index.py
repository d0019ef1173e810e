"""SQLite side of the search index: an FTS5 table (`search_fts`, porter stemming, prefix
indexes, rowid = doc id) and a trigram FTS5 table over the vocabulary for typos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from lodestar.search import documents
from lodestar.search.backend import Mode
from lodestar.search.documents import SearchDoc
from lodestar.search.models import Boosts
from lodestar.search.query import Term
from lodestar.search.store import DOC_COLUMNS, SQLITE_DDL, SQLITE_DROP
from lodestar.store.rows import insert_rows

CHUNK = 500
_FTS_INSERT = (
    "INSERT INTO search_fts(rowid, name, fqn, description, columns, meta) VALUES (?, ?, ?, ?, ?, ?)"
)
_TOP = "\U0010ffff"


def _quoted(word: str) -> str:
    return '"' + word.replace('"', "") + '"'


COMPLETIONS = 24


def _term(t: Term) -> str:
    # FTS5 prefix queries without a prefix index are slow: the prefix is matched through the
    # indexed words that start with it (Term.completions).
    forms = [_quoted(f) for f in t.forms]
    return forms[0] if len(forms) == 1 else "(" + " OR ".join(forms) + ")"


class SQLiteIndex:
    def write(self, conn: Connection, docs: Sequence[SearchDoc], gone: Sequence[int]) -> None:
        for i in range(0, len(gone), CHUNK):
            ids = list(gone[i : i + CHUNK])
            marks = ", ".join("?" * len(ids))
            conn.exec_driver_sql(f"DELETE FROM search_fts WHERE rowid IN ({marks})", tuple(ids))
            conn.exec_driver_sql(f"DELETE FROM search_facets WHERE doc_id IN ({marks})", tuple(ids))
            conn.exec_driver_sql(f"DELETE FROM search_docs WHERE doc_id IN ({marks})", tuple(ids))
        if not docs:
            return
        rows = [tuple(d.row()[c] for c in DOC_COLUMNS) for d in docs]
        insert_rows(conn, "search_docs", DOC_COLUMNS, rows)
        conn.exec_driver_sql(
            _FTS_INSERT,
            [
                (d.doc_id, d.name_text, d.fqn_text, d.description_text, d.columns_text, d.meta_text)
                for d in docs
            ],
        )
        facets = [(d.doc_id, f, v) for d in docs for f, v in dict.fromkeys(d.facets)]
        insert_rows(conn, "search_facets", ("doc_id", "facet", "value"), facets)
        vocab = documents.vocabulary(docs)
        if vocab:
            top = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM search_vocab").scalar()
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO search_vocab(term) VALUES (?)", [(w,) for w in vocab]
            )
            conn.exec_driver_sql(
                "INSERT INTO search_vocab_tri(rowid, term) "
                "SELECT id, term FROM search_vocab WHERE id > ?",
                (top,),
            )

    def clear(self, conn: Connection) -> None:
        for stmt in SQLITE_DROP:
            conn.exec_driver_sql(stmt)
        for table in ("search_facets", "search_docs", "search_vocab"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        for stmt in SQLITE_DDL:
            conn.exec_driver_sql(stmt)

    def matched(
        self,
        terms: Sequence[Term],
        mode: Mode,
        boosts: Boosts,
        params: dict[str, Any],
        *,
        ranked: bool,
        top: int | None = None,
    ) -> str:
        joiner = " AND " if mode == "all" else " OR "
        params["fts_match"] = joiner.join(_term(t) for t in terms)
        if not ranked:
            return (
                "SELECT rowid AS doc_id, 0 AS ts FROM search_fts WHERE search_fts MATCH :fts_match"
            )
        params.update(
            w_name=boosts.name,
            w_fqn=boosts.fqn,
            w_desc=boosts.description,
            w_cols=boosts.columns,
            w_meta=boosts.meta,
        )
        sql = (
            "SELECT rowid AS doc_id, "
            "-bm25(search_fts, :w_name, :w_fqn, :w_desc, :w_cols, :w_meta) AS ts "
            "FROM search_fts WHERE search_fts MATCH :fts_match"
        )
        if top is not None:  # only the best by text score reach the boosts
            params["fts_top"] = top
            sql += " ORDER BY ts DESC LIMIT :fts_top"
        return sql

    def known(self, conn: Connection, word: str) -> bool:
        row = conn.execute(
            sql_text("SELECT 1 FROM search_vocab WHERE term >= :w AND term < :hi LIMIT 1"),
            {"w": word, "hi": word + _TOP},
        ).first()
        return row is not None

    def complete(self, conn: Connection, prefix: str) -> list[str]:
        rows = conn.execute(
            sql_text(
                "SELECT term FROM search_vocab WHERE term > :w AND term < :hi "
                "ORDER BY length(term), term LIMIT :n"
            ),
            {"w": prefix, "hi": prefix + _TOP, "n": COMPLETIONS},
        )
        return [r[0] for r in rows]

    def candidates(self, conn: Connection, word: str) -> list[str]:
        grams = {word[i : i + 3] for i in range(len(word) - 2)}
        if not grams:
            return []
        match = " OR ".join(_quoted(g) for g in sorted(grams))
        rows = conn.execute(
            sql_text(
                "SELECT term FROM search_vocab_tri WHERE search_vocab_tri MATCH :m "
                "AND length(term) BETWEEN :lo AND :hi ORDER BY rank LIMIT 64"
            ),
            {"m": match, "lo": len(word) - 2, "hi": len(word) + 2},
        )
        return [r[0] for r in rows]

    def suggest(self, conn: Connection, prefix: str, words: Sequence[str], limit: int) -> list[str]:
        p = {"p": prefix, "hi": prefix + _TOP, "n": limit}
        found: list[str] = []
        stmts = [
            "SELECT asset_id FROM search_docs WHERE name_lc >= :p AND name_lc < :hi "
            "AND NOT deleted ORDER BY popularity DESC, length(name_lc), name_lc LIMIT :n",
            "SELECT asset_id FROM search_docs WHERE fqn_lc >= :p AND fqn_lc < :hi "
            "AND NOT deleted ORDER BY length(fqn_lc), fqn_lc LIMIT :n",
        ]
        for stmt in stmts:
            found += [r[0] for r in conn.execute(sql_text(stmt), p)]
            if len(dict.fromkeys(found)) >= limit:
                return list(dict.fromkeys(found))[:limit]
        if words:
            p["m"] = "{name fqn} : " + " AND ".join(_quoted(w) + "*" for w in words)
            rows = conn.execute(
                sql_text(
                    "SELECT d.asset_id FROM search_fts f JOIN search_docs d "
                    "ON d.doc_id = f.rowid WHERE search_fts MATCH :m AND NOT d.deleted "
                    "ORDER BY f.rank, d.popularity DESC LIMIT :n"
                ),
                p,
            )
            found += [r[0] for r in rows]
        return list(dict.fromkeys(found))[:limit]
