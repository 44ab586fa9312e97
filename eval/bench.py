"""``python -m eval.bench``: indexing throughput, memory and query latency at several corpus sizes.

Large corpora are synthesised by recombining the sentences of ``corpus/`` into new documents (seeded), so
every chunk is real Korean text with real Kiwi analysis and real embeddings.

    python -m eval.bench --sizes 1000 10000          # chunks; prints a table, --json PATH writes it
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from indexer.analyzer import KoreanAnalyzer
from indexer.build import DEFAULT_CHUNK_SIZE, build_from_documents
from indexer.embedding import encode_queries
from indexer.ingest import Document, load_corpus
from retriever import Retriever
from retriever.core import normalize_query

from .data import load_qa
from .metrics import percentile

__all__ = ["synthesise", "bench_size", "main"]


def synthesise(corpus_dir: str | Path, n_chunks: int, seed: int = 0) -> list[Document]:
    """Documents of shuffled corpus sentences, about ``n_chunks`` chunks in all (two per document)."""
    docs, _ = load_corpus(corpus_dir, progress=False)
    analyzer = KoreanAnalyzer()
    sentences = [d.text[s:e] for d in docs for s, e in analyzer.sentences(d.text) if e - s >= 20]
    titles = [d.title for d in docs]
    rng = random.Random(seed)
    out = []
    target = int(DEFAULT_CHUNK_SIZE * 1.8)  # about two chunks per document
    for i in range(max(1, n_chunks // 2)):
        parts, size = [], 0
        while size < target:
            s = rng.choice(sentences)
            parts.append(s)
            size += len(s) + 1
        out.append(Document(id=f"syn{i:07d}.txt", source=f"syn{i:07d}.txt", title=f"{rng.choice(titles)} ({i})",
                            text="\n".join(parts)))
    return out


def _ms(f, *args, **kwargs) -> float:
    t = time.perf_counter()
    f(*args, **kwargs)
    return (time.perf_counter() - t) * 1000


def bench_size(corpus_dir: str | Path, n_chunks: int, questions: list[str], work: Path) -> dict[str, Any]:
    docs = synthesise(corpus_dir, n_chunks)
    chars = sum(len(d.text) for d in docs)
    analyzer = KoreanAnalyzer()
    t = time.perf_counter()
    for i in range(0, len(docs), 256):
        analyzer.analyze_many([d.text for d in docs[i:i + 256]])
    kiwi_s = time.perf_counter() - t
    report = build_from_documents(docs, work / f"index-{n_chunks}", progress=False)
    r = Retriever.load(work / f"index-{n_chunks}")
    for q in questions[:20]:
        r.ask(q)  # warm
    search_ms = [_ms(r.search, q, k=5) for q in questions]
    ask_ms = [_ms(r.ask, q, k=5) for q in questions]
    # the raw library calls one hybrid search makes, for the overhead ratio
    raw_ms = []
    for q in questions:
        qn = normalize_query(q)
        t = time.perf_counter()
        terms = r.analyzer.analyze(qn)
        vec = encode_queries(r._model, [qn])
        known = [x for x in terms if x in r._vocab]
        if known:
            r._bm25.get_scores(known)
        r._dense.search(vec, 50)
        raw_ms.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": report.chunks, "documents": report.documents, "sentences": report.sentences, "chars": chars,
        "kiwi_chars_per_s": chars / kiwi_s, "embed_chunks_per_s": report.chunks / report.embed_seconds,
        "build_chunks_per_s": report.chunks / report.seconds, "build_s": report.seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "search_ms": {p: percentile(search_ms, p) for p in (50, 95, 99)},
        "ask_ms": {p: percentile(ask_ms, p) for p in (50, 95, 99)},
        "raw_calls_ms_p50": percentile(raw_ms, 50),
        "search_overhead": percentile(search_ms, 50) / max(percentile(raw_ms, 50), 1e-9),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="corpus sizes in chunks")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    questions = [it.question for it in load_qa()] * 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="korag-bench-") as tmp:
        for n in args.sizes:
            row = bench_size(args.corpus, n, questions, Path(tmp))
            rows.append(row)
            print(f"{row['chunks']:>8} chunks: kiwi {row['kiwi_chars_per_s'] / 1e3:.0f}k chars/s, embedding "
                  f"{row['embed_chunks_per_s']:.0f} chunks/s, build {row['build_chunks_per_s']:.0f} chunks/s "
                  f"({row['build_s']:.0f} s), peak RSS {row['peak_rss_mb']:.0f} MB; search p50/p95/p99 "
                  f"{row['search_ms'][50]:.1f}/{row['search_ms'][95]:.1f}/{row['search_ms'][99]:.1f} ms; ask "
                  f"{row['ask_ms'][50]:.1f}/{row['ask_ms'][95]:.1f}/{row['ask_ms'][99]:.1f} ms; raw calls p50 "
                  f"{row['raw_calls_ms_p50']:.1f} ms (search overhead {row['search_overhead']:.2f}x)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
