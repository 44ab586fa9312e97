"""Text of HWP 5.x, HWPX, PDF and DOCX documents, read in a separate process with time and memory limits.

>>> from pathlib import Path
>>> ex = extract_document(Path("moef-2024q1-overseas-direct-investment.hwp"))   # doctest: +SKIP
>>> ex.title, ex.meta["date"]                                                  # doctest: +SKIP
('‘24년 1분기 해외직접투자는 150.9억 달러로 전년동기비 14.6% 감소', '2024-06-21')

Readers: python-hwpx (``.hwp`` and ``.hwpx``: both become the same OWPML tree, read here by one walker,
so a press release gives the same text in either format), pypdfium2 (``.pdf``) and mammoth (``.docx``,
through its HTML).

Text layout, the same for every format
--------------------------------------
* One paragraph (or PDF line) per line; HWP sections and PDF pages are separated by a blank line.
* The text is a fixed point of ``indexer.clean.normalize_unicode`` (NFKC, no invisible or control
  characters, runs of spaces collapsed, lines stripped), so normalising it again changes no offset.
  Do not run ``clean_text`` on it: its web-boilerplate rules drop short lines with digits and "△",
  which is what table rows are.
* A line break inside a paragraph (HWP Shift+Enter, DOCX ``<w:br/>``) becomes a space: it is used to
  fit headlines and table cells, and it must not cut a sentence. HWP tabs become spaces.
* HWP automatic bullets and numbering (paragraph heads) are not written; typed bullets ("□", "○")
  are. DOCX list items start with "• " (bulleted) or "1. " (numbered, counted per list).
  Headers, footers, memos and hidden comments are left out.

Tables
------
One line per table row, its cells joined by " | "; empty cells are left out and a cell's paragraphs
are joined by a space. A merged cell repeats its text in every row it spans (rowspan); a cell that
spans columns appears once in its row. A table with one column (a text box drawn as a table) gives
its paragraphs as plain lines.

When the table has a header (cells marked as header: HWP "제목 셀", DOCX ``<th>``; or else a first row
without numbers above rows with numbers), the header rows are written once as a line of column
labels, and every cell of the following rows is written as ``label: value``. A column's label joins
the header cells above it from top to bottom ("2022년" spanning four columns over "1분기" gives
"2022년 1분기"); header rows continue as far as a header cell's rowspan reaches, and over a row of
sub-headings under a cell that spans columns. A header that leaves a column of numbers without a
label (a table that lost its spans, as LibreOffice's DOCX export of the MOEF tables) is not used. From the MOEF press release (appendix table):

    구 분 | 2022년 1분기 | 2022년 2분기 | … | 2024년 1분기
    구 분: 제조업 | 2022년 1분기: 111.8 | 2022년 2분기: 59.7 | … | 2024년 1분기: 40.5
    구 분: 제조업 | 2022년 1분기: (288.4) | 2022년 2분기: (85.2) | … | 2024년 1분기: (△35.9)

so "2024년 1분기 제조업 해외직접투자액은?" finds its row, and the growth-rate row keeps "제조업" from
the merged cell. A cell that spans columns is labelled with the header cells that span all of them.

Notes
-----
A footnote or endnote keeps its mark where it is referenced, and its text follows on its own line
right after the paragraph (or table row) that references it: ``주1) …`` for footnotes and
``미주1) …`` for endnotes when the mark is a number (as the document numbers it: "1)", "i)" …;
DOCX notes are numbered 1, 2, … per kind in order of reference), and the bare mark (``* …``) when the
mark is a symbol. Notes typed as ordinary paragraphs ("* 저지(Jersey) 섬: …") stay where they are.

Private-use characters
----------------------
Hancom documents carry private-use code points: Symbol/Wingdings bullets (U+F0xx), Hancom symbols
(plane 15, U+F0000…) and HCR old-Hangul syllables (U+F53A …) that only Hancom fonts draw. No table
maps them reliably to Unicode, so: a run of them that starts a line (after spaces) becomes a plain
bullet "• "; anywhere else a run becomes a single space (it never glues the words around it).

PDF
---
Text comes from PDFium's text layer in its reading order (two-column pages read column by column).
PDFium inserts "generated" characters: line breaks (kept) and spaces for visual gaps. Those spaces
are real word spaces in most PDFs (LibreOffice and ReportLab position words instead of writing
spaces), except the ~0.2 em "autospace" that Korean typesetting puts between Hangul and digits or
Latin letters ("2024 년 1 분기"): a generated space between a Hangul and a non-Hangul character that
is narrower than 0.26 em is dropped (measured: autospace 0.20–0.26 em, word spaces >= 0.28 em).
Lines are kept as the PDF has them (a word wrapped across lines stays split); a soft hyphen at the
end of a line joins its word. ``Extracted.pages[i]`` is the offset of page i+1 in ``text``.

Title and metadata
------------------
``title``: the press release's headline (the lines after "보도자료" up to the "보도시점" line), else the
document properties' title unless it is a placeholder ("HWPX Document", "(anonymous)", "3" …), else
the first DOCX heading, else None. ``meta`` holds what the document says: ``date`` (YYYY-MM-DD) from the
"보도시점"/"보도일시" line; ``author``, ``subject``, ``keywords``, ``created``, ``modified`` from the
document properties (HWP summary, HWPX content.hpf, DOCX core properties, PDF info). Nothing is guessed:
there is no ``publisher`` unless a later reader finds it in the text.

Failures
--------
Every file that cannot be read raises :class:`UnsupportedDocument`, whose message says why and what to
do: distribution-only (배포용), password- or DRM-protected HWP, password-protected PDF or DOCX, a PDF
without a text layer, damaged or truncated files, content that is not the format of its extension,
ZIP packages that unpack to more than 200 MB or at a ratio over 100:1 (checked before parsing),
files over 200 MB, and files that take longer than ``timeout_s`` or need more than ``max_memory_mb``.

Isolation
---------
Parsing runs in one reusable worker process: this file run as a script with ``python -I`` (so it
imports neither this package nor torch, and not the caller's ``__main__`` as multiprocessing's spawn
and forkserver would). Requests and answers are JSON lines on its stdin/stdout. Before each file the
worker sets ``RLIMIT_AS`` to ``max_memory_mb`` and a CPU-time limit; the caller waits at most
``timeout_s`` and then kills it (a new one starts with the next file). Calls from several threads are
served one at a time. The worker exits when its stdin closes, when its parent process changes
(checked twice a second), or when its CPU limit runs out; the caller kills it at exit, on any
exception while waiting (KeyboardInterrupt included) and in :func:`shutdown_worker`. POSIX only.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import selectors
import stat
import subprocess
import sys
import threading
import time
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DOCUMENT_SUFFIXES", "Extracted", "UnsupportedDocument", "extract_document", "html_table_lines", "shutdown_worker"]

DOCUMENT_SUFFIXES: tuple[str, ...] = (".hwp", ".hwpx", ".pdf", ".docx")

#: files larger than this are refused before anything reads them
MAX_FILE_BYTES = 200 * 1024 * 1024
#: HWPX/DOCX packages: limits on what they unpack to, checked from the ZIP directory before parsing
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 10_000
#: the ratio is only checked above this size: a tiny package may compress 100:1 and cannot hurt
_RATIO_MIN_BYTES = 1024 * 1024
#: grid slots (rows x columns) above which a table is written cell by cell instead of row by row
_MAX_TABLE_SLOTS = 250_000
#: a PDF with fewer non-space characters than this has no usable text layer
_MIN_PDF_CHARS = 20
#: generated PDF spaces between Hangul and non-Hangul narrower than this (in em) are autospace
_AUTOSPACE_EM = 0.26

_WORKER_FLAG = "--korag-formats-worker"
_WORKER_START_S = 60.0
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class UnsupportedDocument(ValueError):
    """A document file that cannot be read; str(exc) is the reason shown to the user (English, says what to do)."""


@dataclass(frozen=True)
class Extracted:
    """The text of one document and what the document says about itself.

    >>> Extracted(text="제목\\n본문", title="제목", meta={}, pages=[]).text.splitlines()
    ['제목', '본문']
    """

    text: str  # plain text, paragraphs separated by "\n" (blank line between blocks is fine)
    title: str | None  # from the document itself (document properties, or the press release's headline)
    meta: dict[str, str] = field(default_factory=dict)  # e.g. {"date": "2024-06-21", "author": "…"}
    pages: list[int] = field(default_factory=list)  # PDF: offset in `text` where each page starts; [] otherwise


# --------------------------------------------------------------------------------------------------
# the caller's side: one worker process, JSON lines over pipes


def extract_document(path: Path, *, timeout_s: float = 60.0, max_memory_mb: int = 2048) -> Extracted:
    """Read an .hwp, .hwpx, .pdf or .docx file in the worker process and return its text.

    Raises :class:`UnsupportedDocument` (with the reason) for every file that cannot be read, and
    ``ValueError`` for a ``timeout_s`` or ``max_memory_mb`` that is not a positive number.

    >>> extract_document(Path("notes.txt"))
    Traceback (most recent call last):
    ...
    indexer.formats.UnsupportedDocument: unsupported file type .txt: this reader takes .hwp, .hwpx, .pdf, .docx
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    if isinstance(max_memory_mb, bool) or not isinstance(max_memory_mb, int) or max_memory_mb <= 0:
        raise ValueError(f"max_memory_mb must be a positive whole number of megabytes, not {max_memory_mb!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise UnsupportedDocument(
            f"unsupported file type {suffix or '(no extension)'}: this reader takes {', '.join(DOCUMENT_SUFFIXES)}"
        )
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UnsupportedDocument("file not found") from None
    except OSError as exc:
        raise UnsupportedDocument(f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedDocument("not a regular file")
    if st.st_size == 0:
        raise UnsupportedDocument("empty file")
    if st.st_size > MAX_FILE_BYTES:
        raise UnsupportedDocument(
            f"file too large ({st.st_size / 2**20:.0f} MB > {MAX_FILE_BYTES // 2**20} MB): split it or export its text"
        )
    request = {"path": str(path.resolve()), "suffix": suffix, "timeout_s": float(timeout_s), "max_memory_mb": max_memory_mb}
    answer = _current_worker().call(request, float(timeout_s))
    try:
        return Extracted(
            text=str(answer["text"]),
            title=None if answer["title"] is None else str(answer["title"]),
            meta={str(k): str(v) for k, v in dict(answer["meta"]).items()},
            pages=[int(p) for p in answer["pages"]],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedDocument(f"the document reader sent an incomplete answer ({exc!r})") from None


def shutdown_worker() -> None:
    """Stop the worker process now (it is also stopped at exit); the next call starts a new one."""
    _current_worker().stop()


class _Worker:
    """The caller's handle on the worker process; one request at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.buffer = bytearray()

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self.lock:
            proc = self._running()
            try:
                self._send(proc, request)
            except OSError:  # the worker died while idle (killed from outside): start another one once
                self._stop_locked()
                proc = self._running()
                try:
                    self._send(proc, request)
                except OSError as exc:
                    self._stop_locked()
                    raise UnsupportedDocument(f"the document reader process failed ({exc.strerror or exc})") from None
            try:
                answer = self._receive(proc, time.monotonic() + timeout_s, timeout_s)
            except BaseException:
                self._stop_locked()  # timeout, crash, KeyboardInterrupt …: never leave a worker half-way
                raise
            if answer.get("recycle"):
                self._stop_locked()
            if answer.get("ok") is True:
                return answer
            raise UnsupportedDocument(str(answer.get("reason") or "could not be read"))

    def stop(self) -> None:
        if self.lock.acquire(timeout=5.0):
            try:
                self._stop_locked()
            finally:
                self.lock.release()
            return
        # another thread is waiting on a file (say a daemon thread at exit): end the worker under it;
        # that thread sees the worker gone, raises UnsupportedDocument and cleans up
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def forget(self) -> None:
        """In a forked child: drop the parent's worker without touching it."""
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
        self.proc = None

    def _running(self) -> subprocess.Popen[bytes]:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        self._stop_locked()
        if not sys.executable:
            raise UnsupportedDocument("cannot start the document reader: no Python executable (sys.executable is empty)")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).resolve()), _WORKER_FLAG],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as exc:
            raise UnsupportedDocument(f"cannot start the document reader process: {exc.strerror or exc}") from None
        self.proc = proc
        try:
            hello = self._receive(proc, time.monotonic() + _WORKER_START_S, _WORKER_START_S)
        except BaseException:
            self._stop_locked()
            raise
        if not hello.get("ready"):
            self._stop_locked()
            raise UnsupportedDocument(f"the document reader process did not start: {hello.get('reason', hello)!r}")
        return proc

    def _send(self, proc: subprocess.Popen[bytes], request: dict[str, Any]) -> None:
        if proc.stdin is None:
            raise BrokenPipeError("no pipe to the worker")
        proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
        proc.stdin.flush()

    def _receive(self, proc: subprocess.Popen[bytes], deadline: float, timeout_s: float) -> dict[str, Any]:
        if proc.stdout is None:
            raise UnsupportedDocument("the document reader process has no output pipe")
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                end = self.buffer.find(b"\n")
                if end >= 0:
                    line = bytes(self.buffer[:end])
                    del self.buffer[: end + 1]
                    try:
                        answer = json.loads(line)
                    except ValueError:
                        raise UnsupportedDocument("the document reader sent an unreadable answer") from None
                    if not isinstance(answer, dict):
                        raise UnsupportedDocument("the document reader sent an unreadable answer")
                    return answer
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UnsupportedDocument(
                        f"took longer than {timeout_s:g} s to read (a very large or malformed file?): "
                        "the reader was stopped; raise timeout_s to try again"
                    )
                if not selector.select(min(left, 3600.0)):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    code = proc.wait()
                    raise UnsupportedDocument(_crash_reason(code))
                self.buffer += chunk

    def _stop_locked(self) -> None:
        proc, self.proc = self.proc, None
        self.buffer.clear()
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:  # a pipe whose reader is already gone: nothing left to flush
                    pass


def _crash_reason(code: int) -> str:
    import signal

    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGXCPU:
            return "used up its CPU time while being read (a malformed file?): the reader was stopped"
        if -code == signal.SIGKILL:
            return "the reader process was killed while reading it (out of memory?)"
        return f"crashed the document reader ({name}): the file is probably damaged; open it and save it again"
    return f"the document reader process exited while reading it (exit code {code})"


_WORKER = _Worker()


def _current_worker() -> _Worker:
    return _WORKER


def _forget_worker_after_fork() -> None:
    global _WORKER
    old, _WORKER = _WORKER, _Worker()
    old.forget()


atexit.register(shutdown_worker)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker_after_fork)


# --------------------------------------------------------------------------------------------------
# text normalisation (the same rules as indexer.clean.normalize_unicode, plus private-use characters)

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u3000]+")
_LINE_END = re.compile(r"\r\n|[\r\u2028\u2029]")
_BAD_CODEPOINTS = re.compile("[\ud800-\udfff\ufffe\uffff]")
_PUA = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
_PUA_LEAD = re.compile(rf"^[ \t\u3000]*[{_PUA}]+[ \t\u3000]*(?=[^\s{_PUA}])")
_PUA_RUN = re.compile(rf"[ \t\u3000]*[{_PUA}]+[ \t\u3000]*")
_BLANK_LINES = re.compile(r"\n{3,}")


def _normalize_text(text: str) -> str:
    """NFKC lines without invisible, control or private-use characters; one blank line at most.

    >>> _normalize_text("\\uf0a7 첫째\\r\\n한\\uf53a글  문서\\u200b\\n\\n\\n\\uf09f")
    '• 첫째\\n한 글 문서'
    """
    text = _LINE_END.sub("\n", text)
    text = _BAD_CODEPOINTS.sub("", text).translate(_INVISIBLE)
    text = _CONTROL.sub(" ", text)
    lines = []
    for line in text.split("\n"):
        line = _PUA_LEAD.sub("• ", line)
        line = _PUA_RUN.sub(" ", line)
        lines.append(line)
    text = unicodedata.normalize("NFKC", "\n".join(lines))
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _one_line(value: str | None, limit: int = 300) -> str:
    return " ".join(_normalize_text(value or "").split())[:limit].strip()


# --------------------------------------------------------------------------------------------------
# title and metadata from the text

_PRESS_MARK = re.compile(r"^(?:\S+\s)?(?:보도|설명|해명|참고)\s*(?:참고|설명|해명)?\s*자료(?:\s\S+)?$")
_PRESS_STOP = re.compile(r"^(?:보도\s*(?:시점|일시|일자|시각|가능)|배포\s*(?:일시|시점|일자|시각)?(?:\s|$)|엠바고|담당\s*부서)")
_SUBHEAD = re.compile(r"^[-–—ㅇ○◦□■◇◆※*<>(\[【]")
_PRESS_DATE = re.compile(
    r"(?:보도\s*(?:시점|일시|일자|시각)|배포\s*(?:일시|시점|일자|시각)?)[^\n\d]{0,40}?"
    r"((?:19|20)\d{2})\s*[.\-/년]\s*(\d{1,2})\s*[.\-/월]\s*(\d{1,2})"
)
_PLACEHOLDER_TITLE = re.compile(
    r"^(?:hwpx?\s*document|untitled|no\s*title|noname|document\s*\d*|문서\s*\d*|새\s*문서|제목\s*없음|\(?anonymous\)?"
    r"|\(?unspecified\)?|microsoft\s+word\s*-.*|.*\.(?:hwpx?|docx?|pdf|txt))$",
    re.IGNORECASE,
)


def _press_headline(text: str) -> str | None:
    """The headline of a Korean press release: the lines after "보도자료" up to the date line.

    >>> _press_headline("보도자료\\n‘24년 1분기 해외직접투자는 150.9억 달러로\\n감소\\n보도시점 2024. 6. 21.(금)\\n본문")
    '‘24년 1분기 해외직접투자는 150.9억 달러로 감소'
    >>> _press_headline("회의록\\n참석자") is None
    True
    """
    lines = [line.strip() for line in text.split("\n")[:60] if line.strip()]
    start = next((i for i, line in enumerate(lines[:12]) if _PRESS_MARK.match(line.replace(" | ", " "))), None)
    if start is None:
        return None
    picked: list[str] = []
    stopped = False
    for line in lines[start + 1 : start + 9]:
        if _PRESS_STOP.match(line) or " | " in line or _SUBHEAD.match(line) or _PRESS_MARK.match(line):
            if picked:
                stopped = True
                break
            continue
        picked.append(line)
        if len(picked) == 3:
            break
    if not picked:
        return None
    # lines are joined only when a date line or sub-heading closes them (a wrapped PDF headline);
    # otherwise the first one alone is the headline and the rest is body text
    title = " ".join(picked) if stopped else picked[0]
    return title[:300] if len(title) >= 4 else None


def _press_date(text: str) -> str | None:
    """The release date on a press release's "보도시점" or "보도일시" line, as YYYY-MM-DD.

    >>> _press_date("보도시점 | 2024. 6. 21.(금) 11:00 | 배포 | 2024. 6. 21.(금) 09:00")
    '2024-06-21'
    """
    for match in _PRESS_DATE.finditer(text[:6000]):
        year, month, day = (int(g) for g in match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def _plausible_title(value: str | None) -> str | None:
    """A document-properties title, or None for empty ones and placeholders such as "HWPX Document".

    >>> [_plausible_title(t) for t in ("HWPX Document", "3", "(anonymous)", "2024년 해외직접투자 동향")]
    [None, None, None, '2024년 해외직접투자 동향']
    """
    title = _one_line(value)
    if sum(ch.isalpha() for ch in title) < 2 or _PLACEHOLDER_TITLE.match(title):
        return None
    return title


def _iso_date(value: str | None) -> str | None:
    """YYYY-MM-DD from an ISO 8601 or PDF ("D:20240621…") date; None otherwise.

    >>> _iso_date("D:20240621090000+09'00'"), _iso_date("2024-06-21T00:07:50Z"), _iso_date("2022년 6월")
    ('2024-06-21', '2024-06-21', None)
    """
    match = re.match(r"^(?:D:)?((?:19|20)\d{2})-?(\d{2})-?(\d{2})", (value or "").strip())
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None


# --------------------------------------------------------------------------------------------------
# tables: one grid for HWP and DOCX


@dataclass
class _Cell:
    row: int
    col: int
    rowspan: int
    colspan: int
    lines: list[str]
    notes: list[str]
    header: bool = False

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines if line.strip())


_NUMBER = re.compile(r"^[(（\[]?\s*[-+−△▲▽▼±]?\s*\d[\d,]*(?:\.\d+)?\s*%?p?\s*[)）\]]?$")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text.strip()))


def _render_table(cells: list[_Cell]) -> list[str]:
    """Lines of a table: see "Tables" in the module docstring.

    >>> cells = [_Cell(0, 0, 1, 1, ["구분"], []), _Cell(0, 1, 1, 1, ["제조업"], []),
    ...          _Cell(1, 0, 1, 1, ["2024년 1분기"], []), _Cell(1, 1, 1, 1, ["40.5"], [])]
    >>> _render_table(cells)
    ['구분 | 제조업', '구분: 2024년 1분기 | 제조업: 40.5']
    """
    cells = [c for c in cells if c.row >= 0 and c.col >= 0]
    if not cells:
        return []
    n_rows = max(c.row + c.rowspan for c in cells)
    n_cols = max(c.col + c.colspan for c in cells)
    if n_cols == 1 or n_rows * n_cols > _MAX_TABLE_SLOTS:
        return _cells_as_lines(cells)
    grid = [[-1] * n_cols for _ in range(n_rows)]
    for i, cell in enumerate(cells):
        for r in range(cell.row, cell.row + cell.rowspan):
            for k in range(cell.col, cell.col + cell.colspan):
                if grid[r][k] < 0:
                    grid[r][k] = i
    if all(len({i for i in row if i >= 0}) <= 1 for row in grid):
        return _cells_as_lines(cells)
    h = _header_rows(cells, grid)
    out: list[str] = []
    done: set[int] = set()
    labels: list[str] = []
    if h:
        for k in range(n_cols):
            ids = _unique(grid[r][k] for r in range(h))
            labels.append(" ".join(t for t in (cells[i].text for i in ids) if t))
        header_line = [label for j, label in enumerate(labels) if label and (j == 0 or label != labels[j - 1])]
        if header_line:
            out.append(" | ".join(header_line))
        for r in range(h):
            for i in _unique(grid[r]):
                if i not in done:
                    done.add(i)
                    out.extend(cells[i].notes)
    for r in range(h, n_rows):
        pieces: list[str] = []
        notes: list[str] = []
        for i in _unique(grid[r]):
            cell = cells[i]
            if i not in done:
                done.add(i)
                notes.extend(cell.notes)
            value = cell.text
            if not value:
                continue
            label = _span_label(cell, grid, cells, h) if h else ""
            pieces.append(f"{label}: {value}" if label and label != value else value)
        if pieces:
            out.append(" | ".join(pieces))
        out.extend(notes)
    return out


def _unique(ids: Any) -> list[int]:
    """The cell ids of a grid row or column, each once, in order (-1, no cell, left out)."""
    seen: set[int] = set()
    out: list[int] = []
    for i in ids:
        if i >= 0 and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _cells_as_lines(cells: list[_Cell]) -> list[str]:
    out: list[str] = []
    for cell in sorted(cells, key=lambda c: (c.row, c.col)):
        out.extend(line for line in cell.lines if line.strip())
        out.extend(cell.notes)
    return out


def _span_label(cell: _Cell, grid: list[list[int]], cells: list[_Cell], h: int) -> str:
    """The header text over a data cell: the header cells that span all of its columns."""
    columns = range(cell.col, min(cell.col + cell.colspan, len(grid[0])))
    common = None
    for k in columns:
        ids = _unique(grid[r][k] for r in range(h))
        common = ids if common is None else [i for i in common if i in ids]
    return " ".join(t for t in (cells[i].text for i in common or []) if t)


def _header_rows(cells: list[_Cell], grid: list[list[int]]) -> int:
    """How many rows at the top of the table are its header (0 when it has none)."""
    n_rows, n_cols = len(grid), len(grid[0])
    if n_rows < 2 or n_cols < 2:
        return 0

    def starting(r: int) -> list[int]:
        return [i for i in _unique(grid[r]) if cells[i].row == r]

    def plain(r: int) -> bool:  # no numbers but years ("2022", "2022년" is text anyway)
        return all(not _is_number(t) or _YEAR.match(t) for t in (cells[i].text for i in starting(r)) if t)

    h = 0
    while h < n_rows and starting(h) and all(cells[i].header for i in starting(h)):
        h += 1
    if h == 0:
        first = [cells[i].text for i in _unique(grid[0])]
        if sum(1 for t in first if t) < 2 or not plain(0):
            return 0
        if not any(_is_number(cells[i].text) for r in range(1, n_rows) for i in _unique(grid[r])):
            return 0
        h = 1
    while h < n_rows:
        reach = max((cells[i].row + cells[i].rowspan for r in range(h) for i in _unique(grid[r])), default=h)
        if reach > h:
            h = reach
            continue
        grouped = any(cells[i].colspan > 1 for i in _unique(grid[h - 1]))
        if grouped and h + 1 < n_rows and starting(h) and plain(h):
            h += 1
            continue
        break
    if h >= n_rows:
        return 0
    # a header that leaves columns of numbers without a label does not line up with its table
    # (cells lost their spans on the way): labelling the rows would put values under wrong headings
    for k in range(n_cols):
        if not any(cells[i].text for i in _unique(grid[r][k] for r in range(h))) and any(
            _is_number(cells[grid[r][k]].text) for r in range(h, n_rows) if grid[r][k] >= 0
        ):
            return 0
    return h


# --------------------------------------------------------------------------------------------------
# notes


def _note_line(kind: str, mark: str, body: str) -> str:
    """The line that carries a note's text: "주1) …" / "미주1) …" for numbered marks, "* …" otherwise.

    >>> _note_line("foot", "1)", "신고 기준"), _note_line("end", "i)", "미주"), _note_line("foot", "*", "저지 섬")
    ('주1) 신고 기준', '미주i) 미주', '* 저지 섬')
    """
    label = (("주" if kind == "foot" else "미주") + mark) if any(ch.isalnum() for ch in mark) else mark
    return f"{label} {body}".strip()


def _format_number(number: int, kind: str, user_char: str = "") -> str:
    """A note or list number in an HWP number format (DIGIT, CIRCLED_DIGIT, ROMAN_SMALL …).

    >>> [_format_number(3, k) for k in ("DIGIT", "CIRCLED_DIGIT", "ROMAN_SMALL", "LATIN_CAPITAL", "HANGUL_SYLLABLE")]
    ['3', '③', 'iii', 'C', '다']
    """
    if kind == "USER_CHAR":
        return user_char or "*"
    if kind == "CIRCLED_DIGIT" and 1 <= number <= 20:
        return chr(0x2460 + number - 1)
    if kind in ("ROMAN_CAPITAL", "ROMAN_SMALL") and 0 < number < 4000:
        digits = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                  (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
        out, n = "", number
        for value, letters in digits:
            while n >= value:
                out, n = out + letters, n - value
        return out if kind == "ROMAN_CAPITAL" else out.lower()
    if kind in ("LATIN_CAPITAL", "LATIN_SMALL") and number > 0:
        out, n = "", number
        while n > 0:
            n, rest = divmod(n - 1, 26)
            out = chr(ord("A") + rest) + out
        return out if kind == "LATIN_CAPITAL" else out.lower()
    if kind in ("HANGUL_SYLLABLE", "HANGUL_JAMO") and number > 0:
        letters = "가나다라마바사아자차카타파하" if kind == "HANGUL_SYLLABLE" else "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ"
        return letters[(number - 1) % len(letters)]
    return str(number)


# --------------------------------------------------------------------------------------------------
# the worker's side: one function per format, each returning _Raw


@dataclass
class _Raw:
    text: str = ""
    pages: list[str] | None = None
    props: dict[str, str] = field(default_factory=dict)
    heading: str | None = None
    empty_reason: str = "no text in the document (only images?)"


def _extract_here(path: Path, suffix: str) -> dict[str, Any]:
    """Read one file in this process; the answer the worker sends back (without "ok")."""
    if suffix == ".pdf":
        raw = _read_pdf(path)
    elif suffix == ".docx":
        raw = _read_docx(path)
    elif suffix in (".hwp", ".hwpx"):
        raw = _read_hwp(path, suffix)
    else:
        raise UnsupportedDocument(f"unsupported file type {suffix}")
    pages: list[int] = []
    if raw.pages is not None:
        text = ""
        for part in (_normalize_text(p) for p in raw.pages):
            if part:
                if text:
                    text += "\n\n"
                pages.append(len(text))
                text += part
            else:
                pages.append(len(text))
    else:
        text = _normalize_text(raw.text)
    if sum(1 for ch in text if not ch.isspace()) < (_MIN_PDF_CHARS if suffix == ".pdf" else 1):
        raise UnsupportedDocument(raw.empty_reason)
    meta: dict[str, str] = {}
    for key, value in raw.props.items():
        value = _one_line(value)
        if value and key != "title":
            meta[key] = value
    date = _press_date(text)
    if date:
        meta["date"] = date
    title = _press_headline(text) or _plausible_title(raw.props.get("title")) or _plausible_title(raw.heading)
    return {"text": text, "title": title, "meta": meta, "pages": pages}


def _head(path: Path, size: int = 2048) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _content_kind(head: bytes) -> str:
    """What a file's first bytes say it is, for error messages.

    >>> _content_kind(b"%PDF-1.7"), _content_kind(b"PK\\x03\\x04"), _content_kind("안녕".encode())
    ('a PDF document', 'a ZIP archive', 'plain text')
    """
    if b"%PDF-" in head[:1024]:
        return "a PDF document"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "a ZIP archive"
    if head.startswith(_OLE_MAGIC):
        return "an OLE compound file (HWP 5.x, .doc, .xls …)"
    if head.startswith(b"HWP Document File"):
        return "an HWP 3.x document"
    for magic, kind in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
                        (b"\x1f\x8b", "a gzip archive"), (b"\x7fELF", "a program"), (b"MZ", "a Windows program")):
        if head.startswith(magic):
            return kind
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "XML or HTML text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            head[:-4].decode("utf-8")  # a multi-byte character cut by the read
        except UnicodeDecodeError:
            return "unknown binary data"
    return "plain text"


def _not_the_format(head: bytes, kind: str) -> UnsupportedDocument:
    return UnsupportedDocument(
        f"not a valid {kind} file: its content is {_content_kind(head)} (a wrong file extension or a damaged file)"
    )


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _check_zip(path: Path, kind: str) -> set[str]:
    """The member names of an HWPX/DOCX package, after checking its ZIP directory for bombs.

    Python's zipfile never inflates a member past the size its directory declares, so these
    declared sizes bound what the readers can unpack.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise UnsupportedDocument(
            f"damaged or truncated {kind} file (not a readable ZIP package: {_describe(exc)}): get the file again or re-save it"
        ) from None
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnsupportedDocument(f"{kind} package has {len(infos):,} parts (limit {MAX_ZIP_MEMBERS:,}): refusing to open it")
    unpacked = sum(max(info.file_size, 0) for info in infos)
    packed = sum(max(info.compress_size, 0) for info in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnsupportedDocument(
            f"{kind} package unpacks to {unpacked / 2**20:,.0f} MB (limit {MAX_UNPACKED_BYTES // 2**20} MB; "
            "a zip bomb?): refusing to open it"
        )
    if unpacked > _RATIO_MIN_BYTES and unpacked > MAX_ZIP_RATIO * max(packed, 1):
        raise UnsupportedDocument(
            f"{kind} package is compressed {unpacked / max(packed, 1):,.0f}:1 (limit {MAX_ZIP_RATIO}:1; a zip bomb?): "
            "refusing to open it"
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise UnsupportedDocument(f"{kind} package is encrypted: save it again without a password")
    return {info.filename for info in infos}


# ---- HWP and HWPX (python-hwpx: both become the same OWPML tree)

_HWP_OBJECTS = frozenset(
    {"rect", "ellipse", "arc", "polygon", "curve", "connectLine", "line", "textart", "container", "pic", "ole",
     "equation", "video", "chart", "compose"}
)
_HWP_FAILURES = {
    "hwp5-distribution": "distribution-only (배포용) HWP is encrypted: save it as a normal HWP/HWPX in Hancom Office",
    "hwp5-password": "password-protected HWP: remove the password in Hancom Office and save it again",
    "hwp5-drm": "DRM-protected or certificate-encrypted HWP: save an unprotected copy in Hancom Office",
    "hwp5-not-hwp5": "not an HWP 5.x document (an OLE file without an HWP header, e.g. a Word .doc?): check the file type",
}


def _hwp_failure(exc: Exception, kind: str) -> UnsupportedDocument:
    """The reason for a python-hwpx error, by its stable ``code``."""
    code = str(getattr(exc, "code", "") or "")
    if code in _HWP_FAILURES:
        return UnsupportedDocument(_HWP_FAILURES[code])
    if code == "hwp5-version-unsupported":
        return UnsupportedDocument(f"{exc}: only HWP 5.x is read; save it again in a current Hancom Office")
    if code == "hwp5-limit-exceeded":
        return UnsupportedDocument(f"{kind} file exceeds a safety limit of the reader ({exc}): refusing to read it")
    return UnsupportedDocument(f"damaged or truncated {kind} file ({_describe(exc)}): open it in Hancom Office and save it again")


def _flush_block(buf: list[str], notes: list[str], out: list[str], sink: list[str] | None) -> None:
    """End a block: its text (if any) becomes a line of ``out``, then its notes follow it, or go to ``sink``
    (a table cell's notes wait for the end of its row)."""
    text = "".join(buf).strip()
    buf.clear()
    if text:
        out.append(text)
    (sink if sink is not None else out).extend(notes)
    notes.clear()


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _int_attr(element: Any, name: str, default: int, low: int = 0, high: int = 1_000_000) -> int:
    try:
        value = int(element.get(name)) if element is not None else default
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def _hwp_t_text(t: Any) -> str:
    parts = [t.text or ""]
    for child in t:
        name = _local(child.tag)
        if name in ("tab", "lineBreak", "nbSpace", "fwSpace"):
            parts.append(" ")
        elif name == "hyphen":
            parts.append("-")
        parts.append(child.tail or "")
    return "".join(parts)


# a line whose top is above the previous line's starts a new page, unless it also moved right by more than this
# (HWPUNIT, 1/7200 inch): then it starts the next column of a multi-column page. One inch: wider than any
# paragraph indent, narrower than any column.
_HWP_COLUMN_SHIFT = 7200


class _HwpPages:
    """Page numbers from the line layout Hancom Office saves with each paragraph (``linesegarray``).

    Every top-level line records its position on its page (``vertpos``); it falls back to the top when a
    page begins. A section starts on a new page. Files written without a layout (by other tools) give none.
    """

    def __init__(self) -> None:
        self.page = 0
        self.seen = False
        self._vert: int | None = None
        self._horz = 0

    def new_section(self) -> None:
        if self._vert is not None:
            self.page += 1
        self._vert = None

    def paragraph(self, p: Any) -> int:
        """The 0-based page this top-level paragraph starts on; moves past the pages it fills."""
        first: int | None = None
        for child in p:
            if _local(child.tag) != "linesegarray":
                continue
            for seg in child:
                vert = _int_attr(seg, "vertpos", -1, -1, 2**31)
                horz = _int_attr(seg, "horzpos", 0, 0, 2**31)
                if vert < 0:
                    continue
                self.seen = True
                if self._vert is not None and vert < self._vert and horz <= self._horz + _HWP_COLUMN_SHIFT:
                    self.page += 1
                self._vert, self._horz = vert, horz
                if first is None:
                    first = self.page
        return self.page if first is None else first


class _HwpWalker:
    """Lines of an OWPML section tree (what python-hwpx makes of both .hwp and .hwpx), page by page."""

    def __init__(self) -> None:
        self.note_counts = {"footNote": 0, "endNote": 0}
        self.layout = _HwpPages()

    def pages(self, sections: list[Any]) -> list[str]:
        """The text of each page (as Hancom laid it out when it saved the file); one item per section
        when the file has no saved layout."""
        pages: list[list[str]] = []
        for section in sections:
            self.layout.new_section()
            if not self.layout.seen:
                pages.append([])
            for p in section:
                if _local(p.tag) != "p":
                    continue
                page = self.layout.paragraph(p)
                while self.layout.seen and len(pages) <= page:
                    pages.append([])
                self.paragraph(p, pages[page] if self.layout.seen else pages[-1], None)
        return ["\n".join(lines) for lines in pages]

    def sublist(self, element: Any, out: list[str], sink: list[str] | None) -> None:
        for sub in element:
            if _local(sub.tag) == "subList":
                for p in sub:
                    if _local(p.tag) == "p":
                        self.paragraph(p, out, sink)

    def paragraph(self, p: Any, out: list[str], sink: list[str] | None) -> None:
        """Append a paragraph's lines to ``out``; its notes follow it, or go to ``sink`` (table cells)."""
        buf: list[str] = []
        notes: list[str] = []

        def flush() -> None:
            _flush_block(buf, notes, out, sink)

        for run in p:
            if _local(run.tag) != "run":
                continue
            for child in run:
                name = _local(child.tag)
                if name == "t":
                    buf.append(_hwp_t_text(child))
                elif name == "ctrl":
                    for control in child:
                        self.control(control, buf, notes)
                elif name == "tbl":
                    lines = self.table(child)
                    if lines:
                        flush()
                        out.extend(lines)
                elif name in _HWP_OBJECTS:
                    lines = self.drawing(child, sink)
                    if lines:
                        flush()
                        out.extend(lines)
        flush()

    def control(self, control: Any, buf: list[str], notes: list[str]) -> None:
        name = _local(control.tag)
        if name in ("footNote", "endNote"):
            self.note_counts[name] += 1
            number = _int_attr(control, "number", self.note_counts[name], 1)
            fmt = control.find(".//{*}autoNumFormat")
            if fmt is not None:
                mark = (fmt.get("prefixChar") or "") + _format_number(number, fmt.get("type") or "DIGIT", fmt.get("userChar") or "")
                mark += fmt.get("suffixChar") or ""
            else:
                suffix = _int_attr(control, "suffixChar", ord(")"), 1, 0x10FFFF)
                mark = f"{number}{chr(suffix)}"
            buf.append(mark)
            body: list[str] = []
            self.sublist(control, body, None)
            notes.append(_note_line("foot" if name == "footNote" else "end", mark, " ".join(body)))
        elif name == "autoNum" and (control.get("numType") or "") in ("FIGURE", "TABLE", "EQUATION"):
            fmt = control.find("{*}autoNumFormat")
            kind = fmt.get("type") if fmt is not None else "DIGIT"
            buf.append(_format_number(_int_attr(control, "num", 1, 0), kind or "DIGIT"))
        # page numbers, the number inside a note (its mark is written by the note), headers, footers,
        # fields, bookmarks, hidden comments and column settings carry no body text

    def drawing(self, element: Any, sink: list[str] | None) -> list[str]:
        out: list[str] = []
        for child in element:
            name = _local(child.tag)
            if name in ("drawText", "caption"):
                self.sublist(child, out, sink)
            elif name in _HWP_OBJECTS:
                out.extend(self.drawing(child, sink))
        return out

    def table(self, tbl: Any) -> list[str]:
        cells: list[_Cell] = []
        row_index = -1
        for tr in tbl:
            if _local(tr.tag) != "tr":
                continue
            row_index += 1
            next_col = 0
            for tc in tr:
                if _local(tc.tag) != "tc":
                    continue
                addr = span = None
                lines: list[str] = []
                notes: list[str] = []
                for part in tc:
                    name = _local(part.tag)
                    if name == "cellAddr":
                        addr = part
                    elif name == "cellSpan":
                        span = part
                    elif name == "subList":
                        for p in part:
                            if _local(p.tag) == "p":
                                self.paragraph(p, lines, notes)
                row = _int_attr(addr, "rowAddr", row_index)
                col = _int_attr(addr, "colAddr", next_col)
                colspan = _int_attr(span, "colSpan", 1, 1, 10_000)
                next_col = col + colspan
                cells.append(_Cell(row, col, _int_attr(span, "rowSpan", 1, 1, 10_000), colspan, lines, notes,
                                   header=tc.get("header") == "1"))
        out = _render_table(cells)
        for child in tbl:
            if _local(child.tag) == "caption":
                self.sublist(child, out, None)
        return out


def _hwpx_encrypted(path: Path) -> bool:
    """Whether META-INF/manifest.xml declares encrypted parts (ODF package encryption, as Hancom saves a
    password-protected HWPX; python-hwpx documents the same)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("META-INF/manifest.xml")
        if info.file_size > 4 * 1024 * 1024:
            return False
        return b"encryption-data" in archive.read(info)


def _read_hwp(path: Path, suffix: str) -> _Raw:
    kind = "HWP" if suffix == ".hwp" else "HWPX"
    head = _head(path)
    if suffix == ".hwp":
        if head.startswith(b"HWP Document File"):
            raise UnsupportedDocument("HWP 3.x file (the pre-2000 format) is not read: save it as HWP or HWPX in Hancom Office")
        if not head.startswith(_OLE_MAGIC):
            raise _not_the_format(head, "HWP")
    else:
        if not head.startswith(b"PK"):
            raise _not_the_format(head, "HWPX")
        names = _check_zip(path, "HWPX")
        if "word/document.xml" in names:
            raise UnsupportedDocument("not an HWPX file: it is a Word DOCX document (rename it to .docx)")
        if not any(name.startswith("Contents/") for name in names):
            raise UnsupportedDocument("not a valid HWPX file: a ZIP archive without the Contents/ part of an HWPX package")
        if "META-INF/manifest.xml" in names and _hwpx_encrypted(path):
            raise UnsupportedDocument(
                "password-protected (or distribution-only) HWPX is encrypted: remove the protection in Hancom Office "
                "and save it again"
            )
    from hwpx import HwpxDocument, HwpxError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            doc = HwpxDocument.open(str(path))
        except (MemoryError, RecursionError):
            raise
        except HwpxError as exc:
            raise _hwp_failure(exc, kind) from None
        except Exception as exc:  # zipfile, lxml and struct errors of a damaged file
            raise UnsupportedDocument(
                f"damaged or truncated {kind} file ({_describe(exc)}): open it in Hancom Office and save it again"
            ) from None
        try:
            walker = _HwpWalker()
            pages = walker.pages([section.element for section in doc.sections])
            metadata = doc.package.document_metadata()
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise UnsupportedDocument(f"damaged {kind} file: its content cannot be read ({_describe(exc)})") from None
        finally:
            doc.close()
    props: dict[str, str] = {}
    if metadata is not None:
        values = {"title": metadata.title, "author": metadata.creator, "subject": metadata.subject,
                  "keywords": metadata.keyword, "created": _iso_date(metadata.created_date),
                  "modified": _iso_date(metadata.modified_date)}
        props = {k: v for k, v in values.items() if v}
    if walker.layout.seen:
        return _Raw(pages=pages, props=props)
    return _Raw(text="\n\n".join(pages), props=props)


# ---- PDF (pypdfium2)


def _is_hangul(cp: int) -> bool:
    return 0xAC00 <= cp <= 0xD7A3 or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F


def _pdf_page_text(textpage: Any) -> str:
    """A page's text in PDFium's order, without autospace (see "PDF" in the module docstring)."""
    import pypdfium2.raw as pdfium_c

    tp = textpage.raw
    n = pdfium_c.FPDFText_CountChars(tp)
    left_box, right_box = pdfium_c.FS_RECTF(), pdfium_c.FS_RECTF()
    out: list[str] = []
    skip_break = False
    for i in range(n):
        cp = pdfium_c.FPDFText_GetUnicode(tp, i)
        if cp == 0 or cp > 0x10FFFF:
            continue
        generated = pdfium_c.FPDFText_IsGenerated(tp, i) == 1
        if skip_break and cp in (0x0D, 0x0A):
            continue
        skip_break = False
        if cp in (0x02, 0xAD, 0x2D) and pdfium_c.FPDFText_IsHyphen(tp, i) == 1:
            skip_break = True  # a soft hyphen at the end of a line: join the word
            continue
        if generated and cp == 0x20 and 0 < i < n - 1:
            before = pdfium_c.FPDFText_GetUnicode(tp, i - 1)
            after = pdfium_c.FPDFText_GetUnicode(tp, i + 1)
            if (
                0 < before <= 0x10FFFF
                and 0 < after <= 0x10FFFF
                and _is_hangul(before) != _is_hangul(after)
                and not chr(before).isspace()
                and not chr(after).isspace()
                and pdfium_c.FPDFText_GetLooseCharBox(tp, i - 1, left_box)
                and pdfium_c.FPDFText_GetLooseCharBox(tp, i + 1, right_box)
            ):
                size = pdfium_c.FPDFText_GetFontSize(tp, i - 1) or abs(left_box.top - left_box.bottom)
                gap = right_box.left - left_box.right
                if size > 0 and -0.1 * size <= gap < _AUTOSPACE_EM * size:
                    continue
        out.append(chr(cp))
    return "".join(out)


def _read_pdf(path: Path) -> _Raw:
    head = _head(path, 1024)
    if b"%PDF-" not in head:
        raise _not_the_format(head, "PDF")
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 4096))
        if b"%%EOF" not in fh.read():
            raise UnsupportedDocument("truncated PDF (no %%EOF at its end): the download or copy was cut off; get the file again")
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise UnsupportedDocument(
                "password-protected PDF: open it with its password and save or print an unprotected copy"
            ) from None
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise UnsupportedDocument("PDF encrypted with an unsupported security handler (DRM?): save an unprotected copy") from None
        raise UnsupportedDocument(f"damaged or truncated PDF ({_describe(exc)}): save or print it to a new PDF") from None
    try:
        pages: list[str] = []
        broken: list[int] = []
        for index in range(len(pdf)):
            try:
                page = pdf[index]
            except pdfium.PdfiumError:
                broken.append(index + 1)
                pages.append("")
                continue
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(_pdf_page_text(textpage))
                finally:
                    textpage.close()
            except pdfium.PdfiumError:
                broken.append(index + 1)
                pages.append("")
            finally:
                page.close()
        info = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    if pages and len(broken) == len(pages):
        raise UnsupportedDocument("damaged PDF: none of its pages can be read; save or print it to a new PDF")
    props = {"title": info.get("Title", ""), "author": info.get("Author", ""), "subject": info.get("Subject", ""),
             "keywords": info.get("Keywords", ""), "created": _iso_date(info.get("CreationDate")) or "",
             "modified": _iso_date(info.get("ModDate")) or ""}
    props = {k: v for k, v in props.items() if v and not re.fullmatch(r"\((?:anonymous|unspecified)\)", v.strip())}
    if broken:
        props["unreadable_pages"] = ", ".join(map(str, broken))
    return _Raw(pages=pages, props=props, empty_reason="no text layer (a scanned PDF?): run OCR first")


# ---- DOCX (mammoth)

_NOTE_ITEM = re.compile(r"^(footnote|endnote)-(-?\d+)$")
_NOTE_REF = re.compile(r"^(footnote|endnote)-ref-(-?\d+)$")
_HTML_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "div", "li"})


class _HtmlWalker:
    """Lines of mammoth's HTML for a DOCX document."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}
        self.numbers: dict[str, str] = {}
        self.counts = {"footnote": 0, "endnote": 0}
        self.heading: str | None = None

    def document(self, html: str) -> list[str]:
        from lxml import html as lxml_html

        root = lxml_html.fragment_fromstring(html or "<p></p>", create_parent="div")
        items = [li for li in root.iter("li") if _NOTE_ITEM.match(li.get("id") or "")]
        for li in items:
            for link in list(li.iter("a")):
                if (link.get("href") or "").startswith(("#footnote-ref-", "#endnote-ref-")):
                    link.drop_tree()
            self.bodies[li.get("id") or ""] = " ".join(self.blocks(li, None))
            parent = li.getparent()
            if parent is not None:
                parent.remove(li)
                if parent.tag in ("ol", "ul") and len(parent) == 0:
                    parent.drop_tree()
        out = self.blocks(root, None)
        for note_id, body in self.bodies.items():  # notes that nothing references
            if note_id not in self.numbers:
                out.append(self.note(note_id)[1] or body)
        return out

    def note(self, note_id: str) -> tuple[str, str]:
        kind = note_id.split("-", 1)[0]
        if note_id not in self.numbers:
            self.counts[kind] += 1
            self.numbers[note_id] = f"{self.counts[kind]})"
        mark = self.numbers[note_id]
        return mark, _note_line("foot" if kind == "footnote" else "end", mark, self.bodies.get(note_id, ""))

    def blocks(self, element: Any, sink: list[str] | None) -> list[str]:
        out: list[str] = []
        buf: list[str] = [element.text or ""]
        notes: list[str] = []

        def flush() -> None:
            _flush_block(buf, notes, out, sink)

        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _HTML_BLOCKS:
                flush()
                out.extend(self.blocks(child, sink))
                if tag == "h1" and self.heading is None:
                    self.heading = " ".join(self.blocks(child, []))
            elif tag in ("ul", "ol"):
                flush()
                number = 0
                for item in child:
                    if item.tag != "li":
                        continue
                    number += 1
                    lines = self.blocks(item, sink)
                    if lines:
                        lines[0] = (f"{number}. " if tag == "ol" else "• ") + lines[0]
                    out.extend(lines)
            elif tag == "table":
                flush()
                out.extend(self.table(child))
            elif tag:
                text, found = self.inline(child)
                buf.append(text)
                notes.extend(found)
            buf.append(child.tail or "")
        flush()
        return out

    def inline(self, element: Any) -> tuple[str, list[str]]:
        match = _NOTE_REF.match(element.get("id") or "") if element.tag == "a" else None
        if match:
            mark, line = self.note((element.get("href") or "").lstrip("#") or f"{match.group(1)}-{match.group(2)}")
            return mark, [line]
        if element.tag == "br":
            return " ", []
        parts = [element.text or ""]
        notes: list[str] = []
        for child in element:
            if isinstance(child.tag, str):
                text, found = self.inline(child)
                parts.append(text)
                notes.extend(found)
            parts.append(child.tail or "")
        return "".join(parts), notes

    def table(self, table: Any) -> list[str]:
        rows = [tr for tr in table.iter("tr") if _enclosing_table(tr) is table]
        cells: list[_Cell] = []
        taken: set[tuple[int, int]] = set()
        for r, tr in enumerate(rows):
            c = 0
            for cell in tr:
                if cell.tag not in ("td", "th"):
                    continue
                while (r, c) in taken:
                    c += 1
                rowspan = min(_int_attr(cell, "rowspan", 1, 1, 10_000), len(rows) - r)
                colspan = _int_attr(cell, "colspan", 1, 1, 1_000)
                if rowspan * colspan > 10_000:
                    rowspan = colspan = 1
                notes: list[str] = []
                lines = self.blocks(cell, notes)
                cells.append(_Cell(r, c, rowspan, colspan, lines, notes, header=cell.tag == "th"))
                for rr in range(r, r + rowspan):
                    for cc in range(c, c + colspan):
                        taken.add((rr, cc))
                c += colspan
        return _render_table(cells)


# a cell longer than this holds a page's content, not a value: its table lays out a web page, it is not data
_LAYOUT_CELL_CHARS = 300


def html_table_lines(table_html: str) -> list[str] | None:
    """The lines of one HTML ``<table>`` of a web page, written as DOCX tables are (see "Tables" above); None for a
    table that lays out the page rather than holding data (one with a table inside, or a cell of more than
    ``_LAYOUT_CELL_CHARS`` characters), whose text is better read as it flows.

    >>> html_table_lines("<table><tr><th>구분</th><th>2024년</th></tr><tr><td>수출</td><td>300.0</td></tr></table>")
    ['구분 | 2024년', '구분: 수출 | 2024년: 300.0']
    """
    from lxml import etree
    from lxml import html as lxml_html

    try:
        table = lxml_html.fragment_fromstring(table_html)
    except (etree.ParserError, ValueError):
        return None
    if table.tag != "table" or any(t is not table for t in table.iter("table")):
        return None
    if any(len(" ".join(cell.text_content().split())) > _LAYOUT_CELL_CHARS for cell in table.iter("td", "th")):
        return None
    captions = [" ".join(c.text_content().split()) for c in table.iter("caption")]
    return [c for c in captions if c] + _HtmlWalker().table(table)


def _enclosing_table(element: Any) -> Any:
    parent = element.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


def _docx_properties(path: Path) -> dict[str, str]:
    """Title, author, subject, keywords and dates from docProps/core.xml ({} when it is missing or broken)."""
    from lxml import etree

    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo("docProps/core.xml")
        except KeyError:
            return {}
        if info.file_size > 1024 * 1024:
            return {}
        data = archive.read(info)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return {}  # the properties are optional: a broken core.xml does not make the text unreadable
    values: dict[str, str] = {}
    names = {"title": "title", "creator": "author", "subject": "subject", "keywords": "keywords",
             "created": "created", "modified": "modified"}
    for element in root:
        key = names.get(_local(element.tag))
        text = (element.text or "").strip()
        if key and text:
            values[key] = (_iso_date(text) or "") if key in ("created", "modified") else text
    return {k: v for k, v in values.items() if v}


def _read_docx(path: Path) -> _Raw:
    head = _head(path)
    if head.startswith(_OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in path.read_bytes():
            raise UnsupportedDocument("password-protected (encrypted) DOCX: remove the password in Word and save it again")
        raise UnsupportedDocument("not a DOCX file: it is a legacy binary Office/HWP file (OLE); save it as .docx and add it again")
    if not head.startswith(b"PK"):
        raise _not_the_format(head, "DOCX")
    names = _check_zip(path, "DOCX")
    if "word/document.xml" not in names:
        hwpx = any(name.startswith("Contents/") for name in names)
        raise UnsupportedDocument(
            "not a DOCX file: it is an HWPX document (rename it to .hwpx)" if hwpx
            else "not a valid DOCX file: a ZIP archive without word/document.xml"
        )
    import mammoth

    with open(path, "rb") as fh:
        try:
            result = mammoth.convert_to_html(fh, external_file_access=False)
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # zipfile, XML and KeyError failures of a damaged package
            raise UnsupportedDocument(f"damaged DOCX file ({_describe(exc)}): open it in Word and save it again") from None
    walker = _HtmlWalker()
    lines = walker.document(str(result.value))
    return _Raw(text="\n".join(lines), props=_docx_properties(path), heading=walker.heading)


# --------------------------------------------------------------------------------------------------
# the worker process


def _preload_readers() -> dict[str, str]:
    """Import the three readers now, so that their import time is not counted against a file's timeout."""
    missing: dict[str, str] = {}
    for module in ("hwpx", "pypdfium2", "pypdfium2.raw", "mammoth", "lxml.html", "lxml.etree"):
        try:
            __import__(module)
        except ImportError as exc:
            missing[module] = str(exc)
    return missing


_READER_PACKAGES = {".hwp": ("hwpx", "python-hwpx"), ".hwpx": ("hwpx", "python-hwpx"),
                    ".pdf": ("pypdfium2", "pypdfium2"), ".docx": ("mammoth", "mammoth")}


def _memory_exhausted(probe_mb: int = 8) -> bool:
    """Whether the address-space limit leaves no room for a small new allocation right now."""
    try:
        bytearray(probe_mb * 1024 * 1024)
    except MemoryError:
        return True
    return False


def _serve(request: dict[str, Any], missing: dict[str, str]) -> dict[str, Any]:
    import resource

    path, suffix = Path(str(request["path"])), str(request["suffix"])
    memory_mb, timeout_s = int(request["max_memory_mb"]), float(request["timeout_s"])
    module, package = _READER_PACKAGES.get(suffix, ("", ""))
    if module in missing:
        return {"ok": False, "reason": f"cannot read {suffix} files: the {package} package is not installed ({missing[module]})"}
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_limit = int(used.ru_utime + used.ru_stime + min(timeout_s, 2.0**31)) + 10
    memory = resource.getrlimit(resource.RLIMIT_AS)
    cpu = resource.getrlimit(resource.RLIMIT_CPU)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit if cpu[1] == resource.RLIM_INFINITY else min(cpu_limit, cpu[1]), cpu[1]))
        wanted = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (wanted if memory[1] == resource.RLIM_INFINITY else min(wanted, memory[1]), memory[1]))
        try:
            return {"ok": True, **_extract_here(path, suffix)}
        except Exception as exc:
            # libxml2 and PDFium report a failed allocation as a parse error ("unknown error"): when memory
            # is still short after the failure, the limit was the cause, not a damaged file
            if not isinstance(exc, (MemoryError, RecursionError)) and _memory_exhausted():
                raise MemoryError from exc
            raise
        finally:
            resource.setrlimit(resource.RLIMIT_AS, memory)
    except UnsupportedDocument as exc:
        return {"ok": False, "reason": str(exc)}
    except MemoryError:
        return {"ok": False, "recycle": True,
                "reason": f"needs more than {memory_mb} MB of memory to read (a hostile or very large file?): refusing to read it"}
    except RecursionError:
        return {"ok": False, "recycle": True, "reason": "nested too deeply to read (a malformed file?)"}
    except PermissionError:
        return {"ok": False, "reason": "cannot read the file: permission denied"}
    except OSError as exc:
        return {"ok": False, "reason": f"cannot read the file: {exc.strerror or exc}"}
    except Exception as exc:  # anything a reader did not foresee: report it rather than crash
        return {"ok": False, "recycle": True, "reason": f"could not be read ({_describe(exc)})"}


def _worker_main() -> int:
    """The worker loop: one JSON request per line on stdin, one JSON answer per line on the saved stdout."""
    import resource
    import signal

    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # a library that prints must not corrupt the answers
    os.close(devnull)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when this process ends
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    parent = os.getppid()

    def watch_parent() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    warnings.simplefilter("ignore")
    missing = _preload_readers()

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
        answers.flush()

    answer({"ready": True})
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError:
            return 2
        result = _serve(request, missing)
        answer(result)
        if result.get("recycle"):
            return 0
    return 0


if __name__ == "__main__" and sys.argv[1:] == [_WORKER_FLAG]:
    sys.exit(_worker_main())
