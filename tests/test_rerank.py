"""The optional cross-encoder reranker: plumbing with a tiny local cross-encoder (no reranker is bundled)."""

from __future__ import annotations

import pathlib

import pytest

from indexer.errors import ModelNotAvailableError
from retriever import Retriever
from retriever.ranking import dedup
from retriever.rerank import load_reranker

QUESTION = "AX 실증산단 공모 기간은 언제까지인가요?"


@pytest.fixture(scope="module")
def plain(seed_index: pathlib.Path) -> Retriever:
    return Retriever.load(seed_index)


@pytest.fixture(scope="module")
def reranked(seed_index: pathlib.Path, tiny_reranker_dir: pathlib.Path) -> Retriever:
    return Retriever.load(seed_index, reranker=str(tiny_reranker_dir))


def test_the_reranker_orders_the_first_stage_candidates(plain: Retriever, reranked: Retriever) -> None:
    k = 5
    ranked = plain.ranked_candidates(QUESTION, k)
    pool = ranked[: max(plain.settings.rerank_depth, 2 * k)]
    probs = reranked.reranker.scores(QUESTION, [plain.chunks[c.row]["text"] for c in pool])
    assert ((probs > 0) & (probs < 1)).all() and len(set(probs.round(6))) > 1
    by_prob = [c.row for _, c in sorted(zip(probs, pool), key=lambda x: -x[0])]  # stable for ties
    expected = [plain.chunks[c.row]["id"] for c in dedup([next(x for x in pool if x.row == r) for r in by_prob], plain.chunks, k,
                                                         plain.settings.dedup_overlap)]
    hits = reranked.search(QUESTION, k=k)
    assert [h.chunk_id for h in hits] == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.scores["rerank"] == h.score and "hybrid" in h.scores for h in hits)
    assert "rerank" not in plain.search(QUESTION, k=k)[0].scores


def test_ask_with_a_reranker_cites_slices(reranked: Retriever) -> None:
    a = reranked.ask(QUESTION)
    assert a.text and a.citations
    for ci, s, e in a.highlights:
        c = a.citations[ci]
        assert c.start <= s < e <= c.end and reranked.docs[c.doc_id]["text"][s:e] in a.text


def test_unusable_rerankers_say_what_to_do(tmp_path: pathlib.Path, tiny_model_dir: pathlib.Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="not a cross-encoder"):
        load_reranker("use-m3")
    with pytest.raises(ModelNotAvailableError, match="leave the reranker out"):
        load_reranker(str(tmp_path / "missing"))
    with pytest.raises(ModelNotAvailableError, match="HF_HUB_OFFLINE"):
        load_reranker("nobody/no-such-reranker")
    from transformers import BertConfig, BertForSequenceClassification

    three = tmp_path / "three-labels"
    BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                             intermediate_size=8, num_labels=3)).save_pretrained(str(three))
    for f in (tiny_model_dir.parent / "hf").glob("*token*"):
        (three / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ModelNotAvailableError, match="3 labels"):
        load_reranker(str(three))


def test_eval_with_a_reranker_checks_the_same_floors(seed_index: pathlib.Path, tiny_reranker_dir: pathlib.Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m eval --reranker … --check`` names the reranker and checks the dataset's pinned floors."""
    from eval.__main__ import main

    code = main(["--index", str(seed_index), "--split", "dev", "--reranker", str(tiny_reranker_dir), "--check"])
    out, err = capsys.readouterr()
    assert f"dataset seed:dev: 51 queries, reranked by {tiny_reranker_dir}" in out
    assert "no floors pinned" not in err
    assert code in (0, 1) and (code == 0) == ("below floor" not in err)  # a random reranker may fall below them
