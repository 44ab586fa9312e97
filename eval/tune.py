"""``python -m eval.tune``: choose the hybrid fusion method and dense weight by measurement.

Each side's candidates are computed once per query (exactly as :meth:`Retriever.search` fetches them),
then every fusion method and weight is scored on them. Tune on the seed dev split and KorQuAD dev;
report on the seed test split.

    python -m eval.tune                               # seed dev split of index/
    python -m eval.tune --squad KorQuAD_v1.0_dev.json # every paragraph a document
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retriever import Retriever, SearchSettings
from retriever.core import _Scored, normalize_query
from retriever.fusion import fuse

from .data import DEFAULT_QA, load_qa, load_squad
from .metrics import hit_at_k, mean, mrr_at_k, norm

DENSE_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3)
LEX_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.6, 0.8)
SENT_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)


@dataclass
class _Query:
    sparse: dict[int, float]
    dense: dict[int, float]
    lex: dict[int, float]  # candidate row -> best sentence keyword evidence
    cos: dict[int, float]  # candidate row -> best sentence cosine


def collect(r: Retriever, questions: Sequence[str], k: int = 10) -> list[_Query]:
    """First-stage candidates of both sides and their sentence evidence, once per question."""
    st = r.settings
    n = max(st.overfetch * k, st.min_fetch)
    out = []
    for q in questions:
        q = normalize_query(q)
        terms = r.analyzer.analyze(q)
        qvec = r._encode_query(q)
        sparse = r._bm25_scores(terms, n)
        dense = r._dense_scores(qvec, n)
        cands = [_Scored(i, 0.0, {}) for i in sorted(set(sparse) | set(dense))]
        r._evidence(cands, terms, qvec)
        out.append(_Query(sparse, dense, {c.row: max(c.sent_lex, default=0.0) for c in cands},
                          {c.row: max(c.sent_cos, default=0.0) for c in cands}))
    return out


def rank(qd: _Query, s: SearchSettings, k: int = 10) -> list[int]:
    """The retriever's hybrid ranking (before near-duplicate removal) for settings ``s``."""
    fused = fuse(qd.sparse, qd.dense, weight=s.dense_weight, method=s.fusion)[: max(s.rerank_depth, 2 * k)]
    scored = [(f + s.lex_weight * qd.lex[i] + s.sent_weight * qd.cos[i], i) for i, f in fused]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [i for _, i in scored[:k]]


def sweep(data: list[_Query], relevant: Callable[[int, int], bool], base: SearchSettings) -> list[tuple[SearchSettings, float, float, float]]:
    """(settings, hit@1, hit@5, mrr@10) over the weight grid."""
    rows = []
    for dw in DENSE_WEIGHTS:
        for lw in LEX_WEIGHTS:
            for sw in SENT_WEIGHTS:
                s = replace(base, dense_weight=dw, lex_weight=lw, sent_weight=sw)
                rels = [[relevant(qi, row) for row in rank(qd, s)] for qi, qd in enumerate(data)]
                rows.append((s, mean([hit_at_k(x, 1) for x in rels]), mean([hit_at_k(x, 5) for x in rels]),
                             mean([mrr_at_k(x, 10) for x in rels])))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index")
    parser.add_argument("--qa", default=str(DEFAULT_QA))
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--squad", metavar="FILE")
    parser.add_argument("--chunk-size", type=int, default=None)
    args = parser.parse_args(argv)

    from indexer.build import build_from_documents

    if args.squad:
        docs, queries = load_squad(args.squad)
        tmp = tempfile.TemporaryDirectory(prefix="korag-tune-")
        kw = {"chunk_size": args.chunk_size} if args.chunk_size else {}
        build_from_documents(docs, Path(tmp.name) / "index", progress=sys.stderr.isatty(), **kw)
        r = Retriever.load(Path(tmp.name) / "index")
        data = collect(r, [q.question for q in queries])
        doc_of = [c["doc_id"] for c in r.chunks]
        rows = sweep(data, lambda qi, row: doc_of[row] in queries[qi].relevant, r.settings)
        tmp.cleanup()
    else:
        r = Retriever.load(args.index)
        items = [it for it in load_qa(args.qa) if it.answer is not None and (args.split == "all" or it.split == args.split)]
        data = collect(r, [it.question for it in items])
        texts = [(r.docs[c["doc_id"]]["source"], norm(c["text"])) for c in r.chunks]
        rows = sweep(data, lambda qi, row: texts[row][0] == items[qi].doc and norm(items[qi].answer or "") in texts[row][1],
                     r.settings)
    print(f"{'dense_w':>7} {'lex_w':>6} {'sent_w':>6} {'hit@1':>7} {'hit@5':>7} {'mrr@10':>7}")
    for s, h1, h5, mrr in rows:
        print(f"{s.dense_weight:>7.2f} {s.lex_weight:>6.2f} {s.sent_weight:>6.2f} {h1:>7.3f} {h5:>7.3f} {mrr:>7.3f}")
    best = max(rows, key=lambda x: (x[1], x[3]))
    print(f"best: dense_weight {best[0].dense_weight} lex_weight {best[0].lex_weight} sent_weight {best[0].sent_weight} "
          f"hit@1 {best[1]:.3f} mrr@10 {best[3]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
