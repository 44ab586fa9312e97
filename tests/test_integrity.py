"""Damaged index folders are refused with a KoragError that says how to rebuild; hostile queries are safe."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.errors import IndexFormatError, KoragError, ModelMismatchError, ModelNotAvailableError
from indexer.format import read_manifest, verify_files
from retriever import Answer, Hit, Retriever
from retriever.core import MAX_QUERY_CHARS

REPO = Path(__file__).resolve().parents[1]


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def seed_before(seed_index: Path) -> dict[str, str]:
    return tree_digest(seed_index)


# ------------------------------------------------------------------ damage
def _truncate_dense(d: Path) -> None:
    data = (d / "dense.faiss").read_bytes()
    (d / "dense.faiss").write_bytes(data[: len(data) // 2])


def _edit_chunk_text(d: Path) -> None:
    lines = (d / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[1])
    row["text"] = row["text"][:-1] + ("가" if row["text"][-1:] != "가" else "나")
    lines[1] = json.dumps(row, ensure_ascii=False)
    (d / "chunks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _break_chunk_json(d: Path) -> None:
    lines = (d / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]
    (d / "chunks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _append_npy_garbage(d: Path) -> None:
    with open(d / "sentences.npy", "ab") as fh:
        fh.write(b"\xde\xad\xbe\xef" * 64)


def _delete_manifest(d: Path) -> None:
    (d / "manifest.json").unlink()


def _edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        change(m)
        (d / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    return damage


def _delete_bm25(d: Path) -> None:
    for p in (d / "bm25").iterdir():
        p.unlink()


def _corrupt_manifest_json(d: Path) -> None:
    (d / "manifest.json").write_text('{"format": "korag-index", ', encoding="utf-8")


DAMAGES = {
    "truncated-dense.faiss": _truncate_dense,
    "edited-chunks.jsonl-line": _edit_chunk_text,
    "broken-chunks.jsonl-json": _break_chunk_json,
    "garbage-after-sentences.npy": _append_npy_garbage,
    "deleted-manifest.json": _delete_manifest,
    "invalid-manifest.json": _corrupt_manifest_json,
    "format_version-999": _edit_manifest(lambda m: m.__setitem__("format_version", 999)),
    "deleted-bm25-files": _delete_bm25,
    "manifest-dim-changed": _edit_manifest(lambda m: m["model"].__setitem__("dim", 768)),
}
# damage that the structural checks must catch even when checksums are not verified
STRUCTURAL = ("truncated-dense.faiss", "edited-chunks.jsonl-line", "broken-chunks.jsonl-json", "deleted-manifest.json",
              "invalid-manifest.json", "format_version-999", "deleted-bm25-files", "manifest-dim-changed")


def damaged_copy(seed_index: Path, tmp_path: Path, name: str) -> Path:
    d = tmp_path / "damaged"
    shutil.copytree(seed_index, d)
    DAMAGES[name](d)
    return d


def assert_refused(d: Path, **kwargs) -> KoragError:
    with pytest.raises(KoragError) as info:
        Retriever.load(d, **kwargs)
    exc = info.value
    assert isinstance(exc, (IndexFormatError, ModelMismatchError)), type(exc)
    msg = str(exc)
    assert "rebuild" in msg or "python -m indexer" in msg, msg
    assert "Traceback" not in msg
    return exc


@pytest.mark.parametrize("name", list(DAMAGES))
def test_damaged_index_is_refused(seed_index: Path, seed_before: dict[str, str], tmp_path: Path, name: str) -> None:
    d = damaged_copy(seed_index, tmp_path, name)
    assert_refused(d)
    if name in STRUCTURAL:
        assert_refused(d, verify=False)
    assert tree_digest(seed_index) == seed_before  # only the copy was damaged


def test_manifest_model_changed_to_tiny_model(seed_index: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "damaged"
    shutil.copytree(seed_index, d)
    _edit_manifest(lambda m: m["model"].__setitem__("id", str(tiny_model_dir)))(d)
    exc = assert_refused(d)
    assert isinstance(exc, ModelMismatchError)


def test_manifest_model_changed_to_unknown_model(seed_index: Path, tmp_path: Path) -> None:
    d = tmp_path / "damaged"
    shutil.copytree(seed_index, d)
    _edit_manifest(lambda m: m["model"].__setitem__("id", "other-model"))(d)
    with pytest.raises(KoragError) as info:
        Retriever.load(d)
    # offline, an unknown model id is a ModelNotAvailableError naming it (a clean error, not a traceback)
    assert isinstance(info.value, (ModelNotAvailableError, ModelMismatchError, IndexFormatError))
    assert "other-model" in str(info.value)


def test_manifest_model_changed_to_unknown_model_says_rebuild(seed_index: Path, tmp_path: Path) -> None:
    d = tmp_path / "damaged"
    shutil.copytree(seed_index, d)
    _edit_manifest(lambda m: m["model"].__setitem__("id", "other-model"))(d)
    with pytest.raises(ModelNotAvailableError) as info:  # the model is not here: say so, and how to rebuild
        Retriever.load(d)
    assert "other-model" in str(info.value) and "python -m indexer" in str(info.value)


@pytest.mark.parametrize("name", ["truncated-dense.faiss", "format_version-999"])
def test_eval_cli_on_damaged_index(seed_index: Path, tmp_path: Path, name: str) -> None:
    d = damaged_copy(seed_index, tmp_path, name)
    p = subprocess.run([sys.executable, "-m", "eval", "--index", str(d)], capture_output=True, text=True, cwd=REPO,
                       timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rebuild" in errors[0], p.stderr
    assert str(d) in errors[0]


# ------------------------------------------------------------------ hostile queries
@pytest.fixture(scope="module")
def r(seed_index: Path) -> Retriever:
    return Retriever.load(seed_index)


EMPTY = ["", " ", "\u3000\t\n", "\u200b\u200d\ufeff", "\x00\x01\x02"]
HOSTILE = {
    "10k-chars": "광주 인공지능 집적단지 예산은 얼마인가? " * 420,
    "10k-no-spaces": "가" * 10_000,
    "punctuation": "?!…,.;:'\"()[]{}<>~@#$%^&*-_=+/\\|",
    "emoji": "🤖🚀🇰🇷👍🏽❤️‍🔥",
    "html-injection": "<script>alert('x')</script><img src=x onerror=alert(1)> 광주 예산",
    "markdown-injection": "# 제목\n**굵게** [링크](javascript:alert(1)) `코드` | 표 | --- |",
    "control-chars": "\x00광주\x07 AI\x1b[31m 예산\x7f\u202e거꾸로\u2028줄",
    "sql-like": "'; DROP TABLE chunks; -- 광주",
    "mixed-scripts": "GPU 1만장 確保 計劃 ГПУ",
}


@pytest.mark.parametrize("query", EMPTY)
def test_empty_queries_raise_value_error(r: Retriever, query: str) -> None:
    with pytest.raises(ValueError):
        r.search(query)
    with pytest.raises(ValueError):
        r.ask(query)


def _check_hits(r: Retriever, hits: list[Hit], k: int) -> None:
    assert isinstance(hits, list) and len(hits) <= k
    for h in hits:
        assert isinstance(h, Hit) and h.score == h.score  # not NaN
        assert r.docs[h.doc_id]["text"][h.start:h.end] == h.text


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_queries(r: Retriever, name: str) -> None:
    q = HOSTILE[name]
    for mode in ("hybrid", "bm25", "dense"):
        _check_hits(r, r.search(q, k=3, mode=mode), 3)
    a = r.ask(q, k=3)
    assert isinstance(a, Answer) and isinstance(a.found, bool)
    assert len(a.question) <= MAX_QUERY_CHARS and a.confidence == a.confidence
    assert not any(c in a.question for c in "\x00\x07\x1b\x7f")
    _check_hits(r, a.citations, 3)
    for ci, s, e in a.highlights:
        c = a.citations[ci]
        assert c.start <= s < e <= c.end


def test_seed_index_untouched(seed_index: Path, seed_before: dict[str, str]) -> None:
    assert tree_digest(seed_index) == seed_before
    verify_files(seed_index, read_manifest(seed_index))
    Retriever.load(seed_index)
