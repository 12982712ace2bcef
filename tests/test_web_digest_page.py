"""The whole-digest page (``GET /digest/{token}``) that an email's "N more" leads to, end to end: a
real SQLite store (and PostgreSQL where the store's part is tested), `send_due` recording the digest,
its message and what it held in the outbox, the message's own links opened with Starlette's
TestClient, time frozen with time-machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import time_machine
from starlette.testclient import TestClient
import mail_helpers
from mail_helpers import parts, send
from store_helpers import arxiv_papers, matched

from digest.config import Settings
from digest.digests.record import read_contents
from digest.digests.send import preview, send_due
from digest.models import PaperRecord, User
from digest.store import Store
from digest.store.matches import NewMatch
from digest.tokens import feedback_token
from digest.web import create_app

UTC = timezone.utc
BASE = "https://papers.example.org"
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
SEND1 = DAY1 + timedelta(hours=2)  # after Ada's 06:00 UTC
DAY2 = DAY1 + timedelta(days=1)
SEND2 = SEND1 + timedelta(days=1)
PAPER_TITLE = "//a[contains(concat(' ', @class, ' '), ' paper-title ')]"
XSS = '<script>alert("t")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    s.web.base_url = BASE
    return s


@pytest.fixture
def client(settings: Settings, sqlite_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_store)) as c:
        yield c


def email_only_user(store: Store, *, channel: str = "email") -> tuple[User, int]:
    """Ada, made the day before, with one daily alert that delivers by email only (she reads no feeds)."""
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6)
        sub = store.add_subscription(ada.id, "diffusion", query="diffusion", channel=channel)
    return ada, sub.id


def more_link(html: str) -> str | None:
    """The href of the "see the whole digest" link, or None when the email has none."""
    links = [a for a in lxml.html.fromstring(html).iter("a") if a.text_content() == "see the whole digest"]
    assert len(links) <= 1
    return links[0].get("href") if links else None


def feedback_href(html: str) -> str:
    """The first feedback link of an email: it carries the digest's token, as the page's URL does."""
    return str(lxml.html.fromstring(html).xpath("//a[starts-with(@href, 'https://papers.example.org/feedback/')]")[0]
               .get("href"))


def open_page(client: TestClient, url: str, at: datetime = SEND1 + timedelta(hours=1)) -> Any:
    assert url.startswith(f"{BASE}/digest/")
    with time_machine.travel(at, tick=True):
        return client.get(url.removeprefix(BASE))


def titles(html: str) -> list[str]:
    return [h.text_content().strip() for h in lxml.html.fromstring(html).xpath("//article[contains(@class, 'digest-card')]//h3")]


def email_titles(html: str) -> list[str]:
    """The paper titles of an email, in its order."""
    return [t.text_content().strip() for t in lxml.html.fromstring(html).xpath(PAPER_TITLE)]


def card_titles(html: str) -> list[str]:
    """The paper titles of a page, in its order (the link text, without the Trending/Updated badges)."""
    out = []
    for h in lxml.html.fromstring(html).xpath("//article[contains(@class, 'digest-card')]//h3"):
        links = h.xpath("./a")
        out.append((links[0] if links else h).text_content().strip())
    return out


def section_titles(html: str) -> list[str]:
    return [h.text_content().strip() for h in lxml.html.fromstring(html).xpath("//section/h2")]


def page_of(html: str) -> str:
    """The URL of an email's digest page: /digest/<the token its feedback links carry>."""
    return f"{BASE}/digest/{feedback_href(html).split('/feedback/')[1].split('?')[0]}"


def sent_html(store: Store, settings: Settings, now: datetime) -> str:
    return parts(send(store, settings, now))[0]


def page_at(client: TestClient, html: str, at: datetime) -> str:
    """The digest page of the email ``html`` opened at ``at``: its HTML (it answers 200)."""
    page = open_page(client, page_of(html), at=at)
    assert page.status_code == 200, page.text
    return str(page.text)


def ada_with_two_alerts(store: Store) -> tuple[int, int, int]:
    return mail_helpers.ada_with_two_alerts(store, DAY1)


def test_n_more_of_an_email_only_alert_opens_a_page_with_every_paper(client: TestClient, settings: Settings,
                                                                     sqlite_store: Store) -> None:
    """60 matches of an email-only alert: the email shows at most 50 and says "N more papers did not
    fit in this email: see the whole digest". That link opens a page listing all 60: first the ones
    the email showed, then, at #more, the ones it did not. The private feed, which lists only alerts
    that deliver to it, has none of them: it was the wrong place to send the reader."""
    store = sqlite_store
    ada, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        ids = arxiv_papers(store, 1, 60, DAY1, title="Diffusion for proteins, part {i}")
        matched(store, sub_id, ids)
    html, text = parts(send(store, settings, SEND1))
    shown = [t.text_content() for t in lxml.html.fromstring(html).xpath(PAPER_TITLE)]
    assert 0 < len(shown) <= 50
    more = 60 - len(shown)
    assert f"{more} more papers did not fit in this email: see the whole digest" in \
        lxml.html.fromstring(html).text_content()
    href = more_link(html)
    assert href is not None and href.endswith("#more")

    page = open_page(client, href)
    assert page.status_code == 200, page.text
    listed = titles(page.text)
    assert sorted(listed) == sorted(f"Diffusion for proteins, part {i}" for i in range(1, 61))
    # The email's papers first, in the email's order; the rest after the #more heading.
    assert listed[:len(shown)] == shown
    doc = lxml.html.fromstring(page.text)
    [anchor] = doc.xpath("//*[@id='more']")
    assert f"{more} papers that did not fit" in anchor.text_content()
    after = [h.text_content().strip() for h in anchor.xpath("following-sibling::section//article//h3")]
    assert sorted(after) == sorted(set(listed) - set(shown)) and len(after) == more
    # A token page: no cookie needed or set, kept by no cache, not indexed, no referrer to the papers' sites.
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["x-robots-tag"] == "noindex"
    assert page.headers["referrer-policy"] == "no-referrer"
    # Feedback from the page works as from the email: its links carry the same token.
    token = href.removeprefix(f"{BASE}/digest/").removesuffix("#more")
    feedback = [a.get("href") for a in doc.xpath("//article[contains(@class, 'digest-card')]//p[@class='why']/a")]
    assert feedback and all(f.startswith(f"{BASE}/feedback/{token}?") for f in feedback)
    # The old target: her private feed lists only alerts that deliver to a feed, so none of these.
    with time_machine.travel(SEND1, tick=True):
        feed = client.get(f"/feeds/{store.get_user(ada.id).feed_token}/all.atom")
    assert feed.status_code == 200 and "Diffusion for proteins" not in feed.text


def test_the_text_part_carries_the_same_link(settings: Settings, sqlite_store: Store) -> None:
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 55, DAY1))
    html, text = parts(send(store, settings, SEND1))
    href = more_link(html)
    assert href is not None
    more = 55 - len(lxml.html.fromstring(html).xpath(PAPER_TITLE))
    assert f"{more} more papers did not fit in this email: see the whole digest at {href}\n" in text


def test_a_digest_with_nothing_dropped_has_no_more_link(client: TestClient, settings: Settings,
                                                        sqlite_store: Store) -> None:
    """Three papers: all in the email, no "more" line in either part. The page (reached with the
    email's token) lists the same three and no #more part."""
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 3, DAY1, title="Diffusion, part {i}"))
    html, text = parts(send(store, settings, SEND1))
    assert more_link(html) is None
    assert "did not fit" not in html and "did not fit" not in text and "/digest/" not in html + text
    token = feedback_href(html).split("/feedback/")[1].split("?")[0]
    page = open_page(client, f"{BASE}/digest/{token}")
    assert page.status_code == 200
    assert titles(page.text) == ["Diffusion, part 1", "Diffusion, part 2", "Diffusion, part 3"]
    assert not lxml.html.fromstring(page.text).xpath("//*[@id='more']")


def test_a_tampered_token_is_refused(client: TestClient, settings: Settings, sqlite_store: Store) -> None:
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 60, DAY1))
    href = more_link(parts(send(store, settings, SEND1))[0])
    assert href is not None
    url = href.removesuffix("#more")
    user_id, rest = url.removeprefix(f"{BASE}/digest/").split(".", 1)
    for bad in (url[:-1] + ("A" if url[-1] != "A" else "B"),   # signature changed
                url[:-6],                                       # cut short
                f"{BASE}/digest/{int(user_id) + 1}.{rest}",     # another user's digest
                f"{BASE}/digest/nonsense"):
        page = open_page(client, bad)
        assert page.status_code == 400, bad
        assert "This link is not valid" in page.text and "Diffusion" not in page.text
        assert page.headers["cache-control"] == "private, no-store"


def test_a_token_revoked_by_a_newer_generation_is_refused(client: TestClient, settings: Settings,
                                                          sqlite_store: Store) -> None:
    """Resetting a user's links (a forwarded email) bumps the token generation: the page is refused."""
    store = sqlite_store
    ada, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 60, DAY1))
    href = more_link(parts(send(store, settings, SEND1))[0])
    assert href is not None
    assert open_page(client, href).status_code == 200
    store.bump_token_generation(ada.id)
    page = open_page(client, href)
    assert page.status_code == 400 and "revoked" in page.text and "Diffusion" not in page.text


def test_an_expired_link_and_a_removed_user_are_gone(client: TestClient, settings: Settings,
                                                     sqlite_store: Store) -> None:
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 60, DAY1))
    href = more_link(parts(send(store, settings, SEND1))[0])
    assert href is not None
    page = open_page(client, href, at=SEND1 + timedelta(days=91))
    assert page.status_code == 410 and "expired" in page.text
    with time_machine.travel(SEND1, tick=False):
        nobody = feedback_token(settings, 9999, 0, "2026-11-24")  # signed by us, for no user we have
    page = open_page(client, f"{BASE}/digest/{nobody}")
    assert page.status_code == 410 and "account was removed" in page.text


def test_a_period_no_digest_was_sent_for_is_not_found(client: TestClient, settings: Settings,
                                                      sqlite_store: Store) -> None:
    ada, _ = email_only_user(sqlite_store)
    with time_machine.travel(SEND1, tick=False):
        token = feedback_token(settings, ada.id, 0, "2026-10-01")
    page = open_page(client, f"{BASE}/digest/{token}")
    assert page.status_code == 404 and "No digest was sent for this period" in page.text


def test_untrusted_titles_are_escaped_on_the_page(client: TestClient, settings: Settings,
                                                  sqlite_store: Store) -> None:
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 60, DAY1, title="Diffusion " + XSS.replace("{", "{{")
                                            .replace("}", "}}") + " {i}"))
    href = more_link(parts(send(store, settings, SEND1))[0])
    assert href is not None
    page = open_page(client, href)
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.text)
    assert not doc.xpath("//script") and not doc.xpath("//img")
    assert not any(a.startswith("on") for el in doc.iter() if isinstance(el.tag, str) for a in el.attrib)
    assert "&lt;script&gt;" in page.text
    assert all(XSS in t for t in titles(page.text)) and len(titles(page.text)) == 60


def test_each_days_page_lists_that_days_digest_also_after_the_next_went_out(
        client: TestClient, settings: Settings, sqlite_store: Store) -> None:
    """The page rebuilds the recorded digest, not the next one: day 1's page keeps day 1's papers
    (its own papers, though recorded as sent since, and those that did not fit), day 2's has day 2's,
    even once the alert was paused from the email's unsubscribe link."""
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 55, DAY1, title="Day one, part {i}"))
    first = more_link(parts(send(store, settings, SEND1))[0])
    day2 = DAY1 + timedelta(days=1)
    with time_machine.travel(day2, tick=False):
        matched(store, sub_id, arxiv_papers(store, 101, 3, day2, title="Day two, part {i}"))
    html2, _ = parts(send(store, settings, SEND1 + timedelta(days=1)))
    store.update_subscription(sub_id, paused=True)
    assert first is not None and more_link(html2) is None
    token2 = feedback_href(html2).split("/feedback/")[1].split("?")[0]
    later = SEND1 + timedelta(days=1, hours=1)
    one = titles(open_page(client, first, at=later).text)
    assert sorted(one) == sorted(f"Day one, part {i}" for i in range(1, 56))
    two = titles(open_page(client, f"{BASE}/digest/{token2}", at=later).text)
    assert two == [f"Day two, part {i}" for i in range(101, 104)]


def test_n_more_in_a_preview_opens_the_page_of_the_digest_to_come(client: TestClient, settings: Settings,
                                                                  sqlite_store: Store) -> None:
    """The preview's email (nothing recorded yet) links to the same page: it shows the digest to come."""
    store = sqlite_store
    ada, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 60, DAY1, title="Soon, part {i}"))
    with time_machine.travel(SEND1, tick=False):
        _, rendered = preview(store, settings, ada.id, now=SEND1)
    href = more_link(rendered.html)
    assert href is not None and rendered.more_count == 60 - len(rendered.paper_ids) > 0
    page = open_page(client, href, at=SEND1 + timedelta(minutes=5))
    assert page.status_code == 200
    assert sorted(titles(page.text)) == sorted(f"Soon, part {i}" for i in range(1, 61))
    assert len(lxml.html.fromstring(page.text).xpath("//*[@id='more']/following-sibling::section//article")) == rendered.more_count


def test_a_paper_another_digest_of_the_run_took_stays_off_this_ones_page(settings: Settings, store: Store) -> None:
    """Ada's daily and weekly alerts (Tuesdays, same hour) match the same paper and both digests go out
    in one run: the daily one, recorded first, has it; the weekly one did not, and its page does not
    either, though the paper was recorded as sent after the weekly one was built. On SQLite and
    PostgreSQL (the store's ``recorded_digest`` and the contents it keeps)."""
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", timezone="UTC", hour=6, weekday=1)
        daily = store.add_subscription(ada.id, "diffusion", query="diffusion", channel="email")
        weekly = store.add_subscription(ada.id, "LeCun", query="author:LeCun", every="weekly", channel="email")
    with time_machine.travel(DAY1, tick=False):
        both = arxiv_papers(store, 1, 1, DAY1, title="Both, part {i}")
        weekly_only = arxiv_papers(store, 2, 1, DAY1, title="Weekly, part {i}")
        matched(store, daily.id, both)
        matched(store, weekly.id, both + weekly_only)
    with time_machine.travel(SEND1, tick=False):
        report = send_due(store, settings, now=SEND1, match_first=False, deliver=False)
    assert sorted(p.period for p in report.planned if p.outcome == "enqueued") == ["daily", "weekly"]
    with TestClient(create_app(settings, store)) as client:
        pages = {}
        for period, key in (("daily", "2026-11-24"), ("weekly", "2026-W48-2")):
            record = store.recorded_digest(ada.id, key)
            assert record is not None and record.period == period
            with time_machine.travel(SEND1, tick=False):
                token = feedback_token(settings, ada.id, 0, key)
            pages[period] = titles(open_page(client, f"{BASE}/digest/{token}").text)
    assert pages == {"daily": ["Both, part 1"], "weekly": ["Weekly, part 2"]}


def test_an_updated_paper_the_email_showed_is_on_the_page(client: TestClient, settings: Settings,
                                                         sqlite_store: Store) -> None:
    """Ada asked for updates: day 2's digest has paper 1 v2 (day 1 sent v1); day 2's page lists it too,
    under "Updated" with the email's "Updated v2" badge, though the paper's sent record now names day
    2's digest."""
    store = sqlite_store
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", timezone="UTC", hour=6, show_updates=True)
        sub = store.add_subscription(ada.id, "diffusion", query="diffusion", channel="email")
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, DAY1, title="Paper {i}"))
    send(store, settings, SEND1)
    day2 = DAY1 + timedelta(days=1)
    with time_machine.travel(day2, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, day2, version=2, title="Paper {i}"))
    html2, _ = parts(send(store, settings, SEND1 + timedelta(days=1)))
    assert "Updated v2" in html2
    page = open_page(client, f"{BASE}/digest/{feedback_href(html2).split('/feedback/')[1].split('?')[0]}",
                     at=SEND1 + timedelta(days=1, hours=1))
    assert page.status_code == 200 and card_titles(page.text) == ["Paper 1"]
    assert section_titles(page.text) == ["Updated"] and "Updated v2" in page.text


# --- the page is the email's digest, whatever changed since ------------------------------------------


def test_a_paper_revised_on_arxiv_after_the_digest_stays_on_that_digests_page(client: TestClient,
                                                                              settings: Settings,
                                                                              sqlite_store: Store) -> None:
    """Ada's Tuesday digest has three papers. On Wednesday arXiv announces v2 of the second one and
    the matcher matches it again (its match moves to the new version's ingest sequence). Tuesday's
    page still lists the three papers Tuesday's email had, in its order."""
    store = sqlite_store
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6)
        sub = store.add_subscription(ada.id, "diffusion models", query="diffusion", channel="email")
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 3, DAY1, title="Denoising Diffusion Models, part {i}"))
    html = sent_html(store, settings, SEND1)
    assert len(email_titles(html)) == 3
    with time_machine.travel(DAY2, tick=False):
        matched(store, sub.id, arxiv_papers(store, 2, 1, DAY2, version=2, title="Denoising Diffusion Models, part {i}"))
    assert card_titles(page_at(client, html, DAY2 + timedelta(hours=3))) == email_titles(html)


def test_an_alert_paused_before_the_digest_went_out_is_not_on_its_page(client: TestClient, settings: Settings,
                                                                       sqlite_store: Store) -> None:
    """The matcher matched Ada's two alerts at 05:00; at 05:30 she paused "graph neural networks".
    Her 06:00 email has only the diffusion papers, and so has its page: the paused alert's papers
    are not listed as papers that "did not fit"."""
    store = sqlite_store
    _, _, graphs = ada_with_two_alerts(store)
    with time_machine.travel(DAY1 + timedelta(minutes=30), tick=False):
        store.update_subscription(graphs, paused=True)
    html = sent_html(store, settings, SEND1)
    assert email_titles(html) == ["Denoising Diffusion Models, part 1", "Denoising Diffusion Models, part 2"]
    page = page_at(client, html, SEND1 + timedelta(hours=1))
    assert card_titles(page) == email_titles(html)
    assert "did not fit" not in page


@pytest.mark.parametrize("change", [{"every": "weekly"}, {"channel": "feed"}, {"paused": True}],
                         ids=["to-weekly", "to-feed-only", "paused"])
def test_papers_of_an_alert_changed_after_the_email_stay_on_its_page(client: TestClient, settings: Settings,
                                                                     sqlite_store: Store,
                                                                     change: dict[str, Any]) -> None:
    """Ada's email had four papers, two per alert. The next day she makes "graph neural networks"
    weekly, feed-only, or pauses it (from the email's own link): the page of the email she already
    has still lists its four papers."""
    store = sqlite_store
    _, _, graphs = ada_with_two_alerts(store)
    html = sent_html(store, settings, SEND1)
    assert len(email_titles(html)) == 4
    store.update_subscription(graphs, **change)
    assert card_titles(page_at(client, html, SEND1 + timedelta(days=1))) == email_titles(html)


def test_an_updated_paper_is_in_the_updated_section_of_the_page_as_in_the_email(client: TestClient,
                                                                                settings: Settings,
                                                                                sqlite_store: Store) -> None:
    """Ada asked for updates. Wednesday's email has a new paper under "diffusion models" and, under
    "Updated", v2 of a paper Tuesday's email sent. The page of Wednesday's email has the same two
    sections, the revised paper under "Updated" with its "Updated v2" badge."""
    store = sqlite_store
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6, show_updates=True)
        sub = store.add_subscription(ada.id, "diffusion models", query="diffusion", channel="email")
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, DAY1, title="Denoising Diffusion Models, part {i}"))
    send(store, settings, SEND1)
    with time_machine.travel(DAY2, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, DAY2, version=2, title="Denoising Diffusion Models, part {i}"))
        matched(store, sub.id, arxiv_papers(store, 7, 1, DAY2, title="Latent Diffusion, part {i}"))
    html = sent_html(store, settings, SEND2)
    assert "Updated v2" in html
    page = page_at(client, html, SEND2 + timedelta(hours=1))
    assert card_titles(page) == email_titles(html)
    assert section_titles(page) == ["diffusion models", "Updated"]
    assert "Updated v2" in page


def test_turning_updates_on_later_does_not_add_papers_to_an_old_digests_page(client: TestClient,
                                                                             settings: Settings,
                                                                             sqlite_store: Store) -> None:
    """Ada did not want updates: Wednesday's email has only the new paper, not v2 of Tuesday's. A
    week later she turns updates on: Wednesday's page still lists only the new paper."""
    store = sqlite_store
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6, show_updates=False)
        sub = store.add_subscription(ada.id, "diffusion models", query="diffusion", channel="email")
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, DAY1, title="Denoising Diffusion Models, part {i}"))
    send(store, settings, SEND1)
    with time_machine.travel(DAY2, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 1, DAY2, version=2, title="Denoising Diffusion Models, part {i}"))
        matched(store, sub.id, arxiv_papers(store, 7, 1, DAY2, title="Latent Diffusion, part {i}"))
    html = sent_html(store, settings, SEND2)
    assert email_titles(html) == ["Latent Diffusion, part 7"]
    store.set_digest_options(ada.id, show_updates=True, send_empty=False)
    assert card_titles(page_at(client, html, SEND2 + timedelta(days=2))) == email_titles(html)


def _hf(n: int, upvotes: int) -> PaperRecord:
    return PaperRecord("hf-daily", f"2611.{n:05d}", title=f"Scaling Sparse Mixture-of-Experts, part {n}",
                       authors=("Noam Shazeer",), arxiv_id=f"2611.{n:05d}", published=DAY1 - timedelta(hours=3),
                       signals={"upvotes": upvotes, "comments": 1})


def test_the_trending_section_of_a_page_keeps_the_emails_order(client: TestClient, settings: Settings,
                                                              sqlite_store: Store) -> None:
    """Ada follows "Trending papers". Her email ranks eight Hugging Face papers by upvotes. Later that
    day the arXiv listing of three of them is ingested (a second source, which lifts a trending
    score now): the page of the email keeps the email's order."""
    store = sqlite_store
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6)
        store.add_subscription(ada.id, "Trending papers", kind="trending", channel="email")
    with time_machine.travel(DAY1, tick=False):
        store.ingest_records("hf-daily", [_hf(i, 10 * i) for i in range(1, 9)], now=DAY1 - timedelta(hours=2))
        store.ingest_records("hf-daily", [_hf(i, 10 * i + 5) for i in range(1, 9)], now=DAY1)
    html = sent_html(store, settings, SEND1)
    assert len(email_titles(html)) == 8
    later = SEND1 + timedelta(hours=3)
    with time_machine.travel(later, tick=False):
        store.ingest_records("arxiv-cs.LG", [
            PaperRecord("arxiv-rss", f"2611.{i:05d}", title=f"Scaling Sparse Mixture-of-Experts, part {i}",
                        authors=("Noam Shazeer",), arxiv_id=f"2611.{i:05d}", published=DAY1 - timedelta(hours=3))
            for i in (1, 2, 3)], now=later)
    assert card_titles(page_at(client, html, later + timedelta(hours=1))) == email_titles(html)


def test_a_renamed_alert_keeps_the_emails_section_and_order_on_the_page(client: TestClient, settings: Settings,
                                                                       sqlite_store: Store) -> None:
    """The email had the sections "diffusion models", then "graph neural networks". Ada renames the
    first alert "zz diffusion (old)" afterwards: the page shows the email's sections, names and
    order."""
    store = sqlite_store
    _, diffusion, _ = ada_with_two_alerts(store)
    html = sent_html(store, settings, SEND1)
    store.update_subscription(diffusion, name="zz diffusion (old)")
    page = page_at(client, html, SEND1 + timedelta(hours=5))
    assert section_titles(page) == ["diffusion models", "graph neural networks"]
    assert card_titles(page) == email_titles(html)
    assert "zz diffusion" not in page


def test_the_page_shows_why_each_paper_matched_as_the_email_did(client: TestClient, settings: Settings,
                                                               sqlite_store: Store) -> None:
    """A card's "Why:" line and highlights come from the match as the digest recorded it: after Ada
    gives the alert a new query and a new name (a new query drops the alert's stored matches), the
    page's card still says why the email had the paper."""
    store = sqlite_store
    _, sub_id = email_only_user(store)
    why = {"kind": "query", "clauses": [{"clause": "diffusion", "field": "title", "matched": ["Diffusion"],
                                         "spans": [[0, 9]], "score": 1.5}]}
    with time_machine.travel(DAY1, tick=False):
        [pid] = arxiv_papers(store, 1, 1, DAY1, title="Diffusion, part {i}")
        store.save_matches([NewMatch(sub_id, pid, 1.5, why, store.get_paper(pid).seq)])
        store.set_watermark("match", store.max_seq())
    html = sent_html(store, settings, SEND1)
    assert "<mark" in html
    store.update_subscription(sub_id, query="graph", name="graphs")
    doc = lxml.html.fromstring(page_at(client, html, SEND1 + timedelta(hours=1)))
    [card] = doc.xpath("//article[contains(@class, 'digest-card')]")
    assert [m.text_content() for m in card.xpath(".//h3//mark")] == ["Diffusion"]
    assert card.xpath(".//p[@class='why']")[0].text_content().startswith("Why: diffusion (matched Diffusion)")


def test_a_paper_merged_into_another_since_is_shown_as_stored_now(client: TestClient, settings: Settings,
                                                                 sqlite_store: Store) -> None:
    """The email had a journal article. Later arXiv v2 of a preprint names the article's DOI, and the
    store combines the two under the preprint's id (the article's id becomes an alias): the page
    finds the paper by the id the digest recorded, and shows it as stored now."""
    store = sqlite_store
    authors = ("Alice Johnson", "Bob Keller")
    doi = "10.1000/jwr.2025.7"
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", timezone="UTC", hour=6)
        sub = store.add_subscription(ada.id, "widgets", query="widget", channel="email")
    link = "https://journal.example/articles/7"
    with time_machine.travel(DAY1, tick=False):
        store.ingest_records("journal", [PaperRecord("rss", link, "Kernel Methods for Widget Sparsity in Practice",
                                                     authors, doi=doi, url=link)], now=DAY1)
        article = store.get_paper(f"doi:{doi}").id
        matched(store, sub.id, [article])
    html = sent_html(store, settings, SEND1)
    assert email_titles(html) == ["Kernel Methods for Widget Sparsity in Practice"]
    later = SEND1 + timedelta(hours=1)
    for version in (1, 2):
        store.ingest_records("arxiv-cs.LG", [PaperRecord(
            "arxiv-rss", "2405.01234", "Sparse Widget Kernels", authors, arxiv_id="2405.01234", version=version,
            doi=doi if version == 2 else None)], now=later + timedelta(minutes=version))
    assert store.get_paper(f"doi:{doi}").id == "arxiv:2405.01234" != article
    page = page_at(client, html, later + timedelta(hours=1))
    assert card_titles(page) == ["Sparse Widget Kernels"] and "no longer stored" not in page


def test_a_paper_no_longer_stored_is_listed_as_gone(client: TestClient, settings: Settings,
                                                    sqlite_store: Store) -> None:
    """One of the email's three papers was removed from the database since (an operator's cleanup):
    the page lists the other two and says that one is no longer stored, in its place."""
    store = sqlite_store
    _, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        ids = arxiv_papers(store, 1, 3, DAY1, title="Diffusion, part {i}")
        matched(store, sub_id, ids)
    html = sent_html(store, settings, SEND1)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM papers WHERE id = ?", (ids[1],))
    page = page_at(client, html, SEND1 + timedelta(hours=1))
    assert card_titles(page) == ["Diffusion, part 1", "Diffusion, part 3"]
    cards = lxml.html.fromstring(page).xpath("//article[contains(@class, 'digest-card')]")
    assert len(cards) == 3 and "digest-gone" in (cards[1].get("class") or "")
    assert cards[1].text_content() == f"A paper of this digest ({ids[1]}) is no longer stored here."


def test_the_outbox_keeps_what_the_digest_held_without_the_papers_text(settings: Settings, store: Store) -> None:
    """What `digest send` records for the page: every paper of the digest in order, those its email
    had no room for included, each marked shown or not as in the email; ids and a few small values,
    not the papers' titles or abstracts. On SQLite and PostgreSQL."""
    ada, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        ids = arxiv_papers(store, 1, 60, DAY1, title="Diffusion for proteins, part {i}")
        matched(store, sub_id, ids)
    html = sent_html(store, settings, SEND1)
    record = store.recorded_digest(ada.id, "2026-11-24")
    [row] = store.outbox_rows(user_id=ada.id)
    assert record is not None and record.subject == row.subject and record.outbox_id == row.id
    contents = read_contents(record.contents)
    assert contents is not None and contents.day == "Tue 24 Nov"
    assert sorted(contents.paper_ids) == sorted(ids)
    [section] = contents.sections
    assert section.title == "diffusion" and section.kind == "subscription"
    shown = [i.paper_id for i in section.items if i.shown]
    assert len(shown) == len(email_titles(html)) < 60
    assert [f"Diffusion for proteins, part {int(pid[-5:])}" for pid in shown] == email_titles(html)
    assert all(i.version == 1 and not i.updated and i.reasons[0].subscription == "diffusion" for i in section.items)
    stored = json.dumps(record.contents)
    assert "Diffusion for proteins" not in stored and "We study diffusion" not in stored
    assert len(stored) < 200 * 60


def test_a_digest_recorded_before_its_contents_were_kept_has_no_page(settings: Settings, store: Store) -> None:
    """A digest recorded before migration 0006 has no contents (going down to 0005 and up again leaves
    the row as the upgrade found the older ones): its page says so (410) rather than rebuild the
    digest from today's alerts and matches, which need not be its email's. On SQLite and PostgreSQL."""
    from alembic import command

    from digest.store.engine import alembic_config, upgrade

    ada, sub_id = email_only_user(store)
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub_id, arxiv_papers(store, 1, 3, DAY1, title="Diffusion, part {i}"))
    html = sent_html(store, settings, SEND1)
    command.downgrade(alembic_config(store.engine), "0005")
    upgrade(store.engine)
    record = store.recorded_digest(ada.id, "2026-11-24")
    assert record is not None and record.contents is None
    with TestClient(create_app(settings, store)) as client:
        page = open_page(client, page_of(html))
    assert page.status_code == 410 and "before digest pages were kept" in page.text
    assert "Diffusion, part" not in page.text
