"""The whole-digest page (``GET /digest/{token}``) that an email's "N more" leads to, end to end: a
real SQLite store, `send_due` recording the digest and its message in the outbox, the message's own
links opened with Starlette's TestClient, time frozen with time-machine."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import time_machine
from starlette.testclient import TestClient
from store_helpers import arxiv_papers, matched

from digest.config import Settings
from digest.digests.send import preview, send_due
from digest.models import User
from digest.store import Store
from digest.tokens import feedback_token
from digest.web import create_app

UTC = timezone.utc
BASE = "https://papers.example.org"
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
SEND1 = DAY1 + timedelta(hours=2)  # after Ada's 06:00 UTC
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


def send(store: Store, settings: Settings, now: datetime) -> EmailMessage:
    """Run `digest send` (no SMTP: the message as the outbox recorded it)."""
    with time_machine.travel(now, tick=False):
        report = send_due(store, settings, now=now, match_first=False, deliver=False)
    [planned] = [p for p in report.planned if p.outcome == "enqueued"]
    row = store.get_outbox(planned.outbox_id or 0)
    assert row is not None and row.message is not None
    return email.message_from_bytes(row.message, policy=email.policy.default)  # type: ignore[return-value]


def parts(message: EmailMessage) -> tuple[str, str]:
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    # The wire's CRLF line ends as "\n" (RFC 5322 §2.3 lines, read back as text).
    return str(html.get_content()), str(text.get_content()).replace("\r\n", "\n")


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
    PostgreSQL (the store's ``recorded_digest`` and ``sent_versions(before_outbox=...)``)."""
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
    though the paper's sent record now names day 2's digest. (Under its alert's section: the store
    keeps the last version sent of a paper, not each digest's, so the page cannot tell it was an
    update.)"""
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
    assert page.status_code == 200 and titles(page.text) == ["Paper 1"]
