"""Adding documents from the chat: store the files beside the index, index them at once, remove them again.

Plain functions for the handlers of :mod:`ui.app`; every message is Korean and no failure escapes as a traceback.
The files go to :func:`indexer.uploads.uploads_dir` (``index`` -> ``index.uploads``), never to the corpus.

>>> skip_message("same text as 2021_press.txt (duplicate)")
'이미 같은 내용의 문서가 있습니다 (2021_press.txt)'
>>> UploadOutcome(added=["a.txt"], errors=["b.exe: 지원하지 않는 형식입니다 (.exe)"]).lines()
['추가했습니다: a.txt', 'b.exe: 지원하지 않는 형식입니다 (.exe)']
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.format import read_manifest
from indexer.ingest import SUPPORTED_SUFFIXES
from indexer.uploads import (
    MAX_UPLOAD_BYTES,
    UploadError,
    add_upload,
    index_uploads,
    list_uploads,
    remove_upload,
    upload_lock,
    upload_name,
    uploads_dir,
)
from retriever.live import LiveRetriever

from .render import esc

__all__ = [
    "MSG_INDEX_FAILED",
    "MSG_RELOAD_SLOW",
    "RELOAD_TIMEOUT_S",
    "UploadOutcome",
    "add_files",
    "remove_files",
    "skip_message",
    "upload_choices",
    "upload_hint",
    "upload_problem",
    "wait_for_index",
]

log = logging.getLogger(__name__)

#: a rebuilt index of a few thousand chunks loads in seconds; past this the chat says so and answers from it later
RELOAD_TIMEOUT_S = 120.0
MSG_INDEX_FAILED = "색인을 만드는 중에 문제가 생겨 추가하지 못했습니다. 잠시 후 다시 시도해 주세요"
MSG_RELOAD_SLOW = "새 색인을 아직 불러오는 중입니다. 잠시 뒤에 물어보면 반영됩니다"
MSG_SAVE_FAILED = "파일을 저장하지 못했습니다"
_SKIP_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^same text as (.+) \(duplicate\)$"), "이미 같은 내용의 문서가 있습니다 ({0})"),
    (re.compile(r"^the corpus has a file of the same path"), "같은 경로의 문서가 이미 있습니다"),
    (re.compile(r"^(?:empty file|no text)"), "읽을 수 없는 파일입니다: 글자가 없습니다"),
)

#: ``progress(fraction, description)``, e.g. a ``gr.Progress`` wrapped by the app
Progress = Callable[[float, str], None]


def _no_progress(fraction: float, description: str) -> None:
    log.debug("%.0f%% %s", fraction * 100, description)


def skip_message(reason: str) -> str:
    """A Korean message for the reason the indexer gave for skipping a file."""
    for pattern, message in _SKIP_REASONS:
        m = pattern.match(reason)
        if m:
            return message.format(*m.groups())
    return f"읽을 수 없는 파일입니다: {reason}"


@dataclass
class UploadOutcome:
    """What an upload or a removal did: stored names now searchable, names removed, Korean errors per file."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    note: str = ""

    def _done(self) -> list[str]:
        return [f"추가했습니다: {n}" for n in self.added] + [f"삭제했습니다: {n}" for n in self.removed]

    def lines(self) -> list[str]:
        """The status as lines of text: what was done, then the errors, then the note."""
        return self._done() + self.errors + ([self.note] if self.note else [])

    def html(self) -> str:
        """The status box under the upload control ("" when there is nothing to say)."""
        rows = ([f'<li class="ok">{esc(line)}</li>' for line in self._done()]
                + [f'<li class="err">{esc(line)}</li>' for line in self.errors]
                + ([f'<li class="note">{esc(self.note)}</li>'] if self.note else []))
        return f'<ul class="korag-upload-status">{"".join(rows)}</ul>' if rows else ""


def upload_hint() -> str:
    """The line under the upload control: formats and size cap."""
    return (f"{' '.join(SUPPORTED_SUFFIXES)} 파일을 끌어다 놓거나 눌러서 고르세요 · 파일당 최대 "
            f"{MAX_UPLOAD_BYTES // 2**20}MB · 올린 파일은 색인 폴더 옆에 저장되고 바로 검색됩니다")


def upload_problem(retriever: Any, corpus: str | os.PathLike[str] | None) -> str | None:
    """Why documents cannot be added to the index ``retriever`` serves (Korean), or None when they can.

    They can when it is a :class:`LiveRetriever` (which follows the rebuild) and ``corpus`` is the folder the
    index was built from: an upload rebuilds the index from that folder, so another one would replace its documents.
    """
    if not isinstance(retriever, LiveRetriever) or corpus is None:
        return "이 채팅에서는 문서를 추가할 수 없습니다."
    folder = Path(corpus)
    if not folder.is_dir():
        return f"문서 폴더 {folder}가 없어 문서를 추가할 수 없습니다."
    if uploads_dir(retriever.index_dir).resolve() == folder.resolve():
        return "올린 파일 폴더가 문서 폴더와 같아 문서를 추가할 수 없습니다."
    sources = [s for s in (retriever.manifest.get("corpus") or {}).get("files", {}) if upload_name(s) is None]
    if sources and not any((folder / s).is_file() for s in sources):
        return (f"이 색인은 다른 문서 폴더로 만든 것이어서 문서를 추가할 수 없습니다. "
                f"python -m ui --corpus 로 그 폴더를 지정하세요 (지금: {folder}).")
    return None


def upload_choices(retriever: Any) -> list[tuple[str, str]]:
    """``(label, stored name)`` of every uploaded file of the index, for the remove control."""
    titles = {}
    for doc in retriever.docs.values():
        name = upload_name(str(doc.get("source", "")))
        if name is not None:
            titles[name] = str(doc.get("title") or "")
    return [(f"{titles[n]} ({n})" if titles.get(n) else n, n) for n in list_uploads(retriever.index_dir)]


def wait_for_index(live: LiveRetriever, timeout: float = RELOAD_TIMEOUT_S) -> bool:
    """Wait until ``live`` answers from the index now in its folder; False on timeout or when it cannot load it."""
    try:
        files = read_manifest(live.index_dir).get("files")
    except Exception:  # no readable index: nothing to wait for
        log.exception("cannot read the manifest of %s", live.index_dir)
        return False
    error = live.last_error
    deadline = time.monotonic() + timeout
    while True:
        if (live.current().manifest or {}).get("files") == files:  # current() starts the reload when it is time
            return True
        if live.last_error is not None and live.last_error != error:
            log.warning("the rebuilt index %s could not be loaded: %s", live.index_dir, live.last_error)
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        live.wait_for_reload(timeout=left)
        time.sleep(min(0.05, live.check_interval))


def _reindex(live: LiveRetriever, corpus: str | os.PathLike[str], new: dict[str, str], out: UploadOutcome,
             progress: Progress) -> None:
    """Rebuild the index with the uploads now in the folder; drop the uploads it cannot index (reported)."""
    index = live.index_dir
    progress(0.2, "문서를 읽고 색인하는 중입니다 (파일 크기에 따라 몇십 초 걸립니다)")
    try:
        report = index_uploads(corpus, index)
    except Exception:
        log.exception("indexing the uploads of %s failed", index)
        for name, shown in new.items():
            _discard(index, name)
            out.errors.append(f"{shown}: {MSG_INDEX_FAILED}")
        return
    present = set(list_uploads(index))
    skipped = set()
    for s in report.skipped:
        stored = upload_name(s.source)
        if stored is not None and stored in present:  # never left in the folder unindexed
            _discard(index, stored)
            skipped.add(stored)
            out.errors.append(f"{new.get(stored, stored)}: {skip_message(s.reason)}")
    out.added += [stored for stored in new if stored not in skipped]
    progress(0.9, "새 색인을 불러오는 중입니다")
    if not wait_for_index(live):
        out.note = MSG_RELOAD_SLOW


def _discard(index: Path, name: str) -> None:
    try:
        remove_upload(index, name)
    except (UploadError, OSError):
        log.exception("could not remove the upload %s of %s", name, index)


def add_files(live: LiveRetriever, corpus: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]],
              progress: Progress = _no_progress) -> UploadOutcome:
    """Store the files at ``paths`` as uploads (named after their file names), rebuild, wait for the new index.

    One change at a time per index (:func:`indexer.uploads.upload_lock`): a second upload waits for the first.
    """
    out = UploadOutcome()
    index = live.index_dir
    progress(0.0, "차례를 기다리는 중입니다")
    with upload_lock(index):
        progress(0.05, "파일을 저장하는 중입니다")
        new: dict[str, str] = {}
        for p in paths:
            shown = Path(p).name
            try:
                new[add_upload(index, shown, p)] = shown
            except UploadError as exc:
                out.errors.append(f"{shown}: {exc}")
            except OSError:
                log.exception("storing the upload %s in %s failed", shown, uploads_dir(index))
                out.errors.append(f"{shown}: {MSG_SAVE_FAILED}")
        if new:
            _reindex(live, corpus, new, out, progress)
    return out


def remove_files(live: LiveRetriever, corpus: str | os.PathLike[str], names: Sequence[str],
                 progress: Progress = _no_progress) -> UploadOutcome:
    """Delete the uploads ``names``, rebuild without them, wait for the new index."""
    out = UploadOutcome()
    index = live.index_dir
    progress(0.0, "차례를 기다리는 중입니다")
    with upload_lock(index):
        for name in names:
            try:
                remove_upload(index, name)
            except UploadError as exc:
                out.errors.append(str(exc))
                continue
            except OSError:
                log.exception("removing the upload %s of %s failed", name, index)
                out.errors.append(f"{name}: 파일을 지우지 못했습니다")
                continue
            out.removed.append(name)
        if out.removed:
            progress(0.2, "색인에서 빼는 중입니다")
            try:
                index_uploads(corpus, index)
            except Exception:
                log.exception("rebuilding %s after removing %s failed", index, out.removed)
                out.note = "파일은 지웠지만 색인을 다시 만들지 못했습니다. 다음 색인 때 빠집니다"
                return out
            progress(0.9, "새 색인을 불러오는 중입니다")
            if not wait_for_index(live):
                out.note = MSG_RELOAD_SLOW
    return out
