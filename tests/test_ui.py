"""The chat app over a real index of corpus/: the /ask API through gradio_client, rendering, feedback, CLI.

One index build and one app launch per module.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("gradio_client")

from conftest import chat_client, launch_local

from indexer import build_index
from retriever import Retriever
from retriever.core import Answer, Hit
from ui.app import (
    MSG_EMPTY,
    MSG_HISTORY,
    MSG_TOO_LONG,
    UserInputError,
    add_answer,
    ask_answer,
    create_app,
    example_questions,
    feedback_note_html,
    parse_history,
    vote_name,
)
from ui.feedback import FeedbackLog, default_feedback_path, feedback_record
from ui.render import (
    CLOSEST,
    NOT_FOUND,
    RELATED,
    answer_message_html,
    answer_parts,
    answer_plain_text,
    card_id,
    esc,
    question_counter_html,
    sources_panel_html,
    used_citations,
    user_message_html,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
QA = {item["id"]: item for item in map(json.loads, (REPO / "eval" / "qa.jsonl").read_text(encoding="utf-8").splitlines()) if item}

# answerable eval questions the retriever gets right (document and answer string)
GOOD = ["q001", "q028", "q029", "q050", "q063", "q065", "q075", "q077"]




@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ui") / "index"
    build_index(REPO / "corpus", out, progress=False)
    return out


@pytest.fixture(scope="module")
def retriever(index_dir: Path) -> Retriever:
    return Retriever.load(index_dir)


@pytest.fixture(scope="module")
def server(retriever: Retriever, index_dir: Path):
    feedback = index_dir.parent / "feedback.jsonl"
    demo = create_app(retriever, feedback_path=feedback)
    url = launch_local(demo)
    yield url, demo
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    return chat_client(server[0])


# ------------------------------------------------------------------------------------------------ /ask
@pytest.mark.parametrize("qid", GOOD)
def test_ask_cites_the_right_document(client, retriever: Retriever, qid: str) -> None:
    item = QA[qid]
    res = client.predict(item["question"], api_name="/ask")
    assert res["citations"], res
    assert res["citations"][0]["source"] == item["doc"]
    assert isinstance(res["found"], bool)
    # the first cited passage holds the expected answer; the answer sentence does whenever the retriever
    # picks it (the API passes the retriever's answer through unchanged)
    assert item["answer"] in res["answer"] + res["citations"][0]["text"]
    direct = retriever.ask(item["question"])
    assert res["answer"] == direct.text and res["found"] == direct.found
    assert [c["chunk_id"] for c in res["citations"]] == [h.chunk_id for h in direct.citations]
    if item["answer"] in direct.text:
        assert item["answer"] in res["answer"]


def test_ask_answers_with_the_expected_sentence(client) -> None:
    hits = [qid for qid in GOOD if QA[qid]["answer"] in client.predict(QA[qid]["question"], api_name="/ask")["answer"]]
    assert len(hits) >= 3, hits


def test_ask_structure(client, retriever: Retriever) -> None:
    res = client.predict(QA["q001"]["question"], api_name="/ask")
    assert set(res) >= {"question", "answer", "found", "confidence", "citations", "highlights", "k", "mode"}
    assert res["k"] == 5 and res["mode"] == "hybrid"
    assert isinstance(res["confidence"], float) and 0.0 <= res["confidence"] <= 1.0
    assert 1 <= len(res["citations"]) <= 5
    json.dumps(res)  # JSON-able
    for c in res["citations"]:
        assert set(c) >= {"text", "score", "doc_id", "title", "source", "start", "end", "chunk_id", "scores", "meta"}
        assert retriever.docs[c["doc_id"]]["text"][c["start"]:c["end"]] == c["text"]
        assert {"publisher", "date"} <= set(c["meta"])
    assert res["highlights"]
    for ci, s, e in res["highlights"]:
        c = res["citations"][ci]
        assert c["start"] <= s < e <= c["end"]
        assert retriever.docs[c["doc_id"]]["text"][s:e] in res["answer"]


def test_ask_settings(client, retriever: Retriever) -> None:
    q = QA["q063"]["question"]
    res = client.predict(q, 2, "bm25", api_name="/ask")
    assert res["k"] == 2 and res["mode"] == "bm25" and 1 <= len(res["citations"]) <= 2
    res = client.predict(q, 3, "semantic", api_name="/ask")
    assert res["mode"] == "dense" and len(res["citations"]) <= 3
    res = client.predict(q, 10_000, "hybrid", api_name="/ask")  # clamped to the index size
    assert res["k"] == len(retriever)
    res = client.predict(q, 0, "hybrid", api_name="/ask")
    assert res["k"] == 1 and len(res["citations"]) == 1
    with pytest.raises(Exception) as ei:
        client.predict(q, 5, "nonsense", api_name="/ask")
    assert "검색 방식" in str(ei.value) and "Traceback" not in str(ei.value)


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_a_friendly_error(client, question: str) -> None:
    with pytest.raises(Exception) as ei:
        client.predict(question, api_name="/ask")
    msg = str(ei.value)
    assert "질문" in msg
    for leak in ("Traceback", "ValueError", "File \"", "retriever"):
        assert leak not in msg


def test_script_question_does_not_break(client) -> None:
    q = "<script>alert(1)</script> **광주** AI 집적단지 2022년 예산 얼마야?"
    res = client.predict(q, api_name="/ask")
    assert res["citations"] and res["citations"][0]["source"] == QA["q001"]["doc"]
    assert "<script>" in res["question"]  # JSON carries the text as is; the page escapes it
    html = user_message_html(res["question"])
    assert "<script" not in html and "&lt;script&gt;" in html and "**" not in html


def test_only_ask_is_public(client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/ask"}
    assert not api["unnamed_endpoints"]


def test_safe_launch_settings(server) -> None:
    _, demo = server
    assert demo.server_name == "127.0.0.1"
    assert demo.show_error is False
    assert demo.max_file_size == 1024 * 1024
    assert not demo.allowed_paths
    assert demo._queue.default_concurrency_limit == 4


# ------------------------------------------------------------------------------------------- rendering
NASTY = "앞 문장입니다. <script>alert('x')</script> **굵게** [링크](http://evil.example) $x^2$ `코드` # 제목\n끝 문장."


def _answer(found: bool) -> tuple[Answer, dict]:
    doc_text = "머리말.\n" + NASTY + "\n꼬리말."
    start = doc_text.index("앞")
    end = start + len(NASTY)
    hit = Hit(text=doc_text[start:end], score=0.9, doc_id="d1", title="<b>제목</b> *별*", source="d1.txt",
              start=start, end=end, chunk_id="d1#0", scores={"bm25": 3.2, "dense": 0.5, "hybrid": 0.9},
              meta={"publisher": "<i>기관</i>", "date": "2025-01-01", "note": "메모 'x' & \"y\""})
    s = doc_text.index("<script>")
    e = doc_text.index("끝")
    answer = Answer("<script>질문</script>?", doc_text[s:e], [hit], found, 0.8 if found else 0.1, [(0, s, e)])
    return answer, {"d1": {"id": "d1", "source": "d1.txt", "title": hit.title, "meta": hit.meta, "text": doc_text}}


@pytest.mark.parametrize("found", [True, False])
def test_rendering_is_literal(found: bool) -> None:
    answer, docs = _answer(found)
    for html in (answer_message_html(answer, docs, show_scores=True), sources_panel_html(answer, docs, show_scores=True)):
        assert "<script" not in html and "<b>" not in html and "<i>" not in html
        for md in ("**", "](", "$x", "`", "&#x27;", "&amp;#"):
            assert md not in html
        assert "\n\n" not in html  # no blank line: the chatbot keeps it one HTML block
    panel = sources_panel_html(answer, docs)
    assert "&lt;script&gt;" in panel and "&lt;b&gt;제목&lt;/b&gt;" in panel
    assert "원문 보기" in panel and "꼬리말" in panel  # the whole document
    assert "문서 " in panel and "번째 글자" in panel
    if found:
        assert "<mark>&lt;script&gt;" in panel
        assert f'<a class="cite" href="#{card_id("a", 0)}"' in answer_message_html(answer, docs)
        assert f'id="{card_id("a", 0)}"' in panel
        assert "&lt;script&gt;" in answer_message_html(answer, docs)
    else:
        assert NOT_FOUND in answer_message_html(answer, docs) and CLOSEST in answer_message_html(answer, docs)
        assert NOT_FOUND in panel and CLOSEST in panel and "<mark>" not in panel


def test_real_answer_rendering(retriever: Retriever) -> None:
    answer = retriever.ask(QA["q028"]["question"])
    panel = sources_panel_html(answer, retriever.docs, show_scores=True)
    hit = answer.citations[0]
    assert esc(hit.title) in panel and "<mark>" in panel and "점수" in panel
    assert f"문서 {hit.start + 1:,}–{hit.end:,}번째 글자" in panel


def test_ask_answer_input_checks(retriever: Retriever) -> None:
    from ui.app import UserInputError

    for bad in ("", "  ", None, 3):
        with pytest.raises(UserInputError) as ei:
            ask_answer(retriever, bad)
        assert str(ei.value) == MSG_EMPTY
    answer, k, mode = ask_answer(retriever, QA["q001"]["question"], k="7", mode="키워드")
    assert (k, mode) == (7, "bm25") and answer.citations


def test_example_questions_come_from_the_eval_set(retriever: Retriever, tmp_path: Path) -> None:
    answerable = {i["question"] for i in QA.values() if i["answer"]}
    qs = example_questions(retriever)
    assert 3 <= len(qs) <= 6 and set(qs) <= answerable
    assert set(example_questions()) <= answerable
    # no eval file (or no eval question about these documents): no examples
    assert example_questions(retriever, qa_path=tmp_path / "missing.jsonl") == []


# -------------------------------------------------------------------------------------------- feedback
def test_feedback_appends_json_lines(tmp_path: Path, retriever: Retriever) -> None:
    path = tmp_path / "sub" / "feedback.jsonl"
    fb = FeedbackLog(path)
    answer = retriever.ask(QA["q001"]["question"]).to_json()

    def worker(n: int) -> None:
        for i in range(25):
            assert fb.append(feedback_record(answer, "up" if (n + i) % 2 else "down", mode="hybrid", k=5))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200
    for line in lines:
        rec = json.loads(line)
        assert rec["vote"] in ("up", "down") and rec["question"] == answer["question"]
        assert rec["answer"] == answer["answer"] and rec["time"]
        assert rec["citations"][0] == {k: answer["citations"][0][k] for k in ("source", "doc_id", "start", "end")}


def test_feedback_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "a-directory"
    target.mkdir()
    assert FeedbackLog(target).append({"vote": "up"}) is False
    assert "feedback" in caplog.text


def test_feedback_file_is_beside_the_index(index_dir: Path, retriever: Retriever) -> None:
    path = default_feedback_path(index_dir)
    assert path == index_dir.resolve().parent / "feedback.jsonl"
    assert not path.resolve().is_relative_to(index_dir.resolve())
    demo = create_app(retriever, examples=[])
    assert demo.korag_feedback.path == path


# ------------------------------------------------------------------------------------------------- CLI
def test_main_builds_a_missing_index_then_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.__main__ as cli
    import ui.app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("광주 인공지능 집적단지의 2022년 예산은 1,076억원이다.\n사업은 5년 동안 진행된다.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("AX 실증산단 공모는 6월 17일부터 시작한다.\n설명회는 6월 20일에 열린다.\n", encoding="utf-8")
    calls = []
    monkeypatch.setattr(ui.app, "launch_app", lambda demo, **kw: calls.append(kw))
    index = tmp_path / "index"
    assert cli.main(["--index", str(index), "--corpus", str(corpus), "--port", "7999"]) == 0
    assert (index / "manifest.json").is_file()
    assert calls == [{"host": "127.0.0.1", "port": 7999, "quiet": True}]
    # an index in an older format is rebuilt, not refused
    import json

    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    (index / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}), encoding="utf-8")
    assert cli.main(["--index", str(index), "--corpus", str(corpus), "--port", "7999"]) == 0
    assert json.loads((index / "manifest.json").read_text(encoding="utf-8"))["format_version"] == manifest["format_version"]
    assert len(calls) == 2
    # an index built by an earlier default (use-m3, manifest without "default") is rebuilt with today's default;
    # one built with a model named on purpose is kept
    from indexer import build_index
    from indexer.format import read_manifest

    build_index(corpus, index, model="use-m3", progress=False)
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["default"] is False
    assert cli.main(["--index", str(index), "--corpus", str(corpus)]) == 0
    assert read_manifest(index)["model"]["id"] == "use-m3"
    del manifest["model"]["default"]
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert cli.main(["--index", str(index), "--corpus", str(corpus)]) == 0
    assert read_manifest(index)["model"] == {"id": "e5-small", "dim": 384, "normalized": True, "default": True}
    assert cli.main(["--index", str(index), "--corpus", str(corpus), "--model", "use-m3"]) == 0
    assert read_manifest(index)["model"]["id"] == "use-m3"
    assert len(calls) == 5
    # an existing folder that is not an index is left alone
    other = tmp_path / "not-an-index"
    other.mkdir()
    (other / "keep.txt").write_text("x", encoding="utf-8")
    assert cli.main(["--index", str(other), "--corpus", str(corpus)]) == 2
    assert (other / "keep.txt").read_text(encoding="utf-8") == "x"


# ----------------------------------------------------------------------------- conversations (issue #16)
FOLLOW_UP = ["광주 AI 집적단지 사업의 2022년 예산은 얼마야?", "그 사업은 언제까지 진행돼?"]
GWANGJU = "2022_msit-gwangju_ai-cluster-2022-plan.txt"


def test_parse_history() -> None:
    assert parse_history(None) == parse_history([]) == parse_history("") == []
    assert parse_history(["  광주   예산은? ", "", {"role": "assistant", "content": "1,076억원"}, {"content": "그 사업은?"},
                          {"role": "user", "content": "언제까지?"}, {"role": "system", "content": "x"}]) == [
        "광주 예산은?", "그 사업은?", "언제까지?"]
    assert parse_history(json.dumps(["광주 예산은?"], ensure_ascii=False)) == ["광주 예산은?"]
    assert parse_history(["가" * 5000]) == ["가" * 1000]
    assert parse_history([str(i) for i in range(50)]) == [str(i) for i in range(30, 50)]
    for bad in ("광주 예산은?", 3, {"role": "user", "content": "x"}, [1, 2], [["x"]], [{"role": "bot", "content": "x"}],
                [{"role": "user", "content": 3}], [{"role": "user"}], "{not json"):
        with pytest.raises(UserInputError) as ei:
            parse_history(bad)
        assert str(ei.value).startswith(MSG_HISTORY)


def test_ask_answer_reads_the_history(retriever: Retriever) -> None:
    alone, _, _ = ask_answer(retriever, FOLLOW_UP[1])
    follow, _, _ = ask_answer(retriever, FOLLOW_UP[1], history=FOLLOW_UP[:1])
    assert alone.context_note is None
    assert follow.context_note and "기준으로 찾았습니다" in follow.context_note
    assert GWANGJU in [follow.citations[i].source for i in follow.used]
    with pytest.raises(UserInputError) as ei:
        ask_answer(retriever, "가" * 1001)
    assert str(ei.value) == MSG_TOO_LONG
    answer, _, _ = ask_answer(retriever, "가" * 999 + "?")  # at the limit: answered
    assert answer.question


def test_ask_api_takes_a_history(client) -> None:
    res = client.predict(FOLLOW_UP[1], api_name="/ask", history=FOLLOW_UP[:1])
    assert "기준으로 찾았습니다" in (res["context_note"] or "")
    assert GWANGJU in [res["citations"][i]["source"] for i in res["used"]]
    assert set(res) >= {"direct", "direct_span", "kind", "context_note", "used", "resolved_question"}
    messages = [{"role": "user", "content": FOLLOW_UP[0]}, {"role": "assistant", "content": "1,076억원"}]
    assert client.predict(FOLLOW_UP[1], 5, "hybrid", messages, api_name="/ask")["context_note"] == res["context_note"]
    assert client.predict(FOLLOW_UP[1], api_name="/ask")["context_note"] is None
    for bad in ([1, 2], [{"role": "bot", "content": "x"}], "{not json"):
        with pytest.raises(Exception) as ei:
            client.predict(FOLLOW_UP[1], api_name="/ask", history=bad)
        assert "대화 기록" in str(ei.value) and "Traceback" not in str(ei.value)
    with pytest.raises(Exception) as ei:
        client.predict("가" * 1001, api_name="/ask")
    assert "1,000자" in str(ei.value) and "Traceback" not in str(ei.value)
    api = client.view_api(print_info=False, return_format="dict")
    assert "history" in [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]]


def _shaped(kind: str) -> tuple[Answer, dict]:
    """An answer of ``kind`` over one document of three sentences, citing passages 0 and 1 of 3."""
    doc = "광주 사업의 올해 예산은 1,076억원이다.\n사업은 2024년까지 진행된다.\n<b>부산</b>은 없다."
    s1, s2 = (0, doc.index("\n")), (doc.index("사업은"), doc.index("\n사업은") + 1 + len("사업은 2024년까지 진행된다."))
    hits = [Hit(text=doc[a:b], score=1.0 - i / 10, doc_id="d", title=f"제목 {i}", source="d.txt", start=a, end=b,
                chunk_id=f"d#{i}", meta={"publisher": "기관", "date": "2022"})
            for i, (a, b) in enumerate([s1, s2, (0, len(doc))])]
    one, two = doc[s1[0]:s1[1]], doc[s2[0]:s2[1]]
    if kind == "factoid":
        text = f"1,076억원\n{one} {two}"
        d = doc.index("1,076억원")
        answer = Answer("예산은?", text, hits, True, 0.9, [(0, *s1), (1, *s2)], direct="1,076억원",
                        direct_span=(0, d, d + len("1,076억원")), kind="factoid", used=[0, 1])
    elif kind == "digest":
        answer = Answer("어디에 쓰여?", f"• {one}\n• {two}", hits, True, 0.9, [(0, *s1), (1, *s2)], kind="digest", used=[0, 1])
    else:
        text = f"{NOT_FOUND}. 찾은 구절에는 ‘부산’에 관한 내용이 없습니다.\n{RELATED}:\n• {one}\n• {two}"
        answer = Answer("부산 예산은?", text, hits, False, 0.1, [(0, *s1), (1, *s2)], kind="not_found", used=[0, 1],
                        context_note="광주 기준으로 찾았습니다")
    return answer, {"d": {"id": "d", "source": "d.txt", "title": "제목", "meta": {}, "text": doc}}


def test_answer_shapes() -> None:
    factoid, docs = _shaped("factoid")
    html = answer_message_html(factoid, docs, anchor="m1")
    assert html.index('<div class="ans-direct"><strong>1,076억원</strong>') < html.index('<div class="ans-text">')
    assert '<strong class="ans-direct-in">1,076억원</strong>' in html
    assert html.count('href="#korag-src-m1-1"') == 2 and html.count('href="#korag-src-m1-2"') == 2  # text, list
    assert "kind-factoid" in html and "\n" not in html
    # only the used passages as sources; the third under "더 보기"
    assert html.index('href="#korag-src-m1-3"') > html.index('<details class="ans-more">')
    panel = sources_panel_html(factoid, docs, anchor="m1")
    assert 'id="korag-src-m1-1"' in panel and 'id="korag-src-m1-2"' in panel
    assert panel.index('id="korag-src-m1-3"') > panel.index('<details class="src-more">')
    assert "근거 구절 2개" in panel

    digest, docs = _shaped("digest")
    parts = answer_parts(digest, docs)
    assert parts.bullets and len(parts.lines) == 2 and parts.lines[0][0].cite == 0
    html = answer_message_html(digest, docs)
    items = html.split('<ul class="ans-list">')[1].split("</ul>")[0].split("<li>")[1:]
    assert len(items) == 2 and all('class="cite"' in li for li in items) and "•" not in html.split("ans-sources")[0]

    missing, docs = _shaped("not_found")
    html = answer_message_html(missing, docs)
    assert html.index('<div class="ans-context">광주 기준으로 찾았습니다</div>') < html.index('class="ans-notfound"')
    assert "‘부산’에 관한 내용이 없습니다" in html.split('class="ans-notfound"')[1].split("</div>")[0]
    assert html.index('class="ans-notfound"') < html.index(RELATED) < html.index('<ul class="ans-list ans-related">')
    assert CLOSEST in html and "<mark>" not in sources_panel_html(missing, docs)


def test_plain_text_copy() -> None:
    factoid, docs = _shaped("factoid")
    text = answer_plain_text(factoid, docs)
    assert text.splitlines()[:3] == ["질문: 예산은?", "1,076억원", "광주 사업의 올해 예산은 1,076억원이다. [1] 사업은 2024년까지 진행된다. [2]"]
    assert "출처\n[1] 제목 0 (1번째 문단 · 기관 · 2022 · d.txt)" in text and "[3]" not in text
    missing, docs = _shaped("not_found")
    lines = answer_plain_text(missing, docs).splitlines()
    assert lines[1] == "(광주 기준으로 찾았습니다)" and lines[2].startswith(NOT_FOUND) and lines[3] == f"{RELATED}:"
    assert lines[4].startswith("• 광주") and lines[4].endswith("[1]")
    html = answer_message_html(missing, docs)  # copied from a hidden block, escaped, one HTML line
    assert '<pre class="ans-copytext" hidden>' in html and "&lt;b&gt;" not in html.split("ans-copytext")[0]


def test_used_citations_of_an_answer_without_them() -> None:
    answer, _ = _answer(True)
    assert answer.used == [] and used_citations(answer) == [0]
    bare = Answer("q", "t", answer.citations, True, 0.5, [])
    assert used_citations(bare) == [0] and used_citations(Answer("q", "t", answer.citations, False, 0.1, [])) == []


def test_session_state_and_feedback_notes(retriever: Retriever) -> None:
    state = {"messages": [], "answers": {}, "current": None, "history": [], "vote": None}
    for q in FOLLOW_UP:
        answer, k, mode = ask_answer(retriever, q, history=state["history"])
        state = add_answer(state, q, answer, k, mode, retriever.docs, False)
    assert state["history"] == FOLLOW_UP and state["current"] == 3 and sorted(state["answers"]) == [1, 3]
    assert 'href="#korag-src-m3-1"' in state["messages"][3]["content"]
    assert (vote_name(True), vote_name(False), vote_name(None), vote_name("Like")) == ("up", "down", "cleared", "Like")
    assert "기록했습니다" in feedback_note_html("up", True) and "👍" in feedback_note_html("up", True)
    assert "이유도" in feedback_note_html("down", True, reason=True)
    assert "저장하지 못했습니다" in feedback_note_html("up", False)
    assert "1,000자" in question_counter_html(1000)
