"""Hybrid (Kiwi-morpheme BM25 + dense) search over an index folder, with span citations and answers.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                       # doctest: +SKIP
>>> hits = r.search("광주 AI 집적단지 예산", k=3)      # doctest: +SKIP
>>> a = r.ask("AX 실증산단 공모 기간은?")             # doctest: +SKIP
>>> a.text, a.found, a.citations[0].title            # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.analyzer import AnalyzerConfig, KoreanAnalyzer
from indexer.clean import normalize_unicode
from indexer.errors import IndexFormatError, ModelMismatchError, ModelNotAvailableError
from indexer.format import (
    BM25_DIR,
    CHUNKS_FILE,
    DENSE_FILE,
    DOCS_FILE,
    SENTENCE_OFFSETS_FILE,
    SENTENCE_SPANS_FILE,
    SENTENCE_TERMS_FILE,
    SENTENCE_VECTORS_FILE,
    csr_positions,
    read_jsonl,
    read_manifest,
    verify_files,
)

from .answer import asked_unit, expected_types, find_footnote, footnote_refs, type_bonus
from .fusion import fuse
from .rerank import CrossEncoderReranker, load_reranker

__all__ = ["Retriever", "Hit", "Answer", "MODES", "MAX_QUERY_CHARS", "SearchSettings"]

MODES = ("hybrid", "bm25", "dense")
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchSettings:
    """Tunable knobs, chosen by measurement on the eval dev split and KorQuAD dev (see README).

    Hybrid search: BM25 and dense candidates (``overfetch * k``, at least ``min_fetch`` each) are fused
    (``fusion``, ``dense_weight``); the best ``rerank_depth`` are re-scored with sentence-level evidence:
    ``fused + lex_weight * keyword coverage of the best sentence + sent_weight * best sentence cosine``.
    With a cross-encoder reranker (``Retriever.load(..., reranker=...)``), its score then orders those candidates.
    """

    # fusion and rerank weights: the best mean Hit@1 over seed dev and KorQuAD dev with e5-small (python -m
    # eval.tune; README "How the settings were chosen"); RRF and query-adaptive dense weights measured lower
    fusion: str = "convex"
    dense_weight: float = 0.5
    overfetch: int = 10
    min_fetch: int = 50
    rerank_depth: int = 20
    lex_weight: float = 0.6
    sent_weight: float = 1.0
    sentence_k1: float = 1.2  # term-frequency saturation inside one sentence
    context_weight: float = 0.5  # a question term found only in the previous sentence (a heading) counts this much
    answer_lex_weight: float = 1.0  # answer sentence: weight of its keyword evidence (as in search)
    answer_sent_weight: float = 0.5  # answer sentence: weight of its cosine to the question (0.5: best on seed dev)
    local_weight: float = 0.5  # answer sentence: weight of question terms that are rare among the candidates
    type_weight: float = 0.2  # answer sentence bonus when it offers the kind of answer asked (number, date, ...)
    found_threshold: float = 0.35  # question coverage by the answer passage below this -> found=False
    # a proper noun of the question (Kiwi NNP: 부산, 광주 ...) that the answer passage and its title never mention
    # -> found=False: the passage is about another entity ("부산 ... 예산은?" answered with Gwangju's budget)
    entity_check: bool = True
    # torch threads for encoding a query: one, so that concurrent chat requests each get a core instead of
    # oversubscribing both (measured: see README "Latency under load"); None leaves torch's setting alone
    query_threads: int | None = 1
    answer_chunks: int = 3  # passages whose sentences compete for the answer
    second_sentence_ratio: float = 0.85  # the runner-up sentence joins the answer when it scores this close


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

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text, "score": self.score, "doc_id": self.doc_id, "title": self.title,
            "source": self.source, "start": self.start, "end": self.end, "chunk_id": self.chunk_id,
            "scores": dict(self.scores), "meta": dict(self.meta),
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


def normalize_query(query: str) -> str:
    """Normalise a query like document text; raise ``ValueError`` when nothing is left."""
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    q = " ".join(normalize_unicode(query).split())
    if not q:
        raise ValueError("the question is empty; type a question in Korean, e.g. '광주 AI 집적단지 예산은?'")
    return q[:MAX_QUERY_CHARS]


@dataclass
class _Scored:
    """A candidate chunk with its evidence (internal)."""

    row: int
    score: float
    per: dict[str, float]
    sent_lex: list[float] = field(default_factory=list)
    sent_cos: list[float] = field(default_factory=list)


class Retriever:
    """Search and answer over one index folder. Safe to share between threads.

    >>> r = Retriever.load("index")                    # doctest: +SKIP
    >>> [h.title for h in r.search("GPU 확보", k=2)]     # doctest: +SKIP
    """

    def __init__(
        self,
        index_dir: Path,
        manifest: dict[str, Any],
        docs: dict[str, dict[str, Any]],
        chunks: list[dict[str, Any]],
        sentences: "_Sentences",
        sentence_vectors: np.ndarray,
        bm25: Any,
        dense: Any,
        model: Any,
        analyzer: KoreanAnalyzer,
        settings: SearchSettings,
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.docs = docs
        self.chunks = chunks
        self.sentences = sentences
        self._sent_vecs = np.asarray(sentence_vectors)  # a plain view of the memory map (no per-access overhead)
        self._bm25 = bm25
        self._dense = dense
        self._model = model
        self.analyzer = analyzer
        self.settings = settings
        self.reranker = reranker
        self._encode_lock = threading.Lock()
        self._idf, self._vocab = self._term_idf(bm25)
        self._max_idf = max(self._idf.values(), default=1.0)
        self._words = [""] * (max(self._vocab.values(), default=-1) + 1)
        for t, i in self._vocab.items():
            self._words[i] = t
        self._title_terms = {d: frozenset(doc.get("terms", ())) for d, doc in docs.items()}
        self._sent_tf = functools.lru_cache(maxsize=16384)(self._tf)

    def _tf(self, j: int) -> dict[str, int]:
        """Term frequencies of sentence row ``j``."""
        tf: dict[str, int] = {}
        for i in self.sentences.term_ids(j):
            t = self._words[i]
            tf[t] = tf.get(t, 0) + 1
        return tf

    def _prev_tf(self, j: int) -> dict[str, int]:
        """Term frequencies of the sentence before row ``j`` in the same document (empty for a first sentence)."""
        return self._sent_tf(j - 1) if j > 0 and self.sentences.doc_row[j - 1] == self.sentences.doc_row[j] else {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        index_dir: str | os.PathLike[str],
        *,
        model: str | None = None,
        settings: SearchSettings | None = None,
        verify: bool = True,
        reranker: str | CrossEncoderReranker | None = None,
    ) -> "Retriever":
        """Open an index folder built by ``python -m indexer``.

        ``model``: the embedding model that will encode queries; default the one recorded in the manifest.
        A different model, a wrong dimension, missing or altered files raise an error saying how to rebuild.
        ``reranker``: an optional cross-encoder (hub id or folder, see :mod:`retriever.rerank`) that re-orders
        the best candidates; off by default.
        """
        import bm25s
        import faiss

        from indexer.embedding import load_model, model_dimension

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s turns on its DEBUG messages when imported
        d = Path(index_dir)
        hint = f"rebuild it: python -m indexer CORPUS --out {d}"
        manifest = read_manifest(d)
        if verify:
            verify_files(d, manifest)
        built_with = manifest["model"]["id"]
        dim = int(manifest["model"]["dim"])
        if model is not None and model != built_with:
            raise ModelMismatchError(
                f"index {str(d)!r} was built with embedding model {built_with!r}, not {model!r}; "
                f"load it without a model, or rebuild it: python -m indexer CORPUS --out {d} --model {model}"
            )
        try:
            docs = {doc["id"]: doc for doc in read_jsonl(d / DOCS_FILE)}
            chunks = read_jsonl(d / CHUNKS_FILE)
            sentences = _Sentences(
                np.load(d / SENTENCE_SPANS_FILE, mmap_mode="r", allow_pickle=False),
                np.load(d / SENTENCE_TERMS_FILE, mmap_mode="r", allow_pickle=False),
                np.load(d / SENTENCE_OFFSETS_FILE, allow_pickle=False),
            )
            sent_vecs = np.load(d / SENTENCE_VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"cannot read {str(d)!r} ({exc}); {hint}") from None
        n_sent = len(sentences)
        for c in chunks:
            doc = docs.get(c.get("doc_id"))
            if doc is None or doc["text"][c["start"]:c["end"]] != c["text"] or \
                    any(not 0 <= j < n_sent for j in c.get("sent_rows", [None])):
                raise IndexFormatError(f"chunk {c.get('id')!r} in {str(d)!r} does not match its document; {hint}")
        try:
            dense = faiss.read_index(str(d / DENSE_FILE))
            bm25 = bm25s.BM25.load(str(d / BM25_DIR), load_corpus=False, mmap=True, show_progress=False)
        except Exception as exc:  # faiss raises RuntimeError, bm25s OSError/ValueError on damaged files
            raise IndexFormatError(f"cannot open the search files of {str(d)!r} ({exc}); {hint}") from None
        n_bm25 = int(bm25.scores["num_docs"])
        vocab_size = len(bm25.vocab_dict)
        if not (dense.ntotal == len(chunks) == n_bm25 == manifest["counts"]["chunks"]) or \
                sent_vecs.shape != (n_sent, dim) or not sentences.consistent(vocab_size):
            raise IndexFormatError(
                f"{str(d)!r} is inconsistent: {len(chunks)} chunks, {dense.ntotal} vectors, {n_bm25} BM25 rows, "
                f"{n_sent} sentences with vectors of shape {sent_vecs.shape} and terms "
                f"{'within' if sentences.consistent(vocab_size) else 'outside'} the BM25 vocabulary; {hint}"
            )
        if dense.d != dim:
            raise ModelMismatchError(f"{str(d)!r}: FAISS dimension {dense.d} differs from the manifest's {dim}; {hint}")
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
        from indexer.dense import apply_params

        apply_params(dense, manifest.get("dense", {}))
        faiss.omp_set_num_threads(1)  # single queries: one thread measured faster than two
        analyzer = KoreanAnalyzer(AnalyzerConfig.from_json(manifest["analyzer"]))
        if isinstance(reranker, str):
            reranker = load_reranker(reranker)
        return cls(d, manifest, docs, chunks, sentences, sent_vecs, bm25, dense, st, analyzer, settings or SearchSettings(),
                   reranker)

    @staticmethod
    def _term_idf(bm25: Any) -> tuple[dict[str, float], dict[str, int]]:
        """BM25 idf of every indexed term, from the index's document frequencies."""
        vocab: dict[str, int] = dict(bm25.vocab_dict)
        df = np.diff(np.asarray(bm25.scores["indptr"]))
        n = int(bm25.scores["num_docs"])
        idf = {t: math.log(1.0 + (n - df[i] + 0.5) / (df[i] + 0.5)) for t, i in vocab.items() if i < len(df) and t}
        return idf, vocab

    def __len__(self) -> int:
        return len(self.chunks)

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r} must be a whole number of passages, 1 or more")
        if k > len(self.chunks):
            raise ValueError(f"k={k} is larger than the {len(self.chunks)} chunks in this index; pass a smaller k")
        return int(k)

    # ------------------------------------------------------------------ first stage
    def _bm25_scores(self, terms: list[str], n: int) -> dict[int, float]:
        known = [t for t in terms if t in self._vocab and t]
        if not known:
            return {}
        scores = self._bm25.get_scores(known)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}

    def _encode_query(self, q: str) -> np.ndarray:
        from indexer.embedding import encode_queries, torch_threads

        if self.settings.query_threads is not None:
            torch_threads(self.settings.query_threads)
        with self._encode_lock:
            return encode_queries(self._model, [q])[0]

    def _dense_scores(self, qvec: np.ndarray, n: int) -> dict[int, float]:
        scores, ids = self._dense.search(qvec[None, :], min(n, self._dense.ntotal))
        return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}

    # ------------------------------------------------------------------ sentence evidence
    def _term_counts(self, rows: np.ndarray, qids: np.ndarray) -> np.ndarray:
        """How often each question term id occurs in each sentence row: shape ``(len(rows), len(qids))``."""
        out = np.zeros((len(rows), len(qids)), dtype=np.float64)
        if not len(rows) or not len(qids):
            return out
        pos, seg = csr_positions(self.sentences.offsets, rows)
        at, qi = np.nonzero(self.sentences.terms[pos][:, None] == qids[None, :])
        return np.bincount(seg[at] * len(qids) + qi, minlength=out.size).reshape(out.shape).astype(np.float64)

    def _sentence_lex(self, qterms: set[str], rows: np.ndarray) -> np.ndarray:
        """Keyword evidence of each sentence row: saturated idf-weighted matches / the question's idf mass.

        A question term missing from the sentence but present in the sentence before it (a heading, the
        lead of a list) counts ``context_weight`` as much.
        """
        qmass = sum(self._idf.get(t, self._max_idf) for t in qterms)
        known = sorted(t for t in qterms if t in self._idf)
        if not qmass or not known or not len(rows):
            return np.zeros(len(rows))
        qids = np.array([self._vocab[t] for t in known], dtype=np.int64)
        idf = np.array([self._idf[t] for t in known])
        f = self._term_counts(rows, qids)
        prev = rows - 1
        same_doc = (rows > 0) & (self.sentences.doc_row[np.maximum(prev, 0)] == self.sentences.doc_row[rows])
        fp = self._term_counts(prev[same_doc], qids)
        f_prev = np.zeros_like(f)
        f_prev[same_doc] = fp
        missing = f == 0
        k1 = self.settings.sentence_k1
        f = np.where(missing, f_prev, f)
        w = np.where(missing, self.settings.context_weight, 1.0)
        return (w * idf[None, :] * f * (k1 + 1) / (f + k1)).sum(axis=1) / qmass

    def _local_idf(self, qterms: set[str], pool: list[_Scored]) -> dict[str, float]:
        """idf of the question terms among the candidate passages' sentences: what tells them apart."""
        rows = [j for c in pool for j in self.chunks[c.row]["sent_rows"]]
        n = len(rows)
        out = {}
        for t in qterms:
            df = sum(1 for j in rows if t in self._sent_tf(j))
            if df:
                out[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def _local_lex(self, local: dict[str, float], j: int) -> float:
        """Share of the locally weighted question terms in sentence row ``j`` (previous sentence as context)."""
        total = sum(local.values())
        if not total:
            return 0.0
        tf = self._sent_tf(j)
        prev = self._prev_tf(j)
        got = sum(w if t in tf else self.settings.context_weight * w if t in prev else 0.0 for t, w in local.items())
        return got / total

    def _coverage(self, qterms: list[str], row: int) -> float:
        """Share of the question's idf mass found in chunk ``row`` or its document title."""
        qset = set(qterms)
        if not qset:
            return 0.0
        ch = self.chunks[row]
        have = self._title_terms[ch["doc_id"]].union(*(self._sent_tf(j).keys() for j in ch["sent_rows"]))
        weights = {t: self._idf.get(t, self._max_idf) for t in qset}
        return sum(w for t, w in weights.items() if t in have) / sum(weights.values())

    def _missing_entities(self, question: str, row: int) -> list[str]:
        """Proper nouns of ``question`` that the index knows but chunk ``row`` and its title never mention.

        A name the corpus never uses ("한국어" in "NPU 한국어로 뭐라고 해?") says nothing about the passage.
        """
        ch = self.chunks[row]
        title = self.docs[ch["doc_id"]]["title"]
        have = self._title_terms[ch["doc_id"]].union(*(self._sent_tf(j).keys() for j in ch["sent_rows"]))
        missing = []
        for p in self.analyzer.proper_nouns(question):
            terms = self.analyzer.analyze(p) or [p]
            if any(t in self._idf for t in terms) and not have.intersection(terms) \
                    and p not in ch["text"] and p not in title:
                missing.append(p)
        return missing

    def _evidence(self, cands: list[_Scored], qterms: list[str], qvec: np.ndarray | None) -> None:
        """Per-sentence keyword evidence and cosine of every candidate, computed for all candidates at once."""
        per = [self.chunks[c.row]["sent_rows"] for c in cands]
        rows = np.fromiter((j for r in per for j in r), dtype=np.int64, count=sum(map(len, per)))
        lex = self._sentence_lex(set(qterms), rows).tolist()
        cos = (np.asarray(self._sent_vecs[rows], dtype=np.float32) @ qvec).tolist() if qvec is not None else None
        at = 0
        for c, r in zip(cands, per):
            c.sent_lex = lex[at:at + len(r)]
            if cos is not None:
                c.sent_cos = cos[at:at + len(r)]
            at += len(r)

    def _ranked(self, q: str, k: int, mode: str) -> tuple[list[_Scored], list[str], np.ndarray | None]:
        """Candidates best first, with evidence, before near-duplicate removal."""
        st = self.settings
        n = max(st.overfetch * k, st.min_fetch)
        terms = self.analyzer.analyze(q) if mode != "dense" else []
        qvec = self._encode_query(q) if mode != "bm25" else None
        sparse = self._bm25_scores(terms, n) if mode != "dense" else {}
        dense = self._dense_scores(qvec, n) if qvec is not None else {}
        if mode == "bm25":
            cands = [_Scored(i, s, {"bm25": s}) for i, s in sorted(sparse.items(), key=lambda kv: (-kv[1], kv[0]))]
            return cands, terms, None
        if mode == "dense":
            cands = [_Scored(i, s, {"dense": s}) for i, s in dense.items()]
            self._evidence(cands, [], qvec)
            for c in cands:
                c.score = 0.5 * c.per["dense"] + 0.5 * max(c.sent_cos, default=0.0)
        else:
            fused = fuse(sparse, dense, weight=st.dense_weight, method=st.fusion)[: max(st.rerank_depth, 2 * k)]
            cands = []
            for i, s in fused:
                per = {"fused": s}
                if i in sparse:
                    per["bm25"] = sparse[i]
                if i in dense:
                    per["dense"] = dense[i]
                cands.append(_Scored(i, s, per))
            self._evidence(cands, terms, qvec)
            for c in cands:
                c.score = c.score + st.lex_weight * max(c.sent_lex, default=0.0) + st.sent_weight * max(c.sent_cos, default=0.0)
                c.per["hybrid"] = c.score
        cands.sort(key=lambda c: (-c.score, c.row))
        if self.reranker is not None and cands:
            cands = cands[: max(st.rerank_depth, 2 * k)]
            probs = self.reranker.scores(q, [self.chunks[c.row]["text"] for c in cands])
            for c, p in zip(cands, probs):
                c.score = c.per["rerank"] = float(p)
            cands.sort(key=lambda c: -c.score)  # stable: ties keep the first-stage order
        return cands, terms, qvec

    def _hit(self, c: _Scored) -> Hit:
        ch = self.chunks[c.row]
        doc = self.docs[ch["doc_id"]]
        return Hit(text=ch["text"], score=float(c.score), doc_id=ch["doc_id"], title=doc["title"], source=doc["source"],
                   start=ch["start"], end=ch["end"], chunk_id=ch["id"], scores=dict(c.per), meta=dict(doc.get("meta") or {}))

    def _dedup(self, ranked: list[_Scored], k: int) -> list[_Scored]:
        """Drop passages that mostly repeat a better one (overlapping chunks, repeated text)."""
        kept: list[_Scored] = []
        for cand in ranked:
            c = self.chunks[cand.row]
            dup = False
            for other in kept:
                o = self.chunks[other.row]
                if o["text"] == c["text"]:
                    dup = True
                elif o["doc_id"] == c["doc_id"]:
                    inter = min(o["end"], c["end"]) - max(o["start"], c["start"])
                    dup = inter > 0.5 * min(o["end"] - o["start"], c["end"] - c["start"])
                if dup:
                    break
            if not dup:
                kept.append(cand)
                if len(kept) == k:
                    break
        return kept

    def _footnote(self, kept: list[_Scored], ci: int, si: int, qterms: set[str]) -> tuple[int, int] | None:
        """The note sentence ``(candidate index, sentence index)`` that sentence ``si`` of ``kept[ci]`` points to
        with a footnote mark ("캠퍼스혁신파크**" -> "** 대학 캠퍼스 ...") on a term of the question, when a
        retrieved passage holds it."""
        ch = self.chunks[kept[ci].row]
        s0, e0 = ch["sents"][si]
        text = self.docs[ch["doc_id"]]["text"]
        for term, marks in footnote_refs(ch["text"][s0:e0]):
            if not qterms.intersection(self.analyzer.analyze(term)):
                continue
            at = find_footnote(text, ch["start"] + e0, marks)
            if at is None:
                continue
            for cj, c in enumerate(kept):
                o = self.chunks[c.row]
                if o["doc_id"] == ch["doc_id"]:
                    for sj, (a, b) in enumerate(o["sents"]):
                        if o["start"] + a <= at < o["start"] + b:
                            return cj, sj
        return None

    # ------------------------------------------------------------------ public API
    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best passages for ``query``, best first; ``mode`` is "hybrid", "bm25" or "dense".

        Fewer than ``k`` come back when fewer passages match at all (BM25) or after near-duplicates are removed.
        """
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(MODES)}")
        k = self._check_k(k)
        ranked, _, _ = self._ranked(normalize_query(query), k, mode)
        return [self._hit(c) for c in self._dedup(ranked, k)]

    def ask(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        """Answer ``question`` with the best sentence(s) of the retrieved passages, cited.

        ``found`` is False when no passage covers the question well enough; the closest passages are
        still returned as ``citations``.
        """
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(MODES)}")
        q = normalize_query(question)
        k = self._check_k(k)
        ranked, terms, qvec = self._ranked(q, k, mode)
        kept = self._dedup(ranked, k)
        if not kept:
            return Answer(q, "", [], False, 0.0, [])
        st = self.settings
        if not kept[0].sent_lex and terms:
            self._evidence(kept, terms, qvec)
        wanted = expected_types(q)
        top = kept[0].score or 1.0
        pool = kept[: st.answer_chunks]
        local = self._local_idf(set(terms), pool)
        scored: list[tuple[float, int, int]] = []  # (score, candidate index, sentence index)
        for ci, c in enumerate(pool):
            chunk = self.chunks[c.row]
            for si, (s0, e0) in enumerate(chunk["sents"]):
                lex = c.sent_lex[si] if c.sent_lex else 0.0
                cos = c.sent_cos[si] if c.sent_cos else 0.0
                score = (st.answer_lex_weight * lex + st.local_weight * self._local_lex(local, chunk["sent_rows"][si])
                         + st.answer_sent_weight * cos + st.type_weight * type_bonus(wanted, chunk["text"][s0:e0], q)
                         + 0.25 * (c.score / top) - 0.03 * ci)
                scored.append((score, ci, si))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        best_score, ci, si = scored[0]
        # the answer: the best sentence, plus the runner-up when it scores almost as well (a different sentence,
        # possibly of another passage), or the next sentence when the best one is a short heading
        picks = [(ci, si)]

        def sentence_text(cj: int, sj: int) -> str:
            ch = self.chunks[pool[cj].row]
            return " ".join(ch["text"][ch["sents"][sj][0]:ch["sents"][sj][1]].split())

        seen = {sentence_text(ci, si)}
        for score, cj, sj in scored[1:]:
            if sentence_text(cj, sj) in seen:  # the same sentence again (chunk overlap, or repeated in the text)
                continue
            if score >= st.second_sentence_ratio * best_score:
                picks.append((cj, sj))
            break
        chunk = self.chunks[pool[ci].row]
        qset = set(terms)
        note = self._footnote(kept, ci, si, qset)
        if note is not None:  # the note explains a term the question is about: it takes the runner-up's place
            picks = [(ci, si), note]
        else:
            if len(picks) == 1 and chunk["sents"][si][1] - chunk["sents"][si][0] < 40 and si + 1 < len(chunk["sents"]):
                picks.append((ci, si + 1))  # a short heading: the sentence under it
            note = self._footnote(kept, *picks[-1], qset) if len(picks) > 1 else None
            if note is not None and note not in picks:
                picks.append(note)
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
        text = " ".join(parts)
        nouns = self.analyzer.analyze(q, predicates=False)
        c = pool[ci]
        confidence = self._coverage(nouns or terms, c.row) if terms else max(c.sent_cos, default=0.0)
        found = confidence >= st.found_threshold
        unit = asked_unit(q)
        if found and unit is not None and not any(unit.search(h.text) for h in citations):
            found = False  # "몇 %?" and no passage states a percentage: the corpus does not say
        if found and st.entity_check and terms and self._missing_entities(q, c.row):
            found = False  # the answer passage is about another entity than the one asked about
        return Answer(q, text, citations, found, float(confidence), highlights)


class _Sentences:
    """The index's sentence table, memory-mapped: document row and span of each sentence, and its term ids."""

    def __init__(self, spans: np.ndarray, term_ids: np.ndarray, offsets: np.ndarray) -> None:
        # plain ndarray views of the memory maps: same pages, without np.memmap's per-access overhead
        self.spans = np.asarray(spans)
        self.doc_row = self.spans[:, 0] if spans.ndim == 2 and spans.shape[1:] == (3,) else np.zeros(0, dtype=np.int64)
        self.terms = np.asarray(term_ids)
        self.offsets = np.asarray(offsets)

    def __len__(self) -> int:
        return len(self.spans)

    def consistent(self, vocab_size: int) -> bool:
        """Shapes agree and every term id is inside the vocabulary."""
        n = len(self.spans)
        return (self.spans.ndim == 2 and self.spans.shape[1:] == (3,) and self.offsets.shape == (n + 1,)
                and int(self.offsets[0]) == 0 and int(self.offsets[-1]) == len(self.terms)
                and bool(np.all(np.diff(self.offsets) >= 0))
                and (len(self.terms) == 0 or (int(self.terms.min()) >= 0 and int(self.terms.max()) < vocab_size)))

    def term_ids(self, j: int) -> list[int]:
        return self.terms[self.offsets[j]:self.offsets[j + 1]].tolist()
