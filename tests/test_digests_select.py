"""Choosing what a user's digest holds, on SQLite and PostgreSQL.

Papers enter through the store's ingest (real merging and ingest sequence); matches through the
store's save_matches with the matcher's watermark, standing in for the matcher (a collaborator).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.config import FeedSettings
from digest.digests.select import TRENDING_STRENGTH, build_digest, is_trending, source_status
from digest.digests.trending import strength
from digest.models import FeedState, PaperRecord, User
from digest.store import Store
from digest.store.matches import NewMatch

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)


def arxiv(n: int, *, version: int = 1, authors: tuple[str, ...] = ("Ann Smith",), title: str = "Diffusion",
          signals: dict[str, int] | None = None, kind: str = "arxiv-rss") -> PaperRecord:
    return PaperRecord(kind, f"2611.{n:05d}", title=f"{title} {n}", authors=authors, abstract="Abstract.",
                       arxiv_id=f"2611.{n:05d}", version=version, published=NOW - timedelta(hours=6),
                       signals=signals or {})


def pid(n: int) -> str:
    return f"arxiv:2611.{n:05d}"


def seq_of(store: Store, n: int) -> int:
    return store.get_paper(pid(n)).seq


@pytest.fixture
def setup(store: Store) -> tuple[User, dict[str, int]]:
    store.ingest_records("arxiv-cs.LG", [arxiv(i) for i in range(1, 6)], now=NOW - timedelta(hours=5))
    user = store.upsert_user("ann@example.org", name="Ann")
    subs = {name: store.add_subscription(user.id, name, query=name).id for name in ("diffusion", "lecun")}
    subs["weekly"] = store.add_subscription(user.id, "weekly", query="x", every="weekly").id
    subs["feedonly"] = store.add_subscription(user.id, "feedonly", query="x", channel="feed").id
    return user, subs


def match(store: Store, sub: int, n: int, score: float) -> NewMatch:
    return NewMatch(sub, pid(n), score, {"terms": [f"t{n}"]}, seq_of(store, n))


def test_one_item_per_paper_with_every_reason(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.save_matches([match(store, subs["diffusion"], 1, 2.0), match(store, subs["lecun"], 1, 3.0),
                        match(store, subs["diffusion"], 2, 1.0)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "2026-11-24", now=NOW)
    assert [(s.title, [i.paper.id for i in s.items]) for s in d.sections] == [
        ("diffusion", [pid(2)]), ("lecun", [pid(1)])]
    item = d.sections[1].items[0]
    assert [r.subscription for r in item.reasons] == ["lecun", "diffusion"]
    assert item.reasons[0].explanation == {"terms": ["t1"]}
    assert (d.seq_from, d.seq_to, d.paper_count) == (0, store.max_seq(), 2)


def test_period_channel_and_matcher_watermark(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.save_matches([match(store, subs["weekly"], 1, 1.0), match(store, subs["feedonly"], 2, 1.0),
                        match(store, subs["diffusion"], 3, 1.0), match(store, subs["diffusion"], 5, 1.0)])
    # The matcher has finished events up to paper 4 only: paper 5's match may be half-written.
    store.set_watermark("match", seq_of(store, 4))
    daily = build_digest(store, user, "daily", "2026-11-24", now=NOW)
    assert [i.paper.id for i in daily.items] == [pid(3)]
    assert daily.seq_to == seq_of(store, 4)
    weekly = build_digest(store, user, "weekly", "2026-W48", now=NOW)
    assert [i.paper.id for i in weekly.items] == [pid(1)]
    feed = build_digest(store, user, "daily", "2026-11-24", now=NOW, channel="feed")
    assert {i.paper.id for i in feed.items} == {pid(2), pid(3)}


def test_watermark_and_sent_papers_prevent_repeats(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.save_matches([match(store, subs["diffusion"], 1, 1.0), match(store, subs["diffusion"], 2, 1.0)])
    store.set_watermark("match", store.max_seq())
    first = build_digest(store, user, "daily", "2026-11-24", now=NOW)
    assert store.enqueue_digest(user.id, "daily", "2026-11-24", "<m@x>", "s", user.email, b"m",
                                [pid(1), pid(2)], first.seq_from, first.seq_to, [1, 1]) is not None
    assert build_digest(store, user, "daily", "2026-11-25", now=NOW).items == ()
    # Paper 1 matched again by another subscription later (same event): still not repeated.
    store.save_matches([match(store, subs["lecun"], 1, 5.0)])
    later = build_digest(store, user, "daily", "2026-11-25", now=NOW)
    assert later.items == ()


def test_new_version_goes_to_updated_only_when_asked(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.save_matches([match(store, subs["diffusion"], 1, 1.0)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "2026-11-24", now=NOW)
    store.enqueue_digest(user.id, "daily", "2026-11-24", "<m@x>", "s", user.email, b"m", [pid(1)],
                         d.seq_from, d.seq_to, [1])
    store.ingest_records("arxiv-cs.LG", [arxiv(1, version=2)], now=NOW)
    store.save_matches([match(store, subs["diffusion"], 1, 1.5)])  # the matcher re-matched the new version
    store.set_watermark("match", store.max_seq())
    assert build_digest(store, user, "daily", "2026-11-25", now=NOW).items == ()  # off by default
    d2 = build_digest(store, user, "daily", "2026-11-25", now=NOW, include_updates=True)
    assert [(s.title, s.kind) for s in d2.sections] == [("Updated", "updated")]
    assert d2.items[0].updated and d2.items[0].paper.version == 2


def test_muted_authors_are_dropped(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.ingest_records("arxiv-cs.LG", [arxiv(9, authors=("LeCun, Yann", "Bob Roe"))], now=NOW)
    store.save_matches([match(store, subs["lecun"], 9, 3.0), match(store, subs["lecun"], 1, 1.0)])
    store.set_watermark("match", store.max_seq())
    store.mute_author(user.id, "Yann LeCun")
    assert [i.paper.id for i in build_digest(store, user, "daily", "k", now=NOW).items] == [pid(1)]


def test_size_budget_caps_items_and_counts_the_rest(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    store.save_matches([match(store, subs["diffusion"], n, float(n)) for n in range(1, 6)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "k", now=NOW, max_items=2)
    assert [i.paper.id for i in d.items] == [pid(5), pid(4)]
    assert d.more_count == 3 and d.paper_count == 5


def test_trending_blend_and_trending_subscription(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, subs = setup
    # Paper 2 is on Hugging Face with a climbing vote count; paper 3 only there too, but unmatched.
    store.ingest_records("hf", [arxiv(2, kind="hf-daily", signals={"upvotes": 10})], now=NOW - timedelta(hours=30))
    store.ingest_records("hf", [arxiv(2, kind="hf-daily", signals={"upvotes": 60, "comments": 4}),
                                arxiv(3, kind="hf-daily", signals={"upvotes": 30})], now=NOW - timedelta(hours=1))
    store.save_matches([match(store, subs["diffusion"], 1, 2.0), match(store, subs["diffusion"], 2, 2.0)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "k", now=NOW)
    assert [(s.title, s.kind) for s in d.sections] == [("Trending in your topics", "trending"),
                                                        ("diffusion", "subscription")]
    hot = d.sections[0].items[0]
    assert hot.paper.id == pid(2) and hot.trending and hot.score > 2.0
    assert d.sections[1].items[0].score == 2.0
    plain = build_digest(store, user, "daily", "k", now=NOW, trending_blend=False)
    assert [s.title for s in plain.sections] == ["diffusion"]
    store.add_subscription(user.id, "trending", kind="trending")
    with_hot = build_digest(store, user, "daily", "k", now=NOW)
    assert [(s.title, [i.paper.id for i in s.items]) for s in with_hot.sections][-1] == ("Trending today", [pid(3)])


def test_one_bar_for_trending_in_your_topics_and_the_badge(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    """A matched paper with a few upvotes has a trending score, but below the bar
    (:data:`TRENDING_STRENGTH`) it is neither pulled into "Trending in your topics" nor called
    trending (the email's badge asks :func:`is_trending`); one well above it is both."""
    user, subs = setup
    store.ingest_records("hf", [arxiv(1, kind="hf-daily", signals={"upvotes": 2}),
                                arxiv(2, kind="hf-daily", signals={"upvotes": 80, "comments": 6})],
                         now=NOW - timedelta(hours=1))
    store.save_matches([match(store, subs["diffusion"], 1, 2.0), match(store, subs["diffusion"], 2, 2.0)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "k", now=NOW)
    by_id = {i.paper.id: i for i in d.items}
    weak, hot = by_id[pid(1)], by_id[pid(2)]
    assert weak.trending and 0 < strength(weak.trending) < TRENDING_STRENGTH and not is_trending(weak.trending)
    assert is_trending(hot.trending)
    assert [(s.title, [i.paper.id for i in s.items]) for s in d.sections] == [
        ("Trending in your topics", [pid(2)]), ("diffusion", [pid(1)])]
    assert not is_trending(None) and not is_trending(0.0)


def test_source_status_lines(store: Store, setup: tuple[User, dict[str, int]]) -> None:
    user, _ = setup
    store.sync_feeds([FeedSettings(name="arxiv-cs.LG", kind="arxiv-rss", categories=["cs.LG"]),
                      FeedSettings(name="biorxiv", kind="biorxiv"),
                      FeedSettings(name="lab blog", kind="rss", url="https://example.org/feed.xml")])
    store.record_fetch("arxiv-cs.LG", now=NOW, outcome="empty", entry_count=0)
    store.record_fetch("biorxiv", now=NOW, outcome="error", error="HTTP 503 from api.biorxiv.org")
    store.record_fetch("lab blog", now=NOW, outcome="ok", entry_count=3)
    d = build_digest(store, user, "daily", "k", now=NOW)
    assert d.source_status == ("arXiv did not announce today", "biorxiv failed: HTTP 503 from api.biorxiv.org")


def test_source_status_wording() -> None:
    def state(name: str, kind: str, health: str, error: str | None = None) -> FeedState:
        return FeedState(name=name, kind=kind, url=None, interval_seconds=3600, health=health, last_error=error)

    assert source_status([state("cs.LG", "arxiv-rss", "stale"), state("a", "arxiv-rss", "quiet"),
                          state("b", "arxiv-rss", "quiet"), state("c", "rss", "ok"), state("d", "rss", "empty"),
                          state("e", "rss", "error", "boom\nline two")]) == (
        "cs.LG feed looked stale; retrying", "arXiv did not announce today", "e failed: boom line two")


@pytest.mark.parametrize(("zone", "local_day", "quiet"), [
    ("Europe/London", 5, True), ("Europe/London", 6, True), ("Europe/London", 7, False),  # Sat 7, Sun 8, Mon 9 Dec
    ("Asia/Tokyo", 5, False), ("Asia/Tokyo", 6, True), ("Asia/Tokyo", 8, False),  # Sat 7, Sun 8, Tue 10
])
def test_arxiv_did_not_announce_comes_from_the_calendar(zone: str, local_day: int, quiet: bool) -> None:
    """A daily digest whose period saw no new arXiv listing (none is published on Saturday and
    Sunday, at 00:00 Eastern plus the grace hour) says "arXiv did not announce today" with the
    arXiv feed "ok" from Friday, unpolled over the weekend. The period decides, not the local weekday:
    a Saturday 08:00 digest in Tokyo follows Friday's listing (Fri 18:00 Eastern), while Sunday's
    period saw none."""
    ok = FeedState(name="cs.LG", kind="arxiv-rss", url=None, interval_seconds=3600, health="ok")
    tz = ZoneInfo(zone)
    end = datetime(2024, 12, 2 + local_day, 8, tzinfo=tz)  # Mon 2 Dec 2024 + local_day
    lines = source_status([ok], start=end - timedelta(days=1), end=end)
    assert lines == (("arXiv did not announce today",) if quiet else ())
    # Without arXiv feeds there is nothing to say about arXiv.
    assert source_status([], start=end - timedelta(days=1), end=end) == ()


def test_a_failed_feed_is_named_with_a_short_reason_and_never_a_url() -> None:
    """A fetch error starts with the URL fetched, and a private feed's URL carries its access key:
    the status line every recipient reads names the feed and what went wrong, without any URL."""
    url = "https://lab.example.org/papers.rss?key=s3cr3t"

    def failed(error: str) -> str:
        state = FeedState(name="lab", kind="rss", url=url, interval_seconds=3600, health="error", last_error=error)
        [line] = source_status([state])
        assert "s3cr3t" not in line and "://" not in line
        return line

    assert failed(f"{url}: HTTP 500 after 1 attempt(s)") == "lab failed: HTTP 500 after 1 attempt(s)"
    assert failed(f"{url}: redirect to https://login.example.org/?next=x refused") == "lab failed: redirect to refused"
    assert failed("https://token@lab.example.org/x.rss: timed out") == "lab failed: timed out"
    assert failed(url) == "lab failed: the feed could not be fetched"


_AID, _PREPRINT_DOI = "2405.01234", "10.1101/2024.05.01.590001"
_TITLE, _AUTHORS = "Sparse Mixture Models for Efficient Language Modeling", ("Alice Johnson", "Bob Keller")


def arxiv_rss(title: str = _TITLE, *, version: int = 1, **kw: object) -> PaperRecord:
    return PaperRecord("arxiv-rss", _AID, title, _AUTHORS, arxiv_id=_AID, version=version, **kw)  # type: ignore[arg-type]


def biorxiv(version: int) -> PaperRecord:
    return PaperRecord("biorxiv", _PREPRINT_DOI, _TITLE, _AUTHORS, doi=_PREPRINT_DOI, version=version)


_T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_arxiv_version_after_reset_reaches_a_reader_sent_the_biorxiv_version(store: Store) -> None:
    """A reader was sent the paper as bioRxiv v3 (outbox_sent_papers.version = 3). arXiv v1 (naming
    the DOI) makes ``version`` arXiv's 1, and the version sent is forgotten (0): arXiv v2 is an
    update to this reader, not "older than v3"."""
    now = _T0 + timedelta(days=1)
    store.ingest_records("bio", [biorxiv(3)], now=_T0)
    pid = f"doi:{_PREPRINT_DOI}"
    user = store.upsert_user("ann@example.org", name="Ann")
    sub = store.add_subscription(user.id, "sparse", query="sparse").id
    store.save_matches([NewMatch(sub, pid, 1.0, {"terms": ["sparse"]}, store.get_paper(pid).seq)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "2026-11-23", now=now)
    assert [i.paper.id for i in d.items] == [pid]
    store.enqueue_digest(user.id, "daily", "2026-11-23", "<m@x>", "s", user.email, b"m", [pid],
                         d.seq_from, d.seq_to, [3])
    store.ingest_records("arxiv", [arxiv_rss(version=1, doi=_PREPRINT_DOI)], now=_T0 + timedelta(hours=1))
    s = store.ingest_records("arxiv", [arxiv_rss("Sparse Mixtures, Revised", version=2)], now=_T0 + timedelta(hours=2))
    assert s.new_versions == 1  # the store announces arXiv v2
    paper = store.get_paper(pid)
    store.save_matches([NewMatch(sub, pid, 1.5, {"terms": ["sparse"]}, paper.seq)])
    store.set_watermark("match", store.max_seq())
    d2 = build_digest(store, user, "daily", "2026-11-24", now=now, include_updates=True)
    assert [(i.paper.id, i.updated, i.paper.version) for i in d2.items] == [(pid, True, 2)]


_B_DOI, _J_DOI, _C_AID, _C_AUTHORS = "10.1101/2024.05.01.590001", "10.1000/jml.2024.17", "2405.09999", (
    "Alice Johnson", "Bob Keller")


def test_combine_keeps_the_arxiv_version_a_reader_was_sent(store: Store) -> None:
    """A reader was sent the bioRxiv preprint (no version: sent NULL) and the arXiv paper at v1. When
    the two are combined (the bioRxiv record names the journal DOI the arXiv paper carries), arXiv
    numbers the paper: what the reader had counts as an earlier version, so arXiv v2 is "Updated"."""
    store.ingest_records("bio", [PaperRecord("biorxiv", _B_DOI, "Neural Codes in the Fly Olfactory Bulb",
                                             _C_AUTHORS, doi=_B_DOI)], now=_T0)
    arxiv1 = PaperRecord("arxiv-rss", _C_AID, "Another Title Entirely for the Same Work", _C_AUTHORS, arxiv_id=_C_AID,
                         version=1, doi=_J_DOI)
    store.ingest_records("arxiv", [arxiv1], now=_T0 + timedelta(hours=1))
    assert store.paper_count() == 2
    user = store.upsert_user("ann@example.org", name="Ann")
    sub = store.add_subscription(user.id, "codes", query="codes").id
    bio_id, ax_id = f"doi:{_B_DOI}", f"arxiv:{_C_AID}"
    store.enqueue_digest(user.id, "daily", "2026-11-23", "<m@x>", "s", user.email, b"m", [bio_id, ax_id],
                         0, store.max_seq(), [None, 1])
    assert store.sent_versions(user.id, [bio_id, ax_id]) == {bio_id: None, ax_id: 1}
    store.ingest_records("bio", [PaperRecord("biorxiv", _B_DOI, "Neural Codes in the Fly Olfactory Bulb", _C_AUTHORS,
                                             doi=_B_DOI, aliases=(f"doi:{_J_DOI}",))], now=_T0 + timedelta(hours=2))
    assert store.paper_count() == 1
    # The reader had arXiv v1: after the combine, an earlier version (0) or 1, never NULL ("unversioned").
    assert store.sent_versions(user.id, [bio_id])[bio_id] in (0, 1)
    s = store.ingest_records("arxiv", [PaperRecord("arxiv-rss", _C_AID, "Another Title, Revised", _C_AUTHORS,
                                                   arxiv_id=_C_AID, version=2)], now=_T0 + timedelta(hours=3))
    assert s.new_versions == 1
    paper = store.get_paper(_C_AID)
    store.save_matches([NewMatch(sub, paper.id, 1.5, {"terms": ["codes"]}, paper.seq)])
    store.set_watermark("match", store.max_seq())
    d = build_digest(store, user, "daily", "2026-11-24", now=_T0 + timedelta(days=1), include_updates=True)
    assert [(i.paper.id, i.updated, i.paper.version) for i in d.items] == [(paper.id, True, 2)]
