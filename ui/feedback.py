"""👍/👎 feedback on answers, appended as JSON lines to a file beside the index folder.

Writing never raises: a failure is logged and :meth:`FeedbackLog.append` returns False, so the chat goes on.

>>> log = FeedbackLog("/tmp/feedback.jsonl")                      # doctest: +SKIP
>>> log.append(feedback_record(answer, "up"))                     # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:  # POSIX: also serialise appends from other processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FEEDBACK_FILE", "FeedbackLog", "default_feedback_path", "feedback_record"]

log = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.jsonl"


def default_feedback_path(index_dir: str | os.PathLike[str]) -> Path:
    """``feedback.jsonl`` in the folder that holds the index folder (never inside it: its files are checksummed)."""
    return Path(index_dir).resolve().parent / FEEDBACK_FILE


def feedback_record(answer: dict[str, Any], vote: str, **extra: Any) -> dict[str, Any]:
    """One line of the feedback file from an ``Answer.to_json()``-shaped dict and a vote ("up"/"down")."""
    rec = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "question": answer.get("question", ""),
        "answer": answer.get("answer", ""),
        "found": bool(answer.get("found", False)),
        "confidence": answer.get("confidence"),
        "citations": [
            {"source": c.get("source"), "doc_id": c.get("doc_id"), "start": c.get("start"), "end": c.get("end")}
            for c in answer.get("citations", [])
        ],
    }
    rec.update(extra)
    return rec


class FeedbackLog:
    """Thread-safe appender of JSON lines."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> bool:
        """Append ``record`` as one JSON line; False (and a log message) when it cannot be written."""
        try:
            line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        except (TypeError, ValueError):
            log.exception("feedback record is not JSON-serialisable; dropped")
            return False
        data = line.encode("utf-8")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        view = memoryview(data)
                        while view:
                            n = os.write(fd, view)
                            view = view[n:]
                    finally:
                        if fcntl is not None:
                            fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)
            except OSError:
                log.exception("cannot write feedback to %s", self.path)
                return False
        return True
