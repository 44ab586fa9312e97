"""Metric and fusion functions against hand-computed values, including ties and empty results."""

from __future__ import annotations

import math

import pytest

from eval.metrics import first_relevant_rank, hit_at_k, mean, mrr_at_k, ndcg_at_k, norm, percentile
from retriever.fusion import fuse, minmax


def test_hit_at_k() -> None:
    rel = [False, False, True, False]
    assert [hit_at_k(rel, k) for k in (1, 2, 3, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert hit_at_k([], 5) == 0.0
    with pytest.raises(ValueError):
        hit_at_k(rel, 0)


def test_mrr() -> None:
    assert mrr_at_k([False, False, True], 10) == pytest.approx(1 / 3)
    assert mrr_at_k([False, False, True], 2) == 0.0
    assert mrr_at_k([True, True], 10) == 1.0
    assert mrr_at_k([], 10) == 0.0
    assert first_relevant_rank([False, True]) == 2 and first_relevant_rank([]) is None


def test_ndcg_hand_computed() -> None:
    # relevant at ranks 2 and 3, 2 relevant exist: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k([False, True, True], 10, n_relevant=2) == pytest.approx(dcg / idcg)
    # 3 relevant exist but only 2 retrieved: the ideal ranking has 3
    idcg3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([False, True, True], 10, n_relevant=3) == pytest.approx(dcg / idcg3)
    assert ndcg_at_k([True], 10) == 1.0
    assert ndcg_at_k([], 10, n_relevant=1) == 0.0
    assert ndcg_at_k([False, False], 10) == 0.0
    # cut at k: the relevant item at rank 3 does not count for k=2
    assert ndcg_at_k([False, False, True], 2, n_relevant=1) == 0.0


def test_percentile_and_mean() -> None:
    v = [10.0, 20.0, 30.0, 40.0]
    assert percentile(v, 50) == 25.0
    assert percentile(v, 95) == pytest.approx(38.5)
    assert percentile([5.0, 5.0, 5.0], 95) == 5.0  # ties
    assert percentile([], 50) == 0.0 and mean([]) == 0.0
    assert percentile([7.0], 99) == 7.0


def test_norm_matches_answers_across_spacing() -> None:
    assert norm("1조\u00a08천억원") == "1조 8천억원"
    assert norm(" 광주\n 집적단지 ") == "광주 집적단지"


def test_minmax_ties_and_single() -> None:
    assert minmax({}) == {}
    assert minmax({"a": 0.3}) == {"a": 1.0}
    assert minmax({"a": 2.0, "b": 2.0}) == {"a": 1.0, "b": 1.0}
    assert minmax({"a": 4.0, "b": 2.0, "c": 3.0}) == {"a": 1.0, "b": 0.0, "c": 0.5}


def test_fuse_convex_and_rrf() -> None:
    sparse = {1: 10.0, 2: 6.0, 3: 2.0}
    dense = {3: 0.9, 2: 0.5, 4: 0.1}
    ranked = dict(fuse(sparse, dense, weight=0.25, method="convex"))
    assert ranked[1] == pytest.approx(0.75)          # 0.75 * 1 + 0.25 * 0 (missing on the dense side)
    assert ranked[2] == pytest.approx(0.75 * 0.5 + 0.25 * 0.5)
    assert ranked[3] == pytest.approx(0.25)
    assert ranked[4] == pytest.approx(0.0)
    rrf = dict(fuse(sparse, dense, weight=0.5, method="rrf"))
    assert rrf[2] == pytest.approx(0.5 / 62 + 0.5 / 62)
    assert rrf[1] == pytest.approx(0.5 / 61)
    assert fuse({}, {}, weight=0.5) == []
    assert [k for k, _ in fuse({}, {7: 0.2}, weight=0.3)] == [7]


def test_fuse_ties_break_by_keyword_score_then_key() -> None:
    # a and b both fuse to 0.5; a has the higher keyword score
    assert [k for k, _ in fuse({"a": 10.0, "b": 5.0}, {"b": 0.9, "c": 0.5}, weight=0.5)] == ["a", "b", "c"]


def test_fuse_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="between 0"):
        fuse({1: 1.0}, {}, weight=1.5)
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({1: 1.0}, {}, weight=0.5, method="max")
