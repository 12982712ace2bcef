"""Commands: feed (print one Atom/RSS feed), feeds export (write every feed as static files)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.app import Context, cli, echo_json, pass_ctx
from digest.tokens import feed_url


@cli.command("feed")
@click.argument("ref", metavar="SUBSCRIPTION_OR_TAG")
@click.option("--format", "fmt", type=click.Choice(["atom", "rss"]), default="atom", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Newest entries to include.")
@pass_ctx
def feed_command(ctx: Context, ref: str, fmt: str, limit: int) -> None:
    """Print a feed. SUBSCRIPTION_OR_TAG is USER_EMAIL/SUBSCRIPTION_NAME or a subscription id,
    tag:NAME for a topic tag, user:EMAIL for all of a user's feed subscriptions, or trending."""
    from digest.render.feed_entries import feed_document, resolve_feed

    settings = ctx.settings
    spec = resolve_feed(ctx.store, settings, ref, limit=limit)
    if spec.feed_token:
        self_url = feed_url(settings, spec.feed_token, spec.name, format=fmt)
    else:
        self_url = f"{settings.web.base_url.rstrip('/')}/feeds/{spec.name}.{fmt}"
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
