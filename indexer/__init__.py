"""Corpus → index folder: load, clean, split, analyse, embed.

>>> from indexer import build_index, load_model
>>> report = build_index("corpus", "index")          # doctest: +SKIP
>>> print(report.summary())                          # doctest: +SKIP
"""

from __future__ import annotations

from .analyzer import AnalyzerConfig, KoreanAnalyzer
from .build import BuildReport, build_index
from .embedding import DEFAULT_MODEL, encode_documents, encode_queries, load_model, model_dimension
from .errors import (
    CorpusError,
    EmbeddingError,
    IndexFormatError,
    KoragError,
    ModelMismatchError,
    ModelNotAvailableError,
)
from .ingest import Document, Skipped, load_corpus

__all__ = [
    "DEFAULT_MODEL",
    "AnalyzerConfig",
    "BuildReport",
    "CorpusError",
    "Document",
    "EmbeddingError",
    "IndexFormatError",
    "KoragError",
    "KoreanAnalyzer",
    "ModelMismatchError",
    "ModelNotAvailableError",
    "Skipped",
    "build_index",
    "encode_documents",
    "encode_queries",
    "load_corpus",
    "load_model",
    "model_dimension",
]
