"""`digest status`: what the service is doing, as sections others can extend.

Extension point: append a provider to :data:`STATUS_SECTIONS`. A provider takes the CLI
:class:`~digest.cli.app.Context` and returns ``(section name, value)``; the value should be
JSON-serialisable (a list of dicts prints as a table, a dict as "key: value" lines, anything else
as one line). ``digest status --json`` prints ``{section name: value}``. The feeds section is
first; outbox, matching lag and next runs belong to their own modules, e.g.::

    from digest.cli.status import STATUS_SECTIONS
    STATUS_SECTIONS.append(lambda ctx: ("outbox", ctx.store.outbox_summary()))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from digest.cli.app import Context, cli, echo_json, pass_ctx
from digest.cli.tables import cell, print_table

StatusSection = Callable[[Context], tuple[str, Any]]


def feeds_section(ctx: Context) -> tuple[str, Any]:
    """Each configured feed with its health, last success/error, failures and next attempt."""
    rows = []
    for s in ctx.store.feed_states():
        rows.append({"name": s.name, "kind": s.kind, "health": s.health, "papers": s.paper_count,
                     "last_success": s.last_success, "last_attempt": s.last_attempt,
                     "consecutive_failures": s.consecutive_failures, "next_attempt": s.next_attempt,
                     "last_entry_count": s.last_entry_count, "last_error": s.last_error})
    return "feeds", rows


def papers_section(ctx: Context) -> tuple[str, Any]:
    return "papers", {"count": ctx.store.paper_count(), "max_seq": ctx.store.max_seq()}


STATUS_SECTIONS: list[StatusSection] = [feeds_section, papers_section]


def _print_section(name: str, value: Any) -> None:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(value[0])
        print_table(name, columns, [[row.get(c) for c in columns] for row in value])
    elif isinstance(value, list) and not value:
        click.echo(f"{name}: none")
    elif isinstance(value, dict):
        click.echo(f"{name}:")
        for key, item in value.items():
            if isinstance(item, list) and item and all(isinstance(v, dict) for v in item):
                click.echo(f"  {key}:")  # rows of their own (the outbox's problems): one line each
                for row in item:
                    line = row.get("summary") or ", ".join(f"{k} {_text(v)}" for k, v in row.items() if v not in (None, ""))
                    click.echo(f"    {line}")
            else:
                click.echo(f"  {key}: {_text(item)}")
    else:
        click.echo(f"{name}: {_text(value)}")


def _text(value: Any) -> str:
    # Same words as the tables ("-" for nothing) rather than Python's None, [] and {}.
    return "none" if isinstance(value, (list, dict)) and not value else cell(value)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {section: value}.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show feeds with their state and last error (and the other sections registered)."""
    sections = [provider(ctx) for provider in STATUS_SECTIONS]
    if as_json:
        echo_json(dict(sections))
        return
    for name, value in sections:
        _print_section(name, value)
