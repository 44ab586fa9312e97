"""Sentence splitting, chunk packing (true slices), and the Korean keyword analyzer — with the real Kiwi."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from indexer.analyzer import AnalyzerConfig, KoreanAnalyzer, read_userdict
from indexer.chunker import cut_long_span, pack_sentences
from indexer.ingest import load_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def analyzer() -> KoreanAnalyzer:
    return KoreanAnalyzer()


@pytest.mark.parametrize("size,overlap", [(200, 0), (400, 1), (600, 2)])
def test_chunks_are_slices_of_the_seed_documents(analyzer: KoreanAnalyzer, size: int, overlap: int) -> None:
    docs, _ = load_corpus(REPO / "corpus", progress=False)
    for d in docs:
        spans = analyzer.sentences(d.text)
        chunks = pack_sentences(d.text, spans, chunk_size=size, overlap=overlap)
        assert chunks, d.source
        covered = set()
        for c in chunks:
            assert 0 <= c.start < c.end <= len(d.text)
            assert c.end - c.start <= size
            assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
            covered.update(range(c.start, c.end))
        # every non-space character of the document is in some chunk
        assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())
        for a, b in itertools.pairwise(chunks):
            assert b.start > a.start
            if overlap == 0:
                assert b.start >= a.end


def test_sentence_spans_follow_kiwi(analyzer: KoreanAnalyzer) -> None:
    t = "광주 집적단지 사업은 5년 동안 추진된다. 예산은 4,119억원이다!\n■ 인프라 150여개 기업 지원"
    assert [t[s:e] for s, e in analyzer.sentences(t)] == [
        "광주 집적단지 사업은 5년 동안 추진된다.", "예산은 4,119억원이다!", "■ 인프라 150여개 기업 지원"]


def test_overlap_is_one_sentence() -> None:
    t = "가" * 50 + " " + "나" * 50 + " " + "다" * 50 + " " + "라" * 50
    spans = [(0, 50), (51, 101), (102, 152), (153, 203)]
    chunks = pack_sentences(t, spans, chunk_size=110, overlap=1)
    assert [(c.start, c.end) for c in chunks] == [(0, 101), (51, 152), (102, 203)]


def test_long_sentence_is_cut_at_a_space() -> None:
    t = " ".join(["인공지능"] * 100)  # 499 characters, one "sentence"
    pieces = cut_long_span(t, 0, len(t), 120)
    assert all(e - s <= 120 for s, e in pieces)
    assert all(t[s:e].startswith("인공지능") and t[s:e].endswith("인공지능") for s, e in pieces)
    assert "".join(t[s:e] for s, e in pieces).replace(" ", "") == t.replace(" ", "")
    no_space = "가" * 250
    assert [e - s for s, e in cut_long_span(no_space, 0, 250, 100)] == [100, 100, 50]


def test_bad_chunk_settings_are_explained() -> None:
    with pytest.raises(ValueError, match="too small"):
        pack_sentences("가나다", [(0, 3)], chunk_size=5)
    with pytest.raises(ValueError, match="overlap"):
        pack_sentences("가나다", [(0, 3)], overlap=-1)


def test_analyzer_keeps_content_drops_particles(analyzer: KoreanAnalyzer) -> None:
    terms = analyzer.analyze("과기정통부는 광주에서 GPU 1만장을 확보했고, 결과가 좋았다.")
    assert "과기정통부" in terms and "과기" in terms and "정통부" in terms
    assert "광주" in terms and "gpu" in terms and "확보" in terms and "좋다" in terms
    for particle in ("는", "에서", "을", "고", "가", "았", "다", ".", ","):
        assert particle not in terms


def test_analyzer_numbers_and_english(analyzer: KoreanAnalyzer) -> None:
    assert analyzer.analyze("1,076억원")[:2] == ["1076", "억"] == analyzer.analyze("1076억 원")[:2]
    assert analyzer.analyze("LLM과 AI") == ["llm", "ai"]
    assert analyzer.analyze("   ") == []


def test_analyzer_indexes_adverbs_made_verbs_by_hada(analyzer: KoreanAnalyzer) -> None:
    # Kiwi: 주춤/MAG + 하/XSV; the question and the release's sentence must share the term
    question = analyzer.analyze("2024년 1분기 해외직접투자가 주춤한 이유는 뭐야?")
    sentence = analyzer.analyze("직전분기 회복세에서 주춤한 모습인데 이는 고금리 기조 지속에 기인한다")
    assert "주춤" in question and "주춤" in sentence
    assert "출렁" in analyzer.analyze("증시가 출렁했다") and "가득" in analyzer.analyze("흔적이 가득한 시체")
    assert analyzer.analyze("잘했다") == [] and "많이" not in analyzer.analyze("많이 했다")  # one syllable; a free adverb
    # an index from before the setting analysed without it, and keeps doing so
    old = KoreanAnalyzer(AnalyzerConfig.from_json({k: v for k, v in AnalyzerConfig().to_json().items()
                                                   if k != "adverb_roots"}))
    assert "주춤" not in old.analyze("주춤한 이유")


@pytest.mark.slow
def test_userdict_words_indexed_whole_and_split(tmp_path: Path) -> None:
    p = tmp_path / "userdict.tsv"
    p.write_text("# 사용자 사전\n과기정통부\tNNP\t0\n집적단지\tNNG\n잘못된 줄\n", encoding="utf-8")
    entries, warnings = read_userdict(p)
    assert entries == (("과기정통부", "NNP", 0.0), ("집적단지", "NNG", 0.0))
    assert len(warnings) == 1 and ":4:" in warnings[0]
    a = KoreanAnalyzer(AnalyzerConfig(userdict=entries))
    terms = a.analyze("과기정통부는 집적단지를 만든다")
    assert terms[:3] == ["과기정통부", "과기", "정통부"]
    assert "집적단지" in terms and "집적" in terms and "단지" in terms


def test_analyzer_config_round_trips() -> None:
    c = AnalyzerConfig(compounds=False, userdict=(("딥시크", "NNP", 1.0),))
    assert AnalyzerConfig.from_json(c.to_json()) == c
