"""Shared pytest fixtures.

Tests never touch the network: the Hugging Face libraries are put in offline mode
before they are imported (a test that needs the online code path clears it with
``monkeypatch.delenv``), and every model a test uses is either the bundled USE-m3
or built here on disk.
"""

from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT / "corpus"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the seed index (built once per session with the bundled model) belongs to the slow tier."""
    for item in items:
        if "seed_index" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """All of the repository's ``corpus/*.txt`` files, concatenated (UTF-8)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS_DIR.glob("*.txt")))
    if not text.strip():
        pytest.fail(f"no corpus text under {CORPUS_DIR}")
    return text


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, corpus_text: str) -> pathlib.Path:
    """A tiny sentence-transformers model (BERT, hidden 32, 2 layers, mean pooling,
    normalised, 32-dim output) saved on disk, built without any download.

    Its WordPiece tokenizer is trained on the corpus text; its weights are random
    (seeded), so it embeds deterministically but not meaningfully. Load it with
    ``indexer.embedding.load_model(str(tiny_model_dir))``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer
    from sentence_transformers import SentenceTransformer

    root = tmp_path_factory.mktemp("tiny-model")
    hf_dir = root / "hf"
    out_dir = root / "tiny-bert"

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=1500, special_tokens=specials, min_frequency=1)
    tok.train_from_iterator(corpus_text.splitlines(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(s, tok.token_to_id(s)) for s in ("[CLS]", "[SEP]")],
    )
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    fast.save_pretrained(str(hf_dir))

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(hf_dir))

    transformer = Transformer(str(hf_dir), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu").save(str(out_dir))
    return out_dir


@pytest.fixture(scope="session")
def tiny_reranker_dir(tiny_model_dir: pathlib.Path) -> pathlib.Path:
    """A tiny cross-encoder (BERT with one output, random seeded weights, the tiny model's tokenizer) on disk:
    it scores pairs deterministically but not meaningfully, for plumbing tests."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    hf_dir = tiny_model_dir.parent / "hf"
    out = tiny_model_dir.parent / "tiny-reranker"
    tok = BertTokenizerFast.from_pretrained(str(hf_dir))
    torch.manual_seed(1)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """An index of the repository's corpus with the bundled default model (built once per session)."""
    from indexer import build_index

    out = tmp_path_factory.mktemp("seed") / "index"
    build_index(CORPUS_DIR, out, progress=False)
    return out


def chat_client(url: str):  # a gradio_client.Client
    """A ``gradio_client.Client`` for the chat at ``url`` whose requests wait up to two minutes.

    httpx's default 5 s read timeout turned a slow reply into a test failure (CI, 2 busy cores, an index
    rebuilt in the server's process); the tests check what the chat answers, and latency is the
    benchmarks' job.
    """
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120})


def launch_local(demo):  # a gr.Blocks in, its local URL out
    """Launch a Gradio app on a free loopback port (retrying if the port is taken meanwhile); return its URL."""
    import socket

    from ui.app import launch_app

    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between the probe and the launch
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            _, url, _ = launch_app(demo, port=port, prevent_thread_lock=True, quiet=True)
            return url
        except OSError as exc:
            last = exc
    raise RuntimeError(f"could not launch the app: {last}")
