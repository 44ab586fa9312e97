"""Incremental updates give the same index as a full rebuild; IVF search settings live in the manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

import indexer.embedding
from indexer import build_index
from indexer.dense import stored_vectors
from indexer.format import read_manifest
from retriever import Retriever

pytestmark = pytest.mark.slow  # builds indexes with the bundled model, or runs servers

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "corpus").glob("*.txt"))
QUERIES = ["광주 인공지능 집적단지 예산", "AX 실증산단 공모 기간", "추경 GPU 확보", "양자컴퓨팅 연구 투자"]
ARRAYS = ("sentence_spans.npy", "sentence_terms.npy", "sentence_term_offsets.npy")


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for p in SEEDS[:3]:
        shutil.copyfile(p, folder / p.name)
    (folder / "memo.txt").write_text("내부 메모다. 광주 집적단지 2단계 사업을 검토한다.", encoding="utf-8")
    return folder


def _encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every text the build sends to the embedding model."""
    seen: list[str] = []
    real = indexer.embedding.encode_documents

    def spy(model, texts, **kwargs):
        seen.extend(texts)
        return real(model, texts, **kwargs)

    monkeypatch.setattr(indexer.embedding, "encode_documents", spy)
    return seen


def _same_index(a: Path, b: Path) -> None:
    for name in ("docs.jsonl", "chunks.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in ARRAYS:
        assert np.array_equal(np.load(a / name), np.load(b / name)), name
    for f in sorted((a / "bm25").iterdir()):
        assert f.read_bytes() == (b / "bm25" / f.name).read_bytes(), f.name
    assert np.allclose(np.load(a / "sentences.npy").astype(np.float32), np.load(b / "sentences.npy").astype(np.float32),
                       atol=2e-3)
    va = stored_vectors(faiss.read_index(str(a / "dense.faiss")))
    vb = stored_vectors(faiss.read_index(str(b / "dense.faiss")))
    assert va.shape == vb.shape and np.allclose(va, vb, atol=1e-5)
    ra, rb = Retriever.load(a), Retriever.load(b)
    for q in QUERIES:
        ha, hb = ra.search(q, k=5), rb.search(q, k=5)
        assert [h.chunk_id for h in ha] == [h.chunk_id for h in hb], q
        assert np.allclose([h.score for h in ha], [h.score for h in hb], atol=1e-4), q
        assert ra.ask(q).text == rb.ask(q).text


def test_update_processes_only_changed_files_and_equals_a_full_rebuild(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, out, full = _corpus(tmp_path / "corpus"), tmp_path / "index", tmp_path / "full"
    model = str(tiny_model_dir)
    build_index(corpus, out, model=model, progress=False)
    first_manifest = read_manifest(out)

    changed, removed = SEEDS[1].name, SEEDS[2].name
    with open(corpus / changed, "a", encoding="utf-8") as fh:
        fh.write("\n양자컴퓨팅 연구에 300억원을 새로 투자한다.\n")
    (corpus / removed).unlink()
    (corpus / "new.md").write_text("# 새 보도자료\n\n반도체 AI 인재 양성에 50억원을 지원한다.", encoding="utf-8")

    seen = _encoded(monkeypatch)
    report = build_index(corpus, out, model=model, progress=False)
    u = report.update
    assert (u.reused, u.added, u.changed, u.removed, u.reason) == (2, 1, 1, 1, "")
    assert "1 added, 1 changed, 1 removed, 2 unchanged" in report.summary()
    # only the changed and the new document were split and embedded (their sentences and titles)
    r = Retriever.load(out)
    touched = {c["doc_id"] for c in r.chunks if c["doc_id"] in (changed, "new.md")}
    assert touched == {changed, "new.md"}
    assert report.embedded_chunks == sum(1 for c in r.chunks if c["doc_id"] in touched)
    untouched_text = r.docs[SEEDS[0].name]["text"]
    assert not any(t in untouched_text for t in seen if len(t) > 30)
    assert any("양자컴퓨팅" in t for t in seen) and any("반도체" in t for t in seen)
    assert removed not in r.docs and removed not in read_manifest(out)["corpus"]["files"]
    assert read_manifest(out)["corpus"]["files"][SEEDS[0].name] == first_manifest["corpus"]["files"][SEEDS[0].name]

    monkeypatch.undo()
    build_index(corpus, full, model=model, progress=False, incremental=False)
    _same_index(out, full)
    assert r.search("양자컴퓨팅 연구 투자", k=1)[0].doc_id == changed


def test_unchanged_corpus_is_left_alone(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus"), tmp_path / "index"
    build_index(corpus, out, model=str(tiny_model_dir), progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    report = build_index(corpus, out, model=str(tiny_model_dir), progress=False)
    assert report.update.summary() == "already up to date (4 documents unchanged)"
    assert report.embedded_chunks == 0 and report.chunks == len(Retriever.load(out))
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_changed_settings_or_a_damaged_index_mean_a_full_build(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus"), tmp_path / "index"
    model = str(tiny_model_dir)
    build_index(corpus, out, model=model, progress=False)
    report = build_index(corpus, out, model=model, chunk_size=400, progress=False)
    assert report.update.reason == "the analyzer or chunker settings changed" and report.update.reused == 0
    with open(out / "dense.faiss", "r+b") as fh:
        fh.truncate(100)
    report = build_index(corpus, out, model=model, chunk_size=400, progress=False)
    assert report.update.reason.startswith("the existing index could not be reused")
    assert "checksum" in report.update.reason
    assert Retriever.load(out).search("광주 인공지능 집적단지 예산", k=2)


def test_ivf_settings_are_measured_stored_and_applied_after_loading(tmp_path: Path) -> None:
    flat, ivf = tmp_path / "flat", tmp_path / "ivf"
    build_index(REPO / "corpus", flat, progress=False, dense_kind="flat")
    build_index(REPO / "corpus", ivf, progress=False, dense_kind="ivf")
    spec = read_manifest(ivf)["dense"]
    assert spec["type"] == "ivf-flat-ip" and spec["nlist"] >= 8
    assert spec["recall_at_10"] >= 0.98 and 1 <= spec["nprobe"] <= spec["nlist"] and spec["recall_queries"] > 100
    assert read_manifest(flat)["dense"]["type"] == "flat-ip"
    r = Retriever.load(ivf)
    assert isinstance(r.index.dense, faiss.IndexIVF) and faiss.extract_index_ivf(r.index.dense).nprobe == spec["nprobe"]
    exact = Retriever.load(flat)
    for q in QUERIES[:3]:
        assert {h.chunk_id for h in r.search(q, k=3, mode="dense")} == {h.chunk_id for h in exact.search(q, k=3, mode="dense")}

    # the manifest, not the FAISS file, decides the search setting
    manifest = json.loads((ivf / "manifest.json").read_text(encoding="utf-8"))
    manifest["dense"]["nprobe"] = 3
    (ivf / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert faiss.extract_index_ivf(Retriever.load(ivf).index.dense).nprobe == 3


def test_bm25_matrix_equals_bm25s_own_indexing(seed_index: Path) -> None:
    """The numpy-built BM25 matrix scores exactly as bm25s.BM25.index over the same chunk terms."""
    import bm25s

    r = Retriever.load(seed_index)
    words = {i: t for t, i in r.index.vocab.items()}
    tokens = []
    for c in r.chunks:
        title = list(r.docs[c["doc_id"]]["terms"])
        tokens.append(title + [words[i] for j in c["sent_rows"] for i in r.sentences.term_ids(j)])
    ref = bm25s.BM25(k1=0.9, b=0.5, method="lucene")
    ref.index(tokens, show_progress=False)
    for q in [*QUERIES, "인공지능 산업단지 공모", "2022년 예산 확정"]:
        terms = [t for t in r.analyzer.analyze(q) if t in r.index.vocab and t in ref.vocab_dict]
        assert terms, q
        assert np.allclose(ref.get_scores(terms), r.index.bm25.get_scores(terms), rtol=1e-6, atol=1e-7), q
    assert sorted(t for t in ref.vocab_dict if t) == sorted(t for t in r.index.vocab if t)
