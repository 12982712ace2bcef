"""Tables for people: rich on a terminal, plain tab-separated lines otherwise (pipes, CliRunner)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click


def cell(value: Any) -> str:
    """One value as people read it: "-" for None, lists joined, times to the minute."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="minutes") if hasattr(value, "hour") else value.isoformat())
    return str(value)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _no_color() -> bool:
    # https://no-color.org: any non-empty value. rich drops colours for it but still writes bold and
    # italic escapes, which is exactly what a NO_COLOR user (or a dumb terminal log) does not want.
    return bool(os.environ.get("NO_COLOR"))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if _stdout_is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(cell(v) for v in row))
        # color_system=None makes rich write no escape sequences at all, not only no colours.
        console = Console(color_system=None) if _no_color() else Console()
        console.print(table)
        return
    if title:
        click.echo(f"{title}:")
    click.echo("\t".join(columns))
    for row in rows:
        click.echo("\t".join(cell(v).replace("\t", " ").replace("\n", " ") for v in row))
