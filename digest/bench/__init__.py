"""Benchmarks that print ratios against baselines measured in the same run (STYLE.md "Habits").

``digest bench ingest`` runs :mod:`digest.bench.ingest`. Benchmarks are never timed tests: figures go
to docs/benchmarks.md, and the tests only check that the benchmark code runs.
"""
