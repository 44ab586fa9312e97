"""Find, read and decode the documents of a corpus folder; nothing under it is ever written.

>>> from pathlib import Path
>>> docs, skipped = load_corpus(Path("corpus"))      # doctest: +SKIP
>>> docs[0].source, docs[0].title                     # doctest: +SKIP
('2021-06-16_moef_gwangju-ai-cluster-ris-visit.txt', '안도걸 기획재정부 제2차관, ...')
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import json
import logging
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clean import clean_text, normalize_unicode
from .errors import CorpusError
from .formats import DOCUMENT_SUFFIXES, UnsupportedDocument, extract_document, html_table_lines, shutdown_worker
from .replace import REPLACEMENTS_FILE, ReplacementRule, apply_replacements, read_replacements

__all__ = ["SUPPORTED_SUFFIXES", "Document", "Skipped", "decode_bytes", "html_to_text", "load_corpus"]

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + DOCUMENT_SUFFIXES
# files of the corpus folder that describe it rather than being documents
CONTROL_FILES = ("metadata.json", "userdict.tsv", "synonyms.tsv", REPLACEMENTS_FILE)
MAX_FILE_BYTES = 200 * 1024 * 1024

_MAGIC = {
    b"\x89PNG": "PNG image",
    b"\x7fELF": "ELF executable",
    b"GIF8": "GIF image",
    b"\xff\xd8\xff": "JPEG image",
    b"%PDF": "PDF document: give it the .pdf extension",
    b"PK\x03\x04": "ZIP archive or Office file: .docx and .hwpx files are read by their extension",
    b"\x1f\x8b": "gzip archive",
    b"MZ": "Windows executable",
    b"\xd0\xcf\x11\xe0": "legacy Office or HWP file: .hwp files are read by their extension; save .doc as .docx",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class Document:
    """One cleaned document: ``text`` is what chunks slice and citations point into."""

    id: str
    source: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    encoding: str = "utf-8"
    pages: list[int] = field(default_factory=list)  # PDF: offset in ``text`` where each page starts; [] otherwise

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "source": self.source, "title": self.title, "meta": self.meta,
                               "text": self.text}
        if self.pages:
            out["pages"] = list(self.pages)
        return out

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for a document without pages.

        >>> Document("a", "a.pdf", "t", "쪽1 쪽2", pages=[0, 3]).page_at(3)
        2
        """
        return bisect.bisect_right(self.pages, offset) if self.pages else None


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str


class _Skip(Exception):
    pass


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a file's bytes: BOM, then strict UTF-8, then charset detection (CP949/EUC-KR, UTF-16 …).

    Returns ``(text, encoding)``; raises ``ValueError`` when the bytes are binary or undecodable.

    >>> decode_bytes("한국어 문서".encode("cp949"))
    ('한국어 문서', 'cp949')
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc), enc
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise ValueError(f"binary file ({kind})")
    try:
        text, enc = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise ValueError("cannot detect the text encoding (binary or corrupt file)") from None
        text, enc = str(best), best.encoding
    bad = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\n\r\t\x00")
    nul = text.count("\x00")
    if (bad + nul) > max(8, len(text) // 20) and nul != len(text):
        raise ValueError(f"binary file ({bad + nul} control characters in {len(text)})")
    if nul == len(text):
        raise ValueError("binary file (only NUL bytes)")
    return text, enc


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML page, one block per line, without navigation, scripts or forms; a data table
    gives one line per row (:func:`indexer.formats.html_table_lines`).

    Returns ``(text, title)`` where ``title`` is the first ``<h1>`` or the ``<title>``.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                     "form", "iframe", "svg", "button", "select", "input", "textarea", "object", "embed"]):
        tag.decompose()
    roles = {"role": ["navigation", "banner", "contentinfo", "search", "complementary"]}
    for tag in soup.find_all(attrs=roles):  # type: ignore[call-overload]
        tag.decompose()
    boiler = ("nav", "menu", "gnb", "lnb", "breadcrumb", "skip", "sidebar", "footer", "related", "share", "banner", "cookie")
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        names = " ".join([str(tag.get("id") or ""), *(tag.get("class") or [])]).lower()
        if names and any(b in names for b in boiler):
            tag.decompose()
    h1 = soup.find("h1")
    title_tag = soup.find("title")
    # an unclosed <title> swallows the rest of the page (the parser nests it inside): keep only its own text
    swallowed = title_tag is not None and title_tag.find(True) is not None
    title_text = None
    if title_tag:
        title_text = (" ".join(s.strip() for s in title_tag.find_all(string=True, recursive=False)).strip() if swallowed
                      else title_tag.get_text(" ", strip=True))
    title = (h1.get_text(" ", strip=True) if h1 else None) or title_text
    if title_tag and swallowed:
        for s in title_tag.find_all(string=True, recursive=False):
            s.extract()
        title_tag.unwrap()
    elif title_tag:
        title_tag.decompose()
    # a data table: one line per row of "header: value" cells, as in HWP and DOCX documents; a layout table flows
    for table in soup.find_all("table"):
        if table.find_parent("table") is None:
            lines = html_table_lines(str(table))
            if lines:
                table.replace_with("\n" + "\n".join(lines) + "\n")
    blocks = ("p", "div", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
              "table", "ul", "ol", "dd", "dt", "blockquote", "pre", "figcaption", "caption", "main")
    for tag in soup.find_all(blocks):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for cell in soup.find_all(["td", "th"]):
        cell.insert_after(" ")
    return soup.get_text(), title or None


def _first_line_title(text: str, fallback: str) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if len(line) >= 4:
            return line[:120]
    return fallback


def _read_metadata(root: Path) -> tuple[dict[str, dict[str, Any]], list[Skipped]]:
    path = root / "metadata.json"
    if not path.is_file():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, [Skipped("metadata.json", f"ignored: not valid UTF-8 JSON ({exc})")]
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        return {}, [Skipped("metadata.json", 'ignored: expected {"file name": {"title": ..., ...}}')]
    return data, []


def _iter_files(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Files under ``root`` in a stable order; links that leave it are skipped, directory links not followed."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    real_root = root.resolve()

    def onerror(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "?"
        skipped.append(Skipped(rel, f"unreadable folder: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        here = Path(dirpath)
        for d in sorted(dirnames):
            if (here / d).is_symlink():
                skipped.append(Skipped((here / d).relative_to(root).as_posix(), "folder link not followed"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if here == root and name in CONTROL_FILES:
                continue
            if name.startswith("."):
                skipped.append(Skipped(rel, "hidden file"))
                continue
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    skipped.append(Skipped(rel, "broken link or link loop"))
                    continue
                if not target.is_relative_to(real_root):
                    skipped.append(Skipped(rel, "link points outside the corpus folder"))
                    continue
            files.append(path)
    return files, skipped


@dataclass
class _Read:
    text: str
    encoding: str
    sha256: str
    title: str | None = None  # what the file says its title is (HTML <h1>/<title>, a document's own title)
    meta: dict[str, Any] = field(default_factory=dict)
    pages: list[int] = field(default_factory=list)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Skip(f"file too large ({size // 2**20} MB > {MAX_FILE_BYTES // 2**20} MB)")
        with open(path, "rb") as fh:
            return fh.read()
    except PermissionError:
        raise _Skip("unreadable: permission denied") from None
    except OSError as exc:
        raise _Skip(f"unreadable: {exc.strerror or exc}") from None


def _read_document(path: Path) -> _Read:
    """An .hwp, .hwpx, .pdf or .docx file, read in a separate process with time and memory limits."""
    data = _read_bytes(path)
    try:
        ex = extract_document(path)
    except UnsupportedDocument as exc:
        raise _Skip(str(exc)) from None
    # the reader's text is already normalised (a fixed point of normalize_unicode, so page offsets hold); the web
    # boilerplate rules of clean_text would drop table rows (short lines of numbers)
    text = normalize_unicode(ex.text)
    if not text.strip():
        raise _Skip("no text in the document")
    pages = ex.pages if text == ex.text else []
    return _Read(text, "binary", hashlib.sha256(data).hexdigest(), ex.title, dict(ex.meta), pages)


def _read_one(path: Path, rel: str) -> _Read:
    """Read and clean one file, or raise ``_Skip`` with the reason."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise _Skip(f"unsupported file type {suffix or '(no extension)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if suffix in DOCUMENT_SUFFIXES:
        return _read_document(path)
    data = _read_bytes(path)
    if not data.strip():
        raise _Skip("empty file")
    try:
        raw, encoding = decode_bytes(data)
    except ValueError as exc:
        raise _Skip(str(exc)) from None
    if "\x00" in raw:
        log.warning("%s: removed %d NUL characters", rel, raw.count("\x00"))
        raw = raw.replace("\x00", "")
    html_title = None
    if suffix in (".html", ".htm"):
        raw, html_title = html_to_text(raw)
    text = clean_text(raw, markup=suffix not in (".html", ".htm"))
    if not text.strip():
        raise _Skip("no text left after removing boilerplate")
    return _Read(text, encoding, hashlib.sha256(data).hexdigest(), html_title)


def _replace(got: _Read, rel: str, rules: list[ReplacementRule]) -> dict[str, int]:
    """Apply the replacement table to a read file (text, its own title, page offsets); the counts per rule."""
    if not rules:
        return {}
    done = apply_replacements(got.text, rel, rules)
    if not done.counts:
        return {}
    got.pages = [done.offset(p) for p in got.pages]
    got.text = done.text
    if got.title:
        got.title = apply_replacements(got.title, rel, rules).text
    return done.counts


def _try_read(path: Path, root: Path, skipped: list[Skipped]) -> _Read | None:
    rel = path.relative_to(root).as_posix()
    try:
        return _read_one(path, rel)
    except _Skip as exc:
        skipped.append(Skipped(rel, str(exc)))
        return None


def load_corpus(corpus_dir: str | os.PathLike[str], *, progress: bool = True,
                allow_empty: bool = False) -> tuple[list[Document], list[Skipped]]:
    """Read every supported file under ``corpus_dir``; return the documents and the skipped files.

    Raises ``CorpusError`` when the folder is missing or yields no document (unless ``allow_empty``).
    """
    root = Path(corpus_dir)
    if not root.exists():
        raise CorpusError(f"corpus folder {str(root)!r} does not exist; pass the folder that holds your documents")
    if not root.is_dir():
        raise CorpusError(f"{str(root)!r} is a file, not a folder; pass the folder that holds your documents")
    metadata, skipped = _read_metadata(root)
    rules: list[ReplacementRule] = []
    if (root / REPLACEMENTS_FILE).is_file():
        rules, warnings = read_replacements(root / REPLACEMENTS_FILE)
        skipped += [Skipped(REPLACEMENTS_FILE, w) for w in warnings]
    files, skipped_files = _iter_files(root)
    skipped += skipped_files
    docs: list[Document] = []
    seen: dict[str, str] = {}
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        def tqdm(x, **_):
            return x
    try:
        loaded = [(path, _try_read(path, root, skipped)) for path in tqdm(files, desc="loading", unit="file",
                                                                          disable=not progress or None)]
    finally:
        if any(p.suffix.lower() in DOCUMENT_SUFFIXES for p in files):
            shutdown_worker()  # the document reader's process is not needed until the next build
    for path, got in loaded:
        if got is None:
            continue
        rel = path.relative_to(root).as_posix()
        replaced = _replace(got, rel, rules)
        text = got.text
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest in seen:
            skipped.append(Skipped(rel, f"same text as {seen[digest]} (duplicate)"))
            continue
        seen[digest] = rel
        meta = {**got.meta, **(metadata.get(rel) or {})}  # metadata.json overrides what the document says
        if replaced:
            meta["replaced"] = replaced  # which rules of replacements.tsv changed this text, how often
        title = normalize_unicode(str(meta.pop("title", "") or got.title or "")).replace("\n", " ").strip()
        title = title or _first_line_title(text, Path(rel).stem)
        docs.append(Document(id=rel, source=rel, title=title, text=text, meta=meta, sha256=got.sha256,
                             encoding=got.encoding, pages=got.pages))
    for s in skipped:
        log.warning("skipped %s: %s", s.source, s.reason)
    if not docs and not allow_empty:
        why = f" ({len(skipped)} files skipped: " + "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5]) + ")" if skipped else ""
        raise CorpusError(
            f"no indexable document in {str(root)!r}{why}; add .txt, .md, .html (UTF-8, CP949/EUC-KR or UTF-16), .hwp, .hwpx, .pdf or .docx files"
        )
    return docs, skipped
