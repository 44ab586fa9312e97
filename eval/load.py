"""``python -m eval.load``: ``ask()`` latency for one user and for several concurrent chat sessions.

Each session is a thread asking the seed questions one after another against one shared
:class:`~retriever.Retriever`, as the chat server's request threads do. Run it alone: another CPU-heavy
process on the machine changes the numbers completely.

    python -m eval.load --index index --sessions 4
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence

from retriever import Retriever

from .data import DEFAULT_QA, load_qa
from .metrics import percentile

__all__ = ["session_latency"]


def session_latency(r: Retriever, questions: Sequence[str], sessions: int, rounds: int = 2) -> dict[str, float]:
    """p50/p95 ``ask`` milliseconds over ``sessions`` concurrent threads, each asking ``questions`` ``rounds`` times.

    >>> session_latency(Retriever.load("index"), ["GPU 확보 계획은?"], sessions=2)["n"]  # doctest: +SKIP
    4
    """
    if sessions < 1:
        raise ValueError(f"sessions={sessions} must be 1 or more")
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(sessions)

    def run(offset: int) -> None:
        mine = []
        order = list(questions[offset % len(questions):]) + list(questions[:offset % len(questions)])
        start.wait()
        for _ in range(rounds):
            for q in order:
                t = time.perf_counter()
                r.ask(q)
                mine.append((time.perf_counter() - t) * 1000)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=run, args=(i * 7,)) for i in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"sessions": sessions, "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "questions_per_s": len(times) / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index")
    parser.add_argument("--qa", default=str(DEFAULT_QA))
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4], help="concurrent sessions to measure (default: 1 4)")
    args = parser.parse_args(argv)
    r = Retriever.load(args.index)
    questions = [it.question for it in load_qa(args.qa)]
    for q in questions:  # warm-up
        r.ask(q)
    base = None
    for n in args.sessions:
        m = session_latency(r, questions, n)
        base = base or m["p50"]
        print(f"{n} session(s): ask p50 {m['p50']:.1f} ms, p95 {m['p95']:.1f} ms, {m['questions_per_s']:.1f} questions/s, "
              f"p50 {m['p50'] / base:.2f}x one session's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
