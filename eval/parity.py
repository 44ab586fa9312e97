"""``python -m eval.parity --index index --other milvus://127.0.0.1:19530/seed``: two backends of one index, compared.

Scores the seed QA set (all splits) on both indexes (Hit@1 per mode) and asks every seed question on both: the
share of questions whose answer text (the answer sentences) is the same, and the questions where it is not.
The acceptance bar of the Milvus backend (issue #17): Hit@1 within 0.5 point, the same answer on >= 95 %.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from indexer.errors import KoragError

from .data import DEFAULT_QA, load_qa
from .run import evaluate_qa

__all__ = ["compare", "main"]


def compare(index: str, other: str, qa: str | Path = DEFAULT_QA) -> dict[str, Any]:
    """Hit@1 of every mode on both indexes, and how often ``ask()`` gives both the same answer text."""
    from retriever import Retriever

    items = load_qa(qa)
    a, b = Retriever.load(index), Retriever.load(other)
    out: dict[str, Any] = {"index": index, "other": other, "n_questions": len(items), "hit@1": {}}
    ra, rb = evaluate_qa(a, items, split=None, name="seed"), evaluate_qa(b, items, split=None, name="seed")
    for mode, m in ra["modes"].items():
        out["hit@1"][mode] = {"index": m["hit@1"], "other": rb["modes"][mode]["hit@1"],
                              "points": round(100 * (rb["modes"][mode]["hit@1"] - m["hit@1"]), 2)}
    out["answer_accuracy"] = {"index": ra.get("answer_accuracy"), "other": rb.get("answer_accuracy")}
    differ = []
    for it in items:
        x, y = a.ask(it.question), b.ask(it.question)
        if x.text != y.text:
            differ.append({"question": it.question, "index": x.text, "other": y.text})
    out["same_answer"] = 1 - len(differ) / max(len(items), 1)
    out["differ"] = differ
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.parity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index", help="the reference index (default: the folder index)")
    parser.add_argument("--other", required=True, help="the index to compare, e.g. milvus://127.0.0.1:19530/seed")
    parser.add_argument("--qa", default=str(DEFAULT_QA), help="QA set (default: the seed set, every split)")
    parser.add_argument("--json", metavar="PATH", help="write the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        res = compare(args.index, args.other, args.qa)
    except (KoragError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for mode, h in res["hit@1"].items():
        print(f"{mode:<7} hit@1 {h['index']:.3f} vs {h['other']:.3f} ({h['points']:+.2f} points)")
    print(f"answer-sentence accuracy {res['answer_accuracy']['index']} vs {res['answer_accuracy']['other']}")
    print(f"same answer text on {res['same_answer']:.3f} of {res['n_questions']} questions")
    for d in res["differ"]:
        print(f"  differs: {d['question']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
