"""`digest feed` and `digest feeds export` end to end on a SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_settings
from digest.models import PaperRecord
from digest.store import Store

from test_deliver_files import populate


def _setup(tmp_path: Path, *, trending: int = 0) -> Path:
    """A config and a store with populate()'s users and papers, and ``trending`` papers with upvotes
    from an hour ago."""
    config = tmp_path / "digest.toml"
    config.write_text('data_dir = "data"\n[web]\nbase_url = "https://digest.example.org"\n', encoding="utf-8")
    store = Store.open(load_settings(config).database_url)
    populate(store)
    if trending:
        store.ingest_records("hf", [PaperRecord(source_kind="hf-daily", external_id=f"2411.0800{i}",
                                                arxiv_id=f"2411.0800{i}", title=f"Trending paper {i}",
                                                signals={"upvotes": 10 * i}) for i in range(1, trending + 1)],
                             now=datetime.now(timezone.utc) - timedelta(hours=1))
    store.close()
    return config


def test_feed_prints_atom_and_rss(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    runner = CliRunner()
    atom = runner.invoke(cli, ["--config", str(config), "feed", "ada@example.org/diffusion"])
    assert atom.exit_code == 0, atom.output
    parsed = feedparser.parse(atom.stdout_bytes)
    assert parsed.bozo == 0 and parsed.version == "atom10" and len(parsed.entries) == 2
    rss = runner.invoke(cli, ["--config", str(config), "feed", "tag:generative", "--format", "rss"])
    assert rss.exit_code == 0 and feedparser.parse(rss.stdout_bytes).version == "rss20"
    trending = runner.invoke(cli, ["--config", str(config), "feed", "trending"])
    assert trending.exit_code == 0 and feedparser.parse(trending.stdout_bytes).bozo == 0


def test_unknown_feed_is_one_clear_line(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "feed", "tag:missing"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: no tag") and "Traceback" not in result.output


def test_feeds_export(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    out = tmp_path / "public"
    result = CliRunner().invoke(cli, ["--config", str(config), "feeds", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote 10 feed files")
    assert (out / "trending.atom").exists()


def test_feed_with_an_out_of_range_numeric_id_is_one_clear_line(tmp_path: Path) -> None:
    """A subscription id no database holds is an unknown feed: one "error:" line, exit code 1."""
    config = _setup(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "feed", "99999999999999999999"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error:"), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_trending_feed_honours_limit(tmp_path: Path) -> None:
    """`digest feed trending --limit N` prints the best N trending papers; without --limit, as many as
    the web app and the export serve."""
    config = _setup(tmp_path, trending=4)
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "feed", "trending", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert [e.title for e in feedparser.parse(result.stdout_bytes).entries] == ["Trending paper 4", "Trending paper 3"]
    every = runner.invoke(cli, ["--config", str(config), "feed", "trending"])
    assert len(feedparser.parse(every.stdout_bytes).entries) == 4


def test_tag_feed_self_link_is_the_exported_url(tmp_path: Path) -> None:
    """The self link of `digest feed "tag:NAME"` percent-encodes the name (a URI has no raw spaces,
    RFC 3986) and is the very URL `digest feeds export` gives the same feed."""
    config = _setup(tmp_path)
    store = Store.open(load_settings(config).database_url)
    store.upsert_tag("large language models", "language model")
    store.close()
    out = tmp_path / "public"
    assert CliRunner().invoke(cli, ["--config", str(config), "feeds", "export", str(out)]).exit_code == 0
    exported = feedparser.parse((out / "tag-large language models.atom").read_bytes())
    [exported_self] = [link.href for link in exported.feed.links if link.rel == "self"]
    printed = CliRunner().invoke(cli, ["--config", str(config), "feed", "tag:large language models"])
    assert printed.exit_code == 0, printed.output
    [printed_self] = [link.href for link in feedparser.parse(printed.stdout_bytes).feed.links if link.rel == "self"]
    assert printed_self == exported_self == "https://digest.example.org/feeds/tag-large%20language%20models.atom"


def test_feeds_export_removes_the_files_of_a_rotated_feed_token(tmp_path: Path) -> None:
    """After a feed token is rotated, the next `digest feeds export` writes the feeds under the new
    token and removes the files under the old one, so the leaked URL stops working."""
    config = _setup(tmp_path)
    out = tmp_path / "public"
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "feeds", "export", str(out)]).exit_code == 0
    store = Store.open(load_settings(config).database_url)
    old = store.get_user("ada@example.org").feed_token
    assert (out / old / "all.atom").exists()
    new = store.rotate_feed_token("ada@example.org")
    store.close()
    assert runner.invoke(cli, ["--config", str(config), "feeds", "export", str(out)]).exit_code == 0
    assert not (out / old).exists() and (out / new / "all.atom").exists()
