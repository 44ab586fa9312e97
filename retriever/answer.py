"""Answering: which sentences of the retrieved passages answer the question, their notes, and abstention.

The helpers tell what kind of answer a Korean question expects and whether a sentence offers one;
:class:`AnswerPicker` scores every sentence of the best passages, follows footnote marks to their notes
and decides ``found``.

>>> expected_types("AX 실증산단 공모 기간은 언제까지인가요?")
frozenset({'date'})
>>> sorted(sentence_types("공모는 6월 17일부터 7월 28일까지 40일간 진행된다."))
['date', 'number']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from indexer.analyzer import KoreanAnalyzer

from .candidates import Candidate
from .evidence import Evidence
from .periods import Period, conflicts, periods, states_period
from .ranking import dedup
from .settings import SearchSettings
from .span import asked_rank, rank_spans, without_rank_words

__all__ = [
    "AnswerPicker", "asked_unit", "expected_types", "find_footnote", "footnote_refs", "sentence_types", "type_bonus",
]

_Q_NUMBER = re.compile(r"얼마|몇|규모|금액|액수|비율|비중|퍼센트|%|예산|총액|총\s*사업비|수는|개수|인원|물량|면적|배정액")
_Q_DATE = re.compile(r"언제|며칠|날짜|기간|몇\s*시|일시|연도|몇\s*년|시기|까지|부터")
_Q_PERSON = re.compile(r"누구|이름|성명|누가")
_Q_PLACE = re.compile(r"어디|장소|위치|지역은|곳은")

_NUMBER = re.compile(r"\d")
_DATE = re.compile(r"\d{1,4}\s*(?:년|월|일)|\d{1,2}:\d{2}|['‘’]\d{2}(?:\.\d{1,2})?|\d{4}\s*[.~-]")
_PERSON = re.compile(r"[가-힣]{2,4}\s?(?:장관|차관|실장|국장|과장|정책관|시장|지사|대표|위원장|총장|청장|원장|사무관|서기관|기자)"
                     r"|(?:장관|차관|실장|국장|정책관)\s?[가-힣]{2,4}")
_PLACE = re.compile(r"[가-힣]+(?:시|도|군|구|동|지구|센터|캠프|클러스터|단지|청사|대학교?|원)\b")


_ASKS = {"number": _Q_NUMBER, "date": _Q_DATE, "person": _Q_PERSON, "place": _Q_PLACE}
_OFFERS = {"number": _NUMBER, "date": _DATE, "person": _PERSON, "place": _PLACE}


def expected_types(question: str) -> frozenset[str]:
    """Answer types a question asks for: any of "number", "date", "person", "place" (may be empty)."""
    return frozenset(kind for kind, rx in _ASKS.items() if rx.search(question))


def sentence_types(sentence: str) -> frozenset[str]:
    """Answer types a sentence can supply."""
    return frozenset(kind for kind, rx in _OFFERS.items() if rx.search(sentence))


_DIGITS = re.compile(r"\d[\d,.]*")
_UNTIL = re.compile(r"(?:\d\s*(?:년|월|일|시)|\d{1,2}:\d{2}|\))\s*까지")
_SINCE = re.compile(r"(?:\d\s*(?:년|월|일|시)|\d{1,2}:\d{2}|\))\s*부터")


def type_bonus(wanted: frozenset[str], sentence: str, question: str = "") -> float:
    """How well a sentence offers the kind of answer the question wants (0.0 .. 1.0).

    A number or date counts only when it is new, not one the question already gives ("2022년 예산은?" is
    not answered by another sentence about 2022); "언제까지"/"언제부터" want a date followed by 까지/부터.

    >>> type_bonus(expected_types("공모 기간은 언제까지?"), "공모는 6월 17일부터 7월 28일까지 진행된다.")
    1.0
    >>> type_bonus(expected_types("2022년 예산은 얼마?"), "2022년 사업계획을 확정했다.", "2022년 예산은 얼마?")
    0.0
    """
    if not wanted:
        return 0.0
    have = sentence_types(sentence)
    if have & {"number", "date"}:
        asked = {d.rstrip(".,") for d in _DIGITS.findall(question)}
        if not any(d.rstrip(".,") not in asked for d in _DIGITS.findall(sentence)):
            have = have - {"number", "date"}
    if not wanted & have:
        return 0.0
    if "date" in wanted and "date" in have:
        if "까지" in question and not _UNTIL.search(sentence):
            return 0.5
        if "부터" in question and not _SINCE.search(sentence):
            return 0.5
    return 1.0


# counters that answer one another ("몇 곳" is answered by "150여개"), and units written several ways
_UNIT_FORMS = {
    "%": r"%|퍼센트|프로", "퍼센트": r"%|퍼센트|프로", "프로": r"%|퍼센트|프로",
    "제곱미터": r"m2|㎡|m²|제곱미터", "평": r"평",
    "시": r"시(?![가-힣])|:\d{2}",
    "곳": r"곳|개소|개사|개", "개": r"개|개소|개사|곳",
    "팀": r"(?:개\s*)?팀",  # "몇 팀" is answered by "5개 팀"
}
_ASKED_UNIT = re.compile(r"몇\s*(%|퍼센트|프로|제곱미터|[가-힣])")


def asked_unit(question: str) -> re.Pattern[str] | None:
    """For a "몇 <unit>" question, a pattern matching a number written with that unit; else None.

    An answer to "졸업생 취업률은 몇 %?" must state a percentage: when none of the retrieved passages has
    one, the corpus does not say.

    >>> bool(asked_unit("지원받는 기업은 몇 곳?").search("150여개 기업을 지원한다"))
    True
    >>> bool(asked_unit("취업률은 몇 %인가요?").search("졸업생 155명을 배출"))
    False
    >>> asked_unit("예산은 얼마야?") is None
    True
    """
    m = _ASKED_UNIT.search(question)
    if not m:
        return None
    unit = m.group(1)
    forms = _UNIT_FORMS.get(unit, re.escape(unit))
    return re.compile(r"\d[\d,.]*\s*(?:만|천|백|억)?\s*(?:여|가량|남짓)?\s*(?:" + forms + ")")


# a footnote mark after a term ("캠퍼스혁신파크**", "지역혁신사업*(RIS)"), and the note line it points to ("** 대학 ...")
_REF = re.compile(r"([0-9A-Za-z가-힣·]+)[)'’”」]*(\*{1,3})(?!\*)(\([^()\n]{1,40}\))?")
_NOTE_GAP = 2000  # a note follows its mark within this many characters


def footnote_refs(sentence: str) -> list[tuple[str, str]]:
    """``(term, marks)`` for every footnote mark in a sentence; the term includes a parenthesis right after the mark.

    >>> footnote_refs("RIS사업과 혁신거점 사업(도심융합특구*, 캠퍼스혁신파크**)을 연계")
    [('도심융합특구', '*'), ('캠퍼스혁신파크', '**')]
    >>> footnote_refs("지역혁신사업*(RIS)은 ...")
    [('지역혁신사업 (RIS)', '*')]
    >>> footnote_refs("* 지방 광역시 중심지에 복합혁신공간 구축")
    []
    """
    out = []
    for m in _REF.finditer(sentence):
        term = m.group(1) + (" " + m.group(3) if m.group(3) else "")
        out.append((term, m.group(2)))
    return out


def find_footnote(text: str, after: int, marks: str) -> int | None:
    """Offset in ``text`` of the first note line starting with exactly ``marks`` after offset ``after``, if near.

    >>> t = "사업(특구*, 파크**)을 연계\\n* 지방 광역시\\n** 대학 캠퍼스 유휴 부지"
    >>> t[find_footnote(t, 14, "**"):]
    '** 대학 캠퍼스 유휴 부지'
    """
    rx = re.compile(r"(?m)^[ \t\-]*(" + re.escape(marks) + r")(?!\*)")
    m = rx.search(text, after, after + _NOTE_GAP)
    return m.start(1) if m else None


class AnswerPicker:
    """Chooses the answer sentences among the best passages and judges whether they answer the question.

    ``doc_text`` maps a document id to its clean text (footnotes are looked up in it); ``doc_title`` to its title
    (the period a document of a statistics series is about: :mod:`retriever.periods`).
    """

    def __init__(self, chunks: Sequence[Mapping[str, Any]], doc_text: Mapping[str, str], analyzer: KoreanAnalyzer,
                 evidence: Evidence, settings: SearchSettings, doc_title: Mapping[str, str] | None = None) -> None:
        self.chunks = chunks
        self.doc_text = doc_text
        self.analyzer = analyzer
        self.evidence = evidence
        self.settings = settings
        self._title_periods = {d: periods(t) for d, t in (doc_title or {}).items()}

    def _other_period(self, asked: frozenset[Period], doc_id: str) -> bool:
        """Whether a document's title is about another period than the one asked ("2024년 1분기 …?": the release
        on ‘25년 1분기)."""
        return bool(asked) and conflicts(asked, self._title_periods.get(doc_id, frozenset()))

    def _off_period(self, asked: frozenset[Period], doc_id: str, sentence: str) -> bool:
        """Whether a sentence that states no period of its own comes from a document about another period than the
        one asked ("업종별 투자규모는 …" in the release on ‘25년 1분기, for "2024년 1분기 …?")."""
        return self._other_period(asked, doc_id) and not states_period(sentence)

    def footnote(self, kept: Sequence[Candidate], ci: int, si: int, qterms: set[str]) -> tuple[int, int] | None:
        """The note sentence ``(candidate index, sentence index)`` that sentence ``si`` of ``kept[ci]`` points to
        with a footnote mark ("캠퍼스혁신파크**" -> "** 대학 캠퍼스 ...") on a term of the question, when a
        retrieved passage holds it."""
        ch = self.chunks[kept[ci].row]
        s0, e0 = ch["sents"][si]
        text = self.doc_text[ch["doc_id"]]
        for term, marks in footnote_refs(ch["text"][s0:e0]):
            if not qterms.intersection(self.analyzer.analyze(term)):
                continue
            at = find_footnote(text, ch["start"] + e0, marks)
            if at is None:
                continue
            for cj, c in enumerate(kept):
                o = self.chunks[c.row]
                if o["doc_id"] == ch["doc_id"]:
                    for sj, (a, b) in enumerate(o["sents"]):
                        if o["start"] + a <= at < o["start"] + b:
                            return cj, sj
        return None

    def _covered_terms(self, question: str, terms: list[str]) -> list[str]:
        """What an answer passage must cover (:meth:`Evidence.coverage`): the question's nouns, else all its terms;
        for a ranking question, not the words that only ask for the place ("1위 나라는?")."""
        if asked_rank(question) is not None:
            question = without_rank_words(question)
        return self.analyzer.analyze(question, predicates=False) or terms

    def with_unit(self, question: str, terms: list[str], kept: list[Candidate],
                  ranked: Sequence[Candidate]) -> list[Candidate]:
        """``kept`` with, for a "몇 <unit>" question ("몇 퍼센트 줄었어?"), the best re-ranked passage that states a
        number with that unit moved into the answer pool when none of the pool's passages does.

        Tables of figures outrank the one sentence that states the percentage when every row repeats the
        question's years; the answer must offer the unit asked for, so the passage that does competes for it.
        Only a passage that covers the question as well as an answer must (``found_threshold``) is moved: a
        percentage about something else must not turn "취업률은 몇 %?" into an answer. A ranking question ("1위
        업종은?", "미국 다음으로 많은 곳은?") wants a ranked list ("A(…), B(…), C(…) 순") the same way. A passage of a
        document about another period than the question names (its title's, :mod:`retriever.periods`) does not count.
        """
        unit, rank = asked_unit(question), asked_rank(question)
        if unit is None and rank is None:
            return kept
        st = self.settings
        when = periods(question)

        def offers(c: Candidate) -> bool:
            ch = self.chunks[c.row]
            if unit is not None:
                found = bool(unit.search(ch["text"]))
            else:
                found = rank is not None and bool(rank_spans(ch["text"], rank))
            return found and not self._other_period(when, ch["doc_id"])

        if any(offers(c) for c in kept[: st.answer_chunks]):
            return kept
        need = self._covered_terms(question, terms)
        for c in dedup(ranked, self.chunks, len(ranked), st.dedup_overlap):
            if offers(c) and self.evidence.coverage(need, c.row) >= st.found_threshold:
                rest = [x for x in kept if x.row != c.row]
                at = st.answer_chunks - 1
                return [*rest[:at], c, *rest[at:]][: len(kept)]
        return kept

    def _sentence(self, kept: Sequence[Candidate], cj: int, sj: int) -> str:
        ch = self.chunks[kept[cj].row]
        return " ".join(ch["text"][ch["sents"][sj][0]:ch["sents"][sj][1]].split())

    def score_sentences(self, question: str, terms: list[str], kept: Sequence[Candidate],
                        bonus: Callable[[int], float] | None = None, depth: int | None = None) -> list[tuple[float, int, int]]:
        """``(score, passage index, sentence index)`` of every sentence of the first ``depth`` passages (default
        ``answer_chunks``), best first: keyword evidence, the question terms rare among those passages, cosine,
        the kind of answer it offers and its passage's rank, less ``period_penalty`` for a sentence read in a document
        about another period than the question's; ``bonus(sentence row)`` is added when given."""
        st = self.settings
        wanted = expected_types(question)
        asked = periods(question)
        top = kept[0].score or 1.0
        pool = kept[: depth or st.answer_chunks]
        local = self.evidence.local_idf(set(terms), list(pool))
        scored: list[tuple[float, int, int]] = []  # (score, candidate index, sentence index)
        for ci, c in enumerate(pool):
            chunk = self.chunks[c.row]
            for si, (s0, e0) in enumerate(chunk["sents"]):
                lex = c.sent_lex[si] if c.sent_lex else 0.0
                cos = c.sent_cos[si] if c.sent_cos else 0.0
                text = chunk["text"][s0:e0]
                score = (st.answer_lex_weight * lex + st.local_weight * self.evidence.local_lex(local, chunk["sent_rows"][si])
                         + st.answer_sent_weight * cos + st.type_weight * type_bonus(wanted, text, question)
                         + st.answer_rank_weight * (c.score / top) - st.answer_passage_penalty * ci)
                if bonus is not None:
                    score += bonus(chunk["sent_rows"][si])
                if self._off_period(asked, chunk["doc_id"], text):
                    score -= st.period_penalty
                scored.append((score, ci, si))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        return scored

    def pick(self, question: str, terms: list[str], kept: Sequence[Candidate],
             scored: list[tuple[float, int, int]] | None = None) -> tuple[int, list[tuple[int, int]]]:
        """``(ci, picks)``: the passage index holding the best sentence and the ``(passage, sentence)`` indices
        of the answer (``kept`` best first, with evidence attached; ``scored`` from :meth:`score_sentences`,
        computed when not given).

        The answer is the best sentence, plus the runner-up when it scores almost as well, or the sentence
        under a short heading, and the note a footnote mark on a question term points to.
        """
        st = self.settings
        pool = kept[: st.answer_chunks]
        if scored is None:
            scored = self.score_sentences(question, terms, kept)
        best_score, ci, si = scored[0]
        picks = [(ci, si)]
        seen = {self._sentence(kept, ci, si)}
        for score, cj, sj in scored[1:]:
            if self._sentence(kept, cj, sj) in seen:  # the same sentence again (chunk overlap, or repeated in the text)
                continue
            if score >= st.second_sentence_ratio * best_score:
                picks.append((cj, sj))
            break
        chunk = self.chunks[pool[ci].row]
        qset = set(terms)
        note = self.footnote(kept, ci, si, qset)
        if note is not None:  # the note explains a term the question is about: it takes the runner-up's place
            return ci, [(ci, si), note]
        s0, e0 = chunk["sents"][si]
        if len(picks) == 1 and e0 - s0 < st.heading_chars and si + 1 < len(chunk["sents"]):
            picks.append((ci, si + 1))  # a short heading: the sentence under it
        note = self.footnote(kept, *picks[-1], qset) if len(picks) > 1 else None
        if note is not None and note not in picks:
            picks.append(note)
        return ci, picks

    def judge(self, question: str, terms: list[str], best: Candidate, texts: Sequence[str]) -> tuple[bool, float]:
        """``(found, confidence)`` for an answer taken from passage ``best``; ``texts``: every cited passage.

        Confidence is the share of the question's idf mass (nouns first) the passage and its title hold
        (its best sentence cosine for a query with no known term). Below ``found_threshold``, a "몇 <unit>"
        question that no passage answers with that unit, or a proper noun of the question that the passage
        never mentions while the corpus knows it: not found.
        """
        st = self.settings
        confidence = (self.evidence.coverage(self._covered_terms(question, terms), best.row) if terms
                      else max(best.sent_cos, default=0.0))
        found = confidence >= st.found_threshold
        unit = asked_unit(question)
        if found and unit is not None and not any(unit.search(t) for t in texts):
            found = False  # "몇 %?" and no passage states a percentage: the corpus does not say
        if found and st.entity_check and terms and self.evidence.missing_entities(question, best.row):
            found = False  # the answer passage is about another entity than the one asked about
        return found, float(confidence)
