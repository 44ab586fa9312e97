"""``python -m eval.tune``: choose the hybrid fusion and rerank weights by measurement, on several dev sets at once.

Each side's candidates and their sentence evidence are computed once per query (exactly as
:meth:`Retriever.search` fetches them), then every setting of the grid is scored on them. One setting must
serve every kind of question, so the grid is ranked by the mean Hit@1 over the datasets given (each dataset
counts the same, whatever its size). Tune on dev sets; report on the seed test split.

    python -m eval.tune                                         # seed dev split of index/
    python -m eval.tune --squad KorQuAD_v1.0_dev.json --beir msmarco-kor-dev --cache /tmp/tune
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retriever import Candidate, Retriever, SearchSettings
from retriever.ranking import fused_candidates, rescore_hybrid

from .data import DEFAULT_QA, load_beir, load_qa, load_squad
from .metrics import hit_at_k, mean, mrr_at_k, norm

FUSIONS = ("convex", "rrf")
DENSE_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LEX_WEIGHTS = (0.0, 0.2, 0.4, 0.6, 0.8)
SENT_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5)


@dataclass
class _Query:
    sparse: dict[int, float]
    dense: dict[int, float]
    lex: dict[int, float]  # candidate row -> best sentence keyword evidence
    cos: dict[int, float]  # candidate row -> best sentence cosine


@dataclass
class Dataset:
    """Collected candidates of one dev set and the relevance of each (query, chunk row)."""

    name: str
    queries: list[_Query]
    relevant: list[frozenset[int]]  # per query: the chunk rows that count as a hit


def collect(r: Retriever, questions: Sequence[str], k: int = 10) -> list[_Query]:
    """First-stage candidates of both sides and their sentence evidence, once per question."""
    out = []
    for q in questions:
        fs = r.first_stage_result(q, k)
        cands = [Candidate(i, 0.0, {}) for i in sorted(set(fs.sparse) | set(fs.dense))]
        r.evidence.attach(cands, fs.terms, fs.qvec)
        out.append(_Query(fs.sparse, fs.dense, {c.row: max(c.sent_lex, default=0.0) for c in cands},
                          {c.row: max(c.sent_cos, default=0.0) for c in cands}))
    return out


def rank(qd: _Query, s: SearchSettings, k: int = 10) -> list[int]:
    """The retriever's hybrid ranking (before near-duplicate removal) for settings ``s``, replayed by
    :mod:`retriever.ranking` on the collected evidence (only each candidate's best sentence counts)."""
    cands = fused_candidates(qd.sparse, qd.dense, s, k)
    for c in cands:
        c.sent_lex, c.sent_cos = [qd.lex[c.row]], [qd.cos[c.row]]
    return [c.row for c in rescore_hybrid(cands, s)[:k]]


def score(ds: Dataset, s: SearchSettings) -> tuple[float, float]:
    """(hit@1, mrr@10) of settings ``s`` on one dataset."""
    rels = [[row in rel for row in rank(qd, s)] for qd, rel in zip(ds.queries, ds.relevant)]
    return mean([hit_at_k(x, 1) for x in rels]), mean([mrr_at_k(x, 10) for x in rels])


def grid(base: SearchSettings, fusions: Sequence[str] = FUSIONS, dense: Sequence[float] = DENSE_WEIGHTS,
         lex: Sequence[float] = LEX_WEIGHTS, sent: Sequence[float] = SENT_WEIGHTS) -> list[SearchSettings]:
    """Every combination of the given values, the other settings as in ``base`` (which always takes part)."""
    out = [replace(base, fusion=f, dense_weight=dw, lex_weight=lw, sent_weight=sw)
           for f, dw, lw, sw in itertools.product(fusions, dense, lex, sent)]
    return out if base in out else [*out, base]


def _docs_dataset(name: str, docs: list, queries: list, model: str | None, tmp: Path) -> Dataset:
    from indexer.build import build_from_documents

    build_from_documents(docs, tmp / name, model=model, progress=sys.stderr.isatty())
    r = Retriever.load(tmp / name)
    rows_of: dict[str, set[int]] = {}
    for row, c in enumerate(r.chunks):
        rows_of.setdefault(c["doc_id"], set()).add(row)
    rel = [frozenset().union(*(rows_of.get(d, set()) for d in q.relevant)) for q in queries]
    return Dataset(name, collect(r, [q.question for q in queries]), rel)


def _seed_dataset(index: str, qa: str, split: str) -> Dataset:
    r = Retriever.load(index)
    items = [it for it in load_qa(qa) if it.answer is not None and (split == "all" or it.split == split)]
    texts = [(r.docs[c["doc_id"]]["source"], norm(c["text"])) for c in r.chunks]
    rel = [frozenset(row for row, (src, t) in enumerate(texts) if src == it.doc and norm(it.answer or "") in t)
           for it in items]
    return Dataset(f"seed:{split}", collect(r, [it.question for it in items]), rel)


def _cached(cache: Path | None, key: str, make: Callable[[], Dataset]) -> Dataset:
    if cache is None:
        return make()
    path = cache / f"{key}.pkl"
    if path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)  # our own cache file
    ds = make()
    cache.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(ds, fh)
    return ds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index", help="seed index folder (default: index)")
    parser.add_argument("--qa", default=str(DEFAULT_QA))
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"], help="seed split (default: dev)")
    parser.add_argument("--no-seed", action="store_true", help="leave the seed set out")
    parser.add_argument("--squad", metavar="FILE", help="also tune on a SQuAD/KorQuAD file (every paragraph a document)")
    parser.add_argument("--beir", metavar="DIR", help="also tune on a BEIR folder's dev qrels (else test)")
    parser.add_argument("--model", default=None, help="embedding model of the dataset indexes (default: e5-small)")
    parser.add_argument("--cache", metavar="DIR", help="keep the collected candidates here and reuse them")
    parser.add_argument("--keep", metavar="DIR", help="build the dataset indexes in DIR and keep them (default: a temporary folder)")
    parser.add_argument("--top", type=int, default=15, help="settings to print (default 15)")
    parser.add_argument("--fusions", nargs="+", default=list(FUSIONS), choices=FUSIONS, help="fusion methods to try")
    parser.add_argument("--dense-weights", nargs="+", type=float, default=list(DENSE_WEIGHTS), metavar="W",
                        help=f"dense weights to try (default {' '.join(map(str, DENSE_WEIGHTS))})")
    parser.add_argument("--lex-weights", nargs="+", type=float, default=list(LEX_WEIGHTS), metavar="W",
                        help=f"sentence keyword weights to try (default {' '.join(map(str, LEX_WEIGHTS))})")
    parser.add_argument("--sent-weights", nargs="+", type=float, default=list(SENT_WEIGHTS), metavar="W",
                        help=f"sentence cosine weights to try (default {' '.join(map(str, SENT_WEIGHTS))})")
    args = parser.parse_args(argv)
    if args.split == "test":
        print("warning: tuning on the seed test split makes its numbers meaningless", file=sys.stderr)
    cache = Path(args.cache) if args.cache else None
    tag = (args.model or "default").replace("/", "_")
    datasets: list[Dataset] = []
    with tempfile.TemporaryDirectory(prefix="korag-tune-") as scratch:
        tmp = args.keep or scratch
        if not args.no_seed:
            datasets.append(_cached(cache, f"seed-{args.split}-{Path(args.index).name}",
                                    lambda: _seed_dataset(args.index, args.qa, args.split)))
        if args.squad:
            docs, queries = load_squad(args.squad)
            datasets.append(_cached(cache, f"squad-{Path(args.squad).stem}-{tag}",
                                    lambda: _docs_dataset("squad", docs, queries, args.model, Path(tmp))))
        if args.beir:
            split = "test" if (Path(args.beir) / "qrels" / "test.tsv").is_file() else "dev"
            docs, queries = load_beir(args.beir, split=split)
            datasets.append(_cached(cache, f"beir-{Path(args.beir).name}-{split}-{tag}",
                                    lambda: _docs_dataset("beir", docs, queries, args.model, Path(tmp))))
    if not datasets:
        parser.error("nothing to tune on: give --squad/--beir or keep the seed set")
    rows = []
    for s in grid(SearchSettings(), args.fusions, args.dense_weights, args.lex_weights, args.sent_weights):
        per = [score(ds, s) for ds in datasets]
        rows.append((mean([h for h, _ in per]), s, per))
    rows.sort(key=lambda x: (-x[0], -mean([m for _, m in x[2]])))
    names = " ".join(f"{ds.name[:14]:>14}" for ds in datasets)
    print(f"{'fusion':>6} {'dense_w':>7} {'lex_w':>6} {'sent_w':>6} {'mean@1':>7} {names}   (hit@1 / mrr@10)")
    current = SearchSettings()
    shown = rows[: args.top] + [r for r in rows if r[1] == current]
    for m, s, per in shown:
        mark = "  <- current" if s == current else ""
        cells = " ".join(f"{h:>6.3f}/{mrr:.3f}" for h, mrr in per)
        print(f"{s.fusion:>6} {s.dense_weight:>7.2f} {s.lex_weight:>6.2f} {s.sent_weight:>6.2f} {m:>7.3f} {cells}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
