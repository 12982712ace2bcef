"""Commands: feeds."""

from __future__ import annotations

from digest.cli.app import cli, bench, pass_ctx, echo_json  # noqa: F401
