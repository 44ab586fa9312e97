"""The one reader of an index folder: every file opened, checked against the manifest and each other.

The retriever serves from it, an incremental build reuses documents from it, and the chat checks a
folder with it; nothing else opens the index files (their names live in :mod:`indexer.format`). A
damaged, foreign or inconsistent folder raises :class:`~indexer.errors.IndexFormatError` saying how to
rebuild it. This is the seam where a second storage backend plugs in.

>>> data = open_index("index")                       # doctest: +SKIP
>>> len(data.chunks), data.dense.ntotal, data.model_id  # doctest: +SKIP
(31, 31, 'e5-small')
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexFormatError, ModelMismatchError
from .format import (
    BM25_DIR,
    CHUNKS_FILE,
    DENSE_FILE,
    DOCS_FILE,
    FORMAT_NAME,
    MANIFEST_FILE,
    SENTENCE_OFFSETS_FILE,
    SENTENCE_SPANS_FILE,
    SENTENCE_TERMS_FILE,
    SENTENCE_VECTORS_FILE,
    read_jsonl,
    read_manifest,
    verify_files,
)

__all__ = ["IndexData", "IndexInfo", "SentenceTable", "index_info", "open_index"]


class SentenceTable:
    """The index's sentence table: document row and span of each sentence, and its term ids (CSR layout).

    >>> t = SentenceTable(np.array([[0, 0, 5], [0, 6, 9]]), np.array([3, 1, 2]), np.array([0, 2, 3]))
    >>> len(t), t.term_ids(0), t.consistent(vocab_size=4)
    (2, [3, 1], True)
    """

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
        """The term ids of sentence row ``j``."""
        return self.terms[self.offsets[j]:self.offsets[j + 1]].tolist()


@dataclass(frozen=True)
class IndexData:
    """Everything an index folder holds, opened (the large arrays memory-mapped).

    ``docs`` and ``chunks`` are the JSON records in file order (chunk row i is vector row i and BM25 row i);
    ``sentence_vectors`` is float16 ``(sentences, dim)``; ``bm25`` a ``bm25s.BM25`` and ``dense`` a FAISS
    index with the manifest's search settings applied; ``vocab`` maps each BM25 term to its id.
    """

    path: Path
    manifest: dict[str, Any]
    docs: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    sentences: SentenceTable
    sentence_vectors: np.ndarray
    bm25: Any
    dense: Any
    vocab: dict[str, int]

    @property
    def model_id(self) -> str:
        """The embedding model the index was built with (bundled name, hub id or folder)."""
        return str(self.manifest["model"]["id"])

    @property
    def dim(self) -> int:
        """Dimension of the index's vectors."""
        return int(self.manifest["model"]["dim"])


def open_index(index_dir: str | os.PathLike[str], *, verify: bool = True) -> IndexData:
    """Open and check the index folder ``index_dir``.

    ``verify`` also compares every file with the sha256 the manifest records (a few ms per MB).
    Raises :class:`IndexFormatError` (or :class:`ModelMismatchError` for a vector dimension that differs
    from the manifest's) saying how to rebuild.
    """
    import bm25s
    import faiss

    from .dense import apply_params

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s turns on its DEBUG messages when imported
    d = Path(index_dir)
    hint = f"rebuild it: python -m indexer CORPUS --out {d}"
    manifest = read_manifest(d)
    if verify:
        verify_files(d, manifest)
    dim = int(manifest["model"]["dim"])
    try:
        docs = read_jsonl(d / DOCS_FILE)
        chunks = read_jsonl(d / CHUNKS_FILE)
        sentences = SentenceTable(
            np.load(d / SENTENCE_SPANS_FILE, mmap_mode="r", allow_pickle=False),
            np.load(d / SENTENCE_TERMS_FILE, mmap_mode="r", allow_pickle=False),
            np.load(d / SENTENCE_OFFSETS_FILE, allow_pickle=False),
        )
        sent_vecs = np.load(d / SENTENCE_VECTORS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"cannot read {str(d)!r} ({exc}); {hint}") from None
    by_id = {doc.get("id"): doc for doc in docs}
    n_sent = len(sentences)
    for c in chunks:
        doc = by_id.get(c.get("doc_id"))
        if doc is None or doc["text"][c["start"]:c["end"]] != c["text"] or \
                any(not 0 <= j < n_sent for j in c.get("sent_rows", [None])):
            raise IndexFormatError(f"chunk {c.get('id')!r} in {str(d)!r} does not match its document; {hint}")
    try:
        dense = faiss.read_index(str(d / DENSE_FILE))
        bm25 = bm25s.BM25.load(str(d / BM25_DIR), load_corpus=False, mmap=True, show_progress=False)
    except Exception as exc:  # faiss raises RuntimeError, bm25s OSError/ValueError on damaged files
        raise IndexFormatError(f"cannot open the search files of {str(d)!r} ({exc}); {hint}") from None
    n_bm25 = int(bm25.scores["num_docs"])
    vocab: dict[str, int] = dict(bm25.vocab_dict)
    consistent = sentences.consistent(len(vocab))
    if not (dense.ntotal == len(chunks) == n_bm25 == manifest["counts"]["chunks"]) or \
            sent_vecs.shape != (n_sent, dim) or not consistent:
        raise IndexFormatError(
            f"{str(d)!r} is inconsistent: {len(chunks)} chunks, {dense.ntotal} vectors, {n_bm25} BM25 rows, "
            f"{n_sent} sentences with vectors of shape {sent_vecs.shape} and terms "
            f"{'within' if consistent else 'outside'} the BM25 vocabulary; {hint}"
        )
    if dense.d != dim:
        raise ModelMismatchError(f"{str(d)!r}: FAISS dimension {dense.d} differs from the manifest's {dim}; {hint}")
    apply_params(dense, manifest.get("dense", {}))
    return IndexData(d, manifest, docs, chunks, sentences, sent_vecs, bm25, dense, vocab)


@dataclass(frozen=True)
class IndexInfo:
    """What a folder's manifest says, read without opening the index (to decide whether to rebuild it).

    ``format_version`` is None for a manifest that is not this program's; ``model_default`` tells whether
    the model was the default of its day rather than named (indexes from before the manifest recorded it
    were built with use-m3, then the default).
    """

    format_version: int | None
    model_id: str | None
    model_default: bool


def index_info(index_dir: str | os.PathLike[str]) -> IndexInfo | None:
    """The manifest of ``index_dir`` in brief, or None when the folder holds no ``manifest.json``.

    Unlike :func:`open_index` this never raises on a damaged index: unreadable parts come back as None.
    """
    path = Path(index_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return IndexInfo(None, None, False)
    version = manifest.get("format_version")
    entry = manifest.get("model")
    model = str(entry["id"]) if isinstance(entry, dict) and "id" in entry else None
    default = bool(entry.get("default", model == "use-m3")) if isinstance(entry, dict) else False
    return IndexInfo(version if isinstance(version, int) else None, model, default)
