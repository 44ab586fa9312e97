"""The index folder format, shared by the indexer (writer) and the retriever (reader).

An index is a folder::

    manifest.json   format name/version, creation time, library versions, model id and dimension,
                    analyzer/chunker/BM25 settings, counts, corpus file hashes, sha256 of every file
    docs.jsonl      one document per line: {"id", "source", "title", "meta", "text", "terms"} (clean
                    text; terms: the analyzer's terms of the title)
    chunks.jsonl    one chunk per line: {"id", "doc_id", "start", "end", "text", "sents", "sent_rows"};
                    line i is vector row i; text == doc.text[start:end]; sents are its sentence spans
                    relative to the chunk, sent_rows their sentence rows
    sentence_spans.npy         int64 (sentences, 3): document line in docs.jsonl, start, end
    sentence_terms.npy         int32: the analyzer's terms of every sentence, as ids into bm25/vocab.index.json
    sentence_term_offsets.npy  int64 (sentences + 1): sentence j's terms are terms[offsets[j]:offsets[j + 1]]
    sentences.npy   float16 L2-normalised sentence embeddings (row j = sentence j)
    dense.faiss     FAISS index of chunk vectors (inner product = cosine): the model's encoding of
                    "title\nchunk text" (manifest chunker.chunk_vectors "passage"), or for a sentence
                    model (use-m3) the normalised mean of the chunk's sentence vectors plus the title's
                    ("sentences"); exact (flat) or IVF by size, its search settings in the manifest's
                    "dense" entry
    bm25/           bm25s index over the analyzer's terms of title + chunk

>>> manifest = read_manifest("index")                # doctest: +SKIP
>>> manifest["model"]                                # doctest: +SKIP
{'id': 'e5-small', 'dim': 384, 'normalized': True, 'default': True}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexFormatError

__all__ = [
    "BM25_DIR",
    "BM25_VOCAB_FILE",
    "CHUNKS_FILE",
    "DENSE_FILE",
    "DOCS_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "SENTENCE_OFFSETS_FILE",
    "SENTENCE_SPANS_FILE",
    "SENTENCE_TERMS_FILE",
    "SENTENCE_VECTORS_FILE",
    "csr_positions",
    "file_sha256",
    "read_jsonl",
    "read_manifest",
    "verify_files",
]

FORMAT_NAME = "korag-index"
FORMAT_VERSION = 2  # 2: sentence arrays instead of sentences.jsonl, float16 sentence vectors, IVF by size
MANIFEST_FILE = "manifest.json"
DOCS_FILE = "docs.jsonl"
CHUNKS_FILE = "chunks.jsonl"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
SENTENCE_SPANS_FILE = "sentence_spans.npy"
SENTENCE_TERMS_FILE = "sentence_terms.npy"
SENTENCE_OFFSETS_FILE = "sentence_term_offsets.npy"
SENTENCE_VECTORS_FILE = "sentences.npy"
BM25_VOCAB_FILE = "vocab.index.json"  # inside BM25_DIR, written by bm25s

_REQUIRED = ("format", "format_version", "model", "analyzer", "chunker", "bm25", "counts", "files")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: python -m indexer CORPUS --out {index_dir}"


def read_manifest(index_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``manifest.json``; raise :class:`IndexFormatError` saying why and how to rebuild."""
    d = Path(index_dir)
    if not d.is_dir():
        raise IndexFormatError(f"no index folder at {str(d)!r}; build one with: python -m indexer corpus --out {d}")
    path = d / MANIFEST_FILE
    if not path.is_file():
        raise IndexFormatError(f"{str(d)!r} is not an index: {MANIFEST_FILE} is missing; {_rebuild_hint(d)}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path} is not valid JSON ({exc}); {_rebuild_hint(d)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path} does not describe a {FORMAT_NAME} index; {_rebuild_hint(d)}")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise IndexFormatError(f"{path} lacks {', '.join(missing)}; {_rebuild_hint(d)}")
    version = manifest["format_version"]
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"{str(d)!r} has index format version {version}, this program reads version {FORMAT_VERSION}; {_rebuild_hint(d)}"
        )
    return manifest


def verify_files(index_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Check every file listed in the manifest exists with its recorded sha256."""
    d = Path(index_dir)
    for rel, expected in manifest["files"].items():
        p = d / rel
        if not p.is_file():
            raise IndexFormatError(f"index file {rel} is missing from {str(d)!r}; {_rebuild_hint(d)}")
        if file_sha256(p) != expected:
            raise IndexFormatError(
                f"index file {rel} in {str(d)!r} was changed or truncated after the build (checksum mismatch); {_rebuild_hint(d)}"
            )


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, one per non-empty line."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def csr_positions(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the items of ``rows`` in a CSR layout (row j holds ``offsets[j]:offsets[j + 1]``).

    Returns ``(positions, owner)``: the flat positions, and for each the index into ``rows`` it came from.

    >>> csr_positions(np.array([0, 2, 5]), np.array([1, 0]))
    (array([2, 3, 4, 0, 1]), array([0, 0, 0, 1, 1]))
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(offsets[rows], dtype=np.int64)
    lens = np.asarray(offsets[rows + 1], dtype=np.int64) - starts
    total = int(lens.sum())
    owner = np.repeat(np.arange(len(rows)), lens)
    return np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens), owner
