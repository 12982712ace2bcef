"""digest.bench.ingest runs and reports (figures are never asserted: see docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from digest.bench.ingest import bench_bulk, generate_snapshot
from digest.cli import cli
from digest.sources.arxiv_snapshot import SnapshotStats, iter_records


def test_generated_snapshot_is_real_records_with_unique_ids(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "s.jsonl"
    generate_snapshot(path, 1000, data=data_dir)
    stats = SnapshotStats()
    with path.open("rb") as f:
        recs = list(iter_records(f, stats=stats))
    assert len(recs) == 1000 and stats.skipped == 0
    assert len({r.arxiv_id for r in recs}) == 1000
    assert len({r.title for r in recs}) == 1000  # copies get varied titles
    assert len({r.doi for r in recs if r.doi}) == sum(1 for r in recs if r.doi)


def test_bulk_benchmark_imports_everything_and_reports(tmp_path: Path, data_dir: Path) -> None:
    result = bench_bulk(records=1000, data=data_dir, workdir=tmp_path)
    assert result["stored"] == 1000 and result["skipped"] == 0
    assert set(result["ratios"]) == {"import/raw_insert", "import/raw_load"}
    assert result["peak_rss_mb"] > 0 and isinstance(result["meets_target"], bool)
    assert not list(tmp_path.iterdir())  # the temporary JSONL and databases are removed


def test_cli_prints_the_rss_figures() -> None:
    out = CliRunner().invoke(cli, ["bench", "ingest", "--skip-bulk", "--repeat", "1"])
    assert out.exit_code == 0, out.output
    assert "arXiv RSS capture, 1504 items" in out.output and "end_to_end" in out.output
