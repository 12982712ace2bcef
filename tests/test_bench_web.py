"""`digest bench web` stays bounded and reports a clean run (a short smoke run of the real thing)."""

from __future__ import annotations

from digest.bench.web import format_report, run


def test_bench_web_smoke() -> None:
    result = run(seconds=1, concurrency=2, papers=200)
    assert result["full"]["requests"] > 0 and result["not_modified"]["requests"] > 0
    assert result["full"]["errors"] == 0 and result["not_modified"]["errors"] == 0
    assert result["database_locked"] == 0 and result["writer_failures"] == []
    assert "req/s" in format_report(result)
