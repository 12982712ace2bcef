"""The real pages in headless Chromium against a real uvicorn on loopback: sign in by emailed link
(back to the page that asked), create an alert (validated as typed, previewed before saving),
change a trending alert, unsubscribe, a stored XSS payload shown as text, pages on a phone-sized
screen, with and without JavaScript. Skipped when /usr/bin/chromium is missing, unless
DIGEST_REQUIRE_BROWSER=1 (CI). What only a real server shows (when a client has its whole answer)
is timed here too, with a plain HTTP client."""

from __future__ import annotations

import asyncio
import mailbox
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.config import Settings
from digest.match.run import match_new
from digest.models import PaperRecord
from digest.store import Store
from digest.tokens import make_token
from digest.web.signin import signin_url

import smtp_sink as smtp_sink_module
from smtp_sink import SinkHandler, smtp_sink
from web_server import serve

pytestmark = pytest.mark.browser
XSS_TITLE = 'Diffusion <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
JOURNAL_URL = "https://journals.aps.org/prl/abstract/10.1103/PhysRevLett.132.123456"
REAL_QUERY = '(ti:diffusion OR abs:"score-based generative") AND NOT au:"Lovelace" AND cat:cs.*'


@pytest.fixture
def site(tmp_path: Path, sqlite_store: Store) -> Iterator[tuple[str, Settings, Store]]:
    sqlite_store.upsert_user("ada@example.org", name="Ada")
    sqlite_store.ingest_records("arxiv", [PaperRecord(
        source_kind="arxiv-rss", external_id="2411.00001", arxiv_id="2411.00001", title=XSS_TITLE,
        authors=("Ada Lovelace",), abstract="Denoising diffusion for images.", tldr="Diffusion, but faster.",
        published=datetime(2026, 11, 20, tzinfo=timezone.utc))])
    sqlite_store.ingest_records("blog", [
        PaperRecord(source_kind="rss", external_id=f"https://example.org/{i}", url=f"https://example.org/{i}",
                    title=f"{topic} revisited", abstract=f"On {topic.lower()}.",
                    published=datetime(2026, 11, 19, tzinfo=timezone.utc))
        for i, topic in enumerate(("Protein folding", "Sparse attention", "Bandit algorithms", "Causal inference"))])
    with serve(tmp_path, sqlite_store) as (base, settings):
        yield base, settings, sqlite_store


@pytest.fixture
def library(tmp_path: Path, sqlite_store: Store) -> Iterator[tuple[str, Settings, Store]]:
    """Real-looking papers of the last days: two arXiv ones (one also on Hugging Face) and a journal
    article from an RSS feed, whose source id is its long article URL."""
    now = datetime.now(timezone.utc)
    sqlite_store.upsert_user("ada@example.org", name="Ada")
    sqlite_store.ingest_records("arxiv-cs", [
        PaperRecord(source_kind="arxiv-rss", external_id="2411.00001", arxiv_id="2411.00001",
                    title="Denoising diffusion models for medical image segmentation",
                    authors=("Grace Hopper", "Alan Turing"), abstract="We apply denoising diffusion to segmentation.",
                    tldr="Diffusion segments organs better.", categories=("cs.CV",), announce_type="new",
                    published=now - timedelta(days=1)),
        PaperRecord(source_kind="arxiv-rss", external_id="2411.00002", arxiv_id="2411.00002",
                    title="Longformer: the long-document transformer", authors=("Iz Beltagy",),
                    abstract="Sparse attention patterns scale transformers to long documents.",
                    categories=("cs.CL",), announce_type="new", published=now - timedelta(days=2)),
    ])
    sqlite_store.ingest_records("hf", [PaperRecord(
        source_kind="hf-daily", external_id="2411.00001", arxiv_id="2411.00001",
        title="Denoising diffusion models for medical image segmentation", signals={"upvotes": 42},
        published=now - timedelta(days=1))])
    sqlite_store.ingest_records("aps-prl", [PaperRecord(
        source_kind="rss", external_id=JOURNAL_URL, url=JOURNAL_URL, doi="10.1103/PhysRevLett.132.123456",
        title="Observation of a superconducting diode effect", authors=("A. Physicist",),
        abstract="We observe a superconducting diode effect.", published=now - timedelta(days=1))])
    match_new(sqlite_store)
    with serve(tmp_path, sqlite_store) as (base, settings):
        yield base, settings, sqlite_store


def _page(browser: Any, *, js: bool = True, width: int | None = None) -> Any:
    options: dict[str, Any] = {"java_script_enabled": js}
    if width is not None:
        options["viewport"] = {"width": width, "height": 800}
    return browser.new_context(**options).new_page()


def _sign_in(page: Any, base: str, settings: Settings, store: Store, email: str = "ada@example.org") -> None:
    page.goto(signin_url(settings, store.get_user(email)))
    page.click("#confirm-signin")
    page.wait_for_url(f"{base}/alerts")


def _mails(settings: Settings, *, wait_for: int = 0) -> list[Any]:
    """The messages in the Maildir, once at least ``wait_for`` are there: the sign-in form mails its
    link after answering, so the "link sent" page can be shown a moment before the mail is written."""
    assert settings.delivery.maildir is not None
    deadline = time.monotonic() + 10
    while True:
        # The Maildir's folder appears a moment before its tmp/new/cur subfolders (mailbox makes them
        # one after another, cur last): until cur is there it holds no mail, and reading it would fail.
        found = (list(mailbox.Maildir(settings.delivery.maildir, create=False))
                 if (settings.delivery.maildir / "cur").exists() else [])
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_sign_in_create_alert_preview_unsubscribe(browser: Any, site: tuple[str, Settings, Store]) -> None:
    from playwright.sync_api import expect

    base, settings, store = site
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Sign in: ask for a link, read it from the mailbox, confirm.
    page.goto(f"{base}/signin")
    page.fill("#email", "ada@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=a sign-in link is on its way")
    assert settings.delivery.maildir is not None
    [mail] = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    link = re.search(r"(http://127\.0\.0\.1:\d+/signin/\S+)", mail.get_payload(decode=True).decode())
    assert link is not None
    page.goto(link.group(1))
    page.click("#confirm-signin")
    page.wait_for_url(f"{base}/alerts")
    assert "ada@example.org" in page.inner_text("header")

    # The query is checked as it is typed (alerts.js asks /alerts/check), then saved with a preview.
    page.fill("#name", "Diffusion")
    page.type("#query", "diffusion AND (")
    # (Locator assertions, not wait_for_function: our CSP forbids the eval that one needs.)
    expect(page.locator("#query-error")).to_contain_text("Column")
    page.fill("#query", "diffusion")
    expect(page.locator("#query-error")).to_have_text("")
    page.click("text=Save alert")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/alerts/\d+$"))
    assert page.locator("svg.chart rect").count() == 30  # one bar per day
    top = page.locator("#preview article.paper h3").first.inner_text()
    assert "<script>" in top  # the hostile title is text, not markup
    assert page.locator("#preview mark").first.inner_text().lower() == "diffusion"
    [sub] = store.list_subscriptions("ada@example.org")
    assert sub.query == "diffusion"

    # The paper page shows the XSS payload as text and runs none of it.
    page.goto(f"{base}/papers/arxiv:2411.00001")
    assert page.inner_text("h1") == XSS_TITLE
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []

    # Unsubscribe from the mail's link: confirmation page, then the POST.
    user = store.get_user("ada@example.org")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    page.goto(f"{base}/unsubscribe/{token}")
    assert store.get_user(user.id).active
    page.click("#confirm-unsubscribe")
    page.wait_for_selector("text=no more digests")
    assert not store.get_user(user.id).active
    assert [e for e in errors if "Content Security Policy" in e] == []


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_trending_alert_can_be_switched_to_weekly(browser: Any, library: tuple[str, Settings, Store],
                                                  js: bool) -> None:
    """A trending alert (from the Trending page's Subscribe button) has no query: its page shows what
    it follows instead of a Query field, so nothing required blocks Save, and "weekly" is saved."""
    base, settings, store = library
    page = _page(browser, js=js)
    _sign_in(page, base, settings, store)
    page.goto(f"{base}/trending")
    page.click("form[action='/trending/subscribe'] button[type=submit]")
    page.wait_for_url(f"{base}/alerts")
    [sub] = [s for s in store.list_subscriptions("ada@example.org") if s.kind == "trending"]
    page.goto(f"{base}/alerts/{sub.id}")
    assert page.locator("#query").count() == 0 and "trending papers" in page.inner_text(".follows")
    page.check("input[name=every][value=weekly]")
    page.click("text=Save alert")
    page.wait_for_load_state()
    assert store.get_subscription(sub.id).every == "weekly"


def test_preview_keeps_the_alert_being_typed(browser: Any, library: tuple[str, Settings, Store]) -> None:
    """Without JavaScript, Preview on the new-alert form shows the 30-day preview together with the
    form as typed (name, query, how often, deliver by), and Save there saves that alert."""
    base, settings, store = library
    page = _page(browser, js=False)
    _sign_in(page, base, settings, store)
    page.fill("#name", "Medical diffusion")
    page.fill("#query", "diffusion AND segmentation")
    page.check("input[name=every][value=weekly]")
    page.check("input[name=channel][value=feed]")
    page.click("text=Preview")
    page.wait_for_load_state()
    assert page.locator("#preview").count() == 1
    assert page.input_value("#name") == "Medical diffusion"
    assert page.input_value("#query") == "diffusion AND segmentation"
    assert page.is_checked("input[name=every][value=weekly]") and page.is_checked("input[name=channel][value=feed]")
    page.click("text=Save alert")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/alerts/\d+$"))
    [sub] = store.list_subscriptions("ada@example.org")
    assert (sub.name, sub.query, sub.every, sub.channel) == ("Medical diffusion", "diffusion AND segmentation",
                                                            "weekly", "feed")


def test_preview_button_keeps_csrf_token_out_of_the_url(browser: Any, library: tuple[str, Settings, Store]) -> None:
    """The alert form's Preview leads to /alerts/preview?name=...&query=...: the form's CSRF token is
    never in a URL (address bar, history, access logs)."""
    base, settings, store = library
    page = _page(browser)
    _sign_in(page, base, settings, store)
    page.fill("#name", "Medical diffusion")
    page.fill("#query", "diffusion")
    page.click("text=Preview")
    page.wait_for_url(re.compile(r".*/alerts/preview\?.*"))
    assert "csrf=" not in page.url and "query=diffusion" in page.url


def test_sign_in_returns_to_the_page_that_asked_for_it(browser: Any, library: tuple[str, Settings, Store]) -> None:
    """A signed-out user opening Delivery settings is sent to /signin?next=/settings; the emailed link,
    once confirmed, leads back to /settings (not to My alerts)."""
    base, settings, _ = library
    page = _page(browser)
    page.goto(f"{base}/settings")
    assert "next=/settings" in page.url
    page.fill("#email", "ada@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=a sign-in link is on its way")
    [mail] = _mails(settings, wait_for=1)
    link = re.search(r"(http://127\.0\.0\.1:\d+/signin/\S+)", mail.get_payload(decode=True).decode())
    assert link is not None
    page.goto(link.group(1))
    page.click("#confirm-signin")
    page.wait_for_load_state()
    assert page.url == f"{base}/settings"


def test_reloading_the_link_sent_page_sends_no_second_mail(browser: Any, library: tuple[str, Settings, Store]) -> None:
    """The sign-in form answers with a redirect to a "link sent" page (post/redirect/get): reloading
    that page shows it again and mails nothing more."""
    base, settings, _ = library
    page = _page(browser)
    page.goto(f"{base}/signin")
    page.fill("#email", "ada@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=a sign-in link is on its way")
    assert len(_mails(settings, wait_for=1)) == 1
    page.reload()
    page.wait_for_selector("text=ada@example.org has an account here")
    assert len(_mails(settings)) == 1


@pytest.mark.parametrize("path", ["/alerts", "/feeds", "/papers/{journal}"])
def test_page_fits_a_phone_screen(browser: Any, library: tuple[str, Settings, Store], path: str) -> None:
    """On a 375px-wide phone, My alerts (a long query), Private feeds (long feed URLs) and the page of
    a journal article (its source id is the article URL) need no sideways scrolling."""
    base, settings, store = library
    store.add_subscription("ada@example.org", "Diffusion models for protein structure generation",
                           query=REAL_QUERY, origin="web")
    page = _page(browser, width=375)
    _sign_in(page, base, settings, store)
    page.goto(base + path.format(journal="doi:10.1103/physrevlett.132.123456"))
    assert page.title() != "Not found · digest"
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{path}: {widths[0]}px of content on a {widths[1]}px screen"


def test_first_visit_logs_no_console_error(browser: Any, library: tuple[str, Settings, Store]) -> None:
    """Opening the start page logs nothing in the browser console: the site's icon is served (no 404
    for the icon the browser asks for) and allowed by the CSP."""
    base, _, _ = library
    page = _page(browser)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url', '')}") if m.type == "error" else None)
    page.goto(f"{base}/")
    page.wait_for_timeout(500)
    assert errors == []


class _ScanningRelay(SinkHandler):
    """A relay that scans each message before accepting it (content filters take a second or more)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)


def test_sign_in_form_answers_as_fast_for_a_known_address_as_for_an_unknown_one(
        tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone posts the sign-in form with addresses from a conference attendee list and times the
    answers. A known address's link goes through a relay that takes 1.5 s to accept a message, yet
    the answer (the whole response, as a client gets it from the server) comes as fast as for an
    unknown address: the mail is sent after the answer, so the time does not tell who has an
    account. The link still arrives."""
    sqlite_store.upsert_user("ada@example.org", name="Ada")
    monkeypatch.setattr(smtp_sink_module, "SinkHandler", _ScanningRelay)
    with smtp_sink() as (relay, smtp_port):
        with serve(tmp_path, sqlite_store, smtp_port=smtp_port) as (base, _):
            with httpx.Client(base_url=base) as client:
                token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
                assert token is not None

                def timed(email: str) -> float:
                    start = time.perf_counter()
                    r = client.post("/signin", data={"email": email, "csrf": token.group(1)})
                    assert r.status_code == 303
                    return time.perf_counter() - start

                unknown = timed("nobody@example.org")
                known = timed("ada@example.org")
            deadline = time.monotonic() + 10
            while not relay.received and time.monotonic() < deadline:
                time.sleep(0.05)
    assert known - unknown < 0.75, f"known address answered in {known:.2f} s, unknown in {unknown:.2f} s"
    assert [m.message["To"] for m in relay.received] == ["ada@example.org"]
