"""`digest feed` and `digest feeds export` end to end on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import feedparser
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_settings
from digest.store import Store

from test_deliver_files import populate


def _setup(tmp_path: Path) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text('data_dir = "data"\n[web]\nbase_url = "https://digest.example.org"\n', encoding="utf-8")
    store = Store.open(load_settings(config).database_url)
    populate(store)
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
