"""A corpus of real HWP/HWPX/PDF/DOCX press releases (tests/fixtures/formats) through load_corpus, the
index and the retriever: texts, titles, dates, pages, skip reasons, and a PDF citation with its page.

The index uses the tiny test model: this is about plumbing; BM25 finds the table row."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest

from indexer import build_index
from indexer.ingest import load_corpus
from retriever import Retriever

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
MOEF = "moef-2024q1-overseas-direct-investment"


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("doc-corpus")
    for suffix in (".hwp", ".pdf"):
        shutil.copy(FIXTURES / f"{MOEF}{suffix}", root / f"{MOEF}{suffix}")
    shutil.copy(FIXTURES / "footnotes-endnotes.docx", root / "footnotes-endnotes.docx")
    data = (FIXTURES / f"{MOEF}.hwpx").read_bytes()
    (root / "truncated.hwpx").write_bytes(data[: len(data) // 3])
    (root / "empty.pdf").write_bytes(b"")
    (root / "not-a-pdf.pdf").write_bytes("한글 텍스트 파일입니다.".encode())
    (root / "notes.txt").write_text("보도자료가 아닌 메모입니다. 저지 섬은 영국 왕실 속령이다.\n", encoding="utf-8")
    return root


def test_documents_load_with_their_own_title_date_and_pages(corpus: Path) -> None:
    before = _digests(corpus)
    t = time.perf_counter()
    docs, skipped = load_corpus(corpus, progress=False)
    elapsed = time.perf_counter() - t
    by_source = {d.source: d for d in docs}
    assert set(by_source) == {f"{MOEF}.hwp", f"{MOEF}.pdf", "footnotes-endnotes.docx", "notes.txt"}
    hwp, pdf = by_source[f"{MOEF}.hwp"], by_source[f"{MOEF}.pdf"]
    assert hwp.title.startswith("‘24년 1분기 해외직접투자는 150.9억 달러") and hwp.meta.get("date") == "2024-06-21"
    assert len(hwp.pages) == 9 and len(pdf.pages) == 7 and pdf.pages[0] == hwp.pages[0] == 0
    assert "2024년 1분기" in pdf.text and "150.9억" in pdf.text
    assert pdf.page_at(pdf.pages[1]) == 2 and pdf.page_at(pdf.pages[1] - 1) == 1
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"truncated.hwpx", "empty.pdf", "not-a-pdf.pdf"}, reasons
    assert all(r and "Traceback" not in r for r in reasons.values())
    assert reasons["empty.pdf"] == "empty file"
    assert elapsed < 60  # the corrupt files are refused, not waited on
    assert _digests(corpus) == before  # nothing in the corpus is written


@pytest.mark.slow
def test_pdf_citation_carries_its_page(corpus: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    build_index(corpus, tmp_path / "index", model=str(tiny_model_dir), progress=False)
    r = Retriever.load(tmp_path / "index")
    hits = r.search("2024년 1분기 제조업 해외직접투자", k=10, mode="bm25")
    docs = {d.source: d for d in load_corpus(corpus, progress=False)[0]}
    paged = [h for h in hits if h.source.endswith((".pdf", ".hwp"))]
    assert {h.source for h in paged} == {f"{MOEF}.pdf", f"{MOEF}.hwp"}
    assert all(isinstance(h.page, int) and h.page == docs[h.source].page_at(h.start) for h in paged)
    assert all(h.page is None for h in hits if h not in paged)  # DOCX and text files have no pages
    row = next(h for h in hits if "구 분: 제조업" in h.text and "2024년 1분기: 40.5" in h.text)
    assert row.to_json()["page"] == row.page
