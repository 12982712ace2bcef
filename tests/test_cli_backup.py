"""`digest backup FILE`: a consistent copy of a running SQLite installation (SQLite's online backup),
refused for PostgreSQL and for a file that exists."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.models import PaperRecord
from digest.store import Store


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "digest.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    return cfg


def _paper(n: int) -> PaperRecord:
    return PaperRecord(source_kind="arxiv-rss", external_id=f"2411.0000{n}", arxiv_id=f"2411.0000{n}",
                       title=f"Diffusion models, part {n}")


def test_backup_while_a_writer_is_busy_holds_what_was_committed(tmp_path: Path, sqlite_url: str) -> None:
    """The operator runs `digest backup` while the service writes: the copy opens as a store and holds
    every committed paper (including those only in the WAL so far, which copying digest.db would
    miss), and none of a transaction still open."""
    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv", [_paper(1), _paper(2)])
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE papers SET title = 'uncommitted' WHERE id = 'arxiv:2411.00001'")
        target = tmp_path / "backups" / "digest-2026-11-24.db"
        target.parent.mkdir()
        result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, sqlite_url)), "backup", str(target)])
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    assert f"backed up the database to {target}" in result.output
    copy = Store.open(f"sqlite:///{target}")
    try:
        titles = sorted(p.title for p in copy.list_papers())
    finally:
        copy.close()
        store.close()
    assert titles == ["Diffusion models, part 1", "Diffusion models, part 2"]
    assert not list(target.parent.glob("*.partial"))


def test_backup_never_overwrites_and_names_a_missing_folder(tmp_path: Path, sqlite_url: str) -> None:
    """A backup goes to a new file: an existing one is left alone, and a missing folder is one line."""
    config = _config(tmp_path, sqlite_url)
    existing = tmp_path / "keep.db"
    existing.write_bytes(b"yesterday's backup")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "backup", str(existing)])
    assert result.exit_code == 1 and "exists" in result.output
    assert existing.read_bytes() == b"yesterday's backup"
    result = runner.invoke(cli, ["--config", str(config), "backup", str(tmp_path / "nowhere" / "x.db")])
    assert result.exit_code == 1 and "no folder" in result.output


def test_backup_on_postgresql_points_to_its_own_tools(tmp_path: Path, postgres_url: str) -> None:
    """On PostgreSQL `digest backup` writes nothing and says to use pg_dump."""
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path, postgres_url)), "backup",
                                      str(tmp_path / "x.db")])
    assert result.exit_code == 1 and "pg_dump" in result.output
    assert not (tmp_path / "x.db").exists()
