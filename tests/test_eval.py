"""The evaluation: CLI outputs, standard dataset formats, and the pinned floors of eval/expected.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.data import load_beir, load_conversations, load_qa, load_squad
from eval.expected import DEFAULT_EXPECTED, check_expected
from eval.metrics import norm
from eval.run import evaluate_conversations, evaluate_docs, evaluate_qa
from indexer.build import build_from_documents
from indexer.ingest import load_corpus
from retriever import Retriever

REPO = Path(__file__).resolve().parents[1]


def test_qa_set_is_well_formed() -> None:
    items = load_qa()
    assert len(items) >= 80
    assert len({it.id for it in items}) == len(items)
    assert sum(it.answer is None for it in items) >= 8
    assert {it.split for it in items} == {"dev", "test"}
    # gold answers are in the text as indexed (replacements.tsv applied, documents read)
    texts = {d.source: norm(d.text) for d in load_corpus(REPO / "corpus", progress=False)[0]}
    for it in items:
        if it.answer is not None:
            assert it.doc in texts, it.id
            assert norm(it.answer) in texts[it.doc], it.id


def test_cli_writes_json_plot_and_failures(seed_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    plot = tmp_path / "p.png"
    fails = tmp_path / "f.json"
    p = subprocess.run([sys.executable, "-m", "eval", "--index", str(seed_index), "--json", str(out), "--plot", str(plot),
                        "--failures", str(fails)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "hybrid" in p.stdout and "answer-sentence accuracy" in p.stdout
    assert "direct-answer accuracy" in p.stdout and "conversations (" in p.stdout
    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["dataset"] == "seed:test" and r["n_queries"] == 51
    for mode in ("hybrid", "bm25", "dense"):
        assert set(r["modes"][mode]) >= {"hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "doc_hit@1"}
        assert 0.0 <= r["modes"][mode]["hit@1"] <= r["modes"][mode]["hit@10"] <= 1.0
    assert set(r["abstention"]) >= {"precision", "recall"}
    assert set(r["latency_ms"]) >= {"search_p50", "search_p95", "ask_p50", "ask_p95"}
    assert 0.0 <= r["answer_accuracy"] <= 1.0
    assert 0.0 <= r["direct_accuracy"] <= 1.0 and r["direct"]["n_factoid"] >= 20
    assert {"followup_accuracy", "topic_change_doc", "followup_alone_accuracy"} <= set(r["conversations"])
    assert "failures" not in r["conversations"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    f = json.loads(fails.read_text(encoding="utf-8"))
    assert all({"question", "expected_answer"} <= set(x) for x in f["failures"])


def test_seed_eval_meets_pinned_floors(seed_index: Path) -> None:
    r = Retriever.load(seed_index)
    report = evaluate_qa(r, load_qa(), split="test", latency=False)
    report["conversations"] = evaluate_conversations(r, load_conversations(), split="test")
    assert check_expected(report) == []
    spec = json.loads(DEFAULT_EXPECTED.read_text(encoding="utf-8"))
    assert spec["tolerance"] <= 0.01


def test_check_expected_catches_a_drop() -> None:
    spec = json.loads(DEFAULT_EXPECTED.read_text(encoding="utf-8"))
    floors = spec["datasets"]["seed:test"]
    report = {"dataset": "seed:test", "modes": {m: {} for m in ("hybrid", "bm25", "dense")}, "abstention": {}}
    for key, floor in floors.items():
        cur = report
        *path, last = key.split(".")
        for part in path:
            cur = cur.setdefault(part, {})
        cur[last] = floor - 0.05 if not key.endswith("answerable_refused") else floor + 0.05
    assert len(check_expected(report)) == len(floors)


def _tiny_beir(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    docs = [
        ("d1", "광주 집적단지", "광주 인공지능 집적단지 사업의 2022년 예산은 1,076억원이다."),
        ("d2", "AX 실증산단", "산업부는 AX 실증산단 10곳에 1,400억원을 지원한다."),
        ("d3", "추경", "과기정통부는 1조 8천억원 규모의 추경으로 GPU 1만장을 확보한다."),
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x}, ensure_ascii=False)
                                                  for i, t, x in docs), encoding="utf-8")
    qs = [("q1", "광주 집적단지 예산"), ("q2", "실증산단 지원 규모"), ("q3", "GPU 몇 장 확보해?")]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": i, "text": t}, ensure_ascii=False) for i, t in qs),
                                          encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n", encoding="utf-8")


@pytest.mark.slow
def test_beir_and_squad_formats(tmp_path: Path) -> None:
    _tiny_beir(tmp_path / "beir")
    docs, queries = load_beir(tmp_path / "beir")
    assert [d.id for d in docs] == ["d1", "d2", "d3"] and len(queries) == 3
    build_from_documents(docs, tmp_path / "bi", progress=False)
    report = evaluate_docs(Retriever.load(tmp_path / "bi"), queries, dataset="beir:tiny", k=3)
    assert report["modes"]["bm25"]["hit@1"] == 1.0 and report["modes"]["hybrid"]["hit@3"] == 1.0

    squad = {"data": [{"title": "광주_인공지능", "paragraphs": [
        {"context": "광주 인공지능 집적단지는 첨단3지구에 조성된다.", "qas": [{"id": "s1", "question": "집적단지는 어디에 조성돼?"}]},
        {"context": "AX 실증산단 공모는 7월 28일까지 진행된다.", "qas": [{"id": "s2", "question": "공모 마감일은?"}]},
    ]}]}
    (tmp_path / "s.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    docs, queries = load_squad(tmp_path / "s.json")
    assert [d.title for d in docs] == ["광주 인공지능", "광주 인공지능"] and [q.id for q in queries] == ["s1", "s2"]
    p = subprocess.run([sys.executable, "-m", "eval", "--squad", str(tmp_path / "s.json"), "--k", "2",
                        "--json", str(tmp_path / "k.json")], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "k.json").read_text(encoding="utf-8"))
    assert r["dataset"] == "squad:s" and r["n_queries"] == 2 and r["modes"]["bm25"]["hit@1"] == 1.0


def test_bad_qa_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"id": "x", "question": "질문"}\n{"id": "y"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"qa.jsonl:2"):
        load_qa(bad)


@pytest.mark.slow
def test_bench_synthesises_real_korean_documents() -> None:
    from eval.bench import synthesise

    a = synthesise(REPO / "corpus", 40, seed=1)
    b = synthesise(REPO / "corpus", 40, seed=1)
    assert [d.text for d in a] == [d.text for d in b] and len(a) == 14
    from indexer.ingest import load_corpus

    corpus = "\n".join(d.text for d in load_corpus(REPO / "corpus", progress=False)[0])  # the clean texts
    for d in a[:5]:
        assert len(d.text) >= 1000
        for line in d.text.splitlines():
            assert line in corpus  # recombined sentences of the corpus, not made-up text
