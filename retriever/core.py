"""Hybrid (Kiwi-morpheme BM25 + dense) search over an index folder, with span citations and answers.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                       # doctest: +SKIP
>>> hits = r.search("광주 AI 집적단지 예산", k=3)      # doctest: +SKIP
>>> a = r.ask("AX 실증산단 공모 기간은?")             # doctest: +SKIP
>>> a.text, a.found, a.citations[0].title            # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.analyzer import AnalyzerConfig, KoreanAnalyzer
from indexer.clean import normalize_unicode
from indexer.errors import ModelMismatchError, ModelNotAvailableError
from indexer.store import IndexData, open_index

from .answer import AnswerPicker
from .candidates import Candidate, FirstStage
from .evidence import Evidence
from .ranking import dedup, fused_candidates, keyword_ranking, rescore_dense, rescore_hybrid
from .rerank import CrossEncoderReranker, load_reranker
from .settings import SearchSettings

__all__ = ["MAX_QUERY_CHARS", "MODES", "Answer", "EmptyQueryError", "FirstStageResult", "Hit", "Retriever", "SearchSettings", "normalize_query"]

MODES = ("hybrid", "bm25", "dense")
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: ``text == document_text[start:end]`` of document ``doc_id``."""

    text: str
    score: float
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    chunk_id: str
    scores: dict[str, float] = field(default_factory=dict)  # per stage: "bm25", "dense", "fused", "hybrid", "rerank"
    meta: dict[str, Any] = field(default_factory=dict)
    page: int | None = None  # 1-based page the passage starts on (PDF documents), else None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text, "score": self.score, "doc_id": self.doc_id, "title": self.title,
            "source": self.source, "start": self.start, "end": self.end, "chunk_id": self.chunk_id,
            "scores": dict(self.scores), "meta": dict(self.meta), "page": self.page,
        }


@dataclass(frozen=True)
class Answer:
    """``text``: the extracted answer sentence(s); ``citations``: passages, the one holding the answer first.

    ``highlights`` are ``(citation_index, start, end)`` spans (document offsets) of the answer sentences;
    ``found`` is False when the evidence is too weak to answer (``citations`` then holds the closest passages).
    """

    question: str
    text: str
    citations: list[Hit]
    found: bool
    confidence: float
    highlights: list[tuple[int, int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.text, "found": self.found, "confidence": self.confidence,
            "citations": [h.to_json() for h in self.citations],
            "highlights": [list(h) for h in self.highlights],
        }


class EmptyQueryError(ValueError):
    """A query with nothing left after normalisation (empty, spaces, control characters)."""


def normalize_query(query: str) -> str:
    """Normalise a query like document text; raise :class:`EmptyQueryError` when nothing is left."""
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    q = " ".join(normalize_unicode(query).split())
    if not q:
        raise EmptyQueryError("the question is empty; type a question in Korean, e.g. '광주 AI 집적단지 예산은?'")
    return q[:MAX_QUERY_CHARS]


@dataclass(frozen=True)
class FirstStageResult:
    """What the first stage found for one query: its terms and vector, and each side's scored chunk rows.

    ``sparse``/``dense`` map chunk rows to BM25 scores / cosines (empty for a side the mode does not use);
    ``terms`` is empty in dense mode and ``qvec`` None in BM25 mode.
    """

    query: str
    terms: list[str]
    qvec: np.ndarray | None
    sparse: dict[int, float]
    dense: dict[int, float]


class Retriever:
    """Search and answer over one index folder. Safe to share between threads.

    The stages are public for tools that measure them (``python -m eval.tune``, ``eval.bench``):
    ``index`` (the opened folder, :class:`indexer.store.IndexData`), ``first_stage`` (BM25 and dense
    candidates), ``evidence`` (sentence features), and :meth:`first_stage_result`.

    >>> r = Retriever.load("index")                    # doctest: +SKIP
    >>> [h.title for h in r.search("GPU 확보", k=2)]     # doctest: +SKIP
    """

    def __init__(
        self,
        index: IndexData,
        model: Any,
        analyzer: KoreanAnalyzer,
        settings: SearchSettings,
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.index = index
        self.index_dir = index.path
        self.manifest = index.manifest
        self.docs = {doc["id"]: doc for doc in index.docs}
        self.chunks = index.chunks
        self.sentences = index.sentences
        self.analyzer = analyzer
        self.settings = settings
        self.reranker = reranker
        self.first_stage = FirstStage(index, model, settings)
        self.evidence = Evidence(index, analyzer, settings)
        self._answers = AnswerPicker(self.chunks, {d: doc["text"] for d, doc in self.docs.items()}, analyzer,
                                     self.evidence, settings)

    @classmethod
    def load(
        cls,
        index_dir: str | os.PathLike[str],
        *,
        model: str | None = None,
        settings: SearchSettings | None = None,
        verify: bool = True,
        reranker: str | CrossEncoderReranker | None = None,
    ) -> Retriever:
        """Open an index folder built by ``python -m indexer``.

        ``model``: the embedding model that will encode queries; default the one recorded in the manifest.
        A different model, a wrong dimension, missing or altered files raise an error saying how to rebuild.
        ``reranker``: an optional cross-encoder (hub id or folder, see :mod:`retriever.rerank`) that re-orders
        the best candidates; off by default.
        """
        import faiss

        from indexer.embedding import load_model, model_dimension

        d = Path(index_dir)
        data = open_index(d, verify=verify)
        built_with, dim = data.model_id, data.dim
        if model is not None and model != built_with:
            raise ModelMismatchError(
                f"index {str(d)!r} was built with embedding model {built_with!r}, not {model!r}; "
                f"load it without a model, or rebuild it: python -m indexer CORPUS --out {d} --model {model}"
            )
        try:
            st = load_model(built_with)
        except ModelNotAvailableError as exc:
            raise ModelNotAvailableError(
                f"{exc}\nOr rebuild the index with a model you have: python -m indexer CORPUS --out {d} [--model NAME]"
            ) from None
        if model_dimension(st) != dim:
            raise ModelMismatchError(
                f"model {built_with!r} now gives {model_dimension(st)}-dim vectors but {str(d)!r} holds {dim}-dim ones "
                f"(the model changed since the build); rebuild: python -m indexer CORPUS --out {d} --model {built_with}"
            )
        faiss.omp_set_num_threads(1)  # single queries: one thread measured faster than two
        analyzer = KoreanAnalyzer(AnalyzerConfig.from_json(data.manifest["analyzer"]))
        if isinstance(reranker, str):
            reranker = load_reranker(reranker)
        return cls(data, st, analyzer, settings or SearchSettings(), reranker)

    def __len__(self) -> int:
        return len(self.chunks)

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r} must be a whole number of passages, 1 or more")
        if k > len(self.chunks):
            raise ValueError(f"k={k} is larger than the {len(self.chunks)} chunks in this index; pass a smaller k")
        return int(k)

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(MODES)}")

    # ------------------------------------------------------------------ stages
    def first_stage_result(self, query: str, k: int = 10, mode: str = "hybrid") -> FirstStageResult:
        """The first stage for ``query``: its terms, its vector, and ``fetch_size(k)`` candidates per side.

        >>> fs = Retriever.load("index").first_stage_result("GPU 확보 규모")  # doctest: +SKIP
        >>> len(fs.sparse) <= 100 and len(fs.dense) <= 100                    # doctest: +SKIP
        True
        """
        self._check_mode(mode)
        return self._first(normalize_query(query), k, mode)

    def _first(self, q: str, k: int, mode: str) -> FirstStageResult:
        n = self.first_stage.fetch_size(k)
        terms = self.analyzer.analyze(q) if mode != "dense" else []
        qvec = self.first_stage.encode_query(q) if mode != "bm25" else None
        sparse = self.first_stage.keyword_scores(terms, n) if mode != "dense" else {}
        dense = self.first_stage.dense_scores(qvec, n) if qvec is not None else {}
        return FirstStageResult(q, terms, qvec, sparse, dense)

    def _ranked(self, q: str, k: int, mode: str) -> tuple[list[Candidate], FirstStageResult]:
        """Candidates best first, with evidence, before near-duplicate removal."""
        st = self.settings
        fs = self._first(q, k, mode)
        if mode == "bm25":
            return keyword_ranking(fs.sparse), fs
        if mode == "dense":
            cands = [Candidate(i, s, {"dense": s}) for i, s in fs.dense.items()]
            self.evidence.attach(cands, [], fs.qvec)
            rescore_dense(cands, st)
        else:
            cands = fused_candidates(fs.sparse, fs.dense, st, k)
            self.evidence.attach(cands, fs.terms, fs.qvec)
            rescore_hybrid(cands, st)
        if self.reranker is not None and cands:
            cands = cands[: max(st.rerank_depth, 2 * k)]
            probs = self.reranker.scores(fs.query, [self.chunks[c.row]["text"] for c in cands])
            for c, p in zip(cands, probs):
                c.score = c.per["rerank"] = float(p)
            cands.sort(key=lambda c: -c.score)  # stable: ties keep the first-stage order
        return cands, fs

    def ranked_candidates(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Candidate]:
        """Every candidate of ``query`` best first, with its stage scores and sentence evidence, before
        near-duplicates are removed (what :meth:`search` keeps the first ``k`` distinct of)."""
        self._check_mode(mode)
        return self._ranked(normalize_query(query), self._check_k(k), mode)[0]

    def _dedup(self, ranked: list[Candidate], k: int) -> list[Candidate]:
        return dedup(ranked, self.chunks, k, self.settings.dedup_overlap)

    def _hit(self, c: Candidate) -> Hit:
        ch = self.chunks[c.row]
        doc = self.docs[ch["doc_id"]]
        return Hit(text=ch["text"], score=float(c.score), doc_id=ch["doc_id"], title=doc["title"], source=doc["source"],
                   start=ch["start"], end=ch["end"], chunk_id=ch["id"], scores=dict(c.per), meta=dict(doc.get("meta") or {}),
                   page=ch.get("page"))

    # ------------------------------------------------------------------ public API
    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best passages for ``query``, best first; ``mode`` is "hybrid", "bm25" or "dense".

        Fewer than ``k`` come back when fewer passages match at all (BM25) or after near-duplicates are removed.
        """
        self._check_mode(mode)
        k = self._check_k(k)
        ranked, _ = self._ranked(normalize_query(query), k, mode)
        return [self._hit(c) for c in self._dedup(ranked, k)]

    def ask(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        """Answer ``question`` with the best sentence(s) of the retrieved passages, cited.

        ``found`` is False when no passage covers the question well enough; the closest passages are
        still returned as ``citations``.
        """
        self._check_mode(mode)
        q = normalize_query(question)
        k = self._check_k(k)
        ranked, fs = self._ranked(q, k, mode)
        kept = self._dedup(ranked, k)
        if not kept:
            return Answer(q, "", [], False, 0.0, [])
        terms = fs.terms
        if not kept[0].sent_lex and terms:
            self.evidence.attach(kept, terms, fs.qvec)  # BM25 mode ranks without sentence evidence
        ci, picks = self._answers.pick(q, terms, kept)
        order = [ci] + [j for j in range(len(kept)) if j != ci]
        hits = [self._hit(x) for x in kept]
        citations = [hits[j] for j in order]
        highlights = []
        parts = []
        for cj, sj in sorted(picks, key=lambda p: (order.index(p[0]), p[1])):
            ch = self.chunks[kept[cj].row]
            s0, e0 = ch["sents"][sj]
            highlights.append((order.index(cj), ch["start"] + s0, ch["start"] + e0))
            parts.append(ch["text"][s0:e0])
        found, confidence = self._answers.judge(q, terms, kept[ci], [h.text for h in citations])
        return Answer(q, " ".join(parts), citations, found, confidence, highlights)
