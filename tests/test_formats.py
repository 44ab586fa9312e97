"""indexer.formats on real documents: MOEF press releases (HWP, HWPX, PDF, DOCX), note samples, a
two-column PDF (tests/fixtures/formats, see NOTICE there), and broken or hostile files made here."""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest

from indexer import formats
from indexer.clean import normalize_unicode
from indexer.formats import DOCUMENT_SUFFIXES, Extracted, UnsupportedDocument, extract_document

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
REPO_ROOT = Path(__file__).resolve().parent.parent
MOEF = "moef-2024q1-overseas-direct-investment"
HEADLINE = "‘24년 1분기 해외직접투자는 150.9억 달러로 전년동기비 14.6% 감소"
# the appendix table "□ 업종별 동향(상위 5개)": a header of two rows (years spanning quarters) and a
# rowspan cell ("제조업") over the amount row and the growth-rate row
MANUFACTURING_ROW = (
    "구 분: 제조업 | 2022년 1분기: 111.8 | 2022년 2분기: 59.7 | 2022년 3분기: 44.3 | 2022년 4분기: 37.4 | "
    "2023년 1분기: 63.2 | 2023년 2분기: 40.1 | 2023년 3분기: 49.6 | 2023년 4분기: 51.7 | 2024년 1분기: 40.5"
)
MANUFACTURING_RATES = (
    "구 분: 제조업 | 2022년 1분기: (288.4) | 2022년 2분기: (85.2) | 2022년 3분기: (18.8) | 2022년 4분기: (△53.9) | "
    "2023년 1분기: (△43.5) | 2023년 2분기: (△32.9) | 2023년 3분기: (12.1) | 2023년 4분기: (38.2) | 2024년 1분기: (△35.9)"
)

# the MOEF DOCX takes mammoth about 2 s (40 tables): tests that read it are slow
SLOW_DOCX = pytest.param(".docx", marks=pytest.mark.slow)

_cache: dict[str, Extracted] = {}


def extracted(name: str) -> Extracted:
    """One extraction per fixture file for the whole module."""
    if name not in _cache:
        _cache[name] = extract_document(FIXTURES / name)
    return _cache[name]


def worker_processes() -> list[tuple[int, str]]:
    """(pid, state) of this process's children that are running formats workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == os.getpid() and b"--korag-formats-worker" in cmdline:
            found.append((int(entry.name), state))
    return found


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


# ---- tables


def test_table_rows_carry_their_header_and_merged_cells() -> None:
    lines = extracted(f"{MOEF}.hwp").text.split("\n")
    assert MANUFACTURING_ROW in lines
    assert MANUFACTURING_RATES in lines  # the merged "제조업" cell is repeated in the row it spans
    header = "구 분 | 2022년 1분기 | 2022년 2분기 | 2022년 3분기 | 2022년 4분기 | 2023년 1분기 | 2023년 2분기 | 2023년 3분기 | 2023년 4분기 | 2024년 1분기"
    assert lines[lines.index(MANUFACTURING_ROW) - 3] == header
    # a one-row header over a small table
    assert "구분: ‘24.1Q | 금융보험업: 55.0 | 제조업: 40.5 | 부동산업: 22.4 | 전문과학기술업: 9.3 | 광업: 6.3" in lines
    # a table without numbers has no header: plain rows
    assert "보도시점 | 2024. 6. 21.(금) 11:00 | 배포 | 2024. 6. 21.(금) 09:00" in lines


def test_question_finds_the_table_row() -> None:
    question = {"2024년", "1분기", "제조업"}
    lines = extracted(f"{MOEF}.hwp").text.split("\n")
    best = max(lines, key=lambda line: (sum(word in line for word in question), "40.5" in line))
    assert "제조업" in best and "2024년 1분기: 40.5" in best


def test_docx_table_with_merged_cell() -> None:
    lines = extracted("footnotes-endnotes.docx").text.split("\n")
    assert "구분 | 2023년 1분기 | 2024년 1분기" in lines
    assert "구분: 금융보험업 | 2023년 1분기: 61.1 | 2024년 1분기: 77.6" in lines
    # the total spans two columns: once in its row, without a header that covers only one of them
    assert "합계(억 달러, 병합 셀) | 2024년 1분기: 208.6" in lines


@pytest.mark.slow  # mammoth needs about 2 s for this DOCX's 40 tables
def test_docx_table_that_lost_its_spans_gets_no_misleading_labels() -> None:
    # LibreOffice wrote the MOEF tables to DOCX without their column spans: the header row has
    # fewer labels than the data rows have numbers, so rows stay unlabelled rather than mislabelled
    lines = extracted(f"{MOEF}.docx").text.split("\n")
    assert "총투자 | 282.3 | 198.5 | 184.8 | 150.9 | 176.8 | 159.8 | 150.5 | 157.7 | 150.9" in lines
    assert not any("2022년: 2분기" in line for line in lines)
    assert "구분: ‘24.1Q | 금융보험업: 55.0 | 제조업: 40.5 | 부동산업: 22.4 | 전문과학기술업: 9.3 | 광업: 6.3" in lines


# ---- notes


def note_follows(text: str, note_line: str, reference: str) -> bool:
    """The note's line exists and the reference mark occurs at most 2,000 characters before it."""
    match = re.search("(?m)^" + re.escape(note_line) + "$", text)
    return match is not None and reference in text[max(0, match.start() - 2000) : match.start()]


def test_hwp_footnotes_follow_their_paragraph() -> None:
    lines = extracted("footnote-01.hwp").text.split("\n")
    i = lines.index("주1) 플라스틱 액체란")
    assert lines[i - 1] == "플라스틱 액체1)와 같은 원료를 사출해 3차원 모양의 고체 물질을 자유롭게 찍어내는 기술"
    # a footnote inside a table cell follows the table row
    i = lines.index("주3) 표안의 각주")
    assert lines[i - 1] == "II | 기술발전에 따른 예상되는 사회적 변화3)와 문제점"
    notes = [line for line in lines if re.match(r"주\d+\) ", line)]
    assert len(notes) == 9
    text = "\n".join(lines)
    for line in notes:
        mark = line.split(" ", 1)[0].removeprefix("주")
        assert note_follows(text, line, mark), line


def test_hwp_endnotes_follow_their_paragraph() -> None:
    text = extracted("endnote-01.hwp").text
    lines = text.split("\n")
    i = lines.index("미주1) 플라스틱 액체라는 것은")
    assert lines[i - 1].startswith("플라스틱 액체1)와 같은 원료")
    assert lines[lines.index("미주2) 두 번째 미주입니다.") - 1] == "3D 프린터2)로 만들 수 있는 물건은 사실상 무궁무진하다고 볼 수 있음"
    notes = [line for line in lines if line.startswith("미주")]
    assert len(notes) == 6
    assert not any(line.startswith("주") for line in lines)


def test_docx_footnote_and_endnote_follow_their_paragraph() -> None:
    lines = extracted("footnotes-endnotes.docx").text.split("\n")
    i = lines.index("주1) 신고 기준이며, 투자 회수액은 반영하지 않았다.")
    assert "16.5% 증가하였다고 밝혔다.1) 업종별로는" in lines[i - 1]
    i = lines.index("미주1) 미주: 국가 순위는 송금액 기준이다.")
    assert lines[i - 1].endswith("룩셈부르크 순으로 나타났다.1)")
    assert "↑" not in "\n".join(lines)  # mammoth's back links are gone


@pytest.mark.parametrize("suffix", [".hwp", ".hwpx", ".pdf", SLOW_DOCX])
def test_star_note_of_the_press_release_follows_its_reference(suffix: str) -> None:
    text = extracted(MOEF + suffix).text
    assert note_follows(text, "* 저지(Jersey) 섬: 영국과 프랑스 사이의 영국해협에 위치한 영국령 조세회피처", "저지*(9.3억 달러)")


# ---- the same document in several formats


def test_hwp_and_hwpx_give_the_same_text() -> None:
    hwp, hwpx = extracted(f"{MOEF}.hwp"), extracted(f"{MOEF}.hwpx")
    assert hwp.text == hwpx.text
    assert hwp.title == hwpx.title == HEADLINE


@pytest.mark.slow
def test_pdf_and_docx_hold_the_same_words_as_the_hwpx() -> None:
    words = set(extracted(f"{MOEF}.hwpx").text.split())
    for suffix in (".pdf", ".docx"):
        other = set(extracted(MOEF + suffix).text.split())
        assert len(words & other) / len(words) > 0.8, suffix


# ---- PDF


def test_two_column_pdf_reads_paragraphs_in_order() -> None:
    text = extracted("two-column.pdf").text
    flat = re.sub(r"\s", "", text)
    expected = [p for p in (FIXTURES / "two-column.expected.txt").read_text(encoding="utf-8").split("\n") if p.strip()]
    assert len(expected) == 20
    at = 0
    for paragraph in expected:
        wanted = re.sub(r"\s", "", unicodedata.normalize("NFKC", paragraph))
        found = flat.find(wanted, at)
        assert found >= 0, paragraph
        at = found + len(wanted)
    # PDFium's generated spaces that are real word gaps stay
    assert "별첨 참고자료를" in text and "해외직접투자통계 홈페이지" in text


def test_pdf_has_no_generated_autospace() -> None:
    text = extracted(f"{MOEF}.pdf").text
    assert "2024년 1분기(1~3월) 해외직접투자액은 총투자액 기준 150.9억 달러로" in text
    assert "2024 년" not in text and "1 분기" not in text and "150.9 억" not in text
    assert not re.search(r"\d{4} 년|\d 분기|\d 억", text)


def test_pdf_page_offsets() -> None:
    ex = extracted(f"{MOEF}.pdf")
    assert len(ex.pages) == 7 and ex.pages[0] == 0
    assert ex.pages == sorted(ex.pages)
    page2 = ex.text[ex.pages[1] : ex.pages[2]]
    assert page2.startswith("강화해 나갈 예정이다")
    assert "담당 부서 대외경제국" in page2
    assert "담당 부서" not in ex.text[: ex.pages[1]]
    assert "해외직접투자 개념" in ex.text[ex.pages[5] : ex.pages[6]]
    assert "해외직접투자 개념" not in ex.text[: ex.pages[5]]
    assert ex.text[ex.pages[6] :].startswith("* 100분의 10 미만인 경우에도")
    assert extracted("footnotes-endnotes.docx").pages == []


def test_hwp_pages_come_from_the_saved_line_layout() -> None:
    # Hancom saves each line's position on its page; the press release is 8 pages of section 1 and a
    # one-page "참 고" section, the same in .hwp and .hwpx
    hwp, hwpx = extracted(f"{MOEF}.hwp"), extracted(f"{MOEF}.hwpx")
    assert hwp.pages == hwpx.pages and len(hwp.pages) == 9 and hwp.pages[0] == 0
    page = [hwp.text[a:b] for a, b in zip(hwp.pages, [*hwp.pages[1:], len(hwp.text)])]
    assert "150.9억 달러" in page[0] and "* 저지(Jersey) 섬" in page[0]
    assert page[1].startswith("< 지역별 동향(억 달러, %) >")
    assert page[2].startswith("별첨 | ’24.1분기 해외직접투자 세부 통계")
    assert page[8].startswith("참 고 | 해외직접투자 개념") and "참 고" not in "".join(page[:8])


def test_hwpx_without_a_saved_layout_has_no_pages(tmp_path: Path) -> None:
    # tools other than Hancom Office may write no line layout: the same text, without page numbers
    path = tmp_path / "no-layout.hwpx"
    with zipfile.ZipFile(FIXTURES / f"{MOEF}.hwpx") as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("Contents/section"):
                data = re.sub(rb"<hp:linesegarray>.*?</hp:linesegarray>", b"", data, flags=re.S)
            dst.writestr(info, data)
    ex, layout = extract_document(path), extracted(f"{MOEF}.hwpx")
    assert ex.pages == [] and b"lineseg" not in zipfile.ZipFile(path).read("Contents/section0.xml")
    assert ex.text.replace("\n\n", "\n") == layout.text.replace("\n\n", "\n")


# ---- private-use characters and normalisation


def test_private_use_characters_become_a_bullet_or_a_space(tmp_path: Path) -> None:
    from hwpx import HwpxDocument

    doc = HwpxDocument.new()
    doc.add_paragraph("\uf0a7 첫째 항목")
    doc.add_paragraph("\U000f03da둘째 항목")
    doc.add_paragraph("한\uf53a글 문서 \U000f0832 끝")
    doc.add_paragraph("\uf06c")
    path = tmp_path / "pua.hwpx"
    doc.save_to_path(path)
    assert "\uf0a7" in HwpxDocument.open(path).text.plain()  # the file really carries them
    ex = extract_document(path)
    assert ex.text.split("\n") == ["• 첫째 항목", "• 둘째 항목", "한 글 문서 끝"]


def test_text_is_normalized_like_the_rest_of_the_corpus() -> None:
    for name in (f"{MOEF}.hwp", f"{MOEF}.pdf", "footnotes-endnotes.docx", "footnote-01.hwp", "two-column.pdf"):
        ex = extracted(name)
        assert normalize_unicode(ex.text) == ex.text, name
        assert not re.search("[\ue000-\uf8ff]", ex.text), name


# ---- title and metadata


@pytest.mark.parametrize("suffix", [".hwp", ".hwpx", ".pdf", SLOW_DOCX])
def test_press_release_headline_and_date(suffix: str) -> None:
    ex = extracted(MOEF + suffix)
    assert ex.title == HEADLINE  # the properties say "3" (HWP) and "HWPX Document" (PDF, DOCX)
    assert ex.meta["date"] == "2024-06-21"


def test_metadata_from_document_properties() -> None:
    hwp = extracted("footnote-01.hwp")
    assert hwp.meta["author"] == "blue" and hwp.meta["created"] == "2016-08-08"
    assert hwp.title is None and "date" not in hwp.meta
    assert extracted(f"{MOEF}.hwpx").meta["modified"] == "2024-06-21"
    assert extracted("footnotes-endnotes.docx").title == "2024년 1분기 해외직접투자 동향"  # its first heading
    pdf = extracted("two-column.pdf")
    assert pdf.title is None and "author" not in pdf.meta  # ReportLab's "(anonymous)" is no title
    assert pdf.meta["created"] == "2026-11-26"


# ---- failures


@pytest.mark.parametrize("suffix", DOCUMENT_SUFFIXES)
def test_truncated_files(tmp_path: Path, suffix: str) -> None:
    data = (FIXTURES / (MOEF + suffix)).read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedDocument, match=r"truncated|damaged"):
        extract_document(path)


@pytest.mark.parametrize("suffix", DOCUMENT_SUFFIXES)
def test_random_bytes_with_the_right_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(random.Random(7).randbytes(50_000))
    with pytest.raises(UnsupportedDocument, match=r"not a valid .* unknown binary data"):
        extract_document(path)


def test_content_of_another_format(tmp_path: Path) -> None:
    (tmp_path / "report.hwpx").write_bytes((FIXTURES / "footnotes-endnotes.docx").read_bytes())
    with pytest.raises(UnsupportedDocument, match="Word DOCX document"):
        extract_document(tmp_path / "report.hwpx")
    (tmp_path / "report.docx").write_bytes((FIXTURES / "two-column.pdf").read_bytes())
    with pytest.raises(UnsupportedDocument, match="its content is a PDF document"):
        extract_document(tmp_path / "report.docx")
    (tmp_path / "report.pdf").write_text("보도자료\n본문", encoding="utf-8")
    with pytest.raises(UnsupportedDocument, match="its content is plain text"):
        extract_document(tmp_path / "report.pdf")


def test_empty_missing_unsupported_and_oversized(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(UnsupportedDocument, match="empty file"):
        extract_document(tmp_path / "empty.pdf")
    with pytest.raises(UnsupportedDocument, match="file not found"):
        extract_document(tmp_path / "missing.hwp")
    with pytest.raises(UnsupportedDocument, match=r"unsupported file type .odt"):
        extract_document(tmp_path / "x.odt")
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:
        fh.truncate(formats.MAX_FILE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(UnsupportedDocument, match="file too large"):
        extract_document(big)


def zip_package(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "part"), [("bomb.hwpx", "Contents/section0.xml"), ("bomb.docx", "word/document.xml")]
)
def test_zip_bomb_by_ratio(tmp_path: Path, name: str, part: str) -> None:
    members = {"mimetype": b"application/hwp+zip"} if name.endswith(".hwpx") else {"[Content_Types].xml": b"<Types/>"}
    members[part] = b"<a>" + b" " * 30_000_000 + b"</a>"  # 30 MB that deflate to about 30 kB
    path = zip_package(tmp_path / name, members)
    assert path.stat().st_size < 100_000
    with pytest.raises(UnsupportedDocument, match=r"compressed \d[\d,]*:1 .*zip bomb"):
        extract_document(path)


@pytest.mark.slow
def test_zip_bomb_by_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/filler.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(210):
                member.write(block)
    with pytest.raises(UnsupportedDocument, match=r"unpacks to 210 MB .*zip bomb"):
        extract_document(path)


def test_distribution_only_hwp(tmp_path: Path) -> None:
    """A copy of footnote-01.hwp whose FileHeader declares it distribution-only (배포용, property bit 2).

    Its body is not really encrypted: this checks that python-hwpx's detection of the flag reaches the
    user as our message, not decryption. The mapping of the real exception type is checked as well.
    """
    from hwpx import Hwp5Error

    data = bytearray((FIXTURES / "footnote-01.hwp").read_bytes())
    at = data.find(b"HWP Document File")
    flags = struct.unpack_from("<I", data, at + 36)[0]
    for bit, message in ((2, r"distribution-only \(배포용\) HWP is encrypted: save it as a normal HWP/HWPX in Hancom Office"),
                         (1, "password-protected HWP")):
        changed = bytearray(data)
        struct.pack_into("<I", changed, at + 36, flags | 1 << bit)
        path = tmp_path / f"flag{bit}.hwp"
        path.write_bytes(bytes(changed))
        with pytest.raises(UnsupportedDocument, match=message):
            extract_document(path)
    exc = Hwp5Error("The HWP document is a distribution (read-only) document", code="hwp5-distribution")
    assert str(formats._hwp_failure(exc, "HWP")).startswith("distribution-only (배포용) HWP is encrypted")


def test_password_protected_hwpx(tmp_path: Path) -> None:
    """A copy of the MOEF HWPX rewritten the way Hancom stores a password-protected one: the manifest
    declares ODF package encryption for section0.xml, whose bytes are no longer XML. Made here, not
    saved by Hancom Office: it checks the detection and the message."""
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<odf:file-entry odf:full-path="Contents/section0.xml" odf:media-type="application/xml" odf:size="1272685">'
        b'<odf:encryption-data odf:checksum-type="SHA1/1K" odf:checksum="AAAA">'
        b'<odf:algorithm odf:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc" odf:initialisation-vector="AAAA"/>'
        b'</odf:encryption-data></odf:file-entry></odf:manifest>'
    )
    path = tmp_path / "locked.hwpx"
    with zipfile.ZipFile(FIXTURES / f"{MOEF}.hwpx") as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "META-INF/manifest.xml":
                data = manifest
            elif info.filename == "Contents/section0.xml":
                data = random.Random(3).randbytes(len(data) // 10)
            target.writestr(info.filename, data, zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED)
    with pytest.raises(UnsupportedDocument, match=r"password-protected \(or distribution-only\) HWPX is encrypted"):
        extract_document(path)


PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_password: bytes, text: bytes) -> bytes:
    """A one-page PDF encrypted with the standard security handler (RC4, 40 bits, revision 2)."""
    doc_id = hashlib.md5(b"korag-test").digest()
    owner = rc4(hashlib.md5(b"owner" + PAD).digest()[:5], (user_password + PAD)[:32])
    key = hashlib.md5((user_password + PAD)[:32] + owner + struct.pack("<i", -4) + doc_id).digest()[:5]
    content = rc4(hashlib.md5(key + b"\x04\x00\x00\x00\x00").digest()[:10], b"BT /F1 24 Tf 72 720 Td (" + text + b") Tj ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (owner.hex().encode(), rc4(key, PAD).hex().encode()),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    ident = doc_id.hex().encode()
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 6 0 R /ID [<%s> <%s>] >>\n" % (len(objects) + 1, ident, ident)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_password_protected_pdf(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    data = encrypted_pdf(b"secret", b"Hello encrypted world")
    opened = pdfium.PdfDocument(data, password="secret")  # a real encrypted PDF: the password opens it
    assert opened[0].get_textpage().get_text_range() == "Hello encrypted world"
    path = tmp_path / "locked.pdf"
    path.write_bytes(data)
    with pytest.raises(UnsupportedDocument, match="password-protected PDF"):
        extract_document(path)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(pdfium.PdfBitmap.new_native(60, 80, pdfium.raw.FPDFBitmap_BGR))
    image.set_matrix(pdfium.PdfMatrix().scale(595, 842))
    page.insert_obj(image)
    page.gen_content()
    path = tmp_path / "scan.pdf"
    pdf.save(path)
    with pytest.raises(UnsupportedDocument, match=r"no text layer \(a scanned PDF\?\): run OCR first"):
        extract_document(path)


def test_memory_limit(tmp_path: Path) -> None:
    # a fresh worker: one that read this file before has its memory at hand and may need no more
    formats.shutdown_worker()
    with pytest.raises(UnsupportedDocument, match="needs more than 50 MB of memory"):
        extract_document(FIXTURES / f"{MOEF}.hwp", max_memory_mb=50)
    assert extract_document(FIXTURES / "footnotes-endnotes.docx").text  # the next file gets a fresh worker


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        extract_document(FIXTURES / "two-column.pdf", timeout_s=0)
    with pytest.raises(ValueError, match="max_memory_mb"):
        extract_document(FIXTURES / "two-column.pdf", max_memory_mb=-1)


# ---- the worker process


def test_timeout_kills_the_worker() -> None:
    extract_document(FIXTURES / "two-column.pdf")  # a warm worker, so that the timeout measures parsing
    [(pid, _)] = worker_processes()
    start = time.monotonic()
    with pytest.raises(UnsupportedDocument, match=r"took longer than 0.02 s"):
        extract_document(FIXTURES / f"{MOEF}.hwp", timeout_s=0.02)
    assert time.monotonic() - start < 2.0
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped: not even a zombie is left
    assert worker_processes() == []
    assert extract_document(FIXTURES / "two-column.pdf").text  # a new worker serves the next file


def test_calls_from_threads() -> None:
    names = ["footnotes-endnotes.docx", "two-column.pdf", "endnote-01.hwp", f"{MOEF}.pdf"] * 2
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(i: int, name: str) -> None:
        try:
            results[i] = extract_document(FIXTURES / name).text
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, name)) for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert [results[i] for i in range(len(names))] == [extracted(name).text for name in names]
    assert len(worker_processes()) == 1


def test_shutdown_worker() -> None:
    extract_document(FIXTURES / "two-column.pdf")
    [(pid, _)] = worker_processes()
    formats.shutdown_worker()
    assert not Path(f"/proc/{pid}").exists()
    assert worker_processes() == []


def test_worker_imports_no_torch_and_not_this_package() -> None:
    script = textwrap.dedent(
        f"""
        import runpy, sys
        from pathlib import Path
        module = runpy.run_path({str(REPO_ROOT / 'indexer' / 'formats.py')!r}, run_name="worker_check")
        assert module["_preload_readers"]() == {{}}
        module["_extract_here"](Path({str(FIXTURES / 'two-column.pdf')!r}), ".pdf")
        print(sorted(m for m in ("torch", "numpy", "indexer", "transformers", "gradio") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_no_worker_left_when_the_caller_is_interrupted_or_killed(how: str) -> None:
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from indexer.formats import extract_document
        path = Path({str(FIXTURES / f'{MOEF}.hwp')!r})
        while True:
            extract_document(path)
        """
    )
    # SIGINT back to its default in the child: an ignored SIGINT (SIG_IGN, which a test runner or an earlier
    # test may leave in this process) is inherited, and Python then installs no KeyboardInterrupt handler
    caller = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        worker = None
        deadline = time.monotonic() + 30
        while worker is None and time.monotonic() < deadline:
            time.sleep(0.1)
            for entry in Path("/proc").iterdir():
                try:
                    stat = (entry / "stat").read_text()
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if int(stat.rpartition(")")[2].split()[1]) == caller.pid and b"--korag-formats-worker" in cmdline:
                    worker = int(entry.name)
        assert worker is not None, "the caller started no worker"
        time.sleep(0.3)  # most likely in the middle of a file
        caller.send_signal(getattr(signal, how))
        caller.wait(30)
        deadline = time.monotonic() + 10
        while process_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(worker), f"worker {worker} outlived its caller ({how})"
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()
