"""`digest demo`: the README's main job on the embedded default, offline.

Creates a SQLite database in a local data folder, ingests the bundled real captures
(digest/samples/, copies of ../shared/fixtures), matches them against a sample user's alerts
(config/demo.toml) and writes that user's digest as HTML, plain text and an Atom feed.
Everything it runs is the same library code the scheduler runs; only the feeds come from disk.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone
from pathlib import Path

import click

from digest.cli.app import cli
from digest.config import Settings
from digest.resources import config_dir, samples_dir

#: kind of each bundled sample, by file-name prefix (detection would work too; this is explicit)
_SAMPLE_KINDS = {"arxiv-rss": "arxiv-rss", "hf-daily": "hf-daily", "biorxiv": "biorxiv", "rss": "rss"}


def demo_settings(data_dir: Path) -> Settings:
    raw = tomllib.loads((config_dir() / "demo.toml").read_text(encoding="utf-8"))
    raw["data_dir"] = data_dir
    raw["delivery"] = {"method": "maildir", "maildir": str(data_dir / "maildir")}
    return Settings(**raw)


@cli.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Folder for the database and the demo output.")
def demo(data_dir: Path) -> None:
    """Ingest the bundled real feeds offline, match a sample user's alerts, write their digest."""
    from digest.configure import apply_config
    from digest.digests.send import preview
    from digest.ingest import ingest_file
    from digest.match.run import match_new
    from digest.render.feed_entries import feed_document, user_feed
    from digest.store import Store
    from digest.tokens import feed_url

    data_dir = data_dir.resolve()
    settings = demo_settings(data_dir)
    store = Store.open(settings.database_url)
    apply_config(settings, store)
    click.echo(f"database: {settings.database_url}")

    for path in sorted(samples_dir().iterdir()):
        kind = next((k for prefix, k in _SAMPLE_KINDS.items() if path.name.startswith(prefix + "_")), None)
        if kind is None:
            continue
        stats = ingest_file(store, path, kind=kind, feed_name=f"sample-{kind}")
        click.echo(f"ingested {path.name}: {stats.seen} entries, {stats.new} new papers, "
                   f"{stats.new_versions} new versions, {stats.merged} merged, {stats.unchanged} unchanged")
    click.echo(f"stored papers: {store.paper_count()}")

    run = match_new(store)
    click.echo(f"matched: {run}")

    user = settings.users[0]
    now = datetime.now(timezone.utc)
    digest, rendered = preview(store, settings, user.email, period="daily", now=now)
    out = data_dir / "demo"
    out.mkdir(parents=True, exist_ok=True)
    (out / "digest.html").write_text(rendered.html, encoding="utf-8")
    (out / "digest.txt").write_text(rendered.text, encoding="utf-8")
    stored_user = store.get_user(user.email)
    spec = user_feed(store, settings, user.email, now=now)
    self_url = feed_url(settings, stored_user.feed_token, "all", format="atom")
    (out / "feed.atom").write_bytes(feed_document(spec, self_url=self_url, format="atom"))

    click.echo(f"\n{user.name or user.email}'s digest: {rendered.subject}")
    for section in digest.sections:
        click.echo(f"  {section.title}: {len(section.items)} papers")
    click.echo(f"\nwrote {out / 'digest.html'}\n      {out / 'digest.txt'}\n      {out / 'feed.atom'}")
    click.echo("open digest.html in a browser, or subscribe to feed.atom in a feed reader.")
