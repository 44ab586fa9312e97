"""``python -m eval``: retrieval accuracy of the corpus index (or a BEIR / SQuAD dataset), as a table.

    python -m eval                                   # seed QA set, test split, index/ (built if missing)
    python -m eval --split dev --json r.json --plot p.png --failures f.json
    python -m eval --squad KorQuAD_v1.0_dev.json --json k.json
    python -m eval --beir msmarco-kor-dev                 # qrels/test.tsv, or qrels/dev.tsv when there is no test
    python -m eval --check                           # fail when a metric drops below eval/expected.json
    python -m eval --index milvus://127.0.0.1:19530/seed      # the same, on an index on a Milvus server
    python -m eval --squad KorQuAD_v1.0_dev.json --keep kq --milvus 127.0.0.1:19530   # dataset index served by Milvus

With the seed QA set, the conversations of eval/conversations.jsonl (same split) are scored too: follow-up turns
asked with the turns before them as history, and turns that change the topic.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from indexer.errors import KoragError

from .data import DEFAULT_CONVERSATIONS, DEFAULT_QA, load_beir, load_conversations, load_qa, load_squad
from .expected import DEFAULT_EXPECTED, check_expected
from .run import KS, evaluate_conversations, evaluate_docs, evaluate_qa

MODES_ORDER = ("bm25", "dense", "hybrid")


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table of one report."""
    cols = [f"hit@{k}" for k in KS] + ["mrr@10", "ndcg@10", "doc_hit@1"]
    rerank = f", reranked by {report['reranker']}" if report.get("reranker") else ""
    lines = [f"dataset {report['dataset']}: {report['n_queries']} queries{rerank}", "mode     " + " ".join(f"{c:>9}" for c in cols)]
    for mode in MODES_ORDER:
        m = report["modes"].get(mode)
        if m:
            lines.append(f"{mode:<8} " + " ".join(f"{m[c]:>9.3f}" for c in cols))
    if report.get("answer_accuracy") is not None:
        lines.append(f"answer-sentence accuracy {report['answer_accuracy']:.3f}")
    d = report.get("direct")
    if d:
        lines.append(f"direct-answer accuracy {d['accuracy']:.3f} ({d['n_factoid']} factoid questions; a direct answer "
                     f"given for {d['given']:.3f})")
    conv = report.get("conversations")
    if conv:
        lines.append(f"conversations ({conv['n_conversations']}): follow-up accuracy {conv['followup_accuracy']:.3f} "
                     f"(alone {conv['followup_alone_accuracy']:.3f}; {conv['n_followup']} turns), topic change kept to its "
                     f"document {conv['topic_change_doc']:.3f} (answer {conv['topic_change_accuracy']:.3f}; "
                     f"{conv['n_topic_change']} turns), first turns {conv['first_accuracy']:.3f}")
    if report.get("page_accuracy") is not None:
        lines.append(f"answered citing the right page {report['page_accuracy']:.3f} ({report['n_paged']} questions with a page)")
    ab = report.get("abstention")
    if ab:
        lines.append(f"abstention precision {ab['precision']:.3f} recall {ab['recall']:.3f} "
                     f"(answerable refused {ab['answerable_refused']:.3f}; {ab['n_unanswerable']} unanswerable)")
    lat = report.get("latency_ms")
    if lat:
        lines.append(f"latency ms: search p50 {lat['search_p50']:.1f} p95 {lat['search_p95']:.1f}; "
                     f"ask p50 {lat['ask_p50']:.1f} p95 {lat['ask_p95']:.1f}")
    return "\n".join(lines)


def save_plot(report: dict[str, Any], path: str) -> None:
    """PNG of Hit@k against k, one line per mode (English labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for mode in MODES_ORDER:
        m = report["modes"].get(mode)
        if m:
            ks = list(range(1, len(m["curve"]) + 1))
            ax.plot(ks, m["curve"], marker="o", label=mode)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("Hit@k")
    n = report.get("n_answerable", report["n_queries"])
    ax.set_title(f"Hit@k by retrieval mode — {report['dataset']} ({n} answerable queries)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _public(report: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k not in ("failures", "answers")}
    if isinstance(out.get("conversations"), dict):
        out["conversations"] = {k: v for k, v in out["conversations"].items() if k != "failures"}
    return out


def has_server_index(location: str) -> bool:
    """Whether the Milvus server of ``location`` holds that index (raises when the server cannot be reached)."""
    from indexer.milvus_store import has_index

    return has_index(location)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index",
                        help="index folder, or milvus://HOST:PORT/NAME (default: index; built from --corpus if missing)")
    parser.add_argument("--milvus", metavar="HOST:PORT",
                        help="with --beir/--squad: publish the dataset's index to this Milvus server (as "
                             "milvus://HOST:PORT/<dataset>) and evaluate it there")
    parser.add_argument("--corpus", default="corpus", help="corpus folder used when the index is missing (default: corpus)")
    parser.add_argument("--qa", default=str(DEFAULT_QA), help="QA set in JSON lines (default: eval/qa.jsonl)")
    parser.add_argument("--conversations", default=str(DEFAULT_CONVERSATIONS),
                        help="conversations in JSON lines, scored with the seed QA set (default: eval/conversations.jsonl; "
                             "'' for none)")
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"], help="QA split to report (default: test)")
    parser.add_argument("--k", type=int, default=10, help="ranking depth (default 10)")
    parser.add_argument("--beir", metavar="DIR", help="evaluate on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")
    parser.add_argument("--beir-split", default=None, metavar="SPLIT",
                        help="qrels file of --beir to score (default: test when qrels/test.tsv exists, else dev)")
    parser.add_argument("--model", default=None,
                        help="with --beir/--squad: embedding model of the temporary index (default: the --index "
                             "folder's model when it exists, else the default e5-small; use-m3 or a folder/hub id)")
    parser.add_argument("--squad", metavar="FILE", help="evaluate on a SQuAD/KorQuAD JSON file (every paragraph a document)")
    parser.add_argument("--keep", metavar="DIR",
                        help="with --beir/--squad: build the dataset's index in DIR/NAME and keep it; a later run with "
                             "the same data and settings reuses it instead of embedding everything again")
    parser.add_argument("--json", metavar="PATH", help="write the metrics as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write a PNG of Hit@k against k per mode")
    parser.add_argument("--failures", metavar="PATH", help="write the misses (question, expected, what came first) as JSON")
    parser.add_argument("--reranker", metavar="NAME", help="optional cross-encoder (hub id or folder) re-ordering the best passages")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when a metric is below its floor in {DEFAULT_EXPECTED.name}")
    parser.add_argument("--expected", default=str(DEFAULT_EXPECTED), help="floors file for --check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from indexer.build import build_from_documents, build_index
    from indexer.format import read_manifest
    from indexer.store import is_server_location, open_store
    from retriever import Retriever

    t0 = time.perf_counter()
    try:
        index = Path(args.index)
        server = is_server_location(args.index)
        if args.beir or args.squad:
            settings: dict[str, Any] = {}
            if index.exists() or server:
                man = open_store(args.index).manifest if server else read_manifest(index)
                settings = {"model": man["model"]["id"], "chunk_size": man["chunker"]["chunk_size"],
                            "overlap": man["chunker"]["overlap"]}
            if args.model:
                settings["model"] = args.model
            if args.beir:
                split = args.beir_split or ("test" if (Path(args.beir) / "qrels" / "test.tsv").is_file() else "dev")
                docs, queries = load_beir(args.beir, split=split)
                name = f"beir:{Path(args.beir).name}" + ("" if split == "test" else f":{split}")
            else:
                docs, queries = load_squad(args.squad)
                name = f"squad:{Path(args.squad).stem}"
            with tempfile.TemporaryDirectory(prefix="korag-eval-") as tmp:
                where = Path(args.keep) / name.replace(":", "-") if args.keep else Path(tmp) / "index"
                build_from_documents(docs, where, progress=sys.stderr.isatty(), incremental=bool(args.keep), **settings)
                if args.milvus:  # the very index just built (or kept), served by Milvus
                    from indexer.milvus_store import publish_folder

                    served = f"milvus://{args.milvus}/{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
                    publish_folder(where, served)
                    r = Retriever.load(served, reranker=args.reranker)
                else:
                    r = Retriever.load(where, reranker=args.reranker)
                report = evaluate_docs(r, queries, dataset=name, k=args.k)
        else:
            missing = not has_server_index(args.index) if server else not index.exists()
            if missing:
                print(f"no index at {args.index}; building it from {args.corpus} ...", file=sys.stderr)
                build_index(args.corpus, args.index if server else index, progress=sys.stderr.isatty())
            r = Retriever.load(args.index if server else index, reranker=args.reranker)
            split = None if args.split == "all" else args.split
            name = "seed" if Path(args.qa).resolve() == DEFAULT_QA.resolve() else Path(args.qa).stem
            report = evaluate_qa(r, load_qa(args.qa), split=split, k=args.k, name=name)
            if args.conversations and name == "seed":  # the conversations are over the seed corpus
                report["conversations"] = evaluate_conversations(r, load_conversations(args.conversations), split=split)
    except (KoragError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["reranker"] = args.reranker  # the dataset name stays: --check looks floors up by it
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(format_table(report))
    print(f"({report['seconds']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(_public(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        save_plot(report, args.plot)
    if args.failures:
        Path(args.failures).write_text(
            json.dumps({"failures": report.get("failures", []), "answers": report.get("answers", []),
                        "conversation_failures": (report.get("conversations") or {}).get("failures", [])},
                       ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8")
    if args.check:
        problems = check_expected(report, args.expected)
        for p in problems:
            print(f"below floor: {p}", file=sys.stderr)
        if problems:
            return 1
        print("all metrics at or above their floors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
