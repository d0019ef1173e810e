"""PostgreSQL side of the search index: a weighted `tsvector` per document (English
stemming; name A, description B, FQN and metadata C, columns D) under a GIN index, and
`pg_trgm` over the vocabulary for typos."""

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
from lodestar.search.sql import like_escape
from lodestar.search.store import DOC_COLUMNS
from lodestar.store.stats import count_inserts

_COLS = ", ".join(f'"{c}"' for c in DOC_COLUMNS)
_INSERT = (
    f"INSERT INTO search_docs ({_COLS}, tsv) VALUES ({', '.join(['%s'] * len(DOC_COLUMNS))}, "
    "setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('english', %s), 'B')"
    " || setweight(to_tsvector('english', %s), 'C') || setweight(to_tsvector('english', %s), 'D'))"
)


def _term(t: Term) -> str:
    forms = [f"'{t.word}'" + (":*" if t.prefix else ""), *(f"'{c}'" for c in t.corrections)]
    return forms[0] if len(forms) == 1 else "(" + " | ".join(forms) + ")"


class PostgresIndex:
    def write(self, conn: Connection, docs: Sequence[SearchDoc], gone: Sequence[int]) -> None:
        if gone:
            ids = list(gone)
            conn.exec_driver_sql("DELETE FROM search_facets WHERE doc_id = ANY(%s)", (ids,))
            conn.exec_driver_sql("DELETE FROM search_docs WHERE doc_id = ANY(%s)", (ids,))
        if not docs:
            return
        rows = []
        for d in docs:
            r = d.row()
            rows.append(
                (
                    *(r[c] for c in DOC_COLUMNS),
                    d.name_text,
                    d.description_text,
                    f"{d.fqn_text} {d.meta_text}",
                    d.columns_text,
                )
            )
        conn.exec_driver_sql(_INSERT, rows)
        count_inserts(conn, "search_docs", len(rows))
        facets = [(d.doc_id, f, v) for d in docs for f, v in dict.fromkeys(d.facets)]
        if facets:
            conn.exec_driver_sql(
                "INSERT INTO search_facets (doc_id, facet, value) "
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])",
                ([f[0] for f in facets], [f[1] for f in facets], [f[2] for f in facets]),
            )
            count_inserts(conn, "search_facets", len(facets))
        vocab = documents.vocabulary(docs)
        if vocab:
            # Sorted, so concurrent writers take the unique index's locks in one order.
            conn.exec_driver_sql(
                "INSERT INTO search_vocab (term) SELECT unnest(%s::text[]) "
                "ON CONFLICT (term) DO NOTHING",
                (sorted(vocab),),
            )

    def clear(self, conn: Connection) -> None:
        conn.exec_driver_sql("TRUNCATE search_facets, search_docs, search_vocab")

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
        joiner = " & " if mode == "all" else " | "
        params["ts_query"] = joiner.join(_term(t) for t in terms)
        if not ranked:
            return (
                "SELECT d0.doc_id, 0 AS ts FROM search_docs d0 "
                "WHERE d0.tsv @@ to_tsquery('english', :ts_query)"
            )
        # ts_rank's weights are {D, C, B, A} and must lie in [0, 1].
        most = max(boosts.name, boosts.description, boosts.fqn, boosts.meta, boosts.columns)
        params["ts_weights"] = [
            boosts.columns / most,
            max(boosts.fqn, boosts.meta) / most,
            boosts.description / most,
            boosts.name / most,
        ]
        sql = (
            "SELECT d0.doc_id, ts_rank(CAST(:ts_weights AS float4[]), d0.tsv, tq.q) * 10 AS ts "
            "FROM search_docs d0, to_tsquery('english', :ts_query) AS tq(q) "
            "WHERE d0.tsv @@ tq.q"
        )
        if top is not None:
            params["ts_top"] = top
            sql += " ORDER BY ts DESC LIMIT :ts_top"
        return sql

    def known(self, conn: Connection, word: str) -> bool:
        row = conn.execute(
            sql_text("SELECT 1 FROM search_vocab WHERE term LIKE :w ESCAPE '\\' LIMIT 1"),
            {"w": like_escape(word) + "%"},
        ).first()
        return row is not None

    def complete(self, conn: Connection, prefix: str) -> list[str]:
        return []  # `word:*` in the tsquery

    def candidates(self, conn: Connection, word: str) -> list[str]:
        rows = conn.execute(
            sql_text(
                "SELECT term FROM search_vocab WHERE term % :w "
                "AND length(term) BETWEEN :lo AND :hi "
                "ORDER BY similarity(term, :w) DESC LIMIT 64"
            ),
            {"w": word, "lo": len(word) - 2, "hi": len(word) + 2},
        )
        return [r[0] for r in rows]

    def suggest(self, conn: Connection, prefix: str, words: Sequence[str], limit: int) -> list[str]:
        p: dict[str, Any] = {"p": like_escape(prefix) + "%", "n": limit}
        found: list[str] = []
        stmts = [
            "SELECT asset_id FROM search_docs WHERE name_lc LIKE :p ESCAPE '\\' "
            "AND NOT deleted ORDER BY popularity DESC, length(name_lc), name_lc LIMIT :n",
            "SELECT asset_id FROM search_docs WHERE fqn_lc LIKE :p ESCAPE '\\' "
            "AND NOT deleted ORDER BY length(fqn_lc), fqn_lc LIMIT :n",
        ]
        for stmt in stmts:
            found += [r[0] for r in conn.execute(sql_text(stmt), p)]
            if len(dict.fromkeys(found)) >= limit:
                return list(dict.fromkeys(found))[:limit]
        if words:
            p["q"] = " & ".join(f"'{w}':*AC" for w in words)
            rows = conn.execute(
                sql_text(
                    "SELECT asset_id FROM search_docs, to_tsquery('english', :q) AS tq(q) "
                    "WHERE tsv @@ tq.q AND NOT deleted "
                    "ORDER BY ts_rank(tsv, tq.q) DESC, popularity DESC LIMIT :n"
                ),
                p,
            )
            found += [r[0] for r in rows]
        return list(dict.fromkeys(found))[:limit]
