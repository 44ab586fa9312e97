"""Direct answers: what a factoid question asks for, and the span of a sentence that answers it.

:func:`asked` reads the question's wh-word and the unit or noun it asks about ("몇 명" -> a count of 명,
"어느 대학" -> a name ending in 대학, "언제까지" -> a date with 까지); :func:`spans` lists the candidate spans
of that kind in a sentence: amounts with 원/억/조/달러, percentages, counts with their counter (개/명/곳/건 ...),
dates and periods ('2025년부터 2029년까지', '6월 17일', "'22년까지", '14:00~16:00', '하반기'), and, with Kiwi's
tokens, people (a name beside a title), places and organisations (proper nouns, noun phrases ending in the
kind of place or body asked for, quoted names). :func:`best_span` picks the candidate nearest the question's
terms in the sentence.

>>> asked("광주 AI 집적단지 사업의 2022년 예산은 얼마야?")
Asked(kind='amount', unit=None, category=None, role=None, nth=None, after=None)
>>> asked("정예팀을 몇 팀까지 뽑아?")
Asked(kind='count', unit='팀', category=None, role=None, nth=None, after=None)
>>> asked("AX 실증산단 공모 기간은 언제까지인가요?").role
'until'
>>> [s.text for s in spans("공모는 6월 17일부터 7월 28일까지 40일간 진행된다.", asked("공모는 언제까지?"))]
['6월 17일부터 7월 28일까지']
>>> [s.text for s in spans("2022년 1,076억원을 투입해 집적단지를 조성한다.", asked("2022년 예산은 얼마?"))]
['1,076억원']
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from indexer.analyzer import KoreanAnalyzer

__all__ = [
    "MONEY", "Asked", "Span", "Token", "allocates", "asked", "asked_rank", "asks_money_use", "best_span", "focus_word", "is_broad",
    "kiwi_tokens", "name_spans", "rank_spans", "same_subject", "spans", "subject", "term_positions", "without_rank_words",
]

Token = tuple[str, str, int, int]  # Kiwi token: form, tag, start, length (offsets in the analysed text)


@dataclass(frozen=True)
class Asked:
    """What a factoid question asks for.

    ``kind``: "amount" (money), "count", "percent", "date", "time", "duration", "place", "person", "name" or "rank"
    (the item at a place of a ranked list: "1위 업종은?", "미국 다음으로 많은 곳은?");
    ``unit``: the counter of a "몇 <unit>" question; ``category``: the noun naming what is asked for ("대학" in
    "어느 대학이", "법" in "개정한 법은?"; for "rank", what the list ranks: "국가" of "국가별 …"); ``role``: which of several values — "until" (언제까지), "since"
    (시작일, 언제부터), "period" (기간), "after" (the value a change ends at: "얼마로 늘어나"), "delta" (the
    change itself: "얼마나 늘었"), "total" (총액).
    """

    kind: str
    unit: str | None = None
    category: str | None = None
    role: str | None = None
    nth: int | None = None  # "rank": the place asked in a ranked list (1 for "1위 업종은?", "가장 많은 곳은?")
    after: str | None = None  # "rank": the item it follows ("미국 다음으로 많은 곳은?")


@dataclass(frozen=True)
class Span:
    """A candidate answer: ``sentence[start:end] == text``."""

    start: int
    end: int
    text: str
    kind: str


# ------------------------------------------------------------------ the question
# broad questions want a digest of several sentences, not one value ("어디에 쓰여?", "주요 내용은?")
_BROAD = re.compile(
    r"어디(?:에|에다)?\s*(?:쓰|쓴|써|사용|활용|투입|들어가|배정|지원하)|용도|주요\s*내용|무슨\s*내용|어떤\s*내용|내용(?:을|이|은)?\s*(?:알려|정리|요약|설명)"
    r"|요약|정리해|무엇을\s*(?:하|지원|추진)|뭘\s*(?:해|하|지원|추진)|뭐\s*(?:해|하는|지원)|어떤\s*(?:일|지원|사업)들?을\s*(?:해|하|추진)"
    r"|에\s*대해\s*(?:알려|설명|말해)|소개해|개요")

_PERSON_TITLES = ("장관", "차관", "차관보", "실장", "국장", "과장", "팀장", "정책관", "부시장", "시장", "부지사", "지사", "대표",
                  "위원장", "총장", "청장", "원장", "사무관", "서기관", "주무관", "대변인", "단장", "센터장", "이사장", "사장",
                  "회장", "의원", "대통령", "총리", "담당자")
_TITLE = "|".join(sorted(_PERSON_TITLES, key=len, reverse=True))
_Q_PERSON = re.compile(r"누구|누가|성함|(?:" + _TITLE + r")\S*\s*(?:의\s*)?이름")
_Q_PERCENT = re.compile(r"몇\s*(?:%|퍼센트|프로)|비율|비중|퍼센트")
_Q_TIME = re.compile(r"몇\s*시")
_Q_DURATION = re.compile(r"며칠\s*(?:동안|간)|몇\s*(?:일|년|개월|달|주)\s*(?:동안|간)|얼마\s*동안")
_Q_COUNT_UNIT = re.compile(r"몇\s*(개소|개사|개|곳|명|건|종|장|팀|회|대|척|편|권|기|배|위|번|PF|PB|TB|m2|제곱미터|평)", re.IGNORECASE)
_Q_COUNT = re.compile(r"(?:^|\s)(?:수|개수|인원|물량)(?:는|은|가|이|를|$|\s|\?)(?!\s*있)|몇(?!\s*시)")
_Q_UNTIL = re.compile(r"언제까지|마감|종료일|끝나")
_Q_SINCE = re.compile(r"언제부터|시작일|시작\s*날|개시일|시작(?:해|하|돼|되|했)")
_Q_PERIOD = re.compile(r"기간|몇\s*년간|언제부터\s*언제까지")
_Q_DATE = re.compile(r"언제|며칠|날짜|일시|일자|시기|연도|몇\s*년|몇\s*월")
# "…액은?" (수출액, 매출액, 투자액): a word for an amount of money asks for one
_Q_AMOUNT = re.compile(r"얼마|예산|규모|금액|액수|총액|사업비|배정액|비용|국비|투자액|지원금|출연금|[가-힣]액(?=[은는이가을도]|\s|\?|$)")
_Q_PLACE = re.compile(r"어디|장소|위치|어느\s*(?:지역|곳|도시|나라|시|도)|어떤\s*(?:지역|곳)")
_CATEGORIES = ("대학교", "대학", "기업", "회사", "업체", "스타트업", "조선사", "기관", "회의", "위원회", "부처", "법령", "법률", "법",
               "규칙", "단체", "사업자", "학교", "프로그램", "프로젝트", "펀드", "모델", "제도", "사업명", "명칭", "약자", "약칭")
_CATEGORY = "|".join(sorted(_CATEGORIES, key=len, reverse=True))
_Q_WHICH = re.compile(r"(?:어느|어떤|무슨|어떠한)\s*(" + _CATEGORY + r")|([가-힣A-Za-z]*?(?:" + _CATEGORY + r"))\s*(?:의\s*)?이름")
# "... 개정한 법은?", "... 중국 스타트업은?", "총괄대학은?": a question that is only the name of what it asks for
_Q_NAMED = re.compile(r"([가-힣A-Za-z]*?(?:" + _CATEGORY + r"))(?:은|는)\s*(?:뭐야|뭐예요|무엇인가요|무엇이야|어디야)?\s*\??\s*$")
_Q_AFTER = re.compile(r"얼마로|(?:후|이후)(?:에|에는)?\s*(?:얼마|몇)|로\s*(?:늘|확대|증가|증액|바뀌|변경)")
_Q_DELTA = re.compile(r"얼마나\s*(?:늘|증가|많|줄|감소|더)|증가\s*폭|증액분|차이")
_Q_TOTAL = re.compile(r"총액|총\s*사업비|전체|모두|총\s*(?:얼마|몇|예산)|합계")
# a place in a ranking: "1위 업종은?", "2위는?", "가장 많았던 업종은?", "미국 다음으로 많은 곳은?" (not "몇 위", a
# count, nor 위원회, 위치, 위해, 위반, 위험, 위성, 위탁, 위상); what is ranked: "국가별" (not 특별, 개별, 차별, 구별, 별도 …)
_PLACE_NTH = r"(?<![\d몇])([1-9])\s*위(?![원치해반험성탁상])"
_Q_NTH = re.compile(_PLACE_NTH + r"|(?:가장|제일)\s*(?:많|크|큰|높)")
_NEXT = r"다음으로|다음가는"
_Q_AFTER_ITEM = re.compile(r"([가-힣A-Za-z]+?)(?:의|에)?\s*(?:" + _NEXT + ")")
_Q_RANK_ASKS = re.compile(r"얼마|몇|언제|누구|며칠")
_Q_RANKED_BY = re.compile(r"([가-힣]{1,6}?)(?<![특개차구선판식])별(?!도)")


def is_broad(question: str) -> bool:
    """Whether a question asks for an overview rather than one value (a digest answers it).

    >>> is_broad("인공지능 추경 예산은 어디에 쓰여?"), is_broad("AX 실증산단 주요 내용은?"), is_broad("설명회 장소 어디야?")
    (True, True, False)
    """
    return bool(_BROAD.search(question))


_MONEY_WORDS = re.compile(r"예산|추경|재원|자금|비용|돈|투자|기금|펀드|국비|사업비")


def asks_money_use(question: str) -> bool:
    """A broad question about where money goes ("추경 예산은 어디에 쓰여?"): its digest prefers sentences with amounts.

    >>> asks_money_use("인공지능 추경 예산은 어디에 쓰여?"), asks_money_use("AX 실증산단 주요 내용은?")
    (True, False)
    """
    return is_broad(question) and bool(_MONEY_WORDS.search(question))  # (a digest then prefers what :func:`allocates`)


def asked_rank(question: str) -> Asked | None:
    """A question for a place in a ranking: the item ``nth`` ("1위 업종은?", "가장 많았던 업종은?") or the one
    ``after`` another ("미국 다음으로 많은 곳은?"); None for other questions, which :func:`asked` reads.

    >>> asked_rank("2024년 1분기 업종별 해외투자 규모 1위 업종은?").nth, asked_rank("국가별로 미국 다음으로 많은 곳은?").after
    (1, '미국')
    >>> asked_rank("국가별 2위는?").nth, asked_rank("1위 업종의 투자액은 얼마야?"), asked_rank("몇 위를 했어?")
    (2, None, None)
    >>> asked_rank("1위원회 위원장은?") is None, asked_rank("국가별 1위는?").category, asked_rank("특별히 1위인 곳은?").category
    (True, '국가', None)
    """
    if _BROAD.search(question) or _Q_RANK_ASKS.search(question):
        return None
    by = _Q_RANKED_BY.search(question)  # "국가별": the list must rank 국가
    category = by.group(1) if by else None
    m = _Q_AFTER_ITEM.search(question)
    if m:
        return Asked("rank", category=category, after=m.group(1))
    m = _Q_NTH.search(question)
    if m:
        return Asked("rank", category=category, nth=int(m.group(1)) if m.group(1) else 1)
    return None


# the noun at the end of a ranking question that names what is ranked ("… 나라는?", "… 업종은 어디야?")
_Q_RANKED_NOUN = re.compile(r"[가-힣A-Za-z]+?(?:은|는|이|가)?\s*(?:어디야|어디예요|어디인가요|뭐야|무엇인가요)?\s*\??\s*$")


def without_rank_words(question: str) -> str:
    """A ranking question without the words that only ask for a place in the ranking ("1위", "다음으로") and the
    noun at its end that names what is ranked: the passage that ranks "국가별로는 미국(…), …" need not say "1위" or
    "나라".

    >>> without_rank_words("2024년 1분기 국가별 투자 규모 1위 나라는?"), without_rank_words("미국 다음으로 많은 곳은?")
    ('2024년 1분기 국가별 투자 규모', '미국 많은')
    """
    q = re.sub(_PLACE_NTH + r"(?:는|은|가|이)?|" + _NEXT, " ", question)
    return " ".join(_Q_RANKED_NOUN.sub(" ", q).split())


def _role(question: str) -> str | None:
    if _Q_AFTER.search(question):
        return "after"
    if _Q_DELTA.search(question):
        return "delta"
    if _Q_TOTAL.search(question):
        return "total"
    return None


def _category(word: str) -> str:
    return next((c for c in sorted(_CATEGORIES, key=len, reverse=True) if word.endswith(c)), word)


def asked(question: str) -> Asked | None:
    """The kind of value a factoid question asks for; None for other questions (why, how, what is, lists).

    >>> asked("과기정통부 장관은 누구였나요?").kind, asked("RIS 간담회 몇 시부터 몇 시까지 진행됐어?").kind
    ('person', 'time')
    >>> asked("헬스케어 특화 과정은 어느 대학이 맡고 있나요?")
    Asked(kind='name', unit=None, category='대학', role=None, nth=None, after=None)
    >>> asked("광주 집적단지 2022년 예산은 2021년보다 얼마나 늘었나요?").role
    'delta'
    >>> asked("국산 AI 반도체 실증사업 예산은 추경 후 얼마로 늘어나나요?").role
    'after'
    >>> asked("적은 비용으로 고성능 AI 모델을 만든 중국 스타트업은?").category
    '스타트업'
    >>> asked("캠퍼스혁신파크는 어떤 사업이야?") is None
    True
    """
    q = question
    if _BROAD.search(q):
        return None
    if _Q_PERSON.search(q):
        return Asked("person")
    if _Q_PERCENT.search(q):
        return Asked("percent", role=_role(q))
    if _Q_TIME.search(q):
        return Asked("time")
    m = _Q_DURATION.search(q)
    if m:
        unit = re.search(r"일|년|개월|달|주", m.group(0).replace("며칠", "일"))
        return Asked("duration", unit=unit.group(0) if unit else None)
    m = _Q_COUNT_UNIT.search(q)
    if m:
        return Asked("count", unit=m.group(1), role=_role(q))
    if _Q_UNTIL.search(q):
        return Asked("date", role="until")
    if _Q_SINCE.search(q):
        return Asked("date", role="since")
    if _Q_PERIOD.search(q):
        return Asked("date", role="period")
    if _Q_DATE.search(q):
        return Asked("date", unit="일" if "며칠" in q else None)
    m = _Q_NAMED.search(q)
    if m and not re.search(r"얼마|몇", q):
        return Asked("name", category=_category(m.group(1)))
    if _Q_COUNT.search(q) and not _Q_AMOUNT.search(q):
        return Asked("count", role=_role(q))
    if _Q_AMOUNT.search(q):
        return Asked("amount", role=_role(q))
    if _Q_PLACE.search(q):
        return Asked("place")
    m = _Q_WHICH.search(q)
    if m:
        return Asked("name", category=_category(next(g for g in m.groups() if g)))
    return None


# ------------------------------------------------------------------ candidates in a sentence
_NUM = r"\d[\d,]*(?:\.\d+)?"
_MAG = r"(?:\s?[조억만천백])"
_AMT = _NUM + _MAG + "*"
_PRE = r"(?:(?:약|총|최대|최소|연|월|각|개소당|당|평균|국비|국고|누적)\s?)*"
_POST = r"(?:\s?(?:내외|이상|이하|미만|초과|가량|정도|남짓|수준))?"
MONEY = re.compile(_PRE + _AMT + r"(?:\s?" + _AMT + r")*" + r"\s?(?:여\s?)?(?:원|달러|유로|엔|위안)" + _POST)
_PERCENT = re.compile(_PRE + _NUM + r"(?:\s?[~∼-]\s?" + _NUM + r")?\s?(?:%|퍼센트|프로)" + _POST)
# counters that answer one another ("몇 곳" is answered by "150여개", "10개소")
_UNIT_FORMS = {
    "곳": r"개소|개사|개|곳", "개": r"개소|개사|개|곳", "개소": r"개소|개사|개|곳", "개사": r"개사|개소|개|곳",
    "팀": r"(?:개\s?)?팀", "장": r"장(?:\s?분)?", "제곱미터": r"m2|㎡|m²|제곱미터", "m2": r"m2|㎡|m²|제곱미터",
}
_ANY_COUNTER = r"개소|개사|개|곳|명|건|종|장(?:\s?분)?|팀|회|대|척|편|권|배|PF|PB|TB|m2|㎡"
# a counter ends at a particle, a space or a punctuation mark ("1,260명을", "99개 기업"), not inside a word ("개발")
_AFTER_COUNTER = r"(?=$|[\s,.()\[\]·」’”~/*]|[을를이가은는에의도과와로만까씩당])"
_DURATION = re.compile(r"(?:약\s?|총\s?|최대\s?)?" + _NUM + r"\s?(?:일|년|개월|달|주|시간)\s?(?:간|동안)")

_ALLOCATES = re.compile(r"\([^()]{0,20}?(?:" + MONEY.pattern + r")[^()]{0,20}\)"
                        r"|(?:" + MONEY.pattern + r")[^.()]{0,12}?(?:투입|지원|증액|편성|확대|배정|반영|출연)")


def allocates(sentence: str) -> bool:
    """Whether a sentence puts an amount on something: the amount in parentheses after the action ("…를 추진
    (1,936억원)한다", "(’25년 298억 원 → 752억 원)") or followed by 투입/지원/증액/확대 ... — not an amount only
    reported ("163조 원 투자 발표").

    >>> allocates("GPU 1만장 분을 연내 확보 (1.46조 원)한다."), allocates("(프랑스) 데이터센터 163조 원 투자 발표 (’25.2)")
    (True, False)
    """
    return bool(_ALLOCATES.search(sentence))


_Y = r"(?:['’‘`]\d{2}|\d{4})\s?년(?:도)?"
_M = r"\d{1,2}\s?월"
_D = r"\d{1,2}\s?일(?!\s?(?:간|동안))(?:\s?\([월화수목금토일]\))?"
_DOTTED = r"(?:['’‘`]\d{2}|\d{4})\.\s?\d{1,2}\.?(?:\s?\d{1,2}\.?)?(?:\s?\([월화수목금토일]\))?"
_BARE_YEAR = r"\d{4}\.?(?=\s?[~∼])|(?<=[~∼]\s)\d{4}\.?|(?<=[~∼])\d{4}\.?"
_SEASON = r"(?:상|하)반기|연내|연말|연초|\d\s?분기"
_ONE_DATE = (r"(?:" + _Y + r"\s?)?(?:" + _M + r"\s?)?" + _D + "|(?:" + _Y + r"\s?)?" + _M + "|" + _DOTTED + "|" + _Y + "|"
             + _BARE_YEAR + "|" + _SEASON)
_TILDE = r"\s?[~∼–-]\s?"
_DATE_RANGE = re.compile(r"(?:" + _ONE_DATE + r")(?:\s?부터\s?|" + _TILDE + r")(?:" + _ONE_DATE + r")(?:\s?까지)?(?:\s?\(\d+\s?년\))?")
_DATE_BOUND = re.compile(r"(?:" + _ONE_DATE + r")\s?(?:까지|부터)|[~∼]\s?(?:" + _ONE_DATE + ")")
_DATE = re.compile(_ONE_DATE)
_CLOCK = r"\d{1,2}:\d{2}|\d{1,2}\s?시(?:\s?\d{1,2}\s?분)?"
_TIME = re.compile(r"(?:" + _CLOCK + r")(?:" + _TILDE + r"(?:" + _CLOCK + r"))?")


def _finditer(rx: re.Pattern[str], text: str, kind: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group(0), kind) for m in rx.finditer(text) if m.group(0).strip()]


def _non_overlapping(found: Iterable[Span]) -> list[Span]:
    """Longest first, then left to right; a span inside a longer one is dropped."""
    out: list[Span] = []
    for s in sorted(found, key=lambda s: (-(s.end - s.start), s.start)):
        if all(s.end <= o.start or s.start >= o.end for o in out):
            out.append(s)
    return sorted(out, key=lambda s: s.start)


def _strip(s: Span, sentence: str) -> Span:
    a, b = s.start, s.end
    while a < b and sentence[a] in " ,(":
        a += 1
    while b > a and sentence[b - 1] in " ,(":
        b -= 1
    return Span(a, b, sentence[a:b], s.kind)


def _count_spans(sentence: str, unit: str | None) -> list[Span]:
    forms = _UNIT_FORMS.get(unit.lower(), re.escape(unit)) if unit else _ANY_COUNTER
    rx = re.compile(_PRE + _NUM + r"(?:\s?[만천백])*\s?(?:여\s?)?(?:" + forms + ")" + _AFTER_COUNTER + _POST, re.IGNORECASE)
    return [_with_counted_noun(s, sentence) for s in _finditer(rx, sentence, "count")]


_COUNTED = re.compile(r"\s([가-힣]{1,6}?)(?=을|를|이|가|은|는|에|의|도|과|와|으로|로|\s|$)")


def _with_counted_noun(s: Span, sentence: str) -> Span:
    """"99개" + " 기업": the classifier 개 and the noun it counts; "5개 팀 내외" keeps its 내외."""
    if not s.text.endswith("개"):
        return s
    m = _COUNTED.match(sentence, s.end)
    if not m:
        return s
    end = m.end(1)
    post = re.match(r"\s?(?:내외|이상|이하|가량|정도)", sentence[end:])
    if post:
        end += post.end()
    return Span(s.start, end, sentence[s.start:end], s.kind)


def spans(sentence: str, ask: Asked | None, tokens: Sequence[Token] | None = None) -> list[Span]:
    """Candidate answer spans of the kind ``ask`` wants, left to right, none inside another.

    People need no tokens; places and names need Kiwi's ``tokens`` of the sentence (:func:`kiwi_tokens`),
    and without them find only quoted names.

    >>> [s.text for s in spans("이를 위해 지난해보다 약 58억원 많은 1,076억원 규모로 추진한다.", Asked("amount"))]
    ['약 58억원', '1,076억원']
    >>> [s.text for s in spans("기업 성장단계별로 99개 기업에 맞춤형으로 지원한다.", Asked("count"))]
    ['99개 기업']
    >>> [s.text for s in spans("정예팀을 선정(최대 5개 팀 내외)하여", Asked("count", unit="팀"))]
    ['최대 5개 팀 내외']
    >>> [s.text for s in spans("'21.6.16.(수) 14:00~16:00, 광주", Asked("time"))]
    ['14:00~16:00']
    >>> [s.text for s in spans("향후 1단계 사업을 '22년까지 차질없이 지원", Asked("date", role="until"))]
    ["'22년까지"]
    """
    if ask is None:
        return []
    kind = ask.kind
    if kind == "amount":
        found = _finditer(MONEY, sentence, kind)
    elif kind == "percent":
        found = _finditer(_PERCENT, sentence, kind)
    elif kind == "count":
        found = _count_spans(sentence, ask.unit)
    elif kind == "duration":
        found = _finditer(_DURATION, sentence, kind)
    elif kind == "time":
        found = _finditer(_TIME, sentence, kind)
    elif kind == "date":
        found = (_finditer(_DATE_RANGE, sentence, "period") + _finditer(_DATE_BOUND, sentence, "bound")
                 + _finditer(_DATE, sentence, "date"))
        if ask.unit == "일":  # 며칠: a day of the month
            found = [s for s in found if "일" in s.text]
        found = [_with_clock(s, sentence) for s in found]
    elif kind in ("person", "place", "name"):
        found = name_spans(sentence, ask, tokens or [])
    elif kind == "rank":
        found = rank_spans(sentence, ask)
    else:
        found = []
    return _non_overlapping(_strip(s, sentence) for s in found if s.text.strip())


_AFTER_DATE_CLOCK = re.compile(r"\s?(?:" + _CLOCK + r")(?:" + _TILDE + r"(?:" + _CLOCK + r"))?")


def _with_clock(s: Span, sentence: str) -> Span:
    """A date and the time of day right after it: "2024. 6. 21.(금) 11:00" (a press release's embargo), not the date alone.

    >>> _with_clock(Span(5, 20, "2024. 6. 21.(금)", "date"), "보도시점 2024. 6. 21.(금) 11:00 | 배포").text
    '2024. 6. 21.(금) 11:00'
    """
    m = _AFTER_DATE_CLOCK.match(sentence, s.end)
    if not m or not re.search(r"\d", s.text):
        return s
    return Span(s.start, m.end(), sentence[s.start:m.end()], s.kind)


# --- rankings: "금융보험업(55.0억 달러), 제조업(40.5억 달러), … 순이며" — items named with their figure, in order
_ITEM = r"[가-힣A-Za-z][가-힣A-Za-z·]*\*{0,3}\s?\([^()]*\d[^()]*\)"
_RANKED_LIST = re.compile(r"(?:" + _ITEM + r")(?:\s?,\s?(?:" + _ITEM + r"))+(?=\s?(?:등의?\s?)?순)")
_ITEM_RX = re.compile(r"(?P<name>[가-힣A-Za-z][가-힣A-Za-z·]*)\*{0,3}\s?\([^()]*\d[^()]*\)")


def rank_spans(sentence: str, ask: Asked) -> list[Span]:
    """The item at the place asked in each ranked list of a sentence ("A(…), B(…), C(…) 순"): the ``nth``, or
    the one after the item named ``after``; with a ``category`` ("국가" of "국가별 …?"), only in a list introduced by
    it ("국가별로는 …", not "업종별 투자규모는 …").

    >>> sent = "국가별로는 미국(46.5억 달러), 케이만군도(20.2억 달러), 룩셈부르크(14.1억 달러) 순이며 …"
    >>> [s.text for s in rank_spans(sent, Asked("rank", nth=1))], [s.text for s in rank_spans(sent, Asked("rank", after="미국"))]
    (['미국(46.5억 달러)'], ['케이만군도(20.2억 달러)'])
    >>> rank_spans(sent, Asked("rank", category="업종", nth=1))
    []
    """
    out = []
    done = 0
    for lst in _RANKED_LIST.finditer(sentence):
        lead, done = sentence[max(done, lst.start() - 40):lst.start()], lst.end()
        if ask.category and ask.category + "별" not in lead:
            continue
        items = list(_ITEM_RX.finditer(sentence, lst.start(), lst.end()))
        if ask.after is not None:
            at = next((i + 1 for i, m in enumerate(items) if m["name"] == ask.after), None)
        else:
            at = (ask.nth or 1) - 1
        if at is not None and at < len(items):
            m = items[at]
            out.append(Span(m.start(), m.end(), m.group(0), "rank"))
    return out


# --- people, places and names (Kiwi tokens)
_SURNAMES = frozenset("김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염여추"
                      "도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌팽승간상갈단견당")
_PARTICLE = r"(?:은|는|이|가|의|을|를|과|와|도|께서|에게)?"
_TITLED = re.compile(r"\S*(?:" + _TITLE + r")" + _PARTICLE + r"[,.]?")  # "산업기반실장은", "제2차관은"
_TITLE_WORD = re.compile(r"(?:" + _TITLE + r")")  # "(장관 유상임, ...)"
_QUOTED = re.compile(r"[‘'“\"「『](?P<q>[^‘’'“”\"「」『』\n]{1,40})[’'”\"」』]")
_NOUNISH = frozenset(("NNG", "NNP", "SL", "SN", "SH", "XPN", "XSN", "NNB"))
_PLACE_HEADS = ("센터", "캠프", "클러스터", "단지", "지구", "청사", "홈페이지", "사이트", "도시", "혁신도시", "캠퍼스", "공단", "대학교", "본부",
                "회관", "호텔", "컨벤션", "시", "도", "군", "구", "동", "읍", "면")
_PLACE_NOT = frozenset(("이후", "이전", "현재", "당시", "경우", "등", "내", "중"))


_SUBJECT_NOUNS = ("NNG", "NNP", "SL", "SH")


def subject(text: str, tokens: Sequence[Token], within: int = 40) -> list[str]:
    """The nouns of the phrase a sentence or question is about: the run of nouns right before its first topic
    particle 은/는 (within the first ``within`` characters); empty when there is none.

    >>> toks = [("광주", "NNP", 0, 2), ("집적단지", "NNG", 3, 4), ("사업", "NNG", 8, 2), ("은", "JX", 10, 1)]
    >>> subject("광주 집적단지 사업은 ...", toks)
    ['광주', '집적단지', '사업']
    """
    for i, (form, tag, start, _n) in enumerate(tokens):
        if start > within:
            break
        if tag == "JX" and form in ("은", "는", "ᆫ"):
            run: list[str] = []
            j = i - 1
            while j >= 0 and tokens[j][1] in _SUBJECT_NOUNS and (not run or text[tokens[j][2] + tokens[j][3]:tokens[j + 1][2]] in ("", " ")):
                run.insert(0, tokens[j][0].lower() if tokens[j][1] == "SL" else tokens[j][0])
                j -= 1
            return run
    return []


def same_subject(a: Sequence[str], b: Sequence[str]) -> bool:
    """Two subjects name the same thing: the same head noun and, when both have more, another noun in common.

    >>> same_subject(["광주", "ai", "집적단지", "사업"], ["광주", "집적단지", "사업"]), same_subject(["사업"], ["2단계", "사업"])
    (True, False)
    """
    if not a or not b or a[-1] != b[-1]:
        return False
    if len(a) == 1 and len(b) == 1:
        return True
    return bool(set(a[:-1]) & set(b[:-1]))


def kiwi_tokens(analyzer: KoreanAnalyzer, text: str) -> list[Token]:
    """Kiwi's tokens of ``text`` as ``(form, tag, start, length)`` (under the analyzer's lock)."""
    with analyzer.lock:
        toks = analyzer.kiwi.tokenize(text)
    return [(t.form, t.tag, t.start, t.len) for t in toks]


# what may stand between two nouns of one phrase besides a space: a closing quote ("‘…’ 홈페이지"), or 와/과/및
# with quotes ("‘산업부’와 ‘한국산업단지공단’"); not an opening quote alone ("3월「조세특례제한법」")
_JOIN_GAP = re.compile(r"[’'”」』]\s?|[’'”」』]?\s?(?:와|과|및)\s?[‘'“「『]?")


def _noun_phrases(sentence: str, tokens: Sequence[Token]) -> list[tuple[int, int, list[Token]]]:
    """Maximal runs of noun-like tokens separated by at most a space or a middle dot; quoted names
    joined by 와/과/및 ("‘산업부’와 ‘한국산업단지공단’ 홈페이지") form one phrase."""
    runs: list[tuple[int, int, list[Token]]] = []
    cur: list[Token] = []
    end = -10
    for tok in tokens:
        form, tag, start, length = tok
        gap = sentence[end:start] if 0 <= end <= start else "x"
        joinable = gap in ("", " ", "·") or bool(cur and _JOIN_GAP.fullmatch(gap))
        if tag in _NOUNISH and not (tag == "NNB" and not cur):
            if cur and joinable:
                cur.append(tok)
            else:
                if cur:
                    runs.append((cur[0][2], cur[-1][2] + cur[-1][3], cur))
                cur = [tok]
            end = start + length
        elif tag in ("SSO", "SSC", "JC") or (tag == "MAG" and form == "및") or (tag == "SP" and form == "·"):
            continue  # may join the next noun to the run (checked through the gap)
        else:
            if cur:
                runs.append((cur[0][2], cur[-1][2] + cur[-1][3], cur))
            cur = []
            end = -10
    if cur:
        runs.append((cur[0][2], cur[-1][2] + cur[-1][3], cur))
    out = []
    for _s, _e, toks in runs:
        while toks and toks[-1][1] in ("NNB", "SN"):  # a trailing bound noun or number is no part of a name
            toks = toks[:-1]
        while toks and (toks[0][1] == "NNB" or (toks[0][1] == "SN" and len(toks) > 1 and toks[1][1] == "NNB")):
            toks = toks[1:]  # nor a leading one or a count ("등 15개 대학")
        if toks:
            out.append((toks[0][2], toks[-1][2] + toks[-1][3], toks))
    return out


_OPEN, _CLOSE = "‘“「『", "’”」』"


def _quote_balanced(sentence: str, s: int, e: int) -> tuple[int, int]:
    """Widen ``[s, e)`` over the quote marks that open or close inside it ("‘딥시크’", "「조세특례제한법」",
    "‘산업부’와 ‘한국산업단지공단’ 홈페이지")."""
    inside = sentence[s:e]
    opens = sum(inside.count(c) for c in _OPEN)
    closes = sum(inside.count(c) for c in _CLOSE)
    if s > 0 and sentence[s - 1] in _OPEN and closes >= opens:
        s -= 1
        opens += 1
    if e < len(sentence) and sentence[e] in _CLOSE and opens > closes:
        e += 1
    return s, e


def _named_runs(sentence: str, toks: Sequence[Token]) -> list[tuple[int, int]]:
    """Offsets of each run of adjacent proper nouns and foreign words (Kiwi NNP, SL) in a noun phrase."""
    runs: list[tuple[int, int]] = []
    for _form, tag, start, length in toks:
        if tag not in ("NNP", "SL"):
            continue
        if runs and sentence[runs[-1][1]:start] in ("", " ", "·"):
            runs[-1] = (runs[-1][0], start + length)
        else:
            runs.append((start, start + length))
    return runs


def name_spans(sentence: str, ask: Asked, tokens: Sequence[Token]) -> list[Span]:
    """People, places and named things in a sentence, for "person", "place" and "name" questions.

    >>> [s.text for s in name_spans("산업부 오승철 산업기반실장은 밝혔다.", Asked("person"), [])]
    ['오승철']
    >>> [s.text for s in name_spans("과학기술정보통신부(장관 유상임, 이하 과기정통부)는", Asked("person"), [])]
    ['유상임']
    """
    out: list[Span] = []
    if ask.kind == "person":
        words = list(re.finditer(r"[^\s(),]+", sentence))
        for i, w in enumerate(words):
            name = w.group(0)
            if not (2 <= len(name) <= 4 and re.fullmatch(r"[가-힣]+", name) and name[0] in _SURNAMES):
                continue
            titled_after = any(_TITLED.fullmatch(x.group(0)) for x in words[i + 1:i + 4])
            titled_before = i > 0 and _TITLE_WORD.fullmatch(words[i - 1].group(0)) is not None
            if titled_after or titled_before:
                out.append(Span(w.start(), w.end(), name, "person"))
        return out
    phrases = _noun_phrases(sentence, tokens)
    if ask.kind == "place":
        for s, e, toks in phrases:
            head = toks[-1][0]
            if all(t[1] == "NNP" for t in toks) or (head.endswith(_PLACE_HEADS) and head not in _PLACE_NOT):
                s, e = _quote_balanced(sentence, s, e)
                out.append(Span(s, e, sentence[s:e], "place"))
        return out
    category = ask.category or ""
    heads = {"대학": ("대학교", "대학", "대", "원"), "대학교": ("대학교", "대학", "대"), "법": ("법", "법령", "규칙", "시행규칙", "령"),
             "법령": ("법", "법령", "규칙", "시행규칙", "령"), "법률": ("법", "법률")}.get(category, (category,) if category else ())
    org_like = category in ("기업", "회사", "업체", "스타트업", "조선사", "사업자", "기관", "단체", "모델")
    for s, e, toks in phrases:
        whole = sentence[s:e].replace(" ", "")
        # a one-syllable suffix (전남"대", 광주과학기술"원") only on a proper noun: "지원" is no institute
        suffix = next((h for h in heads if whole.endswith(h)), None) if heads else None
        named_head = suffix is not None and whole not in heads and (len(suffix) > 1 or toks[-1][1] == "NNP")
        if named_head or (org_like and any(t[1] in ("NNP", "SL") for t in toks)):
            if suffix is not None and len(suffix) == 1 and not org_like:  # the proper noun itself: "전남대", not "… 전남대"
                s = toks[-1][2]
            if org_like:  # the names themselves, not "중국 ... 초기기업": each run of proper nouns and foreign words
                for a, b in _named_runs(sentence, toks):
                    a, b = _quote_balanced(sentence, a, b)
                    out.append(Span(a, b, sentence[a:b], "name"))
                continue
            s, e = _quote_balanced(sentence, s, e)
            out.append(Span(s, e, sentence[s:e], "name"))
    for m in _QUOTED.finditer(sentence):
        text = m.group("q").strip()
        if text and (not heads or text.endswith(heads) or org_like or category in ("사업명", "명칭", "프로젝트", "프로그램")):
            out.append(Span(m.start(), m.end(), m.group(0), "name"))
    return out


# ------------------------------------------------------------------ choosing one
_ARROW_BEFORE = re.compile(r"(?:→|->|에서)\s?$")
_TO_AFTER = re.compile(r"^\s?(?:규모\s?)?(?:으로|로)(?!\s?(?:구성|인해|하여))")
_FROM_AFTER = re.compile(r"^\s?(?:에서|→|->)")
_DELTA_AFTER = re.compile(r"^\s?(?:이\s?|가\s?)?(?:많|늘|증가|증액|적|줄|감소|확대)")
_PER_NEAR = re.compile(r"(?:당|마다)\s?$|^\s?(?:씩|당)")
_Q_PER = re.compile(r"[가-힣]당\s|마다|씩|1인당|한\s?(?:곳|개|명)당")
_PAREN_AFTER = re.compile(r"^\(([^()]{0,40})\)")
# the noun a question asks about: the last word before its question word ("일자리는 몇 개", "설명회 언제")
_FOCUS = re.compile(r"([가-힣A-Za-z0-9&]+?)(?:은|는|이|가|을|를|의)?\s+(?:총\s|모두\s|최대\s|대략\s)?(?:몇|얼마|언제|어디|누구|며칠|어느)")


def focus_word(question: str) -> str | None:
    """The word a question asks about, right before its question word.

    >>> focus_word("광주 AI 집적단지 사업 추진 이후 새로 생긴 일자리는 몇 개?"), focus_word("AX 실증산단 사업 설명회 언제 해요?")
    ('일자리', '설명회')
    """
    found = list(_FOCUS.finditer(question))
    return found[-1].group(1) if found else None


def term_positions(tokens: Sequence[Token], weights: Container[str]) -> list[tuple[int, int, str]]:
    """Where the question's terms are in the sentence: tokens, and two nouns written together ("산업"+"단지")."""
    out = []
    prev: Token | None = None
    for tok in tokens:
        form, tag, start, length = tok
        f = form.lower() if tag == "SL" else form
        if f in weights and tag != "SN":
            out.append((start, start + length, f))
        if prev is not None and prev[2] + prev[3] == start and tag.startswith("NN") and prev[1].startswith("NN"):
            joined = prev[0] + form
            if joined in weights:
                out.append((prev[2], start + length, joined))
        prev = tok
    return out


def _aside(sentence: str, sp: Span, found: Sequence[Span]) -> bool:
    """A candidate inside the parenthesis right after another candidate ("77종(~21년 38종 既 구축)"): an aside."""
    before = sentence[:sp.start]
    open_at = before.rfind("(")
    if open_at < 0 or ")" in before[open_at:]:
        return False
    head = sentence[:open_at].rstrip()
    return any(o is not sp and o.end == len(head) for o in found)


def best_span(sentence: str, found: Sequence[Span], ask: Asked, tokens: Sequence[Token], weights: Mapping[str, float],
              question: str, *, reach: float = 12.0) -> tuple[Span, float, float] | None:
    """The candidate of ``found`` nearest the question's terms in ``sentence``: ``(span, nearness, role)``, or
    None when no candidate is left.

    ``weights`` maps the question's index terms to their weights (idf; the focus noun, the word before the
    question word, counts double). Each term found in the sentence pulls a candidate with
    ``weight / (1 + distance / reach)`` (characters; a term in the parenthesis right after the candidate,
    "조선대학교(AI+헬스케어)", is at distance 0); ``nearness`` is the pull over the weight of all the question's
    terms (0 .. 1). ``role`` (-1 .. 1) says whether the candidate plays the part asked: the value after
    "→" or before "(으)로" for "얼마로 늘어나", the change before "많은/증가" for "얼마나 늘었", a date with 까지
    for 언제까지, a per-unit value (개소당, 씩) for "한 곳당". A candidate that only repeats the question
    ("2022년" for "2022년 예산은?"), a name made of the question's own terms, and an aside in parentheses after
    another candidate are dropped.

    >>> sent = "2028년까지 개소당 140억 원씩, 총 1,400억원의 국비를 지원할 예정이다."
    >>> q = "한 곳당 국비 얼마 받나요?"
    >>> best_span(sent, spans(sent, asked(q)), asked(q), [], {"국비": 1.0}, q)[0].text
    '개소당 140억 원'
    """
    asked_numbers = {d.replace(",", "") for d in re.findall(r"\d[\d,.]*", question)}
    positions = term_positions(tokens, weights)
    mass = sum(weights.values())
    per = bool(_Q_PER.search(question))
    items = _list_items(sentence, found)
    best: tuple[Span, float, float] | None = None
    for sp in found:
        digits = {d.replace(",", "").rstrip(".") for d in re.findall(r"\d[\d,.]*", sp.text)}
        if digits and digits <= {d.rstrip(".") for d in asked_numbers}:
            continue  # the question's own number or date
        if ask.kind in ("place", "name", "person"):
            bare = re.sub(r"[\s·‘’'“”「」]", "", sp.text)
            if sp.text.strip("‘’'“”「」 ") in question or bare in re.sub(r"\s", "", question):
                continue  # the question's own name
            inside = "".join(p[2] for p in positions if sp.start <= p[0] and p[1] <= sp.end)
            if ask.kind != "person" and len(inside) >= len(bare):
                continue
        if _aside(sentence, sp, found):
            continue
        paren = _PAREN_AFTER.match(sentence[sp.end:])
        paren_terms = {p[2] for p in positions if paren and sp.end < p[0] < sp.end + paren.end()}
        pull = 0.0
        seen: set[str] = set()
        for s, e, t in sorted(positions, key=lambda p: _distance(sp, p[0], p[1])):
            if t in seen or (sp.start <= s and e <= sp.end and ask.kind in ("place", "name", "person")):
                continue  # (a number's counted noun, "24개 산업단지", is at distance 0)
            seen.add(t)
            if t in paren_terms:
                d = 0.0
            elif items and (s < items[0][0] or s >= items[-1][1]):
                d = float(max(items[0][0] - e, s - items[-1][1], 0))  # around an inline list: the same for every item
            elif items and not any(a <= s < b and a <= sp.start < b for a, b in items):
                continue  # another item's words ("△전남대학교(AI+에너지) △조선대학교(AI+헬스케어)")
            else:
                d = _distance(sp, s, e)
            pull += weights[t] / (1.0 + d / reach)
        near = pull / mass if mass else 0.0
        role = _role_fit(sentence, sp, ask, question, per)
        if best is None or near + role > best[1] + best[2] + 1e-9:
            best = (sp, near, role)
    return best


def _list_items(sentence: str, found: Sequence[Span]) -> list[tuple[int, int]]:
    """The items of an inline list ("△핵심 인프라 조성(2,549억원) △AI 전문기업 육성(549억원) …") that hold the
    candidates: from each △/▲/□/○ mark to the next, the last ending after its candidate (and the parenthesis
    around it); empty unless two or more items hold a candidate."""
    marks = [m.start() for m in re.finditer(r"[△▲□○]", sentence)]
    if len(marks) < 2:
        return []
    items = [(a, b) for a, b in zip(marks, [*marks[1:], len(sentence)])]
    holding = [(a, b) for a, b in items if any(a <= sp.start < b for sp in found)]
    if len(holding) < 2:
        return []
    a, b = holding[-1]
    last = max(sp.end for sp in found if a <= sp.start < b)
    close = sentence.find(")", last, b)
    holding[-1] = (a, close + 1 if 0 <= close < last + 2 else last)
    return holding


def _distance(sp: Span, s: int, e: int) -> float:
    if e <= sp.start:
        return float(sp.start - e)
    if s >= sp.end:
        return float(s - sp.end)
    return 0.0


def _role_fit(sentence: str, sp: Span, ask: Asked, question: str, per: bool) -> float:
    before, after = sentence[max(0, sp.start - 4):sp.start], sentence[sp.end:sp.end + 8]
    if ask.kind == "time":
        ranged = "부터" in question or "까지" in question
        return (1.0 if re.search(r"[~∼-]", sp.text) else -0.5) if ranged else 0.0
    if ask.kind == "date":
        ranged = sp.kind == "period" or bool(re.search(r"[~∼]", sp.text))
        if ask.role == "until":
            return 1.0 if ("까지" in sp.text or ranged) else -1.0 if "부터" in sp.text else 0.0
        if ask.role == "since":
            return 1.0 if ("부터" in sp.text or ranged) else -1.0 if "까지" in sp.text else 0.0
        if ask.role == "period":
            return 1.0 if ranged else 0.0
        return -0.5 if "부터" in sp.text and "까지" not in sp.text else 0.0
    if per:
        return 1.0 if (_PER_NEAR.search(before) or _PER_NEAR.search(after) or "당" in sp.text) else -0.5
    if ask.role == "after":
        if _ARROW_BEFORE.search(before) or _TO_AFTER.match(after):
            return 1.0
        return -1.0 if _FROM_AFTER.match(after) else 0.0
    if ask.role == "delta":
        return 1.0 if _DELTA_AFTER.match(after) else 0.0
    if ask.role == "total":
        return 1.0 if sp.text.startswith(("총", "국비", "국고")) or "총" in before else 0.0
    if _FROM_AFTER.match(after):
        return -0.5  # "450억 원에서 1,000억 원으로": the starting value is rarely the answer
    return 0.0
