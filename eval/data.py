"""Evaluation datasets: the seed QA set (``qa.jsonl``), BEIR folders and SQuAD/KorQuAD JSON files.

>>> items = load_qa(DEFAULT_QA)                      # doctest: +SKIP
>>> items[0].question, items[0].answer, items[0].doc # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from indexer.clean import normalize_unicode
from indexer.ingest import Document

__all__ = ["DEFAULT_QA", "DocQuery", "QAItem", "load_beir", "load_qa", "load_squad"]

DEFAULT_QA = Path(__file__).with_name("qa.jsonl")


@dataclass(frozen=True)
class QAItem:
    """A seed question: gold is the answer string inside the named corpus document (None = unanswerable)."""

    id: str
    question: str
    answer: str | None
    doc: str | None
    split: str
    type: str = ""


@dataclass(frozen=True)
class DocQuery:
    """A query whose gold is a set of relevant document ids (BEIR qrels, SQuAD paragraphs)."""

    id: str
    question: str
    relevant: frozenset[str] = field(default_factory=frozenset)


def load_qa(path: str | os.PathLike[str] = DEFAULT_QA) -> list[QAItem]:
    """Read a ``qa.jsonl`` file; a malformed line is an error naming the line."""
    items: list[QAItem] = []
    p = Path(path)
    with open(p, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                item = QAItem(id=str(d["id"]), question=str(d["question"]), answer=d.get("answer"),
                              doc=d.get("doc"), split=str(d.get("split", "test")), type=str(d.get("type", "")))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{p}:{n}: not a QA item with id/question/answer/doc ({exc})") from None
            if (item.answer is None) != (item.doc is None):
                raise ValueError(f"{p}:{n}: answer and doc must both be set, or both null (unanswerable)")
            items.append(item)
    return items


def load_beir(folder: str | os.PathLike[str], split: str = "test") -> tuple[list[Document], list[DocQuery]]:
    """A BEIR dataset folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    d = Path(folder)
    qrels = d / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        have = sorted(p.stem for p in (d / "qrels").glob("*.tsv")) if (d / "qrels").is_dir() else []
        raise ValueError(f"{d} has no qrels/{split}.tsv; splits present: {', '.join(have) or 'none'} "
                         f"(choose one with --beir-split)")
    docs: list[Document] = []
    with open(d / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                text = normalize_unicode(str(r.get("text", "")))
                if text.strip():
                    docs.append(Document(id=str(r["_id"]), source=str(r["_id"]), title=str(r.get("title") or ""), text=text))
    queries: dict[str, str] = {}
    with open(d / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                queries[str(r["_id"])] = str(r["text"])
    relevant: dict[str, set[str]] = {}
    with open(qrels, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            if float(row[2]) > 0:
                relevant.setdefault(row[0], set()).add(row[1])
    qs = [DocQuery(qid, queries[qid], frozenset(rel)) for qid, rel in relevant.items() if qid in queries]
    return docs, qs


def load_squad(path: str | os.PathLike[str]) -> tuple[list[Document], list[DocQuery]]:
    """SQuAD/KorQuAD JSON: every paragraph a document (titled by its article), every question a query."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    docs: list[Document] = []
    queries: list[DocQuery] = []
    for a, article in enumerate(data["data"]):
        title = normalize_unicode(str(article.get("title", ""))).replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            doc_id = f"a{a:04d}p{p:03d}"
            docs.append(Document(id=doc_id, source=doc_id, title=title, text=normalize_unicode(para["context"])))
            for qa in para["qas"]:
                queries.append(DocQuery(str(qa["id"]), str(qa["question"]), frozenset({doc_id})))
    return docs, queries
