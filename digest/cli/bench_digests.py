"""Command: `digest bench digests [--users N] [--papers M] [--workers W] [--json]`."""

from __future__ import annotations

import click

from digest.cli.app import bench, echo_json


@bench.command("digests")
@click.option("--users", type=click.IntRange(min=1), default=10_000, show_default=True, help="Users (one digest each).")
@click.option("--papers", type=click.IntRange(min=1, max=400), default=20, show_default=True,
              help="Papers per digest.")
@click.option("--workers", type=click.IntRange(min=1, max=8), default=None,
              help="Delivery processes (one SMTP connection each)  [default: as `digest send`, the "
                   "[delivery] connections default, 2]")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_digests(users: int, papers: int, workers: int | None, as_json: bool) -> None:
    """Render and deliver N digests to a local SMTP server, against the render-only baseline."""
    from digest.bench.digests import format_report, run

    result = run(users=users, papers=papers, workers=workers)
    if as_json:
        echo_json(result)
    else:
        click.echo(format_report(result))
