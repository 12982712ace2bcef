"""Docs are tested: every CLI command appears in the README's command reference (sqlite-utils
does the same), and the README opens with the two quick-start commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from digest.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "digest") -> list[str]:
    found = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, path))
        else:
            found.append(path)
    return found


def test_every_command_is_documented() -> None:
    missing = [c for c in _commands(cli) if f"`{c}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", quick, re.S)
    assert block, "quick start has no code block"
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["python3 tasks.py demo", "python3 tasks.py test"]
