"""Run the retrieval evaluation: per-mode ranking metrics, answer accuracy, abstention and latency.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                      # doctest: +SKIP
>>> report = evaluate_qa(r, load_qa(), split="test") # doctest: +SKIP
>>> report["modes"]["hybrid"]["hit@1"]               # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from retriever import MODES, Retriever

from .data import DocQuery, QAItem
from .metrics import hit_at_k, mean, mrr_at_k, ndcg_at_k, norm, percentile

__all__ = ["KS", "K_MAX", "evaluate_docs", "evaluate_qa"]

KS = (1, 3, 5, 10)
K_MAX = 10


def _ranking_metrics(rels: list[list[bool]], n_relevant: Sequence[int | None], doc_hits: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {f"hit@{k}": mean([hit_at_k(r, k) for r in rels]) for k in KS}
    out["mrr@10"] = mean([mrr_at_k(r, 10) for r in rels])
    out["ndcg@10"] = mean([ndcg_at_k(r, 10, n) for r, n in zip(rels, n_relevant)])
    out["doc_hit@1"] = mean([1.0 if d else 0.0 for d in doc_hits])
    out["curve"] = [mean([hit_at_k(r, k) for r in rels]) for k in range(1, K_MAX + 1)]
    return out


def _latency(retriever: Retriever, questions: Sequence[str], k: int) -> dict[str, float]:
    """Warm latency: each question is asked once before the timed pass."""
    for q in questions:
        retriever.ask(q, k=k)
    search_ms, ask_ms = [], []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q, k=k)
        search_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.ask(q, k=k)
        ask_ms.append((time.perf_counter() - t) * 1000)
    return {
        "search_p50": percentile(search_ms, 50), "search_p95": percentile(search_ms, 95),
        "ask_p50": percentile(ask_ms, 50), "ask_p95": percentile(ask_ms, 95),
    }


def evaluate_qa(
    retriever: Retriever,
    items: Sequence[QAItem],
    *,
    split: str | None = "test",
    modes: Sequence[str] = MODES,
    k: int = K_MAX,
    latency: bool = True,
) -> dict[str, Any]:
    """Evaluate on seed QA items (``split`` "dev", "test" or None for all).

    A passage is relevant when it comes from the gold document and contains the answer string
    (after NFKC/whitespace normalisation).
    """
    chosen = [it for it in items if split is None or it.split == split]
    if not chosen:
        raise ValueError(f"no QA items in split {split!r}; splits present: {sorted({it.split for it in items})}")
    answerable = [it for it in chosen if it.answer is not None]
    k = min(k, len(retriever))
    chunk_norm = [(c["doc_id"], norm(c["text"])) for c in retriever.chunks]
    source_of = {d["id"]: d["source"] for d in retriever.docs.values()}

    def relevant(it: QAItem, source: str, text: str) -> bool:
        return source == it.doc and norm(it.answer or "") in norm(text)

    n_rel = [sum(1 for d, t in chunk_norm if source_of[d] == it.doc and norm(it.answer or "") in t) for it in answerable]
    report: dict[str, Any] = {"dataset": f"seed:{split or 'all'}", "n_queries": len(chosen), "n_answerable": len(answerable), "modes": {}}
    failures: list[dict[str, Any]] = []
    for mode in modes:
        rels, doc_hits = [], []
        for it in answerable:
            hits = retriever.search(it.question, k=k, mode=mode)
            rel = [relevant(it, h.source, h.text) for h in hits]
            rels.append(rel)
            doc_hits.append(bool(hits) and hits[0].source == it.doc)
            if mode == "hybrid" and not (rel and rel[0]):
                failures.append({
                    "id": it.id, "question": it.question, "expected_answer": it.answer, "expected_doc": it.doc,
                    "first_rank_correct": next((i + 1 for i, r in enumerate(rel) if r), None),
                    "top": [{"source": h.source, "text": h.text[:200], "score": round(h.score, 4)} for h in hits[:3]],
                })
        report["modes"][mode] = _ranking_metrics(rels, n_rel, doc_hits)

    correct, refused_answerable, abstained_unanswerable, abstained = 0, 0, 0, 0
    n_unanswerable = len(chosen) - len(answerable)
    answers = []
    for it in chosen:
        a = retriever.ask(it.question, k=min(5, len(retriever)))
        answers.append({"id": it.id, "question": it.question, "expected": it.answer, "answer": a.text,
                        "found": a.found, "confidence": round(a.confidence, 4)})
        if not a.found:
            abstained += 1
            if it.answer is None:
                abstained_unanswerable += 1
            else:
                refused_answerable += 1
        elif it.answer is not None and norm(it.answer) in norm(a.text):
            correct += 1
        if it.answer is not None and not (a.found and norm(it.answer) in norm(a.text)):
            failures.append({"id": it.id, "question": it.question, "expected_answer": it.answer,
                             "expected_doc": it.doc, "kind": "answer", "answer": a.text, "found": a.found})
        elif it.answer is None and a.found:
            failures.append({"id": it.id, "question": it.question, "expected_answer": None, "kind": "abstention",
                             "answer": a.text, "confidence": round(a.confidence, 4)})
    report["answer_accuracy"] = correct / len(answerable) if answerable else 0.0
    report["abstention"] = {
        "precision": abstained_unanswerable / abstained if abstained else 0.0,
        "recall": abstained_unanswerable / n_unanswerable if n_unanswerable else 0.0,
        "answerable_refused": refused_answerable / len(answerable) if answerable else 0.0,
        "n_unanswerable": n_unanswerable,
    }
    report["latency_ms"] = _latency(retriever, [it.question for it in chosen], min(5, len(retriever))) if latency else {}
    report["failures"] = failures
    report["answers"] = answers
    return report


def evaluate_docs(
    retriever: Retriever,
    queries: Sequence[DocQuery],
    *,
    dataset: str,
    modes: Sequence[str] = MODES,
    k: int = K_MAX,
    latency: bool = False,
) -> dict[str, Any]:
    """Evaluate document retrieval (BEIR, SQuAD): chunks are merged into their documents by max score."""
    fetch = min(len(retriever), max(3 * k, 30))
    report: dict[str, Any] = {"dataset": dataset, "n_queries": len(queries), "modes": {}}
    failures: list[dict[str, Any]] = []
    for mode in modes:
        rels, n_rel, doc_hits = [], [], []
        for q in queries:
            hits = retriever.search(q.question, k=fetch, mode=mode)
            ranked: list[str] = []
            for h in hits:
                if h.doc_id not in ranked:
                    ranked.append(h.doc_id)
                if len(ranked) == k:
                    break
            rel = [d in q.relevant for d in ranked]
            rels.append(rel)
            n_rel.append(len(q.relevant))
            doc_hits.append(bool(rel) and rel[0])
            if mode == "hybrid" and not (rel and rel[0]):
                failures.append({"id": q.id, "question": q.question, "expected_docs": sorted(q.relevant),
                                 "top": ranked[:3], "first_rank_correct": next((i + 1 for i, r in enumerate(rel) if r), None)})
        report["modes"][mode] = _ranking_metrics(rels, n_rel, doc_hits)
    report["answer_accuracy"] = None
    report["abstention"] = None
    if latency:
        sample = [q.question for q in queries[:200]]
        report["latency_ms"] = _latency(retriever, sample, min(5, len(retriever)))
    else:
        report["latency_ms"] = {}
    report["failures"] = failures
    return report
