"""``python -m eval.bench``: indexing throughput, memory, query latency and index quality at several sizes.

Corpora are synthesised by recombining the sentences of ``corpus/`` into new documents (seeded), so every
chunk is real Korean text. Up to ``--real-max`` chunks (default 100,000) everything is computed for real:
Kiwi splits and analyses every sentence and the model embeds every sentence. Above it ("recombined"), each
distinct sentence is split, analysed and embedded once and the results are reused wherever it recurs: the
index holds exactly what the real pipeline would compute, but build throughput is not measured there.

Each size is built in one subprocess and queried in another, so peak memory is per stage.

    python -m eval.bench --sizes 1000 10000 100000 1000000 --json bench.json
    python -m eval.bench --sizes 100000 --milvus lite        # adds a Milvus column (a milvus-lite server started here)
    python -m eval.bench --sizes 100000 --milvus HOST:PORT   # ... or a running Milvus server
    python -m eval.bench --sizes 100000 --model use-m3 --milvus lite   # another embedding model

With ``--milvus`` each size's folder index is also published to Milvus (``milvus://…/bench_N``: the build time of
the Milvus backend is the folder build plus that publish) and queried there by the same query stage, in the same
run, and the line ends with the Milvus figures and their ratio to the folder's.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from indexer.analyzer import KoreanAnalyzer
from indexer.build import DEFAULT_CHUNK_SIZE, build_from_documents
from indexer.embedding import encode_queries, load_model
from indexer.ingest import Document, load_corpus

from .data import load_qa
from .metrics import percentile

__all__ = ["build_size", "main", "query_size", "synthesise"]


def synthesise(corpus_dir: str | Path, n_chunks: int, seed: int = 0) -> list[Document]:
    """Documents of shuffled corpus sentences (about 1,100 characters each), about ``n_chunks`` chunks in all."""
    docs, _ = load_corpus(corpus_dir, progress=False)
    analyzer = KoreanAnalyzer()
    sentences = [d.text[s:e] for d in docs for s, e in analyzer.sentences(d.text) if e - s >= 20]
    titles = [d.title for d in docs]
    rng = random.Random(seed)
    out = []
    target = int(DEFAULT_CHUNK_SIZE * 1.8)  # with one sentence of overlap: 2.8 chunks per document (measured)
    for i in range(max(1, round(n_chunks / 2.8))):
        parts, size = [], 0
        while size < target:
            s = rng.choice(sentences)
            parts.append(s)
            size += len(s) + 1
        out.append(Document(id=f"syn{i:07d}.txt", source=f"syn{i:07d}.txt",
                            title=f"{rng.choice(titles)} {i % 97 + 1}호", text="\n".join(parts)))
    return out


class _RecombinedAnalyzer(KoreanAnalyzer):
    """Kiwi results computed once per distinct line / sentence (lines are split independently, so this is exact)."""

    def __init__(self) -> None:
        super().__init__()
        self._spans: dict[str, list[tuple[int, int]]] = {}
        self._terms: dict[str, list[str]] = {}

    def sentences(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pos = 0
        for line in text.split("\n"):
            if line.strip():
                spans = self._spans.get(line)
                if spans is None:
                    spans = self._spans[line] = super().sentences(line)
                out.extend((pos + s, pos + e) for s, e in spans)
            pos += len(line) + 1
        return out

    def analyze_many(self, texts):  # same signature as the parent
        missing = [t for t in dict.fromkeys(texts) if t not in self._terms]
        for t, terms in zip(missing, super().analyze_many(missing)):
            self._terms[t] = terms
        return [self._terms[t] for t in texts]


class _RecombinedEncoder:
    """The model, with each distinct text embedded once."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode_document(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self._model.encode_document(missing, **kwargs)):
                self._cache[t] = np.asarray(v, dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_size(corpus_dir: str | Path, n_chunks: int, out: Path, recombined: bool,
               model: str | None = None) -> dict[str, Any]:
    """Build the synthesised corpus of ``n_chunks`` into ``out`` with ``model`` (``None``: the default);
    throughput and, when real, one incremental update."""
    docs = synthesise(corpus_dir, n_chunks)
    chars = sum(len(d.text) for d in docs)
    row: dict[str, Any] = {"mode": "recombined" if recombined else "real", "documents": len(docs), "chars": chars}
    if recombined:
        t = time.perf_counter()
        report = build_from_documents(docs, out, progress=False, analyzer=_RecombinedAnalyzer(),
                                      encoder=_RecombinedEncoder(load_model(model)), model=model)
        row["build_s"] = time.perf_counter() - t
    else:
        analyzer = KoreanAnalyzer()
        sample = docs[:1000]
        t = time.perf_counter()
        for d in sample:
            analyzer.sentences(d.text)
        for i in range(0, len(sample), 256):
            analyzer.analyze_many([d.text for d in sample[i:i + 256]])
        row["kiwi_chars_per_s"] = sum(len(d.text) for d in sample) / (time.perf_counter() - t)
        report = build_from_documents(docs, out, progress=False, model=model)
        row.update(build_s=report.seconds, build_chunks_per_s=report.chunks / report.seconds,
                   embed_chunks_per_s=report.embedded_chunks / report.embed_seconds)
        # one changed document applied to the index (incremental update), timed end to end
        changed = docs[len(docs) // 2]
        docs[len(docs) // 2] = Document(changed.id, changed.source, changed.title, changed.text + "\n양자컴퓨팅 연구에 300억원을 투자한다.")
        t = time.perf_counter()
        upd = build_from_documents(docs, out, progress=False, incremental=True, model=model)
        row["update_one_doc_s"] = time.perf_counter() - t
        row["update_summary"] = upd.update.summary()
    row.update(chunks=report.chunks, build_peak_rss_mb=_peak_mb(), model=report.model)
    return row


def _ms(f: Any, *args: Any, **kwargs: Any) -> float:
    t = time.perf_counter()
    f(*args, **kwargs)
    return (time.perf_counter() - t) * 1000


def query_size(index: Path | str, questions: list[str]) -> dict[str, Any]:
    """Load time, memory, latency of search/ask and of the raw library calls, and IVF recall against exact search.

    ``index`` may be ``milvus://…``: the raw calls are then the backend's BM25 and vector searches on the server."""
    import faiss

    from indexer.dense import recall_at_k, stored_vectors
    from retriever import Retriever
    from retriever.core import normalize_query

    t = time.perf_counter()
    r = Retriever.load(index)
    load_s = time.perf_counter() - t
    rss_loaded = _peak_mb()
    for q in questions[:20]:
        r.ask(q)  # warm
    search_ms = [_ms(r.search, q, k=5) for q in questions]
    ask_ms = [_ms(r.ask, q, k=5) for q in questions]
    raw_ms, bm25_ms, faiss_ms, kiwi_ms, enc_ms = [], [], [], [], []
    n = r.first_stage.fetch_size(5)
    for q in questions:  # the raw library calls one hybrid search makes
        qn = normalize_query(q)
        t0 = time.perf_counter()
        terms = r.analyzer.analyze(qn)
        t1 = time.perf_counter()
        vec = encode_queries(r.first_stage.model, [qn])
        t2 = time.perf_counter()
        known = [x for x in terms if x in r.index.vocab]
        if r.index.bm25 is None:  # an index on a server: its backend's calls
            if known:
                r.index.search.keyword_scores(known, n)
            t3 = time.perf_counter()
            r.index.search.dense_scores(vec[0], n)
        else:
            if known:
                scores = r.index.bm25.get_scores(known)
                np.argpartition(-scores, n - 1)[:n]
            t3 = time.perf_counter()
            r.index.dense.search(vec, n)
        t4 = time.perf_counter()
        kiwi_ms.append((t1 - t0) * 1000)
        enc_ms.append((t2 - t1) * 1000)
        bm25_ms.append((t3 - t2) * 1000)
        faiss_ms.append((t4 - t3) * 1000)
        raw_ms.append((t4 - t0) * 1000)
    row: dict[str, Any] = {
        "load_s": load_s, "rss_after_load_mb": rss_loaded, "dense": r.manifest["dense"],
        "search_ms": {f"p{p}": percentile(search_ms, p) for p in (50, 95, 99)},
        "ask_ms": {f"p{p}": percentile(ask_ms, p) for p in (50, 95, 99)},
        "raw_ms": {"kiwi": percentile(kiwi_ms, 50), "encode": percentile(enc_ms, 50), "bm25": percentile(bm25_ms, 50),
                   "faiss": percentile(faiss_ms, 50), "total": percentile(raw_ms, 50)},
        "search_overhead": percentile(search_ms, 50) / max(percentile(raw_ms, 50), 1e-9),
    }
    row["query_peak_rss_mb"] = _peak_mb()  # before the recall check below, which holds extra copies of the vectors
    if isinstance(r.index.dense, faiss.IndexIVF):  # recall@10 of the stored IVF settings against exact search
        exact = faiss.IndexFlatIP(r.index.dense.d)
        exact.add(stored_vectors(r.index.dense))
        qv = encode_queries(r.first_stage.model, [normalize_query(q) for q in dict.fromkeys(questions)])
        _, truth = exact.search(qv, 10)
        _, got = r.index.dense.search(qv, 10)
        row["ivf_recall_at_10_questions"] = recall_at_k(truth, got)
    return row


def publish_size(index: Path, location: str) -> dict[str, Any]:
    """Publish the folder ``index`` to ``location`` on a Milvus server, timed."""
    from indexer.milvus_store import publish_folder

    t = time.perf_counter()
    publish_folder(index, location)
    return {"publish_s": time.perf_counter() - t, "publish_peak_rss_mb": _peak_mb()}


def _child(args: argparse.Namespace) -> int:
    if args.stage == "build":
        row = build_size(args.corpus, args.size, Path(args.index), args.size > args.real_max, args.model)
    elif args.stage == "publish":
        row = publish_size(Path(args.index), args.location)
    else:
        where = args.location or args.index
        row = query_size(where if where.startswith("milvus://") else Path(where), [it.question for it in load_qa()] * 2)
    print(json.dumps(row, ensure_ascii=False))
    return 0


def _line(row: dict[str, Any]) -> str:
    s, a, raw = row["search_ms"], row["ask_ms"], row["raw_ms"]
    build = (f"build {row['build_chunks_per_s']:.0f} chunks/s ({row['build_s']:.0f} s; kiwi {row['kiwi_chars_per_s'] / 1e3:.0f}k "
             f"chars/s, embedding {row['embed_chunks_per_s']:.0f} chunks/s); one-document update {row['update_one_doc_s']:.1f} s"
             if row["mode"] == "real" else f"recombined build {row['build_s']:.0f} s")
    return (f"{row['chunks']:>8} chunks ({row['mode']}, {row['model']}): {build}; build peak {row['build_peak_rss_mb']:.0f} MB; "
            f"dense {row['dense']['type']}; load {row['load_s']:.1f} s, serving peak {row['query_peak_rss_mb']:.0f} MB; "
            f"search p50/p95/p99 {s['p50']:.1f}/{s['p95']:.1f}/{s['p99']:.1f} ms; ask {a['p50']:.1f}/{a['p95']:.1f}/{a['p99']:.1f} ms; "
            f"raw calls p50 {raw['total']:.1f} ms (kiwi {raw['kiwi']:.1f}, encode {raw['encode']:.1f}, bm25 {raw['bm25']:.1f}, "
            f"faiss {raw['faiss']:.1f}); search overhead {row['search_overhead']:.2f}x"
            + (f"; IVF recall@10 {row['ivf_recall_at_10_questions']:.3f}" if "ivf_recall_at_10_questions" in row else "")
            + (_milvus_line(row) if "milvus" in row else ""))


def _milvus_line(row: dict[str, Any]) -> str:
    m, ratio = row["milvus"], row["milvus_ratio"]
    s, a = m["search_ms"], m["ask_ms"]
    server = f", server RSS peak {m['server_peak_rss_mb']:.0f} MB" if "server_peak_rss_mb" in m else ""
    return (f"\n{'':>8} milvus: build {m['build_s']:.0f} s (publish {m['publish_s']:.1f} s){server}; load {m['load_s']:.1f} s, "
            f"client peak {m['query_peak_rss_mb']:.0f} MB; search p50/p95 {s['p50']:.1f}/{s['p95']:.1f} ms; "
            f"ask p50/p95 {a['p50']:.1f}/{a['p95']:.1f} ms; raw bm25 {m['raw_ms']['bm25']:.1f} / dense {m['raw_ms']['faiss']:.1f} ms; "
            f"ratio to folder: build {ratio['build']:.2f}x, search p50 {ratio['search_p50']:.2f}x, "
            f"p95 {ratio['search_p95']:.2f}x, ask p50 {ratio['ask_p50']:.2f}x, p95 {ratio['ask_p95']:.2f}x")


def _server_peak_mb(pid: int) -> float | None:
    """VmHWM of a local server process (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="corpus sizes in chunks")
    parser.add_argument("--real-max", type=int, default=100_000,
                        help="largest size built for real; larger ones reuse per-sentence results (default 100000)")
    parser.add_argument("--model", help="embedding model to build with (default: the indexer's default, e5-small); "
                        "use-m3 embeds sentences and averages them into chunk vectors, so large sizes build much faster")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--keep", metavar="DIR", help="build the indexes here and keep them")
    parser.add_argument("--stage", choices=("build", "publish", "query"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--location", help=argparse.SUPPRESS)
    parser.add_argument("--milvus", metavar="HOST:PORT|lite",
                        help="also publish each index to this Milvus server (lite: start a milvus-lite server for the run) "
                             "and query it there: a Milvus column with its ratio to the folder backend")
    args = parser.parse_args(argv)
    if args.stage:
        return _child(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="korag-bench-") as tmp:
        work = Path(args.keep or tmp)
        lite = None
        if args.milvus == "lite":
            from indexer.milvus_local import LocalMilvus

            lite = LocalMilvus.start(work / "milvus-data")
        try:
            for n in args.sizes:
                row = _bench_size(args, work, n, lite.port if lite is not None else None,
                                  lite.pid if lite is not None else None)
                if row is None:
                    return 1
                rows.append(row)
                print(_line(row), flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        finally:
            if lite is not None:
                lite.stop()
    return 0


def _run_stage(args: argparse.Namespace, stage: str, n: int, index: Path, location: str | None = None) -> dict[str, Any] | None:
    cmd = [sys.executable, "-m", "eval.bench", "--stage", stage, "--size", str(n), "--index", str(index),
           "--corpus", args.corpus, "--real-max", str(args.real_max)] + (["--model", args.model] if args.model else []) + (["--location", location] if location else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"error: the {stage} stage at {n} chunks{' on ' + location if location else ''} failed:\n{p.stderr[-3000:]}",
              file=sys.stderr)
        return None
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def _bench_size(args: argparse.Namespace, work: Path, n: int, lite_port: int | None,
                lite_pid: int | None) -> dict[str, Any] | None:
    """One size: the folder build and query stages, then (with ``--milvus``) publish and query on Milvus."""
    index = work / f"index-{n}"
    row: dict[str, Any] = {"size": n}
    for stage in ("build", "query"):
        got = _run_stage(args, stage, n, index)
        if got is None:
            return None
        row.update(got)
    if args.milvus:
        hostport = f"127.0.0.1:{lite_port}" if lite_port is not None else args.milvus
        location = f"milvus://{hostport}/bench_{n}"
        published = _run_stage(args, "publish", n, index, location)
        queried = _run_stage(args, "query", n, index, location) if published is not None else None
        if published is None or queried is None:
            return None
        m = {**published, **queried, "build_s": row["build_s"] + published["publish_s"], "location": location}
        peak = _server_peak_mb(lite_pid) if lite_pid is not None else None
        if peak is not None:
            m["server_peak_rss_mb"] = peak
        row["milvus"] = m
        row["milvus_ratio"] = {"build": m["build_s"] / row["build_s"],
                               **{f"{w}_{p}": m[f"{w}_ms"][p] / max(row[f"{w}_ms"][p], 1e-9)
                                  for w in ("search", "ask") for p in ("p50", "p95")}}
    return row


if __name__ == "__main__":
    sys.exit(main())
