"""The README's "Command line" block lists exactly the flags each command's ``--help`` offers."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = {
    "indexer": "indexer.__main__", "ui": "ui.__main__", "eval": "eval.__main__",
    "eval.tune": "eval.tune", "eval.load": "eval.load", "eval.bench": "eval.bench", "eval.parity": "eval.parity",
    "indexer.milvus_local": "indexer.milvus_local",
}
_LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_OPTION_LINE = re.compile(r"^ {2}(?:-\w(?: \S+)?, )?(--[a-z][a-z0-9-]*)")


def documented_flags() -> dict[str, set[str]]:
    """Long flags per command in the README's Command line block (comments after '#' left out)."""
    section = README.read_text(encoding="utf-8").split("## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    flags: dict[str, set[str]] = {}
    command = None
    for line in block.splitlines():
        code = line.split(" #", 1)[0]
        m = re.match(r"\s*python -m ([\w.]+)", code)
        if m:
            command = m.group(1)
        if command is not None:
            flags.setdefault(command, set()).update(_LONG.findall(code))
    return flags


def help_flags(command: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """Long flags in the options section of ``python -m COMMAND --help``."""
    module = importlib.import_module(COMMANDS[command])
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    return {m.group(1) for line in out.splitlines() if (m := _OPTION_LINE.match(line))} - {"--help"}


def test_the_readme_documents_every_command() -> None:
    assert set(documented_flags()) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_readme_flags_match_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    documented, offered = documented_flags()[command], help_flags(command, capsys)
    assert not documented - offered, f"README documents flags that `python -m {command}` lacks: {documented - offered}"
    assert not offered - documented, f"`python -m {command}` has flags the README leaves out: {offered - documented}"
