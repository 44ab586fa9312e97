"""An index on a Milvus server (``milvus://HOST:PORT/NAME``): the same data as an index folder, served by Milvus.

The first stage runs on the server: BM25 over the chunks' Kiwi terms (a VARCHAR of the analyzer's terms joined
by spaces, Milvus's ``whitespace`` tokenizer and a BM25 function into a sparse field, with the manifest's k1/b,
so scores equal the folder's bm25s scores) and inner-product search over the chunk vectors. What the second
stage reads (documents, chunk records, the sentence table and sentence vectors, the vocabulary) is fetched once
when the index is opened and kept in memory, as for a folder (docs/scale.md says what that costs).

One published index is a *generation* of three collections, ``NAME__<stamp>`` (chunks: row, doc_row, terms,
sparse, dense, record), ``…_sent`` (sentences: row, doc_row, start, end, term ids, float16 vector) and
``…_meta`` (manifest, docs and vocabulary as JSON text in parts). A registry collection
(:data:`REGISTRY`, one row per NAME) points at the served generation; publishing writes a complete new
generation, checks its row counts, then switches the pointer with one upsert, so a failed build leaves the
served index untouched (Milvus aliases would do the same, but milvus-lite 2.5.1 answers ``create_alias``
with UNIMPLEMENTED). The previous generation is kept (a server that has not reloaded yet keeps working)
and older ones are dropped.

Every call has a timeout: an unreachable or dead server raises :class:`~indexer.errors.IndexUnavailableError`
naming the URI, and a later call reconnects.

>>> publish_folder("index", "milvus://127.0.0.1:19530/korag")          # doctest: +SKIP
>>> data = open_milvus_index("milvus://127.0.0.1:19530/korag")        # doctest: +SKIP
>>> data.search.keyword_scores(["예산"], 5)                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import IndexFormatError, IndexUnavailableError
from .format import FORMAT_NAME, FORMAT_VERSION
from .store import IndexData, Postings, SentenceTable, open_index

if TYPE_CHECKING:
    from .build import BuildReport

__all__ = [
    "DEFAULT_TIMEOUT",
    "REGISTRY",
    "MilvusLocation",
    "MilvusSearch",
    "MilvusSettings",
    "connect",
    "current_generation",
    "delete_documents",
    "drop_index",
    "has_index",
    "open_milvus_index",
    "publish_folder",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

REGISTRY = "korag_registry"  # NAME -> the collection generation served under it
SCHEME = "milvus://"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,100}$")  # Milvus collection names; "__" and suffixes are added
_PART_CHARS = 16_000  # JSON text per meta row: 4 bytes a character at most, under VARCHAR's 65,535 bytes
_VARCHAR_MAX = 65_535


@dataclass(frozen=True)
class MilvusSettings:
    """Timeouts and batch sizes of the Milvus backend, each with its reason."""

    # the bound: an unreachable server is reported within 5 s; connecting is one round trip on a LAN
    connect_timeout: float = 3.0
    # one search or point read. pymilvus retries a failed call (75 times, backing off up to 3 s: minutes) and
    # bounds the retries by the call's timeout only when it is an int (a float is ignored: measured 210 s on a
    # killed server with timeout=5.0), so the call timeouts are whole seconds
    call_timeout: int = 5
    # inserting a batch, flushing, building an index, reading a whole collection at load: seconds per call
    bulk_timeout: int = 300
    # rows per insert: 2,000 chunks with 384-dim vectors and text are ~5 MB, under gRPC's 64 MB message limit
    insert_batch: int = 2_000
    # rows per insert into the sentence collection: pymilvus appends each float16 vector to one growing bytes
    # object, copying it every row (quadratic in the batch): measured 1.3 ms a row at 2,000 rows against 0.06 ms
    # at 100, which made publishing 100k chunks (486k sentences) take minutes in pymilvus alone
    sentence_insert_batch: int = 128
    # rows per read of the chunk rows without their vectors (text and terms, a few KB a row; Milvus caps one
    # query at 16,384 rows and at its result size)
    chunk_read_batch: int = 2_000
    # rows per read of rows with a vector (sentences, chunk vectors): milvus-lite 2.5.1 builds a result's vector
    # field in time that grows faster than its row count. Measured on the 100k-chunk index (486k sentences,
    # float16, 512 dims): 0.05 ms a row at 256 rows, 0.16 at 2,048, 1.3 at 4,096 and 9 ms a row at 8,000 (75 s a
    # read, so opening the index took an hour); chunk vectors: 0.1 ms a row at 512, 16 ms at 4,096
    vector_read_batch: int = 256
    # rows per insert and per read of the meta collection: up to 64 KB each, 16 MB a call (8,000 rows a read
    # failed with "query results exceed the limit size" on a 100k-chunk index)
    meta_batch: int = 256
    # shards of the chunk collection (Milvus Distributed spreads them over data and query nodes; docs/scale.md
    # sizes them: about one per 2-5M chunks); 1 for milvus-lite and Standalone
    shards: int = 1
    # in-memory replicas of each loaded collection (query throughput and availability on Distributed); 1 elsewhere
    replicas: int = 1


DEFAULT_TIMEOUT = MilvusSettings().call_timeout


@dataclass(frozen=True)
class MilvusLocation:
    """A parsed ``milvus://HOST:PORT/NAME``.

    >>> MilvusLocation.parse("milvus://127.0.0.1:19530/korag").uri
    'http://127.0.0.1:19530'
    """

    host: str
    port: int
    name: str

    @classmethod
    def parse(cls, location: str) -> MilvusLocation:
        """Parse ``location``; a malformed one raises :class:`ValueError` saying what it should look like."""
        example = "milvus://127.0.0.1:19530/korag"
        if not location.startswith(SCHEME):
            raise ValueError(f"{location!r} is not a Milvus location; write it like {example}")
        rest = location[len(SCHEME):]
        hostport, _, name = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{location!r} needs HOST:PORT, e.g. {example}")
        if not _NAME.match(name):
            raise ValueError(f"{location!r}: the index name {name!r} must be letters, digits and _ (not starting with a "
                             f"digit, at most 101 characters), e.g. {example}")
        return cls(host, int(port), name)

    @property
    def uri(self) -> str:
        """The gRPC endpoint pymilvus connects to."""
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.host}:{self.port}/{self.name}"


def _pymilvus() -> Any:
    try:
        with warnings.catch_warnings():  # milvus-lite 2.5.1, imported by pymilvus, imports the deprecated pkg_resources
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import pymilvus
    except ImportError:
        raise IndexUnavailableError('the Milvus client is not installed; pip install -e ".[milvus]"') from None
    return pymilvus


def connect(location: MilvusLocation, settings: MilvusSettings | None = None) -> Any:
    """A new ``MilvusClient`` for ``location`` (its own gRPC channel); :class:`IndexUnavailableError` within
    ``connect_timeout`` seconds when the server cannot be reached."""
    st = settings or MilvusSettings()
    pymilvus = _pymilvus()
    try:
        # a fresh alias: pymilvus shares one channel per URI otherwise, and a dead channel would be reused
        return pymilvus.MilvusClient(uri=location.uri, timeout=st.connect_timeout, alias=f"korag-{uuid.uuid4().hex}")
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors or its own timeouts here
        raise IndexUnavailableError(
            f"cannot reach the Milvus server of {location} within {st.connect_timeout:g} s ({_brief(exc)}); start the "
            f"server (for a local one: python -m indexer.milvus_local --port {location.port}) or correct HOST:PORT"
        ) from None


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _guard(location: MilvusLocation, what: str, fn: Callable[[], T]) -> T:
    """Run one pymilvus call; its failures become :class:`IndexUnavailableError` naming the server and the call."""
    try:
        return fn()
    except IndexUnavailableError:
        raise
    except Exception as exc:  # MilvusException, grpc.RpcError, timeouts: all mean the index cannot be served now
        raise IndexUnavailableError(f"the Milvus server of {location} failed to {what} ({_brief(exc)}); check that the "
                                    "server is running and reachable, then try again") from None


# ---------------------------------------------------------------------------------------------- registry
def _ensure_registry(client: Any, loc: MilvusLocation, st: MilvusSettings) -> None:
    pymilvus = _pymilvus()
    if _guard(loc, "list collections", lambda: client.has_collection(REGISTRY, timeout=st.call_timeout)):
        _guard(loc, "load the registry", lambda: client.load_collection(REGISTRY, timeout=st.bulk_timeout))
        return
    schema = client.create_schema(auto_id=False)
    schema.add_field("name", pymilvus.DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("target", pymilvus.DataType.VARCHAR, max_length=256)
    schema.add_field("v", pymilvus.DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    _guard(loc, "create the registry", lambda: client.create_collection(REGISTRY, schema=schema, index_params=ip,
                                                                         timeout=st.bulk_timeout))


def _lookup(client: Any, loc: MilvusLocation, st: MilvusSettings) -> str | None:
    if not _guard(loc, "list collections", lambda: client.has_collection(REGISTRY, timeout=st.call_timeout)):
        return None
    _guard(loc, "load the registry", lambda: client.load_collection(REGISTRY, timeout=st.bulk_timeout))
    rows = _guard(loc, "read the registry", lambda: client.get(REGISTRY, ids=[loc.name], output_fields=["target"],
                                                               timeout=st.call_timeout))
    return str(rows[0]["target"]) if rows else None


def current_generation(location: str, settings: MilvusSettings | None = None) -> str | None:
    """The collection generation served as ``location`` now, or None when none is published."""
    loc, st = MilvusLocation.parse(location), settings or MilvusSettings()
    client = connect(loc, st)
    try:
        return _lookup(client, loc, st)
    finally:
        client.close()


def has_index(location: str, settings: MilvusSettings | None = None) -> bool:
    """Whether an index is published at ``location`` (raises :class:`IndexUnavailableError` when unreachable)."""
    return current_generation(location, settings) is not None


def _generations(client: Any, loc: MilvusLocation, st: MilvusSettings) -> list[str]:
    names = _guard(loc, "list collections", lambda: client.list_collections(timeout=st.call_timeout))
    pat = re.compile(rf"^{re.escape(loc.name)}__g\d+$")
    return sorted(n for n in names if pat.match(n))


def _drop_generation(client: Any, loc: MilvusLocation, gen: str, st: MilvusSettings) -> None:
    for name in (gen, f"{gen}_sent", f"{gen}_meta"):
        if _guard(loc, "list collections", partial(client.has_collection, name, timeout=st.call_timeout)):
            _guard(loc, f"drop {name}", partial(client.drop_collection, name, timeout=st.bulk_timeout))


def drop_index(location: str, settings: MilvusSettings | None = None) -> None:
    """Remove the index ``location`` from its server: every generation and its registry row."""
    loc, st = MilvusLocation.parse(location), settings or MilvusSettings()
    client = connect(loc, st)
    try:
        for gen in _generations(client, loc, st):
            _drop_generation(client, loc, gen, st)
        if _guard(loc, "list collections", lambda: client.has_collection(REGISTRY, timeout=st.call_timeout)):
            _guard(loc, "update the registry", lambda: client.delete(REGISTRY, ids=[loc.name], timeout=st.call_timeout))
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------- writing
def _token(term: str) -> str:
    """A term as one whitespace-delimited token: a term may hold spaces (the date "2021. 6. 16."), which become
    U+2581 so that the ``whitespace`` tokenizer keeps it whole, in the chunks and in the queries alike."""
    return "\u2581".join(term.split()) if any(ch.isspace() for ch in term) else term


def _schemas(client: Any, dim: int, manifest: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Schema and index parameters of the chunk, sentence and meta collections."""
    DataType, Function, FunctionType = (_pymilvus().DataType, _pymilvus().Function, _pymilvus().FunctionType)
    bm25 = manifest["bm25"]
    chunks = client.create_schema(auto_id=False)
    chunks.add_field("row", DataType.INT64, is_primary=True)
    chunks.add_field("doc_row", DataType.INT64)
    chunks.add_field("terms", DataType.VARCHAR, max_length=_VARCHAR_MAX, enable_analyzer=True,
                     analyzer_params={"tokenizer": "whitespace"})  # our Kiwi terms, split on the spaces only
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    chunks.add_field("record", DataType.VARCHAR, max_length=_VARCHAR_MAX)
    chunks.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))
    chunk_ip = client.prepare_index_params()
    chunk_ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                       params={"bm25_k1": float(bm25["k1"]), "bm25_b": float(bm25["b"])})
    spec = manifest.get("dense", {})
    if spec.get("type") == "ivf-flat-ip":
        chunk_ip.add_index("dense", index_type="IVF_FLAT", metric_type="IP", params={"nlist": int(spec["nlist"])})
    else:
        chunk_ip.add_index("dense", index_type="FLAT", metric_type="IP")
    sent = client.create_schema(auto_id=False)
    sent.add_field("row", DataType.INT64, is_primary=True)
    sent.add_field("doc_row", DataType.INT64)
    sent.add_field("start", DataType.INT64)
    sent.add_field("end", DataType.INT64)
    sent.add_field("terms", DataType.VARCHAR, max_length=_VARCHAR_MAX)  # term ids into the vocabulary, space-separated
    sent.add_field("vector", DataType.FLOAT16_VECTOR, dim=dim)
    sent_ip = client.prepare_index_params()
    sent_ip.add_index("vector", index_type="FLAT", metric_type="IP")
    meta = client.create_schema(auto_id=False)
    meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    meta.add_field("data", DataType.VARCHAR, max_length=_VARCHAR_MAX)
    meta.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
    meta_ip = client.prepare_index_params()
    meta_ip.add_index("v", index_type="FLAT", metric_type="L2")
    return {"": (chunks, chunk_ip), "_sent": (sent, sent_ip), "_meta": (meta, meta_ip)}


def _parts(key: str, text: str) -> list[dict[str, Any]]:
    pieces = [text[i:i + _PART_CHARS] for i in range(0, len(text), _PART_CHARS)] or [""]
    return [{"key": f"{key}/{n:06d}", "data": p, "v": [0.0, 0.0]} for n, p in enumerate(pieces)]


def _checked(text: str, what: str) -> str:
    if len(text.encode("utf-8")) > _VARCHAR_MAX:
        raise IndexFormatError(f"{what} is over Milvus's {_VARCHAR_MAX:,}-byte VARCHAR limit; index with a smaller "
                               "--chunk-size")
    return text


def _insert(client: Any, loc: MilvusLocation, name: str, rows: Iterator[dict[str, Any]], st: MilvusSettings,
            size: int) -> int:
    n = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            _guard(loc, f"insert into {name}", partial(client.insert, name, batch, timeout=st.bulk_timeout))
            n += len(batch)
            batch = []
    if batch:
        _guard(loc, f"insert into {name}", lambda: client.insert(name, batch, timeout=st.bulk_timeout))
        n += len(batch)
    return n


def publish_folder(folder: str | os.PathLike[str], location: str, settings: MilvusSettings | None = None) -> str:
    """Copy the index folder ``folder`` to a new generation on the server and serve it as ``location``.

    Returns the generation's collection name. Until the last step (one registry upsert) the index served as
    ``location`` is untouched; a failure drops the half-written generation and raises.
    """
    loc, st = MilvusLocation.parse(location), settings or MilvusSettings()
    data = open_index(folder, verify=False)
    client = connect(loc, st)
    gen = f"{loc.name}__g{time.time_ns() // 1_000_000}"
    try:
        _ensure_registry(client, loc, st)
        _write_generation(client, loc, gen, data, st)
        previous = _lookup(client, loc, st)
        _guard(loc, "switch the index", lambda: client.upsert(REGISTRY, [{"name": loc.name, "target": gen, "v": [0.0, 0.0]}],
                                                              timeout=st.call_timeout))
    except BaseException:
        try:
            _drop_generation(client, loc, gen, st)
        except IndexUnavailableError as exc:
            log.warning("could not drop the unfinished %s (%s); it is not served and the next build of %s drops it",
                        gen, exc, loc)
        client.close()
        raise
    try:
        keep = {gen, previous}
        for old in _generations(client, loc, st):
            if old not in keep:
                _drop_generation(client, loc, old, st)
    finally:
        client.close()
    return gen


def _write_generation(client: Any, loc: MilvusLocation, gen: str, data: IndexData, st: MilvusSettings) -> None:
    dim = data.dim
    words = [""] * (max(data.vocab.values(), default=-1) + 1)
    for t, i in data.vocab.items():
        words[i] = t
    for suffix, (schema, ip) in _schemas(client, dim, data.manifest).items():
        extra = {"num_shards": st.shards} if suffix == "" and st.shards != 1 else {}
        _guard(loc, f"create {gen}{suffix}", partial(client.create_collection, f"{gen}{suffix}", schema=schema,
                                                      index_params=ip, timeout=st.bulk_timeout, **extra))
        if st.replicas != 1:
            _guard(loc, f"load {gen}{suffix}", partial(client.load_collection, f"{gen}{suffix}", replica_number=st.replicas,
                                                        timeout=st.bulk_timeout))
    sents = data.sentences
    vectors = data.search.chunk_vectors()
    doc_row = {d["id"]: i for i, d in enumerate(data.docs)}

    def chunk_rows() -> Iterator[dict[str, Any]]:
        for i, c in enumerate(data.chunks):
            dr = doc_row[c["doc_id"]]
            terms = list(data.docs[dr].get("terms", []))
            for j in c["sent_rows"]:
                terms.extend(words[t] for t in sents.term_ids(j))
            yield {"row": i, "doc_row": dr, "terms": _checked(" ".join(_token(t) for t in terms), f"chunk {c['id']}'s terms"),
                   "dense": np.asarray(vectors[i], dtype=np.float32), "record": _checked(json.dumps(c, ensure_ascii=False),
                                                                                         f"chunk {c['id']}")}

    def sentence_rows() -> Iterator[dict[str, Any]]:
        vecs = data.sentence_vectors
        for j in range(len(sents)):
            d, s, e = (int(x) for x in sents.spans[j])
            yield {"row": j, "doc_row": d, "start": s, "end": e, "terms": " ".join(map(str, sents.term_ids(j))),
                   "vector": np.asarray(vecs[j], dtype=np.float16)}

    docs_text = "\n".join(json.dumps(d, ensure_ascii=False) for d in data.docs)
    manifest = {**data.manifest, "milvus": {"generation": gen, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    meta_rows = _parts("manifest", json.dumps(manifest, ensure_ascii=False)) + _parts("docs", docs_text) + \
        _parts("vocab", json.dumps(words, ensure_ascii=False))
    counts = {gen: _insert(client, loc, gen, chunk_rows(), st, st.insert_batch),
              f"{gen}_sent": _insert(client, loc, f"{gen}_sent", sentence_rows(), st, st.sentence_insert_batch),
              f"{gen}_meta": _insert(client, loc, f"{gen}_meta", iter(meta_rows), st, st.meta_batch)}
    for name, n in counts.items():
        _guard(loc, f"flush {name}", partial(client.flush, name, timeout=st.bulk_timeout))
        got = _count(client, loc, name, st)
        if got != n:
            raise IndexUnavailableError(f"the Milvus server of {loc} holds {got} rows of {name} after inserting {n}; "
                                        "the build was not published, run it again")


def _count(client: Any, loc: MilvusLocation, name: str, st: MilvusSettings) -> int:
    res = _guard(loc, f"count {name}", lambda: client.query(name, filter="", output_fields=["count(*)"],
                                                            consistency_level="Strong", timeout=st.bulk_timeout))
    return int(res[0]["count(*)"])


def delete_documents(location: str, doc_ids: list[str]) -> BuildReport:
    """Remove the documents ``doc_ids`` from the index served as ``location``: a new generation of every other
    document, published like a build (nothing is split or embedded again). Unknown ids raise :class:`ValueError`."""
    from .analyzer import AnalyzerConfig
    from .build import build_from_documents
    from .ingest import Document, Skipped

    data = open_milvus_index(location)
    data.search.close()
    known = {d["id"] for d in data.docs}
    unknown = sorted(set(doc_ids) - known)
    if unknown:
        raise ValueError(f"{location} holds no document {', '.join(map(repr, unknown))}; its ids are the corpus paths, "
                         f"e.g. {sorted(known)[0]!r}")
    m = data.manifest
    hashes = m.get("corpus", {}).get("files", {})
    keep = [Document(id=d["id"], source=d["source"], title=d["title"], text=d["text"], meta=d.get("meta") or {},
                     sha256=hashes.get(d["source"], ""), pages=list(d.get("pages", [])))
            for d in data.docs if d["id"] not in set(doc_ids)]
    return build_from_documents(
        keep, location, skipped=[Skipped(s["source"], s["reason"]) for s in m.get("skipped", [])],
        model=None if m["model"].get("default") else str(m["model"]["id"]), chunk_size=int(m["chunker"]["chunk_size"]),
        overlap=int(m["chunker"]["overlap"]), analyzer_config=AnalyzerConfig.from_json(m["analyzer"]), progress=False,
        incremental=True, dense_kind=str(m.get("dense", {}).get("requested", "auto")))


# ---------------------------------------------------------------------------------------------- reading
def _read_all(client: Any, loc: MilvusLocation, name: str, fields: list[str], st: MilvusSettings,
              batch_size: int) -> list[dict[str, Any]]:
    """Every row of ``name`` (``fields``), ``batch_size`` rows per call, in primary-key order of no guarantee."""
    it = _guard(loc, f"read {name}", lambda: client.query_iterator(name, batch_size=batch_size, output_fields=fields,
                                                                   timeout=st.bulk_timeout))
    out: list[dict[str, Any]] = []
    try:
        while True:
            batch = _guard(loc, f"read {name}", it.next)
            if not batch:
                break
            out.extend(batch)
    finally:
        it.close()
    return out


def _read_rows(client: Any, loc: MilvusLocation, name: str, fields: list[str], n: int, st: MilvusSettings,
               batch_size: int) -> list[dict[str, Any]]:
    """Rows ``0..n-1`` of ``name`` (``fields``) in row order, read as ranges of ``batch_size`` rows (faster than a
    ``query_iterator``, which filters on the whole key range); :class:`IndexFormatError` when a row is missing or
    the collection holds a row past ``n``."""
    out: list[dict[str, Any]] = []
    for a in range(0, n, batch_size):
        b = min(a + batch_size, n)
        out.extend(_guard(loc, f"read {name}", partial(client.query, name, filter=f"row >= {a} and row < {b}",
                                                       output_fields=fields, limit=b - a, timeout=st.bulk_timeout)))
    out.sort(key=lambda r: r["row"])
    extra = _guard(loc, f"read {name}", partial(client.query, name, filter=f"row >= {n}", output_fields=["row"],
                                                limit=1, timeout=st.bulk_timeout))
    if extra or [r["row"] for r in out] != list(range(n)):
        raise IndexFormatError(f"{loc} is incomplete: {name} holds {len(out)} of rows 0..{n - 1}"
                               f"{' and rows past them' if extra else ''}, the manifest says {n}; build it again: "
                               f"python -m indexer CORPUS --out {loc}")
    return out


def _joined(rows: list[dict[str, Any]], key: str) -> str:
    parts = sorted((r["key"], r["data"]) for r in rows if str(r["key"]).startswith(f"{key}/"))
    return "".join(p for _, p in parts)


def _postings(term_lists: list[list[int]], n_vocab: int) -> Postings:
    """Term-major CSR of which chunk rows hold each term (each row once per term)."""
    lens = np.fromiter((len(x) for x in term_lists), dtype=np.int64, count=len(term_lists))
    terms = np.fromiter((t for x in term_lists for t in x), dtype=np.int64, count=int(lens.sum()))
    rows = np.repeat(np.arange(len(term_lists), dtype=np.int64), lens)
    key = np.sort(terms * max(len(term_lists), 1) + rows)  # np.unique hashes first: 25 s for 100k chunks, sort 1.5 s
    key = key[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else key
    term, row = np.divmod(key, max(len(term_lists), 1))
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, minlength=n_vocab), out=indptr[1:])
    return Postings(indptr, row.astype(np.int32), len(term_lists))


def open_milvus_index(location: str, *, timeout: int = DEFAULT_TIMEOUT,
                      settings: MilvusSettings | None = None) -> IndexData:
    """Open the index served as ``location``: its manifest and second-stage data read into memory, its first
    stage answered by the server (:class:`MilvusSearch`). ``timeout``: seconds for each search."""
    loc = MilvusLocation.parse(location)
    st = settings or MilvusSettings(call_timeout=timeout)
    client = connect(loc, st)
    hint = f"build it: python -m indexer CORPUS --out {loc}"
    try:
        gen = _lookup(client, loc, st)
        if gen is None:
            raise IndexFormatError(f"no index named {loc.name!r} on the Milvus server {loc.host}:{loc.port}; {hint}")
        for name in (gen, f"{gen}_sent", f"{gen}_meta"):
            _guard(loc, f"load {name}", partial(client.load_collection, name, timeout=st.bulk_timeout))
        meta = _read_all(client, loc, f"{gen}_meta", ["key", "data"], st, st.meta_batch)
        try:
            manifest = json.loads(_joined(meta, "manifest"))
            docs = [json.loads(line) for line in _joined(meta, "docs").split("\n") if line.strip()]
            words = json.loads(_joined(meta, "vocab"))
        except ValueError as exc:
            raise IndexFormatError(f"the manifest or documents of {loc} cannot be read ({exc}); {hint}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{loc} does not hold a {FORMAT_NAME} index; {hint}")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"{loc} has index format version {manifest.get('format_version')}, this program "
                                   f"reads version {FORMAT_VERSION}; {hint}")
        vocab = {t: i for i, t in enumerate(words)}
        counts = manifest.get("counts", {})
        chunk_rows = _read_rows(client, loc, gen, ["row", "record", "terms"], int(counts.get("chunks", 0)), st,
                                st.chunk_read_batch)
        sent_rows = _read_rows(client, loc, f"{gen}_sent", ["row", "doc_row", "start", "end", "terms", "vector"],
                               int(counts.get("sentences", 0)), st, st.vector_read_batch)
    except BaseException:
        client.close()
        raise
    dim = int(manifest["model"]["dim"])
    n_sent = len(sent_rows)
    chunks = [json.loads(r["record"]) for r in chunk_rows]
    spans = np.array([[r["doc_row"], r["start"], r["end"]] for r in sent_rows], dtype=np.int64).reshape(-1, 3)
    term_lists = [[int(t) for t in str(r["terms"]).split()] for r in sent_rows]
    offsets = np.zeros(n_sent + 1, dtype=np.int64)
    np.cumsum([len(x) for x in term_lists], out=offsets[1:])
    term_ids = np.fromiter((t for x in term_lists for t in x), dtype=np.int32, count=int(offsets[-1]))
    sent_vecs = np.zeros((n_sent, dim), dtype=np.float16)
    for j, r in enumerate(sent_rows):
        v = r["vector"]
        sent_vecs[j] = np.frombuffer(v[0] if isinstance(v, list) else v, dtype=np.float16)
    sentences = SentenceTable(spans, term_ids, offsets)
    by_id = {d.get("id"): d for d in docs}
    for c in chunks:
        doc = by_id.get(c.get("doc_id"))
        if doc is None or doc["text"][c["start"]:c["end"]] != c["text"] or \
                any(not 0 <= j < n_sent for j in c.get("sent_rows", [None])):
            client.close()
            raise IndexFormatError(f"chunk {c.get('id')!r} in {loc} does not match its document; {hint}")
    if not sentences.consistent(len(vocab)):
        client.close()
        raise IndexFormatError(f"{loc}: sentence terms fall outside the vocabulary; {hint}")
    token_ids = {_token(t): i for t, i in vocab.items()}  # a term with spaces is one token with "\u2581"s
    chunk_terms = [[token_ids[t] for t in str(r["terms"]).split() if t in token_ids] for r in chunk_rows]
    search = MilvusSearch(loc, gen, manifest, vocab, _postings(chunk_terms, len(vocab)), st, client)
    return IndexData(Path(loc.name), manifest, docs, chunks, sentences, sent_vecs, None, None, vocab, search, str(loc))


class MilvusSearch:
    """:class:`~indexer.store.SearchBackend` answered by a Milvus server (BM25 and dense search on one generation).

    Thread-safe. A failed call raises :class:`IndexUnavailableError` and drops the connection; the next call
    connects again, so a restarted server is used again without reopening the index.
    """

    def __init__(self, location: MilvusLocation, generation: str, manifest: dict[str, Any], vocab: dict[str, int],
                 postings: Postings, settings: MilvusSettings, client: Any = None) -> None:
        self.location = location
        self.generation = generation
        self.vocab = vocab
        self.settings = settings
        self._postings = postings
        self._k1 = float(manifest["bm25"]["k1"])
        self._dim = int(manifest["model"]["dim"])
        self._n_chunks = int(manifest["counts"]["chunks"])
        spec = manifest.get("dense", {})
        self._dense_params: dict[str, Any] = {"metric_type": "IP"}
        if spec.get("type") == "ivf-flat-ip":
            self._dense_params["params"] = {"nprobe": int(spec["nprobe"])}
        self._client = client
        self._lock = threading.Lock()

    def _connected(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = connect(self.location, self.settings)
            return self._client

    def _search(self, what: str, **kwargs: Any) -> list[Any]:
        client = self._connected()
        try:
            res = _guard(self.location, what, lambda: client.search(self.generation, timeout=self.settings.call_timeout,
                                                                    **kwargs))
        except IndexUnavailableError:
            with self._lock:
                if self._client is client:
                    self._client = None
            try:
                client.close()
            except Exception as exc:  # closing a dead channel may fail too; the new one does not depend on it
                log.debug("closing the failed Milvus connection: %s", exc)
            raise
        return list(res[0])

    def keyword_scores(self, terms: list[str], n: int) -> dict[int, float]:
        """BM25 scores from the server, divided by ``k1 + 1`` (Milvus's BM25 keeps that factor, bm25s's lucene
        method drops it), so they equal the folder's."""
        known = [_token(t) for t in terms if t in self.vocab and t]
        if not known:
            return {}
        hits = self._search("run a BM25 search", data=[" ".join(known)], anns_field="sparse", limit=min(n, 16_384),
                            search_params={"metric_type": "BM25"}, output_fields=[])
        scale = 1.0 + self._k1
        return {int(h["id"]): float(h["distance"]) / scale for h in hits if float(h["distance"]) > 0}

    def dense_scores(self, qvec: np.ndarray, n: int) -> dict[int, float]:
        """Inner products of the ``n`` nearest chunk vectors, from the server."""
        hits = self._search("run a vector search", data=[np.asarray(qvec, dtype=np.float32).tolist()], anns_field="dense",
                            limit=min(n, 16_384), search_params=self._dense_params, output_fields=[])
        return {int(h["id"]): float(h["distance"]) for h in hits}

    def postings(self) -> Postings:
        """Postings built at load from the chunks' terms."""
        return self._postings

    def chunk_vectors(self) -> np.ndarray:
        """Every chunk vector, read from the server in row order."""
        client = self._connected()
        rows = _read_rows(client, self.location, self.generation, ["row", "dense"], self._n_chunks,
                          self.settings, self.settings.vector_read_batch)
        if not rows:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.asarray([r["dense"] for r in rows], dtype=np.float32)

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
