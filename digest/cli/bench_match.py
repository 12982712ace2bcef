"""Command: digest bench match (see digest.bench.match and docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import bench, echo_json


#: The real captures the match and search benchmarks draw papers and queries from.
corpus_option = click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
                             help="Folder of arXiv rss_cache_*.json files (default: tests/data/corpus).")


@bench.command("match")
@click.option("--queries", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True,
              help="Saved queries to index.")
@click.option("--papers", type=click.IntRange(1, 1_000_000), default=2_000, show_default=True,
              help="Papers to match against them.")
@click.option("--sample", type=click.IntRange(1, 1_000_000), default=10, show_default=True,
              help="Papers brute force runs on (then extrapolated).")
@click.option("--seed", default=7, show_default=True, help="Seed of the query generator.")
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_match(queries: int, papers: int, sample: int, seed: int, corpus: Path | None, as_json: bool) -> None:
    """Match saved queries against papers through the index and by brute force."""
    from digest.bench.match import run

    result = run(queries=queries, papers=papers, sample=sample, seed=seed, corpus=corpus)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['queries']:,} queries x {result['papers']:,} papers: "
               f"{result['match_seconds']:.2f} s ({result['match_cpu_seconds']:.2f} s CPU), "
               f"{result['matches']:,} matches, {result['candidates_per_paper']:.0f} candidates/paper")
    click.echo(f"brute force (extrapolated from {result['brute_force_sample_papers']} papers): "
               f"{result['brute_force_seconds_extrapolated']:.1f} s -> {result['ratio']}x "
               f"({result['cpu_ratio']}x CPU); identical: {'yes' if result['identical'] else 'NO'}")
    click.echo(f"index build {result['index_build_seconds']:.1f} s, document build "
               f"{result['document_build_seconds']:.1f} s; target (<= 3 s and >= 50x): "
               f"{'met' if result['within_target'] else 'not met'}")
