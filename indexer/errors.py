"""Exceptions shared by the indexer, the retriever, the chat and the eval.

Every message says what went wrong and how to fix it.
"""

from __future__ import annotations


class KoragError(Exception):
    """Base class of this project's errors."""


class CorpusError(KoragError):
    """The corpus folder is missing, empty, or holds no usable document."""


class IndexFormatError(KoragError):
    """A folder is not a valid, complete index of the current format."""


class ModelMismatchError(KoragError):
    """An index was built with another embedding model or dimension."""


class ModelNotAvailableError(KoragError):
    """An embedding model cannot be loaded here (not local, and no network)."""


class EmbeddingError(KoragError):
    """An embedding model gave unusable output (a wrong number of vectors)."""


class IndexUnavailableError(KoragError):
    """An index held by a server (``milvus://``) cannot be reached: the server is down, slow or unknown."""
