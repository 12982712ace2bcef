"""One-click feedback links of digests and muting authors (issue #3 "Tags"; issue #4 "Email").

Covers "Not relevant" on a user-tag recommendation, feedback links naming an unknown paper or no
author, and muted authors across spellings of a name, people with similar names, digests, private
Atom feeds and the private trending feed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from eval_papers import eval_records

from digest.config import Settings
from digest.digests.select import build_digest
from digest.match.run import match_new
from digest.match.saved import subscribe
from digest.models import PaperRecord, User
from digest.render.feed_entries import subscription_feed, user_feed
from digest.store import Store
from digest.store.matches import NewMatch
from digest.tokens import feedback_token, feedback_urls
from digest.web import create_app
from digest.web import links as web_links

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    s.delivery.method = "maildir"
    s.delivery.maildir = tmp_path / "Maildir"
    return s


@pytest.fixture
def no_feed_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_links, "FEED_CACHE_SECONDS", -1.0)


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def click(client: TestClient, settings: Settings, url: str) -> object:
    """What a reader does with a feedback link of a digest: open it (GET: the confirmation page),
    then press Confirm (POST with the page's CSRF field)."""
    path = url.removeprefix(settings.web.base_url.rstrip("/"))
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text)})


def arxiv(n: int, *, authors: tuple[str, ...] = ("Ann Smith",), title: str = "Diffusion models for",
          kind: str = "arxiv-rss", signals: dict[str, int] | None = None) -> PaperRecord:
    return PaperRecord(kind, f"2611.{n:05d}", title=f"{title} {n}", authors=authors, abstract="Abstract.",
                       arxiv_id=f"2611.{n:05d}", version=1, published=NOW - timedelta(hours=6),
                       signals=signals or {})


def pid(n: int) -> str:
    return f"arxiv:2611.{n:05d}"


@pytest.fixture
def reader(sqlite_store: Store) -> tuple[Store, User, int]:
    """A reader with a daily e-mail alert and a feed alert, and one paper already matched."""
    store = sqlite_store
    store.ingest_records("arxiv-cs.LG", [arxiv(1)], now=NOW - timedelta(hours=5))
    user = store.upsert_user("ann@example.org", name="Ann")
    sub = store.add_subscription(user.id, "diffusion", query="diffusion", channel="both").id
    return store, user, sub


def matched(store: Store, sub: int, *ns: int) -> None:
    store.save_matches([NewMatch(sub, pid(n), 2.0, {"terms": ["diffusion"]}, store.get_paper(pid(n)).seq)
                        for n in ns])
    store.set_watermark("match", store.max_seq())


def digest_ids(store: Store, user: User) -> list[str]:
    return [i.paper.id for i in build_digest(store, user, "daily", "2026-11-24", now=NOW).items]


# --- "Not relevant" / "More like this" reach the recommendations they were clicked on ----------------

KD_LIKED = ["2505.11897", "2411.07483", "2502.06192"]  # FiGKD; Quantifying KD; Right Time to Learn (KD)
KD_NEW = "2504.06036"  # Multi-Sense Embeddings for Language Models and Knowledge Distillation


def test_not_relevant_clicked_on_a_recommendation_pushes_its_near_duplicate_out_of_that_tag(
        sqlite_store: Store, settings: Settings) -> None:
    """A reader who clicks "Not relevant" under a paper her user tag "distillation" recommended no
    longer gets a near-duplicate of it (same title and abstract, another arXiv id) under that tag: the
    label reaches the profile of the tag that made the recommendation (issue #3: "not relevant" pushes
    similar papers down)."""
    store = sqlite_store
    ids = [r.arxiv_id for r in eval_records() if r.arxiv_id != KD_NEW]
    store.ingest_records("eval", eval_records(ids), now=NOW - timedelta(days=3))
    match_new(store)
    user = store.upsert_user("ada@example.org", name="Ada")
    for aid in KD_LIKED:
        store.add_label(user.id, "distillation", f"arxiv:{aid}")
    sub = subscribe(store, user.id, "Like my KD papers", user_tag="distillation")
    store.ingest_records("eval", eval_records([KD_NEW]), now=NOW - timedelta(days=1))
    match_new(store)
    first = {m.paper_id: m.score for m in store.matches(subscription=sub.id)}
    assert f"arxiv:{KD_NEW}" in first  # recommended, as the reader expects

    token = feedback_token(settings, user.id, user.token_generation, "2026-11-23")
    url = feedback_urls(settings, token, f"arxiv:{KD_NEW}", author="Someone", tag="distillation")["not-relevant"]
    with TestClient(create_app(settings, store)) as client:
        assert click(client, settings, url).status_code == 200  # type: ignore[attr-defined]

    original = eval_records([KD_NEW])[0]
    twin = PaperRecord("arxiv-rss", "2611.04242", title=original.title, authors=("Other Author",),
                       abstract=original.abstract, categories=original.categories, keywords=original.keywords,
                       arxiv_id="2611.04242", version=1)
    store.ingest_records("arxiv-cs.CL", [twin], now=NOW)
    match_new(store)
    again = {m.paper_id: m.score for m in store.matches(subscription=sub.id)}
    assert "arxiv:2611.04242" not in again, (
        f"near-duplicate of the paper marked not relevant recommended again with score "
        f"{again.get('arxiv:2611.04242')} (the original scored {first[f'arxiv:{KD_NEW}']})")


def test_feedback_on_a_paper_that_does_not_exist_does_not_say_it_was_noted(
        sqlite_store: Store, settings: Settings) -> None:
    """A feedback link naming a paper we do not hold (a typo'd or stale link, a paper id from another
    install) answers 404 saying the paper is no longer stored; nothing is recorded and the reader is
    not thanked for feedback that goes nowhere."""
    store = sqlite_store
    user = store.upsert_user("ada@example.org", name="Ada")
    token = feedback_token(settings, user.id, user.token_generation, "2026-11-24")
    url = feedback_urls(settings, token, "arxiv:2411.99999")["more"]
    with TestClient(create_app(settings, store)) as client:
        page = client.get(url.removeprefix(settings.web.base_url.rstrip("/")))
    assert store.labels(user.id) == []
    assert page.status_code == 404 and "no longer stored" in page.text and "Thanks, noted" not in page.text


@pytest.mark.parametrize("name", ["…", " "])
def test_mute_link_with_a_name_that_is_no_author_is_a_clear_error_not_a_server_error(
        sqlite_store: Store, settings: Settings, name: str) -> None:
    """Confirming a "mute this author" link whose ``a=`` holds no name (a feed whose author line is
    just "…", offered in the e-mail as "Mute …", or a link a mail client cut to ``a=+``) answers 400,
    the link is not valid, instead of a server error."""
    store = sqlite_store
    store.ingest_records("arxiv-cs.LG", [arxiv(1, authors=("…",))], now=NOW)
    user = store.upsert_user("ada@example.org", name="Ada")
    token = feedback_token(settings, user.id, user.token_generation, "2026-11-24")
    url = feedback_urls(settings, token, pid(1), author=name)["mute-author"]
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        done = click(client, settings, url)
    assert done.status_code == 400  # type: ignore[attr-defined]


# --- muting an author -----------------------------------------------------------------------------


@pytest.mark.parametrize(("clicked", "written_later"), [
    ("Bernhard Schölkopf", "Bernhard Schoelkopf"),  # ASCII spelling of an umlaut (issue #3: same person)
    ("Yann LeCun", "Yann Le Cun"),  # particle written apart, as on his older papers
    ("José Miguel Hernández-Lobato", "José Miguel Hernández Lobato"),  # compound surname without hyphen
    # A leading initial or first name before the middle name he goes by (as au:"James Gates" finds him).
    ("James Gates", "S. James Gates, Jr."),
    ("James Gates", "Sylvester James Gates"),
    ("S. James Gates, Jr.", "James Gates"),  # muted from a card that lists him so, listed later without the S.
    ("Sylvester James Gates", "J. Gates"),
])
def test_muted_author_stays_muted_under_another_spelling_of_the_same_name(
        reader: tuple[Store, User, int], clicked: str, written_later: str) -> None:
    """An author muted from a digest stays muted when a later source spells the same person's name
    differently: ASCII spellings of diacritics ("Schoelkopf"), particles written apart ("Le Cun"),
    compound surnames without the hyphen, and a leading initial or a middle name he goes by ("S. James
    Gates, Jr." is James Gates): muting compares names as `au:` does (issue #3: one person)."""
    store, user, sub = reader
    store.ingest_records("arxiv-cs.LG", [arxiv(2, authors=(clicked, "Ann Smith"))], now=NOW - timedelta(hours=4))
    store.ingest_records("arxiv-cs.LG", [arxiv(3, authors=(written_later, "Bob Roe"))], now=NOW - timedelta(hours=3))
    matched(store, sub, 1, 2, 3)
    store.mute_author(user.id, clicked)
    assert digest_ids(store, user) == [pid(1)]


@pytest.mark.parametrize(("clicked", "someone_else"), [
    ("Yang Li", "Yi Li"),  # different given names: different people
    ("OpenAI", "OpenBMB"),  # one-word collective authors
    ("Suyanto", "Sutarman"),  # Indonesian mononyms, as on arXiv
    ("James Gates", "Sarah Gates"),  # an S. cannot be James, written out or not
    ("James Gates", "S. Gates"),
    ("James Gates", "S. J. Gates"),  # a middle initial is no name anyone goes by
    ("S. James Gates, Jr.", "Robert Gates"),
])
def test_muting_one_author_does_not_hide_a_different_person(
        reader: tuple[Store, User, int], clicked: str, someone_else: str) -> None:
    """Muting an author hides only that person: muting "Yang Li" keeps "Yi Li" in the digest, muting
    the one-word author "OpenAI" keeps "OpenBMB", muting the arXiv mononym "Suyanto" keeps "Sutarman",
    and muting "James Gates" keeps "Sarah Gates", "S. Gates" and "S. J. Gates" (issue #3: two
    different people are not merged when their names conflict)."""
    store, user, sub = reader
    store.ingest_records("arxiv-cs.LG", [arxiv(2, authors=(clicked,))], now=NOW - timedelta(hours=4))
    store.ingest_records("arxiv-cs.LG", [arxiv(3, authors=(someone_else,))], now=NOW - timedelta(hours=3))
    matched(store, sub, 1, 2, 3)
    store.mute_author(user.id, clicked)
    assert sorted(digest_ids(store, user)) == [pid(1), pid(3)]


def test_muted_author_disappears_from_the_readers_feeds_too(
        reader: tuple[Store, User, int], settings: Settings) -> None:
    """A reader who follows her alert by e-mail and in a feed reader mutes "Yann LeCun" from a digest;
    his paper, matched the day before, leaves her next digest and her private Atom feeds alike (the
    alert's ``sub-<id>`` feed and ``all``). Issue #4: both channels come from the same records."""
    store, user, sub = reader
    store.ingest_records("arxiv-cs.LG", [arxiv(2, authors=("Yann LeCun", "Ann Smith"))], now=NOW - timedelta(hours=4))
    matched(store, sub, 1, 2)
    store.mute_author(user.id, "Yann LeCun")
    assert digest_ids(store, user) == [pid(1)]
    sub_feed = [e.paper.id for e in subscription_feed(store, settings, sub, now=NOW).entries]
    all_feed = [e.paper.id for e in user_feed(store, settings, user.id, now=NOW).entries]
    assert pid(2) not in sub_feed and pid(2) not in all_feed


def test_muted_author_disappears_from_the_readers_private_trending_feed(
        sqlite_store: Store, settings: Settings, no_feed_cache: None) -> None:
    """A reader who muted "Yann LeCun" does not see his papers in her private trending feed
    (/feeds/<her token>/trending.atom), just as her digest's "Trending today" leaves them out, even
    when his paper has the most upvotes."""
    store = sqlite_store
    store.ingest_records("hf", [arxiv(5, authors=("Yann LeCun",), kind="hf-daily", signals={"upvotes": 120}),
                                arxiv(6, authors=("Ann Smith",), kind="hf-daily", signals={"upvotes": 30})],
                         now=datetime.now(timezone.utc) - timedelta(hours=1))
    user = store.upsert_user("ada@example.org", name="Ada")
    store.add_subscription(user.id, "trending", kind="trending", channel="feed")
    store.mute_author(user.id, "Yann LeCun")
    user = store.get_user(user.id)
    with TestClient(create_app(settings, store)) as client:
        r = client.get(f"/feeds/{user.feed_token}/trending.atom")
    assert r.status_code == 200
    ids = [e.id for e in feedparser.parse(r.content).entries]
    assert ids and not any("2611.00005" in i for i in ids), ids
