"""``python -m ui [--index index] [--corpus corpus] [--model NAME] [--port 7860] [--host 127.0.0.1] [--rebuild]``

Builds the index from the corpus on first run (when the index folder is missing, holds an index in an
older format, or was built with an earlier default embedding model), then serves the chat. Documents added
in the chat are kept in ``<index>.uploads`` and indexed with the corpus (``--no-uploads`` hides the control).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from indexer.store import IndexInfo, index_info

from .app import DEFAULT_HOST, DEFAULT_PORT


def _older_format(info: IndexInfo) -> int | None:
    """The format version of an index written by an earlier version of this program, else None."""
    from indexer.format import FORMAT_VERSION

    v = info.format_version
    return v if v is not None and v < FORMAT_VERSION else None


def _model_change(info: IndexInfo, model: str | None) -> tuple[str, str] | None:
    """``(built with, to build with)`` when the index should be rebuilt with another model.

    That is when ``model`` is given and differs from the index's, or when no model is given and the index was
    built with the default of an earlier version (an index built with a named model is kept as it is).
    """
    from indexer.embedding import BUNDLED_MODELS, DEFAULT_MODEL
    from indexer.format import FORMAT_VERSION

    built = info.model_id
    if built is None or info.format_version != FORMAT_VERSION:  # Retriever.load says what is wrong and how to rebuild
        return None
    if model is not None:
        wanted = model.strip().lower() if model.strip().lower() in BUNDLED_MODELS else model
        return (built, wanted) if wanted != built else None
    return (built, DEFAULT_MODEL) if info.model_default and built != DEFAULT_MODEL else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description="Serve the Korean document Q&A chat (Gradio).")
    parser.add_argument("--index", default="index",
                        help="index folder (built from --corpus if missing; default: index), or milvus://HOST:PORT/NAME")
    parser.add_argument("--corpus", default="corpus", help="corpus folder used to build a missing index (default: corpus)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; 0.0.0.0 exposes it to the network)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index from the corpus before serving")
    parser.add_argument("--model", default=None,
                        help="embedding model to build the index with (default: e5-small, bundled; use-m3, bundled, "
                             "indexes ~40x faster; or a sentence-transformers folder/hub id); an index built with "
                             "another model is rebuilt")
    parser.add_argument("--feedback", default=None,
                        help="file the 👍/👎 votes are appended to (default: feedback.jsonl beside the index folder)")
    parser.add_argument("--reranker", default=None, metavar="NAME",
                        help="optional cross-encoder (hub id in the local cache, or folder) that re-orders the passages")
    parser.add_argument("--no-uploads", action="store_true",
                        help="no document upload in the chat (by default files can be added; they are stored in "
                             "INDEX.uploads beside the index folder and indexed with the corpus)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "sentence_transformers", "bm25s", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from indexer import build_index
    from indexer.errors import KoragError
    from indexer.store import is_server_location

    if is_server_location(args.index):
        return _serve_from_server(args)
    index_dir = Path(args.index)
    needs_build = not index_dir.exists() or (index_dir.is_dir() and not any(index_dir.iterdir()))
    info = None if needs_build else index_info(index_dir)
    if index_dir.exists() and not needs_build and info is None:
        print(f"오류: {str(index_dir)!r} 폴더는 색인이 아닙니다 (manifest.json 없음). 다른 --index 폴더를 지정하세요.",
              file=sys.stderr)
        return 2
    old = None if info is None else _older_format(info)
    change = None if info is None or old is not None else _model_change(info, args.model)
    if needs_build or args.rebuild or old is not None or change is not None:
        why = ("색인을 다시 만듭니다" if args.rebuild and not needs_build else
               f"색인 형식 {old}판으로 만든 색인이라 새 형식으로 다시 만듭니다" if old is not None else
               f"임베딩 모델이 {change[0]}에서 {change[1]}(으)로 바뀌어 색인을 다시 만듭니다" if change is not None else
               "색인이 없어 새로 만듭니다")
        print(f"{why}: {args.corpus} → {index_dir} (처음 한 번, 1분쯤 걸립니다)", flush=True)
        try:
            report = build_index(args.corpus, index_dir, model=args.model, progress=True)
        except (KoragError, ValueError, OSError) as exc:
            print(f"오류: 색인을 만들지 못했습니다: {exc}", file=sys.stderr)
            return 2
        for s in report.skipped:
            print(f"건너뜀 {s.source}: {s.reason}", file=sys.stderr)
        print(report.summary(), flush=True)

    from retriever.live import LiveRetriever

    print(f"색인을 불러오는 중: {index_dir}", flush=True)
    reranker = None
    if args.reranker:
        from retriever.rerank import load_reranker

        try:
            reranker = load_reranker(args.reranker)  # loaded once, kept across index rebuilds
        except KoragError as exc:
            print(f"오류: 재순위 모델을 불러올 수 없습니다: {exc}", file=sys.stderr)
            return 2
    try:
        # follows rebuilds: `python -m indexer CORPUS --out INDEX` while serving switches over atomically
        retriever = LiveRetriever(index_dir, reranker=reranker)
    except KoragError as exc:
        print(f"오류: 색인을 열 수 없습니다: {exc}\n다시 만들려면: python -m ui --index {index_dir} --corpus {args.corpus} --rebuild",
              file=sys.stderr)
        return 2

    from .app import create_app

    demo = create_app(retriever, feedback_path=args.feedback, corpus=None if args.no_uploads else args.corpus)
    return _serve(demo, args)


def _serve_from_server(args: argparse.Namespace) -> int:
    """Serve an index on a Milvus server (``--index milvus://HOST:PORT/NAME``), building it from the corpus when
    the server holds none; documents are not uploaded from the chat (they would go to a folder beside the index)."""
    from indexer import build_index
    from indexer.errors import KoragError
    from indexer.milvus_store import has_index
    from retriever.live import LiveRetriever

    from .app import create_app

    try:
        if args.rebuild or not has_index(args.index):
            print(f"색인을 만듭니다: {args.corpus} → {args.index}", flush=True)
            report = build_index(args.corpus, args.index, model=args.model, progress=True, incremental=not args.rebuild)
            print(report.summary(), flush=True)
        print(f"색인을 불러오는 중: {args.index}", flush=True)
        reranker = None
        if args.reranker:
            from retriever.rerank import load_reranker

            reranker = load_reranker(args.reranker)
        retriever = LiveRetriever(args.index, reranker=reranker)
    except (KoragError, ValueError, OSError) as exc:
        print(f"오류: Milvus 색인을 열 수 없습니다: {exc}", file=sys.stderr)
        return 2
    demo = create_app(retriever, feedback_path=args.feedback, corpus=None)
    return _serve(demo, args)


def _serve(demo: Any, args: argparse.Namespace) -> int:
    """Serve the chat app until Ctrl+C; 2 when the port cannot be opened."""
    from .app import launch_app

    print(f"채팅 주소: http://{args.host}:{args.port}  (끝내려면 Ctrl+C)", flush=True)
    try:
        launch_app(demo, host=args.host, port=args.port, quiet=True)
    except OSError as exc:
        print(f"오류: {args.host}:{args.port}에서 서버를 열 수 없습니다 ({exc}). --port로 다른 포트를 지정하세요.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
