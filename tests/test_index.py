"""The index folder: built by the CLI and the API from the seed corpus, reproducible, swapped atomically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import faiss
import pytest

from indexer import build_index
from indexer.build import DEFAULT_CHUNK_SIZE
from indexer.errors import CorpusError, IndexFormatError, ModelMismatchError
from indexer.format import read_manifest, verify_files
from retriever import Retriever

pytestmark = pytest.mark.slow  # builds indexes with the bundled model, or runs servers

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("cli") / "index"
    p = subprocess.run([sys.executable, "-m", "indexer", "corpus", "--out", str(out), "-q"],
                       capture_output=True, text=True, cwd=REPO, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr
    return out, p


def test_cli_builds_the_seed_index(cli_index: tuple[Path, subprocess.CompletedProcess]) -> None:
    out, p = cli_index
    m = read_manifest(out)
    assert m["counts"]["documents"] == 4 and m["counts"]["chunks"] > 10
    assert m["model"] == {"id": "e5-small", "dim": 384, "normalized": True, "default": True}
    assert m["analyzer"]["tags"] and m["chunker"]["chunk_size"] == DEFAULT_CHUNK_SIZE
    assert m["analyzer"]["synonyms"] and m["analyzer"]["userdict"]  # from corpus/synonyms.tsv and userdict.tsv
    assert {"kiwipiepy", "faiss-cpu", "bm25s", "sentence-transformers"} <= set(m["versions"])
    verify_files(out, m)
    summary = p.stdout.strip().splitlines()[-1]
    assert f"into {m['counts']['chunks']} chunks" in summary and "median" in summary and "chunks/s" in summary


def test_every_chunk_is_a_clean_slice(cli_index: tuple[Path, subprocess.CompletedProcess]) -> None:
    out, _ = cli_index
    docs = {d["id"]: d for d in map(json.loads, (out / "docs.jsonl").read_text(encoding="utf-8").splitlines())}
    assert len(docs) == 4
    assert all(d["source"] == d["id"] and d["title"] for d in docs.values())
    chunks = [json.loads(line) for line in (out / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    for c in chunks:
        assert docs[c["doc_id"]]["text"][c["start"]:c["end"]] == c["text"]
        for bad in ("구름많음", "주요 콘텐츠로 건너뛰기", "더보기", "\xa0"):
            assert bad not in c["text"]
        for s, e in c["sents"]:
            assert 0 <= s < e <= len(c["text"])


def test_rebuild_gives_byte_identical_chunks(cli_index: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    out, _ = cli_index
    report = build_index(CORPUS, tmp_path / "again", progress=False)
    assert report.documents == 4
    assert (tmp_path / "again" / "chunks.jsonl").read_bytes() == (out / "chunks.jsonl").read_bytes()
    assert (tmp_path / "again" / "docs.jsonl").read_bytes() == (out / "docs.jsonl").read_bytes()


def test_failed_build_leaves_previous_index_loadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "index"
    build_index(CORPUS, out, progress=False)
    before = (out / "manifest.json").read_bytes()

    def broken_writer(*args, **kwargs):
        raise OSError("disk full (simulated)")

    # fail after the temporary folder has been partly written
    monkeypatch.setattr(faiss, "write_index", broken_writer)
    with pytest.raises(OSError, match="disk full"):
        build_index(CORPUS, out, progress=False, incremental=False)
    assert (out / "manifest.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".index.tmp")]
    r = Retriever.load(out)
    assert r.search("광주 AI 집적단지 예산", k=3)


def test_second_build_replaces_the_first(tmp_path: Path) -> None:
    out = tmp_path / "index"
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("첫 번째 문서다. 광주 인공지능 집적단지.", encoding="utf-8")
    build_index(tmp_path / "c", out, progress=False)
    (tmp_path / "c" / "b.txt").write_text("두 번째 문서다. 산업단지 AX 전환.", encoding="utf-8")
    build_index(tmp_path / "c", out, progress=False)
    assert read_manifest(out)["counts"]["documents"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "index"]


def test_index_inside_corpus_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("문서다.", encoding="utf-8")
    with pytest.raises(CorpusError, match="inside the corpus"):
        build_index(tmp_path, tmp_path / "index", progress=False)


def test_loading_a_non_index_says_why(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="no index folder"):
        Retriever.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match=r"manifest\.json is missing"):
        Retriever.load(tmp_path / "empty")


def test_tiny_local_model_indexes_and_searches_by_path(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    report = build_index(CORPUS, out, model=str(tiny_model_dir), progress=False)
    m = read_manifest(out)
    assert m["model"]["id"] == str(tiny_model_dir) and m["model"]["dim"] == 32
    assert report.model == str(tiny_model_dir)
    r = Retriever.load(out)
    hits = r.search("광주 인공지능 집적단지 예산", k=3, mode="dense")
    assert len(hits) == 3 and all(h.scores["dense"] <= 1.0001 for h in hits)
    assert r.search("광주 인공지능 집적단지 예산", k=3)[0].text
    with pytest.raises(ModelMismatchError, match="was built with embedding model"):
        Retriever.load(out, model="use-m3")


def test_changed_model_dimension_is_refused(cli_index: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "index"
    shutil.copytree(cli_index[0], out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["model"]["dim"] = 768
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises((ModelMismatchError, IndexFormatError), match="rebuild"):
        Retriever.load(out)
