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
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CITE_HINT",
    "CLOSEST",
    "MODE_LABELS",
    "MORE",
    "NOT_FOUND",
    "RELATED",
    "AnswerParts",
    "Segment",
    "answer_message_html",
    "answer_parts",
    "answer_plain_text",
    "card_id",
    "document_html",
    "empty_panel_html",
    "esc",
    "fmt_int",
    "mark_spans",
    "paragraph_of",
    "passage_html",
    "position_text",
    "question_counter_html",
    "sources_panel_html",
    "used_citations",
    "user_message_html",
]

NOT_FOUND = "문서에서 답을 찾지 못했습니다"
NOT_FOUND_SENTENCE = NOT_FOUND + "."
CLOSEST = "가장 가까운 구절"
RELATED = "관련 있을 수 있는 내용"
ANSWER_PASSAGE = "답이 있는 구절"
MORE = "더 보기"
CITE_HINT = "[번호]를 누르면 그 근거 구절을 출처 목록에서 보여 드립니다."
_BULLET = re.compile(r"^\s*•\s*")
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


# ------------------------------------------------------------------------------------------- answer text
@dataclass(frozen=True)
class Segment:
    """A run of an answer's text: a cited sentence piece (``cite`` its citation index, ``start`` its document
    offset) or text between pieces (``cite`` None: the direct answer, list bullets, labels, spaces)."""

    text: str
    cite: int | None = None
    start: int = 0


def used_citations(answer: Any) -> list[int]:
    """Indices of the citations the answer's sentences come from (``Answer.used``; for an answer made without
    it, the citations of its highlights, else the first)."""
    n = len(answer.citations)
    used = sorted({int(i) for i in (getattr(answer, "used", None) or []) if 0 <= int(i) < n})
    if not used:
        used = sorted({int(h[0]) for h in answer.highlights if 0 <= int(h[0]) < n})
    if not used and n and answer.found:
        used = [0]
    return used


def _piece_texts(answer: Any, docs: dict[str, dict[str, Any]]) -> list[tuple[int, int, str]]:
    """``(citation, start, text)`` of each highlighted piece, in the answer's order."""
    out = []
    for ci, s, e in answer.highlights:
        ci, s, e = int(ci), int(s), int(e)
        if not 0 <= ci < len(answer.citations):
            continue
        hit = answer.citations[ci]
        doc_text = (docs.get(hit.doc_id) or {}).get("text")
        if isinstance(doc_text, str) and 0 <= s < e <= len(doc_text):
            out.append((ci, s, doc_text[s:e]))
        elif hit.start <= s < e <= hit.end:
            out.append((ci, s, hit.text[s - hit.start:e - hit.start]))
    return out


def _segments(text: str, pieces: list[tuple[int, int, str]]) -> list[Segment]:
    """``text`` cut into the pieces it holds (found in order) and the text between them."""
    segs: list[Segment] = []
    pos = 0
    for ci, start, ptext in pieces:
        if not ptext.strip():
            continue
        j = text.find(ptext, pos)
        if j < 0:
            continue
        if j > pos:
            segs.append(Segment(text[pos:j]))
        segs.append(Segment(ptext, ci, start))
        pos = j + len(ptext)
    if pos < len(text):
        segs.append(Segment(text[pos:]))
    return segs


def _lines(segs: list[Segment]) -> list[list[Segment]]:
    """Segments by line: uncited text breaks at its newlines (a cited piece never does); blank lines dropped."""
    lines: list[list[Segment]] = [[]]
    for sg in segs:
        if sg.cite is not None:
            lines[-1].append(sg)
            continue
        for k, part in enumerate(sg.text.split("\n")):
            if k:
                lines.append([])
            if part:
                lines[-1].append(Segment(part))
    return [ln for ln in lines if any(s.text.strip() for s in ln)]


def _strip_bullet(line: list[Segment]) -> list[Segment]:
    """The line without the "• " that opens a digest or related-content line."""
    if line and line[0].cite is None:
        rest = _BULLET.sub("", line[0].text, count=1)
        return ([Segment(rest)] if rest else []) + line[1:]
    return line


@dataclass(frozen=True)
class AnswerParts:
    """An answer's text in the shape it is shown: ``lead`` (the direct answer, or the not-found message),
    ``lines`` (sentences: one paragraph, or one bullet each for a digest and for related content)."""

    kind: str
    lead: str | None
    lines: list[list[Segment]]
    bullets: bool


def answer_parts(answer: Any, docs: dict[str, dict[str, Any]]) -> AnswerParts:
    """Split ``answer.text`` by its ``kind`` into the lead line and the cited sentences (see ``Answer``)."""
    text = answer.text or ""
    kind = getattr(answer, "kind", None) or ("sentence" if answer.found else "not_found")
    lead: str | None = None
    direct = getattr(answer, "direct", None)
    if kind == "factoid" and direct and text.startswith(direct):
        lead, text = direct, text[len(direct):]
    elif kind == "not_found":  # the message (naming what is missing), then the related sentences
        first, _, rest = text.partition("\n")
        lead, text = (first.strip() or NOT_FOUND_SENTENCE), rest
    elif not answer.found:  # an answer without a kind: its text is the closest sentence
        lead = NOT_FOUND_SENTENCE
    lines = _lines(_segments(text, _piece_texts(answer, docs)))
    lines = [ln for ln in lines if "".join(s.text for s in ln).strip().rstrip(":") != RELATED]
    bullets = kind in ("digest", "not_found") or (not answer.found)
    if bullets:
        lines = [_strip_bullet(ln) for ln in lines]
    elif lines:  # one paragraph: the sentences of a factoid or sentence answer, in order
        lines = [[sg for ln in lines for sg in ([Segment(" ")] if ln is not lines[0] else []) + ln]]
    return AnswerParts(kind, lead, lines, bullets)


def card_id(anchor: str, i: int) -> str:
    """The element id of citation ``i``'s card in the source panel of the answer ``anchor`` ("m3")."""
    return f"korag-src-{anchor}-{i + 1}"


def _cite_mark(anchor: str, i: int, *, raised: bool = True) -> str:
    """A clickable [n] (raised after a sentence, inline in the source list): its link targets the card (the page's
    script opens, scrolls to and highlights it; without the script the link jumps to it)."""
    link = f'<a class="cite" href="#{card_id(anchor, i)}" role="button" title="{i + 1}번 근거 구절 보기">[{i + 1}]</a>'
    return f'<sup class="cite-wrap">{link}</sup>' if raised else link


def _bold_span(answer: Any, sg: Segment) -> tuple[int, int] | None:
    """The direct answer's place in a cited piece, as offsets into the piece, when ``direct_span`` lies in it."""
    span = getattr(answer, "direct_span", None)
    if not span or sg.cite is None or int(span[0]) != sg.cite:
        return None
    s, e = int(span[1]) - sg.start, int(span[2]) - sg.start
    return (s, e) if 0 <= s < e <= len(sg.text) else None


def _line_html(answer: Any, line: list[Segment], anchor: str) -> str:
    """One line of an answer: its pieces, the direct answer in bold, a mark [n] after the last piece of each run
    of pieces from one citation."""
    out = []
    cited = [k for k, sg in enumerate(line) if sg.cite is not None]
    for k, sg in enumerate(line):
        bold = _bold_span(answer, sg)
        if bold:
            s, e = bold
            out.append(f'{esc(sg.text[:s])}<strong class="ans-direct-in">{esc(sg.text[s:e])}</strong>{esc(sg.text[e:])}')
        else:
            out.append(esc(sg.text))
        if sg.cite is not None:
            nxt = next((j for j in cited if j > k), None)
            between = "".join(x.text for x in line[k + 1:nxt]) if nxt is not None else ""
            if nxt is None or line[nxt].cite != sg.cite or between.strip():
                out.append(_cite_mark(anchor, sg.cite))
    return "".join(out)


def _line_text(line: list[Segment]) -> str:
    """A line as plain text with its marks [n] (as :func:`_line_html` places them)."""
    out = []
    cited = [k for k, sg in enumerate(line) if sg.cite is not None]
    for k, sg in enumerate(line):
        out.append(sg.text)
        if sg.cite is not None:
            nxt = next((j for j in cited if j > k), None)
            between = "".join(x.text for x in line[k + 1:nxt]) if nxt is not None else ""
            if nxt is None or line[nxt].cite != sg.cite or between.strip():
                out.append(f" [{sg.cite + 1}]")
    return " ".join("".join(out).split())


def _where(hit: Any, docs: dict[str, dict[str, Any]]) -> str:
    """Where a passage is, short: 'p. 3 · 5번째 문단' (the page only for paged documents)."""
    page = getattr(hit, "page", None)
    doc_text = (docs.get(hit.doc_id) or {}).get("text")
    para = f"{fmt_int(paragraph_of(doc_text, hit.start)[0])}번째 문단" if isinstance(doc_text, str) and doc_text else ""
    return " · ".join(x for x in (f"p. {page}" if page else "", para) if x)


def _source_item(hit: Any, i: int, anchor: str, docs: dict[str, dict[str, Any]]) -> str:
    meta = _meta_line(hit)
    where = _where(hit, docs)
    return (f'<li>{_cite_mark(anchor, i, raised=False)} {esc(hit.title)}'
            + (f' <span class="muted">({esc(where)})</span>' if where else "")
            + (f' <span class="muted">— {esc(meta)}</span>' if meta else "") + "</li>")


def _source_list(answer: Any, used: list[int], anchor: str, docs: dict[str, dict[str, Any]]) -> str:
    """The used citations, one line each ('[1] title (p. 3 · 5번째 문단) — publisher · date'); the others under
    '더 보기'."""
    items = "".join(_source_item(answer.citations[i], i, anchor, docs) for i in used)
    rest = [i for i in range(len(answer.citations)) if i not in used]
    more = ""
    if rest:
        more = (f'<details class="ans-more"><summary>{MORE} · 관련 구절 {len(rest)}개</summary><ul class="ans-sources">'
                + "".join(_source_item(answer.citations[i], i, anchor, docs) for i in rest) + "</ul></details>")
    return f'<ul class="ans-sources">{items}</ul>{more}'


def answer_plain_text(answer: Any, docs: dict[str, dict[str, Any]]) -> str:
    """The answer as plain text with its marks [n] and the list of the sources they point to (what "복사" copies)."""
    parts = answer_parts(answer, docs)
    used = used_citations(answer)
    out = [f"질문: {' '.join(str(answer.question).split())}"]
    note = getattr(answer, "context_note", None)
    if note:
        out.append(f"({note})")
    if parts.lead:
        out.append(parts.lead)
    if parts.bullets and parts.lines and not answer.found:
        out.append(f"{RELATED}:")
    for line in parts.lines:
        out.append(("• " if parts.bullets else "") + _line_text(line))
    if not parts.lines and not parts.lead and answer.text:
        out.append(" ".join(answer.text.split()))
    if used:
        out.append("")
        out.append("출처" if answer.found else CLOSEST)
        for i in used:
            hit = answer.citations[i]
            extra = " · ".join(x for x in (_where(hit, docs), _meta_line(hit), str(hit.source)) if x)
            out.append(f"[{i + 1}] {' '.join(str(hit.title).split())}" + (f" ({extra})" if extra else ""))
    return "\n".join(out)


def answer_message_html(answer: Any, docs: dict[str, dict[str, Any]], *, show_scores: bool = False,
                        mode: str = "hybrid", anchor: str = "a") -> str:
    """The assistant's chat message for ``answer`` (one line of HTML, no blank lines).

    By the answer's ``kind``: a factoid's direct answer first, in bold (and bold inside its sentence); a
    digest as a bulleted list; a not-found answer's message first, set apart, then the closest sentences under
    "관련 있을 수 있는 내용". Every sentence ends with its clickable mark [n]; a follow-up's ``context_note``
    comes first. Then the used sources (the others under "더 보기") and a "복사" button, which copies
    :func:`answer_plain_text`. ``anchor`` names the answer's source cards (:func:`card_id`).
    """
    parts = answer_parts(answer, docs)
    used = used_citations(answer)
    blocks = []
    note = getattr(answer, "context_note", None)
    if note:
        blocks.append(f'<div class="ans-context">{esc(note)}</div>')
    found = bool(answer.found)
    if not found:
        blocks.append(f'<div class="ans-notfound" role="status">{esc(parts.lead or NOT_FOUND_SENTENCE)}</div>')
    elif parts.lead:
        blocks.append(f'<div class="ans-direct"><strong>{esc(parts.lead)}</strong></div>')
    if parts.lines:
        if parts.bullets:
            if not found:
                blocks.append(f'<div class="ans-label">{RELATED}</div>')
            items = "".join(f"<li>{_line_html(answer, ln, anchor)}</li>" for ln in parts.lines)
            blocks.append(f'<ul class="ans-list{" ans-related" if not found else ""}">{items}</ul>')
        else:
            blocks.append(f'<div class="ans-text">{_line_html(answer, parts.lines[0], anchor)}</div>')
    elif found and answer.text:  # no piece found in the text: the text as a whole, from the first citation
        text = esc(" ".join(answer.text.split()))
        blocks.append(f'<div class="ans-text">{text}{_cite_mark(anchor, used[0]) if used else ""}</div>')
    if answer.citations:
        label = "출처" if found else CLOSEST
        blocks.append(f'<div class="ans-label">{label}</div>{_source_list(answer, used, anchor, docs)}')
        blocks.append(f'<div class="ans-hint muted">{CITE_HINT}</div>')
    elif not found:
        blocks.append('<div class="ans-hint muted">관련된 구절도 없습니다. 다른 낱말로 물어보세요.</div>')
    if show_scores:
        blocks.append(f'<div class="ans-foot muted">근거 일치도 {answer.confidence:.0%} · '
                      f'검색 {esc(MODE_LABELS.get(mode, mode))} · 구절 {len(answer.citations)}개</div>')
    blocks.append('<div class="ans-tools"><button type="button" class="ans-copy" title="답과 출처를 글로 복사">복사</button>'
                  f'<pre class="ans-copytext" hidden>{esc(answer_plain_text(answer, docs))}</pre></div>')
    cls = "found" if found else "notfound"
    kind = parts.kind.replace("_", "-") if re.fullmatch(r"[a-z_]{1,20}", parts.kind) else "other"
    return f'<div class="korag-answer {cls} kind-{kind}">{"".join(blocks)}</div>'.replace("\n", "&#10;")


def question_counter_html(limit: int) -> str:
    """The line under the question box: the character count (kept up to date by the page's script) and the notice
    shown when a question reaches ``limit`` characters (the box takes no more)."""
    return (f'<div class="q-meta"><span class="q-limit" role="status" hidden>질문은 {fmt_int(limit)}자까지 입력할 수 '
            f'있습니다. 넘는 부분은 들어가지 않습니다.</span><span class="q-count" aria-live="polite">0 / {fmt_int(limit)}자</span></div>')


def empty_panel_html(n_docs: int, n_chunks: int) -> str:
    return (
        '<div class="korag-sources empty"><div class="src-empty">'
        '<div class="src-empty-title">출처</div>'
        '<p>질문하면 답의 근거가 된 구절이 여기에 나옵니다. 답이 들어 있는 문장은 '
        '<mark>노란색</mark>으로 표시되고, ‘원문 보기’를 누르면 문서 전체를 읽을 수 있습니다.</p>'
        f'<p class="muted">문서 {fmt_int(n_docs)}건 · 구절 {fmt_int(n_chunks)}개를 검색합니다.</p>'
        "</div></div>"
    )


def _card_html(answer: Any, docs: dict[str, dict[str, Any]], i: int, label: str, highlights: Sequence[Sequence[int]],
               anchor: str, show_scores: bool) -> str:
    hit = answer.citations[i]
    doc = docs.get(hit.doc_id) or {}
    doc_text = doc.get("text") or ""
    meta = _meta_line(hit)
    note = (hit.meta or {}).get("note")
    card = [
        f'<article class="src-card{" cited" if label == ANSWER_PASSAGE else ""}" id="{card_id(anchor, i)}" '
        f'data-source="{esc(hit.source)}">',
        f'<div class="src-title"><span class="src-num">[{i + 1}]</span> {esc(hit.title)}</div>',
        f'<div class="src-meta">{esc(meta) if meta else ""}'
        f'{" · " if meta else ""}<span class="src-file">{esc(hit.source)}</span></div>',
        f'<div class="src-pos"><span class="src-label">{label}</span> '
        f'{esc(position_text(doc_text, hit.start, hit.end, getattr(hit, "page", None)))}</div>',
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
    return "".join(card)


def sources_panel_html(answer: Any, docs: dict[str, dict[str, Any]], *, show_scores: bool = False,
                       anchor: str = "a") -> str:
    """The source panel: a card per citation the answer uses (its sentences highlighted, the whole document a
    click away), the other passages under "더 보기". Card ids follow :func:`card_id` for the marks [n]."""
    if not answer.citations:
        return f'<div class="korag-sources"><div class="src-head notfound">{NOT_FOUND}</div></div>'
    used = used_citations(answer)
    rest = [i for i in range(len(answer.citations)) if i not in used]
    if answer.found:
        head = f'<div class="src-head">출처 · 근거 구절 {len(used)}개</div>'
    else:
        head = f'<div class="src-head notfound">{NOT_FOUND} — {CLOSEST} {len(used) or len(rest)}개</div>'
    q = f'<div class="src-question">질문: {esc(answer.question)}</div>'
    note = getattr(answer, "context_note", None)
    if note:
        q += f'<div class="src-context">{esc(note)}</div>'
    # a not-found answer's sentences are no answer: the closest passages are shown without highlights
    highlights = answer.highlights if answer.found else []
    first = [_card_html(answer, docs, i, ANSWER_PASSAGE if answer.found else CLOSEST, highlights, anchor, show_scores)
             for i in used]
    others = [_card_html(answer, docs, i, "관련 구절" if answer.found else CLOSEST, highlights, anchor, show_scores)
              for i in rest]
    if not first:  # nothing marked as used: every passage in view
        first, others = others, []
    more = (f'<details class="src-more"><summary>{MORE} · 관련 구절 {len(others)}개</summary>{"".join(others)}</details>'
            if others else "")
    return f'<div class="korag-sources" data-answer="{esc(anchor)}">{head}{q}{"".join(first)}{more}</div>'
