"""The digest email as a person sees it: headless Chromium at phone and desktop widths, light and dark.

Skipped when /usr/bin/chromium is missing, unless DIGEST_REQUIRE_BROWSER=1 (CI), where it fails.
Screenshots go to docs/screenshots/ (digest-email.png is the one the README shows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digest.models import DigestItem
from digest.render.email import render_email

from render_samples import XSS, digest, paper, reason, settings

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"

pytestmark = pytest.mark.browser


def _html() -> str:
    hostile = paper(7, title=f"Attention {XSS} is all you need",
                    authors=tuple(f"Author Number {i}" for i in range(30)),
                    code_url="javascript:alert(3)",
                    abstract="A" * 600)  # one unbreakable word: must wrap, not widen the page
    items = (DigestItem(paper(0), (reason(), reason("Yann LeCun", 2)), score=1.0, trending=6.0),
             DigestItem(hostile, (reason(),), score=0.9),
             DigestItem(paper(2, tldr="A short tl;dr."), (reason(),), score=0.8, updated=True))
    return render_email(digest(items=items, more_count=12), settings=settings(), user_feed_token="t" * 43,
                        generation=0).html


def _open(browser: Any, width: int, scheme: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                  java_script_enabled=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route("**/*", lambda route: route.abort())  # nothing leaves the machine
    page.set_content(_html(), wait_until="load")
    return context, page, dialogs


@pytest.mark.parametrize(("width", "scheme", "shot"), [
    (1024, "light", "digest-email.png"), (375, "light", "digest-email-phone.png"),
    (375, "dark", "digest-email-dark.png"),
])
def test_digest_reads_well_and_runs_nothing(browser: Any, width: int, scheme: str, shot: str) -> None:
    context, page, dialogs = _open(browser, width, scheme)
    try:
        title = page.locator("a.paper-title").first
        assert title.is_visible()
        assert title.get_attribute("href") == "https://arxiv.org/abs/2411.00000"
        hostile = page.locator("a.paper-title").nth(1)
        assert XSS in hostile.inner_text()  # the payload is shown as text
        assert page.locator("td.card script, td.card img").count() == 0
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        assert "12 more papers" in page.inner_text("td.more")
        assert page.get_by_text("Unsubscribe").is_visible()
        body_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert body_bg == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(243, 244, 246)")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / shot), full_page=width != 1024)
        assert dialogs == []
    finally:
        context.close()
