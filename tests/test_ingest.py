"""Ingestion: encodings, Unicode cleanup, boilerplate rules (seeds and synthetic pages), bad files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.clean import clean_text, normalize_unicode
from indexer.errors import CorpusError
from indexer.ingest import decode_bytes, load_corpus

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
BOILERPLATE = ("구름많음", "주요 콘텐츠로 건너뛰기", "더보기", "\xa0", "기상청 제공", "정명근")


def checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


# --------------------------------------------------------------------------- encodings
@pytest.mark.parametrize("encoding", ["cp949", "euc-kr", "utf-16", "utf-8-sig", "utf-8"])
def test_encodings_round_trip(tmp_path: Path, encoding: str) -> None:
    text = "과학기술정보통신부는 24일 광주 인공지능 집적단지 사업계획을 확정했다.\n예산은 1,076억원 규모다."
    (tmp_path / "doc.txt").write_bytes(text.encode(encoding))
    docs, skipped = load_corpus(tmp_path, progress=False)
    assert skipped == []
    assert docs[0].text == text


def test_utf16_without_bom_is_detected() -> None:
    text = "지역혁신사업(RIS)은 지자체와 대학이 협력하는 사업이다. " * 3
    decoded, enc = decode_bytes(text.encode("utf-16-le"))
    assert decoded == text and "16" in enc


def test_cp949_file_keeps_its_bytes(tmp_path: Path) -> None:
    raw = "기획재정부 보도자료\n안도걸 제2차관 현장방문".encode("cp949")
    (tmp_path / "a.txt").write_bytes(raw)
    load_corpus(tmp_path, progress=False)
    assert (tmp_path / "a.txt").read_bytes() == raw


def test_unicode_normalisation() -> None:
    s = "인공지능\u00a0분야\u200b 추경\r\n１，０７６억원\u3000규모\ufeff"
    assert normalize_unicode(s) == "인공지능 분야 추경\n1,076억원 규모"


# --------------------------------------------------------------------------- seeds
def test_seed_corpus_is_clean() -> None:
    docs, skipped = load_corpus(CORPUS, progress=False)
    assert len(docs) == 4 and skipped == []
    for d in docs:
        for bad in BOILERPLATE:
            assert bad not in d.text, (d.source, bad)
    ax = next(d for d in docs if "motie" in d.source)
    assert ax.text.startswith("IT/과학") or ax.text.startswith("산업부")
    assert "[뉴스출처 : 산업통상자원부]" in ax.text  # the article's own last line survives the tail cut
    budget = next(d for d in docs if "budget" in d.source)
    # hard-wrapped lines of the scrape are joined back into sentences
    assert "1조 8천억원 규모의 인공지능(AI) 분야 추경 정부안을 계기로," in budget.text


def test_seed_titles_and_metadata() -> None:
    docs, _ = load_corpus(CORPUS, progress=False)
    by = {d.source: d for d in docs}
    d = by["2021-06-16_moef_gwangju-ai-cluster-ris-visit.txt"]
    assert d.title.startswith("안도걸 기획재정부 제2차관") and d.meta["publisher"] == "기획재정부"
    assert d.meta["date"] == "2021-06-16"


def test_document_without_metadata_gets_first_line_title(tmp_path: Path) -> None:
    (tmp_path / "memo.md").write_text("# 회의 결과 보고\n\n본문은 여기에 있다.\n", encoding="utf-8")
    (tmp_path / "x.txt").write_text("짧\n", encoding="utf-8")
    docs, _ = load_corpus(tmp_path, progress=False)
    by = {d.source: d for d in docs}
    assert by["memo.md"].title == "# 회의 결과 보고"
    assert by["x.txt"].title == "x"  # too short a first line: the file name


# --------------------------------------------------------------------------- synthetic pages
NEWS_HTML = """<!doctype html><html><head><title>뉴스포털 - 기사</title><style>.x{}</style>
<script>var a = "<p>광고</p>";</script></head><body>
<a href="#main" class="skip">본문 바로가기</a>
<nav><ul><li>홈</li><li>정치</li><li>경제</li></ul></nav>
<div class="weather-widget"><ul><li>맑음서울 21.3℃</li><li>흐림부산 19.0℃</li><li>구름많음대구 22.1℃</li></ul></div>
<main><h1>정부, 반도체 인재 1만명 양성 추진</h1>
<p>(서울=뉴스1) 김철수 기자 = 정부가 2030년까지 반도체 전문인력 1만명을 양성한다고 밝혔다.</p>
<p>교육부는 계약학과를 확대하고 실습 장비를 지원할 계획이다.</p>
<p>▲ 반도체 실습실 모습 (사진=교육부 제공)</p>
<p>김철수 기자 kim@news.example</p>
<p>저작권자 © 뉴스포털 무단전재 및 재배포 금지</p></main>
<div class="related-news"><h3>관련기사</h3><ul><li>다른 기사 제목</li></ul></div>
<footer>회사소개 | 개인정보처리방침</footer></body></html>"""

TICKER_TXT = """오늘의 시장
KOSPI 2,612.35 ▲12.4
KOSDAQ 845.12 ▼3.2
USD 1,352.0 ▲1.5
환율 1,350원 ▲2

중소벤처기업부는 스마트공장 보급 사업에 올해 3,000억원을 투입한다고 밝혔다.
지원 대상은 제조 중소기업 1,200곳이다.

많이 본 뉴스
1. 연예인 결혼 소식
2. 날씨 급변
더보기
"""

MARKDOWN_MD = """홈 > 정책 > 보도자료 > 상세
주요 콘텐츠로 건너뛰기

**국토교통부**는 2025년 스마트시티 챌린지 공모를 시작한다고 밝혔다.

공모 기간은 __3월 4일부터 4월 5일까지__이며 총 6곳을 선정한다.

Copyright (c) 국토교통부. All rights reserved.
"""


def test_boilerplate_html_news_page(tmp_path: Path) -> None:
    (tmp_path / "news.html").write_text(NEWS_HTML, encoding="utf-8")
    docs, _ = load_corpus(tmp_path, progress=False)
    t = docs[0].text
    assert docs[0].title == "정부, 반도체 인재 1만명 양성 추진"
    assert "정부가 2030년까지 반도체 전문인력 1만명을 양성한다고 밝혔다." in t
    assert "교육부는 계약학과를 확대하고 실습 장비를 지원할 계획이다." in t
    for bad in ("바로가기", "맑음서울", "℃", "사진=", "kim@news.example", "무단전재", "관련기사", "다른 기사",
                "개인정보처리방침", "광고", "정치"):
        assert bad not in t, bad


TABLE_HTML = """<html><head><title>1분기 수출 동향</title></head><body>
<h1>1분기 수출 동향</h1>
<p>2025년 1분기 수출액은 1,500억 달러로 전년 동기 대비 3.0% 증가하였다.</p>
<table><caption>품목별 동향(억 달러, %)</caption>
<thead><tr><th rowspan="2">구 분</th><th colspan="2">2025년</th></tr><tr><th>1분기</th><th>증감률</th></tr></thead>
<tbody><tr><td>반도체</td><td>320.5</td><td>(△1.2)</td></tr><tr><td>자동차</td><td>181.2</td><td>(6.6)</td></tr></tbody>
</table>
<table class="layout"><tr><td>메뉴</td><td>LAYOUT</td></tr></table>
</body></html>"""


def test_a_web_table_gives_one_line_per_row_with_its_headers(tmp_path: Path) -> None:
    # as an HWP or DOCX table: its caption, a line of column labels, then "label: value" cells per row
    long_cell = "정부는 반도체 수출 지원을 위해 " + "세제 혜택과 금융 지원을 확대하고 인력 양성 사업을 추진한다. " * 12  # over 300 characters
    html = TABLE_HTML.replace("LAYOUT", long_cell)
    (tmp_path / "stats.html").write_text(html, encoding="utf-8")
    docs, _ = load_corpus(tmp_path, progress=False)
    lines = docs[0].text.split("\n")
    at = lines.index("품목별 동향(억 달러, %)")
    assert lines[at + 1:at + 4] == [
        "구 분 | 2025년 1분기 | 2025년 증감률",
        "구 분: 반도체 | 2025년 1분기: 320.5 | 2025년 증감률: (△1.2)",
        "구 분: 자동차 | 2025년 1분기: 181.2 | 2025년 증감률: (6.6)",
    ]
    # a table that lays out the page (a cell holding a paragraph) still reads as text, nothing lost
    assert "정부는 반도체 수출 지원을 위해 세제 혜택과" in docs[0].text and "메뉴" in docs[0].text
    assert not any(line.startswith("메뉴 |") or "메뉴:" in line for line in lines)


def test_boilerplate_ticker_and_related_tail(tmp_path: Path) -> None:
    (tmp_path / "market.txt").write_text(TICKER_TXT, encoding="utf-8")
    docs, _ = load_corpus(tmp_path, progress=False)
    t = docs[0].text
    assert "스마트공장 보급 사업에 올해 3,000억원을 투입한다고 밝혔다." in t and "1,200곳" in t
    for bad in ("KOSPI", "▲", "많이 본 뉴스", "연예인", "더보기"):
        assert bad not in t, bad


def test_boilerplate_markdown_breadcrumb_skiplink_copyright(tmp_path: Path) -> None:
    (tmp_path / "press.md").write_text(MARKDOWN_MD, encoding="utf-8")
    docs, _ = load_corpus(tmp_path, progress=False)
    t = docs[0].text
    assert t.startswith("국토교통부는 2025년 스마트시티 챌린지 공모를 시작한다고 밝혔다.")
    assert "3월 4일부터 4월 5일까지이며" in t
    for bad in ("홈 >", "건너뛰기", "**", "__", "Copyright", "rights reserved"):
        assert bad not in t, bad


def test_clean_keeps_bulleted_content() -> None:
    # list markers like ▲ and short numeric lines inside a real article are content, not widgets
    t = clean_text("추진 과제는 다음과 같다.\n▲ 컴퓨팅 기반 확충\n▲ 차세대 모형 개발\n▲ 전환 가속화\n예산은 1,400억원이다.")
    assert "▲ 차세대 모형 개발" in t and "예산은 1,400억원이다." in t


# --------------------------------------------------------------------------- bad input
def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("정상 문서다. 인공지능 예산은 1조 원이다.", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (corpus / "random.md").write_bytes(bytes(range(256)) * 8)
    (corpus / "table.xlsx").write_bytes(b"PK\x03\x04rest")
    (corpus / "only-boilerplate.html").write_text("<nav>홈</nav><footer>회사소개</footer>", encoding="utf-8")
    (corpus / "copy.txt").write_text("정상 문서다. 인공지능 예산은 1조 원이다.", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("비밀 문서", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    before = checksums(corpus)
    docs, skipped = load_corpus(corpus, progress=False)
    assert [d.source for d in docs] == ["copy.txt"] or [d.source for d in docs] == ["good.txt"]
    reasons = {s.source: s.reason for s in skipped}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["image.txt"] and "PNG" in reasons["image.txt"]
    assert "binary" in reasons["random.md"] or "encoding" in reasons["random.md"]
    assert "unsupported file type .xlsx" in reasons["table.xlsx"]
    assert "no text left" in reasons["only-boilerplate.html"]
    assert "duplicate" in reasons["good.txt"] or "duplicate" in reasons["copy.txt"]
    assert reasons["link.txt"] == "link points outside the corpus folder"
    assert "loop" in reasons["loop.txt"] or "broken" in reasons["loop.txt"]
    assert checksums(corpus) == before


def test_missing_and_empty_corpus_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no indexable document"):
        load_corpus(tmp_path / "empty")


def test_cli_empty_corpus_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "blank.txt").write_text("   \n", encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "indexer", str(tmp_path / "c"), "--out", str(tmp_path / "i"), "-q"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 2
    assert "no indexable document" in p.stderr and "blank.txt: empty file" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "i").exists()
