"""A corpus's replacement table: fixed strings replaced in the text of chosen files at ingestion.

Like a search engine's mapping character filter, it repairs what a scrape or an export broke, without touching
the files: ``replacements.tsv`` in the corpus folder holds one rule per line, ``GLOB<TAB>FROM<TAB>TO``. GLOB is
matched (``fnmatch``, case-sensitive, ``*`` crosses folders) against the file's path relative to the corpus;
FROM is replaced by TO (which may be empty) everywhere in that file's text, rules in file order. Lines starting
with ``#`` and blank lines are ignored; a malformed line is a warning naming it, and is not applied.

>>> rules, warnings = parse_replacements("2025-*.txt\\t안전 사이트\\t인공지능\\n")
>>> done = apply_replacements("국가안전 사이트위원회", "2025-04-18_msit.txt", rules)
>>> done.text, done.counts
('국가인공지능위원회', {'안전 사이트 → 인공지능': 1})
>>> done.offset(8), done.offset(5)   # "위" moves from 8 to 6; an offset inside "안전 사이트" goes to its start
(6, 2)
"""

from __future__ import annotations

import bisect
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPLACEMENTS_FILE", "Replaced", "ReplacementRule", "apply_replacements", "parse_replacements",
           "read_replacements"]

REPLACEMENTS_FILE = "replacements.tsv"


@dataclass(frozen=True)
class ReplacementRule:
    """Replace ``old`` by ``new`` in the files whose corpus-relative path matches ``glob``."""

    glob: str
    old: str
    new: str
    line: int = 0

    @property
    def label(self) -> str:
        return f"{self.old} → {self.new}"

    def applies_to(self, rel_path: str) -> bool:
        return fnmatch.fnmatchcase(rel_path, self.glob)


@dataclass
class Replaced:
    """The text after the rules, how often each rule fired, and where the text moved (for page offsets)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    # one list per rule that fired: (end of the match in that rule's input, shift after it, start of the match)
    _moves: list[tuple[list[int], list[int], list[int]]] = field(default_factory=list, repr=False)

    def offset(self, old: int) -> int:
        """Where offset ``old`` of the original text lies in :attr:`text` (inside a replaced span: its start)."""
        for ends, shifts, starts in self._moves:
            i = bisect.bisect_right(ends, old)
            shift = shifts[i - 1] if i else 0
            if i < len(starts) and starts[i] < old:  # inside the next match: its new start
                old = starts[i] + shift
            else:
                old += shift
        return old


def parse_replacements(text: str, source: str = REPLACEMENTS_FILE) -> tuple[list[ReplacementRule], list[str]]:
    """Rules of a replacement table's text, and a warning for each line that is not one."""
    rules: list[ReplacementRule] = []
    warnings: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            warnings.append(f"{source}:{n}: ignored: expected GLOB<TAB>FROM<TAB>TO, found {len(parts)} field(s)")
            continue
        glob, old, new = parts
        if not glob.strip() or not old:
            warnings.append(f"{source}:{n}: ignored: the file pattern and the text to replace must not be empty")
            continue
        rules.append(ReplacementRule(glob.strip(), old, new, n))
    return rules, warnings


def read_replacements(path: str | os.PathLike[str]) -> tuple[list[ReplacementRule], list[str]]:
    """The rules of a ``replacements.tsv`` file (UTF-8); an unreadable file is one warning and no rules."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{p.name}: ignored: cannot read it as UTF-8 text ({exc})"]
    return parse_replacements(text, p.name)


def apply_replacements(text: str, rel_path: str, rules: list[ReplacementRule]) -> Replaced:
    """Apply the rules whose glob matches ``rel_path`` to ``text``, in order."""
    done = Replaced(text)
    for rule in rules:
        if not rule.applies_to(rel_path):
            continue
        current = done.text
        pieces: list[str] = []
        ends: list[int] = []
        shifts: list[int] = []
        starts: list[int] = []
        at = shift = 0
        delta = len(rule.new) - len(rule.old)
        while (hit := current.find(rule.old, at)) >= 0:
            pieces += [current[at:hit], rule.new]
            starts.append(hit)
            at = hit + len(rule.old)
            shift += delta
            ends.append(at)
            shifts.append(shift)
        if not starts:
            continue
        pieces.append(current[at:])
        done.text = "".join(pieces)
        done.counts[rule.label] = done.counts.get(rule.label, 0) + len(starts)
        done._moves.append((ends, shifts, starts))
    return done
