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

__all__ = [
    "DEFAULT_CONVERSATIONS", "DEFAULT_QA", "FACTOID_TYPES", "TURN_KINDS", "Conversation", "DocQuery", "QAItem", "Turn",
    "load_beir", "load_conversations", "load_qa", "load_squad",
]

DEFAULT_QA = Path(__file__).with_name("qa.jsonl")
DEFAULT_CONVERSATIONS = Path(__file__).with_name("conversations.jsonl")
# QA item types answered by one value (an amount or count, a date, a name, a place): the direct answer is scored on them
FACTOID_TYPES = ("figure", "date", "name", "place")
TURN_KINDS = ("first", "followup", "new_topic")


@dataclass(frozen=True)
class QAItem:
    """A seed question: gold is the answer string inside the named corpus document (None = unanswerable)."""

    id: str
    question: str
    answer: str | None
    doc: str | None
    split: str
    type: str = ""
    page: int | None = None  # the 1-based page of ``doc`` that holds the answer (paged documents: PDF, HWP)


@dataclass(frozen=True)
class Turn:
    """One user turn of a conversation: its question, the answer string and the document it comes from.

    ``kind``: "first" (the opening question), "followup" (leans on the earlier turns: "그 사업은 언제까지?") or
    "new_topic" (changes the subject: it must be answered from its own document, not the earlier topic's).
    """

    question: str
    answer: str
    doc: str
    kind: str


@dataclass(frozen=True)
class Conversation:
    """A dialogue over the corpus (``eval/conversations.jsonl``): two or three user turns, each with its gold."""

    id: str
    split: str
    turns: tuple[Turn, ...]


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
                page = d.get("page")
                item = QAItem(id=str(d["id"]), question=str(d["question"]), answer=d.get("answer"),
                              doc=d.get("doc"), split=str(d.get("split", "test")), type=str(d.get("type", "")),
                              page=None if page is None else int(page))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{p}:{n}: not a QA item with id/question/answer/doc ({exc})") from None
            if (item.answer is None) != (item.doc is None):
                raise ValueError(f"{p}:{n}: answer and doc must both be set, or both null (unanswerable)")
            items.append(item)
    return items


def load_conversations(path: str | os.PathLike[str] = DEFAULT_CONVERSATIONS) -> list[Conversation]:
    """Read a conversations file: one JSON object per line, ``{"id", "split", "turns": [{"question", "answer",
    "doc", "kind"}, ...]}`` (the first turn's kind defaults to "first", later ones' to "followup"); a malformed
    line is an error naming the line."""
    out: list[Conversation] = []
    p = Path(path)
    with open(p, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                turns = tuple(Turn(str(t["question"]), str(t["answer"]), str(t["doc"]),
                                   str(t.get("kind", "first" if i == 0 else "followup")))
                              for i, t in enumerate(d["turns"]))
                conv = Conversation(str(d["id"]), str(d.get("split", "test")), turns)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{p}:{n}: not a conversation with id/turns of question/answer/doc ({exc})") from None
            if len(turns) < 2 or turns[0].kind != "first" or any(t.kind not in TURN_KINDS[1:] for t in turns[1:]):
                raise ValueError(f"{p}:{n}: a conversation has a first turn and then followup or new_topic turns")
            out.append(conv)
    return out


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
