"""Sentence-level evidence: how well each sentence of a candidate passage matches the question.

Keyword evidence is the saturated, idf-weighted share of the question's terms a sentence holds (a term
found only in the sentence before it, a heading, counts ``context_weight`` as much); the dense evidence
is the sentence vector's cosine to the query. Coverage and missing proper nouns decide abstention.

>>> ev = Evidence(open_index("index"), KoreanAnalyzer(), SearchSettings())  # doctest: +SKIP
>>> ev.coverage(["광주", "예산"], row=0)               # doctest: +SKIP
1.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

from indexer.analyzer import KoreanAnalyzer
from indexer.format import csr_positions
from indexer.store import IndexData

from .candidates import Candidate
from .settings import SearchSettings

__all__ = ["Evidence", "term_idf"]


def term_idf(data: IndexData) -> dict[str, float]:
    """BM25 idf of every indexed term, from the index's document frequencies."""
    postings = data.search.postings()
    df = np.diff(postings.indptr)
    n = postings.num_docs
    return {t: math.log(1.0 + (n - df[i] + 0.5) / (df[i] + 0.5)) for t, i in data.vocab.items() if i < len(df) and t}


class Evidence:
    """Sentence features over one opened index. Thread-safe (its only state is a read-through cache)."""

    def __init__(self, data: IndexData, analyzer: KoreanAnalyzer, settings: SearchSettings) -> None:
        self.sentences = data.sentences
        self.chunks = data.chunks
        self.analyzer = analyzer
        self.settings = settings
        self.vocab = data.vocab
        self.sent_vecs = np.asarray(data.sentence_vectors)  # a plain view of the memory map (no per-access overhead)
        self.idf = term_idf(data)
        self.max_idf = max(self.idf.values(), default=1.0)
        self._words = [""] * (max(self.vocab.values(), default=-1) + 1)
        for t, i in self.vocab.items():
            self._words[i] = t
        self._title_terms = {d["id"]: frozenset(d.get("terms", ())) for d in data.docs}
        self._titles = {d["id"]: d["title"] for d in data.docs}
        self.sentence_tf = functools.lru_cache(maxsize=16384)(self._tf)

    def _tf(self, j: int) -> dict[str, int]:
        """Term frequencies of sentence row ``j``."""
        tf: dict[str, int] = {}
        for i in self.sentences.term_ids(j):
            t = self._words[i]
            tf[t] = tf.get(t, 0) + 1
        return tf

    def previous_tf(self, j: int) -> dict[str, int]:
        """Term frequencies of the sentence before row ``j`` in the same document (empty for a first sentence)."""
        same = j > 0 and self.sentences.doc_row[j - 1] == self.sentences.doc_row[j]
        return self.sentence_tf(j - 1) if same else {}

    def _term_counts(self, rows: np.ndarray, qids: np.ndarray) -> np.ndarray:
        """How often each question term id occurs in each sentence row: shape ``(len(rows), len(qids))``."""
        out = np.zeros((len(rows), len(qids)), dtype=np.float64)
        if not len(rows) or not len(qids):
            return out
        pos, seg = csr_positions(self.sentences.offsets, rows)
        at, qi = np.nonzero(self.sentences.terms[pos][:, None] == qids[None, :])
        return np.bincount(seg[at] * len(qids) + qi, minlength=out.size).reshape(out.shape).astype(np.float64)

    def sentence_lex(self, qterms: set[str], rows: np.ndarray) -> np.ndarray:
        """Keyword evidence of each sentence row: saturated idf-weighted matches / the question's idf mass.

        A question term missing from the sentence but present in the sentence before it (a heading, the
        lead of a list) counts ``context_weight`` as much.
        """
        qmass = sum(self.idf.get(t, self.max_idf) for t in qterms)
        known = sorted(t for t in qterms if t in self.idf)
        if not qmass or not known or not len(rows):
            return np.zeros(len(rows))
        qids = np.array([self.vocab[t] for t in known], dtype=np.int64)
        idf = np.array([self.idf[t] for t in known])
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

    def attach(self, cands: list[Candidate], qterms: Iterable[str], qvec: np.ndarray | None) -> None:
        """Fill every candidate's ``sent_lex`` (and ``sent_cos`` when there is a query vector), all at once."""
        per = [self.chunks[c.row]["sent_rows"] for c in cands]
        rows = np.fromiter((j for r in per for j in r), dtype=np.int64, count=sum(map(len, per)))
        lex = self.sentence_lex(set(qterms), rows).tolist()
        cos = (np.asarray(self.sent_vecs[rows], dtype=np.float32) @ qvec).tolist() if qvec is not None else None
        at = 0
        for c, r in zip(cands, per):
            c.sent_lex = lex[at:at + len(r)]
            if cos is not None:
                c.sent_cos = cos[at:at + len(r)]
            at += len(r)

    def local_idf(self, qterms: set[str], pool: list[Candidate]) -> dict[str, float]:
        """idf of the question terms among the candidate passages' sentences: what tells them apart."""
        rows = [j for c in pool for j in self.chunks[c.row]["sent_rows"]]
        n = len(rows)
        out = {}
        for t in qterms:
            df = sum(1 for j in rows if t in self.sentence_tf(j))
            if df:
                out[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def local_lex(self, local: dict[str, float], j: int) -> float:
        """Share of the locally weighted question terms in sentence row ``j`` (previous sentence as context)."""
        total = sum(local.values())
        if not total:
            return 0.0
        tf = self.sentence_tf(j)
        prev = self.previous_tf(j)
        w = self.settings.context_weight
        got = sum(v if t in tf else w * v if t in prev else 0.0 for t, v in local.items())
        return got / total

    def _chunk_terms(self, row: int) -> frozenset[str]:
        ch = self.chunks[row]
        return self._title_terms[ch["doc_id"]].union(*(self.sentence_tf(j).keys() for j in ch["sent_rows"]))

    def coverage(self, qterms: list[str], row: int) -> float:
        """Share of the question's idf mass found in chunk ``row`` or its document title."""
        qset = set(qterms)
        if not qset:
            return 0.0
        have = self._chunk_terms(row)
        weights = {t: self.idf.get(t, self.max_idf) for t in qset}
        return sum(w for t, w in weights.items() if t in have) / sum(weights.values())

    def missing_entities(self, question: str, row: int) -> list[str]:
        """Proper nouns of ``question`` that the index knows but chunk ``row`` and its title never mention.

        A name the corpus never uses ("한국어" in "NPU 한국어로 뭐라고 해?") says nothing about the passage.
        """
        ch = self.chunks[row]
        title = self._titles[ch["doc_id"]]
        have = self._chunk_terms(row)
        missing = []
        for p in self.analyzer.proper_nouns(question):
            terms = self.analyzer.analyze(p) or [p]
            if any(t in self.idf for t in terms) and not have.intersection(terms) \
                    and p not in ch["text"] and p not in title:
                missing.append(p)
        return missing
