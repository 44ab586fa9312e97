"""HTML for the chat: answers with citation marks, source cards, whole-document views.

Everything taken from documents or from the user is escaped here, for HTML *and* for markdown (the
chatbot renders markdown before its HTML sanitizer), so a passage holding ``<script>``, ``**bold**``,
``[link](url)`` or ``$x$`` is shown literally. Only this module's own tags (``<mark>``, ``<div>``, ...)
are markup.

>>> esc("<b>**x**</b> 'a'")
'&lt;b&gt;&#42;&#42;x&#42;&#42;&lt;/b&gt; &#39;a&#39;'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CLOSEST",
    "MODE_LABELS",
    "NOT_FOUND",
    "answer_message_html",
    "document_html",
    "empty_panel_html",
    "esc",
    "fmt_int",
    "mark_spans",
    "paragraph_of",
    "passage_html",
    "position_text",
    "sources_panel_html",
    "user_message_html",
]

NOT_FOUND = "문서에서 답을 찾지 못했습니다"
CLOSEST = "가장 가까운 구절"
# list bullets that start a sentence in press releases ("- ", "○ ", "□ ", "* ", "1) "): not part of an answer
_LEAD_MARK = re.compile(r"^(?:[-*•·○●□■◇◆▶▷※ㅇ>]+|\(?\d{1,2}[).])\s+")
MODE_LABELS = {"hybrid": "하이브리드", "bm25": "키워드", "dense": "의미"}

# HTML specials, and characters that markdown, LaTeX or a template engine could read as syntax, as entities
# (one pass, so entities are never escaped twice)
_ENTITIES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    "*": "&#42;", "_": "&#95;", "`": "&#96;", "[": "&#91;", "]": "&#93;", "#": "&#35;", "~": "&#126;",
    "|": "&#124;", "$": "&#36;", "\\": "&#92;", "!": "&#33;", "{": "&#123;", "}": "&#125;", "=": "&#61;",
    "+": "&#43;", "-": "&#45;", "^": "&#94;", ":": "&#58;",
})


def esc(text: Any) -> str:
    """``text`` as inert HTML: HTML specials and markdown/LaTeX/template characters as entities."""
    return str(text).translate(_ENTITIES)


def fmt_int(n: int) -> str:
    """1234 -> '1,234'."""
    return f"{int(n):,}"


def _merge(spans: Iterable[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Clip spans to ``[lo, hi)``, drop empty ones, merge overlaps; sorted."""
    clipped = sorted((max(s, lo), min(e, hi)) for s, e in spans if min(e, hi) > max(s, lo))
    out: list[tuple[int, int]] = []
    for s, e in clipped:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def mark_spans(text: str, base: int, spans: Iterable[tuple[int, int]]) -> str:
    """Escaped ``text`` (which starts at document offset ``base``) with ``spans`` (document offsets) in ``<mark>``."""
    merged = _merge(((s - base, e - base) for s, e in spans), 0, len(text))
    parts: list[str] = []
    pos = 0
    for s, e in merged:
        parts.append(esc(text[pos:s]))
        parts.append(f"<mark>{esc(text[s:e])}</mark>")
        pos = e
    parts.append(esc(text[pos:]))
    return "".join(parts)


def _spans_for(highlights: Sequence[Sequence[int]], i: int) -> list[tuple[int, int]]:
    return [(int(s), int(e)) for ci, s, e in highlights if int(ci) == i]


def passage_html(hit: Any, highlights: Sequence[Sequence[int]], i: int) -> str:
    """Citation ``i``'s passage, escaped, with its answer sentences highlighted."""
    return mark_spans(hit.text, hit.start, _spans_for(highlights, i))


def document_html(doc_text: str, hit: Any, highlights: Sequence[Sequence[int]], i: int) -> str:
    """The whole document, escaped; the cited passage framed and the answer sentences highlighted."""
    start, end = max(0, hit.start), min(len(doc_text), hit.end)
    inner = mark_spans(doc_text[start:end], start, _spans_for(highlights, i))
    return f'{esc(doc_text[:start])}<span class="passage">{inner}</span>{esc(doc_text[end:])}'


def paragraph_of(doc_text: str, offset: int) -> tuple[int, int]:
    """(1-based paragraph holding ``offset``, number of paragraphs); paragraphs are non-empty lines."""
    lines = doc_text.split("\n")
    total = sum(1 for ln in lines if ln.strip())
    pos = 0
    para = 0
    for ln in lines:
        if ln.strip():
            para += 1
        if offset < pos + len(ln) + 1:
            break
        pos += len(ln) + 1
    return max(1, min(para, total)), max(total, 1)


def position_text(doc_text: str | None, start: int, end: int, page: int | None = None) -> str:
    """'p. 3 · 문서 117–420번째 글자 (전체 2,169자) · 3번째 문단 (전체 25문단)' (the page only for paged documents)."""
    s = (f"p. {page} · " if page else "") + f"문서 {fmt_int(start + 1)}–{fmt_int(end)}번째 글자"
    if doc_text:
        p, total = paragraph_of(doc_text, start)
        s += f" (전체 {fmt_int(len(doc_text))}자) · {fmt_int(p)}번째 문단 (전체 {fmt_int(total)}문단)"
    return s


def _meta_line(hit: Any) -> str:
    meta = hit.meta or {}
    parts = [str(meta[k]) for k in ("publisher", "date") if meta.get(k)]
    return " · ".join(parts)


def _score_line(hit: Any) -> str:
    parts = [f"점수 {hit.score:.3f}"]
    names = {"bm25": "키워드", "dense": "의미", "hybrid": "하이브리드"}
    for key in ("bm25", "dense"):
        if key in (hit.scores or {}):
            parts.append(f"{names[key]} {hit.scores[key]:.3f}")
    return " · ".join(parts)


def user_message_html(question: str) -> str:
    """The user's question as shown in the chat (literal text)."""
    return f'<div class="korag-question">{esc(question)}</div>'


def _answer_sentences(answer: Any, docs: dict[str, dict[str, Any]]) -> str:
    """The answer sentence(s), each followed by its citation mark [n]."""
    out = []
    for ci, s, e in answer.highlights:
        hit = answer.citations[ci] if 0 <= ci < len(answer.citations) else None
        doc = docs.get(hit.doc_id) if hit is not None else None
        if doc is None:
            continue
        sentence = _LEAD_MARK.sub("", " ".join(doc["text"][s:e].split()))
        out.append(f'{esc(sentence)} <sup class="cite">[{ci + 1}]</sup>')
    if not out and answer.text:  # no spans: the text as a whole, from the first citation
        out.append(f'{esc(_LEAD_MARK.sub("", " ".join(answer.text.split())))} <sup class="cite">[1]</sup>')
    return " ".join(out)


def _source_list(answer: Any) -> str:
    """Citations grouped by document: '[1] [3] title — publisher · date'."""
    groups: dict[str, list[int]] = {}
    for i, hit in enumerate(answer.citations):
        groups.setdefault(hit.doc_id, []).append(i)
    items = []
    for idxs in groups.values():
        hit = answer.citations[idxs[0]]
        meta = _meta_line(hit)
        marks = " ".join(f'<span class="cite">[{i + 1}]</span>' for i in idxs)
        pages = sorted({p for p in (answer.citations[i].page for i in idxs) if p})
        where = f' <span class="muted">(p. {", ".join(map(str, pages))})</span>' if pages else ""
        items.append(
            f"<li>{marks} {esc(hit.title)}{where}"
            + (f' <span class="muted">— {esc(meta)}</span>' if meta else "")
            + "</li>"
        )
    return f'<ul class="ans-sources">{"".join(items)}</ul>'


def answer_message_html(answer: Any, docs: dict[str, dict[str, Any]], *, show_scores: bool = False, mode: str = "hybrid") -> str:
    """The assistant's chat message for ``answer`` (one line of HTML, no blank lines)."""
    foot = ""
    if show_scores:
        foot = (f'<div class="ans-foot muted">근거 일치도 {answer.confidence:.0%} · '
                f'검색 {esc(MODE_LABELS.get(mode, mode))} · 구절 {len(answer.citations)}개</div>')
    if answer.found and answer.citations:
        body = (
            f'<div class="ans-text">{_answer_sentences(answer, docs)}</div>'
            f'<div class="ans-label">출처</div>{_source_list(answer)}'
            f'<div class="ans-hint muted">구절과 원문은 오른쪽 ‘출처’ 패널에서 볼 수 있습니다.</div>'
        )
        return f'<div class="korag-answer found">{body}{foot}</div>'
    if answer.citations:
        body = (
            f'<div class="ans-notfound">{NOT_FOUND}.</div>'
            f'<div class="ans-label">{CLOSEST}</div>{_source_list(answer)}'
            f'<div class="ans-hint muted">질문과 가장 가까운 구절을 오른쪽 패널에 보여 드립니다. 질문을 바꿔 다시 물어보세요.</div>'
        )
    else:
        body = f'<div class="ans-notfound">{NOT_FOUND}.</div><div class="ans-hint muted">관련된 구절도 없습니다. 다른 낱말로 물어보세요.</div>'
    return f'<div class="korag-answer notfound">{body}{foot}</div>'


def empty_panel_html(n_docs: int, n_chunks: int) -> str:
    return (
        '<div class="korag-sources empty"><div class="src-empty">'
        '<div class="src-empty-title">출처</div>'
        '<p>질문하면 답의 근거가 된 구절이 여기에 나옵니다. 답이 들어 있는 문장은 '
        '<mark>노란색</mark>으로 표시되고, ‘원문 보기’를 누르면 문서 전체를 읽을 수 있습니다.</p>'
        f'<p class="muted">문서 {fmt_int(n_docs)}건 · 구절 {fmt_int(n_chunks)}개를 검색합니다.</p>'
        "</div></div>"
    )


def sources_panel_html(answer: Any, docs: dict[str, dict[str, Any]], *, show_scores: bool = False) -> str:
    """The side panel: one card per citation, with the highlighted passage and the whole document."""
    if not answer.citations:
        return f'<div class="korag-sources"><div class="src-head notfound">{NOT_FOUND}</div></div>'
    if answer.found:
        head = f'<div class="src-head">출처 · 근거 구절 {len(answer.citations)}개</div>'
    else:
        head = (f'<div class="src-head notfound">{NOT_FOUND} — {CLOSEST} {len(answer.citations)}개</div>')
    q = f'<div class="src-question">질문: {esc(answer.question)}</div>'
    # a not-found answer's best sentence is no answer: show the closest passages without highlights
    highlights = answer.highlights if answer.found else []
    cards = []
    for i, hit in enumerate(answer.citations):
        doc = docs.get(hit.doc_id) or {}
        doc_text = doc.get("text") or ""
        meta = _meta_line(hit)
        note = (hit.meta or {}).get("note")
        label = "답이 있는 구절" if (answer.found and any(int(h[0]) == i for h in highlights)) else (
            CLOSEST if not answer.found else "관련 구절")
        card = [
            f'<article class="src-card{" cited" if label == "답이 있는 구절" else ""}" data-source="{esc(hit.source)}">',
            f'<div class="src-title"><span class="src-num">[{i + 1}]</span> {esc(hit.title)}</div>',
            f'<div class="src-meta">{esc(meta) if meta else ""}'
            f'{" · " if meta else ""}<span class="src-file">{esc(hit.source)}</span></div>',
            f'<div class="src-pos"><span class="src-label">{label}</span> {esc(position_text(doc_text, hit.start, hit.end, getattr(hit, "page", None)))}</div>',
        ]
        if show_scores:
            card.append(f'<div class="src-scores">{esc(_score_line(hit))}</div>')
        card.append(f'<blockquote class="src-passage">{passage_html(hit, highlights, i)}</blockquote>')
        if note:
            card.append(f'<div class="src-note">참고: {esc(note)}</div>')
        if doc_text:
            card.append(
                f'<details class="src-doc"><summary>원문 보기 <span class="muted">(전체 {fmt_int(len(doc_text))}자)</span></summary>'
                f'<div class="doc-text">{document_html(doc_text, hit, highlights, i)}</div></details>'
            )
        card.append("</article>")
        cards.append("".join(card))
    return f'<div class="korag-sources">{head}{q}{"".join(cards)}</div>'
