"""Command: `digest bench ingest [--json] [--records N] [--repeat N] [--skip-bulk]`."""

from __future__ import annotations

import click

from digest.cli.app import bench, echo_json


@bench.command("ingest")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--records", type=click.IntRange(min=1000), default=1_000_000, show_default=True,
              help="Snapshot records to generate for the bulk import benchmark.")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Repetitions of the RSS benchmarks (the best one counts).")
@click.option("--skip-bulk", is_flag=True, help="Run only the arXiv RSS benchmarks.")
def bench_ingest(as_json: bool, records: int, repeat: int, skip_bulk: bool) -> None:
    """Ingest speed: arXiv RSS parse and end-to-end store, snapshot bulk import, against baselines."""
    from digest.bench.ingest import format_report, run

    result = run(records=records, repeat=repeat, skip_bulk=skip_bulk)
    if as_json:
        echo_json(result)
    else:
        click.echo(format_report(result))
