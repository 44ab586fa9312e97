"""The corpus's replacements.tsv: applied at ingestion to the files its globs name, recorded, never written back."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from indexer import build_index
from indexer.format import MANIFEST_FILE
from indexer.ingest import load_corpus
from indexer.replace import apply_replacements, parse_replacements
from retriever import Retriever

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
MOEF = "moef-2024q1-overseas-direct-investment"
SEED_004 = "2025-04-18_msit_ai-supplementary-budget-followup.txt"


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_table_lines_comments_and_malformed_lines() -> None:
    rules, warnings = parse_replacements(
        "# comment\n\nnews/*.txt\t안전 사이트\t인공지능\n*.md\tfoo\t\nbad line without tabs\n*.txt\t\tx\n", "r.tsv")
    assert [(r.glob, r.old, r.new, r.line) for r in rules] == [("news/*.txt", "안전 사이트", "인공지능", 3), ("*.md", "foo", "", 4)]
    assert warnings == ["r.tsv:5: ignored: expected GLOB<TAB>FROM<TAB>TO, found 1 field(s)",
                        "r.tsv:6: ignored: the file pattern and the text to replace must not be empty"]
    assert rules[0].applies_to("news/a.txt") and not rules[0].applies_to("a.txt")


def test_rules_apply_in_order_and_move_offsets() -> None:
    rules, _ = parse_replacements("*\tAB\tX\n*\tX\tYYY\n")
    done = apply_replacements("0AB3AB6", "f.txt", rules)
    assert done.text == "0YYY3YYY6" and done.counts == {"AB → X": 2, "X → YYY": 2}
    # every character outside a replaced span keeps its identity
    assert [done.text[done.offset(i)] for i in (0, 3, 6)] == ["0", "3", "6"]
    assert done.offset(2) == 1  # inside the first "AB": where its replacement starts
    assert apply_replacements("0AB3", "other.md", parse_replacements("*.txt\tAB\tX\n")[0]).counts == {}


def test_corpus_text_is_repaired_only_where_the_glob_says(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "news" / "a.txt").write_text("국가안전 사이트위원회가 열렸다. 안전 사이트 반도체를 키운다.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("안전 사이트 점검 결과를 발표했다. 이것은 진짜 안전 사이트 이야기다.\n", encoding="utf-8")
    (corpus / "replacements.tsv").write_text("news/*.txt\t안전 사이트\t인공지능\nbroken\n", encoding="utf-8")
    before = _digests(corpus)
    docs, skipped = load_corpus(corpus, progress=False)
    by = {d.source: d for d in docs}
    assert by["news/a.txt"].text.startswith("국가인공지능위원회가 열렸다. 인공지능 반도체를")
    assert by["news/a.txt"].meta["replaced"] == {"안전 사이트 → 인공지능": 2}
    assert "안전 사이트 점검" in by["b.txt"].text and "replaced" not in by["b.txt"].meta
    assert [(s.source, s.reason) for s in skipped] == [
        ("replacements.tsv", "replacements.tsv:2: ignored: expected GLOB<TAB>FROM<TAB>TO, found 1 field(s)")]
    assert "replacements.tsv" not in by  # a control file, not a document
    assert _digests(corpus) == before


def test_pdf_pages_follow_the_replaced_text(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / f"{MOEF}.pdf", corpus / f"{MOEF}.pdf")
    plain = load_corpus(corpus, progress=False)[0][0]
    (corpus / "replacements.tsv").write_text("*.pdf\t해외직접투자\t해외 직접 투자(ODI)\n", encoding="utf-8")
    fixed = load_corpus(corpus, progress=False)[0][0]
    assert fixed.meta["replaced"] == {"해외직접투자 → 해외 직접 투자(ODI)": 9}
    bounds = lambda d: list(zip(d.pages, [*d.pages[1:], len(d.text)]))  # noqa: E731
    old_pages = [plain.text[a:b] for a, b in bounds(plain)]
    new_pages = [fixed.text[a:b] for a, b in bounds(fixed)]
    assert new_pages == [p.replace("해외직접투자", "해외 직접 투자(ODI)") for p in old_pages]


@pytest.mark.slow
def test_the_index_records_the_rules_and_rebuilds_when_they_change(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("안전 사이트 컴퓨팅 기반을 확충한다. 국산 안전 사이트 반도체를 쓴다.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("광주 집적단지 사업의 올해 예산은 1,076억원이다.\n", encoding="utf-8")
    (corpus / "replacements.tsv").write_text("a.txt\t안전 사이트\t인공지능\n", encoding="utf-8")
    index = tmp_path / "index"
    build_index(corpus, index, model=str(tiny_model_dir), progress=False)
    manifest = json.loads((index / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["corpus"]["replacements"] == {"a.txt": {"안전 사이트 → 인공지능": 2}}
    hit = Retriever.load(index).search("인공지능 반도체", k=1, mode="bm25")[0]
    assert hit.source == "a.txt" and "국산 인공지능 반도체" in hit.text
    # the file did not change, the table did: the document is processed again
    (corpus / "replacements.tsv").write_text("a.txt\t안전 사이트\tAI\n", encoding="utf-8")
    report = build_index(corpus, index, model=str(tiny_model_dir), progress=False)
    assert (report.update.changed, report.update.reused) == (1, 1)
    assert "국산 AI 반도체" in Retriever.load(index).search("AI 반도체", k=1, mode="bm25")[0].text


def test_the_seed_scrape_is_repaired_without_touching_the_file() -> None:
    raw = (REPO / "corpus" / SEED_004).read_text(encoding="utf-8")
    assert raw.count("안전 사이트") >= 30  # the corrupted scrape, kept as it was collected
    docs, skipped = load_corpus(REPO / "corpus", progress=False)
    doc = next(d for d in docs if d.source == SEED_004)
    assert "안전 사이트" not in doc.text and "국가인공지능위원회" in doc.text and "인공지능을 국가전략기술로" in doc.text
    assert not [s for s in skipped if s.source == "replacements.tsv"]
