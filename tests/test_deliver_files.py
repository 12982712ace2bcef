"""digest.deliver.files and digest.render.feed_entries against a real SQLite store."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from digest.config import Settings
from digest.deliver.files import MANIFEST, export_feeds, write_atomic
from digest.errors import NotFoundError
from digest.models import PaperRecord
from digest.render.feed_entries import resolve_feed, user_feed
from digest.store import Store
from digest.store.matches import NewMatch, NewPaperTag

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)


def populate(store: Store) -> dict[str, int]:
    """Two users, three subscriptions (one email-only), four papers, one topic tag."""
    records = [PaperRecord("arxiv-rss", f"2411.0000{i}", f"Paper {i} on diffusion", authors=("Ada Lovelace",),
                           abstract=f"Abstract {i}.", arxiv_id=f"2411.0000{i}", version=1, categories=("cs.LG",),
                           pdf_url=f"https://arxiv.org/pdf/2411.0000{i}") for i in range(1, 4)]
    records.append(PaperRecord("rss", "https://example.org/p/4", "A <b>blog</b> paper", authors=("Bob",),
                               url="https://example.org/p/4"))
    store.ingest_records("test", records, now=NOW)
    seqs = {p.id: seq for seq, _, p in store.papers_after(0)}
    ada = store.upsert_user("ada@example.org", name="Ada")
    bob = store.upsert_user("bob@example.org")
    diff = store.add_subscription(ada.id, "diffusion", query="diffusion", channel="both")
    blog = store.add_subscription(ada.id, "blogs", query="blog", channel="feed")
    mail = store.add_subscription(bob.id, "mail only", query="paper", channel="email")
    expl = {"clauses": [{"field": "title", "spans": [[11, 20]]}]}
    store.save_matches([NewMatch(diff.id, f"arxiv:2411.0000{i}", 0.9, expl, seqs[f"arxiv:2411.0000{i}"])
                        for i in (1, 2)])
    store.save_matches([NewMatch(blog.id, "url:https://example.org/p/4", 0.5, {}, seqs["url:https://example.org/p/4"]),
                        NewMatch(blog.id, "arxiv:2411.00001", 0.4, {}, seqs["arxiv:2411.00001"]),
                        NewMatch(mail.id, "arxiv:2411.00003", 0.7, {}, seqs["arxiv:2411.00003"])])
    tag = store.upsert_tag("generative", "diffusion")
    store.save_paper_tags([NewPaperTag(tag.id, "arxiv:2411.00003", 1.0, {})])
    return {"ada": ada.id, "diff": diff.id, "blog": blog.id, "mail": mail.id}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, web={"base_url": "https://digest.example.org"}, secret_key="k" * 40)


def test_export_writes_every_feed_where_the_web_serves_it(sqlite_store: Store, settings: Settings,
                                                          tmp_path: Path) -> None:
    ids = populate(sqlite_store)
    ada = sqlite_store.get_user("ada@example.org")
    bob = sqlite_store.get_user("bob@example.org")
    out = tmp_path / "feeds"
    paths = export_feeds(sqlite_store, settings, out, now=NOW)
    names = sorted(str(p.relative_to(out)) for p in paths)
    tok = ada.feed_token
    assert names == sorted([f"{tok}/sub-{ids['diff']}.atom", f"{tok}/sub-{ids['diff']}.rss",
                            f"{tok}/sub-{ids['blog']}.atom", f"{tok}/sub-{ids['blog']}.rss",
                            f"{tok}/all.atom", f"{tok}/all.rss", "tag-generative.atom", "tag-generative.rss",
                            "trending.atom", "trending.rss"])
    assert not (out / bob.feed_token).exists()  # email-only subscription: no feed
    for path in paths:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
    diff = feedparser.parse((out / tok / f"sub-{ids['diff']}.atom").read_bytes())
    assert [e.id for e in diff.entries] == ["https://arxiv.org/abs/2411.00002", "https://arxiv.org/abs/2411.00001"]
    assert [link.href for link in diff.feed.links if link.rel == "self"] == \
        [f"https://digest.example.org/feeds/{tok}/sub-{ids['diff']}.atom"]
    everything = feedparser.parse((out / tok / "all.atom").read_bytes())
    assert {e.id for e in everything.entries} == {"https://arxiv.org/abs/2411.00001", "https://arxiv.org/abs/2411.00002",
                                                  "tag:digest.example.org,2024:paper:url:https://example.org/p/4"}
    both = next(e for e in everything.entries if e.id.endswith("2411.00001"))
    assert "Why: blogs; diffusion (matched diffusion)" in both.content[0].value
    tag = feedparser.parse((out / "tag-generative.rss").read_bytes())
    assert [e.id for e in tag.entries] == ["https://arxiv.org/abs/2411.00003"]
    assert not list(out.rglob("*.tmp"))


def test_second_export_leaves_unchanged_files_alone(sqlite_store: Store, settings: Settings, tmp_path: Path) -> None:
    populate(sqlite_store)
    out = tmp_path / "feeds"
    first = export_feeds(sqlite_store, settings, out, now=NOW)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in first}
    for p in first:
        os.utime(p, ns=(1, 1))
    second = export_feeds(sqlite_store, settings, out, now=NOW)
    assert second == first
    assert all(p.read_bytes() == before[p][0] and p.stat().st_mtime_ns == 1 for p in second)


def test_export_removes_only_the_files_it_wrote_and_no_longer_writes(sqlite_store: Store, settings: Settings,
                                                                      tmp_path: Path) -> None:
    """Feeds the export no longer writes (a deleted alert, a rotated feed token) lose their files, and
    an emptied token folder goes; anything in DIR the export did not write stays, even where a feed
    could be. The manifest that remembers what was written names no feed token."""
    ids = populate(sqlite_store)
    out = tmp_path / "feeds"
    out.mkdir()
    (out / "index.html").write_text("hello", encoding="utf-8")
    (out / "someone-else").mkdir()
    (out / "someone-else" / "all.atom").write_text("not ours", encoding="utf-8")
    old = sqlite_store.get_user("ada@example.org").feed_token
    export_feeds(sqlite_store, settings, out, now=NOW)
    assert (out / old / f"sub-{ids['blog']}.rss").exists()
    assert old not in (out / MANIFEST).read_text(encoding="utf-8")
    sqlite_store.delete_subscription(ids["blog"])
    export_feeds(sqlite_store, settings, out, now=NOW)
    assert not (out / old / f"sub-{ids['blog']}.atom").exists() and not (out / old / f"sub-{ids['blog']}.rss").exists()
    assert (out / old / "all.atom").exists()
    (out / old / "notes.txt").write_text("mine", encoding="utf-8")
    new = sqlite_store.rotate_feed_token("ada@example.org")
    written = export_feeds(sqlite_store, settings, out, now=NOW)
    assert sorted(p.name for p in (out / old).iterdir()) == ["notes.txt"]  # ours gone, the rest kept
    assert (out / new / "all.atom") in written
    assert (out / "index.html").read_text(encoding="utf-8") == "hello"
    assert (out / "someone-else" / "all.atom").read_text(encoding="utf-8") == "not ours"
    (out / old / "notes.txt").unlink()
    rotated = sqlite_store.rotate_feed_token("ada@example.org")
    export_feeds(sqlite_store, settings, out, now=NOW)
    assert not (out / new).exists() and (out / rotated / "all.atom").exists()  # an emptied folder goes


def test_export_without_a_readable_manifest_removes_nothing(sqlite_store: Store, settings: Settings,
                                                            tmp_path: Path) -> None:
    """A missing or damaged manifest means nothing is known to be ours: nothing is removed."""
    ids = populate(sqlite_store)
    out = tmp_path / "feeds"
    export_feeds(sqlite_store, settings, out, now=NOW)
    (out / MANIFEST).write_text("{not json", encoding="utf-8")
    token = sqlite_store.get_user("ada@example.org").feed_token
    sqlite_store.delete_subscription(ids["blog"])
    export_feeds(sqlite_store, settings, out, now=NOW)
    assert (out / token / f"sub-{ids['blog']}.atom").exists()


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "a" / "feed.atom"
    assert write_atomic(path, b"one") is True
    assert write_atomic(path, b"one") is False
    assert write_atomic(path, b"two") is True
    assert path.read_bytes() == b"two" and oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["feed.atom"]


def test_resolve_feed_names(sqlite_store: Store, settings: Settings) -> None:
    ids = populate(sqlite_store)
    assert resolve_feed(sqlite_store, settings, "ada@example.org/diffusion").name == f"sub-{ids['diff']}"
    assert resolve_feed(sqlite_store, settings, str(ids["blog"])).title == "blogs — digest"
    assert resolve_feed(sqlite_store, settings, "tag:generative").name == "tag-generative"
    assert resolve_feed(sqlite_store, settings, "trending", now=NOW).entries == ()
    assert user_feed(sqlite_store, settings, "ada@example.org").feed_id == \
        f"tag:digest.example.org,2024:feed/user/{ids['ada']}"
    for bad in ("tag:nope", "ada@example.org/nope", "nonsense"):
        with pytest.raises(NotFoundError):
            resolve_feed(sqlite_store, settings, bad)
