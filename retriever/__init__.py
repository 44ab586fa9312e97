"""Hybrid Korean search over an index folder, with span citations and an extracted answer.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                       # doctest: +SKIP
>>> r.search("광주 AI 집적단지 예산", k=3)[0].title    # doctest: +SKIP
>>> r.ask("AX 실증산단 공모 기간은?").text            # doctest: +SKIP
>>> r.ask("설명회는 언제야?", history=["AX 실증산단 공모 기간은?"]).context_note   # doctest: +SKIP
"""

from __future__ import annotations

from .candidates import Candidate
from .core import (
    ANSWER_KINDS,
    MAX_QUERY_CHARS,
    MODES,
    Answer,
    EmptyQueryError,
    FirstStageResult,
    Hit,
    Retriever,
    normalize_query,
)
from .followup import HistoryItem
from .live import LiveRetriever
from .settings import SearchSettings

__all__ = [
    "ANSWER_KINDS",
    "MAX_QUERY_CHARS",
    "MODES",
    "Answer",
    "Candidate",
    "EmptyQueryError",
    "FirstStageResult",
    "HistoryItem",
    "Hit",
    "LiveRetriever",
    "Retriever",
    "SearchSettings",
    "normalize_query",
]
