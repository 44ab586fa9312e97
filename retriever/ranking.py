"""Ranking: fuse the first stage's two sides, re-score with sentence evidence, drop near-duplicates.

The one place the hybrid score is computed; :mod:`eval.tune` replays it for every setting of its grid.

>>> from retriever.settings import SearchSettings
>>> cands = fused_candidates({0: 9.0, 1: 3.0}, {1: 0.8, 2: 0.7}, SearchSettings(), k=2)
>>> [(c.row, round(c.score, 2)) for c in cands]
[(0, 0.5), (1, 0.5), (2, 0.0)]
>>> for c, (lex, cos) in zip(cands, [(0.5, 0.8), (0.9, 0.6), (0.0, 0.7)]):
...     c.sent_lex, c.sent_cos = [lex], [cos]
>>> [c.row for c in rescore_hybrid(cands, SearchSettings(lex_weight=0.6, sent_weight=1.0))]  # 1.64, 1.6, 0.7
[1, 0, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .candidates import Candidate
from .fusion import fuse
from .settings import SearchSettings

__all__ = ["best_first", "dedup", "fused_candidates", "keyword_ranking", "rescore_dense", "rescore_hybrid"]


def best_first(cands: list[Candidate]) -> list[Candidate]:
    """Sort in place by score, best first (ties: lower chunk row first); returns the list."""
    cands.sort(key=lambda c: (-c.score, c.row))
    return cands


def keyword_ranking(sparse: Mapping[int, float]) -> list[Candidate]:
    """BM25 mode: the keyword side alone, best first."""
    return best_first([Candidate(i, s, {"bm25": s}) for i, s in sparse.items()])


def fused_candidates(sparse: Mapping[int, float], dense: Mapping[int, float], settings: SearchSettings,
                     k: int) -> list[Candidate]:
    """The best ``max(rerank_depth, 2k)`` candidates of the fused ranking, with each side's score kept in ``per``."""
    fused = fuse(sparse, dense, weight=settings.dense_weight, method=settings.fusion)[: max(settings.rerank_depth, 2 * k)]
    cands = []
    for i, s in fused:
        per = {"fused": s}
        if i in sparse:
            per["bm25"] = sparse[i]
        if i in dense:
            per["dense"] = dense[i]
        cands.append(Candidate(i, s, per))
    return cands


def rescore_hybrid(cands: list[Candidate], settings: SearchSettings) -> list[Candidate]:
    """``fused + lex_weight * best sentence keyword evidence + sent_weight * best sentence cosine``, best first.

    The candidates' evidence must be attached (:meth:`retriever.evidence.Evidence.attach`).
    """
    for c in cands:
        c.score = (c.per["fused"] + settings.lex_weight * max(c.sent_lex, default=0.0)
                   + settings.sent_weight * max(c.sent_cos, default=0.0))
        c.per["hybrid"] = c.score
    return best_first(cands)


def rescore_dense(cands: list[Candidate], settings: SearchSettings) -> list[Candidate]:
    """Dense mode: the chunk's cosine and its best sentence's, shared by ``dense_sentence_share``; best first."""
    w = settings.dense_sentence_share
    for c in cands:
        c.score = (1 - w) * c.per["dense"] + w * max(c.sent_cos, default=0.0)
    return best_first(cands)


def dedup(ranked: Sequence[Candidate], chunks: Sequence[Mapping[str, Any]], k: int,
          overlap: float) -> list[Candidate]:
    """The first ``k`` candidates that do not mostly repeat a better one: the same text, or a passage of the
    same document overlapping it by more than ``overlap`` of the shorter one."""
    kept: list[Candidate] = []
    for cand in ranked:
        c = chunks[cand.row]
        dup = False
        for other in kept:
            o = chunks[other.row]
            if o["text"] == c["text"]:
                dup = True
            elif o["doc_id"] == c["doc_id"]:
                inter = min(o["end"], c["end"]) - max(o["start"], c["start"])
                dup = inter > overlap * min(o["end"] - o["start"], c["end"] - c["start"])
            if dup:
                break
        if not dup:
            kept.append(cand)
            if len(kept) == k:
                break
    return kept
