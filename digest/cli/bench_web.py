"""Command: `digest bench web [--seconds S] [--json]`."""

from __future__ import annotations

import click

from digest.cli.app import FiniteFloatRange, bench, echo_json


@bench.command("web")
@click.option("--seconds", type=FiniteFloatRange(min=1, max=120), default=10, show_default=True,
              help="Length of each phase (full feeds, then 304s); at most 20,000 requests a phase.")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=8, show_default=True,
              help="Concurrent keep-alive clients (loopback only).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_web(seconds: float, concurrency: int, as_json: bool) -> None:
    """Feed endpoint under load while ingest writes: requests/s and p99 for full feeds and 304s."""
    from digest.bench.web import format_report, run

    result = run(seconds=seconds, concurrency=concurrency,
                 progress=None if as_json else lambda msg: click.echo(msg, err=True))
    if as_json:
        echo_json(result)
    else:
        click.echo(format_report(result))
