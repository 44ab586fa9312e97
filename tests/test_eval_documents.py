"""The document QA set (eval/qa_documents.jsonl over the HWP/HWPX press releases in eval/documents/)."""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest

from eval.data import load_qa
from eval.expected import check_expected
from eval.metrics import norm
from eval.run import evaluate_qa
from indexer import build_index
from indexer.ingest import load_corpus
from retriever import Retriever

REPO = Path(__file__).resolve().parents[1]


def test_document_questions_name_their_document_and_page() -> None:
    items = load_qa(REPO / "eval" / "qa_documents.jsonl")
    docs = {d.source: d for d in load_corpus(REPO / "eval" / "documents", progress=False)[0]}
    assert len(items) >= 15 and {it.split for it in items} == {"dev", "test"}
    assert {it.doc for it in items} == set(docs) and {d.source.rsplit(".", 1)[1] for d in docs.values()} == {"hwp", "hwpx"}
    for it in items:
        assert it.answer is not None and it.doc is not None and it.page is not None, it.id
        doc = docs[it.doc]
        assert len(doc.pages) == 9, doc.source  # pages as Hancom laid them out
        # the gold page holds the answer
        bounds = [*doc.pages, len(doc.text)]
        page_text = doc.text[bounds[it.page - 1]:bounds[it.page]]
        assert norm(it.answer) in norm(page_text), it.id


@pytest.fixture(scope="module")
def documents_retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    """The two press releases indexed with the bundled default model."""
    out = tmp_path_factory.mktemp("documents") / "index"
    build_index(REPO / "eval" / "documents", out, progress=False)
    return Retriever.load(out)


@pytest.mark.slow
def test_a_percentage_question_is_answered_from_the_sentence_that_states_it(documents_retriever: Retriever) -> None:
    """Every row of the 2025 release's statistics tables repeats "2025년 1분기", so tables fill the best passages;
    "몇 퍼센트" needs a percentage, and the lead sentence that states one (-8.9 %) is brought in to answer."""
    r = documents_retriever
    a = r.ask("2025년 1분기 해외직접투자는 전년 동기보다 몇 퍼센트 줄었어?")
    assert a.found and a.direct == "8.9%"
    ci, start, _ = a.highlights[0]
    cited = a.citations[ci]
    assert cited.source == "2025-06-20_moef_overseas-direct-investment-2025q1.hwpx" and cited.page == 1
    assert "8.9%" in r.docs[cited.doc_id]["text"][start:start + 200]
    # a percentage the documents never state for what is asked is still not an answer
    b = r.ask("2025년 1분기 해외직접투자 기업의 고용 증가율은 몇 퍼센트야?")
    assert not b.found, b.text


@pytest.mark.slow
def test_a_table_cell_answers_a_question_that_names_its_row_and_column(documents_retriever: Retriever) -> None:
    """The 2024 release's statistics annex holds the same rows under "(총투자 기준)" and "(순투자 기준)"; its lead
    paragraph states 2024년 1분기 figures only. A question naming a row and a column is answered by that cell,
    on its page, with the headings that say which table it is."""
    r = documents_retriever
    cases = [
        ("2022년 1분기 금융보험업 해외직접투자액은 얼마였어?", "2022년 1분기: 85.0", 3, "(총투자 기준)"),
        ("순투자 기준으로 2022년 1분기 금융보험업 해외직접투자액은?", "2022년 1분기: 69.0", 6, "(순투자 기준)"),
        # the lead paragraph states 2024년 1분기 but not 저지: the row the question names answers
        ("2024년 1분기 저지 투자액은?", "2024년 1분기: 9.3", 3, "□ 국가별 동향(상위 5개)"),
    ]
    for question, cell, page, heading in cases:
        a = r.ask(question)
        assert a.found and a.direct == cell, (question, a.text)
        assert a.direct_span is not None
        ci, start, end = a.direct_span
        cited = a.citations[ci]
        doc = r.docs[cited.doc_id]
        assert cited.source == "2024-06-21_moef_overseas-direct-investment-2024q1.hwp"
        assert doc["text"][start:end] == cell and bisect.bisect_right(doc["pages"], start) == page, question
        assert heading in a.text, a.text
    # the paragraph that states the period and the basis asked still answers, with its unit
    b = r.ask("2024년 1분기 순투자액은 얼마였어?")
    assert b.found and b.direct == "128.7억 달러", b.text


@pytest.mark.slow
def test_a_question_naming_its_quarter_is_answered_from_that_quarters_release(documents_retriever: Retriever) -> None:
    """Both releases say "업종별 투자규모는 금융보험업(…), 제조업(…) … 순이며", the quarter stated only in their titles
    ("‘24년 1분기 …", "‘25년 1분기 …"): the question's quarter picks the release (each of these two was answered from
    the other release before retriever.periods)."""
    r = documents_retriever
    for question, source, amount in [
        ("업종별로 보면 2024년 1분기에 투자가 가장 많았던 업종은?", "2024-06-21_moef_overseas-direct-investment-2024q1.hwp",
         "금융보험업(55.0억 달러)"),
        ("2025년 1분기에 투자 규모가 가장 큰 업종은 어디야?", "2025-06-20_moef_overseas-direct-investment-2025q1.hwpx",
         "금융보험업(77.4억 달러)"),
    ]:
        a = r.ask(question)
        ci, start, end = a.highlights[0]
        cited = a.citations[ci]
        assert cited.source == source, (question, a.text)
        assert amount in r.docs[cited.doc_id]["text"][start:end], (question, a.text)


@pytest.mark.slow
def test_a_ranking_question_is_answered_by_the_item_at_that_place(documents_retriever: Retriever) -> None:
    """"지역별로는 북미(67.5억 달러), 유럽(…), … 순으로": "가장 많았던 곳" is the first item, "미국 다음으로" the one after
    미국, each from the release about the quarter asked."""
    r = documents_retriever
    y2024, y2025 = "2024-06-21_moef_overseas-direct-investment-2024q1.hwp", "2025-06-20_moef_overseas-direct-investment-2025q1.hwpx"
    for question, direct, source in [
        ("2024년 1분기 지역별로 투자가 가장 많았던 곳은?", "북미(67.5억 달러)", y2024),
        ("2025년 1분기 지역별로 투자가 가장 많았던 곳은?", "북미(58.2억 달러)", y2025),
        ("2024년 1분기 국가별로는 미국 다음으로 투자가 많은 곳은?", "룩셈부르크(16.4억 달러)", y2024),
        ("2024년 1분기 국가별 2위는?", "룩셈부르크(16.4억 달러)", y2024),
        # the passage says 국가별, never 나라: the noun of what is ranked need not be covered
        ("2024년 1분기 국가별로 투자가 가장 많았던 나라는?", "미국(61.2억 달러)", y2024),
    ]:
        a = r.ask(question)
        assert a.found and a.direct == direct, (question, a.text)
        assert a.direct_span is not None
        ci, start, end = a.direct_span
        assert a.citations[ci].source == source and a.citations[ci].page == 1, question
        assert r.docs[a.citations[ci].doc_id]["text"][start:end] == direct
    # a ranking of 국가 is never read from the sentence that ranks 업종 ("업종별 투자규모는 금융보험업(…), …")
    b = r.ask("2024년 1분기 국가별 투자 규모 1위 국가는?")
    assert "금융보험업" not in (b.direct or ""), b.text


@pytest.mark.slow
def test_document_questions_hold_their_pinned_floors(documents_retriever: Retriever) -> None:
    report = evaluate_qa(documents_retriever, load_qa(REPO / "eval" / "qa_documents.jsonl"), split=None,
                         latency=False, name="qa_documents")
    assert check_expected(report) == [], report["failures"]
