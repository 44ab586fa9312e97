"""Text normalisation and web-boilerplate removal.

Everything here is a general rule about scraped Korean web and press-release text, never a
string of one particular document. The input is decoded text; the output is the "clean text"
that chunks slice and citations point into.

>>> clean_text("주요 콘텐츠로 건너뛰기\\n\\n본문\\u00a0첫 문장이다.")
'본문 첫 문장이다.'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "normalize_unicode", "strip_markup"]

# zero-width and invisible formatting characters removed outright
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
# C0/C1 control characters other than tab and newline become a space
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u3000]+")

# HTML tags left in scraped text files, and markdown emphasis
_TAG_NAMES = (
    "a|abbr|b|br|big|blockquote|caption|center|code|col|colgroup|dd|div|dl|dt|em|font|h[1-6]|hr|i|"
    "img|li|ol|p|pre|small|span|strong|sub|sup|table|tbody|td|tfoot|th|thead|tr|u|ul"
)
_TAG = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")

# sentence-final characters: a line ending in one of these is not a soft wrap
_FINAL = ".!?。…\"”’」』)]>:;"
# list markers that start a new item even after a soft-wrapped line
_BULLET = re.compile(r"^(?:[-*•·▲△▶▷►■□○●◎◆◇※☞→]|\d+[.)]|[①-⑳]|\(\d+\)|[가-하][.)])\s*")

_SKIP_LINK = re.compile(
    r"^(?:(?:주요\s*)?(?:본문|콘텐츠|컨텐츠|메뉴|내용|주메뉴|하위메뉴)\s*(?:으로|로)?\s*(?:바로\s*가기|건너\s*뛰기)"
    r"|skip\s+(?:to|navigation).*)$",
    re.IGNORECASE,
)
_NAV_WORDS = {
    "홈", "home", "로그인", "로그아웃", "회원가입", "사이트맵", "전체메뉴", "메뉴", "검색", "닫기", "열기",
    "이전", "다음", "목록", "top", "맨위로", "위로", "인쇄", "공유", "공유하기", "스크랩", "구독", "english",
    "글자크기", "확대", "축소", "페이스북", "트위터", "카카오톡", "카카오스토리", "네이버블로그", "url복사",
}
_BREADCRUMB = re.compile(r"^\S+(?:\s*[>›»]\s*\S+){2,}$")

# widgets: weather and market tickers (short lines with a measurement)
_WEATHER = re.compile(r"(?:℃|°[CF]|맑음|흐림|구름\s*(?:많음|조금)|소나기|연무|황사|미세먼지)")
_TICKER = re.compile(r"(?:[▲▼△▽]\s*\d|\b(?:KOSPI|KOSDAQ|NASDAQ|DOW|S&P|USD|EUR|JPY|코스피|코스닥|환율)\b)", re.I)
_DATE_ONLY = re.compile(r"^\d{4}[./-]\s?\d{1,2}[./-]\s?\d{1,2}\.?\s*(?:\([월화수목금토일]\))?$")
_ATTRIBUTION = re.compile(r"^\S{1,12}\s*제공$")

# related-news / "more" tails
_TAIL_MARKER = re.compile(
    r"^(?:\+?\s*더\s*보기\s*\+?|more|관련\s*기사|관련\s*뉴스|많이\s*본\s*(?:기사|뉴스)|인기\s*기사|포토\s*(?:이슈|뉴스)"
    r"|\S{0,6}핫\s*이슈|주요\s*뉴스|최신\s*(?:기사|뉴스)|추천\s*기사|이\s*시각\s*(?:주요|인기)\s*뉴스|오늘의\s*(?:뉴스|이슈))$",
    re.IGNORECASE,
)

# bylines, copyright lines and photo captions
_BYLINE = re.compile(
    r"(?:^\S{2,4}\s*(?:기자|특파원|통신원)\s*(?:[\w.+-]+@[\w.-]+|=)?$"
    r"|기자\s*[\w.+-]+@[\w.-]+\.\w+\s*$"
    r"|무단\s*전재|재배포\s*금지|^copyright\b|저작권자\s*[©(]|all rights reserved)",
    re.IGNORECASE,
)
# a wire-service dateline opening the lead sentence: "(서울=뉴스1) 홍길동 기자 = "
_DATELINE = re.compile(r"^\(\S+=\S+\)\s*(?:\S{2,4}\s*(?:기자|특파원)\s*=?\s*)?")
_CAPTION = re.compile(r"(?:\(\s*사진\s*[=:]|\[\s*사진|사진\s*[=:]\s*\S|사진\s*제공|^사진\s|/\s*사진|^\[?포토\]?\s)")

_SHORT = 30
# a hard-wrapped line is long: the scraper cut it at its width
_WRAP_MIN = 40


def _raw_lines(text: str) -> list[str]:
    """NFKC lines with invisible and control characters handled, spacing not yet collapsed."""
    for sep in ("\r\n", "\r", "\u2028", "\u2029"):
        text = text.replace(sep, "\n")
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return _CONTROL.sub(" ", text).split("\n")


def _collapse(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def normalize_unicode(text: str) -> str:
    """NFKC, invisible characters removed, line endings and spaces unified, lines stripped.

    >>> normalize_unicode("가\\u00a0나\\r\\n\\u200b다  라")
    '가 나\\n다 라'
    """
    return "\n".join(_collapse(line) for line in _raw_lines(text))


def strip_markup(text: str) -> str:
    """Remove HTML tags and markdown emphasis left inside a text file."""
    return _EMPHASIS.sub(r"\2", _TAG.sub(" ", text))


def _soft_wrapped(raw_line: str, line: str, next_line: str | None) -> bool:
    """A line that a scraper cut mid-sentence: trailing space, no final punctuation."""
    if not line or next_line is None or not next_line:
        return False
    if len(line) < _WRAP_MIN or not raw_line[-1:].isspace() or line[-1] in _FINAL:
        return False
    return not _BULLET.match(next_line)


def _join_soft_wraps(text: str) -> list[str]:
    """Normalise each line and join lines that were wrapped mid-sentence (blank lines between)."""
    raw_lines = _raw_lines(text)
    lines = [_collapse(line) for line in raw_lines]
    out: list[str] = []
    pending: str | None = None
    for i, line in enumerate(lines):
        if pending is not None:
            if not line:
                continue  # blank lines inside a wrapped sentence
            line = f"{pending} {line}"
            pending = None
        nxt = next((lines[j] for j in range(i + 1, len(lines)) if lines[j]), None)
        if _soft_wrapped(raw_lines[i], lines[i], nxt):
            pending = line
            continue
        out.append(line)
    if pending is not None:
        out.append(pending)
    return out


def _is_nav(line: str) -> bool:
    low = line.lower().replace(" ", "")
    return bool(_SKIP_LINK.match(line)) or low in _NAV_WORDS or bool(_BREADCRUMB.match(line) and len(line) < 60)


def _is_widget(line: str) -> bool:
    if len(line) > _SHORT or not any(c.isdigit() for c in line):
        return False
    return bool(_WEATHER.search(line) or _TICKER.search(line))


def _drop_widget_runs(lines: list[str]) -> list[str]:
    """Remove runs of >= 3 short widget lines (weather, tickers) with their date and credit lines."""
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        if not _is_widget(lines[i]):
            i += 1
            continue
        j, count, last = i, 0, i
        while j < len(lines) and (not lines[j] or _is_widget(lines[j])):
            if lines[j]:
                count, last = count + 1, j
            j += 1
        if count >= 3:
            lo, hi = i, last + 1
            # a date line just above and a "… 제공" credit line just below belong to the widget
            k = lo - 1
            while k >= 0 and not lines[k]:
                k -= 1
            if k >= 0 and _DATE_ONLY.match(lines[k]):
                lo = k
            k = hi
            while k < len(lines) and not lines[k]:
                k += 1
            if k < len(lines) and _ATTRIBUTION.match(lines[k]):
                hi = k + 1
            for t in range(lo, hi):
                keep[t] = False
        i = max(j, i + 1)
    return [line for line, k in zip(lines, keep) if k]


def _cut_tail(lines: list[str]) -> list[str]:
    """Cut a related-news / "더보기" tail that starts in the second half of the page."""
    content = [i for i, line in enumerate(lines) if line]
    if len(content) < 4:
        # too short to tell an article from its tail, unless nothing but tail markers is left
        if all(len(lines[i]) <= 20 and _TAIL_MARKER.match(lines[i]) for i in content):
            return []
        return lines
    half = content[len(content) // 2]
    for i in range(half, len(lines)):
        if lines[i] and len(lines[i]) <= 20 and _TAIL_MARKER.match(lines[i]):
            # section labels just above the marker ("정치", "사회") go with it
            k = i - 1
            while k >= 0 and (not lines[k] or (len(lines[k]) <= 6 and " " not in lines[k])):
                k -= 1
            return lines[: k + 1]
    return lines


def clean_text(text: str, *, markup: bool = True) -> str:
    """Normalise ``text`` and remove web boilerplate; paragraphs end up separated by one blank line.

    ``markup=True`` also strips HTML tags and markdown emphasis left in text files.

    >>> clean_text("2025.07.10 (목)\\n• 맑음서울 29.1℃\\n• 흐림강릉 29.4℃\\n• 맑음광주 31.6℃\\n기상청 제공\\n본문이다.")
    '본문이다.'
    """
    if markup:
        text = strip_markup(text)
    lines = _join_soft_wraps(text)
    lines = [line for line in lines if not (line and len(line) <= 40 and _is_nav(line))]
    lines = [line for line in lines if not (line and len(line) <= 80 and (_BYLINE.search(line) or _CAPTION.search(line)))]
    lines = [_DATELINE.sub("", line) for line in lines]
    lines = _drop_widget_runs(lines)
    lines = _cut_tail(lines)
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
