"""The BM25 part of an index, built with numpy from term-id arrays and saved in bm25s's format.

bm25s builds its score matrix with a Python loop over documents and lists of Python ints, which needs
tens of GB at a million chunks. This builds the same matrix (Lucene BM25: ``idf = ln(1 + (N - df + 0.5) /
(df + 0.5))``, ``tf / (tf + k1 (1 - b + b dl / avgdl))``) from flat arrays in a few vectorised passes;
``bm25s.BM25.load`` reads the result and a test checks it equals ``bm25s.BM25.index`` on the seed corpus.

>>> bm25 = build_bm25(tokens, doc_of_token, n_docs=3, vocab={"광주": 0, "예산": 1})   # doctest: +SKIP
>>> bm25.save("index/bm25")                                                           # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["build_bm25"]


def build_bm25(token_ids: np.ndarray, doc_of_token: np.ndarray, n_docs: int, vocab: dict[str, int],
               k1: float, b: float) -> Any:
    """A ``bm25s.BM25`` (method "lucene") whose document ``d`` holds the terms ``token_ids[doc_of_token == d]``.

    ``vocab`` maps every term to its id (``0 .. len(vocab) - 1``); bm25s's empty token is added after them.
    """
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s turns on its DEBUG messages when imported
    n_vocab = len(vocab)
    tok, doc = np.asarray(token_ids), np.asarray(doc_of_token)
    if tok.shape != doc.shape:
        raise ValueError(f"token_ids and doc_of_token differ in length ({tok.shape} vs {doc.shape})")
    if len(tok) and (tok.min() < 0 or tok.max() >= n_vocab or doc.min() < 0 or doc.max() >= n_docs):
        raise ValueError("a token id or document row is out of range")
    doc_len = np.bincount(doc, minlength=n_docs).astype(np.float64)
    avg_len = float(doc_len.mean()) if n_docs else 0.0
    key = tok.astype(np.int64) * max(n_docs, 1)  # column-major: term, then document
    key += doc
    key.sort()
    if len(key):
        starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
        uniq = key[starts]
        tf = np.diff(np.concatenate([starts, [len(key)]])).astype(np.float32)
    else:
        uniq, tf = key, np.zeros(0, dtype=np.float32)
    del key
    term, row = np.divmod(uniq, max(n_docs, 1))
    del uniq
    df = np.bincount(term, minlength=n_vocab)
    idf = np.zeros(n_vocab, dtype=np.float32)
    seen = df > 0
    idf[seen] = np.log(1.0 + (n_docs - df[seen] + 0.5) / (df[seen] + 0.5))
    tfc = tf / (k1 * ((1 - b) + b * doc_len[row] / avg_len) + tf) if len(tf) else tf
    data = (idf[term] * tfc).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
    bm25.scores = {"data": data, "indices": row.astype(np.int32), "indptr": indptr, "num_docs": n_docs}
    bm25.vocab_dict = dict(vocab)
    if "" not in bm25.vocab_dict:
        bm25.vocab_dict[""] = n_vocab
    bm25.nonoccurrence_array = None
    return bm25
