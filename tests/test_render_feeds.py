"""digest.render.feeds: our Atom and RSS, read back with feedparser (bozo must be 0)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from digest.match.run import match_new
from digest.models import PaperRecord
from digest.render.feed_entries import feed_document, subscription_feed, tag_feed
from digest.render.feeds import FeedEntry, entry_id, render_feed
from digest.store import Store
from digest.text import MutedAuthors

from render_samples import T, XSS, paper, reason, settings
from scale_helpers import bulk_store, count_loaded_papers

SELF = "https://digest.example.org/feeds/tok/sub-3.atom"


def _entries() -> list[FeedEntry]:
    bio = paper(2, id="doi:10.1101/2024.01.02.573<x>", arxiv_id=None, doi="10.1101/2024.01.02.573<x>",
                title="A bioRxiv \x0bpaper", authors=(), sources=(), categories=("Neuroscience",),
                code_url="javascript:alert(1)", pdf_url=None)
    return [FeedEntry(paper(1), (reason(), reason("Yann LeCun", 2)), T, trending=6.0),
            FeedEntry(bio, (), T - timedelta(hours=1))]


def _body(entry: feedparser.FeedParserDict) -> str:
    """The HTML body: Atom content, RSS description."""
    return str(entry.content[0].value if "content" in entry else entry.description)


def _render(fmt: str, entries: list[FeedEntry] | None = None) -> bytes:
    return render_feed(_entries() if entries is None else entries, title="diffusion models — digest",
                       feed_id="tag:digest.example.org,2024:feed/subscription/3", self_url=SELF,
                       format=fmt, updated=T)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_reads_our_feed_without_complaint(fmt: str) -> None:
    parsed = feedparser.parse(_render(fmt))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if fmt == "atom" else "rss20")
    assert parsed.feed.title == "diffusion models — digest"
    assert [e.id for e in parsed.entries] == ["https://arxiv.org/abs/2411.00001",
                                              "tag:digest.example.org,2024:paper:doi:10.1101/2024.01.02.573%3Cx%3E"]
    first = parsed.entries[0]
    assert first.title == "Diffusion models for protein design, part 1"
    assert first.link == "https://arxiv.org/abs/2411.00001"
    assert [t.term for t in first.tags] == ["cs.LG", "q-bio.BM"]
    assert first.published_parsed[:6] == T.timetuple()[:6]
    assert "Why: diffusion models (matched diffusion, diffusion models); Yann LeCun" in _body(first)
    assert "Trending" in _body(first)


def test_atom_has_every_required_element() -> None:
    parsed = feedparser.parse(_render("atom"))
    feed = parsed.feed
    # RFC 4287 §4.1.1: atom:id, atom:title, atom:updated, atom:author (feed-level), link rel=self.
    assert feed.id == "tag:digest.example.org,2024:feed/subscription/3"
    assert feed.updated_parsed[:6] == T.timetuple()[:6]
    assert feed.author == "digest"
    assert [link.href for link in feed.links if link.rel == "self"] == [SELF]
    for entry in parsed.entries:  # §4.1.2: id, title, updated
        assert entry.id and entry.title and entry.updated_parsed
    first = parsed.entries[0]
    assert [a.name for a in first.authors] == ["Yann LeCun", "Ada Lovelace", "Łukasz Kaiser"]
    assert {(link.rel, link.href) for link in first.links} >= {
        ("alternate", "https://arxiv.org/abs/2411.00001"), ("related", "https://arxiv.org/pdf/2411.00001")}
    assert first.summary.startswith("We study diffusion models for proteins.")


def test_rss_has_required_channel_elements_and_guids() -> None:
    root = etree.fromstring(_render("rss"))
    channel = root.find("channel")
    assert channel is not None
    for tag in ("title", "link", "description", "lastBuildDate"):
        assert (channel.findtext(tag) or "").strip()
    guids = [(g.get("isPermaLink"), g.text) for g in root.iter("guid")]
    assert guids[0] == ("true", "https://arxiv.org/abs/2411.00001")
    assert guids[1][0] == "false" and guids[1][1].startswith("tag:")
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link is not None and self_link.get("rel") == "self" and self_link.get("href") == SELF


def test_entry_ids_are_stable_across_versions_and_title_changes() -> None:
    v1 = paper(5, version=1, title="Old title")
    v3 = replace(v1, version=3, title="A completely new title")
    assert entry_id(v1, "digest.example.org") == entry_id(v3, "digest.example.org") == "https://arxiv.org/abs/2411.00005"
    doi = paper(6, id="doi:10.1/x", arxiv_id=None, title="T1")
    assert entry_id(doi, "h") == entry_id(replace(doi, title="T2"), "h") == "tag:h,2024:paper:doi:10.1/x"
    old_style = paper(7, id="arxiv:hep-th/9901001", arxiv_id="hep-th/9901001")
    assert entry_id(old_style, "h") == "https://arxiv.org/abs/hep-th/9901001"


def test_entry_id_comes_from_the_canonical_id_not_from_a_gained_arxiv_id(sqlite_store: Store) -> None:
    """A journal paper (canonical id doi:…) keeps its tag: entry id after its arXiv preprint merges
    into it and it gains an arxiv_id, or readers would show it twice (RFC 4287 §4.2.6); a paper first
    known from arXiv keeps its abstract URL after it gains a DOI."""
    store = sqlite_store
    store.upsert_user("ada@example.org")
    sub = store.add_subscription("ada@example.org", "Black holes", query="black hole", channel="feed")
    doi = "10.1103/physrevd.110.044001"
    store.ingest_records("aps", [PaperRecord(source_kind="rss", external_id=f"https://doi.org/{doi}", doi=doi,
                                             url=f"https://journals.aps.org/prd/abstract/{doi}",
                                             title="Black hole ringdown spectroscopy", abstract="Black hole modes.")])
    store.ingest_records("arxiv-gr", [PaperRecord(source_kind="arxiv-rss", external_id="2411.08888",
                                                  arxiv_id="2411.08888", version=1,
                                                  title="Black hole shadows at high spin", abstract="Black hole.")])
    match_new(store)

    def ids() -> list[str]:
        body = feed_document(subscription_feed(store, settings(), sub.id),
                             self_url="https://digest.example.org/feeds/t/sub-1.atom")
        return sorted(e.id for e in feedparser.parse(body).entries)

    before = ids()
    assert before == ["https://arxiv.org/abs/2411.08888", f"tag:digest.example.org,2024:paper:doi:{doi}"]
    store.ingest_records("arxiv-gr", [PaperRecord(source_kind="arxiv-rss", external_id="2411.07777",
                                                  arxiv_id="2411.07777", version=2, doi=doi,
                                                  title="Black hole ringdown spectroscopy",
                                                  abstract="Black hole modes.", announce_type="replace")])
    store.ingest_records("prd", [PaperRecord(source_kind="rss", external_id="https://doi.org/10.1103/shadows",
                                             doi="10.1103/shadows", arxiv_id="2411.08888",
                                             title="Black hole shadows at high spin", abstract="Black hole.")])
    match_new(store)
    assert len(store.list_papers()) == 2, "both records should have merged into the papers they name"
    assert store.get_paper(f"doi:{doi}").arxiv_id == "2411.07777"
    assert store.get_paper("arxiv:2411.08888").doi == "10.1103/shadows"
    assert ids() == before


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_hostile_content_stays_text(fmt: str) -> None:
    evil = paper(9, title=f"T {XSS}", abstract=f"A {XSS}", authors=(XSS,), code_url="javascript:alert(1)",
                 pdf_url="data:text/html,<script>alert(1)</script>")
    data = _render(fmt, [FeedEntry(evil, (reason(f"sub {XSS}"),), T)])
    assert b"<script" not in data and b"javascript:" not in data.lower() and b"data:text" not in data
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.entries[0].title == f"T {XSS}"
    # The HTML body is our markup around escaped values: the payload appears only as text.
    assert "&lt;script&gt;" in _body(parsed.entries[0]) and "<script" not in _body(parsed.entries[0])


def test_characters_xml_forbids_are_dropped() -> None:
    data = _render("atom")
    etree.fromstring(data)  # well-formed despite the \x0b in a title
    assert b"\x0b" not in data


def test_empty_feed_is_valid() -> None:
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(_render(fmt, []))
        assert parsed.bozo == 0 and parsed.entries == []


def test_tag_feed_reads_only_the_newest_papers_of_the_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tag's feed (`digest feed tag:NAME`, a private feed, a subscription to a tag) shows the tag's
    most recently changed papers, picked and ordered in the database: an arXiv category tag holds
    tens of thousands of papers after a snapshot import, and each feed-reader poll loaded them all.
    Papers by an author the reader muted are left out and the feed is still filled up to its limit."""
    store = Store.open(f"sqlite:///{bulk_store(tmp_path)}", migrate=False)
    try:
        match_new(store)  # applies the source tags (arXiv categories)
        now = datetime.now(timezone.utc)
        tagged = store.papers_by_ids(store.papers_with_tag("hep-ph")).values()
        assert len(tagged) >= 30
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        expected = sorted(tagged, key=lambda p: (p.updated if p.updated and p.updated <= now else p.first_seen or epoch,
                                                 p.seq, p.id), reverse=True)
        loaded = count_loaded_papers(monkeypatch)
        shown = tag_feed(store, settings(), "hep-ph", limit=5, now=now).entries
        assert [e.paper.id for e in shown] == [p.id for p in expected[:5]]
        assert loaded.rows <= 20, f"a 5-entry tag feed loaded {loaded.rows} papers ({len(tagged)} have the tag)"
        muted = MutedAuthors([p.authors[0] for p in expected[:3] if p.authors])
        unmuted = [p.id for p in expected if not muted.hides(p.authors)]
        assert len(unmuted) >= 5
        assert [e.paper.id for e in tag_feed(store, settings(), "hep-ph", limit=5, now=now, muted=muted).entries] \
            == unmuted[:5]
    finally:
        store.close()
