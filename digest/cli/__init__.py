"""Command-line face of digest. ``main`` is the console-script entry point."""

from __future__ import annotations

from digest.cli.app import cli

# Importing a module registers its commands on the group.
from digest.cli import ingest, match, digests, feeds, service, demo, bench_ingest  # noqa: E402,F401
from digest.cli import bench_digests  # noqa: E402,F401
from digest.cli import bench_web  # noqa: E402,F401
from digest.cli import bench_match  # noqa: E402,F401
from digest.cli import bench_search  # noqa: E402,F401
from digest.cli import unsubscribe_mail  # noqa: E402,F401

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="digest")
