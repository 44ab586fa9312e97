"""The chat in a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Requests to hosts other than 127.0.0.1/localhost are blocked, so the page must work offline (local fonts).
Saves artifacts/ui-screenshot.png. Without Chromium: skipped locally, a failure in CI (``CI`` set).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
SCREENSHOT = ARTIFACTS / "ui-screenshot.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 30_000

QA = {item["id"]: item for item in map(json.loads, (REPO / "eval" / "qa.jsonl").read_text(encoding="utf-8").splitlines()) if item}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI: apt-get install chromium fonts-noto-cjk)")
    pytest.skip(reason)




@pytest.fixture(scope="module")
def chromium_ok() -> None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed")


@pytest.fixture(scope="module")
def app(chromium_ok, seed_index: Path, tmp_path_factory: pytest.TempPathFactory):
    from conftest import launch_local

    from retriever import Retriever
    from ui.app import create_app

    root = tmp_path_factory.mktemp("browser")
    retriever = Retriever.load(seed_index)  # the session's index of corpus/ (read only: no uploads here)
    feedback = root / "feedback.jsonl"
    demo = create_app(retriever, feedback_path=feedback)
    url = launch_local(demo)
    yield {"url": url, "retriever": retriever, "feedback": feedback}
    demo.close()


@pytest.fixture(scope="module")
def browser(chromium_ok):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@contextmanager
def _opened(browser, url: str):
    """A new page (Korean locale, requests to other hosts blocked) showing the chat at ``url``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    blocked: list[str] = []

    def route(r) -> None:
        u = urlparse(r.request.url)
        if u.scheme in ("data", "blob") or u.hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    pg.route("**/*", route)
    pg.blocked = blocked  # type: ignore[attr-defined]
    try:
        pg.goto(url)
        pg.locator("#question textarea").wait_for(state="visible")
        yield pg
    finally:
        context.close()


@pytest.fixture
def page(browser, app):
    with _opened(browser, app["url"]) as pg:
        yield pg


def _ask(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.click()
    box.press_sequentially(question)
    box.press("Enter")


# answerable eval questions; the screenshot uses the first one the retriever answers (found, right document)
SHOWCASE = ["q001", "q028", "q077", "q050", "q029", "q065", "q075"]


def _showcase(retriever) -> tuple[dict, bool]:
    for qid in SHOWCASE:
        item = QA[qid]
        a = retriever.ask(item["question"])
        if a.found and a.citations[0].source == item["doc"] and item["answer"] in a.text:
            return item, True
    return QA[SHOWCASE[0]], False


def test_ask_open_source_and_screenshot(page, app) -> None:
    item, found = _showcase(app["retriever"])
    doc = app["retriever"].docs[item["doc"]]
    _ask(page, item["question"])
    answer = page.locator("#chat .korag-answer").first
    answer.wait_for(state="visible")
    assert "[1]" in answer.inner_text()
    if found:
        assert item["answer"] in answer.inner_text()
    else:
        assert "문서에서 답을 찾지 못했습니다" in answer.inner_text() and "가장 가까운 구절" in answer.inner_text()
    card = page.locator("#sources-panel .src-card").first
    card.locator(".src-title").filter(has_text=doc["title"][:12]).wait_for()
    assert doc["meta"]["publisher"] in card.inner_text()
    assert card.locator(".src-passage mark").count() >= (1 if found else 0)
    # open the whole document
    card.locator("details.src-doc summary").click()
    full = card.locator(".doc-text")
    full.wait_for(state="visible")
    tail = doc["text"].strip().splitlines()[-1].strip()
    assert tail[:20] in full.inner_text()
    assert full.locator(".passage").count() == 1
    # Korean text uses the local CJK font stack, not a web font
    family = page.evaluate("() => getComputedStyle(document.querySelector('#chat .korag-answer')).fontFamily")
    assert "Noto Sans CJK KR" in family
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_like_writes_feedback(page, app) -> None:
    item = QA["q063"]
    _ask(page, item["question"])
    page.locator("#chat .korag-answer").first.wait_for(state="visible")
    # Gradio labels the button by the browser's language
    page.locator('#chat button[aria-label="좋아요"], #chat button[aria-label="Like"]').first.click()
    path: Path = app["feedback"]
    deadline = time.monotonic() + 15
    records: list[dict] = []
    while time.monotonic() < deadline:
        if path.exists():
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if any(r["question"] == item["question"] for r in records):
                break
        time.sleep(0.2)
    mine = [r for r in records if r["question"] == item["question"]]
    assert mine and mine[-1]["vote"] == "up"
    assert mine[-1]["citations"] and mine[-1]["citations"][0]["source"] == item["doc"]
    # the chat goes on after a vote
    _ask(page, QA["q077"]["question"])
    page.locator("#chat .korag-answer").nth(1).wait_for(state="visible")
    question = page.locator("#sources-panel .src-question")
    question.filter(has_text=QA["q077"]["question"]).wait_for()
    # clicking an earlier answer brings its sources back
    page.locator("#chat .korag-answer").first.click()
    question.filter(has_text=item["question"]).wait_for()


def test_script_in_question_is_shown_literally(page) -> None:
    _ask(page, "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> **광주** AI 집적단지 예산")
    page.locator("#chat .korag-answer").first.wait_for(state="visible")
    assert page.evaluate("() => window.__xss") is None
    shown = page.locator("#chat .korag-question").first.inner_text()
    assert "<script>" in shown and "**광주**" in shown
    assert page.locator("#sources-panel script").count() == 0


def test_empty_question_shows_a_friendly_message(page) -> None:
    page.locator("#question textarea").press("Enter")
    page.get_by_text("질문이 비어 있습니다", exact=False).first.wait_for(state="visible")
    assert page.get_by_text("Traceback").count() == 0
    assert page.locator("#chat .korag-answer").count() == 0
    # after an answer, an empty question leaves the conversation as it was
    _ask(page, QA["q050"]["question"])
    first = page.locator("#chat .korag-answer").first
    first.wait_for(state="visible")
    before = first.inner_text()
    page.locator("#question textarea").press("Enter")
    time.sleep(1.0)
    assert first.is_visible() and first.inner_text() == before
    assert page.locator("#chat .korag-answer").count() == 1


def test_example_question_asks_directly(page) -> None:
    page.locator("#example-questions").get_by_text(QA["q028"]["question"]).first.click()
    answer = page.locator("#chat .korag-answer").first
    answer.wait_for(state="visible")
    assert "[1]" in answer.inner_text()
    assert page.locator("#sources-panel .src-card").first.get_attribute("data-source") == QA["q028"]["doc"]
    # settings: show scores
    assert page.locator("#sources-panel .src-scores").count() == 0
    page.locator("#settings").get_by_text("설정").first.click()
    page.locator("#show-scores input[type=checkbox]").check()
    page.locator("#sources-panel .src-scores").first.wait_for(state="visible")
    page.locator("#chat .korag-answer .ans-foot").first.wait_for(state="visible")
