"""What the documentation promises, checked against the product: README.md, docs/queries.md,
docs/running.md and config/digest.example.toml. Real parts only: the CLI through CliRunner on SQLite
files, the real store, the web app through Starlette's TestClient, and the feed captures in tests/data."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from html import unescape
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from digest.cli import cli
from digest.config import Settings, load_settings
from digest.match.run import match_new
from digest.models import PaperRecord
from digest.store import Store
from digest.web import create_app

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
ALL_ARCHIVES = DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"
IACR_EPRINT = DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml"
EXAMPLE = ROOT / "config" / "digest.example.toml"

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Invoke:
    """The real `digest` CLI on a fresh migrated SQLite file (DIGEST_DATABASE__URL)."""
    monkeypatch.setenv("DIGEST_DATABASE__URL", sqlite_url)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


# --- docs/queries.md: the language table and "Refused on save" ------------------------------------


def test_cat_archive_from_the_language_table_is_accepted_when_under_half_the_papers(run: Invoke) -> None:
    """`cat:cs` and `cat:cs.*` (docs/queries.md) are saved when cs papers are under the 70% bar: a paper in
    cs.LG and cs.AI counts once for its archive (722 of the 1,504 papers of a real all-archives listing)."""
    code, _, err = run("ingest", "--file", str(ALL_ARCHIVES))
    assert code == 0, err
    code, out, _ = run("search", "cat:cs")
    found = int(re.search(r"(\d+) results?", out).group(1))  # type: ignore[union-attr]
    code, listed, _ = run("papers", "list", "--json")
    share = found / len(json.loads(listed))
    assert 0.4 < share < 0.55, share  # under half the papers really are cs
    for query in ("cat:cs", "cat:cs.*"):
        code, out, err = run("query", "check", query)
        assert code == 0, f"{query}: {err.strip()}"


def test_src_query_for_a_source_in_under_half_the_papers_is_accepted(run: Invoke, sqlite_url: str) -> None:
    """`src:arxiv` is estimated as the matcher compares it (the kind, label or feed name equal to the
    value), so a source in 40 of 100 papers is saved."""
    corpus = json.loads((DATA / "corpus" / "rss_cache_2025-04-08_3e69c89781.json").read_text("utf-8"))
    entries = [e for feed in corpus.values() for e in feed["entries"]][:100]
    store = Store.open(sqlite_url, migrate=False)
    try:
        arxiv = [PaperRecord(source_kind="arxiv-rss", external_id=e["link"].rsplit("/", 1)[1],
                             arxiv_id=e["link"].rsplit("/", 1)[1], version=1, title=e["title"],
                             abstract=e["summary"].split("Abstract:", 1)[-1], categories=("cs.LG",))
                 for e in entries[:40]]
        journal = [PaperRecord(source_kind="rss", external_id=f"https://www.nature.com/articles/s41586-025-{i:05d}",
                               url=f"https://www.nature.com/articles/s41586-025-{i:05d}", title=e["title"],
                               abstract=e["summary"].split("Abstract:", 1)[-1])
                   for i, e in enumerate(entries[40:])]
        store.ingest_records("arxiv-cs-lg", arxiv)
        store.ingest_records("nature", journal)
    finally:
        store.close()
    code, out, _ = run("search", "src:arxiv")
    assert code == 0 and out.rstrip().endswith("40 results")
    code, _, err = run("query", "check", "src:arxiv")
    assert code == 0, err.strip()


# --- docs/running.md: "Moving users between installations" and the list of all tags ---------------


def test_export_then_import_moves_users_between_installations(run: Invoke, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              _sqlite_template: Path) -> None:
    """docs/running.md's `digest export` then `digest import` moves users between installations, and
    again into the same one (idempotent), with papers from a journal feed whose categories hold spaces."""
    code, _, err = run("ingest", "--file", str(IACR_EPRINT))
    assert code == 0, err
    assert run("users", "add", "ada@example.org", "--name", "Ada", "--timezone", "Europe/London")[0] == 0
    assert run("subscribe", "ada@example.org", "zero-knowledge proofs", "--name", "zk")[0] == 0
    assert run("match")[0] == 0  # what the scheduler does after every poll
    out_file = tmp_path / "users.toml"
    assert run("export", "--out", str(out_file))[0] == 0
    # Importing into the installation that wrote it (idempotent).
    code, _, err = run("import", str(out_file))
    assert code == 0, err.strip()
    # Importing into a new installation.
    target = tmp_path / "target.db"
    target.write_bytes(_sqlite_template.read_bytes())
    monkeypatch.setenv("DIGEST_DATABASE__URL", f"sqlite:///{target}")
    code, _, err = run("import", str(out_file))
    assert code == 0, err.strip()
    code, out, _ = run("users", "list", "--json")
    assert [u["email"] for u in json.loads(out)] == ["ada@example.org"]


def test_export_holds_topic_tags_not_every_source_category(run: Invoke, tmp_path: Path) -> None:
    """An export holds topic tags (the `[[tags]]` queries), not the categories and keywords sources
    gave: the target installation makes those itself."""
    assert run("ingest", "--file", str(ALL_ARCHIVES))[0] == 0
    assert run("users", "add", "ada@example.org")[0] == 0
    assert run("match")[0] == 0  # what the scheduler does after every poll
    out_file = tmp_path / "users.toml"
    assert run("export", "--out", str(out_file))[0] == 0
    exported = tomllib.loads(out_file.read_text("utf-8"))
    code, out, _ = run("tags", "--json")
    topic = sorted(t["tag"] for t in json.loads(out) if t["origin"] != "source")
    assert topic == []
    assert sorted(t["name"] for t in exported.get("tags", [])) == topic


def test_tag_list_links_a_category_with_a_space_to_a_search_that_finds_its_papers(
        run: Invoke, sqlite_url: str, tmp_path: Path) -> None:
    """The web's list of all tags links a category with a space in its name ("Cryptographic protocols")
    to a search that finds its papers (`cat:"..."`)."""
    assert run("ingest", "--file", str(IACR_EPRINT))[0] == 0
    store = Store.open(sqlite_url, migrate=False)
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    try:
        match_new(store)
        with TestClient(create_app(settings, store)) as client:
            page = client.get("/search").text
            links = {unescape(name): unquote_plus(unescape(href)) for href, name in
                     re.findall(r'<li><a href="/search\?q=([^"]+)"><bdi>([^<]+)</bdi></a>', page)}
            listed = {unescape(name): int(n) for name, n in
                      re.findall(r'<li><a href="[^"]+"><bdi>([^<]+)</bdi></a> <span class="n">(\d+)</span>', page)}
            assert listed["Cryptographic protocols"] == 2
            results = client.get("/search", params={"q": links["Cryptographic protocols"]}).text
            assert re.search(r"has 2 results\b", results), links["Cryptographic protocols"]
    finally:
        store.close()


def test_systemd_unit_in_running_md_has_no_inline_comment() -> None:
    """The systemd unit in docs/running.md has no comment after a setting: systemd reads comments only on
    lines of their own, so `EnvironmentFile=... # ...` would name a file that does not exist."""
    text = (ROOT / "docs" / "running.md").read_text("utf-8")
    unit = re.search(r"```ini\n(.*?)```", text, re.S)
    assert unit is not None
    inline = [line for line in unit.group(1).splitlines()
              if "=" in line and not line.lstrip().startswith(("#", ";")) and re.search(r"\s[#;]", line)]
    assert inline == []


# --- config/digest.example.toml --------------------------------------------------------------------


def test_example_config_maildir_is_next_to_its_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/digest.example.toml's `maildir = "../data/maildir"` is relative to the file, like its
    `data_dir`: under systemd (working directory /) mail goes next to the data, not to /data/maildir."""
    for var in ("DIGEST_CONFIG", "DIGEST_DELIVERY__MAILDIR", "DIGEST_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    elsewhere = tmp_path / "service" / "cwd"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    settings = load_settings(EXAMPLE)
    assert settings.data_dir == (ROOT / "data").resolve()
    assert settings.delivery.maildir is not None
    assert Path(settings.delivery.maildir).resolve() == (ROOT / "data" / "maildir").resolve()


# --- README.md: command reference --------------------------------------------------------------------


