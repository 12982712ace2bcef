"""The web app through Starlette's TestClient on a real SQLite store: sign-in by single-use link,
sign-out, CSRF, security headers (error pages too), alerts, unsubscribe (page and RFC 8058
one-click), feeds with conditional GET, and escaping and bidi isolation of hostile feed strings."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import feedparser
import pytest
import sqlalchemy.exc
import time_machine
from starlette.testclient import TestClient

from digest.config import Settings
from digest.match.run import match_new
from digest.models import PaperRecord
from digest.store import Store
from digest.tokens import feedback_token, feedback_url, make_token
from digest.web import create_app
from digest.web import links as web_links
from digest.web import security
from digest.web.signin import signin_url

XSS = '<script>alert("t")</script><img src=x onerror=alert(1)>'
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
PDF = "\u202c"  # POP DIRECTIONAL FORMATTING


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    s.delivery.method = "maildir"
    s.delivery.maildir = tmp_path / "Maildir"
    return s


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    sqlite_store.upsert_user("ada@example.org", name="Ada")
    recs = [PaperRecord(source_kind="arxiv-rss", external_id="2411.00001", arxiv_id="2411.00001", version=1,
                        title=f"Diffusion models {XSS}", authors=("Ada Lovelace", f"Eve {XSS}"),
                        abstract=f"We study diffusion. {XSS}", tldr=f"Diffusion is neat {XSS}",
                        categories=("cs.LG",), published=datetime(2026, 11, 20, tzinfo=timezone.utc)),
            PaperRecord(source_kind="rss", external_id="https://example.org/p2", url="https://example.org/p2",
                        title="Graph neural networks for molecules", authors=("Bob",),
                        abstract="Graph networks.", published=datetime(2026, 11, 21, tzinfo=timezone.utc))]
    sqlite_store.ingest_records("arxiv-cs", recs[:1])
    sqlite_store.ingest_records("blog", recs[1:])
    sqlite_store.ingest_records("blog", [
        PaperRecord(source_kind="rss", external_id=f"https://example.org/o{i}", url=f"https://example.org/o{i}",
                    title=f"{topic} in practice", abstract=f"About {topic.lower()}.")
        for i, topic in enumerate(("Protein folding", "Sparse attention", "Bandit algorithms", "Causal inference"))])
    sqlite_store.ingest_records("hf", [PaperRecord(source_kind="hf-daily", external_id="2411.00001",
                                                   arxiv_id="2411.00001", title="Diffusion models",
                                                   signals={"upvotes": 12})])
    return sqlite_store


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as c:
        yield c


@pytest.fixture
def no_feed_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn off the 15-second render cache so a test sees what the store says now."""
    monkeypatch.setattr(web_links, "FEED_CACHE_SECONDS", -1.0)


@pytest.fixture
def reader_polls_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed handler's clock two seconds ahead: a reader that polls again later, once the second of
    the feed's last change is over (a change within the current second never earns a 304 by date)."""

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(seconds=2)

    monkeypatch.setattr(web_links, "datetime", Later)


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def sign_in(client: TestClient, settings: Settings, store: Store, email: str = "ada@example.org") -> None:
    url = signin_url(settings, store.get_user(email))
    path = url.removeprefix(settings.web.base_url)
    page = client.get(path)
    assert page.status_code == 200 and "Sign in as" in page.text
    resp = client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert resp.status_code == 303


def confirm_mailed_signin_link(client: TestClient, settings: Settings) -> Any:
    """Open the one sign-in link mailed so far and press its button: the POST's response."""
    assert settings.delivery.maildir is not None
    [mail] = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    link = re.search(r"http://localhost:8000(/signin/\S+)", mail.get_payload(decode=True).decode())
    assert link is not None
    confirm = client.get(link.group(1))
    return client.post(link.group(1), data={"csrf": csrf_of(confirm.text)}, follow_redirects=False)


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in ("/", "/healthz", "/signin", "/nope", "/static/alerts.js"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/healthz").text == "ok"
    assert client.get("/nope").status_code == 404


def test_the_server_error_page_carries_the_security_headers_and_nothing_else(settings: Settings, store: Store,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """When the database fails mid-request ("database is locked", a PostgreSQL failover), the 500
    page has the security headers of every page and Cache-Control: no-store, and says nothing about
    the failure (that goes to the log)."""
    def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "list_tags", locked)
    with TestClient(create_app(settings, store), raise_server_exceptions=False) as client:
        r = client.get("/search", params={"q": "graph"})
    assert r.status_code == 500
    assert r.headers["content-security-policy"] == security.CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "locked" not in r.text and "SELECT" not in r.text and "Traceback" not in r.text


def test_pages_have_no_inline_script(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    for path in ("/", "/alerts", "/signin", "/search?q=diffusion", "/settings"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " on" + "click=" not in html and "style=" not in html


def test_magic_link_sign_in_sets_a_safe_session(client: TestClient, settings: Settings, store: Store) -> None:
    assert client.get("/alerts", follow_redirects=False).status_code == 303  # to /signin
    sign_in(client, settings, store)
    cookie = next(c for c in client.cookies.jar if c.name == "digest_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = client.get("/alerts")
    assert page.status_code == 200 and "ada@example.org" in page.text


def test_sign_in_link_get_does_not_sign_in_and_bad_links_fail(client: TestClient, settings: Settings,
                                                              store: Store) -> None:
    url = signin_url(settings, store.get_user("ada@example.org")).removeprefix(settings.web.base_url)
    client.get(url)
    assert client.get("/alerts", follow_redirects=False).status_code == 303
    assert client.get(url[:-3] + "xyz").status_code == 400
    unsub = make_token("unsubscribe", store.get_user("ada@example.org").id, 0, settings=settings)
    assert client.get(f"/signin/{unsub}").status_code == 400  # a token for another purpose


def test_a_sign_in_link_signs_in_once(client: TestClient, settings: Settings, store: Store) -> None:
    """A sign-in link is single-use: after it signed someone in, opening it again (a forwarded
    message, a shared screen, the browser's history on another machine) shows that it was used and
    signs nobody in; a fresh link, even one asked for in the same second, still works."""
    path = signin_url(settings, store.get_user("ada@example.org")).removeprefix(settings.web.base_url)
    fresh = signin_url(settings, store.get_user("ada@example.org")).removeprefix(settings.web.base_url)
    assert fresh != path
    page = client.get(path)
    assert client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    other = TestClient(client.app)
    again = other.get(path)
    assert again.status_code == 400 and "already used" in again.text
    csrf = csrf_of(other.get("/signin").text)
    replay = other.post(path, data={"csrf": csrf}, follow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    assert other.get("/alerts", follow_redirects=False).status_code == 303  # not signed in
    page = other.get(fresh)
    assert other.post(fresh, data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert other.get("/alerts").status_code == 200


@pytest.mark.parametrize("suffix", ["=", "%C3%A9"], ids=["base64-padding", "non-alphabet-char"])
def test_a_used_sign_in_link_stays_used_however_it_is_spelled(client: TestClient, settings: Settings,
                                                              store: Store, suffix: str) -> None:
    """Once a sign-in link has signed someone in, the same link with "=" or a character outside the
    base64 alphabet appended (which the token's decoding ignores, so its signature still checks
    out) is the same used link: it signs nobody in."""
    path = signin_url(settings, store.get_user("ada@example.org")).removeprefix(settings.web.base_url)
    page = client.get(path)
    assert client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    other = TestClient(client.app)
    respelled = other.get(path + suffix)
    assert respelled.status_code == 400 and "already used" in respelled.text
    replay = other.post(path + suffix, data={"csrf": csrf_of(other.get("/signin").text)}, follow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    assert other.get("/alerts", follow_redirects=False).status_code == 303  # not signed in


def test_revocation_ends_sessions(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    store.bump_token_generation("ada@example.org")
    assert client.get("/alerts", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session_on_the_server(client: TestClient, settings: Settings, store: Store) -> None:
    """After "Sign out", a copy of the session cookie taken before (someone at a library computer, a
    synced browser profile) opens nothing: the session itself is over, not just the browser's cookie.
    Signing in again starts a new session that works."""
    sign_in(client, settings, store)
    copied = client.cookies.get("digest_session")
    assert copied
    out = client.post("/signout", data={"csrf": csrf_of(client.get("/alerts").text)}, follow_redirects=False)
    assert out.status_code == 303
    replay = TestClient(client.app)
    replay.cookies.set("digest_session", copied)
    assert replay.get("/alerts", follow_redirects=False).status_code == 303
    sign_in(client, settings, store)
    assert client.get("/alerts").status_code == 200


def test_a_session_from_before_sessions_had_an_id_still_works(client: TestClient, settings: Settings,
                                                              store: Store) -> None:
    """A session cookie set before sign-out ended sessions on the server (``[user id, generation]``,
    no session id) keeps its user signed in until it expires or they sign out."""
    user = store.get_user("ada@example.org")
    client.cookies.set("digest_session", security._session_serializer(settings).dumps([user.id, user.token_generation]))
    assert client.get("/alerts").status_code == 200


def test_signin_form_mails_a_link_and_does_not_reveal_accounts(client: TestClient, settings: Settings) -> None:
    page = client.get("/signin")
    r = client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(page.text)})
    r2 = client.post("/signin", data={"email": "nobody@example.org", "csrf": csrf_of(page.text)})
    assert r.status_code == r2.status_code == 200
    assert r.text.replace("ada@example.org", "X") == r2.text.replace("nobody@example.org", "X")
    assert settings.delivery.maildir is not None
    messages = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    assert len(messages) == 1 and messages[0]["To"] == "ada@example.org"
    assert confirm_mailed_signin_link(client, settings).status_code == 303


def test_csrf_is_required_on_forms(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    data = {"name": "Diffusion", "query": "diffusion", "every": "daily", "channel": "email"}
    assert client.post("/alerts", data=data).status_code == 403
    assert client.post("/alerts", data={**data, "csrf": "forged"}).status_code == 403
    other = TestClient(client.app)
    foreign = csrf_of(other.get("/signin").text)  # valid signature, but for another browser's cookie
    assert client.post("/alerts", data={**data, "csrf": foreign}).status_code == 403
    assert client.post("/signin", data={"email": "ada@example.org"}).status_code == 403
    assert store.list_subscriptions("ada@example.org") == []


def test_alerts_add_validate_pause_delete(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    bad = client.post("/alerts", data={"name": "Broken", "query": 'diffusion AND (', "every": "daily",
                                       "channel": "email", "csrf": token})
    assert bad.status_code == 400 and "column" in bad.text
    check = client.get("/alerts/check", params={"q": "diffusion AND ("}).json()
    assert check["ok"] is False and isinstance(check["column"], int)
    assert client.get("/alerts/check", params={"q": "diffusion"}).json() == {"ok": True}
    r = client.post("/alerts", data={"name": "Diffusion", "query": "diffusion", "every": "weekly",
                                     "channel": "email", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    [sub] = store.list_subscriptions("ada@example.org")
    assert (sub.name, sub.query, sub.every, sub.channel, sub.origin) == ("Diffusion", "diffusion", "weekly",
                                                                         "email", "web")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "<svg" in page.text and "Top hits" in page.text
    assert client.post(f"/alerts/{sub.id}/pause", data={"csrf": token}).status_code == 200
    assert store.get_subscription(sub.id).paused
    assert client.post(f"/alerts/{sub.id}/delete", data={"csrf": token}).status_code == 200
    assert store.list_subscriptions("ada@example.org") == []


def test_cannot_touch_another_users_alert(client: TestClient, settings: Settings, store: Store) -> None:
    store.upsert_user("bob@example.org")
    sub = store.add_subscription("bob@example.org", "Bob's", query="graph")
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    assert client.post(f"/alerts/{sub.id}/delete", data={"csrf": token}).status_code == 404
    assert client.get(f"/alerts/{sub.id}").status_code == 404
    assert store.get_subscription(sub.id).name == "Bob's"


def test_unsubscribe_get_confirms_post_unsubscribes(client: TestClient, settings: Settings, store: Store) -> None:
    user = store.get_user("ada@example.org")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "ada@example.org" in page.text
    assert store.get_user(user.id).active  # a GET (a link scanner) changes nothing
    assert client.post(f"/unsubscribe/{token}", data={}).status_code == 403
    done = client.post(f"/unsubscribe/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "no more" in done.text
    assert not store.get_user(user.id).active


def test_one_click_unsubscribe_needs_no_session_or_csrf(settings: Settings, store: Store) -> None:
    user = store.get_user("ada@example.org")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    with TestClient(create_app(settings, store)) as fresh:  # no cookies at all
        r = fresh.post(f"/unsubscribe/one-click/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200
        assert not store.get_user(user.id).active
        assert fresh.post("/unsubscribe/one-click/garbage", data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_revoked_unsubscribe_token_is_refused(client: TestClient, settings: Settings, store: Store) -> None:
    user = store.get_user("ada@example.org")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    store.bump_token_generation(user.id)
    assert client.post(f"/unsubscribe/one-click/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_feedback_link_confirms_then_labels(client: TestClient, settings: Settings, store: Store) -> None:
    user = store.get_user("ada@example.org")
    token = make_token("feedback", user.id, user.token_generation, settings=settings, d="2026-11-24")
    path = f"/feedback/{token}?k=more&p=arxiv:2411.00001"
    page = client.get(path)
    assert page.status_code == 200 and store.labels(user.id) == []
    assert client.post(path, data={"csrf": csrf_of(page.text)}).status_code == 200
    assert store.labels(user.id) == [("arxiv:2411.00001", 1)]


def test_feedback_links_as_digests_make_them(client: TestClient, settings: Settings, store: Store) -> None:
    from digest.tokens import feedback_token, feedback_urls
    from digest.text import mute_key

    user = store.get_user("ada@example.org")
    token = feedback_token(settings, user.id, user.token_generation, "2026-11-24")
    urls = feedback_urls(settings, token, "arxiv:2411.00001", author="Yann LeCun")
    paths = {kind: url.removeprefix(settings.web.base_url.rstrip("/")) for kind, url in urls.items()}
    assert all(p.startswith("/feedback/") for p in paths.values())
    page = client.get(paths["mute-author"])
    assert page.status_code == 200 and "Mute Yann LeCun" in page.text
    assert client.post(paths["mute-author"], data={"csrf": csrf_of(page.text)}).status_code == 200
    assert store.muted_authors(user.id) == {mute_key("Yann LeCun")}
    page = client.get(paths["not-relevant"])
    assert page.status_code == 200 and "Not relevant" in page.text
    assert client.post(paths["not-relevant"], data={"csrf": csrf_of(page.text)}).status_code == 200
    assert store.labels(user.id) == [("arxiv:2411.00001", -1)]
    assert client.get(f"/feedback/{token}?p=arxiv:2411.00001&k=x").status_code == 400
    store.bump_token_generation(user.id)
    assert client.get(paths["more"]).status_code == 400


def test_hostile_feed_strings_are_escaped(client: TestClient) -> None:
    page = client.get("/papers/arxiv:2411.00001")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in page.text
    search = client.get("/search", params={"q": "diffusion"})
    assert "<script>alert" not in search.text and "&lt;script&gt;" in search.text
    hostile_query = client.get("/search", params={"q": '"><script>x</script>'})
    assert "<script>x</script>" not in hostile_query.text


def test_paper_page_lists_every_source(client: TestClient) -> None:
    page = client.get("/papers/arxiv:2411.00001")
    assert "arxiv-cs" in page.text and "hf" in page.text and "Hugging Face" in page.text and "arXiv" in page.text
    assert client.get("/papers/arxiv:9999.99999").status_code == 404


def test_search_page_counts_results_and_lists_tags(client: TestClient) -> None:
    page = client.get("/search", params={"q": "diffusion"})
    assert page.status_code == 200
    assert re.search(r"&ldquo;diffusion&rdquo; has 1 result\b", page.text)
    assert "tl;dr" in page.text and "List of all tags" in page.text
    assert client.get("/search", params={"q": "diffusion AND ("}).status_code == 200


def test_search_page_tag_suggestions_isolate_each_tag_name(client: TestClient, store: Store) -> None:
    """A feed's keyword starting with a RIGHT-TO-LEFT OVERRIDE, suggested on the search page's "How
    about: a, b, c?" line, is isolated (<bdi>, as author names and categories are elsewhere): it
    cannot reverse the tag names and separators after it ("Trojan Source"-style reordering)."""
    store.ingest_records("blog", [PaperRecord(
        source_kind="rss", external_id=f"https://example.org/k{i}", url=f"https://example.org/k{i}",
        title=f"Note {i}", abstract="About graphs.", keywords=(f"{RLO}gnilpmas ruo", "graph neural networks"))
        for i in range(3)])
    match_new(store)
    line = re.search(r"How about:(.*?)</p>", client.get("/search").text, re.S)
    assert line is not None
    names = re.findall(r"<a [^>]*>(.*?)</a>", line.group(1), re.S)
    assert any(RLO in name for name in names), "the hostile tag is not suggested"
    assert all(name.startswith("<bdi>") and name.endswith("</bdi>") for name in names), names


def test_feed_over_http_with_conditional_get(client: TestClient, store: Store, reader_polls_later: None) -> None:
    sub = store.add_subscription("ada@example.org", "Diffusion", query="diffusion", channel="feed")
    match_new(store)
    user = store.get_user("ada@example.org")
    url = f"/feeds/{user.feed_token}/sub-{sub.id}.atom"
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"].startswith("application/atom+xml")
    assert "https://arxiv.org/abs/2411.00001" in full.text and "<script>" not in full.text
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    assert full.headers["cache-control"] == "private, max-age=300"
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200
    # A date no clock can hold is ignored (RFC 9110 §13.1.3: an invalid date is not a condition).
    for odd in ("Mon, 2 Apr 99999999999999999999 19:18:42 GMT", "Fri, 31 Dec 9999 23:00:00 -1200", "garbage"):
        assert client.get(url, headers={"If-Modified-Since": odd}).status_code == 200
    rss = client.get(f"/feeds/{user.feed_token}/all.rss")
    assert rss.status_code == 200 and rss.headers["content-type"].startswith("application/rss+xml")
    assert client.get(f"/feeds/not-a-token/sub-{sub.id}.atom").status_code == 404
    assert client.get(f"/feeds/{user.feed_token}/sub-{sub.id}.html").status_code == 404


def test_feed_of_another_users_subscription_is_not_served(client: TestClient, store: Store) -> None:
    store.upsert_user("bob@example.org")
    bob_sub = store.add_subscription("bob@example.org", "Graphs", query="graph", channel="feed")
    ada = store.get_user("ada@example.org")
    assert client.get(f"/feeds/{ada.feed_token}/sub-{bob_sub.id}.atom").status_code == 404


def test_signed_in_pages_render(client: TestClient, settings: Settings, store: Store) -> None:
    sub = store.add_subscription("ada@example.org", "Diffusion", query="diffusion", channel="both")
    store.add_label("ada@example.org", "generative", "arxiv:2411.00001")
    sign_in(client, settings, store)
    feeds = client.get("/feeds")
    assert feeds.status_code == 200 and f"/sub-{sub.id}.atom" in feeds.text
    tags = client.get("/tags")
    assert tags.status_code == 200 and "generative" in tags.text and "More like this" in tags.text
    preview = client.get("/preview")
    assert preview.status_code == 200 and "sandbox" in preview.headers["content-security-policy"]
    trending = client.get("/trending")
    assert trending.status_code == 200 and "Subscribe" in trending.text
    token = csrf_of(client.get("/settings").text)
    r = client.post("/settings", data={"timezone": "Europe/Berlin", "hour": "6", "weekday": "4", "every": "weekly",
                                       "channel": "", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    user = store.get_user("ada@example.org")
    assert (user.timezone, user.hour, user.weekday) == ("Europe/Berlin", 6, 4)
    assert store.get_subscription(sub.id).every == "weekly" and store.get_subscription(sub.id).channel == "both"
    bad = client.post("/settings", data={"timezone": "Mars/Olympus", "hour": "6", "weekday": "4", "csrf": token})
    assert bad.status_code == 400
    assert client.post("/trending/subscribe", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert any(s.kind == "trending" for s in store.list_subscriptions("ada@example.org"))


def test_preview_button_of_the_new_alert_form(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    page = client.get("/alerts/preview", params={"name": "x", "query": "diffusion", "every": "daily"})
    assert page.status_code == 200 and "<svg" in page.text and "Last 30 days" in page.text
    bad = client.get("/alerts/preview", params={"query": "diffusion AND ("})
    assert "column" in bad.text


def test_deeply_nested_query_is_shown_as_an_error(client: TestClient, settings: Settings, store: Store) -> None:
    """A machine-generated query of 300 nested parentheses is a query error on the search page, the
    alert form's live check, the preview and the save, never a server error; nothing is saved."""
    query = "(" * 300 + "diffusion" + ")" * 300
    assert client.get("/search", params={"q": query}).status_code == 200
    check = client.get("/alerts/check", params={"q": query})
    assert check.status_code == 200 and check.json()["ok"] is False
    assert client.get("/alerts/preview", params={"q": query}).status_code in (200, 400)
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    saved = client.post("/alerts", data={"name": "Nested", "query": query, "every": "daily", "channel": "email",
                                         "csrf": token})
    assert saved.status_code == 400
    assert store.list_subscriptions("ada@example.org") == []


def test_new_alert_with_an_existing_name_is_refused(client: TestClient, settings: Settings, store: Store) -> None:
    """A second alert under the name of an existing one is refused with a message (400); the first
    keeps its query, period and channel."""
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    first = client.post("/alerts", data={"name": "Diffusion", "query": "diffusion", "every": "daily",
                                         "channel": "email", "csrf": token}, follow_redirects=False)
    assert first.status_code == 303
    second = client.post("/alerts", data={"name": "Diffusion", "query": "string theory", "every": "weekly",
                                          "channel": "feed", "csrf": token}, follow_redirects=False)
    assert second.status_code == 400
    [sub] = store.list_subscriptions("ada@example.org")
    assert (sub.query, sub.every, sub.channel) == ("diffusion", "daily", "email")


def test_renaming_an_alert_to_a_taken_name_is_refused(client: TestClient, settings: Settings, store: Store) -> None:
    """Renaming an alert to the name of another of the user's alerts is a 400 with a message; the
    alert keeps its name."""
    store.add_subscription("ada@example.org", "Diffusion", query="diffusion")
    strings = store.add_subscription("ada@example.org", "Strings", query="string theory")
    sign_in(client, settings, store)
    token = csrf_of(client.get(f"/alerts/{strings.id}").text)
    r = client.post(f"/alerts/{strings.id}", data={"name": "Diffusion", "query": "string theory", "every": "daily",
                                                   "channel": "both", "csrf": token}, follow_redirects=False)
    assert r.status_code == 400
    assert store.get_subscription(strings.id).name == "Strings"


def test_delivery_settings_take_only_a_weekday_0_to_6(client: TestClient, settings: Settings, store: Store) -> None:
    """The weekday is exactly one of "0".."6": "0123456" or an empty value is a 400 page with a
    message, and the stored weekday stays what it was."""
    sign_in(client, settings, store)
    token = csrf_of(client.get("/settings").text)
    for weekday in ("0123456", "", "7", "\u0663"):  # "٣" is a digit to str.isdigit(), not to the form
        r = client.post("/settings", data={"timezone": "Europe/Berlin", "hour": "7", "weekday": weekday,
                                           "csrf": token}, follow_redirects=False)
        assert r.status_code == 400 and "weekday" in r.text, weekday
    assert store.get_user("ada@example.org").weekday == 0
    assert client.post("/settings", data={"timezone": "UTC", "hour": "\u00b2", "weekday": "1", "csrf": token},
                       follow_redirects=False).status_code == 400


def test_delivery_settings_with_an_unknown_period_or_channel_is_400(client: TestClient, settings: Settings,
                                                                     store: Store) -> None:
    """"How often" and "deliver by" for all alerts take the form's values only (or "" to keep each
    alert's); every=hourly or channel=sms is a 400 page with a message, and nothing changes."""
    sub = store.add_subscription("ada@example.org", "Diffusion", query="diffusion")
    sign_in(client, settings, store)
    token = csrf_of(client.get("/settings").text)
    for extra in ({"every": "hourly"}, {"channel": "sms"}):
        r = client.post("/settings", data={"timezone": "UTC", "hour": "9", "weekday": "1", "csrf": token, **extra},
                        follow_redirects=False)
        assert r.status_code == 400 and "daily or weekly" in r.text, extra
    assert store.get_user("ada@example.org").hour == 7
    assert (store.get_subscription(sub.id).every, store.get_subscription(sub.id).channel) == ("daily", "both")


def test_alert_number_too_large_for_the_database_is_404(client: TestClient, settings: Settings,
                                                        store: Store) -> None:
    """/alerts/<a number above 2**63-1> is an unknown alert: 404 on the page and on its pause and
    delete forms."""
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    huge = "99999999999999999999"
    assert client.get(f"/alerts/{huge}").status_code == 404
    assert client.post(f"/alerts/{huge}/pause", data={"csrf": token}).status_code == 404
    assert client.post(f"/alerts/{huge}/delete", data={"csrf": token}).status_code == 404


def test_feed_url_with_an_impossible_subscription_number_is_404(client: TestClient, store: Store) -> None:
    """sub-<n>.atom with a number no database holds, or with a non-ASCII digit ("²"), is an unknown
    feed: 404 like any other."""
    token = store.get_user("ada@example.org").feed_token
    assert client.get(f"/feeds/{token}/sub-99999999999999999999.atom").status_code == 404
    assert client.get(f"/feeds/{token}/sub-\u00b2.atom").status_code == 404
    assert client.get(f"/feeds/{token}/sub-.atom").status_code == 404


def test_alert_page_shows_the_error_of_a_stored_query_that_no_longer_parses(client: TestClient, settings: Settings,
                                                                           store: Store) -> None:
    """An alert whose stored query does not parse (imported from a hand-edited export, or saved before
    today's checks) opens with the query error on the page, as the form shows it, so that the user
    can correct it."""
    sub = store.add_subscription("ada@example.org", "Imported", query="diffusion AND (", origin="import")
    sign_in(client, settings, store)
    page = client.get(f"/alerts/{sub.id}")
    assert page.status_code == 200
    assert "column" in page.text and "Last 30 days" not in page.text


def test_search_results_past_the_first_page_are_reachable(client: TestClient, store: Store) -> None:
    """A search with more results than one page holds counts them all and links to the next pages
    (?page=N, Previous/Next); following them shows every result once."""
    store.ingest_records("blog", [
        PaperRecord(source_kind="rss", external_id=f"https://example.org/sheaves/{i}",
                    url=f"https://example.org/sheaves/{i}", title=f"Sheaf neural networks, study {i}",
                    abstract="Message passing on sheaves.") for i in range(60)])
    first = client.get("/search", params={"q": "sheaf"})
    assert first.status_code == 200 and "has 60 results" in first.text
    seen = re.findall(r'href="(/papers/[^"]+)"', first.text)
    assert len(seen) == 50
    more = {unescape(h) for h in re.findall(r'href="(/search\?[^"#]+)"', first.text) if "page=" in unescape(h)}
    assert more == {"/search?q=sheaf&page=2"}
    second = client.get("/search?q=sheaf&page=2")
    assert "has 60 results" in second.text and 'rel="prev"' in second.text and 'rel="next"' not in second.text
    seen += re.findall(r'href="(/papers/[^"]+)"', second.text)
    assert len(seen) == len(set(seen)) == 60
    for odd in ("0", "99", "x", "\u00b2"):  # a page that does not exist shows one that does
        assert client.get("/search", params={"q": "sheaf", "page": odd}).status_code == 200


def test_one_click_unsubscribe_url_opened_in_a_browser_shows_the_confirmation(client: TestClient, settings: Settings,
                                                                               store: Store) -> None:
    """A GET on the List-Unsubscribe https URI (a mail client without RFC 8058 support opens it in a
    browser) shows the confirmation page of the ordinary unsubscribe link and changes nothing; its
    button unsubscribes."""
    user = store.get_user("ada@example.org")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    page = client.get(f"/unsubscribe/one-click/{token}")
    assert page.status_code == 200 and "ada@example.org" in page.text
    assert store.get_user(user.id).active  # a GET changes nothing
    assert f'action="/unsubscribe/{token}"' in page.text
    done = client.post(f"/unsubscribe/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and not store.get_user(user.id).active
    assert client.get("/unsubscribe/one-click/garbage").status_code == 400


def test_after_unsubscribing_a_user_can_sign_in_and_resume(client: TestClient, settings: Settings,
                                                           store: Store) -> None:
    """An unsubscribed (inactive) user still gets a sign-in link and can sign in; My alerts says the
    digests are stopped and "Resume my digests" (a POST with CSRF) makes the user active again. Their
    private feeds are 404 while stopped."""
    user = store.get_user("ada@example.org")
    store.add_subscription(user.id, "Diffusion", query="diffusion", channel="both")
    token = make_token("unsubscribe", user.id, user.token_generation, settings=settings)
    assert client.post(f"/unsubscribe/one-click/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    page = client.get("/signin")
    assert client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(page.text)}).status_code == 200
    assert settings.delivery.maildir is not None
    assert len(list(mailbox.Maildir(settings.delivery.maildir, create=True))) == 1
    assert client.get(f"/feeds/{user.feed_token}/all.atom").status_code == 404
    sign_in(client, settings, store)
    alerts = client.get("/alerts")
    assert alerts.status_code == 200 and "Resume my digests" in alerts.text
    token = csrf_of(alerts.text)
    assert client.post("/settings", data={"timezone": "UTC", "hour": "8", "weekday": "2", "csrf": token},
                       follow_redirects=False).status_code == 303
    assert not store.get_user(user.id).active  # saving the delivery time is not resuming
    assert client.post("/resume", data={}).status_code == 403
    assert client.post("/resume", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert store.get_user(user.id).active
    assert "Resume my digests" not in client.get("/alerts").text
    assert client.get(f"/feeds/{user.feed_token}/all.atom").status_code == 200


def test_last_modified_is_never_in_the_future(client: TestClient, store: Store, no_feed_cache: None) -> None:
    """A journal dating its next issue ahead (2099 here) does not put the feed's Last-Modified or
    <updated> in the future (RFC 9110 §8.8.2.1), and a later match still answers a reader's
    If-Modified-Since with 200, not 304 until 2099."""
    sub = store.add_subscription("ada@example.org", "Cells", query="stem cells", channel="feed")
    store.ingest_records("journal", [PaperRecord(
        source_kind="rss", external_id="https://journal.example/2099/03/stem-cells",
        url="https://journal.example/2099/03/stem-cells", title="Stem cells in the March issue",
        abstract="Stem cells.", published=datetime(2099, 3, 1, tzinfo=timezone.utc),
        updated=datetime(2099, 3, 1, tzinfo=timezone.utc))])
    match_new(store)
    url = f"/feeds/{store.get_user('ada@example.org').feed_token}/sub-{sub.id}.atom"
    first = client.get(url)
    assert first.status_code == 200
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert parsedate_to_datetime(first.headers["last-modified"]) <= soon
    assert feedparser.parse(first.content).feed.updated_parsed.tm_year < 2099
    store.ingest_records("arxiv-q", [PaperRecord(source_kind="arxiv-rss", external_id="2411.01234",
                                                 arxiv_id="2411.01234", version=1, title="Stem cells on a chip",
                                                 abstract="Stem cells.")])
    match_new(store)
    again = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 200


def test_trending_feed_last_modified_moves_when_a_paper_enters_it(client: TestClient, store: Store,
                                                                   no_feed_cache: None) -> None:
    """A paper first seen days ago that starts collecting upvotes enters the trending feed: its entry
    time is when its signals were fetched, so Last-Modified moves and If-Modified-Since gets the new
    feed. An unchanged trending feed keeps its bytes and validators."""
    now = datetime.now(timezone.utc)
    store.ingest_records("arxiv-cs", [PaperRecord(source_kind="arxiv-rss", external_id="2411.05555",
                                                  arxiv_id="2411.05555", version=1, title="A quiet start",
                                                  abstract="x")], now=now - timedelta(days=3))
    store.ingest_records("hf", [PaperRecord(source_kind="hf-daily", external_id="2411.06666", arxiv_id="2411.06666",
                                            title="Hot today", signals={"upvotes": 40})], now=now - timedelta(hours=2))
    url = f"/feeds/{store.get_user('ada@example.org').feed_token}/trending.atom"
    first = client.get(url)
    ids = [e.id for e in feedparser.parse(first.content).entries]
    assert "https://arxiv.org/abs/2411.06666" in ids and "https://arxiv.org/abs/2411.05555" not in ids
    same = client.get(url)
    assert (same.content, same.headers["etag"]) == (first.content, first.headers["etag"])
    # Ten minutes on, its upvotes fetched five minutes ago. (Not "now - 5 min": the fixture's own
    # Hugging Face paper was fetched a moment before this test began, and when it trends too the
    # first feed's Last-Modified is that moment, later than now - 5 min.)
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    store.ingest_records("hf", [PaperRecord(source_kind="hf-daily", external_id="2411.05555", arxiv_id="2411.05555",
                                            title="A quiet start", signals={"upvotes": 90})],
                         now=later - timedelta(minutes=5))
    with time_machine.travel(later, tick=False):
        full = client.get(url)
        assert "https://arxiv.org/abs/2411.05555" in full.text
        again = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 200


def test_rotated_feed_token_stops_working_at_once(client: TestClient, store: Store) -> None:
    """A rotated feed token is a 404 at once, even while the feed it served is in the render cache."""
    sub = store.add_subscription("ada@example.org", "Diffusion", query="diffusion", channel="feed")
    old = store.get_user("ada@example.org").feed_token
    assert client.get(f"/feeds/{old}/sub-{sub.id}.atom").status_code == 200
    new = store.rotate_feed_token("ada@example.org")
    assert client.get(f"/feeds/{old}/sub-{sub.id}.atom").status_code == 404
    assert client.get(f"/feeds/{new}/sub-{sub.id}.atom").status_code == 200


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found, "no <title>"
    return unescape(found.group(1))


def test_query_error_names_its_column_once(client: TestClient, settings: Settings, store: Store) -> None:
    """An unfinished query ("diffusion AND (") is refused with one message naming its column once:
    on the alert form when saving, on the preview page and on the search page."""
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    saved = client.post("/alerts", data={"name": "Diffusion", "query": "diffusion AND (", "every": "daily",
                                         "channel": "email", "csrf": token})
    preview = client.get("/alerts/preview", params={"name": "Diffusion", "query": "diffusion AND ("})
    search = client.get("/search", params={"q": "ti:"})
    for page, reason in ((saved, "unclosed parenthesis"), (preview, "unclosed parenthesis"), (search, "needs a value")):
        [message] = re.findall(r'class="error" role="alert">([^<]+)</p>', page.text)
        assert reason in message and message.lower().count("column") == 1, message


def _unsubscribe_path(settings: Settings, store: Store) -> str:
    user = store.get_user("ada@example.org")
    return "/unsubscribe/" + make_token("unsubscribe", user.id, user.token_generation, settings=settings)


def _feedback_path(settings: Settings, store: Store) -> str:
    user = store.get_user("ada@example.org")
    token = feedback_token(settings, user.id, user.token_generation, "2026-11-23")
    return feedback_url(settings, token, "more", "arxiv:2411.00001").removeprefix(settings.web.base_url)


def _signin_link_path(settings: Settings, store: Store) -> str:
    return signin_url(settings, store.get_user("ada@example.org")).removeprefix(settings.web.base_url)


@pytest.mark.parametrize(("make_path", "expected"), [
    (lambda s, st: "/", "Paper alerts and daily digests · digest"),
    (lambda s, st: "/signin", "Sign in · digest"),
    (lambda s, st: "/signin/sent", "Sign in · digest"),
    (_signin_link_path, "Sign in · digest"),
    (_unsubscribe_path, "Unsubscribe · digest"),
    (_feedback_path, "More like this · digest"),
], ids=["home", "signin", "signin-sent", "signin-link", "unsubscribe", "feedback"])
def test_page_has_its_own_title(client: TestClient, settings: Settings, store: Store, make_path: Any,
                                expected: str) -> None:
    """Every page names itself in its title (the tab, the history, a screen reader's announcement)."""
    assert _title(client.get(make_path(settings, store)).text) == expected


def test_a_paper_page_title_closes_a_right_to_left_override(client: TestClient, store: Store) -> None:
    """A paper whose title starts with a RIGHT-TO-LEFT OVERRIDE: its page's title closes the override
    before " · digest" (as email and feeds do), so the tab and the history do not read "tsegid"."""
    store.ingest_records("blog", [PaperRecord(
        source_kind="rss", external_id="https://example.org/rlo", url="https://example.org/rlo",
        title=f"{RLO}Attention is all you need", abstract="Transformers.")])
    paper = next(p for p in store.list_papers(limit=50) if p.title.startswith(RLO))
    page = client.get(f"/papers/{paper.id}")
    assert page.status_code == 200
    assert _title(page.text) == f"{RLO}Attention is all you need{PDF} · digest"


def test_preview_counts_one_paper_in_the_singular(client: TestClient, settings: Settings, store: Store) -> None:
    """An alert that matched one paper in the last 30 days says "Last 30 days: 1 paper"; two say "papers"."""
    sign_in(client, settings, store)
    token = csrf_of(client.get("/alerts").text)
    one = client.post("/alerts", data={"name": "Molecules", "query": "graph neural networks", "every": "daily",
                                       "channel": "email", "csrf": token})
    assert "Last 30 days: 1 paper</h2>" in one.text
    two = client.get("/alerts/preview", params={"query": "diffusion OR graph"})
    assert "Last 30 days: 2 papers</h2>" in two.text


def test_each_tag_in_the_list_of_all_tags_links_to_a_search_for_its_papers(client: TestClient,
                                                                           store: Store) -> None:
    """The search page's list of all tags links an arXiv category to `cat:NAME`, a keyword a source
    gave to `kw:"NAME"` and a topic tag of the config to `kw:"NAME"` (search sees topic tags among a
    paper's keywords): each search finds as many papers as the list says the tag has."""
    store.ingest_records("arxiv-cs", [PaperRecord(
        source_kind="arxiv-api", external_id="2411.00003", arxiv_id="2411.00003",
        title="Message passing for crystal property prediction", authors=("Tian Xie",),
        abstract="Crystal graphs and message passing.", categories=("cond-mat.mtrl-sci", "cs.LG"),
        keywords=("Materials Informatics",), published=datetime(2026, 11, 21, tzinfo=timezone.utc))])
    store.upsert_tag("generative models", "diffusion OR GAN", origin="config")
    match_new(store)
    page = client.get("/search").text
    links = dict((unescape(name), unescape(href)) for href, name in
                 re.findall(r'<li><a href="/search\?q=([^"]+)"><bdi>([^<]+)</bdi></a>', page))
    listed = dict((unescape(name), int(n)) for name, n in
                  re.findall(r'<li><a href="[^"]+"><bdi>([^<]+)</bdi></a> <span class="n">(\d+)</span>', page))
    expected = {"cs.LG": "cat:cs.LG", "materials informatics": 'kw:"materials informatics"',
                "generative models": 'kw:"generative models"'}
    for name, query in expected.items():
        assert unquote_plus(links[name]) == query
        results = client.get("/search", params={"q": query}).text
        assert re.search(rf"has {listed[name]} results?\b", results), (name, listed[name])
    assert listed == {"cs.LG": 2, "cond-mat.mtrl-sci": 1, "materials informatics": 1, "generative models": 1}


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example/", "/\t/evil.example",
                                    "javascript:alert(1)", "settings"])
def test_sign_in_leads_only_to_a_page_of_this_site(client: TestClient, settings: Settings, target: str) -> None:
    """The page to return to after signing in (`next`) is honoured only when it is a path of this
    site; anything that a browser would take to another site leads to My alerts (no open redirect)."""
    page = client.get("/signin", params={"next": target})
    assert 'name="next" value="/alerts"' in page.text
    client.post("/signin", data={"email": "ada@example.org", "next": target, "csrf": csrf_of(page.text)})
    done = confirm_mailed_signin_link(client, settings)
    assert done.headers["location"] == "/alerts"


def test_sign_in_returns_to_a_page_with_its_query(client: TestClient, settings: Settings, store: Store) -> None:
    """A signed-out user opening a preview link signs in and lands on that preview, query included;
    the sign-in form answers with a redirect to the "link sent" page (reloading it mails nothing)."""
    asked = client.get("/alerts/preview", params={"query": "graph"}, follow_redirects=False)
    assert asked.headers["location"] == "/signin?next=/alerts/preview%3Fquery%3Dgraph"
    page = client.get(asked.headers["location"])
    sent = client.post("/signin", data={"email": "ada@example.org", "next": "/alerts/preview?query=graph",
                                        "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/signin/sent"
    assert "ada@example.org has an account here" in client.get("/signin/sent").text
    done = confirm_mailed_signin_link(client, settings)
    assert done.headers["location"] == "/alerts/preview?query=graph"
    assert client.get(done.headers["location"]).status_code == 200


def test_the_site_icon_is_served(client: TestClient) -> None:
    """Pages link a small SVG icon, and /favicon.ico (which browsers ask for on their own) answers with it."""
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text
    for path in ("/favicon.ico", "/static/favicon.svg"):
        icon = client.get(path)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in icon.text and "<script" not in icon.text


@pytest.mark.parametrize(("kind", "query", "follows"), [
    ("trending", "", "trending papers"), ("tag", "cs.LG", "papers tagged"),
    ("user-tag", "generative", "papers like the ones you labelled")])
def test_alert_without_a_query_can_be_edited(client: TestClient, settings: Settings, store: Store, kind: str,
                                             query: str, follows: str) -> None:
    """A trending, tag or user-tag alert has no query to type: its page says what it follows (no
    Query field, no Preview) and saves a new name, period and channel."""
    sub = store.add_subscription("ada@example.org", "Mine", kind=kind, query=query, origin="web")
    sign_in(client, settings, store)
    page = client.get(f"/alerts/{sub.id}")
    assert 'name="query"' not in page.text and "Preview" not in page.text and follows in page.text
    saved = client.post(f"/alerts/{sub.id}", data={"name": "Renamed", "every": "weekly", "channel": "feed",
                                                   "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert saved.status_code == 303
    after = store.get_subscription(sub.id)
    assert (after.name, after.kind, after.query, after.every, after.channel) == ("Renamed", kind, query, "weekly",
                                                                                 "feed")


def test_preview_of_an_alert_being_edited_saves_to_that_alert(client: TestClient, settings: Settings,
                                                              store: Store) -> None:
    """Preview on an alert's page redirects to a GET carrying only the alert's fields and its number
    (no CSRF token); that page's form saves to the same alert. Another user's alert number is ignored."""
    mine = store.add_subscription("ada@example.org", "Diffusion", query="diffusion", origin="web")
    store.upsert_user("bob@example.org")
    bobs = store.add_subscription("bob@example.org", "Graphs", query="graph", origin="web")
    sign_in(client, settings, store)
    token = csrf_of(client.get(f"/alerts/{mine.id}").text)
    moved = client.post(f"/alerts/preview?alert={mine.id}", data={"name": "Diffusion", "query": "diffusion models",
                                                                  "every": "weekly", "channel": "both",
                                                                  "csrf": token}, follow_redirects=False)
    location = moved.headers["location"]
    assert moved.status_code == 303 and "csrf" not in location and f"alert={mine.id}" in location
    page = client.get(location).text
    assert f'action="/alerts/{mine.id}"' in page and 'value="diffusion models"' in page
    other = client.get("/alerts/preview", params={"query": "graph", "alert": str(bobs.id)}).text
    assert 'action="/alerts"' in other and "Graphs" not in other
