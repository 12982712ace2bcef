"""The web app through Starlette's TestClient on a real SQLite store: sign-in by link, CSRF,
security headers, alerts, unsubscribe (page and RFC 8058 one-click), feeds with conditional GET,
and escaping of hostile feed strings."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest.config import Settings
from digest.models import PaperRecord
from digest.store import Store
from digest.tokens import make_token
from digest.web import create_app
from digest.web.signin import signin_url

XSS = '<script>alert("t")</script><img src=x onerror=alert(1)>'
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


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


def test_revocation_ends_sessions(client: TestClient, settings: Settings, store: Store) -> None:
    sign_in(client, settings, store)
    store.bump_token_generation("ada@example.org")
    assert client.get("/alerts", follow_redirects=False).status_code == 303


def test_signin_form_mails_a_link_and_does_not_reveal_accounts(client: TestClient, settings: Settings) -> None:
    page = client.get("/signin")
    r = client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(page.text)})
    r2 = client.post("/signin", data={"email": "nobody@example.org", "csrf": csrf_of(page.text)})
    assert r.status_code == r2.status_code == 200
    assert r.text.replace("ada@example.org", "X") == r2.text.replace("nobody@example.org", "X")
    assert settings.delivery.maildir is not None
    messages = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    assert len(messages) == 1 and messages[0]["To"] == "ada@example.org"
    body = messages[0].get_payload(decode=True).decode()
    link = re.search(r"http://localhost:8000(/signin/\S+)", body)
    assert link is not None
    confirm = client.get(link.group(1))
    assert client.post(link.group(1), data={"csrf": csrf_of(confirm.text)}, follow_redirects=False).status_code == 303


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
    from digest.text import author_key

    user = store.get_user("ada@example.org")
    token = feedback_token(settings, user.id, user.token_generation, "2026-11-24")
    urls = feedback_urls(settings, token, "arxiv:2411.00001", author="Yann LeCun")
    paths = {kind: url.removeprefix(settings.web.base_url.rstrip("/")) for kind, url in urls.items()}
    assert all(p.startswith("/feedback/") for p in paths.values())
    page = client.get(paths["mute-author"])
    assert page.status_code == 200 and "Mute Yann LeCun" in page.text
    assert client.post(paths["mute-author"], data={"csrf": csrf_of(page.text)}).status_code == 200
    assert store.muted_authors(user.id) == {author_key("Yann LeCun")}
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


def test_feed_over_http_with_conditional_get(client: TestClient, store: Store) -> None:
    from digest.match.run import match_new

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
