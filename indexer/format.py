"""The index folder format, shared by the indexer (writer) and the retriever (reader).

An index is a folder::

    manifest.json   format name/version, creation time, library versions, model id and dimension,
                    analyzer/chunker/BM25 settings, counts, corpus file hashes, sha256 of every file
    docs.jsonl      one document per line: {"id", "source", "title", "meta", "text"} (clean text)
    chunks.jsonl    one chunk per line: {"id", "doc_id", "start", "end", "text", "sents", "sent_rows"};
                    line i is vector row i; text == doc.text[start:end]; sents are its sentence spans
                    relative to the chunk, sent_rows their lines in sentences.jsonl
    sentences.jsonl one sentence per line: {"doc_id", "start", "end", "terms"} (document offsets,
                    the analyzer's terms); line j is row j of sentences.npy
    sentences.npy   float32 L2-normalised sentence embeddings
    dense.faiss     FAISS index of chunk vectors: normalised mean of the chunk's sentence vectors plus
                    the title's (inner product = cosine)
    bm25/           bm25s index over the analyzer's terms of title + chunk

>>> manifest = read_manifest("index")                # doctest: +SKIP
>>> manifest["model"]                                # doctest: +SKIP
{'id': 'use-m3', 'dim': 512, 'normalized': True}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import IndexFormatError

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "MANIFEST_FILE", "DOCS_FILE", "CHUNKS_FILE", "DENSE_FILE", "BM25_DIR",
    "SENTENCES_FILE", "SENTENCE_VECTORS_FILE", "read_manifest", "verify_files", "file_sha256",
]

FORMAT_NAME = "korag-index"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
DOCS_FILE = "docs.jsonl"
CHUNKS_FILE = "chunks.jsonl"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
SENTENCES_FILE = "sentences.jsonl"
SENTENCE_VECTORS_FILE = "sentences.npy"

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
