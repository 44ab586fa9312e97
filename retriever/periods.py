"""Periods shorter than a year that a text names: "2024년 1분기", "‘25.1Q", "2024년 상반기", "2024년 6월".

A series of statistics releases (해외직접투자 동향, every quarter) holds documents that say the same sentence about
different periods ("업종별 투자규모는 금융보험업(…) 순이며 …"), the period stated only in the title. A question that
names its period ("2024년 1분기 …") is answered from the document about that period (:class:`retriever.answer.AnswerPicker`).

>>> sorted(periods("‘25년 1분기 해외직접투자는 151.3억 달러"))
[(2025, 'Q', 1)]
>>> sorted(periods("2024년 1/4분기와 ’23.4Q, 2023년 하반기, 2024년 6월"))
[(2023, 'H', 2), (2023, 'Q', 4), (2024, 'M', 6), (2024, 'Q', 1)]
>>> periods("2024. 6. 21.(금) 11:00"), periods("2024년 예산")
(frozenset(), frozenset())
"""

from __future__ import annotations

import re

__all__ = ["Period", "conflicts", "periods", "states_period"]

Period = tuple[int, str, int]  # (year, kind, number): kind "Q" quarter, "H" half (1 = 상반기), "M" month

_PERIOD = re.compile(
    r"(?<![\d.])(?:(?P<y4>(?:19|20)\d{2})|['’‘](?P<y2>\d{2}))\s*(?:년|\.)?\s*(?:제\s*)?"
    r"(?:(?P<q>[1-4])\s*(?:/\s*4\s*)?(?:분기|Q)|(?P<h>[상하])\s*반기|(?P<m>1[0-2]|0?[1-9])\s*월)")
# a period stated in a sentence ("2024년", "’24.1Q", "’25. 1분기"): the sentence speaks for itself, and one that
# states a period and not the question's is about another period
_YEAR = re.compile(r"\d{4}\s*년|['’‘]\d{2}\s*[.년]")


def periods(text: str) -> frozenset[Period]:
    """The quarters, halves and months (with their year) that ``text`` names."""
    out = set()
    for m in _PERIOD.finditer(text):
        year = int(m["y4"]) if m["y4"] else 2000 + int(m["y2"])
        if m["q"]:
            out.add((year, "Q", int(m["q"])))
        elif m["h"]:
            out.add((year, "H", 1 if m["h"] == "상" else 2))
        else:
            out.add((year, "M", int(m["m"])))
    return frozenset(out)


def states_period(text: str) -> bool:
    """Whether a sentence states a year or a quarter ("2024년 1분기", "’24.1Q")."""
    return bool(_YEAR.search(text))


def conflicts(asked: frozenset[Period], about: frozenset[Period]) -> bool:
    """Whether a document about the periods ``about`` (its title's) is about another period than every one asked, of
    the same kind: a title's "‘25년 1분기" conflicts with "2024년 1분기", not with "2024년 6월".

    >>> conflicts(periods("2024년 1분기 1위 업종은?"), periods("‘25년 1분기 해외직접투자"))
    True
    >>> conflicts(periods("2024년 1분기 1위 업종은?"), periods("‘24년 1분기 해외직접투자"))
    False
    """
    kinds = {k for _, k, _ in asked}
    theirs = {p for p in about if p[1] in kinds}
    return bool(theirs) and not theirs & asked
