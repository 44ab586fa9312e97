"""The one reader of an index folder: every file opened, checked against the manifest and each other.

The retriever serves from it, an incremental build reuses documents from it, and the chat checks a
folder with it; nothing else opens the index files (their names live in :mod:`indexer.format`). A
damaged, foreign or inconsistent folder raises :class:`~indexer.errors.IndexFormatError` saying how to
rebuild it. This is the seam where a second storage backend plugs in: :class:`SearchBackend` is what the
first stage asks of an index (BM25 and dense candidates, the term postings, the stored chunk vectors);
:class:`FolderSearch` answers it from this folder's bm25s and FAISS files, and
:mod:`indexer.milvus_store` from a Milvus collection. :func:`open_store` opens either by its location
(a folder, or ``milvus://HOST:PORT/NAME``).

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
from typing import Any, NamedTuple, Protocol

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

__all__ = ["FolderSearch", "IndexData", "IndexInfo", "Postings", "SearchBackend", "SentenceTable", "index_info",
           "is_server_location", "open_index", "open_store"]


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


class Postings(NamedTuple):
    """Chunk rows holding each BM25 term, CSR by term id: term ``i`` is in rows ``indices[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray
    indices: np.ndarray
    num_docs: int


class SearchBackend(Protocol):
    """What the first stage needs from wherever the chunks are stored (a folder, a Milvus collection).

    Scores are keyed by chunk row (row i of ``IndexData.chunks``); BM25 scores are Lucene BM25 with the
    manifest's k1/b (``tf / (tf + k1 (1 - b + b dl / avgdl))``, so the backends' scores are equal).
    """

    def keyword_scores(self, terms: list[str], n: int) -> dict[int, float]:
        """BM25 scores of the ``n`` best chunk rows for the index terms ``terms`` (rows scoring 0 left out)."""
        ...

    def dense_scores(self, qvec: np.ndarray, n: int) -> dict[int, float]:
        """Inner product (cosine) of the ``n`` nearest chunk vectors to ``qvec``."""
        ...

    def postings(self) -> Postings:
        """The chunk rows of every term id of ``IndexData.vocab`` (document frequencies, ``docs_with``)."""
        ...

    def chunk_vectors(self) -> np.ndarray:
        """All chunk vectors in row order, float32 (for an incremental build to reuse)."""
        ...

    def close(self) -> None:
        """Release connections (a later call may open new ones); nothing to do for a folder."""
        ...


class FolderSearch:
    """:class:`SearchBackend` over an index folder's bm25s matrix and FAISS index (both in this process)."""

    def __init__(self, bm25: Any, dense: Any, vocab: dict[str, int]) -> None:
        self.bm25 = bm25
        self.dense = dense
        self.vocab = vocab

    def keyword_scores(self, terms: list[str], n: int) -> dict[int, float]:
        """BM25 scores of the ``n`` best chunk rows for ``terms`` (rows scoring 0 left out)."""
        known = [t for t in terms if t in self.vocab and t]
        if not known:
            return {}
        scores = self.bm25.get_scores(known)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}

    def dense_scores(self, qvec: np.ndarray, n: int) -> dict[int, float]:
        """Cosine of the ``n`` nearest chunk vectors to ``qvec``."""
        scores, ids = self.dense.search(qvec[None, :], min(n, self.dense.ntotal))
        return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}

    def postings(self) -> Postings:
        """The BM25 matrix's term-major postings."""
        s = self.bm25.scores
        return Postings(np.asarray(s["indptr"]), np.asarray(s["indices"]), int(s["num_docs"]))

    def chunk_vectors(self) -> np.ndarray:
        """The vectors the FAISS index holds, in row order."""
        from .dense import stored_vectors

        return stored_vectors(self.dense)

    def close(self) -> None:
        """Nothing to release: the files are memory-mapped and freed with the index."""


@dataclass(frozen=True)
class IndexData:
    """Everything an index folder holds, opened (the large arrays memory-mapped).

    ``docs`` and ``chunks`` are the JSON records in file order (chunk row i is vector row i and BM25 row i);
    ``sentence_vectors`` is float16 ``(sentences, dim)``; ``bm25`` a ``bm25s.BM25`` and ``dense`` a FAISS
    index with the manifest's search settings applied (both None for an index on a server); ``vocab`` maps
    each BM25 term to its id; ``search`` answers the first stage (:class:`FolderSearch` for a folder);
    ``location`` is the folder or ``milvus://`` URI it was opened from (``path`` is that folder, or for a
    server a local folder for files kept beside the index, such as the chat's feedback).
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
    search: SearchBackend
    location: str

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
    return IndexData(d, manifest, docs, chunks, sentences, sent_vecs, bm25, dense, vocab,
                     FolderSearch(bm25, dense, vocab), str(d))


def is_server_location(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names an index on a server (``milvus://HOST:PORT/NAME``) rather than a folder."""
    return isinstance(location, str) and location.startswith("milvus://")


def open_store(location: str | os.PathLike[str], *, verify: bool = True, timeout: int | None = None) -> IndexData:
    """Open the index at ``location``: a folder (:func:`open_index`) or ``milvus://HOST:PORT/NAME``.

    ``timeout``: whole seconds for each server call (default :data:`indexer.milvus_store.DEFAULT_TIMEOUT`);
    ``verify`` applies to folders (checksums).
    """
    if is_server_location(location):
        from .milvus_store import DEFAULT_TIMEOUT, open_milvus_index

        return open_milvus_index(str(location), timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
    return open_index(location, verify=verify)


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
