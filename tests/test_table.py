"""Table cells as answers (:mod:`retriever.table`): a question that names a row and a column of a table is
answered by that cell, read under the headings above its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer import build_index
from retriever import Retriever
from retriever.periods import states_period
from retriever.table import names, parse_row

# a statistics annex as the indexer writes tables: one line per row, "header: value" cells, the row label first;
# the same rows under two bases ("(총수출 기준)", "(순수출 기준)"), each with its own "1. 품목별 동향". The
# document is one chunk: questions are asked with k=1.
STATS = """\
1분기 수출 동향
2025년 1분기 수출액은 총수출 기준 1,500억 달러로 전년 동기 대비 3.0% 증가하였다.
반도체 수출은 견조한 수요로 크게 늘었다.
참고 1 | 수출 세부통계 (단위: 억 달러)
(총수출 기준)
1. 품목별 동향
구 분 | 2024년 1분기 | 2025년 1분기
구 분: 반도체 | 2024년 1분기: 300.0 | 2025년 1분기: 320.5
구 분: 자동차 | 2024년 1분기: 170.0 | 2025년 1분기: 181.2
구 분: 전 체 | 2024년 1분기: 1,456.3 | 2025년 1분기: 1,500.0
(순수출 기준)
1. 품목별 동향
구 분 | 2024년 1분기 | 2025년 1분기
구 분: 반도체 | 2024년 1분기: 120.0 | 2025년 1분기: 133.3
구 분: 자동차 | 2024년 1분기: 60.0 | 2025년 1분기: 64.4
구 분: 전 체 | 2024년 1분기: 610.2 | 2025년 1분기: 655.0
"""


def test_a_row_line_is_read_back_as_its_label_and_cells() -> None:
    row = parse_row("구 분: 금융 보험업 | 2022년 1분기: 85.0 | 2022년 2분기: (17.0)")
    assert row is not None and row.label == "금융 보험업"
    assert [(c.header, c.value) for c in row.cells] == [("2022년 1분기", "85.0"), ("2022년 2분기", "(17.0)")]
    text = "구 분: 금융 보험업 | 2022년 1분기: 85.0 | 2022년 2분기: (17.0)"
    assert [text[c.start:c.end] for c in row.cells] == ["2022년 1분기: 85.0", "2022년 2분기: (17.0)"]
    # a header line, a sentence and a contact table are not rows
    assert parse_row("구 분 | 2022년 1분기 | 2022년 2분기") is None
    assert parse_row("수출액은 1,500억 달러로 증가하였다.") is None
    assert parse_row("보도시점 | 2025. 6. 20.(금) 11:00 | 배포 | 2025. 6. 20.(금) 08:30") is None


def test_a_period_is_named_whole_not_as_the_start_of_a_shorter_one() -> None:
    assert names("2024년 한 해 미국 투자액은?", "2024년")
    assert not names("2024년 1분기 미국 투자액은?", "2024년")
    assert not names("2024년 6월 발표에서", "2024년")
    assert names("2022년1분기 제조업은?", "2022년 1분기")
    assert not names("12024년 예산", "2024년")
    assert states_period("’24.1Q 실적") and states_period("2024년 1분기(1~3월)") and not states_period("전년도에 이어")


@pytest.fixture(scope="module")
def stats_retriever(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Retriever:
    corpus = tmp_path_factory.mktemp("stats-corpus")
    (corpus / "2025-04_export-stats.txt").write_text(STATS, encoding="utf-8")
    out = tmp_path_factory.mktemp("stats") / "index"
    build_index(corpus, out, model=str(tiny_model_dir), progress=False)
    return Retriever.load(out)


def test_a_question_naming_a_row_and_a_column_is_answered_by_the_cell(stats_retriever: Retriever) -> None:
    # the text states 2025년 1분기; the question asks 2024년 1분기 of one row: the cell answers, under its headings
    a = stats_retriever.ask("2024년 1분기 반도체 수출액은 얼마야?", k=1)
    assert a.found and a.kind == "factoid" and a.direct == "2024년 1분기: 300.0", a.text
    assert "(총수출 기준)" in a.text and "(순수출 기준)" not in a.text
    ci, start, end = a.direct_span
    assert stats_retriever.docs[a.citations[ci].doc_id]["text"][start:end] == "2024년 1분기: 300.0"


def test_the_headings_tell_two_tables_with_the_same_rows_apart(stats_retriever: Retriever) -> None:
    a = stats_retriever.ask("순수출 기준 2025년 1분기 반도체 수출액은?", k=1)
    assert a.found and a.direct == "2025년 1분기: 133.3", a.text
    assert "(순수출 기준)" in a.text and "(총수출 기준)" not in a.text
    # no row named: the total row of the table the question's words point to
    b = stats_retriever.ask("순수출 기준 2025년 1분기 수출액은 얼마야?", k=1)
    assert b.found and b.direct == "2025년 1분기: 655.0", b.text


def test_the_text_still_answers_when_it_states_what_is_asked(stats_retriever: Retriever) -> None:
    # the lead sentence states 2025년 1분기 on the total basis: the cell adds nothing, the sentence answers
    a = stats_retriever.ask("2025년 1분기 수출액은 얼마야?", k=1)
    assert a.direct == "1,500억 달러", a.text
    # a row the tables do not hold is never taken from them
    b = stats_retriever.ask("2024년 1분기 선박 수출액은 얼마야?", k=1)
    assert not (b.direct or "").startswith("2024년 1분기:"), b.text
