"""Serve an index folder that may be rebuilt while it is in use.

``python -m indexer`` swaps a rebuilt index in atomically; :class:`LiveRetriever` notices the new
``manifest.json``, loads the new index in the background, and switches over in one assignment. Queries keep
running on the previous index until then, and keep running on it if the new one cannot be loaded.

An index on a Milvus server (``milvus://HOST:PORT/NAME``) is followed the same way: a background thread asks
the server every :data:`SERVER_CHECK_INTERVAL` seconds which generation is published under the name.

>>> live = LiveRetriever("index")                   # doctest: +SKIP
>>> r = live.current()  # a consistent snapshot for one request  # doctest: +SKIP
>>> r.ask("AX 실증산단 공모 기간은?").text             # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from indexer.errors import KoragError
from indexer.format import MANIFEST_FILE
from indexer.store import is_server_location

from .core import Retriever

__all__ = ["SERVER_CHECK_INTERVAL", "LiveRetriever"]

log = logging.getLogger(__name__)

# seconds between asking a Milvus server for the published generation: a round trip per look, off the request path
SERVER_CHECK_INTERVAL = 10.0


def _signature(location: str) -> Hashable | None:
    """What changes when the index at ``location`` is rebuilt: the manifest's inode and time, or the generation."""
    if is_server_location(location):
        from indexer.milvus_store import current_generation

        try:
            return current_generation(location)
        except KoragError as exc:  # server down: keep serving; the searches say so to the user
            log.warning("cannot ask %s for its current index: %s", location, exc)
            return None
    try:
        st = os.stat(Path(location) / MANIFEST_FILE)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class LiveRetriever:
    """A :class:`Retriever` that follows rebuilds of its index folder. Thread-safe.

    ``check_interval``: seconds between looks at the manifest (a ``stat``); ``load_kwargs`` go to
    :meth:`Retriever.load`. Attribute access (``search``, ``ask``, ``docs`` …) goes to the current index;
    call :meth:`current` once per request to use one index for the whole request.
    """

    def __init__(self, index_dir: str | os.PathLike[str], *, check_interval: float = 1.0, **load_kwargs: Any) -> None:
        self.location = str(index_dir)
        self._server = is_server_location(self.location)
        self.index_dir = Path(index_dir)
        self.check_interval = max(check_interval, SERVER_CHECK_INTERVAL) if self._server else check_interval
        self._load_kwargs = load_kwargs
        self._sig = _signature(self.location)
        self._retriever = Retriever.load(self.location, **load_kwargs)
        self._lock = threading.Lock()
        self._next_check = time.monotonic() + check_interval
        self._loading: threading.Thread | None = None
        self.reloads = 0
        self.last_error: str | None = None

    def current(self) -> Retriever:
        """The index to answer this request with; starts a background reload when the folder changed."""
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check and (self._loading is None or not self._loading.is_alive()):
                    self._next_check = now + self.check_interval
                    if self._server:  # a network round trip: asked from the background thread
                        self._loading = threading.Thread(target=self._reload_if_changed, name="index-check", daemon=True)
                        self._loading.start()
                        return self._retriever
                    sig = _signature(self.location)
                    if sig is not None and sig != self._sig:
                        self._loading = threading.Thread(target=self._reload, args=(sig,), name="index-reload", daemon=True)
                        self._loading.start()
        return self._retriever

    def _reload_if_changed(self) -> None:
        sig = _signature(self.location)
        if sig is not None and sig != self._sig:
            self._reload(sig)

    def _reload(self, sig: Hashable) -> None:
        try:
            fresh = Retriever.load(self.location, **self._load_kwargs)
        except Exception as exc:  # a broken rebuild: keep serving the previous index, say why in the log
            self.last_error = str(exc)
            log.warning("index %s changed but could not be loaded; still serving the previous one: %s", self.index_dir, exc)
            with self._lock:
                self._sig = sig  # do not retry the same broken files on every request
            return
        with self._lock:
            self._retriever = fresh
            self._sig = sig
            self.reloads += 1
            self.last_error = None
        log.info("now serving the rebuilt index %s (%d chunks)", self.index_dir, len(fresh))

    def wait_for_reload(self, timeout: float = 60.0) -> None:
        """Block until a reload in progress (if any) has finished (for tests and scripts)."""
        t = self._loading
        if t is not None:
            t.join(timeout)

    def __len__(self) -> int:
        return len(self.current())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)
