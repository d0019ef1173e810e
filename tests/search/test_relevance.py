"""The relevance ratchet: MRR and nDCG@10 of the labelled query set (bench/search_catalog.py)
on both backends must not drop below the level reached. Raise these when ranking improves;
never lower them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lodestar.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import search_relevance as R

RATCHET = {  # backend: (MRR, nDCG@10), reached by the committed ranking
    "sqlite": (0.99, 0.99),
    "postgresql": (0.98, 0.99),
}


@pytest.mark.slow
def test_relevance_does_not_drop(store: Store) -> None:
    R.load(store)
    scored = R.evaluate(store)
    assert len(scored) >= 80
    mrr, ndcg = R.mrr(scored), R.ndcg10(scored)
    want_mrr, want_ndcg = RATCHET[store.engine.dialect.name]
    misses = [(s.query.q, s.rank, s.top[:3]) for s in scored if s.rank != 1]
    assert mrr >= want_mrr, (mrr, misses)
    assert ndcg >= want_ndcg, (ndcg, misses)
