"""The Gradio chat: Korean questions in, cited answer sentences out, with a source panel and an API.

>>> from retriever import Retriever
>>> from ui.app import create_app, launch_app
>>> demo = create_app(Retriever.load("index"))                     # doctest: +SKIP
>>> launch_app(demo, port=7860)                                    # doctest: +SKIP

With a :class:`retriever.LiveRetriever` and the corpus folder it was built from, the document panel also takes
uploads (``create_app(LiveRetriever("index"), corpus="corpus")``, as ``python -m ui`` does; see :mod:`ui.uploads`).

API: ``gradio_client.Client(url).predict("질문", api_name="/ask")`` (optional ``k``, ``mode`` and ``history``, the
conversation so far) returns :func:`ask_json`'s dict, i.e. ``Answer.to_json()`` plus ``"k"`` and ``"mode"``.

The chat passes each session's earlier questions as ``history`` (a follow-up such as "그 사업은 언제까지 진행돼?"
is read in its conversation); "대화 지우기" starts a new one.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr

from indexer.errors import IndexUnavailableError
from indexer.ingest import SUPPORTED_SUFFIXES
from indexer.uploads import MAX_UPLOAD_BYTES, upload_name
from retriever import MAX_QUERY_CHARS, MODES, EmptyQueryError

from .feedback import FeedbackLog, default_feedback_path, feedback_record
from .render import (
    answer_message_html,
    empty_panel_html,
    esc,
    fmt_int,
    question_counter_html,
    sources_panel_html,
    user_message_html,
)
from .uploads import add_files, remove_files, upload_choices, upload_hint, upload_problem

__all__ = [
    "CONCURRENCY_LIMIT",
    "CSS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "I18N",
    "MAX_FILE_SIZE",
    "MAX_QUESTION_CHARS",
    "MSG_EMPTY",
    "MSG_FAILED",
    "MSG_HISTORY",
    "MSG_MODE",
    "MSG_TOO_LONG",
    "MSG_UNAVAILABLE",
    "PAGE_JS",
    "THEME",
    "UserInputError",
    "add_answer",
    "anchor_of",
    "ask_answer",
    "ask_json",
    "create_app",
    "example_questions",
    "feedback_note_html",
    "launch_app",
    "parse_history",
    "vote_name",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_FILE_SIZE = "1mb"
CONCURRENCY_LIMIT = 4
QUEUE_MAX_SIZE = 64
MAX_K = 10
DEFAULT_K = 5

MSG_EMPTY = "질문이 비어 있습니다. 문서에 대해 궁금한 점을 입력해 주세요. (예: 광주 AI 집적단지 2022년 예산 얼마야?)"
MSG_MODE = "검색 방식은 hybrid(하이브리드), bm25(키워드), dense(의미) 가운데 하나여야 합니다."
MSG_K = "구절 수는 1 이상의 정수여야 합니다."
MSG_FAILED = "답을 찾는 중에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요."
# the index's server (milvus://) did not answer: this question failed, the next one is tried again
MSG_UNAVAILABLE = "검색 서버에 연결하지 못해 답하지 못했습니다. 잠시 후 다시 질문해 주세요."
MAX_QUESTION_CHARS = MAX_QUERY_CHARS  # the chat's input box stops there, and says so
MSG_TOO_LONG = f"질문은 {MAX_QUESTION_CHARS:,}자까지 입력할 수 있습니다. 질문을 줄여 주세요."
MSG_HISTORY = ('대화 기록(history)은 이전 질문 문자열의 목록이나 {"role": "user", "content": "질문"} 형식 메시지의 '
               "목록이어야 합니다.")
MAX_HISTORY = 20  # earlier turns kept for reading a follow-up (the retriever reads the last few)
MAX_REASON_CHARS = 500
MSG_TITLE = "알림"

# answerable eval questions (eval/qa.jsonl) whose answers the retriever finds, one or two per document
EXAMPLE_IDS = ("q001", "q028", "q050", "q063", "q077", "q054")
_FALLBACK_EXAMPLES = (
    "광주 AI 집적단지 2022년 예산 얼마야?",
    "국내 최대라는 광주 AI 데이터센터 연산 성능은 몇 PF인가요?",
    "AX 실증산단 구축사업 수행기관 모집 시작일",
    "이번 AI 추경 정부안 규모가 얼마야?",
    "World Best LLM 프로젝트 올해 예산",
    "지금까지 스마트그린산단으로 지정된 산업단지는 몇 개야?",
)

MODE_CHOICES = [("하이브리드 (추천)", "hybrid"), ("키워드", "bm25"), ("의미", "dense")]
_MODE_ALIASES = {
    "hybrid": "hybrid", "bm25": "bm25", "dense": "dense", "keyword": "bm25", "semantic": "dense",
    "하이브리드": "hybrid", "키워드": "bm25", "의미": "dense",
}

FONT_STACK = ["Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", "NanumGothic", "sans-serif"]
MONO_STACK = ["Noto Sans Mono CJK KR", "D2Coding", "ui-monospace", "monospace"]

# local fonts only: the default theme would ask Google Fonts, which an offline machine cannot reach
THEME = gr.themes.Soft(primary_hue="blue", secondary_hue="sky", neutral_hue="slate", font=FONT_STACK, font_mono=MONO_STACK)

_STATIC = Path(__file__).resolve().parent / "static"
CSS = (_STATIC / "app.css").read_text(encoding="utf-8")

# when a "원문 보기" opens, scroll the document box to the cited passage
SCROLL_JS = (_STATIC / "sources.js").read_text(encoding="utf-8")
# the page's script (run once on load): clickable [n] marks, "복사", the answer's start kept in view, the question's
# character counter, and Korean for the labels Gradio builds in English
PAGE_JS = (_STATIC / "chat.js").read_text(encoding="utf-8").replace("__MAX_CHARS__", str(MAX_QUESTION_CHARS))
# Gradio's own strings that its Korean dictionary lacks; given for English browsers too, since the whole page is Korean
_KOREAN_LABELS = {
    "chatbot.copy_message": "복사", "chatbot.copied_message": "복사했습니다", "chatbot.like": "좋아요",
    "chatbot.dislike": "싫어요", "chatbot.clear": "대화 지우기", "chatbot.retry": "다시 시도", "chatbot.undo": "실행 취소",
    "chatbot.edit": "편집", "chatbot.submit": "보내기", "chatbot.cancel": "취소", "chatbot.complete": "완료",
    "common.clear": "지우기", "common.loading": "불러오는 중", "common.error": "오류", "common.settings": "설정",
    # shown for a moment by the progress tracker; Gradio 6.31 has no translation for it and shows the key
    "common.complete": "완료", "common.progress": "진행", "common.upload": "올리기", "common.remove": "삭제",
    "common.download": "내려받기",
    "errors.use_via_api": "API로 사용하기",
}
I18N = gr.I18n(ko=dict(_KOREAN_LABELS), en=dict(_KOREAN_LABELS))
# the browser's own refusals of a dropped file (too large, wrong type), which Gradio words in English, in Korean
UPLOAD_JS = (_STATIC / "uploads.js").read_text(encoding="utf-8").replace("__MAX_MB__", str(MAX_UPLOAD_BYTES // 2**20))
# changes of the index (uploads, removals) run one at a time, in the order they were asked for
INDEX_CONCURRENCY_ID = "korag-index"


class UserInputError(ValueError):
    """A question or setting the user can fix; its message is shown as is (Korean)."""


# ---------------------------------------------------------------------------------------------- core
def _normalise_mode(mode: Any) -> str:
    m = _MODE_ALIASES.get(str(mode if mode is not None else "hybrid").strip().lower())
    if m is None or m not in MODES:
        raise UserInputError(MSG_MODE)
    return m


def _clamp_k(k: Any, n_chunks: int) -> int:
    if k is None or k == "":
        k = DEFAULT_K
    try:
        k_int = round(float(k))
    except (TypeError, ValueError, OverflowError):
        raise UserInputError(MSG_K) from None
    return max(1, min(k_int, max(1, n_chunks)))


def parse_history(history: Any) -> list[str]:
    """The earlier user questions of a conversation, oldest first, from what a caller sent as ``history``.

    Accepts None or an empty value (no conversation), a list of question strings, or a list of
    ``{"role": "user" | "assistant" | "system", "content": str}`` messages (only user turns are kept; a message
    without a role is a user turn), or such a list as a JSON string. Blank questions are dropped; each is cut
    to :data:`MAX_QUESTION_CHARS` and only the last :data:`MAX_HISTORY` are kept. Anything else is a
    :class:`UserInputError` (Korean, naming the item).

    >>> parse_history(["광주 AI 집적단지 예산은?", {"role": "assistant", "content": "1,076억원"}, {"content": "그 사업은?"}])
    ['광주 AI 집적단지 예산은?', '그 사업은?']
    """
    if history is None or history == "" or history == []:
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except ValueError:
            raise UserInputError(MSG_HISTORY) from None
        if history is None:
            return []
    if not isinstance(history, (list, tuple)):
        raise UserInputError(MSG_HISTORY)
    out: list[str] = []
    for n, item in enumerate(history, 1):
        if isinstance(item, dict):
            role = item.get("role", "user")
            content = item.get("content")
            if role not in ("user", "assistant", "system") or not isinstance(content, str):
                raise UserInputError(f"{MSG_HISTORY} ({n}번째 항목을 읽을 수 없습니다.)")
            if role != "user":
                continue
            item = content
        if not isinstance(item, str):
            raise UserInputError(f"{MSG_HISTORY} ({n}번째 항목을 읽을 수 없습니다.)")
        text = " ".join(item.split())[:MAX_QUESTION_CHARS]
        if text:
            out.append(text)
    return out[-MAX_HISTORY:]


def ask_answer(retriever: Any, question: Any, k: Any = DEFAULT_K, mode: Any = "hybrid",
               history: Any = None) -> tuple[Any, int, str]:
    """``(Answer, k, mode)`` for a raw question, settings and conversation; :class:`UserInputError` for bad input.

    ``k`` is clamped to 1..number of passages in the index; ``mode`` also accepts keyword/semantic and the
    Korean labels; ``history`` is read by :func:`parse_history` and passed to ``Retriever.ask`` (a follow-up
    question is then read in its conversation). A question over :data:`MAX_QUESTION_CHARS` characters is refused
    (never cut silently). Other failures propagate (callers log them and show :data:`MSG_FAILED`).
    """
    if not isinstance(question, str) or not question.strip():
        raise UserInputError(MSG_EMPTY)
    if len(question.strip()) > MAX_QUESTION_CHARS:
        raise UserInputError(MSG_TOO_LONG)
    m = _normalise_mode(mode)
    kk = _clamp_k(k, len(retriever))
    turns = parse_history(history)
    try:
        answer = retriever.ask(question, k=kk, mode=m, history=turns or None)
    except EmptyQueryError:  # e.g. only control or zero-width characters
        raise UserInputError(MSG_EMPTY) from None
    return answer, kk, m


def ask_json(retriever: Any, question: Any, k: Any = DEFAULT_K, mode: Any = "hybrid",
             history: Any = None) -> dict[str, Any]:
    """The ``/ask`` API result: ``Answer.to_json()`` plus the ``k`` and ``mode`` actually used."""
    answer, kk, m = ask_answer(retriever, question, k, mode, history)
    out = answer.to_json()
    out["k"] = kk
    out["mode"] = m
    return out


def _eval_items(qa_path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    path = Path(qa_path) if qa_path else Path(__file__).resolve().parents[1] / "eval" / "qa.jsonl"
    items = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict) and item.get("answer") and item.get("question") and item.get("id"):
                    items.append(item)
    except OSError:
        pass
    return items


def example_questions(retriever: Any = None, qa_path: str | os.PathLike[str] | None = None, n: int = 6,
                      preferred: tuple[str, ...] = EXAMPLE_IDS, max_checks: int = 10) -> list[str]:
    """Up to ``n`` answerable questions from the eval set (``eval/qa.jsonl``), preferred ids first.

    With a ``retriever``, only questions about its documents, and first those it answers (found, the right
    document first, the expected answer in the sentence), at most two per document. Without the eval file:
    a built-in list (no retriever) or none.
    """
    items = _eval_items(qa_path)
    order = {qid: i for i, qid in enumerate(preferred)}
    items.sort(key=lambda it: order.get(it["id"], len(order)))
    if retriever is None:
        out = [it["question"] for it in items if it["id"] in order]
        return out[:n] if len(out) >= 3 else list(_FALLBACK_EXAMPLES)[:n]
    docs = getattr(retriever, "docs", {}) or {}
    sources = {d.get("source") for d in docs.values()} | set(docs)
    strict: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    per_doc: dict[str, int] = {}
    for it in [it for it in items if it.get("doc") in sources][:max_checks]:
        if len(strict) >= n or per_doc.get(it["doc"], 0) >= 2:
            continue
        try:
            a = retriever.ask(it["question"])
        except Exception:  # an example that fails is simply not shown
            log.debug("example %s failed", it["id"], exc_info=True)
            continue
        if not a.citations or a.citations[0].source != it["doc"]:
            continue
        if a.found and it["answer"] in a.text:
            strict.append(it)
            per_doc[it["doc"]] = per_doc.get(it["doc"], 0) + 1
        else:
            loose.append(it)
    chosen = (strict + loose)[:n]
    return [it["question"] for it in chosen]


def _user_error(msg: str) -> gr.Error:
    return gr.Error(msg, title=MSG_TITLE, print_exception=False)


# ------------------------------------------------------------------------------------------------ app
def _header_html(retriever: Any) -> str:
    n_docs = len(retriever.docs)
    n_chunks = len(retriever)
    model = (getattr(retriever, "manifest", None) or {}).get("model", {}).get("id", "")
    return (
        '<div id="korag-header">'
        '<h1><span class="logo">Q&amp;A</span> 문서 질의응답</h1>'
        "<p>한국어 문서에서 질문의 답이 되는 문장을 찾아, 근거 구절과 함께 보여 드립니다.</p>"
        f'<p class="stats muted">문서 {fmt_int(n_docs)}건 · 구절 {fmt_int(n_chunks)}개'
        + (f" · 임베딩 모델 {esc(model)}" if model else "")
        + "</p></div>"
    )


def _docs_list_html(retriever: Any) -> str:
    rows = []
    for doc in sorted(retriever.docs.values(), key=lambda d: str((d.get("meta") or {}).get("date", ""))):
        meta = doc.get("meta") or {}
        info = " · ".join(str(meta[k]) for k in ("publisher", "date") if meta.get(k))
        name = upload_name(str(doc.get("source", "")))
        rows.append(f'<li{" class=uploaded" if name else ""}><b>{esc(doc.get("title") or doc.get("source"))}</b>'
                    + (f' <span class="muted">— {esc(info)}</span>' if info else "")
                    + (f' <span class="upload-badge">올린 파일 · {esc(name)}</span>' if name else "") + "</li>")
    return f'<ul class="korag-docs">{"".join(rows)}</ul>'


def _docs_label(retriever: Any) -> str:
    return f"검색 대상 문서 ({fmt_int(len(retriever.docs))}건)"


def _new_state() -> dict[str, Any]:
    """A session: its chat messages, the answer behind each assistant message (by message index), the answer whose
    sources are shown, the questions asked so far (the ``history`` of the next one) and the last vote."""
    return {"messages": [], "answers": {}, "current": None, "history": [], "vote": None}


def anchor_of(idx: int) -> str:
    """The name of the answer at chat message ``idx`` in the ids of its source cards (``render.card_id``)."""
    return f"m{idx}"


def add_answer(state: dict[str, Any], question: str, answer: Any, k: int, mode: str, docs: dict[str, Any],
               show_scores: bool) -> dict[str, Any]:
    """The session after ``answer`` to ``question``: both messages added, its sources shown, the question in the
    history of the next one."""
    messages = list(state.get("messages") or [])
    messages.append({"role": "user", "content": user_message_html(answer.question)})
    idx = len(messages)
    messages.append({"role": "assistant", "content": answer_message_html(
        answer, docs, show_scores=show_scores, mode=mode, anchor=anchor_of(idx))})
    answers = dict(state.get("answers") or {})
    answers[idx] = {"answer": answer, "k": k, "mode": mode, "docs": docs}
    history = [*list(state.get("history") or []), " ".join(question.split())][-MAX_HISTORY:]
    return {**_new_state(), **state, "messages": messages, "answers": answers, "current": idx, "history": history}


def vote_name(liked: Any) -> str:
    """Gradio's like value as the vote recorded: "up", "down", "cleared" (a vote taken back) or the option's name."""
    return "up" if liked is True else "down" if liked is False else (str(liked) if liked else "cleared")


def feedback_note_html(vote: str, saved: bool, reason: bool = False) -> str:
    """The confirmation shown under the chat after a vote (or its reason) was recorded, or why it was not."""
    if not saved:
        return '<p class="fb-note err">의견을 저장하지 못했습니다. 잠시 후 다시 눌러 주세요.</p>'
    if reason:
        return '<p class="fb-note ok">이유도 기록했습니다. 고맙습니다.</p>'
    said = {"up": "👍 도움이 된 답으로", "down": "👎 아쉬운 답으로"}.get(vote, "의견을")
    return (f'<p class="fb-note ok">{said} 기록했습니다. 고맙습니다. '
            '<span class="muted">이유를 남기시면 더 나은 답을 만드는 데 쓰겠습니다 (선택).</span></p>')


def _current(retriever: Any) -> Any:
    """One index for the whole request: a LiveRetriever's current snapshot, or the retriever itself."""
    current = getattr(type(retriever), "current", None)
    return retriever.current() if callable(current) else retriever


def create_app(retriever: Any, *, feedback_path: str | os.PathLike[str] | None = None,
               examples: list[str] | None = None, corpus: str | os.PathLike[str] | None = None) -> gr.Blocks:
    """The chat as a ``gr.Blocks`` (not launched; see :func:`launch_app`).

    ``feedback_path``: where 👍/👎 votes are appended; default ``feedback.jsonl`` beside the index folder.
    ``corpus``: the folder the index was built from; with a :class:`retriever.LiveRetriever`, the document panel
    then takes uploads (stored beside the index, indexed with the corpus; see :mod:`ui.uploads`).
    """
    feedback = FeedbackLog(feedback_path if feedback_path is not None else default_feedback_path(retriever.index_dir))
    docs = retriever.docs
    n_chunks = len(retriever)
    k_max = max(1, min(MAX_K, n_chunks))
    k_default = min(DEFAULT_K, k_max)
    fixed_examples = examples is not None
    examples = list(examples) if examples is not None else example_questions(retriever)
    problem = upload_problem(retriever, corpus) if corpus is not None else None
    uploads = corpus is not None and problem is None
    follows_rebuilds = callable(getattr(type(retriever), "current", None))
    shown = {"index": _current(retriever), "examples": examples}

    def _examples(r: Any) -> list[str]:
        """The example questions for index ``r`` (asked again only when the index changed)."""
        if fixed_examples or shown["index"] is r:
            return list(shown["examples"])
        fresh = example_questions(r)
        shown.update(index=r, examples=fresh)
        return fresh

    def _panel(state: dict[str, Any], show_scores: bool) -> str:
        cur = state.get("current")
        rec = state["answers"].get(cur) if isinstance(cur, int) else None
        if rec is None or not isinstance(cur, int):
            r = _current(retriever)
            return empty_panel_html(len(r.docs), len(r))
        return sources_panel_html(rec["answer"], rec.get("docs", docs), show_scores=bool(show_scores),
                                  anchor=anchor_of(cur))

    def respond(question: str, state: dict[str, Any] | None, k: float, mode: str,
                show_scores: bool) -> tuple[Any, ...]:
        state = state or _new_state()
        # in the chat a bad question is a notice, not an error: an error would blank the conversation
        r = _current(retriever)  # the index that answers this request, even if a rebuild lands meanwhile
        try:
            answer, kk, m = ask_answer(r, question, k, mode, state.get("history"))
        except UserInputError as exc:
            gr.Warning(str(exc), title=MSG_TITLE)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except IndexUnavailableError as exc:  # the server is down or slow: say so; the next question tries again
            log.warning("answering %r failed: %s", question if isinstance(question, str) else type(question), exc)
            gr.Warning(MSG_UNAVAILABLE, title=MSG_TITLE)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except Exception:
            log.exception("answering %r failed", question if isinstance(question, str) else type(question))
            gr.Warning(MSG_FAILED, title=MSG_TITLE)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        new_state = add_answer(state, question, answer, kk, m, r.docs, bool(show_scores))
        return new_state["messages"], "", _panel(new_state, show_scores), new_state

    def ask_example(sample: Any, state: dict[str, Any] | None, k: float, mode: str,
                    show_scores: bool) -> tuple[Any, ...]:
        question = sample[0] if isinstance(sample, (list, tuple)) and sample else sample
        return respond(question if isinstance(question, str) else "", state, k, mode, show_scores)

    def rerender(state: dict[str, Any] | None, show_scores: bool) -> tuple[Any, ...]:
        state = state or _new_state()
        messages = list(state["messages"])
        for idx, rec in state["answers"].items():
            if 0 <= idx < len(messages):
                messages[idx] = {"role": "assistant", "content": answer_message_html(
                    rec["answer"], rec.get("docs", docs), show_scores=bool(show_scores), mode=rec["mode"],
                    anchor=anchor_of(idx))}
        new_state = dict(state, messages=messages)
        return messages, _panel(new_state, show_scores), new_state

    def select_message(state: dict[str, Any] | None, show_scores: bool, evt: gr.SelectData) -> tuple[Any, ...]:
        state = state or _new_state()
        idx = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else None)
        if idx is not None and idx not in state["answers"] and (idx + 1) in state["answers"]:
            idx += 1  # a question: show its answer's sources
        if idx is None or idx not in state["answers"] or idx == state.get("current"):
            return gr.skip(), state
        new_state = dict(state, current=idx)
        return _panel(new_state, show_scores), new_state

    def vote(state: dict[str, Any] | None, evt: gr.LikeData) -> tuple[Any, ...]:
        state = state or _new_state()
        idx = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else None)
        rec = state["answers"].get(idx)
        if rec is None:
            return gr.skip(), gr.skip(), gr.skip(), state
        v = vote_name(evt.liked)
        saved = feedback.append(feedback_record(rec["answer"].to_json(), v, mode=rec["mode"], k=rec["k"]))
        if v not in ("up", "down"):  # a vote taken back: recorded, nothing to confirm
            return gr.Group(visible=False), "", gr.skip(), dict(state, vote=None)
        return (gr.Group(visible=True), feedback_note_html(v, saved), gr.Textbox(value="", visible=saved),
                dict(state, vote={"idx": idx, "vote": v}))

    def send_reason(reason: str, state: dict[str, Any] | None) -> tuple[Any, ...]:
        state = state or _new_state()
        last = state.get("vote") or {}
        rec = state["answers"].get(last.get("idx"))
        text = " ".join(str(reason or "").split())[:MAX_REASON_CHARS]
        if rec is None or not text:
            gr.Warning("이유를 적은 뒤 보내 주세요." if rec is not None else "먼저 답에 👍 또는 👎를 눌러 주세요.",
                       title=MSG_TITLE)
            return gr.skip(), gr.skip()
        saved = feedback.append(feedback_record(rec["answer"].to_json(), last["vote"], mode=rec["mode"], k=rec["k"],
                                                reason=text))
        return feedback_note_html(last["vote"], saved, reason=True), gr.Textbox(value="", visible=not saved)

    def clear() -> tuple[Any, ...]:
        r = _current(retriever)
        return "", empty_panel_html(len(r.docs), len(r)), _new_state(), gr.Group(visible=False)

    def _documents(state: dict[str, Any] | None, show_scores: bool) -> tuple[Any, ...]:
        """Header, document list, remove choices, examples and source panel for the index now served."""
        r = _current(retriever)
        ex = _examples(r)
        return (_header_html(r), gr.Accordion(label=_docs_label(r)), _docs_list_html(r),
                gr.Dropdown(choices=upload_choices(r) if uploads else [], value=None),
                gr.Dataset(samples=[[q] for q in ex] or [[""]], visible=bool(ex), samples_per_page=len(ex) or 1),
                _panel(state or _new_state(), show_scores))

    def upload(files: Any, state: dict[str, Any] | None, show_scores: bool, progress=gr.Progress()):  # noqa: B008
        paths = [f for f in (files if isinstance(files, list) else [files]) if isinstance(f, str) and f]
        if not paths:
            return (None, gr.skip(), *(gr.skip() for _ in range(6)))
        try:
            outcome = add_files(retriever, corpus or "", paths, lambda f, d: progress(f, desc=d)).html()
        except Exception:  # add_files reports per file; anything else is a bug, logged, never a traceback
            log.exception("adding %d uploads failed", len(paths))
            outcome = f'<ul class="korag-upload-status"><li class="err">{esc(MSG_FAILED)}</li></ul>'
        return (None, outcome, *_documents(state, show_scores))

    def remove(name: Any, state: dict[str, Any] | None, show_scores: bool, progress=gr.Progress()):  # noqa: B008
        if not isinstance(name, str) or not name:
            gr.Warning("지울 문서를 먼저 고르세요.", title=MSG_TITLE)
            return (gr.skip(), *(gr.skip() for _ in range(6)))
        try:
            outcome = remove_files(retriever, corpus or "", [name], lambda f, d: progress(f, desc=d)).html()
        except Exception:
            log.exception("removing the upload %r failed", name)
            outcome = f'<ul class="korag-upload-status"><li class="err">{esc(MSG_FAILED)}</li></ul>'
        return (outcome, *_documents(state, show_scores))

    def api_ask(question: str, k: int = DEFAULT_K, mode: str = "hybrid",
                history: list[str | dict[str, str]] | None = None) -> dict:
        """Answer a Korean question from the documents, with citations.

        history: optional, the conversation so far, oldest first: earlier questions as strings, or messages
        {"role": "user" | "assistant" | "system", "content": "..."} (only user turns are read). A follow-up such as
        "그 사업은 언제까지 진행돼?" is then read in it ("context_note" says how); malformed history is an error.

        Returns Answer.to_json() plus "k" and "mode": {"question", "answer", "found", "confidence",
        "citations": [{"text", "score", "doc_id", "title", "source", "start", "end", "chunk_id", "scores", "meta"}],
        "highlights": [[citation_index, start, end]], "direct", "direct_span", "kind", "context_note", "used",
        "resolved_question", "k", "mode"}.
        """
        try:
            return ask_json(_current(retriever), question, k, mode, history)
        except UserInputError as exc:
            raise _user_error(str(exc)) from None
        except IndexUnavailableError as exc:
            log.warning("/ask failed: %s", exc)
            raise _user_error(MSG_UNAVAILABLE) from None
        except Exception:
            log.exception("/ask failed")
            raise _user_error(MSG_FAILED) from None

    with gr.Blocks(title="문서 질의응답", analytics_enabled=False) as demo:
        state = gr.State(_new_state())
        header = gr.HTML(_header_html(retriever))
        # on a phone the columns stack; app.css then puts the sources right after the question box (before the
        # examples and settings of the first column)
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=7, min_width=380, elem_id="chat-col"):
                chatbot = gr.Chatbot(
                    label="대화",
                    show_label=False,  # the label floated over the first message
                    elem_id="chat",
                    height=560,
                    autoscroll=False,  # the page's script shows the start of each new answer instead of its end
                    sanitize_html=True,
                    render_markdown=True,
                    latex_delimiters=[],
                    line_breaks=False,
                    feedback_options=("Like", "Dislike"),
                    buttons=[],  # each answer has its own "복사" (Gradio's copies the HTML)
                    placeholder=(
                        "<div style='text-align:center'><b>무엇이든 물어보세요</b><br>"
                        "<span class='muted'>예: 광주 AI 집적단지 2022년 예산 얼마야?</span></div>"
                    ),
                )
                with gr.Group(visible=False, elem_id="feedback-box") as feedback_box:
                    feedback_note = gr.HTML("", elem_id="feedback-note")
                    with gr.Row(equal_height=True):
                        reason = gr.Textbox(label="이유", show_label=False, placeholder="이유 (선택)",
                                            elem_id="feedback-reason", scale=6, lines=1, max_lines=3,
                                            max_length=MAX_REASON_CHARS)
                        reason_send = gr.Button("이유 보내기", scale=1, min_width=96, elem_id="feedback-send")
                with gr.Row(equal_height=True, elem_id="ask-row"):
                    question = gr.Textbox(
                        label="질문", show_label=False, placeholder="문서에 대해 질문하세요",
                        elem_id="question", scale=8, lines=1, max_lines=4, max_length=MAX_QUESTION_CHARS,
                        autofocus=True,
                    )
                    send = gr.Button("질문하기", variant="primary", scale=1, min_width=96, elem_id="send")
                gr.HTML(question_counter_html(MAX_QUESTION_CHARS), elem_id="question-counter")
                examples_ds = gr.Dataset(visible=bool(examples),
                    label="예시 질문 (누르면 바로 물어봅니다)", components=["textbox"], samples=[[q] for q in examples] or [[""]],
                    type="values", elem_id="example-questions", samples_per_page=len(examples) or 1,
                )
                with gr.Accordion("설정", open=False, elem_id="settings"):
                    k_slider = gr.Slider(1, k_max, value=k_default, step=1, label="찾아볼 구절 수",
                                         info=f"답을 고를 때 살펴볼 구절 개수 (최대 {k_max})",
                                         interactive=k_max > 1, elem_id="k")
                    mode_radio = gr.Radio(MODE_CHOICES, value="hybrid", label="검색 방식",
                                          info="하이브리드: 키워드와 의미를 함께 · 키워드: 낱말 일치 · 의미: 뜻이 비슷한 구절",
                                          elem_id="mode")
                    show_scores = gr.Checkbox(False, label="점수 보기", info="구절별 검색 점수와 근거 일치도를 표시합니다",
                                              elem_id="show-scores")
                with gr.Accordion(_docs_label(retriever), open=False, elem_id="documents") as docs_box:
                    docs_list = gr.HTML(_docs_list_html(retriever), elem_id="doc-list")
                    if problem:
                        gr.HTML(f'<p class="muted">{esc(problem)}</p>', elem_id="upload-problem")
                    with gr.Group(visible=uploads, elem_id="upload-panel"):
                        upload_box = gr.File(label="문서 추가", file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                                             type="filepath", elem_id="upload", height=120)
                        gr.HTML(f'<p class="muted upload-hint">{esc(upload_hint())}</p>', js_on_load=UPLOAD_JS)
                        upload_status = gr.HTML("", elem_id="upload-status")
                        with gr.Row(equal_height=True):
                            remove_choice = gr.Dropdown(choices=upload_choices(retriever) if uploads else [], value=None,
                                                        label="올린 문서", elem_id="upload-choice", scale=4,
                                                        interactive=True)
                            remove_btn = gr.Button("삭제", variant="stop", elem_id="remove-upload", scale=1,
                                                   min_width=80)
            with gr.Column(scale=5, min_width=320, elem_id="sources-col"):
                sources = gr.HTML(empty_panel_html(len(docs), n_chunks), elem_id="sources-panel", js_on_load=SCROLL_JS)

        chat_inputs = [question, state, k_slider, mode_radio, show_scores]
        chat_outputs = [chatbot, question, sources, state]
        common: dict[str, Any] = {"api_visibility": "private", "show_progress": "minimal"}
        question.submit(respond, chat_inputs, chat_outputs, show_progress_on=[chatbot], **common)
        send.click(respond, chat_inputs, chat_outputs, show_progress_on=[chatbot], **common)
        examples_ds.click(ask_example, [examples_ds, state, k_slider, mode_radio, show_scores], chat_outputs,
                          show_progress_on=[chatbot], **common)
        show_scores.change(rerender, [state, show_scores], [chatbot, sources, state], **common)
        chatbot.select(select_message, [state, show_scores], [sources, state], **common)
        # queued, so that the confirmation reaches the page
        chatbot.like(vote, [state], [feedback_box, feedback_note, reason, state], api_visibility="private",
                     show_progress="hidden")
        reason.submit(send_reason, [reason, state], [feedback_note, reason], api_visibility="private",
                      show_progress="hidden")
        reason_send.click(send_reason, [reason, state], [feedback_note, reason], api_visibility="private",
                          show_progress="hidden")
        chatbot.clear(clear, None, [question, sources, state, feedback_box], **common)
        gr.api(api_ask, api_name="ask")
        documents = [header, docs_box, docs_list, remove_choice, examples_ds, sources]
        if uploads:
            changes: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1,
                                       "concurrency_id": INDEX_CONCURRENCY_ID, "show_progress": "full",
                                       "show_progress_on": [upload_status]}
            upload_box.upload(upload, [upload_box, state, show_scores], [upload_box, upload_status, *documents],
                              **changes)
            remove_btn.click(remove, [remove_choice, state, show_scores], [upload_status, *documents], **changes)
        if follows_rebuilds:  # a page opened after a rebuild shows the documents of the index now served
            demo.load(_documents, [state, show_scores], documents, api_visibility="private", show_progress="hidden")
    demo.korag_feedback = feedback
    # Gradio refuses larger files before any handler runs: 1 MB (nothing to upload) unless uploads are on
    demo.korag_max_file_size = MAX_UPLOAD_BYTES if uploads else MAX_FILE_SIZE
    return demo


def launch_app(demo: gr.Blocks, *, host: str = DEFAULT_HOST, port: int | None = DEFAULT_PORT,
               prevent_thread_lock: bool = False, quiet: bool = False) -> tuple[Any, str, str]:
    """Queue and launch with safe defaults: local address unless ``host``, no extra file paths, small uploads
    (1 MB; the upload cap when the chat takes documents), no error details to users, bounded concurrency, local
    fonts, the page's script (:data:`PAGE_JS`) and Korean for Gradio's own labels (:data:`I18N`)."""
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo.launch(
        server_name=host or DEFAULT_HOST,
        server_port=port,
        prevent_thread_lock=prevent_thread_lock,
        show_error=False,
        max_file_size=getattr(demo, "korag_max_file_size", MAX_FILE_SIZE),
        share=False,
        inbrowser=False,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        footer_links=["api"],
        theme=THEME,
        css=CSS,
        js=PAGE_JS,
        i18n=I18N,
    )
