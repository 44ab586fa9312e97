"""Follow-up questions: carry the conversation's topic into a question that leans on earlier turns.

A question leans on the conversation when it points back — a demonstrative determiner (그/이/저 사업, 해당
기관: Kiwi MM, or 해당 before a noun), a pronoun (거기, 그것, 그곳) — when it is elliptical ("2021년은?",
"부산은?": nouns and a topic particle, no predicate), or when it names no topic of its own ("예산은 얼마야?",
"언제까지야?": only attribute nouns and question words), or opens with 그럼/그러면 and names nothing new.
Such a question is searched with the topic of the earlier user turns (their content nouns and names, most
recent first): "그 사업은 언제까지 진행돼?" after "광주 AI 집적단지 사업의 2022년 예산은 얼마야?" is searched
as "광주 AI 집적단지 사업은 언제까지 진행돼?", and the answer says "광주 AI 집적단지 사업 기준으로 찾았습니다".

A question with strong terms of its own starts a new topic and inherits nothing: a proper noun or a
Latin-script name (Kiwi NNP, SL) the conversation has not used, or a content noun the corpus has but not in
the documents of the current topic.

History is JSON-friendly: a list of earlier user questions (strings), or of ``{"role", "content"}`` messages
(only ``"user"`` turns are read; ``"assistant"`` and ``"system"`` messages are skipped).

>>> user_turns(["광주 집적단지 예산은?", {"role": "assistant", "content": "1,076억원"}, {"role": "user", "content": "그 사업 기간은?"}])
['광주 집적단지 예산은?', '그 사업 기간은?']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.analyzer import KoreanAnalyzer

from .settings import SearchSettings
from .span import Token, kiwi_tokens

__all__ = ["ATTRIBUTE_NOUNS", "FollowUp", "HistoryItem", "Resolution", "user_turns"]

HistoryItem = str | Mapping[str, Any]

# nouns that name what is asked about a topic, not the topic: "예산" in "광주 집적단지 예산은?"; a question made
# only of these (and question words) names no topic of its own
ATTRIBUTE_NOUNS = frozenset((
    "예산", "규모", "금액", "액수", "총액", "사업비", "총사업비", "배정액", "국비", "비용", "지원금", "기간", "일정", "날짜", "일시",
    "일자", "시기", "장소", "위치", "이름", "성함", "수", "개수", "인원", "물량", "목표", "내용", "결과", "성과", "목적", "대상", "방법",
    "조건", "현황", "비율", "비중", "담당", "담당자", "주체", "이유", "배경", "효과", "마감", "마감일", "시작", "시작일", "종료", "종료일",
    "연도", "올해", "작년", "내년", "지난해", "금년", "당시", "처음", "이후", "이전", "전체", "총", "주요", "부분", "얼마", "정도", "중",
    "다음", "해", "때", "그때", "뭐", "무엇", "어디", "언제", "누구", "몇", "며칠", "얼마나", "세부", "상세", "구체", "최종", "전",
    "후", "앞", "뒤", "단계", "차", "번", "관련", "정보", "사항", "계획", "추진", "분야", "사업", "지원", "발표", "규정", "기준",
))
_TIME_WORDS = frozenset(("올해", "작년", "내년", "지난해", "금년", "당시", "그때", "재작년", "내후년", "이번", "지난번"))
_PRONOUNS = frozenset(("그것", "그거", "이것", "이거", "저것", "저거", "거기", "여기", "저기", "그곳", "이곳", "저곳", "그분", "이분",
                       "그녀", "그들", "이들", "그쪽", "이쪽", "그때"))
_DEMONSTRATIVES = frozenset(("그", "이", "저", "해당", "같은", "위", "앞"))
_CONNECTIVES = frozenset(("그럼", "그러면", "그렇다면", "그리고", "또", "또한", "그래서", "그런데", "근데", "아울러"))
_CONTENT_TAGS = frozenset(("NNG", "NNP", "SL", "SH", "XR"))
_PREDICATE_TAGS = ("VV", "VA", "XSV", "XSA", "VCN")
_WH = frozenset(("얼마", "몇", "며칠", "언제", "어디", "누구", "무엇", "뭐", "얼마나"))
_TIME_EXPR = re.compile(r"(?:['’‘]\d{2}|\d{4})\s?년도?|올해|작년|지난해|내년|금년|재작년")


def user_turns(history: Iterable[HistoryItem] | None) -> list[str]:
    """The user questions of a history: strings as they are, ``{"role": "user", "content": ...}`` messages'
    contents; other roles are skipped. A malformed item is a ``ValueError`` naming it."""
    out: list[str] = []
    if history is None:
        return out
    if isinstance(history, (str, Mapping)):
        raise ValueError("history must be a list of earlier questions or of {'role', 'content'} messages, not one item")
    for i, item in enumerate(history):
        if isinstance(item, str):
            text = item
        elif isinstance(item, Mapping):
            role = item.get("role", "user")
            if role not in ("user", "assistant", "system"):
                raise ValueError(f"history[{i}]: role {role!r} is not 'user', 'assistant' or 'system'")
            if role != "user":
                continue
            content = item.get("content")
            if not isinstance(content, str):
                raise ValueError(f"history[{i}]: a user message needs its text as a string under 'content'")
            text = content
        else:
            raise ValueError(f"history[{i}]: {type(item).__name__} is neither a question string nor a {{'role', 'content'}} message")
        text = " ".join(text.split())
        if text:
            out.append(text)
    return out


@dataclass(frozen=True)
class Resolution:
    """How a question was read in its conversation.

    ``query`` is what is searched (the question itself, or with the topic carried in); ``carried`` the topic
    phrase carried from earlier turns (None when the question stands alone); ``topic`` the conversation's
    topic after this turn; ``reason`` one of "alone" (no history), "standalone", "new-topic", "demonstrative",
    "ellipsis", "no-topic", "connective".
    """

    question: str
    query: str
    carried: str | None
    topic: str | None
    reason: str

    @property
    def leaning(self) -> bool:
        return self.carried is not None

    @property
    def note(self) -> str | None:
        """The line the answer shows about it ("광주 AI 집적단지 사업 기준으로 찾았습니다"), None for a question
        that stands alone."""
        if self.carried is None:
            return None
        if self.reason == "ellipsis":
            return f"‘{self.query}’(으)로 찾았습니다"
        return f"{self.carried} 기준으로 찾았습니다"


@dataclass
class _State:
    topic: str | None = None  # surface phrase
    terms: frozenset[str] = frozenset()  # analyzer terms of every earlier user turn
    docs: frozenset[str] = frozenset()  # documents of the topic
    query: str | None = None  # the last resolved query
    asked: tuple[str, str] = ("", "")  # what the last turn asked about the topic: its dates and attribute nouns


def _groups(question: str, toks: Sequence[Token]) -> list[tuple[int, int]]:
    """Surface spans of adjacent tokens (separated by nothing, a space or a middle dot)."""
    out: list[tuple[int, int]] = []
    for _form, _tag, s, n in toks:
        if out and question[out[-1][1]:s] in ("", " ", "·"):
            out[-1] = (out[-1][0], s + n)
        else:
            out.append((s, s + n))
    return out


class FollowUp:
    """Resolves questions against the earlier user turns of a conversation.

    ``docs_with(term)`` gives the documents that hold an index term (empty for a term the corpus lacks).
    """

    def __init__(self, analyzer: KoreanAnalyzer, docs_with: Callable[[str], frozenset[str]], settings: SearchSettings) -> None:
        self.analyzer = analyzer
        self.docs_with = docs_with
        self.settings = settings
        self._stop = frozenset(analyzer.config.stopwords)

    # ---------------------------------------------------------------- reading one question
    def _topic_tokens(self, toks: Sequence[Token]) -> list[Token]:
        """The tokens naming what a question is about: content nouns and names, without attribute nouns,
        time words, question words, predicative nouns ("진행"되다) and the noun a demonstrative points with."""
        out = []
        for i, tok in enumerate(toks):
            form, tag, _s, _n = tok
            if tag not in _CONTENT_TAGS:
                continue
            nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
            prev = toks[i - 1] if i > 0 else None
            if form in ATTRIBUTE_NOUNS or form in _TIME_WORDS or form in self._stop or form in _PRONOUNS:
                continue
            if tag == "NNG" and nxt.startswith(_PREDICATE_TAGS):
                continue  # "진행되다", "발표했어": the question's predicate, not its topic
            if prev is not None and self._is_demonstrative(prev, tok):
                continue
            out.append(tok)
        return out

    @staticmethod
    def _is_demonstrative(prev: Token, tok: Token) -> bool:
        return (prev[1] == "MM" and prev[0] in _DEMONSTRATIVES) or (prev[0] == "해당" and tok[1].startswith("NN"))

    def _asked(self, question: str, toks: Sequence[Token]) -> tuple[str, str]:
        """What a question asks about its topic: ``(dates, attribute nouns)`` ("2022년", "예산" of "광주 집적단지
        2022년 예산은 얼마야?")."""
        words = [question[s:s + n] for i, (form, tag, s, n) in enumerate(toks)
                 if tag == "NNG" and form in ATTRIBUTE_NOUNS and form not in self._stop and form not in _WH
                 and form not in _TIME_WORDS and not (i + 1 < len(toks) and toks[i + 1][1].startswith(_PREDICATE_TAGS))]
        dates = [m.group(0) for m in _TIME_EXPR.finditer(question)]
        return " ".join(dict.fromkeys(dates)), " ".join(dict.fromkeys(words))

    def _anaphor(self, toks: Sequence[Token]) -> tuple[int, int, int] | None:
        """``(start, noun start, end)`` of a demonstrative and its noun ("그 사업": the noun starts at 2) or of a
        pronoun ("거기": no noun, its noun start is its end), if the question has one."""
        for i, tok in enumerate(toks):
            form, tag, s, n = tok
            if tag in ("NP", "NNG") and form in _PRONOUNS:
                return s, s + n, s + n
            if i + 1 < len(toks) and toks[i + 1][1].startswith("NN") and self._is_demonstrative(tok, toks[i + 1]):
                nxt = toks[i + 1]
                return s, nxt[2], nxt[2] + nxt[3]
        return None

    def _elliptical(self, toks: Sequence[Token]) -> bool:
        """Nouns and a topic particle and nothing else: "2021년은?", "부산은?", "R&D 분야는?"."""
        words = [t for t in toks if not t[1].startswith("S") or t[1] in ("SL", "SN", "SH")]
        if not words or any(t[1].startswith(_PREDICATE_TAGS) or t[1] in ("VCP", "NP", "MAG") for t in words):
            return False
        if any(t[0] in self._stop for t in words):
            return False
        nouns = [t for t in words if t[1] in ("NNG", "NNP", "SL", "SH", "SN", "NNB", "NR", "XR")]
        return 0 < len(nouns) <= self.settings.followup_ellipsis_tokens and words[-1][1] in ("JX", "EF") and words[-1][0] in (
            "은", "는", "ᆫ", "요")

    def _name_in(self, topic: str) -> str | None:
        """The first proper noun of a topic phrase, with the ones joined to it ("광주·전남" of "광주·전남 지역혁신플랫폼"):
        what "울산·경남은?" or "부산은?" replaces, keeping what the topic is about."""
        toks = kiwi_tokens(self.analyzer, topic)
        for s, e in _groups(topic, [t for t in toks if t[1] == "NNP"]):
            return topic[s:e]
        return None

    def _terms(self, text: str) -> frozenset[str]:
        return frozenset(self.analyzer.analyze(text, predicates=False))

    def _topic_docs(self, topic: str | None) -> frozenset[str]:
        """Documents holding every term of the topic phrase (those of its rarest term when none holds all)."""
        if not topic:
            return frozenset()
        sets = [d for d in (self.docs_with(t) for t in self._terms(topic)) if d]
        if not sets:
            return frozenset()
        common = frozenset.intersection(*sets)
        return common or min(sets, key=len)

    def _new_topic(self, topic_toks: Sequence[Token], state: _State) -> bool:
        """Whether the question names something of its own that the conversation is not about."""
        for form, tag, _s, _n in topic_toks:
            terms = self._terms(form) or frozenset({form.lower() if tag == "SL" else form})
            if terms & state.terms:
                continue
            docs = frozenset().union(*(self.docs_with(t) for t in terms))
            if not docs:
                continue  # a word the corpus never uses says nothing about the topic
            if tag in ("NNP", "SL", "SH"):
                return True  # another name: another topic
            if state.docs and not docs & state.docs:
                return True  # a noun of other documents than the topic's
        return False

    # ---------------------------------------------------------------- one turn
    def _step(self, question: str, state: _State) -> tuple[Resolution, _State]:
        toks = kiwi_tokens(self.analyzer, question)
        res, new = self._read(question, toks, state)
        dates, attrs = self._asked(question, toks)
        if res.leaning:  # a follow-up keeps asking about what it does not restate
            dates, attrs = dates or state.asked[0], attrs or state.asked[1]
        new.asked = (dates, attrs)
        return res, new

    def _read(self, question: str, toks: Sequence[Token], state: _State) -> tuple[Resolution, _State]:
        topic_toks = self._topic_tokens(toks)
        own = " ".join(dict.fromkeys(w for s, e in _groups(question, topic_toks) for w in question[s:e].split())) or None
        terms = state.terms | self._terms(question)

        def alone(reason: str) -> tuple[Resolution, _State]:
            topic = own or (state.topic if reason == "standalone" else None)
            return (Resolution(question, question, None, topic, reason),
                    _State(topic, terms, self._topic_docs(topic), question))

        if state.topic is None or state.query is None:
            return alone("alone" if state.query is None else "standalone")
        topic = state.topic
        anaphor = self._anaphor(toks)
        if anaphor is not None:
            s, noun, e = anaphor
            head = self._terms(question[noun:e])
            if head and head <= self._terms(topic):  # "그 사업" of "광주 AI 집적단지 사업": the topic itself
                query = question[:s] + topic + question[e:]
            else:  # "그 사업" of "광주 AI 집적단지": the topic, then the noun; "거기": the topic
                query = f"{topic} {question[:s]}{question[noun:]}"
            return (Resolution(question, " ".join(query.split()), topic, topic, "demonstrative"),
                    _State(topic, terms, state.docs, query))
        if self._elliptical(toks):
            said = " ".join(question[s:e] for s, e in _groups(question, [t for t in toks if t[1] not in ("JX", "EF", "SF")]))
            prev = state.query
            if _TIME_EXPR.search(said) and _TIME_EXPR.search(prev):  # "2021년은?": the same question for another year
                query = _TIME_EXPR.sub(lambda _m: said, prev, count=1)
                return Resolution(question, query, topic, topic, "ellipsis"), _State(topic, terms, state.docs, query)
            if own and self._new_topic(topic_toks, state) and topic in prev:  # "부산은?": the same question for another name
                name = self._name_in(topic)
                new_topic = topic.replace(name, own, 1) if name and all(t[1] == "NNP" for t in topic_toks) else own
                query = " ".join(prev.replace(topic, new_topic, 1).split())
                return (Resolution(question, query, topic, new_topic, "ellipsis"),
                        _State(new_topic, terms, self._topic_docs(new_topic), query))
            query = f"{topic} {question}"
            return Resolution(question, query, topic, topic, "ellipsis"), _State(topic, terms, state.docs, query)
        if self._new_topic(topic_toks, state):
            return alone("new-topic")
        if not topic_toks:  # "작년보다 얼마나 늘었어?": the topic, and what was asked about it ("2022년 예산")
            rest = question[toks[0][2] + toks[0][3]:].strip() if toks and toks[0][0] in _CONNECTIVES else question
            dates, attrs = self._asked(question, toks)
            year = re.search(r"\d{4}\s?년|['’‘]\d{2}\s?년", dates)
            carried = f"{'' if year else state.asked[0]} {'' if attrs else state.asked[1]}"
            query = " ".join(f"{topic} {carried} {rest}".split())
            return Resolution(question, query, topic, topic, "no-topic"), _State(topic, terms, state.docs, query)
        if toks and toks[0][0] in _CONNECTIVES:
            query = f"{topic} {question[toks[0][2] + toks[0][3]:].strip()}"
            return Resolution(question, query, topic, topic, "connective"), _State(topic, terms, state.docs, query)
        return alone("standalone")

    def resolve(self, question: str, history: Iterable[HistoryItem] | None = None) -> Resolution:
        """How ``question`` reads after the user turns of ``history`` (oldest first); the last
        ``followup_turns`` of them are read, each resolved in turn."""
        state = _State()
        for turn in user_turns(history)[-self.settings.followup_turns:]:
            _, state = self._step(turn, state)
        if state.query is None:
            return Resolution(question, question, None, None, "alone")
        return self._step(question, state)[0]
