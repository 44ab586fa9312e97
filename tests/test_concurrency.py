"""Serving under load and while the index is rebuilt or a build is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer import build_index
from indexer.format import read_manifest
from retriever import LiveRetriever, Retriever

pytestmark = pytest.mark.slow  # builds indexes with the bundled model, or runs servers

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


def _small_corpus(folder: Path, extra: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted(CORPUS.glob("*.txt"))[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    if extra:
        (folder / "new.txt").write_text("새 보도자료다. 양자컴퓨팅 연구에 300억원을 투자한다.", encoding="utf-8")
    return folder


def test_rebuild_while_serving_never_fails_a_query(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "index"
    build_index(_small_corpus(tmp_path / "c1"), out, model=str(tiny_model_dir), progress=False)
    live = LiveRetriever(out, check_interval=0.02)
    before = len(live)
    errors: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def serve() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                r = live.current()
                a = r.ask("광주 인공지능 집적단지 예산", k=3)
                assert all(r.docs[c.doc_id]["text"][c.start:c.end] == c.text for c in a.citations)
                answered += 1
            except BaseException as exc:  # any failure fails the test
                errors.append(exc)

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(2):  # two full rebuilds under load
            build_index(_small_corpus(tmp_path / f"c{i + 2}", extra=True), out, model=str(tiny_model_dir), progress=False,
                        incremental=False)
            deadline = time.monotonic() + 30
            while live.reloads < i + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert answered > 20
    assert live.reloads == 2 and len(live) > before
    assert "new.txt" in live.current().docs


def test_broken_rebuild_keeps_serving_the_old_index(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "index"
    build_index(_small_corpus(tmp_path / "c1"), out, model=str(tiny_model_dir), progress=False)
    live = LiveRetriever(out, check_interval=0.0)
    old = live.current()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    live.current()
    live.wait_for_reload()
    assert live.current() is old and "version 999" in (live.last_error or "")
    assert live.current().search("광주", k=1)


def test_kill_9_during_a_build_leaves_the_previous_index(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "index"
    build_index(_small_corpus(tmp_path / "c1"), out, model=str(tiny_model_dir), progress=False)
    before = (out / "manifest.json").read_bytes()
    corpus2 = _small_corpus(tmp_path / "c2", extra=True)
    killed_mid_write = False
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-m", "indexer", str(corpus2), "--out", str(out), "-q",
                              "--model", str(tiny_model_dir)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            if any(x.name.startswith(".index.tmp-") for x in os.scandir(tmp_path)):
                os.kill(p.pid, signal.SIGKILL)  # while the new index is being written
                killed_mid_write = True
                break
            time.sleep(0.001)
        p.wait(30)
        if killed_mid_write:
            break
        (out / "manifest.json").write_bytes(before)  # the build finished first: try again
    assert killed_mid_write, "the build never reached its write phase"
    assert (out / "manifest.json").read_bytes() == before
    r = Retriever.load(out)  # checksums verified
    assert r.search("광주 인공지능", k=2)
    assert read_manifest(out)["counts"]["documents"] == 2
    # the next build removes the killed one's temporary folder and succeeds
    build_index(corpus2, out, model=str(tiny_model_dir), progress=False)
    assert read_manifest(out)["counts"]["documents"] == 3
    assert not [x for x in os.listdir(tmp_path) if x.startswith(".index.tmp-")]


def test_chat_answers_8_concurrent_clients(seed_index: Path) -> None:
    from conftest import chat_client, launch_local

    from ui.app import create_app

    demo = create_app(LiveRetriever(seed_index), feedback_path=seed_index.parent / "feedback.jsonl")
    launch_local(demo)
    try:
        url = demo.local_url
        questions = ["광주 AI 집적단지 2022년 예산 얼마야?", "AX 실증산단 공모 기간은?", "GPU 1만장 확보",
                     "RIS 지역혁신플랫폼 국고 지원금", "딥시크가 뭐야?", "AI 사관학교 졸업생 수", "데이터센터 연산량",
                     "스마트그린산단 개수"]

        def session(q: str) -> dict:
            c = chat_client(url)
            return [c.predict(q, api_name="/ask") for _ in range(3)][-1]

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(session, questions))
        assert all(r["question"] and r["citations"] for r in results)
    finally:
        demo.close()


def test_chat_keeps_answering_while_the_index_is_rebuilt(tmp_path: Path, tiny_model_dir: Path) -> None:
    from conftest import chat_client, launch_local

    from ui.app import create_app

    out = tmp_path / "index"
    build_index(_small_corpus(tmp_path / "c1"), out, model=str(tiny_model_dir), progress=False)
    live = LiveRetriever(out, check_interval=0.05)
    demo = create_app(live, feedback_path=tmp_path / "feedback.jsonl", examples=[])
    launch_local(demo)
    errors: list[BaseException] = []
    sources: set[str] = set()
    stop = threading.Event()

    def client() -> None:
        c = chat_client(demo.local_url)
        while not stop.is_set():
            try:
                res = c.predict("양자컴퓨팅 연구 투자", api_name="/ask")
                sources.update(x["source"] for x in res["citations"])
            except BaseException as exc:  # any failure fails the test
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        build_index(_small_corpus(tmp_path / "c2", extra=True), out, model=str(tiny_model_dir), progress=False)
        deadline = time.monotonic() + 60
        while "new.txt" not in sources and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        demo.close()
    assert errors == []
    assert live.reloads == 1 and "new.txt" in sources  # answers came from the new index once it was in
