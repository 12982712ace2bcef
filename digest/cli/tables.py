"""Tables for people: rich on a terminal, plain tab-separated lines otherwise (pipes, CliRunner)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="minutes") if hasattr(value, "hour") else value.isoformat())
    return str(value)


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)
        return
    if title:
        click.echo(f"{title}:")
    click.echo("\t".join(columns))
    for row in rows:
        click.echo("\t".join(_cell(v).replace("\t", " ").replace("\n", " ") for v in row))
