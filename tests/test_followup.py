"""Follow-up questions (issue #16): reading a question in its conversation, offline, with the real Kiwi.

The pure tests resolve questions against a history with the corpus' own terms (no index); the ones on the
seed index check the answers, including the failure seen in the chat ("그 사업은 언제까지 진행돼?" answered as
if alone, with the second phase 2025-2029) and a new topic that must not inherit the old one.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from eval.data import TURN_KINDS, load_conversations
from indexer.analyzer import KoreanAnalyzer
from indexer.build import corpus_analyzer_config
from retriever import Retriever, SearchSettings
from retriever.followup import FollowUp, user_turns

REPO = Path(__file__).resolve().parents[1]
GWANGJU = "광주 AI 집적단지 사업의 2022년 예산은 얼마야?"


@pytest.fixture(scope="module")
def followup() -> FollowUp:
    """A resolver over the corpus' text documents: ``docs_with`` from their analysed text."""
    analyzer = KoreanAnalyzer(corpus_analyzer_config(REPO / "corpus"))
    where: dict[str, set[str]] = {}
    for p in sorted((REPO / "corpus").glob("*.txt")):
        for t in analyzer.analyze(p.read_text(encoding="utf-8")):
            where.setdefault(t, set()).add(p.name)
    return FollowUp(analyzer, lambda term: frozenset(where.get(term, ())), SearchSettings())


# ------------------------------------------------------------------ history formats
def test_history_accepts_questions_and_messages() -> None:
    assert user_turns(None) == [] and user_turns([]) == []
    assert user_turns(["광주 집적단지 예산은?", "  그 사업 기간은? "]) == ["광주 집적단지 예산은?", "그 사업 기간은?"]
    messages = [{"role": "user", "content": "광주 집적단지 예산은?"}, {"role": "assistant", "content": "1,076억원\n…"},
                {"role": "system", "content": "x"}, {"content": "그 사업 기간은?"}]
    assert user_turns(messages) == ["광주 집적단지 예산은?", "그 사업 기간은?"]


@pytest.mark.parametrize("bad", ["광주 집적단지 예산은?", {"role": "user", "content": "x"}, [{"role": "bot", "content": "x"}],
                                 [{"role": "user"}], [{"role": "user", "content": 3}], [3]])
def test_malformed_history_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="history"):
        user_turns(bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ reading a question in its conversation
def test_a_question_without_history_stands_alone(followup: FollowUp) -> None:
    res = followup.resolve(GWANGJU, [])
    assert res.query == GWANGJU and not res.leaning and res.note is None and res.reason == "alone"


def test_a_demonstrative_carries_the_topic(followup: FollowUp) -> None:
    res = followup.resolve("그 사업은 언제까지 진행돼?", [GWANGJU])
    assert res.leaning and res.reason == "demonstrative"
    assert res.carried == "광주 AI 집적단지" and res.query == "광주 AI 집적단지 사업은 언제까지 진행돼?"
    assert res.note == "광주 AI 집적단지 기준으로 찾았습니다"
    for q in ("해당 사업 재원은 뭐야?", "이 사업의 총사업비는?", "거기 위치는 어디야?"):
        r = followup.resolve(q, [GWANGJU])
        assert r.leaning and "광주 AI 집적단지" in r.query, (q, r)


def test_a_question_naming_no_topic_carries_it_and_what_was_asked(followup: FollowUp) -> None:
    res = followup.resolve("작년보다 얼마나 늘었어?", ["광주 집적단지 사업 2022년 예산이 얼마야?"])
    assert res.reason == "no-topic" and res.query.startswith("광주 집적단지") and "예산" in res.query
    res = followup.resolve("언제까지 지원해?", ["AX 실증산단 구축사업은 몇 곳을 선정해?", "한 곳당 국비는 얼마야?"])
    assert res.leaning and "AX 실증산단" in res.query and "국비" in res.query
    res = followup.resolve("그럼 정부 예산은 얼마나 늘려?", ["AI 혁신펀드는 얼마 규모로 확대돼?"])
    assert res.reason == "connective" and res.query == "AI 혁신펀드 정부 예산은 얼마나 늘려?"


def test_an_elliptical_question_asks_the_same_of_something_else(followup: FollowUp) -> None:
    res = followup.resolve("2021년은?", ["광주 집적단지 2022년 예산은 얼마야?"])
    assert res.reason == "ellipsis" and res.query == "광주 집적단지 2021년 예산은 얼마야?"
    res = followup.resolve("그럼 부산은?", [GWANGJU])  # another city, the same cluster and the same question
    assert res.reason == "ellipsis" and res.query == "부산 AI 집적단지 사업의 2022년 예산은 얼마야?" and res.topic == "부산 AI 집적단지"
    res = followup.resolve("울산·경남은?", ["광주·전남 지역혁신플랫폼 총괄대학은 어디야?"])
    assert res.reason == "ellipsis" and res.query.startswith("울산·경남 지역혁신플랫폼") and "광주" not in res.query


@pytest.mark.parametrize("question", ["AX 실증산단 공모는 언제까지야?", "GPU는 몇 장 확보해?", "RIS 지역혁신플랫폼 국고 예산은?",
                                      "부산 인공지능 집적단지의 2023년 예산은?"])
def test_a_new_topic_inherits_nothing(followup: FollowUp, question: str) -> None:
    res = followup.resolve(question, [GWANGJU, "그 사업은 언제까지 진행돼?"])
    assert not res.leaning and res.query == question and res.note is None, res
    assert res.reason in ("new-topic", "standalone")


def test_the_topic_follows_the_conversation(followup: FollowUp) -> None:
    history = [GWANGJU, "그 사업은 언제까지 진행돼?", "AX 실증산단 구축사업 국비 총액은?"]
    res = followup.resolve("해당 사업 공모는 언제까지야?", history)
    assert res.leaning and "AX 실증산단" in res.query and "광주" not in res.query
    assert followup.resolve("그 사업은 언제까지야?", history[:2]).carried == "광주 AI 집적단지"  # two turns back, still the topic


# ------------------------------------------------------------------ the conversations eval set
def test_conversation_set_is_well_formed() -> None:
    convs = load_conversations()
    assert len(convs) >= 20 and len({c.id for c in convs}) == len(convs)
    assert {c.split for c in convs} == {"dev", "test"}
    assert all(2 <= len(c.turns) <= 3 for c in convs)
    assert sum(c.turns[-1].kind == "new_topic" for c in convs) >= 5
    assert {t.kind for c in convs for t in c.turns} == set(TURN_KINDS)

    def norm(t: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", t)).strip()

    texts = {p.name: norm(p.read_text(encoding="utf-8")) for p in (REPO / "corpus").glob("*.txt")}
    for c in convs:
        for t in c.turns:
            assert t.doc in texts and norm(t.answer) in texts[t.doc], (c.id, t.answer)


def test_bad_conversation_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text(json.dumps({"id": "x", "turns": [{"question": "q", "answer": "a", "doc": "d"}]}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.jsonl:1"):
        load_conversations(bad)


# ------------------------------------------------------------------ the seed index
@pytest.fixture(scope="module")
def r(seed_index: Path) -> Retriever:
    return Retriever.load(seed_index)


def test_the_follow_up_is_about_the_project_not_its_second_phase(r: Retriever) -> None:
    """Seen: "그 사업은 언제까지 진행돼?" answered as if alone, with the second phase (2025-2029)."""
    a = r.ask("그 사업은 언제까지 진행돼?", history=[GWANGJU])
    assert a.found and a.context_note == "광주 AI 집적단지 기준으로 찾았습니다"
    assert a.resolved_question == "광주 AI 집적단지 사업은 언제까지 진행돼?"
    assert a.direct is not None and "2024년까지" in a.direct and "2029" not in a.direct, a.text
    assert "2022_msit" in a.citations[0].source
    alone = r.ask("그 사업은 언제까지 진행돼?")
    assert alone.context_note is None and alone.resolved_question is None
    messages = [{"role": "user", "content": GWANGJU}, {"role": "assistant", "content": r.ask(GWANGJU).text}]
    assert r.ask("그 사업은 언제까지 진행돼?", history=messages).text == a.text  # the same with chat messages


def test_a_new_topic_is_answered_from_its_own_document(r: Retriever) -> None:
    a = r.ask("AX 실증산단 공모는 언제까지야?", history=[GWANGJU, "그 사업은 언제까지 진행돼?"])
    assert a.found and a.context_note is None and a.resolved_question is None
    assert "motie" in a.citations[0].source and a.direct is not None and "7월 28일" in a.direct


def test_another_city_in_a_follow_up_is_not_found(r: Retriever) -> None:
    a = r.ask("그럼 부산은?", history=[GWANGJU])
    assert not a.found and a.kind == "not_found" and "부산" in (a.resolved_question or "")
    assert a.context_note is not None and "부산" in a.context_note


def test_follow_ups_in_the_conversation_set(r: Retriever) -> None:
    """The eval's conversations: follow-up turns answered with their gold, topic changes from their own document."""
    from eval.run import evaluate_conversations

    report = evaluate_conversations(r, load_conversations(), split=None)
    assert report["followup_accuracy"] >= 0.85, report["failures"]
    assert report["topic_change_doc"] == 1.0, report["failures"]
    assert report["followup_accuracy"] > report["followup_alone_accuracy"]


def test_bad_history_is_a_value_error(r: Retriever) -> None:
    with pytest.raises(ValueError, match="history"):
        r.ask("그 사업은 언제까지 진행돼?", history=[{"role": "user"}])
