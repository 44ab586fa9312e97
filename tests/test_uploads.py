"""Documents added from the chat (indexer.uploads, ui.uploads): safe names, the size cap, the uploads folder
beside the index, incremental indexing with the corpus, removal, Korean messages.

The naming and storage tests are fast; the indexing tests build a small index with the bundled use-m3 model.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

import pytest

from indexer import KoragError, build_index, load_corpus
from indexer.errors import CorpusError
from indexer.format import read_manifest
from indexer.uploads import (
    MAX_NAME_BYTES,
    MAX_NAME_CHARS,
    MAX_UPLOAD_BYTES,
    UPLOAD_PREFIX,
    EmptyUpload,
    UnsupportedUpload,
    UploadError,
    UploadTooLarge,
    add_upload,
    index_uploads,
    list_uploads,
    load_uploads,
    remove_upload,
    safe_name,
    upload_name,
    uploads_dir,
)
from ui.uploads import UploadOutcome, skip_message

REPO = Path(__file__).resolve().parents[1]
CORPUS_FILE = REPO / "corpus" / "2021-06-16_moef_gwangju-ai-cluster-ris-visit.txt"
HWPX = REPO / "tests" / "fixtures" / "formats" / "moef-2024q1-overseas-direct-investment.hwpx"
HWPX_SOURCE = UPLOAD_PREFIX + HWPX.name
QUESTION = "2024년 1분기 해외직접투자액은 얼마야?"


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# ------------------------------------------------------------------------------------------- names
def test_uploads_dir_is_the_sibling_of_the_index(tmp_path: Path) -> None:
    assert uploads_dir(tmp_path / "index") == tmp_path / "index.uploads"
    assert uploads_dir(str(tmp_path / "index") + "/") == tmp_path / "index.uploads"
    assert uploads_dir(".").name.endswith(".uploads") and uploads_dir(".").parent == Path.cwd().parent


@pytest.mark.parametrize(("given", "stored"), [
    ("../../evil.txt", "evil.txt"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    ("/etc/cron.d/x.html", "x.html"),
    ("a\x00b.txt", "ab.txt"),
    ("..hidden.md", "hidden.md"),
    ("보고서.HWPX", "보고서.hwpx"),
    (unicodedata.normalize("NFD", "한글 문서.pdf"), "한글 문서.pdf"),
    ("a<b>:c?\t d.docx", "a_b__c_ d.docx"),
    ("invoice\u202etxt.md", "invoicetxt.md"),  # a right-to-left override cannot disguise the suffix
    ("  trailing dots... .txt", "trailing dots.txt"),
    ("?.txt", "_.txt"),
])
def test_safe_name(given: str, stored: str) -> None:
    assert safe_name(given) == stored


@pytest.mark.parametrize("given", ["../../etc/passwd", "x.txt\x00.exe", "a\u202eexe.txt.exe", "..", ".", "", ".txt",
                                   "noext", "archive.zip", "photo.png"])
def test_unsupported_names_are_refused_in_korean(given: str) -> None:
    with pytest.raises(UnsupportedUpload) as ei:
        safe_name(given)
    assert str(ei.value).startswith("지원하지 않는 형식입니다 (")
    assert ".hwpx" in str(ei.value)
    assert isinstance(ei.value, CorpusError) and isinstance(ei.value, KoragError)


@pytest.mark.parametrize("stem", ["가" * 295, "a" * 295, ("가a" * 148)[:295]])
def test_a_300_character_name_is_shortened_keeping_its_suffix(stem: str, tmp_path: Path) -> None:
    given = stem + ".hwpx"
    assert len(given) == 300
    name = safe_name(given)
    assert name.endswith(".hwpx") and name[:-5] == stem[:len(name) - 5]
    assert len(name) <= MAX_NAME_CHARS and len(name.encode("utf-8")) <= MAX_NAME_BYTES
    index = tmp_path / "index"
    first, second = add_upload(index, given, b"x"), add_upload(index, given, b"y")
    assert second == first[:-5] + " (2).hwpx"
    assert all(len(n.encode("utf-8")) < 255 for n in list_uploads(index))


# ------------------------------------------------------------------------------------------- storing
def test_add_upload_stores_beside_the_index_and_nowhere_else(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus)
    before = _tree(tmp_path)
    index = tmp_path / "index"
    hostile = ["../../etc/passwd.txt", "../corpus/evil.txt", "a/../../b.md", "\x00\x00한글.txt", "x\x00y.html", "/abs/z.pdf"]
    names = [add_upload(index, n, f"문서 {i}".encode()) for i, n in enumerate(hostile)]
    assert names == ["passwd.txt", "evil.txt", "b.md", "한글.txt", "xy.html", "z.pdf"]
    assert sorted(names) == list_uploads(index)
    assert _tree(tmp_path) - before == {"index.uploads", "index.uploads/.partial", *(f"index.uploads/{n}" for n in names)}
    assert _tree(corpus) == {CORPUS_FILE.name}
    assert not list((uploads_dir(index) / ".partial").iterdir())  # no temporary file left
    assert (uploads_dir(index) / "evil.txt").read_bytes() == "문서 1".encode()


def test_add_upload_copies_a_file_and_numbers_collisions(tmp_path: Path) -> None:
    index = tmp_path / "index"
    names = [add_upload(index, "보도자료.hwpx", HWPX) for _ in range(3)]
    assert names == ["보도자료.hwpx", "보도자료 (2).hwpx", "보도자료 (3).hwpx"]
    for n in names:
        assert (uploads_dir(index) / n).read_bytes() == HWPX.read_bytes()
    assert add_upload(index, "보도자료 (2).hwpx", b"x") == "보도자료 (2) (2).hwpx"


def test_empty_and_oversized_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for data in (b"", empty):
        with pytest.raises(EmptyUpload, match="빈 파일입니다"):
            add_upload(index, "empty.txt", data)
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:  # sparse: the size is real, the disk space is not taken
        fh.truncate(MAX_UPLOAD_BYTES + 1)
    with pytest.raises(UploadTooLarge) as ei:
        add_upload(index, "big.pdf", big)
    assert str(ei.value) == f"파일이 너무 큽니다 (최대 {MAX_UPLOAD_BYTES // 2**20}MB)" == "파일이 너무 큽니다 (최대 50MB)"
    # a file that grows past the cap while it is copied is stopped there too
    monkeypatch.setattr("indexer.uploads.MAX_UPLOAD_BYTES", 10)
    with pytest.raises(UploadTooLarge):
        add_upload(index, "a.txt", b"x" * 11)
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 5)

    class Growing(os.PathLike[str]):
        def __fspath__(self) -> str:
            if small.stat().st_size < 100:
                small.write_bytes(b"x" * 100)  # grows after the size was looked at
                return str(tmp_path / "small-before.txt")
            return str(small)

    (tmp_path / "small-before.txt").write_bytes(b"x" * 5)
    with pytest.raises(UploadTooLarge):
        add_upload(index, "grown.txt", Growing())
    assert list_uploads(index) == []
    assert not list((uploads_dir(index) / ".partial").iterdir())


def test_remove_upload_takes_only_a_stored_name(tmp_path: Path) -> None:
    index = tmp_path / "index"
    name = add_upload(index, "a.txt", "내용".encode())
    outside = tmp_path / "outside.txt"
    outside.write_text("남의 파일", encoding="utf-8")
    (uploads_dir(index) / "link.txt").symlink_to(outside)
    (uploads_dir(index) / "folder").mkdir()
    for bad in ["../outside.txt", "", ".", "..", ".partial", "a/b.txt", "a.txt\x00", "missing.txt", "link.txt", "folder",
                str(uploads_dir(index) / name)]:
        with pytest.raises(UploadError):
            remove_upload(index, bad)
    assert outside.read_text(encoding="utf-8") == "남의 파일"
    assert list_uploads(index) == [name]  # links and folders are not uploads
    remove_upload(index, name)
    assert list_uploads(index) == []
    assert list_uploads(tmp_path / "no-index") == []


def test_upload_names_of_documents() -> None:
    assert upload_name(HWPX_SOURCE) == HWPX.name
    assert upload_name(CORPUS_FILE.name) is None


def test_load_uploads_prefixes_ids_and_keeps_corpus_documents_first(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "uploads").mkdir(parents=True)
    shutil.copy(CORPUS_FILE, corpus)
    (corpus / "uploads" / "same-path.txt").write_text("코퍼스의 uploads 폴더에 있는 문서입니다.", encoding="utf-8")
    index = tmp_path / "index"
    assert load_uploads(index) == ([], [])  # no folder yet
    add_upload(index, "new.txt", "새로 올린 문서입니다. 광주 인공지능 집적단지와 상관없는 내용입니다.".encode())
    add_upload(index, "copy.txt", CORPUS_FILE.read_bytes())  # the corpus has the same text
    add_upload(index, "same-path.txt", "이름만 같은 문서입니다.".encode())
    add_upload(index, "binary.txt", b"\x7fELF\x02\x01\x01" + bytes(200))
    docs, _ = load_corpus(corpus, progress=False)
    uploaded, not_indexed = load_uploads(index, docs)
    assert [d.id for d in uploaded] == [d.source for d in uploaded] == ["uploads/new.txt"]
    reasons = {s.source: s.reason for s in not_indexed}
    assert set(reasons) == {"uploads/copy.txt", "uploads/same-path.txt", "uploads/binary.txt"}
    assert reasons["uploads/copy.txt"] == f"same text as {CORPUS_FILE.name} (duplicate)"
    assert skip_message(reasons["uploads/copy.txt"]) == f"이미 같은 내용의 문서가 있습니다 ({CORPUS_FILE.name})"
    assert skip_message(reasons["uploads/binary.txt"]).startswith("읽을 수 없는 파일입니다: ")
    # the uploads folder given as the corpus is read once, as the corpus
    assert load_uploads(index, corpus_dir=uploads_dir(index)) == ([], [])


def test_outcome_html_is_escaped() -> None:
    html = UploadOutcome(added=["<b>a</b>.txt"], errors=["<script>x</script>.exe: 지원하지 않는 형식입니다"]).html()
    assert "<script>" not in html and "<b>a" not in html and "&lt;script&gt;" in html
    assert UploadOutcome().html() == ""


# ------------------------------------------------------------------------------------------- indexing
@pytest.fixture(scope="module")
def base_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-document corpus and its index (bundled use-m3), to copy."""
    root = tmp_path_factory.mktemp("uploads-base")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus)
    build_index(corpus, root / "index", model="use-m3", progress=False)
    return corpus, root / "index"


@pytest.fixture
def small_index(base_index: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    corpus, index = base_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


@pytest.mark.slow
def test_an_uploaded_hwpx_is_indexed_incrementally_found_and_removed(small_index: tuple[Path, Path]) -> None:
    from indexer.__main__ import main as indexer_main
    from retriever import Retriever

    corpus, index = small_index
    corpus_before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    name = add_upload(index, HWPX.name, HWPX)
    report = index_uploads(corpus, index)
    assert report.uploads == 1 and "(1 uploaded)" in report.summary()
    assert (report.update.added, report.update.reused, report.update.removed) == (1, 1, 0)
    manifest = read_manifest(index)
    assert manifest["model"]["id"] == "use-m3" and manifest["model"]["default"] is False  # built as it was
    assert HWPX_SOURCE in manifest["corpus"]["files"]
    r = Retriever.load(index)
    assert r.docs[HWPX_SOURCE]["source"] == HWPX_SOURCE
    hits = r.search("2024년 1분기 해외직접투자액", k=3)
    assert hits[0].source == HWPX_SOURCE and hits[0].doc_id == HWPX_SOURCE
    assert r.ask(QUESTION).citations[0].source == HWPX_SOURCE
    # `python -m indexer` keeps the uploads: nothing changed, nothing rebuilt
    assert indexer_main([str(corpus), "--out", str(index), "--model", "use-m3", "-q"]) == 0
    assert HWPX_SOURCE in read_manifest(index)["corpus"]["files"]
    remove_upload(index, name)
    report = index_uploads(corpus, index)
    assert (report.update.removed, report.update.added, report.uploads) == (1, 0, 0)
    r = Retriever.load(index)
    assert HWPX_SOURCE not in r.docs
    assert all(h.source != HWPX_SOURCE for h in r.search("2024년 1분기 해외직접투자액", k=5))
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == corpus_before  # the corpus was never written


@pytest.mark.slow
def test_chat_upload_functions(small_index: tuple[Path, Path], tmp_path: Path) -> None:
    """ui.uploads.add_files / remove_files with a LiveRetriever: the next question already uses the new index;
    bad files are reported in Korean and never left in the uploads folder."""
    from retriever.live import LiveRetriever
    from ui.uploads import add_files, remove_files, upload_choices, upload_problem

    corpus, index = small_index
    live = LiveRetriever(index, check_interval=0.5)
    assert upload_problem(live, corpus) is None
    assert upload_problem(live, tmp_path / "missing") is not None
    other = tmp_path / "other-corpus"
    other.mkdir()
    (other / "x.txt").write_text("다른 문서 폴더입니다.", encoding="utf-8")
    assert "다른 문서 폴더" in (upload_problem(live, other) or "")
    files = tmp_path / "picked"
    files.mkdir()
    shutil.copy(HWPX, files)
    (files / "setup.exe").write_bytes(b"MZ" + bytes(100))
    (files / "empty.txt").write_bytes(b"")
    (files / "garbage.txt").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(300))
    shutil.copy(CORPUS_FILE, files / "copy-of-corpus.txt")
    steps: list[tuple[float, str]] = []
    out = add_files(live, corpus, sorted(files.iterdir()), lambda f, d: steps.append((f, d)))
    assert out.added == [HWPX.name], out
    errors = "\n".join(out.errors)
    assert "setup.exe: 지원하지 않는 형식입니다 (.exe)" in errors
    assert "empty.txt: 빈 파일입니다" in errors
    assert "garbage.txt: 읽을 수 없는 파일입니다: binary file" in errors
    assert f"copy-of-corpus.txt: 이미 같은 내용의 문서가 있습니다 ({CORPUS_FILE.name})" in errors
    assert "Traceback" not in errors and not out.note
    assert list_uploads(index) == [HWPX.name]  # the skipped ones were removed again
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1][0] >= 0.9
    # the very next question is answered from the new index
    assert HWPX_SOURCE in live.current().docs
    assert live.current().ask(QUESTION).citations[0].source == HWPX_SOURCE
    assert upload_choices(live.current()) == [(f"{live.current().docs[HWPX_SOURCE]['title']} ({HWPX.name})", HWPX.name)]
    out = remove_files(live, corpus, [HWPX.name])
    assert out.removed == [HWPX.name] and not out.errors
    assert HWPX_SOURCE not in live.current().docs and list_uploads(index) == []
    assert all(h.source != HWPX_SOURCE for h in live.current().ask(QUESTION).citations)
    out = remove_files(live, corpus, ["../corpus/" + CORPUS_FILE.name])
    assert out.errors and not out.removed and (corpus / CORPUS_FILE.name).is_file()
