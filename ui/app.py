"""The Gradio chat: Korean questions in, cited answer sentences out, with a source panel and an API.

>>> from retriever import Retriever
>>> from ui.app import create_app, launch_app
>>> demo = create_app(Retriever.load("index"))                     # doctest: +SKIP
>>> launch_app(demo, port=7860)                                    # doctest: +SKIP

With a :class:`retriever.LiveRetriever` and the corpus folder it was built from, the document panel also takes
uploads (``create_app(LiveRetriever("index"), corpus="corpus")``, as ``python -m ui`` does; see :mod:`ui.uploads`).

API: ``gradio_client.Client(url).predict("질문", api_name="/ask")`` (optional ``k``, ``mode``) returns
:func:`ask_json`'s dict, i.e. ``Answer.to_json()`` plus ``"k"`` and ``"mode"``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr

from indexer.ingest import SUPPORTED_SUFFIXES
from indexer.uploads import MAX_UPLOAD_BYTES, upload_name
from retriever import MODES, EmptyQueryError

from .feedback import FeedbackLog, default_feedback_path, feedback_record
from .render import (
    answer_message_html,
    empty_panel_html,
    esc,
    fmt_int,
    sources_panel_html,
    user_message_html,
)
from .uploads import add_files, remove_files, upload_choices, upload_hint, upload_problem

__all__ = [
    "CONCURRENCY_LIMIT",
    "CSS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_FILE_SIZE",
    "MSG_EMPTY",
    "MSG_FAILED",
    "MSG_MODE",
    "THEME",
    "UserInputError",
    "ask_answer",
    "ask_json",
    "create_app",
    "example_questions",
    "launch_app",
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


def ask_answer(retriever: Any, question: Any, k: Any = DEFAULT_K, mode: Any = "hybrid") -> tuple[Any, int, str]:
    """``(Answer, k, mode)`` for a raw question and settings; :class:`UserInputError` for bad input.

    ``k`` is clamped to 1..number of passages in the index; ``mode`` also accepts keyword/semantic and the
    Korean labels. Other failures propagate (callers log them and show :data:`MSG_FAILED`).
    """
    if not isinstance(question, str) or not question.strip():
        raise UserInputError(MSG_EMPTY)
    m = _normalise_mode(mode)
    kk = _clamp_k(k, len(retriever))
    try:
        answer = retriever.ask(question, k=kk, mode=m)
    except EmptyQueryError:  # e.g. only control or zero-width characters
        raise UserInputError(MSG_EMPTY) from None
    return answer, kk, m


def ask_json(retriever: Any, question: Any, k: Any = DEFAULT_K, mode: Any = "hybrid") -> dict[str, Any]:
    """The ``/ask`` API result: ``Answer.to_json()`` plus the ``k`` and ``mode`` actually used."""
    answer, kk, m = ask_answer(retriever, question, k, mode)
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
    return {"messages": [], "answers": {}, "current": None}


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
        rec = state["answers"].get(cur) if cur is not None else None
        if rec is None:
            r = _current(retriever)
            return empty_panel_html(len(r.docs), len(r))
        return sources_panel_html(rec["answer"], rec.get("docs", docs), show_scores=bool(show_scores))

    def respond(question: str, state: dict[str, Any] | None, k: float, mode: str, show_scores: bool):
        state = state or _new_state()
        # in the chat a bad question is a notice, not an error: an error would blank the conversation
        r = _current(retriever)  # the index that answers this request, even if a rebuild lands meanwhile
        try:
            answer, kk, m = ask_answer(r, question, k, mode)
        except UserInputError as exc:
            gr.Warning(str(exc), title=MSG_TITLE)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except Exception:
            log.exception("answering %r failed", question if isinstance(question, str) else type(question))
            gr.Warning(MSG_FAILED, title=MSG_TITLE)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        messages = list(state["messages"])
        messages.append({"role": "user", "content": user_message_html(answer.question)})
        messages.append({"role": "assistant",
                         "content": answer_message_html(answer, r.docs, show_scores=bool(show_scores), mode=m)})
        idx = len(messages) - 1
        answers = dict(state["answers"])
        answers[idx] = {"answer": answer, "k": kk, "mode": m, "docs": r.docs}
        new_state = {"messages": messages, "answers": answers, "current": idx}
        return messages, "", _panel(new_state, show_scores), new_state

    def ask_example(sample: Any, state: dict[str, Any] | None, k: float, mode: str, show_scores: bool):
        question = sample[0] if isinstance(sample, (list, tuple)) and sample else sample
        return respond(question if isinstance(question, str) else "", state, k, mode, show_scores)

    def rerender(state: dict[str, Any] | None, show_scores: bool):
        state = state or _new_state()
        messages = list(state["messages"])
        for idx, rec in state["answers"].items():
            if 0 <= idx < len(messages):
                messages[idx] = {"role": "assistant", "content": answer_message_html(
                    rec["answer"], rec.get("docs", docs), show_scores=bool(show_scores), mode=rec["mode"])}
        new_state = dict(state, messages=messages)
        return messages, _panel(new_state, show_scores), new_state

    def select_message(state: dict[str, Any] | None, show_scores: bool, evt: gr.SelectData):
        state = state or _new_state()
        idx = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else None)
        if idx is not None and idx not in state["answers"] and (idx + 1) in state["answers"]:
            idx += 1  # a question: show its answer's sources
        if idx is None or idx not in state["answers"]:
            return gr.skip(), state
        new_state = dict(state, current=idx)
        return _panel(new_state, show_scores), new_state

    def vote(state: dict[str, Any] | None, evt: gr.LikeData):
        try:
            state = state or _new_state()
            idx = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else None)
            rec = state["answers"].get(idx)
            if rec is None:
                return
            liked = evt.liked
            v = "up" if liked is True else "down" if liked is False else (str(liked) if liked else "cleared")
            record = feedback_record(rec["answer"].to_json(), v, mode=rec["mode"], k=rec["k"])
            if feedback.append(record) and v in ("up", "down"):
                gr.Info("의견 고맙습니다. 더 나은 답을 만드는 데 쓰겠습니다.", duration=3, title="피드백")
        except Exception:  # feedback must never break the chat
            log.exception("recording feedback failed")

    def clear():
        r = _current(retriever)
        return "", empty_panel_html(len(r.docs), len(r)), _new_state()

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

    def api_ask(question: str, k: int = DEFAULT_K, mode: str = "hybrid") -> dict:
        """Answer a Korean question from the documents, with citations.

        Returns Answer.to_json() plus "k" and "mode": {"question", "answer", "found", "confidence",
        "citations": [{"text", "score", "doc_id", "title", "source", "start", "end", "chunk_id", "scores", "meta"}],
        "highlights": [[citation_index, start, end]], "k", "mode"}.
        """
        try:
            return ask_json(_current(retriever), question, k, mode)
        except UserInputError as exc:
            raise _user_error(str(exc)) from None
        except Exception:
            log.exception("/ask failed")
            raise _user_error(MSG_FAILED) from None

    with gr.Blocks(title="문서 질의응답", analytics_enabled=False) as demo:
        state = gr.State(_new_state())
        header = gr.HTML(_header_html(retriever))
        with gr.Row(equal_height=False):
            with gr.Column(scale=7, min_width=380):
                chatbot = gr.Chatbot(
                    label="대화",
                    elem_id="chat",
                    height=560,
                    sanitize_html=True,
                    render_markdown=True,
                    latex_delimiters=[],
                    line_breaks=False,
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                    placeholder=(
                        "<div style='text-align:center'><b>무엇이든 물어보세요</b><br>"
                        "<span class='muted'>예: 광주 AI 집적단지 2022년 예산 얼마야?</span></div>"
                    ),
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        show_label=False, placeholder="문서에 대해 질문을 입력하고 Enter를 누르세요",
                        elem_id="question", scale=8, lines=1, max_lines=4, max_length=1000, autofocus=True,
                    )
                    send = gr.Button("질문하기", variant="primary", scale=1, min_width=96, elem_id="send")
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
            with gr.Column(scale=5, min_width=320):
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
        chatbot.like(vote, [state], None, queue=False, api_visibility="private")
        chatbot.clear(clear, None, [question, sources, state], **common)
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
    fonts."""
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
    )
