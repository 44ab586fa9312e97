"""A chat people trust (issue #16), in a real headless Chromium: one session of six questions, marks [n] that show
their source card, the answer shapes, the layout on a wide screen and on a phone, Korean labels only.

Its own server over the session's index of corpus/ (conftest seed_index: the bundled default model). Offline
like tests/test_browser.py (requests to other hosts are blocked). Keeps its screenshots in artifacts/:
chat-1366x900.png and chat-390x844.png (the viewport), and the same with -full (the whole page).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from test_browser import _ask, _opened, browser, chromium_ok  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
QA = {item["id"]: item for item in map(json.loads, (REPO / "eval" / "qa.jsonl").read_text(encoding="utf-8").splitlines()) if item}
GWANGJU = "2022_msit-gwangju_ai-cluster-2022-plan.txt"
BUDGET = "2025-04-18_msit_ai-supplementary-budget-followup.txt"
NOT_FOUND = "문서에서 답을 찾지 못했습니다"

# the session of the issue, in order; the last one from the eval set
SESSION = [
    "광주 AI 집적단지 사업의 2022년 예산은 얼마야?",
    "그 사업은 언제까지 진행돼?",  # a follow-up: read as a question about the Gwangju cluster
    "부산 인공지능 집적단지의 2023년 예산은?",  # not in the documents
    "인공지능 추경 예산은 어디에 쓰여?",  # broad: a digest
    "GPU는 얼마나 확보해?",
    QA["q028"]["question"],
]
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# text that comes from the documents, the user or the index (titles, passages, questions, the model's name): not
# labels of the page
CONTENT = ".korag-answer, .korag-question, .korag-sources, #doc-list, #example-questions, #korag-header .stats"
ALLOWED_WORDS = {"API", "AI"}  # the footer's "API로 사용하기"; "AI" as Korean text writes it (예: 광주 AI 집적단지)


@pytest.fixture(scope="module")
def chat_app(chromium_ok, seed_index: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    from conftest import launch_local

    from retriever import Retriever
    from ui.app import create_app

    root = tmp_path_factory.mktemp("browser-chat")
    retriever = Retriever.load(seed_index)  # the session's index of corpus/ (read only: no uploads here)
    feedback = root / "feedback.jsonl"
    demo = create_app(retriever, feedback_path=feedback)
    url = launch_local(demo)
    yield {"url": url, "retriever": retriever, "feedback": feedback}
    demo.close()


def _answer(page, n: int):
    """The ``n``-th answer of the chat (0-based), once shown."""
    a = page.locator("#chat .korag-answer").nth(n)
    a.wait_for(state="visible")
    return a


def _used_sources(page) -> list[str]:
    """The documents of the source cards shown for the current answer (not those under "더 보기")."""
    return page.evaluate("""() => [...document.querySelectorAll('#sources-panel .korag-sources > .src-card')]
        .map(c => c.getAttribute('data-source'))""")


def _shows_start(page, answer) -> bool:
    """Whether the first line of ``answer`` is inside the chat box's visible part and the window."""
    return page.evaluate("""(a) => {
        const r = a.getBoundingClientRect();
        let box = a.parentElement;
        while (box && !(['auto', 'scroll'].includes(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight))
            box = box.parentElement;
        const b = box ? box.getBoundingClientRect() : {top: 0, bottom: innerHeight};
        return r.top >= Math.max(0, b.top) - 1 && r.top + 20 <= Math.min(innerHeight, b.bottom);
    }""", answer.element_handle())


def _show_card(page, mark) -> None:
    """Click a mark [n] and wait until its card is highlighted and in view."""
    card_id = mark.get_attribute("href").lstrip("#")
    mark.click()
    card = page.locator(f"#{card_id}")
    card.wait_for(state="visible")
    page.wait_for_function("(id) => document.getElementById(id)?.classList.contains('is-target')", arg=card_id)
    assert page.locator("#sources-panel .src-card.is-target").count() == 1
    box, view = card.bounding_box(), page.viewport_size
    assert box is not None and 0 <= box["y"] < view["height"], box


def _english(page) -> list[str]:
    """English words in the page's own visible text and in every aria-label, title, alt and placeholder (the
    content of messages and cards excepted)."""
    found = page.evaluate("""(content) => {
        const out = [];
        const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let t = w.nextNode(); t; t = w.nextNode()) {
            const e = t.parentElement;
            if (!e || e.closest(content) || e.closest('script, style, textarea')) continue;
            const hidden = !e.checkVisibility() && !e.closest('.sr-only, [class*=sr-only]');
            if (!hidden && /[A-Za-z]{2,}/.test(t.data)) out.push('text: ' + t.data.trim());
        }
        for (const e of document.querySelectorAll('[aria-label], [title], [alt], [placeholder]')) {
            if (e.closest(content)) continue;
            for (const a of ['aria-label', 'title', 'alt', 'placeholder']) {
                let v = e.getAttribute(a);
                if (!v) continue;
                if (/^(질문|답변): /.test(v)) v = v.slice(0, 3);  // a message's label: its own words are content
                if (/[A-Za-z]{2,}/.test(v)) out.push(a + ': ' + v.slice(0, 120));
            }
        }
        return out;
    }""", CONTENT)
    return [s for s in found if set(re.findall(r"[A-Za-z]{2,}", s.split(": ", 1)[1])) - ALLOWED_WORDS]


def _screenshots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for path, full in ((ARTIFACTS / f"{name}.png", False), (ARTIFACTS / f"{name}-full.png", True)):
        page.screenshot(path=str(path), full_page=full)
        assert path.stat().st_size > 10_000


def test_six_questions_in_one_session(browser, chat_app) -> None:  # noqa: F811
    retriever = chat_app["retriever"]
    expected = []
    for i, q in enumerate(SESSION):  # what the retriever says to the same conversation
        expected.append(retriever.ask(q, history=SESSION[:i] or None))
    with _opened(browser, chat_app["url"]) as page:
        page.set_viewport_size(WIDE)
        answers = []
        for i, q in enumerate(SESSION):
            _ask(page, q)
            answers.append(_answer(page, i))
            page.locator("#sources-panel .src-question").filter(has_text=q).wait_for()
            assert _shows_start(page, answers[i]), f"the start of answer {i + 1} is out of view"
            a = expected[i]
            shape = answers[i].get_attribute("class")
            assert f"kind-{a.kind.replace('_', '-')}" in shape
            if a.kind == "factoid":  # the direct answer first, in bold, and bold inside its sentence
                assert answers[i].locator(".ans-direct strong").inner_text() == a.direct
                assert answers[i].locator(".ans-text strong.ans-direct-in").count() >= (1 if a.direct_span else 0)
            # only the passages the answer uses are shown as its sources; the others are under "더 보기"
            cards = page.locator("#sources-panel .korag-sources > .src-card")
            assert cards.count() == len(a.used) or (not a.used and cards.count() == len(a.citations))
            assert page.locator("#sources-panel details.src-more .src-card").count() == len(a.citations) - cards.count()
            assert answers[i].locator(".ans-sources > li").count() >= min(1, len(a.citations))
            assert "오른쪽" not in answers[i].inner_text()

        # 1: the budget, as a direct answer
        assert answers[0].locator(".ans-direct").count() == 1
        # 2: the follow-up is read about the Gwangju cluster, says so, and cites the Gwangju plan
        assert "기준으로 찾았습니다" in answers[1].locator(".ans-context").inner_text()
        page.locator("#chat .korag-answer").nth(1).click()  # its sources back in the panel
        page.locator("#sources-panel .src-question").filter(has_text=SESSION[1]).wait_for()
        assert GWANGJU in _used_sources(page)
        title = retriever.docs[GWANGJU]["title"]
        assert title[:15] in answers[1].locator("ul.ans-sources").first.inner_text()
        # 3: Busan is not in the documents: the message first, set apart, then what may be related
        busan = answers[2]
        assert "notfound" in busan.get_attribute("class")
        assert NOT_FOUND in busan.locator(".ans-notfound").inner_text()
        assert busan.locator(".ans-notfound").evaluate("(e) => e === e.parentElement.firstElementChild")
        if busan.locator("ul.ans-related li").count():
            assert "관련 있을 수 있는 내용" in busan.inner_text()
        # 4: a digest: bullets, each with its mark
        if expected[3].kind == "digest":
            bullets = answers[3].locator("ul.ans-list > li")
            assert bullets.count() >= 2
            for j in range(bullets.count()):
                assert bullets.nth(j).locator("a.cite").count() >= 1
        # 5: the GPU question cites the supplementary budget follow-up
        page.locator("#chat .korag-answer").nth(4).click()
        page.locator("#sources-panel .src-question").filter(has_text=SESSION[4]).wait_for()
        assert BUDGET in _used_sources(page)
        # 6: the eval question's answer
        page.locator("#chat .korag-answer").nth(5).click()
        page.locator("#sources-panel .src-question").filter(has_text=SESSION[5]).wait_for()
        assert QA["q028"]["answer"] in answers[5].inner_text() or QA["q028"]["doc"] in _used_sources(page)

        # a mark [n] of the current answer highlights its card
        _show_card(page, answers[5].locator("a.cite").first)
        # a mark of an earlier answer: the panel switches to that answer's sources, and the card is the Gwangju plan's
        mark = answers[1].locator(".ans-text a.cite").first
        _show_card(page, mark)
        assert page.locator("#sources-panel .src-card.is-target").get_attribute("data-source") == GWANGJU
        assert page.locator("#sources-panel .src-question").inner_text().endswith(SESSION[1])
        # a passage the answer does not use: opened from under "더 보기"
        more = answers[1].locator("details.ans-more")
        if more.count():
            more.locator("summary").click()
            _show_card(page, more.locator("a.cite").first)
            assert page.locator("#sources-panel details.src-more").evaluate("(d) => d.open")

        # Korean words are not broken inside; every label is Korean
        assert answers[0].evaluate("(e) => getComputedStyle(e).wordBreak") == "keep-all"
        page.locator("#settings").get_by_text("설정").first.click()
        page.locator("#documents .label-wrap").first.click()
        page.locator("#k").wait_for(state="visible")
        assert _english(page) == []
        page.locator("#settings").get_by_text("설정").first.click()
        page.locator("#documents .label-wrap").first.click()
        page.locator("#chat .korag-answer").nth(5).click()
        page.locator("#sources-panel .src-question").filter(has_text=SESSION[5]).wait_for()
        _screenshots(page, "chat-1366x900")

        # the same session on a phone: no sideways scrolling, the sources right after the question box
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        ask_row = page.locator("#ask-row").bounding_box()
        panel = page.locator("#sources-panel").bounding_box()
        examples = page.locator("#example-questions").bounding_box()
        assert ask_row["y"] < panel["y"] < examples["y"], (ask_row, panel, examples)
        assert _english(page) == []
        page.evaluate("""() => {  // the last question and the start of its answer, as a new answer is shown
            const q = [...document.querySelectorAll('#chat .korag-question')].pop();
            q.scrollIntoView({block: 'start'});
            window.scrollTo(0, 0);
        }""")
        _screenshots(page, "chat-390x844")
        assert page.get_by_text("Traceback").count() == 0


def test_phone_layout_keeps_the_answer_start_in_view(browser, chat_app) -> None:  # noqa: F811
    with _opened(browser, chat_app["url"]) as page:
        page.set_viewport_size(PHONE)
        # the placeholder fits its box
        fits = page.locator("#question textarea").evaluate("""(t) => {
            const s = getComputedStyle(t), c = document.createElement('canvas').getContext('2d');
            c.font = s.font;
            return c.measureText(t.placeholder).width <= t.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        }""")
        assert fits
        for i, q in enumerate(SESSION[:3]):
            _ask(page, q)
            answer = _answer(page, i)
            page.locator("#sources-panel .src-question").filter(has_text=q).wait_for()
            time.sleep(0.3)
            assert _shows_start(page, answer), f"the start of answer {i + 1} is out of view"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        # a mark [n] brings its card, below the question box, into view
        _show_card(page, page.locator("#chat .korag-answer").nth(2).locator("a.cite").first)
        assert "오른쪽" not in page.locator("#chat").inner_text()


def test_counter_copy_feedback_and_a_new_conversation(browser, chat_app) -> None:  # noqa: F811
    with _opened(browser, chat_app["url"]) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.set_viewport_size(WIDE)
        box = page.locator("#question textarea")
        counter = page.locator("#question-counter")
        # a notice (an empty question) is Korean too, its close button included
        box.press("Enter")
        page.get_by_text("질문이 비어 있습니다", exact=False).first.wait_for(state="visible")
        page.locator('[data-testid="toast-close"]').first.wait_for(state="visible")
        assert _english(page) == []
        # the character counter, and a notice at the limit (the box takes no more)
        box.fill("광주 예산")
        counter.get_by_text("5 / 1,000자").wait_for()
        assert not counter.locator(".q-limit").is_visible()
        box.fill("가" * 1200)
        assert len(box.input_value()) == 1000
        counter.get_by_text("1,000 / 1,000자").wait_for()
        assert "1,000자까지" in counter.locator(".q-limit").inner_text()
        box.fill("")
        counter.get_by_text("0 / 1,000자").wait_for()

        # "복사": the answer as text, with its marks and sources, no HTML
        _ask(page, SESSION[0])
        answer = _answer(page, 0)
        answer.locator("button.ans-copy").click()
        answer.locator("button.ans-copy").filter(has_text="복사했습니다").wait_for()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied.startswith("질문: " + SESSION[0])
        assert "[1]" in copied and "출처" in copied and GWANGJU in copied
        assert "<" not in copied and "&#" not in copied

        # a vote is confirmed on the page, and a reason can follow
        answer.hover()
        page.locator('#chat button[aria-label="좋아요"]').last.click()
        note = page.locator("#feedback-note")
        note.get_by_text("기록했습니다").wait_for()
        page.locator("#feedback-reason textarea").fill("예산이 바로 나와서 좋아요")
        page.locator("#feedback-send").click()
        note.get_by_text("이유도 기록했습니다").wait_for()
        records = [json.loads(x) for x in chat_app["feedback"].read_text(encoding="utf-8").splitlines() if x.strip()]
        mine = [r for r in records if r["question"] == SESSION[0]]
        assert [r["vote"] for r in mine][-2:] == ["up", "up"]
        assert mine[-1]["reason"] == "예산이 바로 나와서 좋아요" and "reason" not in mine[-2]

        # the follow-up reads the conversation; "대화 지우기" starts a new one
        _ask(page, SESSION[1])
        assert "기준으로 찾았습니다" in _answer(page, 1).locator(".ans-context").inner_text()
        page.locator('#chat button[aria-label="대화 지우기"]').first.click()
        page.wait_for_function("() => !document.querySelector('#chat .korag-answer')")
        # hidden (Gradio may keep the old node for a moment while it re-renders the group: every copy is hidden)
        page.wait_for_function("() => [...document.querySelectorAll('#feedback-box')].every((e) => !e.checkVisibility())")
        _ask(page, SESSION[1])
        assert _answer(page, 0).locator(".ans-context").count() == 0
