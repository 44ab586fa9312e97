"""A hostile corpus: 20+ kinds of bad or strange files beside a few good Korean documents.

Loading, indexing and the CLI must finish, index every good file, skip every bad one with a
warning that names it and says why, and leave every corpus file exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from indexer import build_index
from indexer.ingest import load_corpus

pytestmark = pytest.mark.slow  # builds indexes with the bundled model, or runs servers

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

PARA = "정부는 광주 인공지능 집적단지 사업에 올해 예산을 투입한다고 밝혔다. 지역 대학과 기업이 함께 참여한다.\n"

# good documents: file name -> (bytes, a sentence that must be in its clean text)
GOOD_TEXT = {
    "good-utf8.txt": "과학기술정보통신부는 광주 인공지능 집적단지 2단계 사업계획을 확정했다.\n예산은 1,076억원 규모다.",
    "보도자료 2025 인공지능.txt": "산업통상자원부는 AX 실증산단 공모를 6월 17일부터 7월 28일까지 진행한다.",
    "with space.md": "# 회의 결과\n\n중소벤처기업부는 스마트공장 보급 사업에 3,000억원을 투입한다.",
    "new\nline.txt": "파일 이름에 줄바꿈이 있는 문서다. 지역혁신플랫폼 사업이 확대된다.",
    "dup-a.txt": "같은 내용의 문서가 두 번 들어 있다. 국가 AI 컴퓨팅 센터를 구축한다.",
}
ENCODED = {  # name -> (text, encoding)
    "cp949.txt": ("기획재정부 보도자료\n안도걸 제2차관은 광주 인공지능 집적단지를 방문했다.", "cp949"),
    "euckr.txt": ("교육부는 반도체 전문인력 1만명을 양성한다고 밝혔다.", "euc-kr"),
    "utf16-bom.txt": ("국토교통부는 스마트시티 챌린지 공모를 시작한다고 밝혔다.", "utf-16"),
    "utf16le-nobom.txt": ("지역혁신사업(RIS)은 지자체와 대학이 협력하는 사업이다. " * 4, "utf-16-le"),
}
NUL_TEXT = "널 문자가 섞인 문서다. 그래도 본문은 남아야 한다."
BROKEN_HTML = ("<html><head><title>깨진 페이지<body><h1>고장난 HTML 문서\n<p>닫히지 않은 문단이다. 인공지능 사관학교 "
               "졸업생이 늘었다.<p>두 번째 문단<div><span>표 안의 <b>굵은 글씨")
NESTED_HTML = ("<html><body>" + "<div>" * 5000 + "<p>깊이 중첩된 본문 문장이다. 딥시크 충격 이후 대응책을 논의했다.</p>"
               + "</div>" * 5000 + "</body></html>")
LINE_WORDS = "인공지능 집적단지 예산 광주 "
BOILERPLATE_ONLY = ("홈\n로그인\n전체메뉴\n주요 콘텐츠로 건너뛰기\n2025.07.10 (목)\n맑음서울 29.1℃\n흐림강릉 29.4℃\n"
                    "맑음광주 31.6℃\n기상청 제공\n더보기\n")

# every file that must end up indexed, and a sentence its text must contain
EXPECTED_GOOD = {
    **{name: text.splitlines()[-1].strip() for name, text in GOOD_TEXT.items()},
    **{name: text.split("\n")[-1].strip().split(". ")[0] for name, (text, _) in ENCODED.items()},
    "nul-inside.txt": "그래도 본문은 남아야 한다.",
    "broken.html": "닫히지 않은 문단이다.",
    "nested.html": "딥시크 충격 이후 대응책을 논의했다.",
    "one-long-line.txt": "인공지능 집적단지 예산 광주 인공지능",
    "large.txt": "0번 문단: 정부는 광주 인공지능 집적단지 사업에",
}
# files that must be skipped, and a word the reason must contain
EXPECTED_SKIPPED = {
    "empty.txt": "empty",
    "image.txt": "PNG",
    "program.md": "ELF",
    "random.txt": "",  # binary / encoding: any reason
    "fake.docx": "damaged or truncated DOCX",
    "truncated.hwpx": "damaged or truncated HWPX",
    "empty.pdf": "empty",
    "text-named.pdf": "not a valid PDF",
    "hwp-named.docx": "not a DOCX file",
    "bomb.docx": "zip bomb",
    "table.xlsx": "unsupported file type .xlsx",
    "outside-link.txt": "outside",
    "loop.txt": "loop",
    "dup-b.txt": "duplicate",
    "boilerplate-only.txt": "no text left",
}
# files that may be read or skipped, but never crash anything
EITHER = ("mixed-utf8-cp949.txt", "no-permission.txt", "bit-flipped.pdf")


def make_corpus(root: Path, large_bytes: int) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in GOOD_TEXT.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "dup-b.txt").write_text(GOOD_TEXT["dup-a.txt"], encoding="utf-8")
    for name, (text, enc) in ENCODED.items():
        (corpus / name).write_bytes(text.encode(enc))
    (corpus / "nul-inside.txt").write_bytes(NUL_TEXT.replace("그래도", "\x00그래도\x00\x00").encode("utf-8"))
    (corpus / "broken.html").write_text(BROKEN_HTML, encoding="utf-8")
    (corpus / "nested.html").write_text(NESTED_HTML, encoding="utf-8")
    (corpus / "one-long-line.txt").write_text(LINE_WORDS * (2**20 // len(LINE_WORDS.encode())), encoding="utf-8")
    n = max(1, large_bytes // len(PARA.encode()))
    with open(corpus / "large.txt", "w", encoding="utf-8") as fh:
        for i in range(0, n, 10_000):
            fh.write("".join(f"{j}번 문단: {PARA}" for j in range(i, min(n, i + 10_000))))
    (corpus / "boilerplate-only.txt").write_text(BOILERPLATE_ONLY, encoding="utf-8")
    # bad files
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(500))
    (corpus / "program.md").write_bytes(b"\x7fELF\x02\x01\x01\x00" + random.Random(2).randbytes(500))
    (corpus / "random.txt").write_bytes(random.Random(3).randbytes(4096))
    (corpus / "fake.docx").write_bytes(b"PK\x03\x04" + "가짜 워드 문서".encode())
    formats = REPO / "tests" / "fixtures" / "formats"
    hwpx = (formats / "moef-2024q1-overseas-direct-investment.hwpx").read_bytes()
    (corpus / "truncated.hwpx").write_bytes(hwpx[: len(hwpx) // 3])
    (corpus / "empty.pdf").write_bytes(b"")
    (corpus / "text-named.pdf").write_bytes("PDF라고 이름 붙인 텍스트 파일".encode())
    (corpus / "hwp-named.docx").write_bytes((formats / "footnote-01.hwp").read_bytes())
    pdf = bytearray((formats / "moef-2024q1-overseas-direct-investment.pdf").read_bytes())
    for i in range(1000, len(pdf), 997):  # PDFium recovers what it can: read or skipped, never a crash
        pdf[i] ^= 0xFF
    (corpus / "bit-flipped.pdf").write_bytes(bytes(pdf))
    with zipfile.ZipFile(corpus / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:  # 20 MB of zeros in ~20 KB
        z.writestr("word/document.xml", b"\0" * (20 * 2**20))
    (corpus / "table.xlsx").write_bytes(b"PK\x03\x04" + random.Random(4).randbytes(200))
    (corpus / "mixed-utf8-cp949.txt").write_bytes(
        "앞부분은 UTF-8 문장이다. 광주 인공지능.\n".encode() * 20 + "뒷부분은 CP949 문장이다.\n".encode("cp949") * 20)
    secret = root / "outside-secret.txt"
    secret.write_text("코퍼스 밖의 비밀 문서다. 읽히면 안 된다.", encoding="utf-8")
    (corpus / "outside-link.txt").symlink_to(secret)
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    locked = corpus / "no-permission.txt"
    locked.write_text("권한이 없는 문서다. 읽을 수 있으면 색인된다.", encoding="utf-8")
    locked.chmod(0)
    return corpus


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` without following links: mode, size, and sha256 or link target."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = p.relative_to(folder).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                try:
                    digest = hashlib.sha256(p.read_bytes()).hexdigest()
                except PermissionError:
                    digest = "unreadable"
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, digest)
            else:
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
    return out


def check_outcome(docs, skipped) -> None:
    by = {d.source: d for d in docs}
    reasons = {s.source: s.reason for s in skipped}
    for name, sentence in EXPECTED_GOOD.items():
        assert name in by, (name, reasons.get(name))
        assert sentence in by[name].text, (name, by[name].text[:200])
    assert by["nul-inside.txt"].text == NUL_TEXT
    assert by["cp949.txt"].encoding.lower().replace("-", "") in ("cp949", "euckr", "uhc")
    assert "outside-secret" not in json.dumps([d.to_json() for d in docs], ensure_ascii=False)
    assert "비밀 문서" not in "".join(d.text for d in docs)
    for name, word in EXPECTED_SKIPPED.items():
        assert name in reasons, (name, by.get(name) and by[name].text[:100])
        assert reasons[name].strip() and word in reasons[name], (name, reasons[name])
    for name in EITHER:
        assert (name in by) != (name in reasons), name
        if name in reasons:
            assert reasons[name].strip()
    if not IS_ROOT:  # root reads mode-000 files; anyone else gets a reasoned skip
        assert "permission" in reasons["no-permission.txt"]
    # nothing vanished silently: every directory entry is either a document or a reasoned skip
    assert set(by) | set(reasons) == set(EXPECTED_GOOD) | set(EXPECTED_SKIPPED) | set(EITHER)
    assert not set(by) & set(reasons)


def test_load_hostile_corpus(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    corpus = make_corpus(tmp_path, large_bytes=50 * 2**20)
    before = snapshot(corpus)
    caplog.set_level(logging.WARNING, logger="indexer")
    t0 = time.perf_counter()
    docs, skipped = load_corpus(corpus, progress=False)
    seconds = time.perf_counter() - t0
    assert seconds < 60, f"load_corpus took {seconds:.1f} s on a 50 MB corpus"
    check_outcome(docs, skipped)
    assert len(by_large := [d for d in docs if d.source == "large.txt"]) == 1 and len(by_large[0].text) > 20_000_000
    # every skip is logged as a warning that names the file and its reason
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for s in skipped:
        assert any(s.source in m and s.reason in m for m in messages), (s, messages)
    assert any("nul-inside.txt" in m and "NUL" in m for m in messages)
    assert snapshot(corpus) == before


@pytest.fixture(scope="module")
def small_hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same hostile corpus with a 256 KB large file (embedding 50 MB would take far too long)."""
    return make_corpus(tmp_path_factory.mktemp("hostile"), large_bytes=256 * 2**10)


def test_build_index_on_hostile_corpus(small_hostile: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    before = snapshot(small_hostile)
    out = tmp_path / "index"
    report = build_index(small_hostile, out, model=str(tiny_model_dir), progress=False)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {s["source"]: s["reason"] for s in manifest["skipped"]}
    assert listed == {s.source: s.reason for s in report.skipped}
    for name, word in EXPECTED_SKIPPED.items():
        assert name in listed and word in listed[name], (name, listed.get(name))
    assert all(r.strip() for r in listed.values())
    assert set(EXPECTED_GOOD) <= set(manifest["corpus"]["files"])
    assert manifest["counts"]["documents"] == report.documents >= len(EXPECTED_GOOD)
    assert manifest["counts"]["skipped"] == len(listed)
    from retriever import Retriever

    r = Retriever.load(out)
    assert r.search("광주 인공지능 집적단지", k=3)
    assert snapshot(small_hostile) == before


def test_cli_on_hostile_corpus(small_hostile: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    before = snapshot(small_hostile)
    out = tmp_path / "index"
    p = subprocess.run([sys.executable, "-m", "indexer", str(small_hostile), "--out", str(out), "-q",
                        "--model", str(tiny_model_dir)],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    for name, word in EXPECTED_SKIPPED.items():
        assert any(line.startswith(f"skipped {name}: ") and word in line for line in p.stderr.splitlines()), \
            (name, p.stderr)
    assert "indexed" in p.stdout and (out / "manifest.json").is_file()
    assert snapshot(small_hostile) == before
