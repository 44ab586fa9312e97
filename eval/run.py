"""Run the retrieval evaluation: per-mode ranking metrics, answer accuracy, abstention and latency.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                      # doctest: +SKIP
>>> report = evaluate_qa(r, load_qa(), split="test") # doctest: +SKIP
>>> report["modes"]["hybrid"]["hit@1"]               # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from typing import Any

from retriever import MODES, Retriever

from .data import FACTOID_TYPES, Conversation, DocQuery, QAItem
from .metrics import hit_at_k, mean, mrr_at_k, ndcg_at_k, norm, percentile

__all__ = ["KS", "K_MAX", "evaluate_conversations", "evaluate_docs", "evaluate_qa"]

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


def _answer_page(retriever: Retriever, answer: Any) -> tuple[str, int | None] | None:
    """The document and page of the answer's first highlighted sentence (None without a highlight)."""
    if not answer.highlights:
        return None
    ci, start, _ = answer.highlights[0]
    hit = answer.citations[ci]
    pages = retriever.docs[hit.doc_id].get("pages") or []
    return hit.source, (bisect.bisect_right(pages, start) if pages else None)


def evaluate_qa(
    retriever: Retriever,
    items: Sequence[QAItem],
    *,
    split: str | None = "test",
    modes: Sequence[str] = MODES,
    k: int = K_MAX,
    latency: bool = True,
    name: str = "seed",
) -> dict[str, Any]:
    """Evaluate on seed QA items (``split`` "dev", "test" or None for all); the report's dataset is
    ``NAME:SPLIT`` ("seed:test"; another QA file is named by its file name, so floors are not mixed up).

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
    report: dict[str, Any] = {"dataset": f"{name}:{split or 'all'}", "n_queries": len(chosen), "n_answerable": len(answerable), "modes": {}}
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
    paged, right_page = 0, 0
    n_unanswerable = len(chosen) - len(answerable)
    factoid = [it for it in answerable if it.type in FACTOID_TYPES]
    direct_correct, direct_given = 0, 0
    answers = []
    for it in chosen:
        a = retriever.ask(it.question, k=min(5, len(retriever)))
        answers.append({"id": it.id, "question": it.question, "expected": it.answer, "answer": a.text,
                        "found": a.found, "confidence": round(a.confidence, 4), "kind": a.kind, "direct": a.direct})
        if it.answer is not None and it.type in FACTOID_TYPES:
            direct_given += a.found and a.direct is not None
            if a.found and a.direct is not None and norm(it.answer) in norm(a.direct):
                direct_correct += 1
            else:
                failures.append({"id": it.id, "question": it.question, "expected_answer": it.answer, "expected_doc": it.doc,
                                 "kind": "direct", "direct": a.direct, "answer": a.text, "found": a.found})
        if not a.found:
            abstained += 1
            if it.answer is None:
                abstained_unanswerable += 1
            else:
                refused_answerable += 1
        elif it.answer is not None and norm(it.answer) in norm(a.text):
            correct += 1
            if it.page is not None and _answer_page(retriever, a) == (it.doc, it.page):
                right_page += 1
        paged += it.page is not None
        if it.answer is not None and not (a.found and norm(it.answer) in norm(a.text)):
            failures.append({"id": it.id, "question": it.question, "expected_answer": it.answer,
                             "expected_doc": it.doc, "kind": "answer", "answer": a.text, "found": a.found})
        elif it.answer is None and a.found:
            failures.append({"id": it.id, "question": it.question, "expected_answer": None, "kind": "abstention",
                             "answer": a.text, "confidence": round(a.confidence, 4)})
    report["answer_accuracy"] = correct / len(answerable) if answerable else 0.0
    # the direct answer (the span a factoid answer opens with) holds the gold answer, over the factoid items
    report["direct_accuracy"] = direct_correct / len(factoid) if factoid else 0.0
    report["direct"] = {"accuracy": report["direct_accuracy"], "given": direct_given / len(factoid) if factoid else 0.0,
                        "n_factoid": len(factoid)}
    # of the questions whose gold names a page: answered right, citing the gold document and page first
    report["page_accuracy"] = right_page / paged if paged else None
    report["n_paged"] = paged
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


def evaluate_conversations(retriever: Retriever, conversations: Sequence[Conversation], *, split: str | None = "test",
                           k: int = 5) -> dict[str, Any]:
    """Ask every turn of every conversation with the turns before it as ``history`` (``{"role", "content"}``
    messages, the assistant's answers included, as a chat client sends them).

    ``followup_accuracy``: follow-up turns whose answer is found and holds the gold answer string;
    ``followup_alone_accuracy``: the same turns asked without history (what resolution gains);
    ``topic_change_doc``: topic-change turns whose first citation is the gold document (never the old topic's);
    ``topic_change_accuracy``: those whose answer holds the gold; ``first_accuracy``: the opening questions.
    """
    chosen = [c for c in conversations if split is None or c.split == split]
    k = min(k, len(retriever))
    per_kind: dict[str, list[bool]] = {"first": [], "followup": [], "new_topic": []}
    alone, docs = [], []
    failures: list[dict[str, Any]] = []
    for conv in chosen:
        history: list[dict[str, str]] = []
        for i, turn in enumerate(conv.turns):
            a = retriever.ask(turn.question, k=k, history=history)
            ok = a.found and norm(turn.answer) in norm(a.text)
            per_kind[turn.kind].append(ok)
            if turn.kind == "followup":
                b = retriever.ask(turn.question, k=k)
                alone.append(b.found and norm(turn.answer) in norm(b.text))
            doc_ok = bool(a.citations) and a.citations[0].source == turn.doc
            if turn.kind == "new_topic":
                docs.append(doc_ok)
            if not ok or (turn.kind == "new_topic" and not doc_ok):
                failures.append({"id": f"{conv.id}#{i + 1}", "question": turn.question, "kind": turn.kind,
                                 "expected_answer": turn.answer, "expected_doc": turn.doc, "answer": a.text, "found": a.found,
                                 "resolved": a.resolved_question, "first_doc": a.citations[0].source if a.citations else None})
            history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": a.text}]

    def rate(xs: list[bool]) -> float:
        return sum(xs) / len(xs) if xs else 0.0

    return {
        "n_conversations": len(chosen), "n_followup": len(per_kind["followup"]), "n_topic_change": len(docs),
        "first_accuracy": rate(per_kind["first"]), "followup_accuracy": rate(per_kind["followup"]),
        "followup_alone_accuracy": rate(alone), "topic_change_doc": rate(docs),
        "topic_change_accuracy": rate(per_kind["new_topic"]), "failures": failures,
    }


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
