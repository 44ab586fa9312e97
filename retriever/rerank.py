"""Optional cross-encoder reranking: a sentence-transformers ``CrossEncoder`` re-scores the best passages.

Off by default, since no cross-encoder is bundled (the bundled model is a bi-encoder). Users who have one
(e.g. ``BAAI/bge-reranker-v2-m3``, or a local folder) pass it by hub id or path::

    >>> from retriever import Retriever
    >>> r = Retriever.load("index", reranker="BAAI/bge-reranker-v2-m3")   # doctest: +SKIP
    >>> r.search("광주 AI 집적단지 예산", k=3)[0].scores["rerank"]           # doctest: +SKIP

The first stage (hybrid, or the ``mode`` asked for) picks the candidates (``SearchSettings.rerank_depth``,
at least ``2 * k``); the cross-encoder's probability that a passage answers the query then orders them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.embedding import BUNDLED_MODELS
from indexer.errors import ModelNotAvailableError
from indexer.hub import cached_snapshot, default_device, download_blocker, model_source

__all__ = ["CrossEncoderReranker", "load_reranker"]


def _ways_out(name: str, *, hub: bool) -> str:
    lines = ["Ways out:", "  - leave the reranker out (it is optional; search works without it);",
             "  - pass a local cross-encoder folder instead (--reranker /path/to/reranker);"]
    if hub:
        lines.append(f"  - download it once while online: `hf download {name}`, then run again.")
    return "\n".join(lines)


def _open(ident: str, device: str | None, *, local: bool) -> Any:
    from sentence_transformers import CrossEncoder

    return CrossEncoder(ident, device=device or default_device(), local_files_only=local)


def load_reranker(name: str, *, device: str | None = None) -> CrossEncoderReranker:
    """Load a cross-encoder by hub id (from the local Hugging Face cache, or downloaded when online) or folder.

    Raises:
        ModelNotAvailableError: it cannot be found or loaded, or it is not a reranker (one relevance score
            per query-passage pair); the message says what to do instead.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNotAvailableError(f"reranker name {name!r} is empty; give a hub id or a local folder, or leave it out")
    if name.strip().lower() in BUNDLED_MODELS:
        raise ModelNotAvailableError(
            f"{name!r} is the bundled embedding model, not a cross-encoder; no reranker is bundled.\n"
            f"{_ways_out(name, hub=False)}")
    try:
        kind, ident = model_source(name)
    except ModelNotAvailableError as exc:
        raise ModelNotAvailableError(f"{exc}.\n{_ways_out(name, hub=False)}") from None
    try:
        if kind == "path":
            if not os.path.isfile(os.path.join(ident, "config.json")):
                raise ModelNotAvailableError(
                    f"reranker folder {ident} has no config.json: it is not a transformers model.\n{_ways_out(ident, hub=False)}")
            model = _open(ident, device, local=True)
        elif cached_snapshot(ident) is not None:
            model = _open(ident, device, local=True)
        else:
            blocker = download_blocker(ident)
            if blocker is not None:
                raise ModelNotAvailableError(
                    f"reranker {ident!r} is not in the local Hugging Face cache and {blocker}.\n{_ways_out(ident, hub=True)}")
            model = _open(ident, device, local=False)
    except ModelNotAvailableError:
        raise
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for unusable folders
        raise ModelNotAvailableError(
            f"reranker {ident!r} could not be loaded as a CrossEncoder ({type(exc).__name__}: {exc}).\n"
            f"{_ways_out(ident, hub=kind == 'hub')}") from None
    labels = int(getattr(model, "num_labels", 1))
    if labels != 1:
        raise ModelNotAvailableError(
            f"{ident!r} is a classifier with {labels} labels, not a reranker (one relevance score per pair).\n"
            f"{_ways_out(ident, hub=False)}")
    return CrossEncoderReranker(model, ident)


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder: probabilities in [0, 1]. Safe to share between threads."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        self._lock = threading.Lock()

    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Probability that each passage answers ``query`` (a sigmoid over the model's relevance logit)."""
        if not passages:
            return np.zeros(0, dtype=np.float64)
        import torch

        with self._lock:
            out = self.model.predict([(query, p) for p in passages], activation_fn=torch.nn.Identity(),
                                     show_progress_bar=False, convert_to_numpy=True)
        logits = np.asarray(out, dtype=np.float64).reshape(len(passages))
        return 1.0 / (1.0 + np.exp(-logits))
