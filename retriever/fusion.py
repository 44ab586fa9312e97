"""Score fusion for hybrid search: normalise each side's scores, then combine them with a weight.

Normalisation is safe for a single hit and for ties (every score equal -> 1.0).

>>> minmax({"a": 2.0, "b": 1.0})
{'a': 1.0, 'b': 0.0}
>>> minmax({"a": 3.0})
{'a': 1.0}
>>> fuse({"a": 10.0, "b": 5.0}, {"b": 0.9, "c": 0.5}, weight=0.5, method="convex")  # a tie: keyword score first
[('a', 0.5), ('b', 0.5), ('c', 0.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["FUSION_METHODS", "fuse", "minmax"]

FUSION_METHODS = ("convex", "rrf")
RRF_K = 60


def minmax(scores: Mapping[str, float] | Mapping[int, float]) -> dict:
    """Scale scores to [0, 1] by the list's min and max; all-equal (or one) scores become 1.0."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return {key: 1.0 for key in scores}
    return {key: (v - lo) / (hi - lo) for key, v in scores.items()}


def _ranks(scores: Mapping) -> dict:
    order = sorted(scores, key=lambda key: (-scores[key], key))
    return {key: r for r, key in enumerate(order, 1)}


def fuse(
    sparse: Mapping, dense: Mapping, *, weight: float, method: str = "convex"
) -> list[tuple]:
    """Combine keyword and dense scores; ``weight`` is the dense side's share (0 = keyword only).

    ``convex``: ``(1 - w) * minmax(sparse) + w * minmax(dense)``; a candidate missing from one side gets 0
    there. ``rrf``: ``(1 - w) / (60 + rank_sparse) + w / (60 + rank_dense)``. Returns ``(key, score)`` best
    first; ties keep a stable order (sparse score, then key).
    """
    if not 0.0 <= weight <= 1.0 or math.isnan(weight):
        raise ValueError(f"weight={weight} must be between 0 (keyword only) and 1 (dense only)")
    keys = set(sparse) | set(dense)
    if method == "convex":
        ns, nd = minmax(sparse), minmax(dense)
        fused = {key: (1 - weight) * ns.get(key, 0.0) + weight * nd.get(key, 0.0) for key in keys}
    elif method == "rrf":
        rs, rd = _ranks(sparse), _ranks(dense)
        fused = {
            key: (1 - weight) * (1.0 / (RRF_K + rs[key]) if key in rs else 0.0)
            + weight * (1.0 / (RRF_K + rd[key]) if key in rd else 0.0)
            for key in keys
        }
    else:
        raise ValueError(f"unknown fusion method {method!r}; use one of: {', '.join(FUSION_METHODS)}")
    return sorted(fused.items(), key=lambda kv: (-kv[1], -sparse.get(kv[0], 0.0), str(kv[0])))
