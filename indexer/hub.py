"""Where a model comes from: a local folder or a Hugging Face Hub id, and whether it can be had here.

Shared by the embedding loader (:mod:`indexer.embedding`) and the reranker loader (:mod:`retriever.rerank`).
Nothing here downloads: a hub id is looked up in the local cache, and the network is only probed (briefly)
when ``HF_HUB_OFFLINE`` is not set, so an offline machine is told why in seconds instead of hanging.

>>> model_source("./models/bge-m3")[0], model_source("BAAI/bge-m3")
('path', ('hub', 'BAAI/bge-m3'))
"""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlparse

from .errors import ModelNotAvailableError

__all__ = ["HUB_PROBE_TIMEOUT", "cached_snapshot", "default_device", "download_blocker", "model_source", "offline"]

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for the Hugging Face Hub to answer before giving up on a download."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_TRUE = {"1", "true", "yes", "on"}


def model_source(name: str) -> tuple[str, str]:
    """``("path", absolute folder)`` or ``("hub", repo id)`` for a model name; raises
    :class:`ModelNotAvailableError` for a name that is neither (the caller handles bundled names first)."""
    raw = name.strip()
    if not raw:
        raise ModelNotAvailableError("empty model name: give a hub id (like 'BAAI/bge-m3') or a local model folder")
    expanded = os.path.expanduser(raw)
    looks_like_path = (
        os.path.isabs(expanded)
        or raw.startswith((".", "~"))
        or "\\" in raw
        or raw.count("/") > 1
        or (os.sep != "/" and os.sep in raw)
    )
    if os.path.exists(expanded) or looks_like_path:
        return "path", os.path.abspath(expanded)
    if not _HUB_ID.match(raw):
        raise ModelNotAvailableError(f"model {raw!r} is neither a local folder nor a valid hub id (like 'BAAI/bge-m3')")
    return "hub", raw


def default_device() -> str:
    """The device sentence-transformers picks ("cuda" when there is a GPU, else "cpu", ...)."""
    from sentence_transformers.util import get_device_name

    return str(get_device_name())


def offline() -> bool:
    """``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def cached_snapshot(repo_id: str) -> str | None:
    """Folder of the locally cached copy of ``repo_id``, or None (never uses the network)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, local_files_only=True,
                                 cache_dir=os.environ.get("SENTENCE_TRANSFORMERS_HOME") or None)
    except Exception:  # not cached (or a damaged cache entry): None either way
        return None


def _hub_unreachable_reason(repo_id: str) -> str | None:
    """None when the hub answers and knows ``repo_id``; otherwise why it cannot be downloaded."""
    from huggingface_hub import HfApi, constants

    endpoint = urlparse(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    proxied = any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"))
    if not proxied:  # a direct TCP probe fails in ms on a machine without network
        try:
            socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT).close()
        except OSError as exc:
            return f"the Hugging Face Hub ({host}) cannot be reached from here ({exc})"
    try:
        HfApi().model_info(repo_id, timeout=max(HUB_PROBE_TIMEOUT, 5.0))
    except Exception as exc:  # any failure to answer means: cannot download
        kind = type(exc).__name__
        if "RepositoryNotFound" in kind or "GatedRepo" in kind:
            return f"the Hugging Face Hub has no (public) model called {repo_id!r} ({kind})"
        return f"the Hugging Face Hub did not answer ({kind}: {exc})"
    return None


def download_blocker(repo_id: str) -> str | None:
    """Why ``repo_id``, missing from the local cache, cannot be downloaded here, or None when it can.

    The reason completes "… is not in the local Hugging Face cache and {reason}".
    """
    if offline():
        return "HF_HUB_OFFLINE is set, so it cannot be downloaded"
    return _hub_unreachable_reason(repo_id)
