"""Adding a document from the chat, in a real headless Chromium (issue #15, point 7).

Its own server: a :class:`retriever.LiveRetriever` over a temporary index of one corpus document (bundled
use-m3), with the corpus folder, so the document panel takes uploads. Offline like tests/test_browser.py
(requests to other hosts are blocked). Saves artifacts/ui-upload-screenshot.png.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from test_browser import _ask, _opened, browser, chromium_ok  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
SCREENSHOT = ARTIFACTS / "ui-upload-screenshot.png"
CORPUS_FILE = REPO / "corpus" / "2021-06-16_moef_gwangju-ai-cluster-ris-visit.txt"
HWPX = REPO / "tests" / "fixtures" / "formats" / "moef-2024q1-overseas-direct-investment.hwpx"
SOURCE = "uploads/" + HWPX.name
QUESTION = "2024년 1분기 해외직접투자액은 얼마야?"
SMALL_CAP = 1024 * 1024  # the server's upload limit in this test, so going past it costs little
INDEX_TIMEOUT_MS = 240_000  # indexing the upload on two busy cores


@pytest.fixture(scope="module")
def upload_app(chromium_ok, tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    from conftest import launch_local

    from indexer import build_index
    from retriever.live import LiveRetriever
    from ui.app import create_app

    root = tmp_path_factory.mktemp("browser-uploads")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus)
    index = root / "index"
    build_index(corpus, index, model="use-m3", progress=False)
    live = LiveRetriever(index, check_interval=0.2)
    demo = create_app(live, feedback_path=root / "feedback.jsonl", corpus=corpus)
    assert demo.korag_max_file_size == 50 * 1024 * 1024
    demo.korag_max_file_size = SMALL_CAP
    url = launch_local(demo)
    yield {"url": url, "live": live, "index": index, "corpus": corpus}
    demo.close()


def _wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_upload_hwpx_ask_cite_remove(browser, upload_app) -> None:  # noqa: F811
    from indexer.uploads import list_uploads

    with _opened(browser, upload_app["url"]) as page:
        header = page.locator("#korag-header")
        assert "문서 1건" in header.inner_text()
        page.locator("#documents").get_by_text("검색 대상 문서").first.click()
        file_input = page.locator("#upload input[type=file]")
        # files the browser refuses are refused in Korean: a type the indexer cannot read, one over the size cap
        file_input.set_input_files([{"name": "setup.exe", "mimeType": "application/octet-stream",
                                     "buffer": b"MZ" + bytes(64)}])
        page.get_by_text("지원하지 않는 형식입니다: setup.exe").first.wait_for()
        file_input.set_input_files([{"name": "big.pdf", "mimeType": "application/pdf",
                                     "buffer": b"%PDF-1.4\n" + bytes(SMALL_CAP + 1)}])
        page.get_by_text("파일이 너무 큽니다").first.wait_for()
        shown = page.locator("body").inner_text()
        for english in ("Invalid file", "exceed the maximum", "Traceback"):
            assert english not in shown
        assert list_uploads(upload_app["index"]) == []

        # upload the HWPX: stored beside the index, indexed, and the panel says so
        file_input.set_input_files(str(HWPX))
        page.locator("#upload-status").get_by_text(f"추가했습니다: {HWPX.name}").wait_for(timeout=INDEX_TIMEOUT_MS)
        assert list_uploads(upload_app["index"]) == [HWPX.name]
        assert not any(p.name == HWPX.name for p in upload_app["corpus"].iterdir())
        page.locator("#doc-list").get_by_text(HWPX.name).wait_for()
        assert "문서 2건" in header.inner_text()

        # what the chat should show, from the Python API (this HWPX saved its line layout, so its pages are known)
        r = upload_app["live"].current()
        title = r.docs[SOURCE]["title"]
        hit = next(h for h in r.ask(QUESTION).citations if h.source == SOURCE)
        assert hit.page is not None
        _ask(page, QUESTION)
        answer = page.locator("#chat .korag-answer").first
        answer.wait_for(state="visible")
        assert title[:15] in answer.inner_text()
        card = page.locator(f'#sources-panel .src-card[data-source="{SOURCE}"]').first
        card.wait_for()
        assert title[:15] in card.locator(".src-title").inner_text()
        assert SOURCE in card.locator(".src-file").inner_text()
        assert f"p. {hit.page}" in card.locator(".src-pos").inner_text()
        assert f"p. {hit.page}" in answer.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert SCREENSHOT.stat().st_size > 10_000

        # remove it in the document panel
        page.locator("#upload-choice input").click()
        page.get_by_role("option").filter(has_text=HWPX.name).first.click()
        page.locator("#remove-upload").click()
        page.locator("#upload-status").get_by_text(f"삭제했습니다: {HWPX.name}").wait_for(timeout=INDEX_TIMEOUT_MS)
        assert list_uploads(upload_app["index"]) == []
        assert HWPX.name not in page.locator("#doc-list").inner_text()
        assert "문서 1건" in header.inner_text()

        # the same question no longer cites it
        _ask(page, QUESTION)
        second = page.locator("#chat .korag-answer").nth(1)
        second.wait_for(state="visible")
        assert title[:15] not in second.inner_text()
        assert _wait_until(lambda: page.locator("#sources-panel .src-card").count() > 0
                           and page.locator(f'#sources-panel .src-card[data-source="{SOURCE}"]').count() == 0)
        assert SOURCE not in upload_app["live"].current().docs
