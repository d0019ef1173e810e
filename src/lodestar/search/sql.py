"""The SQL both backends share: filters, the score, the page, the facets. A backend supplies
the matched set, `(doc_id, ts)` rows with `ts` its text score (higher is better)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from lodestar.search.models import (
    FACET_VALUES,
    MULTI_VALUED,
    SINGLE_VALUED,
    Boosts,
    SearchQuery,
)

_COLUMN = {
    "kind": "d.kind",
    "service": "d.service",
    "database": "d.database",
    "schema": 'd."schema"',
    "domain": "d.domain",
}


def like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filters(query: SearchQuery, params: dict[str, Any]) -> str:
    conds = [] if query.deleted else ["NOT d.deleted"]
    for name, values in query.filters.items():
        if not values:
            continue
        marks = []
        for i, v in enumerate(values):
            params[f"f_{name}_{i}"] = v
            marks.append(f":f_{name}_{i}")
        if name in SINGLE_VALUED:
            conds.append(f"{_COLUMN[name]} IN ({', '.join(marks)})")
        elif name in MULTI_VALUED:
            params[f"f_{name}"] = name
            conds.append(
                f"d.doc_id IN (SELECT doc_id FROM search_facets WHERE facet = :f_{name} "
                f"AND value IN ({', '.join(marks)}))"
            )
    return " AND ".join(conds) or "1 = 1"


def score(boosts: Boosts, q: str, name_key: str, params: dict[str, Any]) -> str:
    qlc = q.strip().lower()
    params.update(
        b_doc=boosts.documented,
        b_own=boosts.owned,
        b_tier=boosts.tier,
        b_cert=boosts.certified,
        b_pop=boosts.popularity,
        b_dep=boosts.deprecated_factor,
        b_exact=boosts.exact,
        b_frag=boosts.fqn_suffix,
        q_key=name_key,
        q_lc=qlc,
        # A dotted query is an FQN fragment: a whole FQN part sequence, or the start of one.
        q_frag=f"%{like_escape(qlc)}%" if "." in qlc else None,
        q_end=f"%.{like_escape(qlc)}" if "." in qlc else None,
        b_words=boosts.name_words,
        q_words=f"% {like_escape(name_key)} %" if name_key else None,
        b_prefix=boosts.name_prefix,
        q_prefix=f"{like_escape(qlc)}%" if qlc and " " not in qlc else None,
        q_len=float(len(qlc)),
    )
    return (
        "(m.ts * (1 + CASE WHEN d.documented THEN :b_doc ELSE 0 END"
        " + CASE WHEN d.owned THEN :b_own ELSE 0 END + d.tier * :b_tier"
        " + CASE WHEN d.certified THEN :b_cert ELSE 0 END + d.pop_log * :b_pop)"
        " * CASE WHEN d.deprecated THEN :b_dep ELSE 1 END"
        " + CASE WHEN d.name_key = :q_key OR d.fqn_lc = :q_lc THEN :b_exact ELSE 0 END"
        " + CASE WHEN d.fqn_lc LIKE :q_frag ESCAPE '\\' THEN :b_frag ELSE 0 END"
        " + CASE WHEN d.fqn_lc LIKE :q_end ESCAPE '\\' THEN :b_frag ELSE 0 END"
        " + CASE WHEN ' ' || d.name_key || ' ' LIKE :q_words ESCAPE '\\' THEN :b_words ELSE 0 END"
        " + CASE WHEN d.name_lc LIKE :q_prefix ESCAPE '\\'"
        " THEN :b_prefix * :q_len / length(d.name_lc) ELSE 0 END)"
    )


_ORDER = {
    "relevance": "score DESC, d.asset_id",
    "name": "d.name_lc, d.asset_id",
    "updated": "d.updated_at DESC, d.asset_id",
    "popularity": "d.popularity DESC, score DESC, d.asset_id",
}


def page(
    conn: Connection,
    matched: str,
    params: dict[str, Any],
    query: SearchQuery,
    boosts: Boosts,
    name_key: str,
) -> list[tuple[str, float]]:
    """(asset id, score) of the page, best first."""
    where = filters(query, params)
    score_sql = score(boosts, query.q, name_key, params)
    params.update(limit=query.limit, offset=query.offset)
    # Assets whose name or FQN is the query join the matched set whatever their text score.
    stmt = (
        f"WITH t AS MATERIALIZED ({matched}), "
        "m AS (SELECT doc_id, ts FROM t UNION ALL SELECT x.doc_id, 0 FROM search_docs x "
        "WHERE (x.name_key = :q_key OR x.fqn_lc = :q_lc) "
        "AND x.doc_id NOT IN (SELECT doc_id FROM t)) "
        f"SELECT d.asset_id, {score_sql} AS score "
        f"FROM m JOIN search_docs d ON d.doc_id = m.doc_id WHERE {where} "
        f"ORDER BY {_ORDER[query.sort]} LIMIT :limit OFFSET :offset"
    )
    return [(r[0], float(r[1])) for r in conn.execute(sql_text(stmt), params)]


def facets(
    conn: Connection, matched: str, params: dict[str, Any], query: SearchQuery
) -> tuple[int, dict[str, dict[str, int]]]:
    """The number of matches and, per filter, its most frequent values among them."""
    where = filters(query, params)
    parts = [
        f"SELECT '{name}' AS facet, {_COLUMN[name].removeprefix('d.')} AS value, "
        f"count(*) AS n FROM h WHERE {_COLUMN[name].removeprefix('d.')} IS NOT NULL "
        f"GROUP BY {_COLUMN[name].removeprefix('d.')}"
        for name in SINGLE_VALUED
    ]
    parts.append(
        "SELECT f.facet, f.value, count(*) FROM h JOIN search_facets f ON f.doc_id = h.doc_id "
        "GROUP BY f.facet, f.value"
    )
    parts.append("SELECT '#total', NULL, count(*) FROM h")
    stmt = (
        f"WITH m AS ({matched}), h AS MATERIALIZED (SELECT d.doc_id, d.kind, d.service, "
        f'd.database, d."schema", d.domain FROM m JOIN search_docs d ON d.doc_id = m.doc_id '
        f"WHERE {where}) " + " UNION ALL ".join(parts)
    )
    total = 0
    out: dict[str, dict[str, int]] = {name: {} for name in (*SINGLE_VALUED, *MULTI_VALUED)}
    for row in conn.execute(sql_text(stmt), params):
        facet, value, n = str(row[0]), row[1], int(row[2])
        if facet == "#total":
            total = n
        elif facet in out:
            out[facet][str(value)] = n
    for name, counts in out.items():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_VALUES]
        out[name] = dict(top)
    return total, out


def count(conn: Connection, matched: str, params: dict[str, Any], query: SearchQuery) -> int:
    where = filters(query, params)
    stmt = (
        f"WITH m AS ({matched}) SELECT count(*) FROM m JOIN search_docs d "
        f"ON d.doc_id = m.doc_id WHERE {where}"
    )
    return int(conn.execute(sql_text(stmt), params).scalar_one())
