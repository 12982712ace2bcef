"""Command: digest bench search (see digest.bench.search and docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import bench, echo_json
from digest.cli.bench_match import corpus_option


@bench.command("search")
@click.option("--papers", type=click.IntRange(100, 1_000_000), default=20_000, show_default=True,
              help="Papers in the store (copies of the real corpus).")
@click.option("--queries", type=click.IntRange(1, 10_000), default=40, show_default=True,
              help="Generated queries searched through the index.")
@click.option("--brute", type=click.IntRange(0, 1_000), default=3, show_default=True,
              help="Of those, how many are also searched by evaluating every paper.")
@click.option("--seed", default=5, show_default=True, help="Seed of the query generator.")
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_search(papers: int, queries: int, brute: int, seed: int, corpus: Path | None, as_json: bool) -> None:
    """Search a store through the search index and by evaluating every paper."""
    from digest.bench.search import run

    try:
        result = run(papers=papers, queries=queries, brute=brute, seed=seed, corpus=corpus)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--papers") from None
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['papers']:,} papers, {result['queries']} queries: search {result['search_mean_seconds']:.3f} s "
               f"mean, {result['search_max_seconds']:.3f} s slowest, {result['mean_hits']} hits on average")
    if result["ratio"] is not None:
        click.echo(f"every paper evaluated ({result['brute_force_queries']} queries): "
                   f"{result['brute_force_mean_seconds']:.2f} s mean -> {result['ratio']}x; "
                   f"identical: {'yes' if result['identical'] else 'NO'}")
    click.echo(f"digest match {result['match_seconds_with_index']:.1f} s with the index, "
               f"{result['match_seconds_without_index']:.1f} s without ({result['match_ratio']}x); "
               f"{result['index_postings']:,} postings in {result['index_segments']} segments; database "
               f"{result['database_bytes'] / 1e6:.0f} MB ({result['database_bytes_without_index'] / 1e6:.0f} MB without)")
