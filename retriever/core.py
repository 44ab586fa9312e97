"""Hybrid (Kiwi-morpheme BM25 + dense) search over an index folder, with span citations and answers.

>>> from retriever import Retriever
>>> r = Retriever.load("index")                       # doctest: +SKIP
>>> hits = r.search("광주 AI 집적단지 예산", k=3)      # doctest: +SKIP
>>> a = r.ask("AX 실증산단 공모 기간은?")             # doctest: +SKIP
>>> a.text, a.found, a.citations[0].title            # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.analyzer import AnalyzerConfig, KoreanAnalyzer
from indexer.clean import normalize_unicode
from indexer.errors import ModelMismatchError, ModelNotAvailableError
from indexer.store import IndexData, open_store

from .answer import AnswerPicker
from .candidates import Candidate, FirstStage
from .compose import NOT_FOUND_TEXT, RELATED_LABEL, Composer, Plan, Shaper
from .evidence import Evidence
from .followup import ATTRIBUTE_NOUNS, FollowUp, HistoryItem
from .ranking import dedup, fused_candidates, keyword_ranking, rescore_dense, rescore_hybrid
from .rerank import CrossEncoderReranker, load_reranker
from .settings import SearchSettings
from .span import asked, asked_rank, asks_money_use, focus_word, is_broad
from .table import TABLE_KINDS, TableReader

__all__ = ["ANSWER_KINDS", "MAX_QUERY_CHARS", "MODES", "Answer", "EmptyQueryError", "FirstStageResult", "Hit", "Retriever", "SearchSettings", "normalize_query"]

MODES = ("hybrid", "bm25", "dense")
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: ``text == document_text[start:end]`` of document ``doc_id``."""

    text: str
    score: float
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    chunk_id: str
    scores: dict[str, float] = field(default_factory=dict)  # per stage: "bm25", "dense", "fused", "hybrid", "rerank"
    meta: dict[str, Any] = field(default_factory=dict)
    page: int | None = None  # 1-based page the passage starts on (PDF documents), else None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text, "score": self.score, "doc_id": self.doc_id, "title": self.title,
            "source": self.source, "start": self.start, "end": self.end, "chunk_id": self.chunk_id,
            "scores": dict(self.scores), "meta": dict(self.meta), "page": self.page,
        }


ANSWER_KINDS = ("factoid", "digest", "sentence", "not_found")


@dataclass(frozen=True)
class Answer:
    """``text``: the answer in plain text; ``citations``: passages, the one holding the answer first.

    ``highlights`` are ``(citation_index, start, end)`` spans (document offsets) of the answer sentences, each of
    which ``text`` holds verbatim; ``found`` is False when the evidence is too weak to answer (``citations``
    then holds the closest passages).

    ``kind`` is the answer's shape: "factoid" (``text`` opens with ``direct``, the span that answers the
    question, on its own line, then the sentence it comes from), "digest" (a broad question: one line per
    sentence, each opening with "• "), "sentence" (the best sentence or two), "not_found" (``text`` says so
    first, then lists the closest sentences under "관련 있을 수 있는 내용:"). ``direct_span`` is
    ``(citation_index, start, end)`` of ``direct`` in its document (for the UI to bold it in the sentence).
    ``used`` lists the citations the answer's sentences come from. A follow-up question asked with
    ``history`` is searched as ``resolved_question`` (the conversation's topic carried in), and
    ``context_note`` says so ("광주 AI 집적단지 기준으로 찾았습니다"); both are None for a question that
    stands alone.
    """

    question: str
    text: str
    citations: list[Hit]
    found: bool
    confidence: float
    highlights: list[tuple[int, int, int]] = field(default_factory=list)
    direct: str | None = None
    direct_span: tuple[int, int, int] | None = None
    kind: str = "sentence"
    context_note: str | None = None
    used: list[int] = field(default_factory=list)
    resolved_question: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.text, "found": self.found, "confidence": self.confidence,
            "citations": [h.to_json() for h in self.citations],
            "highlights": [list(h) for h in self.highlights],
            "direct": self.direct, "direct_span": list(self.direct_span) if self.direct_span else None,
            "kind": self.kind, "context_note": self.context_note, "used": list(self.used),
            "resolved_question": self.resolved_question,
        }


class EmptyQueryError(ValueError):
    """A query with nothing left after normalisation (empty, spaces, control characters)."""


def normalize_query(query: str) -> str:
    """Normalise a query like document text; raise :class:`EmptyQueryError` when nothing is left."""
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    q = " ".join(normalize_unicode(query).split())
    if not q:
        raise EmptyQueryError("the question is empty; type a question in Korean, e.g. '광주 AI 집적단지 예산은?'")
    return q[:MAX_QUERY_CHARS]


@dataclass(frozen=True)
class FirstStageResult:
    """What the first stage found for one query: its terms and vector, and each side's scored chunk rows.

    ``sparse``/``dense`` map chunk rows to BM25 scores / cosines (empty for a side the mode does not use);
    ``terms`` is empty in dense mode and ``qvec`` None in BM25 mode.
    """

    query: str
    terms: list[str]
    qvec: np.ndarray | None
    sparse: dict[int, float]
    dense: dict[int, float]


class Retriever:
    """Search and answer over one index (a folder, or a Milvus collection). Safe to share between threads.

    The stages are public for tools that measure them (``python -m eval.tune``, ``eval.bench``):
    ``index`` (the opened folder, :class:`indexer.store.IndexData`), ``first_stage`` (BM25 and dense
    candidates), ``evidence`` (sentence features), and :meth:`first_stage_result`.

    >>> r = Retriever.load("index")                    # doctest: +SKIP
    >>> [h.title for h in r.search("GPU 확보", k=2)]     # doctest: +SKIP
    """

    def __init__(
        self,
        index: IndexData,
        model: Any,
        analyzer: KoreanAnalyzer,
        settings: SearchSettings,
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.index = index
        self.index_dir = index.path
        self.location = index.location  # the folder or milvus:// URI, as opened
        self.manifest = index.manifest
        self.docs = {doc["id"]: doc for doc in index.docs}
        self.chunks = index.chunks
        self.sentences = index.sentences
        self.analyzer = analyzer
        self.settings = settings
        self.reranker = reranker
        self.first_stage = FirstStage(index, model, settings)
        self.evidence = Evidence(index, analyzer, settings)
        self._answers = AnswerPicker(self.chunks, {d: doc["text"] for d, doc in self.docs.items()}, analyzer,
                                     self.evidence, settings, {d: doc["title"] or "" for d, doc in self.docs.items()})
        self.composer = Composer(index, analyzer, settings)
        self._shaper = Shaper(self.composer, settings)
        self._tables = TableReader(self.composer)
        self._doc_rows = {doc["id"]: i for i, doc in enumerate(index.docs)}
        first = np.array([c["sent_rows"][0] if c["sent_rows"] else -1 for c in self.chunks], dtype=np.int64)
        self._first_order = np.argsort(first, kind="stable")
        self._first_rows = first[self._first_order]
        postings = index.search.postings()
        self._postings = (postings.indptr, postings.indices)
        self.docs_with: Callable[[str], frozenset[str]] = functools.lru_cache(maxsize=4096)(self._docs_with)
        self.followup = FollowUp(analyzer, self.docs_with, settings)

    def _docs_with(self, term: str) -> frozenset[str]:
        """Ids of the documents whose chunks hold the index term ``term`` (from the BM25 postings)."""
        i = self.index.vocab.get(term)
        indptr, indices = self._postings
        if i is None or i + 1 >= len(indptr):
            return frozenset()
        return frozenset(self.chunks[int(r)]["doc_id"] for r in indices[indptr[i]:indptr[i + 1]])

    @classmethod
    def load(
        cls,
        index_dir: str | os.PathLike[str],
        *,
        model: str | None = None,
        settings: SearchSettings | None = None,
        verify: bool = True,
        reranker: str | CrossEncoderReranker | None = None,
    ) -> Retriever:
        """Open an index built by ``python -m indexer``: a folder, or ``milvus://HOST:PORT/NAME`` on a Milvus server.

        ``model``: the embedding model that will encode queries; default the one recorded in the manifest.
        A different model, a wrong dimension, missing or altered files raise an error saying how to rebuild.
        ``reranker``: an optional cross-encoder (hub id or folder, see :mod:`retriever.rerank`) that re-orders
        the best candidates; off by default.
        """
        import faiss

        from indexer.embedding import load_model, model_dimension

        d = str(index_dir)  # a folder, or milvus://HOST:PORT/NAME
        data = open_store(index_dir, verify=verify)
        built_with, dim = data.model_id, data.dim
        if model is not None and model != built_with:
            raise ModelMismatchError(
                f"index {d!r} was built with embedding model {built_with!r}, not {model!r}; "
                f"load it without a model, or rebuild it: python -m indexer CORPUS --out {d} --model {model}"
            )
        try:
            st = load_model(built_with)
        except ModelNotAvailableError as exc:
            raise ModelNotAvailableError(
                f"{exc}\nOr rebuild the index with a model you have: python -m indexer CORPUS --out {d} [--model NAME]"
            ) from None
        if model_dimension(st) != dim:
            raise ModelMismatchError(
                f"model {built_with!r} now gives {model_dimension(st)}-dim vectors but {d!r} holds {dim}-dim ones "
                f"(the model changed since the build); rebuild: python -m indexer CORPUS --out {d} --model {built_with}"
            )
        faiss.omp_set_num_threads(1)  # single queries: one thread measured faster than two
        analyzer = KoreanAnalyzer(AnalyzerConfig.from_json(data.manifest["analyzer"]))
        if isinstance(reranker, str):
            reranker = load_reranker(reranker)
        return cls(data, st, analyzer, settings or SearchSettings(), reranker)

    def __len__(self) -> int:
        return len(self.chunks)

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r} must be a whole number of passages, 1 or more")
        if k > len(self.chunks):
            raise ValueError(f"k={k} is larger than the {len(self.chunks)} chunks in this index; pass a smaller k")
        return int(k)

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(MODES)}")

    # ------------------------------------------------------------------ stages
    def first_stage_result(self, query: str, k: int = 10, mode: str = "hybrid") -> FirstStageResult:
        """The first stage for ``query``: its terms, its vector, and ``fetch_size(k)`` candidates per side.

        >>> fs = Retriever.load("index").first_stage_result("GPU 확보 규모")  # doctest: +SKIP
        >>> len(fs.sparse) <= 100 and len(fs.dense) <= 100                    # doctest: +SKIP
        True
        """
        self._check_mode(mode)
        return self._first(normalize_query(query), k, mode)

    def _first(self, q: str, k: int, mode: str) -> FirstStageResult:
        n = self.first_stage.fetch_size(k)
        terms = self.analyzer.analyze(q) if mode != "dense" else []
        qvec = self.first_stage.encode_query(q) if mode != "bm25" else None
        sparse = self.first_stage.keyword_scores(terms, n) if mode != "dense" else {}
        dense = self.first_stage.dense_scores(qvec, n) if qvec is not None else {}
        return FirstStageResult(q, terms, qvec, sparse, dense)

    def _ranked(self, q: str, k: int, mode: str) -> tuple[list[Candidate], FirstStageResult]:
        """Candidates best first, with evidence, before near-duplicate removal."""
        st = self.settings
        fs = self._first(q, k, mode)
        if mode == "bm25":
            return keyword_ranking(fs.sparse), fs
        if mode == "dense":
            cands = [Candidate(i, s, {"dense": s}) for i, s in fs.dense.items()]
            self.evidence.attach(cands, [], fs.qvec)
            rescore_dense(cands, st)
        else:
            cands = fused_candidates(fs.sparse, fs.dense, st, k)
            self.evidence.attach(cands, fs.terms, fs.qvec)
            rescore_hybrid(cands, st)
        if self.reranker is not None and cands:
            cands = cands[: max(st.rerank_depth, 2 * k)]
            probs = self.reranker.scores(fs.query, [self.chunks[c.row]["text"] for c in cands])
            for c, p in zip(cands, probs):
                c.score = c.per["rerank"] = float(p)
            cands.sort(key=lambda c: -c.score)  # stable: ties keep the first-stage order
        return cands, fs

    def ranked_candidates(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Candidate]:
        """Every candidate of ``query`` best first, with its stage scores and sentence evidence, before
        near-duplicates are removed (what :meth:`search` keeps the first ``k`` distinct of)."""
        self._check_mode(mode)
        return self._ranked(normalize_query(query), self._check_k(k), mode)[0]

    def _dedup(self, ranked: list[Candidate], k: int) -> list[Candidate]:
        return dedup(ranked, self.chunks, k, self.settings.dedup_overlap)

    def _hit(self, c: Candidate) -> Hit:
        ch = self.chunks[c.row]
        doc = self.docs[ch["doc_id"]]
        return Hit(text=ch["text"], score=float(c.score), doc_id=ch["doc_id"], title=doc["title"], source=doc["source"],
                   start=ch["start"], end=ch["end"], chunk_id=ch["id"], scores=dict(c.per), meta=dict(doc.get("meta") or {}),
                   page=ch.get("page"))

    # ------------------------------------------------------------------ public API
    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best passages for ``query``, best first; ``mode`` is "hybrid", "bm25" or "dense".

        Fewer than ``k`` come back when fewer passages match at all (BM25) or after near-duplicates are removed.
        """
        self._check_mode(mode)
        k = self._check_k(k)
        ranked, _ = self._ranked(normalize_query(query), k, mode)
        return [self._hit(c) for c in self._dedup(ranked, k)]

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", history: Iterable[HistoryItem] | None = None) -> Answer:
        """Answer ``question`` from the retrieved passages, cited (see :class:`Answer` for the shapes of answers).

        ``history``: the conversation so far, oldest first — earlier user questions as strings, or
        ``{"role": "user" | "assistant", "content": str}`` messages (assistant turns are skipped). A question
        that leans on it ("그 사업은 언제까지 진행돼?") is searched with the conversation's topic carried in
        (:mod:`retriever.followup`); a question with a new topic of its own inherits nothing.
        ``found`` is False when no passage covers the question well enough; the closest passages are
        still returned as ``citations``.
        """
        self._check_mode(mode)
        q = normalize_query(question)
        k = self._check_k(k)
        res = self.followup.resolve(q, history) if history is not None else None
        query = normalize_query(res.query) if res is not None and res.leaning else q
        note = res.note if res is not None else None
        resolved = query if query != q else None
        ranked, fs = self._ranked(query, k, mode)
        terms = fs.terms
        kept = self._answers.with_unit(query, terms, self._dedup(ranked, k), ranked)
        if not kept:
            return Answer(q, NOT_FOUND_TEXT, [], False, 0.0, [], kind="not_found", context_note=note, resolved_question=resolved)
        if not kept[0].sent_lex and terms:
            self.evidence.attach(kept, terms, fs.qvec)  # BM25 mode ranks without sentence evidence
        st = self.settings
        broad = is_broad(q) or (resolved is not None and is_broad(query))
        scored = self._answers.score_sentences(query, terms, kept, depth=st.digest_max if broad else None)
        ci, picks = self._answers.pick(query, terms, kept, [x for x in scored if x[1] < st.answer_chunks])
        found, confidence = self._answers.judge(query, terms, kept[ci], [self.chunks[c.row]["text"] for c in kept])
        rows = [(score, cj, sj, self.chunks[kept[cj].row]["sent_rows"][sj]) for score, cj, sj in scored]
        plan: Plan | None
        if not found:
            plan = self._shaper.related(rows, self._not_found_line(query, kept[ci]))
        elif broad:
            plan = self._shaper.digest(rows, money=asks_money_use(q) or (resolved is not None and asks_money_use(query)))
        else:
            support = self._shaper.sentences(picks, {(cj, sj): row for _, cj, sj, row in rows})
            plan = None
            rank = asked_rank(q) or (asked_rank(query) if resolved is not None else None)
            wanted = asked(q) or (asked(query) if resolved is not None else None)
            for ask in (rank, wanted):  # a ranking question with no ranked list to read: its other reading
                if ask is not None and plan is None:
                    plan = self._shaper.factoid(rows, query, ask, self._term_weights(query, terms), self._focus(query, terms),
                                                support)
                    if ask.kind in TABLE_KINDS:
                        plan = self._table_cell(query, kept, plan) or plan
            plan = plan or support
        return self._answer(q, plan, kept, found, confidence, note, resolved)

    def _table_cell(self, query: str, kept: list[Candidate], plan: Plan | None) -> Plan | None:
        """The answer from a table cell of the best passages' documents that the question names by row and
        column (:mod:`retriever.table`), when the text's answer (``plan``) is about another period or table
        ("2024년 1분기 …" for "2022년 1분기 제조업 …"; "총투자액 기준 …" for "순투자 기준 …"); else None. A cell
        outside the ranked passages brings its passage: it is appended to ``kept``, to be cited."""
        docs = list(dict.fromkeys(self._doc_rows[self.chunks[c.row]["doc_id"]] for c in kept))
        cells = self._tables.cells(query, docs)
        if not cells:
            return None
        cell = cells[0]
        if plan is not None and plan.units:
            said = plan.direct[0] if plan.direct is not None else plan.units[0][1][0]  # the text's answer sentence
            if not self._tables.beats(cell, said):
                return None
        at = next((j for j, c in enumerate(kept) if cell.row in self.chunks[c.row]["sent_rows"]), None)
        if at is None:  # the cell's passage joins the cited ones (first, as the answer's source)
            kept.append(Candidate(self._chunks_holding(cell.row)[0], 0.0, {}))
            at = len(kept) - 1
        return self._tables.plan(cell, at)

    # ------------------------------------------------------------------ answer assembly
    def _not_found_line(self, query: str, best: Candidate) -> str:
        missing = self.evidence.missing_entities(query, best.row) if self.settings.entity_check else []
        if missing:
            names = ", ".join(f"‘{m}’" for m in missing)
            return f"{NOT_FOUND_TEXT} 찾은 구절에는 {names}에 관한 내용이 없습니다."
        return NOT_FOUND_TEXT

    def _focus(self, query: str, terms: list[str]) -> frozenset[str]:
        """The index terms of the question's focus word (the word before its question word: "설명회 언제"), unless
        it only names the attribute asked for (예산, 기간)."""
        word = focus_word(query)
        if not word or word in ATTRIBUTE_NOUNS:  # "예산 얼마야?": the answer sentence need not say 예산
            return frozenset()
        return frozenset(self.analyzer.analyze(word, predicates=False)) & set(terms)

    def _term_weights(self, query: str, terms: list[str]) -> dict[str, float]:
        """idf of the question's terms, the focus word's counted ``span_focus_factor`` times."""
        focus = self._focus(query, terms)
        return {t: self.evidence.idf.get(t, self.evidence.max_idf) * (self.settings.span_focus_factor if t in focus else 1.0)
                for t in terms}

    def _chunks_holding(self, row: int) -> list[int]:
        """Chunk rows whose sentences include sentence row ``row`` (neighbouring chunks share one sentence)."""
        i = int(np.searchsorted(self._first_rows, row, side="right"))
        out = []
        for j in range(max(0, i - 3), min(len(self._first_rows), i + 1)):
            c = int(self._first_order[j])
            if row in self.chunks[c]["sent_rows"]:
                out.append(c)
        return out

    def _answer(self, q: str, plan: Plan, kept: list[Candidate], found: bool, confidence: float,
                note: str | None, resolved: str | None) -> Answer:
        """Tie the plan's sentences to citations: the passage of the first answer sentence first, then the other
        passages in rank order, then (rarely) a neighbouring passage that holds a sentence the answer brings along."""
        units = list(plan.units)
        if plan.kind == "digest":  # grouped by document, in the document's order
            docs = list(dict.fromkeys(self.composer.piece(rows[0]).doc_row for _, rows in units))
            units.sort(key=lambda u: (docs.index(self.composer.piece(u[1][0]).doc_row), u[1][0]))
        first = next((ci for ci, _ in units if ci is not None), 0)
        cands = [kept[first]] + [c for j, c in enumerate(kept) if j != first]
        rows_of = [c.row for c in cands]

        def cite(row: int, prefer: int | None) -> int:
            if prefer is not None and row in self.chunks[kept[prefer].row]["sent_rows"]:
                return rows_of.index(kept[prefer].row)
            for i, r in enumerate(rows_of):
                if row in self.chunks[r]["sent_rows"]:
                    return i
            holding = self._chunks_holding(row)
            rows_of.append(holding[0])
            cands.append(Candidate(holding[0], 0.0, {}))
            return len(rows_of) - 1

        placed = [(ci, [(cite(r, ci), self.composer.piece(r)) for r in rows]) for ci, rows in units]
        if plan.kind == "sentence":
            placed.sort(key=lambda u: (u[1][0][0], u[1][0][1].row))
        elif plan.kind == "factoid":
            placed[1:] = sorted(placed[1:], key=lambda u: (u[1][0][0], u[1][0][1].row))
        texts = [" ".join(p.text for _, p in pieces) for _, pieces in placed]
        if plan.kind == "factoid":
            text = f"{plan.direct_text}\n" + (f"{plan.lead}\n" if plan.lead else "") + " ".join(texts)
        elif plan.kind == "digest":
            text = "\n".join(f"• {t}" for t in texts)
        elif plan.kind == "not_found":
            text = (plan.lead or NOT_FOUND_TEXT) + (f"\n{RELATED_LABEL}:\n" + "\n".join(f"• {t}" for t in texts) if texts else "")
        else:
            text = " ".join(texts)
        highlights = [(i, p.start, p.end) for _, pieces in placed for i, p in pieces]
        direct_span = None
        if plan.direct is not None:
            row, s, e = plan.direct
            for i, p in (x for _, pieces in placed for x in pieces):
                if p.row == row:
                    direct_span = (i, p.start + s, p.start + e)
                    break
        hits = [self._hit(c) for c in cands]
        return Answer(q, text, hits, found, float(confidence), highlights, direct=plan.direct_text, direct_span=direct_span,
                      kind=plan.kind, context_note=note, used=sorted({i for i, _, _ in highlights}), resolved_question=resolved)
