""""Stop one alert" in every digest email: one link per alert with a section in the email (HTML and
text), each an alert-level unsubscribe token (digest.digests.unsubscribe), so a reader can stop one
noisy alert without signing in and keep the others. GET confirms and changes nothing (link
scanners prefetch); POST pauses that alert only; a deleted alert or a revoked link gets a clear page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient
import mail_helpers
from mail_helpers import parts, send

from digest.config import Settings
from digest.models import Digest, DigestItem, DigestSection, Paper, Reason
from digest.render.email import render_email
from digest.store import Store
from digest.tokens import verify_token
from digest.web import create_app

UTC = timezone.utc
BASE = "http://testserver"  # the web pages set secure cookies under an https base URL
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
SEND1 = DAY1 + timedelta(hours=2)  # after Ada's 06:00 UTC
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
XSS = '<script>alert("t")</script>'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    s.web.base_url = BASE
    return s


@pytest.fixture
def client(settings: Settings, sqlite_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_store)) as c:
        yield c


def ada_with_two_alerts(store: Store) -> tuple[int, int, int]:
    return mail_helpers.ada_with_two_alerts(store, DAY1)


def sent(store: Store, settings: Settings, now: datetime) -> tuple[str, str]:
    """The HTML and text parts of the digest `digest send` enqueues at ``now``."""
    return parts(send(store, settings, now))


def stop_links(html: str) -> list[tuple[str, str]]:
    """(alert name, href) of the email's "Stop one alert" line, in order."""
    [line] = [p for p in lxml.html.fromstring(html).iter("p") if (p.text or "").startswith("Stop one alert:")]
    return [(a.text_content(), str(a.get("href"))) for a in line.iter("a")]


def text_stop_links(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^Stop the alert “(.+)”: (\S+)$", text, re.M)


def test_each_alert_of_a_digest_is_stopped_from_its_own_link(client: TestClient, settings: Settings,
                                                             sqlite_store: Store) -> None:
    ada, diffusion, graphs = ada_with_two_alerts(sqlite_store)
    html, text = sent(sqlite_store, settings, SEND1)
    links = stop_links(html)
    assert [name for name, _ in links] == ["diffusion models", "graph neural networks"]
    assert text_stop_links(text) == links
    for (_, href), sub_id in zip(links, (diffusion, graphs)):
        assert href.startswith(f"{BASE}/unsubscribe/")
        assert verify_token("unsubscribe", href.rsplit("/", 1)[1], settings=settings).data == {"s": sub_id}
    path = links[0][1].removeprefix(BASE)

    page = client.get(path)  # what a link scanner does: nothing changes
    assert page.status_code == 200 and "Stop the alert" in page.text and "“diffusion models”" in page.text
    assert "your other alerts keep coming" in page.text
    assert not sqlite_store.get_subscription(diffusion).paused

    done = client.post(path, data={"csrf": CSRF_RE.findall(page.text)[0]})
    assert done.status_code == 200 and "You will get no more mail for “diffusion models”." in done.text
    assert sqlite_store.get_subscription(diffusion).paused
    assert not sqlite_store.get_subscription(graphs).paused and sqlite_store.get_user(ada).active
    again = client.post(path, data={"csrf": CSRF_RE.findall(page.text)[0]})
    assert again.status_code == 200 and sqlite_store.get_subscription(diffusion).paused

    no_csrf = client.post(links[1][1].removeprefix(BASE))
    assert no_csrf.status_code in (400, 403) and not sqlite_store.get_subscription(graphs).paused


def test_a_stop_link_of_a_deleted_alert_or_a_revoked_link_says_so(client: TestClient, settings: Settings,
                                                                  sqlite_store: Store) -> None:
    ada, diffusion, graphs = ada_with_two_alerts(sqlite_store)
    links = dict(stop_links(sent(sqlite_store, settings, SEND1)[0]))
    sqlite_store.delete_subscription(graphs)
    gone = client.get(links["graph neural networks"].removeprefix(BASE))
    assert gone.status_code == 404 and "This alert no longer exists" in gone.text
    sqlite_store.bump_token_generation(ada)
    revoked = client.get(links["diffusion models"].removeprefix(BASE))
    assert revoked.status_code == 400 and not sqlite_store.get_subscription(diffusion).paused


def _paper(i: int, title: str) -> Paper:
    now = DAY1
    return Paper(id=f"arxiv:2411.{i:05d}", title=title, authors=("Ada Lovelace",), abstract="Abstract.", tldr=None,
                 categories=("cs.LG",), keywords=(), arxiv_id=f"2411.{i:05d}", version=1, doi=None, openreview_id=None,
                 url=f"https://arxiv.org/abs/2411.{i:05d}", pdf_url=None, code_url=None, published=now, updated=None,
                 license=None, journal_ref=None, venue=None, title_original=None, first_seen=now, seq=i, sources=())


def test_only_sections_of_one_alert_get_a_link_and_names_are_escaped(settings: Settings) -> None:
    def item(i: int, sub: int, *, updated: bool = False) -> DigestItem:
        return DigestItem(_paper(i, f"Paper {i}"), (Reason(sub, "x", 1.2, {}),), 1.0, None, updated)

    sections = (DigestSection("Trending in your topics", (item(1, 7),), "trending"),
                DigestSection(f"Diffusion {XSS}", (item(2, 7),), "subscription", 7),
                DigestSection("Trending today", (item(3, 9),), "trending", 9),
                DigestSection("Updated", (item(4, 7, updated=True),), "updated"))
    digest = Digest(1, "ada@example.org", "Ada", "daily", "2026-11-24", DAY1, DAY1, sections)
    rendered = render_email(digest, settings=settings, user_feed_token="f" * 20, generation=3)
    links = stop_links(rendered.html)
    assert [name for name, _ in links] == [f"Diffusion {XSS}", "Trending today"]
    assert XSS not in rendered.html  # escaped, as every name an email shows
    assert text_stop_links(rendered.text) == links
    assert [verify_token("unsubscribe", href.rsplit("/", 1)[1], settings=settings, generation=3).data["s"]
            for _, href in links] == [7, 9]
    bare = render_email(Digest(1, "ada@example.org", "Ada", "daily", "2026-11-24", DAY1, DAY1, sections[3:]),
                        settings=settings, user_feed_token="f" * 20, generation=3)
    assert "Stop one alert" not in bare.html and "Stop the alert" not in bare.text
