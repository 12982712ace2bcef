"""Commands: `digest init`, `digest ingest`, `digest backfill` (also registers `papers` and `status`).

Exit codes of `digest ingest` (fetching due feeds): 0 when at least one feed succeeded or nothing
was due, even if some feeds failed (each failure is printed with its reason; cron mails stderr);
1 when every feed attempted failed, which usually means the network or the config is broken.
`digest ingest --file` exits 1 with a one-line reason when the file cannot be read as a feed.
`digest backfill` exits 1 when the backfill failed (what it read before is stored).
"""

from __future__ import annotations


from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from digest.cli import papers, status  # noqa: F401  (registers `papers` and `status`)
from digest.cli.app import Context, cli, echo_json, pass_ctx, progress_bar
from digest.config import redact_url
from digest.ingest import FeedRun
from digest.models import SOURCE_KINDS, IngestStats

if TYPE_CHECKING:
    from digest.backfill import BackfillRun


def _stats_line(stats: IngestStats) -> str:
    if stats.added == 0 and stats.merged == 0:
        return f"nothing new ({_entries(stats.seen)} already stored)" if stats.seen else "no entries"
    versions = "new version" if stats.new_versions == 1 else "new versions"
    return (f"{_entries(stats.seen)}: {stats.new} new, {stats.new_versions} {versions}, "
            f"{stats.merged} merged, {stats.unchanged} unchanged")


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or migrate the database and apply the config (safe to run again)."""
    from digest.configure import apply_config

    settings = ctx.settings
    store = ctx.store  # Store.open migrates to the newest schema
    apply_config(settings, store)
    click.echo(f"database ready: {redact_url(settings.database_url)} (schema up to date)")
    click.echo(f"feeds configured: {len(settings.feeds)}; papers stored: {store.paper_count()}")


@cli.command()
@click.option("--file", "path", type=click.Path(dir_okay=True, path_type=str), default=None,
              help="Ingest a local capture instead of fetching the due feeds.")
@click.option("--kind", type=click.Choice(SOURCE_KINDS), default=None, help="Kind of the file (detected if omitted).")
@click.option("--feed-name", default=None, help="Feed name recorded as the papers' via (default: file:<name>).")
@pass_ctx
def ingest(ctx: Context, path: str | None, kind: str | None, feed_name: str | None) -> None:
    """Fetch the feeds that are due, or ingest one local file with --file."""
    from digest.ingest import ingest_due, ingest_file

    if path is None:
        if kind or feed_name:
            raise click.UsageError("--kind and --feed-name go with --file")
        runs = ingest_due(ctx.settings, ctx.store, progress=_print_run)
        if not runs:
            click.echo("no feeds due")
        elif all(r.failed for r in runs):
            ctx_exit(1)
        return
    with progress_bar(f"ingesting {path}") as bar:
        stats = ingest_file(ctx.store, path, kind=kind, feed_name=feed_name,
                            progress=bar.advance if bar else None)
    click.echo(f"{path}: {_stats_line(stats)}")
    _print_warnings(path, stats.warnings)


def _print_run(run: FeedRun) -> None:
    if run.backfill is not None:
        _print_backfill(run.backfill)
    if run.failed:
        click.echo(f"{run.feed_name}: error: {run.error}", err=True)
        return
    detail = {"quiet": "quiet (no announcement)", "stale": "stale (same batch as before; will retry soon)",
              "not-modified": "not modified"}.get(run.status)
    click.echo(f"{run.feed_name}: {detail or _stats_line(run.stats)}")
    _print_warnings(run.feed_name, run.warnings)


def _print_warnings(name: str, warnings: tuple[str, ...], *, shown: int = 5) -> None:
    for warning in warnings[:shown]:
        click.echo(f"{name}: warning: {warning}", err=True)
    if len(warnings) > shown:
        click.echo(f"{name}: warning: {len(warnings) - shown} more warning(s) not shown", err=True)


def ctx_exit(code: int) -> None:
    click.get_current_context().exit(code)


_DAY = click.DateTime(formats=["%Y-%m-%d"])
#: arXiv's first papers (August 1991); bioRxiv (2013) and Hugging Face's lists (2023) are younger.
EARLIEST_DAY = date(1991, 1, 1)


@cli.command()
@click.argument("feed_name", metavar="FEED")
@click.option("--from", "date_from", type=_DAY, required=True, help="First day to read (YYYY-MM-DD, UTC).")
@click.option("--to", "date_to", type=_DAY, default=None, help="Last day to read (default: today, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print what was stored as a JSON object.")
@pass_ctx
def backfill(ctx: Context, feed_name: str, date_from: datetime, date_to: datetime | None, as_json: bool) -> None:
    """Read FEED's earlier days from its source's API and store them.

    arXiv feeds ask the arXiv API by category and submission date (and, for a range reaching today,
    for the papers updated since it starts: new versions); bioRxiv/medRxiv feeds the details API;
    hf-daily feeds Hugging Face's list of each day. Papers already stored are merged, not repeated,
    so a backfill can be run again. The feed's polling state is left as it is.
    """
    from digest.backfill import backfill_feed
    from digest.dates import utcnow

    settings, store = ctx.settings, ctx.store
    feed = settings.feed(feed_name)
    now = utcnow()
    today = now.date()
    first, last = date_from.date(), (date_to.date() if date_to else today)
    if first < EARLIEST_DAY:
        raise click.BadParameter(f"--from {first} is before {EARLIEST_DAY}, when arXiv began: no source has papers "
                                 "that old", param_hint="--from")
    # A day ahead of UTC is allowed (it is already tomorrow east of it) and read up to today.
    if last > today + timedelta(days=1):
        raise click.BadParameter(f"--to {last} has not happened yet (today is {today} UTC)", param_hint="--to")
    last = min(last, today)
    if first > last:
        raise click.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    store.sync_feeds(settings.feeds)
    with progress_bar(f"{feed.name}: {first}..{last}") as bar:
        run = backfill_feed(settings, store, feed, first, last, now=now,
                            on_page=(lambda page: bar.advance(len(page.records))) if bar else None)
    if as_json:
        echo_json(_backfill_json(run))
    else:
        _print_backfill(run)
    if run.failed:
        ctx_exit(1)


def _backfill_json(run: BackfillRun) -> dict[str, Any]:
    stats = run.stats
    return {"feed": run.feed_name, "from": run.date_from.isoformat(), "to": run.date_to.isoformat(), "read": run.read,
            "new": stats.new, "new_versions": stats.new_versions, "merged": stats.merged, "unchanged": stats.unchanged,
            "error": run.error}


def _print_backfill(run: BackfillRun) -> None:
    if run.failed:
        click.echo(f"{run.feed_name}: backfill {run.days} failed after {run.read} entries "
                   f"({_stats_line(run.stats)} stored): {run.error}", err=True)
    else:
        click.echo(f"{run.feed_name}: backfill {run.days}: {_stats_line(run.stats)}")
    _print_warnings(run.feed_name, run.warnings)
