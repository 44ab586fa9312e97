"""Every tuned number of search and answering, with the reason for its value.

>>> SearchSettings().dense_weight
0.5
>>> SearchSettings(dense_weight=0.7).dense_weight
0.7
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SearchSettings"]


@dataclass(frozen=True)
class SearchSettings:
    """Tunable knobs, chosen by measurement on the seed dev split, KorQuAD dev and msmarco-kor-dev (README).

    Hybrid search: BM25 and dense candidates (``overfetch * k``, at least ``min_fetch`` each) are fused
    (``fusion``, ``dense_weight``); the best ``rerank_depth`` are re-scored with sentence-level evidence:
    ``fused + lex_weight * keyword coverage of the best sentence + sent_weight * best sentence cosine``.
    With a cross-encoder reranker (``Retriever.load(..., reranker=...)``), its score then orders those candidates.
    """

    # --- first stage and fusion: the best mean Hit@1 over the dev sets with e5-small (python -m eval.tune;
    # README "How the e5-small settings were chosen"); RRF and query-adaptive dense weights measured lower
    fusion: str = "convex"
    dense_weight: float = 0.5
    # candidates fetched per side: overfetch x k, at least min_fetch; not tuned, chosen to hold well over the
    # rerank_depth fused candidates that get re-scored with sentence evidence (20 = 2 x the k=10 of the metrics)
    overfetch: int = 10
    min_fetch: int = 50
    rerank_depth: int = 20
    # --- sentence evidence in the rerank (python -m eval.tune, same grid): keyword 0.4 rather than 0.6 gained a
    # point on msmarco-kor-dev (0.901 -> 0.911) for 0.001 on KorQuAD dev, seed dev unchanged
    lex_weight: float = 0.4
    sent_weight: float = 1.0
    sentence_k1: float = 1.2  # term-frequency saturation inside one sentence
    context_weight: float = 0.5  # a question term found only in the previous sentence (a heading) counts this much
    # dense-only mode: the chunk's cosine and its best sentence's count equally (not tuned; dense mode is a
    # diagnostic, the hybrid mode is the product)
    dense_sentence_share: float = 0.5
    # a passage overlapping a better one of the same document by more than this share of the shorter is a
    # near-duplicate: neighbouring chunks share one sentence, far less than half, so they are kept (not tuned)
    dedup_overlap: float = 0.5
    # --- answer sentence: lex + local + cos + type + rank terms, weights chosen on the seed dev split
    answer_lex_weight: float = 1.0  # weight of its keyword evidence (as in search)
    answer_sent_weight: float = 0.5  # weight of its cosine to the question (0.5: best on seed dev)
    local_weight: float = 0.5  # weight of question terms that are rare among the candidates
    type_weight: float = 0.2  # bonus when it offers the kind of answer asked (number, date, ...)
    answer_rank_weight: float = 0.25  # its passage's search score relative to the best passage's
    answer_passage_penalty: float = 0.03  # per rank of its passage below the first: near-ties go to the best passage
    answer_chunks: int = 3  # passages whose sentences compete for the answer
    second_sentence_ratio: float = 0.85  # the runner-up sentence joins the answer when it scores this close
    heading_chars: int = 40  # a best sentence shorter than this is a heading: the sentence under it joins
    # --- abstention
    found_threshold: float = 0.35  # question coverage by the answer passage below this -> found=False
    # a proper noun of the question (Kiwi NNP: 부산, 광주 ...) that the answer passage and its title never mention
    # -> found=False: the passage is about another entity ("부산 ... 예산은?" answered with Gwangju's budget)
    entity_check: bool = True
    # --- threads: torch threads for encoding a query: one, so that concurrent chat requests each get a core
    # instead of oversubscribing both (README "Speed and latency with e5-small"); None leaves torch's setting alone
    query_threads: int | None = 1
