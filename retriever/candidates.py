"""First stage: the query's BM25 and dense candidates, each side scored by the index's storage backend
(:class:`indexer.store.SearchBackend`: bm25s and FAISS for a folder, the server for ``milvus://``).

>>> from indexer.store import open_index            # doctest: +SKIP
>>> stage = FirstStage(open_index("index"), load_model("e5-small"), SearchSettings())  # doctest: +SKIP
>>> stage.keyword_scores(["예산"], 5)                # doctest: +SKIP
{3: 2.1, ...}
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.embedding import BUNDLED_MODELS
from indexer.store import IndexData

from .settings import SearchSettings

__all__ = ["Candidate", "FirstStage"]


@dataclass
class Candidate:
    """A chunk row competing for a query, with its scores and its sentences' evidence.

    ``per`` holds the score of each stage that saw it ("bm25", "dense", "fused", "hybrid", "rerank");
    ``sent_lex`` and ``sent_cos`` hold, per sentence of the chunk (in order), its keyword evidence and its
    cosine to the query (see :mod:`retriever.evidence`); empty until computed.
    """

    row: int
    score: float
    per: dict[str, float]
    sent_lex: list[float] = field(default_factory=list)
    sent_cos: list[float] = field(default_factory=list)


class FirstStage:
    """BM25 over Kiwi terms and dense search over chunk vectors, on one opened index."""

    def __init__(self, data: IndexData, model: Any, settings: SearchSettings) -> None:
        self.backend = data.search
        self.vocab = data.vocab
        self.model = model
        self.settings = settings
        # the bundled models encode concurrently (their tokenizers and modules hold no per-call state: 4 chat
        # sessions measured 2.7x one session's p50 without a lock, 4.1x with one); other models' fast tokenizers
        # can fail when two threads use them at once ("Already borrowed"), so their queries take turns
        self._encode_lock = None if data.model_id in BUNDLED_MODELS else threading.Lock()

    def fetch_size(self, k: int) -> int:
        """Candidates fetched per side for ``k`` results."""
        return max(self.settings.overfetch * k, self.settings.min_fetch)

    def encode_query(self, query: str) -> np.ndarray:
        """The query's L2-normalised vector (the model's query prompt), float32 ``(dim,)``."""
        from indexer.embedding import encode_queries, torch_threads

        if self.settings.query_threads is not None:
            torch_threads(self.settings.query_threads)
        if self._encode_lock is None:
            return encode_queries(self.model, [query])[0]
        with self._encode_lock:
            return encode_queries(self.model, [query])[0]

    def keyword_scores(self, terms: list[str], n: int) -> dict[int, float]:
        """BM25 scores of the ``n`` best chunk rows for ``terms`` (rows scoring 0 left out)."""
        return self.backend.keyword_scores(terms, n)

    def dense_scores(self, qvec: np.ndarray, n: int) -> dict[int, float]:
        """Cosine of the ``n`` nearest chunk vectors to ``qvec``."""
        return self.backend.dense_scores(qvec, n)
