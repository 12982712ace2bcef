"""The real pages in headless Chromium against a real uvicorn on loopback: sign in by emailed link,
create an alert (validated as typed, with its preview), unsubscribe, and a stored XSS payload shown
as text. Skipped when /usr/bin/chromium is missing, unless DIGEST_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import mailbox
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from digest.config import Settings
from digest.models import PaperRecord
from digest.store import Store
from digest.tokens import make_token
from digest.web import create_app

pytestmark = pytest.mark.browser
XSS_TITLE = 'Diffusion <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path, sqlite_store: Store) -> Iterator[tuple[str, Settings, Store]]:
    port = _free_port()
    settings = Settings(data_dir=tmp_path, secret_key="b" * 40)  # type: ignore[arg-type]
    settings.web.base_url = f"http://127.0.0.1:{port}"
    settings.delivery.method = "maildir"
    settings.delivery.maildir = tmp_path / "Maildir"
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
    server = uvicorn.Server(uvicorn.Config(create_app(settings, sqlite_store), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield settings.web.base_url, settings, sqlite_store
    server.should_exit = True
    thread.join()


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
