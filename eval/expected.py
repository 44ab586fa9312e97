"""Pinned metric floors per dataset and mode (``eval/expected.json``), checked by ``--check`` and a test.

A metric fails when it is below ``floor - tolerance``; the tolerance absorbs float noise, not regressions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_EXPECTED", "check_expected"]

DEFAULT_EXPECTED = Path(__file__).with_name("expected.json")


def _get(report: dict[str, Any], dotted: str) -> float | None:
    cur: Any = report
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur) if isinstance(cur, (int, float)) else None


def check_expected(report: dict[str, Any], path: str | os.PathLike[str] = DEFAULT_EXPECTED) -> list[str]:
    """Problems (empty when every pinned metric of ``report['dataset']`` holds)."""
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    tol = float(spec.get("tolerance", 0.0))
    floors = spec.get("datasets", {}).get(report["dataset"])
    if floors is None:
        return [f"no floors pinned for dataset {report['dataset']!r} in {path}"]
    problems = []
    for key, floor in floors.items():
        value = _get(report, key)
        if value is None:
            problems.append(f"{key}: missing from the report")
        elif key.endswith("answerable_refused"):
            if value > floor + tol:
                problems.append(f"{key} = {value:.3f} > ceiling {floor:.3f}")
        elif value < floor - tol:
            problems.append(f"{key} = {value:.3f} < floor {floor:.3f}")
    return problems
