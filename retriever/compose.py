"""Answer composition: whole sentences, the sentence a connective points back to, and the answer's shape.

Sentences are the index's sentence rows (``IndexData.sentences``): Kiwi's sentences, never crossing a line
break. A press release wrapped by a scraper breaks a sentence over lines ("…GPU 1만장 분을 연내 확보" /
"(1.46조 원)한다."): :meth:`Composer.whole` joins such pieces back, and :meth:`Composer.unit` also brings
the sentence that a back-pointing connective ("이를 위해", "이에 따라") refers to. An answer is then
shaped by the kind of question:

- ``factoid``: the direct answer span first, then the sentence it comes from (and the runner-up);
- ``digest``: 3-5 of the best sentences from different passages, as bullets;
- ``sentence``: the best sentence(s), as before;
- ``not_found``: "문서에서 답을 찾지 못했습니다." and then the closest sentences as "관련 있을 수 있는 내용".

>>> starts_with_referent("이를 위해 2025년 정부 예산을 증액한다."), starts_with_referent("이번 추경은 시의적절하다.")
(True, False)
>>> continues("…1만장 분을 연내 확보", "(1.46조 원)한다."), continues("■ 인프라 150여개 기업 지원", "2022년 핵심 인프라 조성분야에서는 …")
(True, False)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.analyzer import KoreanAnalyzer
from indexer.store import IndexData

from .settings import SearchSettings
from .span import MONEY, Asked, Token, allocates, best_span, kiwi_tokens, same_subject, spans, subject, term_positions

__all__ = ["NOT_FOUND_TEXT", "RELATED_LABEL", "Composer", "Piece", "Plan", "Shaper", "continues", "ends_sentence",
           "is_fragment", "lead_mark_end", "starts_with_referent"]

NOT_FOUND_TEXT = "문서에서 답을 찾지 못했습니다."
RELATED_LABEL = "관련 있을 수 있는 내용"

# list marks that open a line of a press release ("- ", "○ ", "□ ", "▶ "): not part of the sentence shown.
# Footnote marks ("* ", "** ") stay: they say which term a note explains.
_LEAD = re.compile(r"^(?:[-–•·○●□■◇◆▶▷ㅇ>]+\s+)+")
_CLOSERS = "\"'”’」』)]*\u0020"


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends like a sentence: a final punctuation mark (before closing quotes or brackets), a
    sentence-final 다/요, a closing parenthesis, or the nominal -ㅁ ending of press-release bullets ("…밝힘",
    "…추진함", "…예정임": a last syllable with the coda ㅁ).

    >>> ends_sentence("지원을 확대한다."), ends_sentence("…밝힘"), ends_sentence("…연내 확보"), ends_sentence("(1,723억 원)")
    (True, True, False, True)
    """
    t = text.rstrip(_CLOSERS)
    if not t:
        return False
    if text.rstrip()[-1:] == ")" or t[-1] in ".!?。" or t[-1] in "다요":
        return True
    return "\uac00" <= t[-1] <= "\ud7a3" and (ord(t[-1]) - 0xAC00) % 28 == 16


# a piece that continues the line before it: a parenthesis followed by the predicate ("(1.46조 원)한다.")
_CONTINUATION = re.compile(r"^\([^()\n]{1,40}\)\s?(?:한다|된다|이다|했다|하며|하고|하여|해|됨|함)")
# connectives that point back to the sentence before ("이를 위해", "이에 따라", "이 사업은"): that sentence comes along
_REFERENT = re.compile(
    r"^(?:이를|이에|이와|이로|이로써|이러한|이런|이같은|이 같은|이와 같이|그 결과|이 중|이 사업|이 밖에|이외에도|관련하여|이를 위해|이를 통해)"
    r"(?=[\s,])")


def lead_mark_end(text: str) -> int:
    """Length of the list mark opening ``text`` ("- ", "□ "), 0 when there is none.

    >>> lead_mark_end("- 그동안의 투자 성과"), lead_mark_end("** 대학 캠퍼스")
    (2, 0)
    """
    m = _LEAD.match(text)
    return m.end() if m else 0


def starts_with_referent(text: str) -> bool:
    """Whether a sentence opens with a connective that points back to the sentence before it."""
    return bool(_REFERENT.match(text[lead_mark_end(text):]))


def continues(before: str, after: str) -> bool:
    """Whether ``after`` is the rest of the sentence ``before`` (one sentence broken over two lines).

    It is when ``before`` has no sentence ending and ``after`` starts with a parenthesis and the predicate,
    or when ``before`` ends in a particle or a connective ending that needs more (checked by
    :meth:`Composer.open_ended` with Kiwi; here only the parenthesis rule).
    """
    return not ends_sentence(before) and bool(_CONTINUATION.match(after.strip()))


def is_fragment(text: str, heading_chars: int) -> bool:
    """A heading or headline fragment: short and without a sentence ending ("광주 집적단지 사업 올해 예산 1,076억").

    >>> is_fragment("광주 집적단지 사업 올해 예산 1,076억", 40), is_fragment("총 1,260명을 교육·양성한다.", 40)
    (True, False)
    """
    t = text.strip()
    return len(t) < heading_chars and not ends_sentence(t)


@dataclass(frozen=True)
class Piece:
    """One sentence row of an answer, shown from document offset ``start`` (after its list mark) to ``end``."""

    row: int
    doc_row: int
    start: int
    end: int
    text: str


class Composer:
    """Whole sentences and their referents over one opened index. Thread-safe (read-only after init)."""

    def __init__(self, data: IndexData, analyzer: KoreanAnalyzer, settings: SearchSettings) -> None:
        self.analyzer = analyzer
        self.settings = settings
        self.spans = data.sentences.spans
        self.doc_text = [d["text"] for d in data.docs]
        self.n = len(self.spans)
        self.terms = data.sentences
        # Kiwi's reading of a sentence never changes: cached per sentence row (read-through, thread-safe)
        self._open_row = functools.lru_cache(maxsize=65536)(self._open_uncached)
        self._fragment_rows = functools.lru_cache(maxsize=65536)(self._fragment_uncached)
        self._tokens_rows = functools.lru_cache(maxsize=8192)(self._tokens_uncached)

    def piece(self, row: int) -> Piece:
        """Sentence row ``row`` without its list mark."""
        d, s, e = (int(x) for x in self.spans[row])
        raw = self.doc_text[d][s:e]
        lead = lead_mark_end(raw)
        if lead >= len(raw):
            lead = 0
        return Piece(row, d, s + lead, e, raw[lead:])

    def same_doc(self, a: int, b: int) -> bool:
        """Whether sentence rows ``a`` and ``b`` exist and belong to one document."""
        return 0 <= a < self.n and 0 <= b < self.n and int(self.spans[a][0]) == int(self.spans[b][0])

    def open_ended(self, text: str) -> bool:
        """Whether a piece stops where the sentence cannot end: on a particle, a connective or adnominal
        ending (Kiwi tags J*, EC, ETM), e.g. "…기반 확충을" before the line "통한 국가 … 방안」을 발표한 바 있다."."""
        if ends_sentence(text):
            return False
        with self.analyzer.lock:
            toks = self.analyzer.kiwi.tokenize(text[-30:])
        words = [t for t in toks if not t.tag.startswith("S")]
        return bool(words) and (words[-1].tag.startswith("J") or words[-1].tag in ("EC", "ETM"))

    def _open_uncached(self, row: int) -> bool:
        return self.open_ended(self.piece(row).text)

    def _joined(self, a: int, b: int) -> bool:
        """Sentence row ``b`` (right after ``a``) is the rest of the sentence ``a``."""
        if not self.same_doc(a, b):
            return False
        return continues(self.piece(a).text, self.piece(b).text) or bool(self._open_row(a))

    def whole(self, row: int) -> list[int]:
        """The rows of the whole sentence holding ``row`` (``row`` alone unless it was broken over lines)."""
        rows = [row]
        limit = self.settings.whole_sentence_rows
        while len(rows) < limit and self._joined(rows[0] - 1, rows[0]):
            rows.insert(0, rows[0] - 1)
        while len(rows) < limit and self._joined(rows[-1], rows[-1] + 1):
            rows.append(rows[-1] + 1)
        return rows

    def unit(self, row: int) -> list[int]:
        """The whole sentence holding ``row``, preceded by the sentence its opening connective points back to."""
        rows = self.whole(row)
        first = rows[0]
        if starts_with_referent(self.piece(first).text) and self.same_doc(first - 1, first):
            rows = self.whole(first - 1) + rows
        return rows

    def similarity(self, row: int, others: Sequence[int]) -> float:
        """How much sentence ``row`` repeats ``others`` (0 .. 1): the highest share of index terms it has in common
        with one of them (Jaccard), and 1.0 when every amount it states is already stated there."""
        if not others:
            return 0.0
        mine = set(self.terms.term_ids(row))
        best = max((len(mine & t) / len(mine | t) if mine | t else 0.0) for t in (set(self.terms.term_ids(o)) for o in others))
        amounts = {m.group(0).replace(" ", "") for m in MONEY.finditer(self.piece(row).text)}
        if amounts:
            stated = {m.group(0).replace(" ", "") for o in others for m in MONEY.finditer(self.piece(o).text)}
            if amounts <= stated:
                return 1.0
        return best

    def text(self, rows: Sequence[int]) -> str:
        """The rows' text, pieces joined by a space."""
        return " ".join(self.piece(r).text for r in rows)

    def fragment(self, rows: Sequence[int]) -> bool:
        """Whether the rows are only a heading or a headline fragment: shorter than ``heading_chars`` and not
        ending like a sentence (Kiwi: a sentence-final or nominalising ending, or final punctuation), so that
        "개요" and "광주 집적단지 사업 올해 예산 1,076억" are fragments and "(1.46조 원)한다." is not."""
        return bool(self._fragment_rows(tuple(rows)))

    def tokens(self, rows: Sequence[int]) -> list[Token]:
        """Kiwi's tokens of :meth:`text` of the rows (cached)."""
        return list(self._tokens_rows(tuple(rows)))

    def _tokens_uncached(self, rows: tuple[int, ...]) -> tuple[Token, ...]:
        return tuple(kiwi_tokens(self.analyzer, self.text(rows)))

    def _fragment_uncached(self, rows: tuple[int, ...]) -> bool:
        text = self.text(rows).strip()
        if len(text) >= self.settings.heading_chars:
            return False
        if text[-1:] in ".!?。)":
            return False
        with self.analyzer.lock:
            toks = self.analyzer.kiwi.tokenize(text[-30:])
        words = [t for t in toks if not t.tag.startswith("S")]
        return not (words and words[-1].tag in ("EF", "ETN"))


@dataclass
class Plan:
    """What an answer says, before its sentences are tied to citations.

    ``units``: ``(passage index in the ranked passages or None, sentence rows)``, in the order shown; ``direct``:
    ``(sentence row, start, end)`` of the direct answer in that row's :class:`Piece` text (None when the span
    crosses a line break: ``direct_text`` still holds it); ``lead``: the line that opens a not-found answer, or
    that follows a factoid's direct answer (the headings above a table row that answers).
    """

    kind: str
    units: list[tuple[int | None, list[int]]]
    direct: tuple[int, int, int] | None = None  # (sentence row, start, end) in that row's piece text
    direct_text: str | None = None
    lead: str | None = None

    def rows(self) -> list[int]:
        return [r for _, rows in self.units for r in rows]


Scored = Sequence[tuple[float, int, int, int]]  # (score, passage index, sentence index in the passage, sentence row)


class Shaper:
    """Builds a :class:`Plan` for each kind of answer from the scored sentences of the ranked passages."""

    def __init__(self, composer: Composer, settings: SearchSettings) -> None:
        self.c = composer
        self.settings = settings

    def _add(self, plan: Plan, ci: int | None, rows: list[int], seen: set[str]) -> bool:
        """Append a unit unless every one of its sentences is already in the answer; repeated rows are left out."""
        have = set(plan.rows())
        fresh = []
        for r in rows:
            key = " ".join(self.c.piece(r).text.split())
            if r in have or key in seen:
                continue
            fresh.append(r)
            seen.add(key)
        if not fresh:
            return False
        plan.units.append((ci, fresh))
        return True

    def sentences(self, picks: Sequence[tuple[int, int]], rows_of: dict[tuple[int, int], int]) -> Plan:
        """The best sentence(s) as :meth:`AnswerPicker.pick` chose them, each whole and with its referent; a
        heading alone is followed by the sentence under it."""
        plan = Plan("sentence", [])
        seen: set[str] = set()
        for ci, si in picks:
            self._add(plan, ci, self.c.unit(rows_of[(ci, si)]), seen)
        if plan.units and all(self.c.fragment(rows) for _, rows in plan.units):
            last_ci, last = plan.units[-1]
            if self.c.same_doc(last[-1], last[-1] + 1):
                self._add(plan, last_ci, self.c.unit(last[-1] + 1), seen)
        return plan

    def digest(self, scored: Scored, money: bool = False) -> Plan:
        """3-5 of the best sentences, at most ``digest_per_passage`` from one passage, fragments (headings) left
        out, chosen one by one by ``score / best - digest_diversity x`` :meth:`Composer.similarity` to the bullets
        already chosen, so that two sentences saying the same thing do not both come; with ``money`` (where a
        budget goes: "예산은 어디에 쓰여?") a sentence stating an amount gains ``digest_amount_weight``. The list
        stops at ``digest_max``, or once ``digest_min`` are in and the next scores under ``digest_min_ratio``."""
        st = self.settings
        plan = Plan("digest", [])
        seen: set[str] = set()
        best = scored[0][0] if scored and scored[0][0] else 1.0
        pool = [(score / best + (st.digest_amount_weight if money and allocates(self.c.text(self.c.whole(row))) else 0.0),
                 score / best, ci, row)
                for score, ci, _si, row in scored if not self.c.fragment(self.c.whole(row))]
        chosen: list[int] = []
        per: dict[int, int] = {}
        while len(plan.units) < st.digest_max:
            options = [(value - st.digest_diversity * self.c.similarity(row, chosen), rel, ci, row)
                       for value, rel, ci, row in pool if row not in chosen and per.get(ci, 0) < st.digest_per_passage]
            if not options:
                break
            _value, rel, ci, row = max(options, key=lambda o: o[0])
            if len(plan.units) >= st.digest_min and rel < st.digest_min_ratio:
                break
            chosen.append(row)
            if self._add(plan, ci, self.c.unit(row), seen):
                per[ci] = per.get(ci, 0) + 1
        return plan

    def related(self, scored: Scored, lead: str) -> Plan:
        """Not found: ``lead``, then the closest sentences (each from another passage) as what may be related."""
        plan = Plan("not_found", [], lead=lead)
        seen: set[str] = set()
        used: set[int] = set()
        for _score, ci, _si, row in scored:
            if len(plan.units) >= self.settings.related_sentences:
                break
            if ci in used or self.c.fragment(self.c.whole(row)):
                continue
            if self._add(plan, ci, self.c.unit(row), seen):
                used.add(ci)
        return plan

    def factoid(self, scored: Scored, question: str, ask: Asked, weights: Mapping[str, float], focus: frozenset[str],
                support: Plan) -> Plan | None:
        """The direct answer: among the best ``span_sentences`` sentences (within ``span_min_ratio`` of the best),
        the candidate span with the highest ``score / best + span_weight x nearness + span_role_weight x role +
        span_number_weight x (share of the question's numbers the sentence repeats) + span_focus_weight when the
        sentence names the question's focus word`` ("설명회" in "설명회 언제 해요?") ``+ span_subject_weight when the
        sentence is about what the question is about`` (the same 은/는 topic: "광주 집적단지 사업은 …" for "광주 AI
        집적단지 사업은 언제까지 진행돼?", not "…진행될 2단계 사업"), full sentences before
        headings; then the sentence of the runner-up candidate when it offers another value and its total is at
        least ``span_second_ratio`` of the best's, and the sentences of ``support`` (the usual answer). None when
        no sentence holds a candidate of the kind asked."""
        st = self.settings
        if not scored:
            return None
        best = scored[0][0] or 1.0
        numbers = {d.replace(",", "") for d in re.findall(r"\d[\d,.]*\d|\d", question)}
        asked_about = subject(question, kiwi_tokens(self.c.analyzer, question), within=len(question))
        options: list[tuple[bool, float, int, list[int], int, int, str]] = []
        tried: set[tuple[int, ...]] = set()
        for score, ci, _si, row in scored[: st.span_sentences]:
            if score < st.span_min_ratio * best:
                break
            rows = self.c.whole(row)
            if tuple(rows) in tried:
                continue
            tried.add(tuple(rows))
            text = self.c.text(rows)
            toks = self.c.tokens(rows)
            found = best_span(text, spans(text, ask, toks), ask, toks, weights, question, reach=st.span_reach)
            if found is None:
                continue
            sp, near, role = found
            have = {d.replace(",", "") for d in re.findall(r"\d[\d,.]*\d|\d", text)}
            repeats = len(numbers & have) / len(numbers) if numbers else 0.0
            named = bool(focus) and bool(term_positions(toks, focus))
            about = same_subject(asked_about, subject(text, toks))
            total = (score / best + st.span_weight * near + st.span_role_weight * role + st.span_number_weight * repeats
                     + st.span_focus_weight * named + st.span_subject_weight * about)
            options.append((self.c.fragment(rows), -total, ci, rows, sp.start, sp.end, sp.text))
        if not options:
            return None
        options.sort(key=lambda o: (o[0], o[1]))
        _frag, top, ci, rows, start, end, direct = options[0]
        plan = Plan("factoid", [], direct_text=direct)
        at = 0
        for r in rows:  # the span's row and its offsets in that row's piece
            n = len(self.c.piece(r).text)
            if at <= start and end <= at + n:
                plan.direct = (r, start - at, end - at)
                break
            at += n + 1
        seen: set[str] = set()
        self._add(plan, ci, self.c.unit(rows[0]), seen)
        for frag, total, cj, orows, _s, _e, other in options[1:]:
            # another value of the kind asked, nearly as good ("1만장 분" and the "2,600장분" leased): it follows
            if not frag and other != direct and -total >= st.span_second_ratio * -top:
                self._add(plan, cj, self.c.unit(orows[0]), seen)
                break
        for pj, urows in support.units:
            self._add(plan, pj, urows, seen)
        return plan
