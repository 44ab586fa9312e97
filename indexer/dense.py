"""The dense (FAISS) part of an index: exact search for small indexes, IVF for large ones.

Below :data:`FLAT_MAX` chunk vectors the index is exact (``IndexFlatIP``). Above it, an inverted-file
index (``IndexIVFFlat``, inner product) with about ``sqrt(n)`` lists; its ``nprobe`` is chosen at build
time as the smallest that reaches :data:`RECALL_TARGET` plus :data:`RECALL_MARGIN` recall@10 against exact
search, measured on a sample of the index's own sentence vectors used as queries (the margin covers
questions, which sit further from the stored sentences: at 1M chunks a 0.983 sentence recall gave 0.966
on the eval questions). The choice and the measured recall are stored
in the manifest's ``dense`` entry and applied again after loading (FAISS files do not reliably carry
search-time parameters).

>>> spec = plan(2_000_000, 512)                     # doctest: +SKIP
>>> spec["type"], spec["nlist"]                     # doctest: +SKIP
('ivf-flat-ip', 1024)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["FLAT_MAX", "KINDS", "RECALL_MARGIN", "RECALL_TARGET", "apply_params", "build", "plan", "recall_at_k", "stored_vectors"]

KINDS = ("auto", "flat", "ivf")
FLAT_MAX = 50_000  # exact search below this many chunks: a flat scan of 50k x 512 floats is ~5 ms on one core
RECALL_TARGET = 0.98
RECALL_MARGIN = 0.01
_NPROBES = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
_TRAIN_PER_LIST = 64  # k-means training points per inverted list
_SAMPLE_QUERIES = 500


def plan(n: int, dim: int, kind: str = "auto") -> dict[str, Any]:
    """The dense index description for ``n`` vectors: ``kind`` is "auto", "flat" or "ivf"."""
    if kind not in KINDS:
        raise ValueError(f"dense index kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "flat" or (kind == "auto" and n <= FLAT_MAX):
        return {"type": "flat-ip", "dim": dim}
    nlist = 2 ** round(math.log2(max(math.sqrt(max(n, 1)), 8)))
    nlist = min(nlist, 8192, max(n // 8, 8))  # at least 8 lists, and 8 vectors a list on average
    return {"type": "ivf-flat-ip", "dim": dim, "nlist": int(nlist), "nprobe": 1}


def build(vectors: np.ndarray, spec: dict[str, Any], queries: np.ndarray | None = None) -> tuple[Any, dict[str, Any]]:
    """A FAISS index over ``vectors`` (rows = chunk rows) and the spec with measured search settings.

    For IVF, ``queries`` (e.g. sentence vectors) are used to choose ``nprobe``; without them the chunk vectors are.
    """
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = int(spec["dim"])
    if spec["type"] == "flat-ip":
        flat = faiss.IndexFlatIP(dim)
        if len(x):
            flat.add(x)
        return flat, dict(spec)
    nlist = int(spec["nlist"])
    quantizer = faiss.IndexFlatIP(dim)
    index: Any = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    n_train = min(len(x), nlist * _TRAIN_PER_LIST)
    train = x[np.sort(rng.choice(len(x), n_train, replace=False))] if n_train < len(x) else x
    index.cp.seed = 1234
    index.train(train)
    index.add(x)
    sample = queries if queries is not None and len(queries) else x
    pick = np.sort(rng.choice(len(sample), min(_SAMPLE_QUERIES, len(sample)), replace=False))
    q = np.ascontiguousarray(sample[pick], dtype=np.float32)
    _, truth = faiss.knn(q, x, 10, metric=faiss.METRIC_INNER_PRODUCT)  # exact, without copying the vectors
    out = dict(spec)
    for nprobe in [p for p in _NPROBES if p < nlist] + [nlist]:
        index.nprobe = nprobe
        _, got = index.search(q, 10)
        r = recall_at_k(truth, got)
        out.update(nprobe=nprobe, recall_at_10=round(r, 4), recall_queries=len(q))
        if r >= RECALL_TARGET + RECALL_MARGIN:
            break
    index.nprobe = out["nprobe"]
    return index, out


def apply_params(index: Any, spec: dict[str, Any]) -> None:
    """Set the stored search-time parameters (``nprobe``) on a loaded index."""
    import faiss

    if spec.get("type") == "ivf-flat-ip":
        faiss.extract_index_ivf(index).nprobe = int(spec["nprobe"])


def stored_vectors(index: Any) -> np.ndarray:
    """All vectors held by ``index`` in row order (float32), for reuse by an incremental build."""
    import faiss

    n = index.ntotal
    if n == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return np.asarray(index.reconstruct_n(0, n), dtype=np.float32)


def recall_at_k(truth: np.ndarray, got: np.ndarray) -> float:
    """Mean share of each row of ``truth`` (exact ids) found in the same row of ``got``."""
    if len(truth) == 0:
        return 1.0
    hits = [len(set(t[t >= 0].tolist()) & set(g[g >= 0].tolist())) / max(int((t >= 0).sum()), 1) for t, g in zip(truth, got)]
    return float(np.mean(hits))
