"""``python -m indexer CORPUS --out INDEX``: build an index folder, or update it with the corpus' changes.

``--out milvus://HOST:PORT/NAME`` builds the index on a Milvus server instead (see :mod:`indexer.milvus_store`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from .build import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP, build_index
from .dense import KINDS
from .errors import KoragError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Build a search index folder from a folder of documents.")
    parser.add_argument("corpus", help="folder of .txt/.md/.html/.hwp/.hwpx/.pdf/.docx documents (never modified)")
    parser.add_argument("--out", default="index",
                        help="index folder to write (replaced atomically; default: index), or milvus://HOST:PORT/NAME "
                             "for an index on a Milvus server (published when complete)")
    parser.add_argument("--model", default=None,
                        help="embedding model: a bundled one (e5-small, the default; use-m3, ~40x faster to index, "
                             "weaker), a sentence-transformers hub id in the local cache, or a local model folder")
    parser.add_argument("--device", default=None,
                        help="where the embedding model runs: cpu (default for the bundled models), cuda, mps ...")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help=f"max characters per chunk (default {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help=f"sentences shared by neighbouring chunks (default {DEFAULT_OVERLAP})")
    parser.add_argument("--batch-size", type=int, default=64, help="embedding batch size (default 64)")
    parser.add_argument("--full", action="store_true",
                        help="rebuild everything; by default an existing index built with the same model and settings "
                             "is updated: only added, changed and removed files are processed")
    parser.add_argument("--dense", choices=KINDS, default="auto",
                        help="FAISS index: exact below 50,000 chunks and IVF above (auto, the default), or forced")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        report = build_index(args.corpus, args.out, model=args.model, chunk_size=args.chunk_size,
                             overlap=args.overlap, batch_size=args.batch_size, progress=not args.quiet,
                             incremental=not args.full, dense_kind=args.dense, device=args.device)
    except (KoragError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, no permission to write the index folder, ...
        print(f"error: cannot write the index: {exc}", file=sys.stderr)
        return 2
    for s in report.skipped:
        print(f"skipped {s.source}: {s.reason}", file=sys.stderr)
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
