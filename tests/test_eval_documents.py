"""The document QA set (eval/qa_documents.jsonl over the HWP/HWPX press releases in eval/documents/)."""

from __future__ import annotations

from pathlib import Path

from eval.data import load_qa
from eval.metrics import norm
from indexer.ingest import load_corpus

REPO = Path(__file__).resolve().parents[1]


def test_document_questions_name_their_document_and_page() -> None:
    items = load_qa(REPO / "eval" / "qa_documents.jsonl")
    docs = {d.source: d for d in load_corpus(REPO / "eval" / "documents", progress=False)[0]}
    assert len(items) >= 15 and {it.split for it in items} == {"dev", "test"}
    assert {it.doc for it in items} == set(docs) and {d.source.rsplit(".", 1)[1] for d in docs.values()} == {"hwp", "hwpx"}
    for it in items:
        assert it.answer is not None and it.doc is not None and it.page is not None, it.id
        doc = docs[it.doc]
        assert len(doc.pages) == 9, doc.source  # pages as Hancom laid them out
        # the gold page holds the answer
        bounds = [*doc.pages, len(doc.text)]
        page_text = doc.text[bounds[it.page - 1]:bounds[it.page]]
        assert norm(it.answer) in norm(page_text), it.id
