"""Commands: feed (print one Atom/RSS feed), feeds export (write every feed as static files)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.app import Context, cli, echo_json, pass_ctx


@cli.command("feed")
@click.argument("ref", metavar="SUBSCRIPTION_OR_TAG")
@click.option("--format", "fmt", type=click.Choice(["atom", "rss"]), default="atom", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=None,
              help="Newest entries to include [default: 100; trending: the best 50].")
@pass_ctx
def feed_command(ctx: Context, ref: str, fmt: str, limit: int | None) -> None:
    """Print a feed. SUBSCRIPTION_OR_TAG is USER_EMAIL/SUBSCRIPTION_NAME or a subscription id,
    tag:NAME for a topic tag, user:EMAIL for all of a user's feed subscriptions, or trending."""
    from digest.render.feed_entries import feed_document, feed_location, resolve_feed

    spec = resolve_feed(ctx.store, ctx.settings, ref, limit=limit)
    # The self link is where the web app or `digest feeds export` serves this very feed.
    self_url = feed_location(ctx.settings, spec, format=fmt)
    sys.stdout.buffer.write(feed_document(spec, self_url=self_url, format="rss" if fmt == "rss" else "atom"))
    sys.stdout.buffer.flush()


@cli.group("feeds")
def feeds_group() -> None:
    """Static Atom/RSS files."""


@feeds_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the written paths as JSON.")
@pass_ctx
def feeds_export(ctx: Context, directory: Path, as_json: bool) -> None:
    """Write every feed (per subscription, per user, per tag, trending) into DIRECTORY.

    Serve DIRECTORY at <base_url>/feeds/ (without directory listings) and the private feed URLs
    in emails work unchanged."""
    from digest.deliver.files import export_feeds

    paths = export_feeds(ctx.store, ctx.settings, directory)
    if as_json:
        echo_json([str(p) for p in paths])
    else:
        click.echo(f"wrote {len(paths)} feed files under {directory}")
