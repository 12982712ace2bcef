"""Docs are tested (as sqlite-utils does): docs/cli.md holds every command's --help and must match
the code; every command appears in the README's command reference; the README opens with the two
quick-start commands. Regenerate docs/cli.md with `python3 tasks.py docs`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
from click.testing import CliRunner

from digest.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = ROOT / "docs" / "cli.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, path))
    return found


def cli_reference() -> str:
    runner = CliRunner()
    parts = ["# Command reference\n",
             "Generated from the code by `python3 tasks.py docs`; a test keeps it current.\n"]
    for path in _commands(cli):
        result = runner.invoke(cli, [*path, "--help"], prog_name="digest", terminal_width=100)
        assert result.exit_code == 0, result.output
        parts.append(f"## digest {' '.join(path)}\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def test_cli_reference_is_current() -> None:
    expected = cli_reference()
    if os.environ.get("DIGEST_UPDATE_DOCS") == "1":
        CLI_DOC.write_text(expected, encoding="utf-8")
    assert CLI_DOC.read_text(encoding="utf-8") == expected, "run `python3 tasks.py docs`"


def test_every_command_is_in_the_readme() -> None:
    leaves = [p for p in _commands(cli) if not isinstance(_lookup(p), click.Group)]
    missing = [" ".join(p) for p in leaves if f"`digest {' '.join(p)}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def _lookup(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


def test_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", quick, re.S)
    assert block, "quick start has no code block"
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["python3 tasks.py demo", "python3 tasks.py test"]
