"""Retrieval metrics over ranked relevance lists (pure functions, tested against hand-computed values).

A ranked list is a sequence of booleans: ``rel[i]`` is True when the item at rank ``i + 1`` is relevant.

>>> hit_at_k([False, True, False], 1), hit_at_k([False, True, False], 3)
(0.0, 1.0)
>>> mrr_at_k([False, True, False], 10)
0.5
>>> round(ndcg_at_k([False, True], 10, n_relevant=1), 4)
0.6309
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

__all__ = ["first_relevant_rank", "hit_at_k", "mean", "mrr_at_k", "ndcg_at_k", "norm", "percentile"]


def norm(text: str) -> str:
    """Unicode (NFKC) and whitespace normalisation used to match answer strings inside passages."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k={k} must be 1 or more")


def hit_at_k(rel: Sequence[bool], k: int) -> float:
    """1.0 when a relevant item is among the first ``k``, else 0.0 (an empty list is a miss)."""
    _check_k(k)
    return 1.0 if any(rel[:k]) else 0.0


def first_relevant_rank(rel: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    for i, r in enumerate(rel):
        if r:
            return i + 1
    return None


def mrr_at_k(rel: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first relevant item within ``k``; 0.0 when there is none."""
    _check_k(k)
    r = first_relevant_rank(rel[:k])
    return 1.0 / r if r else 0.0


def ndcg_at_k(rel: Sequence[bool], k: int, n_relevant: int | None = None) -> float:
    """Binary-gain nDCG@k; ``n_relevant`` (all relevant items that exist) sets the ideal ranking.

    Without ``n_relevant`` the relevant items found in ``rel`` are taken as all there are. No relevant
    item at all gives 0.0.
    """
    _check_k(k)
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(rel[:k]) if r)
    total = sum(1 for r in rel if r) if n_relevant is None else n_relevant
    if total <= 0:
        return 0.0
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(total, k)))
    return dcg / idcg


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in 0..100) like numpy's default; 0.0 for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"p={p} must be between 0 and 100")
    if not values:
        return 0.0
    s = sorted(values)
    pos = (len(s) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
