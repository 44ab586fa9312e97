"""Documents added from the chat: kept in a folder beside the index, indexed with the corpus.

An upload is stored in ``<index>.uploads`` (``index`` -> ``index.uploads``), never in the corpus folder,
under a safe file name. Every build of that index (:func:`indexer.build_index`, so ``python -m indexer`` and
the first run of ``python -m ui`` too) reads the folder with the corpus; its documents are named
``uploads/<file name>`` (see :func:`load_uploads`).

>>> import tempfile
>>> index = Path(tempfile.mkdtemp()) / "index"
>>> add_upload(index, "../../보도자료.txt", "광주 AI 집적단지 예산은 1,076억원이다.".encode())
'보도자료.txt'
>>> add_upload(index, "보도자료.txt", "다른 내용의 보도자료입니다.".encode())
'보도자료 (2).txt'
>>> uploads_dir(index).name, list_uploads(index)
('index.uploads', ['보도자료 (2).txt', '보도자료.txt'])
>>> remove_upload(index, "보도자료 (2).txt")
>>> list_uploads(index)
['보도자료.txt']
>>> import shutil; shutil.rmtree(index.parent)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import CorpusError
from .ingest import SUPPORTED_SUFFIXES, Document, Skipped, load_corpus

if TYPE_CHECKING:
    from .build import BuildReport

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_PREFIX",
    "EmptyUpload",
    "UnsupportedUpload",
    "UploadError",
    "UploadTooLarge",
    "add_upload",
    "index_uploads",
    "list_uploads",
    "load_uploads",
    "remove_upload",
    "safe_name",
    "upload_lock",
    "upload_name",
    "uploads_dir",
]

log = logging.getLogger(__name__)

#: The chat indexes an upload while the user waits (about 13 chunks/s with use-m3 and 1 chunk/s with e5-small on
#: two busy cores): 50 MB is far above a text-layer report (the format fixtures are 25-560 KB) and bounds the disk
#: and the time one upload can take; the indexer itself reads files up to ``ingest.MAX_FILE_BYTES`` (200 MB).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: a stored name is at most this many characters (suffix included) and ``MAX_NAME_BYTES`` UTF-8 bytes: file
#: systems allow 255 bytes, a Hangul syllable takes 3, and " (2)" must still fit
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200
#: document ids and sources of uploads start with this (a corpus document with such a path wins: see :func:`load_uploads`)
UPLOAD_PREFIX = "uploads/"
_PARTIAL = ".partial"  # hidden folder of files being written: the corpus reader never looks into hidden folders
_RESERVED = re.compile(r'[<>:"|?*]')  # not allowed in Windows file names; kept out so the folder can be copied
_SPACES = re.compile(r"\s+")


class UploadError(CorpusError):
    """A file the chat cannot take; ``str(exc)`` is a Korean message for the user."""


class UnsupportedUpload(UploadError):
    """The file's type (its suffix) is not one the indexer reads."""


class UploadTooLarge(UploadError):
    """The file is larger than :data:`MAX_UPLOAD_BYTES`."""


class EmptyUpload(UploadError):
    """The file holds no bytes."""


def uploads_dir(index_dir: str | os.PathLike[str]) -> Path:
    """The folder of the uploads of the index at ``index_dir``: its sibling ``<name>.uploads``.

    >>> uploads_dir("/srv/korag/index")
    PosixPath('/srv/korag/index.uploads')
    """
    index = Path(index_dir)
    if index.name in ("", ".", ".."):
        index = Path(os.path.abspath(index))
    return index.with_name(f"{index.name}.uploads")


def upload_name(source: str) -> str | None:
    """The stored file name of an uploaded document's id or source, or None for a corpus document.

    >>> upload_name("uploads/보도자료.hwpx"), upload_name("2021_press.txt")
    ('보도자료.hwpx', None)
    """
    return source[len(UPLOAD_PREFIX):] if source.startswith(UPLOAD_PREFIX) else None


def _cut(text: str, max_chars: int, max_bytes: int) -> str:
    """``text`` shortened to ``max_chars`` characters and ``max_bytes`` UTF-8 bytes."""
    text = text[:max(0, max_chars)]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def safe_name(filename: str) -> str:
    """The name an upload called ``filename`` is stored under; :class:`UnsupportedUpload` for an unreadable type.

    Only the last path component is kept; control and format characters (NUL, bidi overrides), characters
    Windows forbids, leading dots and trailing dots or spaces are removed; Unicode NFC; at most
    :data:`MAX_NAME_CHARS` characters, the suffix (lower case) kept.

    >>> safe_name("../../etc/x\\x00y.TXT"), safe_name(".hidden.md"), safe_name("a\\\\b\\\\..\\\\보고서.hwpx")
    ('xy.txt', 'hidden.md', '보고서.hwpx')
    >>> safe_name("../../etc/passwd")
    Traceback (most recent call last):
    ...
    indexer.uploads.UnsupportedUpload: 지원하지 않는 형식입니다 (확장자 없음). 올릴 수 있는 형식: .txt, .md, ...
    """
    text = unicodedata.normalize("NFC", str(filename))
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SPACES.sub(" ", _RESERVED.sub("_", base)).strip().lstrip(". ")
    stem, dot, ext = base.rpartition(".")
    suffix = f".{ext.lower()}" if dot and stem else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedUpload(f"지원하지 않는 형식입니다 ({suffix or '확장자 없음'}). "
                                f"올릴 수 있는 형식: {', '.join(SUPPORTED_SUFFIXES)}")
    stem = _cut(stem.rstrip(". "), MAX_NAME_CHARS - len(suffix), MAX_NAME_BYTES - len(suffix)).rstrip(". ") or "문서"
    return stem + suffix


def _numbered(name: str, n: int) -> str:
    """``name`` for the ``n``-th file of that name: "a.txt", "a (2).txt", "a (3).txt" ..."""
    if n == 1:
        return name
    stem, _, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}"


def _copy_capped(src: BinaryIO, dst: BinaryIO) -> int:
    """Copy ``src`` to ``dst``; :class:`UploadTooLarge` as soon as more than the cap has been read."""
    total = 0
    while chunk := src.read(1024 * 1024):
        total += len(chunk)
        if total > MAX_UPLOAD_BYTES:
            raise _too_large()
        dst.write(chunk)
    return total


def _too_large() -> UploadTooLarge:
    return UploadTooLarge(f"파일이 너무 큽니다 (최대 {MAX_UPLOAD_BYTES // 2**20}MB)")


def add_upload(index_dir: str | os.PathLike[str], filename: str, data: bytes | str | os.PathLike[str]) -> str:
    """Store ``data`` (the file's bytes, or the path of a file to copy) as an upload of the index at ``index_dir``.

    ``filename`` is the name the user gave (see :func:`safe_name`); a name already taken gets " (2)", " (3)" ...
    Returns the stored name. Raises :class:`UnsupportedUpload`, :class:`UploadTooLarge` (over
    :data:`MAX_UPLOAD_BYTES`) or :class:`EmptyUpload`, with Korean messages; nothing is stored then. The file is
    written under a temporary name, then linked to its final name, which never replaces another upload.
    """
    name = safe_name(filename)
    in_memory = isinstance(data, (bytes, bytearray, memoryview))
    size = len(data) if isinstance(data, (bytes, bytearray, memoryview)) else os.stat(data).st_size
    if size > MAX_UPLOAD_BYTES:
        raise _too_large()
    if size == 0:
        raise EmptyUpload("빈 파일입니다")
    folder = uploads_dir(index_dir)
    partial = folder / _PARTIAL
    partial.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=partial, prefix="upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, (bytes, bytearray, memoryview)):
                out.write(data)
            else:
                with open(data, "rb") as src:
                    size = _copy_capped(src, out)
            out.flush()
            os.fsync(out.fileno())
        if size == 0 and not in_memory:  # emptied since it was looked at
            raise EmptyUpload("빈 파일입니다")
        n = 1
        while True:
            final = folder / _numbered(name, n)
            try:
                os.link(tmp, final)  # atomic, and fails rather than replace a file of that name
            except FileExistsError:
                n += 1
                continue
            except OSError as exc:  # no hard links here (FAT, some network shares): a rename under upload_lock
                log.debug("hard link refused (%s); renaming %s to %s", exc, tmp, final)
                if final.exists():
                    n += 1
                    continue
                os.replace(tmp, final)
            return final.name
    finally:
        tmp.unlink(missing_ok=True)


def _check_name(name: str) -> None:
    if (not isinstance(name, str) or name in ("", ".", "..") or name.startswith(".") or "/" in name or "\\" in name
            or "\x00" in name):
        raise UploadError(f"올린 문서의 이름이 아닙니다: {name!r}")


def remove_upload(index_dir: str | os.PathLike[str], name: str) -> None:
    """Delete the upload ``name`` (a plain file directly in :func:`uploads_dir`); :class:`UploadError` otherwise.

    The index keeps the document until it is rebuilt (:func:`index_uploads`).
    """
    _check_name(name)
    path = uploads_dir(index_dir) / name
    if path.is_symlink() or not path.is_file():
        raise UploadError(f"올린 문서 목록에 없는 파일입니다: {name}")
    path.unlink()


def list_uploads(index_dir: str | os.PathLike[str]) -> list[str]:
    """Names of the uploads of the index at ``index_dir`` (plain files directly in its uploads folder), sorted."""
    folder = uploads_dir(index_dir)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_file() and not p.is_symlink())


def load_uploads(index_dir: str | os.PathLike[str], corpus_docs: Iterable[Document] = (), *,
                 corpus_dir: str | os.PathLike[str] | None = None,
                 progress: bool = False) -> tuple[list[Document], list[Skipped]]:
    """The uploaded documents of the index at ``index_dir`` and the uploads that cannot be indexed.

    The folder is read by :func:`indexer.load_corpus`; ids and sources become ``uploads/<name>``. A corpus may
    hold a folder named ``uploads``: an upload whose id a corpus document already has is skipped, and so is one
    with the same text as a corpus document (``corpus_docs``). Nothing is read when the folder is missing or is
    ``corpus_dir`` itself.
    """
    folder = uploads_dir(index_dir)
    if not folder.is_dir() or (corpus_dir is not None and folder.resolve() == Path(corpus_dir).resolve()):
        return [], []
    docs, skipped = load_corpus(folder, progress=progress, allow_empty=True)
    skipped = [Skipped(UPLOAD_PREFIX + s.source, s.reason) for s in skipped]
    if not docs:
        return [], skipped
    corpus = list(corpus_docs)
    ids = {d.id for d in corpus}
    texts = {hashlib.sha256(d.text.encode("utf-8")).hexdigest(): d.source for d in corpus}
    out = []
    for d in docs:
        source = UPLOAD_PREFIX + d.source
        same = texts.get(hashlib.sha256(d.text.encode("utf-8")).hexdigest())
        if source in ids:
            skipped.append(Skipped(source, f"the corpus has a file of the same path ({source})"))
        elif same is not None:
            skipped.append(Skipped(source, f"same text as {same} (duplicate)"))
        else:
            out.append(replace(d, id=source, source=source))
    for s in skipped:
        log.warning("upload not indexed: %s: %s", s.source, s.reason)
    return out, skipped


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def upload_lock(index_dir: str | os.PathLike[str]) -> threading.RLock:
    """The lock that lets one change of the index at ``index_dir`` run at a time in this process (re-entrant).

    Hold it around storing, removing and :func:`index_uploads`, so a second upload waits for the first.
    """
    key = os.path.realpath(index_dir)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def index_uploads(corpus_dir: str | os.PathLike[str], index_dir: str | os.PathLike[str], *,
                  progress: bool = False) -> BuildReport:
    """Update the index at ``index_dir`` with ``corpus_dir`` and the current uploads, incrementally.

    The index is rebuilt with the model, chunker and dense settings it was built with (an index built without
    naming a model keeps following the default), so only added and removed documents are processed. One at a
    time per index in this process (:func:`upload_lock`).
    """
    from .build import build_index
    from .chunker import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP
    from .format import MANIFEST_FILE, read_manifest

    with upload_lock(index_dir):
        model: str | None = None
        dense_kind, chunk_size, overlap = "auto", DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP
        if (Path(index_dir) / MANIFEST_FILE).is_file():
            manifest = read_manifest(index_dir)
            built = manifest.get("model") or {}
            settings = manifest.get("build_settings") or {}
            model = None if built.get("default", True) else built.get("id")
            dense_kind = (manifest.get("dense") or {}).get("requested", dense_kind)
            chunk_size, overlap = settings.get("chunk_size", chunk_size), settings.get("overlap", overlap)
        return build_index(corpus_dir, index_dir, model=model, chunk_size=chunk_size, overlap=overlap,
                           dense_kind=dense_kind, progress=progress, incremental=True)
