"""Table cells as answers: a question that names a row and a column of a table is answered by that cell.

The indexer writes each table row as one line of ``header: value`` cells, the row's label first
(:mod:`indexer.formats`)::

    구 분: 제조업 | 2022년 1분기: 111.8 | 2022년 2분기: 59.7 | … | 2024년 1분기: 40.5

A statistics annex repeats the same row under several headings ("(총투자 기준)" and "(순투자 기준)", "1. 분기별
동향" and "2. 연도별 동향"), so a cell is read with the headings above its table (:meth:`TableReader.cells`
keeps them as the cell's ``context``). "2022년 1분기 제조업 해외직접투자액은?" names the column "2022년 1분기"
and the row "제조업"; a question that names no row of a table ("순투자 기준 2025년 1분기 해외직접투자액은?")
takes its total row ("전 체", "합계"). Every other word of the question must be found in the headings above
the table (or be a question word: "얼마", "몇"), so that a cell is never taken for a question about something
the table does not hold ("저지에 대한 투자는?" against a table of the top-5 countries without 저지).

>>> parse_row("구 분: 제조업 | 2022년 1분기: 111.8 | 2022년 2분기: 59.7").label
'제조업'
>>> [(c.header, c.value) for c in parse_row("구 분: 제조업 | 2022년 1분기: 111.8 | 2022년 2분기: 59.7").cells]
[('2022년 1분기', '111.8'), ('2022년 2분기', '59.7')]
>>> names("2024년 한 해 미국 투자액은?", "2024년"), names("2024년 1분기 미국 투자액은?", "2024년")
(True, False)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .compose import Composer, Plan
from .periods import states_period
from .span import Token, kiwi_tokens

__all__ = ["TABLE_KINDS", "TableCell", "TableReader", "TableRow", "names", "parse_row"]


@dataclass(frozen=True)
class RowCell:
    """One ``header: value`` cell of a table row; ``start``/``end`` are its offsets in the row's text."""

    header: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class TableRow:
    """A table row as the indexer wrote it: the row's label and its cells."""

    label: str
    cells: tuple[RowCell, ...]


@dataclass(frozen=True)
class TableCell:
    """A cell that answers a question: sentence ``row`` of the index, the cell's offsets in that row's piece
    text, and the headings above its table (``context``, outermost first)."""

    row: int
    start: int
    end: int
    text: str
    label: str
    header: str
    context: tuple[str, ...]
    qualifiers: tuple[str, ...] = ()
    named: bool = False  # the question names the row ("제조업"), not only its table's total


# the kinds of value asked (:func:`retriever.span.asked`) that a cell of numbers answers; a percentage is left to
# the text: the rate rows of a statistics table hold it in parentheses, "(△14.6)"
TABLE_KINDS = frozenset({"amount", "count"})
_SEP = " | "
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# a total row: the question that names no row of the table asks for it
_TOTALS = frozenset({"전체", "합계", "계", "총계", "총액"})
# what may follow a period named in a question and makes it another, shorter one: "2024년" is not the column
# for "2024년 1분기", "2024년 상반기" or "2024년 6월"
_SUB_PERIOD = re.compile(r"\s*(?:\d{1,2}\s*(?:분기|월|반기|Q)|[상하]반기|[1-4]Q)")
# the words of a question that ask for the value rather than name what it is about (the stems of "얼마야",
# "몇 억 달러였어", "한 해", "규모는"): no heading needs to hold them
_ASKING_WORDS = frozenset({"얼마", "몇", "몇억", "억", "만", "천", "조", "원", "달러", "억달러", "어느", "어떤", "무슨",
                           "연간", "한해", "당시", "규모", "금액", "액수"})
# noun suffixes of a measure: "해외직접투자액" asks for the amount of what "해외직접투자" headings hold
_MEASURE_SUFFIX = re.compile(r"(?<=..)(?:액|금|량|율|률|수|치)$")
# heading classes by their mark; a heading's level is the order in which its class first appears in the document
_ANNEX = re.compile(r"^(?:참고|별첨|붙임)\s*\d*\s*(?:\||$|\s)")  # "참고 1 | 세부통계 (단위: 억달러)"
_HEADING_MARKS = (
    ("annex", _ANNEX),
    ("roman", re.compile(r"^[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]\s*\.?")),
    ("number", re.compile(r"^\d{1,2}\s*\.\s")),
    ("korean", re.compile(r"^[가-하]\s*\.\s")),
    ("paren", re.compile(r"^\(.*\)$")),
    ("box", re.compile(r"^[□■]")),
    ("circle", re.compile(r"^[○●◦ㅇ]\s")),
)
_SENTENCE_END = re.compile(r"(?:다|요|음|함|임|[.!?])\s*$")
_CAPTION = re.compile(r"^[<〈《].*[>〉》]$")


def parse_row(text: str) -> TableRow | None:
    """The label and cells of a table row line (``label header: label | header: value | …``); None for
    any other line (a header line without values, a sentence)."""
    if _SEP not in text or ": " not in text:
        return None
    parts: list[tuple[str, str, int, int]] = []
    at = 0
    for part in text.split(_SEP):
        key, sep, value = part.partition(": ")
        if not sep or not key.strip() or not value.strip() or len(key) > 40:
            return None
        parts.append((key.strip(), value.strip(), at, at + len(part)))
        at += len(part) + len(_SEP)
    if len(parts) < 2:
        return None
    cells = tuple(RowCell(k, v, s, e) for k, v, s, e in parts[1:])
    return TableRow(parts[0][1], cells)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def names(text: str, phrase: str) -> bool:
    """Whether ``text`` names ``phrase`` as a whole (spaces aside): not inside a longer number, and, for a
    period, not as the start of a shorter one ("2024년" is not named by "2024년 1분기")."""
    words = phrase.split()
    if not words:
        return False
    pattern = r"\s*".join(re.escape(w) for w in words)
    for m in re.finditer(r"(?<![\d.])" + pattern, text):
        if re.search(r"\d\s*[년월]?$", phrase) and _SUB_PERIOD.match(text, m.end()):
            continue
        if phrase[-1:].isdigit() and text[m.end():m.end() + 1].isdigit():
            continue
        return True
    return False


def _stems(question: str, tokens: Sequence[Token]) -> list[tuple[int, int, str]]:
    """Each word of the question as ``(start, end, stem)``: its leading nouns, numbers and prefixes, without
    the particles and endings after them ("해외직접투자액은" -> "해외직접투자액", "미국에" -> "미국")."""
    out = []
    for m in re.finditer(r"\S+", question):
        end = m.start()
        for _form, tag, start, length in tokens:
            if start < m.start() or start >= m.end():
                continue
            if start != end or not (tag.startswith(("NN", "SN", "SL", "SH", "XPN", "XSN", "MM", "NR"))):
                break
            end = start + length
        if end > m.start():
            out.append((m.start(), end, question[m.start():end]))
    return out


def _names_label(label: str, stems: Sequence[str]) -> bool:
    """Whether the question's word stems (spaces removed) name the row label: one stem, or a run of them
    ("금융 보험업" written as two words)."""
    for i in range(len(stems)):
        joined = ""
        for s in stems[i:i + 3]:
            joined += s
            if joined == label:
                return True
            if not label.startswith(joined):
                break
    return False


def _found(stem: str, text: str) -> str | None:
    """The form of ``stem`` that ``text`` (spaces removed) holds: the stem, or the stem without the suffix of a
    measure ("해외직접투자액" as "해외직접투자"); None when it holds neither."""
    if stem in text:
        return stem
    bare = _MEASURE_SUFFIX.sub("", stem)
    return bare if bare != stem and bare in text else None


class TableReader:
    """Finds the table cell a question names, over one index's sentences. Thread-safe (read-only, cached)."""

    def __init__(self, composer: Composer) -> None:
        self.c = composer
        self._doc_start = composer.terms.doc_row  # each sentence row's document row, in document order
        self._layout = functools.lru_cache(maxsize=256)(self._layout_uncached)

    def _raw(self, row: int) -> str:
        d, s, e = (int(x) for x in self.c.spans[row])
        return self.c.doc_text[d][s:e].strip()

    def _layout_uncached(self, doc_row: int) -> tuple[tuple[int, TableRow, tuple[str, ...]], ...]:
        """The document's table rows in order, each with the headings above its table (outermost first)."""
        lo = int(np.searchsorted(self._doc_start, doc_row, side="left"))
        hi = int(np.searchsorted(self._doc_start, doc_row, side="right"))
        level: dict[str, int] = {}
        stack: list[tuple[int, str]] = []
        caption: str | None = None
        in_table = False
        out = []
        heading_chars = self.c.settings.heading_chars * 2  # an annex title with its unit runs longer
        for row in range(lo, hi):
            raw = self._raw(row)
            parsed = parse_row(self.c.piece(row).text)
            if parsed is not None:
                in_table = True
                heads = tuple(h for _, h in stack) + ((caption,) if caption else ())
                out.append((row, parsed, heads))
                continue
            if _SEP in raw and not _ANNEX.match(raw):
                continue  # a table's header line, or a table of text cells
            if in_table:
                caption, in_table = None, False
            if _CAPTION.match(raw):
                caption = raw
                continue
            kind = next((k for k, rx in _HEADING_MARKS if rx.match(raw)), None)
            if kind is None or len(raw) > heading_chars or _SENTENCE_END.search(raw):
                continue
            rank = level.setdefault(kind, len(level))
            while stack and stack[-1][0] >= rank:
                stack.pop()
            stack.append((rank, raw))
        return tuple(out)

    def cells(self, question: str, doc_rows: Sequence[int]) -> list[TableCell]:
        """The cells of the documents ``doc_rows`` (their rows in ``IndexData.docs``, best first) that answer
        ``question``: those whose column and row it names (or whose row is the total, when it names no row of
        that table) and whose table's headings hold every other word of it; best first (a named row before a
        total, more of the question's words in the headings, then the documents' and the rows' order)."""
        tokens = kiwi_tokens(self.c.analyzer, question)
        stems = _stems(question, tokens)
        flat = [_flat(s) for _, _, s in stems]
        base: list[tuple[int, int, TableRow, tuple[str, ...], RowCell, bool]] = []
        for rank, doc_row in enumerate(doc_rows):
            layout = self._layout(int(doc_row))
            labels = {_flat(r.label) for _, r, _ in layout}
            named_any = any(_names_label(other, flat) for other in labels)
            for row, parsed, context in layout:
                label = _flat(parsed.label)
                named = _names_label(label, flat)
                # a label the question's word ends with ("투자액" of "해외직접투자액"): the table's measure, its total
                measure = len(label) >= 2 and any(s.endswith(label) and s != label for s in flat)
                if not (named or measure or (label in _TOTALS and not named_any)):
                    continue
                for cell in parsed.cells:
                    if _NUMBER.fullmatch(cell.value) and len(_flat(cell.header)) > 1 and names(question, cell.header):
                        base.append((rank, row, parsed, context, cell, named))
        found: list[tuple[tuple[int, int, int, int], TableCell]] = []
        for rank, row, parsed, context, cell, named in base:
            label, column, heads = _flat(parsed.label), _flat(cell.header), _flat(" ".join(context))
            rest = [s for s in flat
                    if len(s) > 1 and s not in _ASKING_WORDS and s not in column and not (named and s in label)]
            held = [_found(s, heads) for s in rest]
            if any(h is None for h in held):
                continue
            # the words that tell this table from another with the same row and column ("순투자" of "(순투자 기준)")
            rivals = [_flat(" ".join(ctx)) for rk, _r, p, ctx, c, _n in base
                      if rk == rank and _flat(p.label) == label and _flat(c.header) == column and ctx != context]
            qualifiers = tuple(h for h in held if h is not None and any(h not in other for other in rivals))
            text = self.c.piece(row).text[cell.start:cell.end]
            key = (0 if named else 1, -len(held), rank, row)
            found.append((key, TableCell(row, cell.start, cell.end, text, parsed.label, cell.header, context,
                                         qualifiers, named)))
        found.sort(key=lambda f: f[0])
        return [c for _, c in found]

    def beats(self, cell: TableCell, row: int) -> bool:
        """Whether ``cell`` answers better than the sentence holding sentence ``row`` (the answer found in the
        text): that sentence, read with the one before it, states a period other than the cell's column
        ("2024년 1분기(1~3월) …" for "2022년 1분기 제조업 …"), does not name the row the question names ("저지"),
        or lacks a word that tells the cell's table from the others with the same row and column ("순투자" for
        "순투자 기준 …")."""
        rows = self.c.whole(row)
        if self.c.same_doc(rows[0] - 1, rows[0]):
            rows = self.c.whole(rows[0] - 1) + rows
        text = self.c.text(rows)
        if states_period(text) and not names(text, cell.header):
            return True
        flat = _flat(text)
        if cell.named and _flat(cell.label) not in flat:
            return True
        return any(q not in flat for q in cell.qualifiers)

    @staticmethod
    def plan(cell: TableCell, passage: int) -> Plan:
        """The answer: the cell, then its row (in the ranked passage ``passage``) under the headings above its table."""
        return Plan("factoid", [(passage, [cell.row])], direct=(cell.row, cell.start, cell.end), direct_text=cell.text,
                    lead=" › ".join(cell.context) or None)
