"""The fetched path end to end: feeds of every kind on a real local HTTP server -> ingest_due / `digest
ingest` -> the store and `digest status --json`.

The server (pytest-httpserver) serves the real captures in tests/data; loopback is allow-listed in
[fetch] allow_hosts, as an operator would for an intranet feed. No test sleeps: the host limiter's
sleep is a no-op and host spacing is 0.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import digest.sources
from digest.sources import arxiv_next_page_url, hf_day_urls, parse_document
from digest import fetch as fetch_mod
from digest.cli import cli
from digest.config import Settings
from digest.fetch import HostLimiter
from digest.ingest import FeedRun, ingest_due
from digest.sources.arxiv_calendar import EASTERN
from digest.store import Store

DATA = Path(__file__).parent / "data"
ARXIV_ALL = (DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
ARXIV_EMPTY = (DATA / "arxiv-rss" / "aioarxiv_empty-test-archive_2024-11-28.xml").read_bytes()
ARXIV_API = (DATA / "arxiv-atom" / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml").read_bytes()
HF = (DATA / "hf-daily" / "newsassistant_hf_daily_papers_2026-08-03.json").read_bytes()
OPENREVIEW_1 = (DATA / "openreview" / "venue_notes_page1_synthetic.json").read_bytes()
OPENREVIEW_2 = (DATA / "openreview" / "venue_notes_page2_synthetic.json").read_bytes()
BIORXIV_JSON = (DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json").read_bytes()
BIORXIV_RSS = (DATA / "biorxiv" / "feed-rs_rss_1.0_biorxiv_genomics.xml").read_bytes()
IACR = (DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml").read_bytes()
NATURE = (DATA / "generic-rss" / "nature_rss1_constructed.xml").read_bytes()
NOW = datetime(2024, 11, 28, 9, 0, tzinfo=EASTERN)  # Thursday, an announcement day
LATER = timedelta(hours=2)  # past every feed's interval (1 h)


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    fetch_mod.set_limiter(HostLimiter(sleep=lambda s: None))
    yield
    fetch_mod.reset_limiter()


def make_settings(server: HTTPServer, feeds: dict[str, tuple[str, str]], *,
                  allow: tuple[str, ...] = ("127.0.0.1",), **fetch: object) -> Settings:
    return Settings.model_validate({
        "fetch": {"allow_hosts": list(allow), "retries": 0, "host_spacing": 0, "read_timeout": 0.5, **fetch},
        "feeds": [{"name": name, "kind": kind, "url": server.url_for(path)} for name, (kind, path) in feeds.items()],
    })


def serve(server: HTTPServer, path: str, body: bytes, ctype: str = "application/xml", **kw: Any) -> None:
    server.expect_request(path, **kw).respond_with_data(body, content_type=ctype)


def by_name(runs: list[FeedRun]) -> dict[str, FeedRun]:
    return {r.feed_name: r for r in runs}


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every document parsed on the fetched path (digest.sources.parse_document)."""
    calls: list[str] = []
    real = digest.sources.parse_document

    def spy(kind: str, data: bytes, **kw: Any) -> Any:
        calls.append(kind)
        return real(kind, data, **kw)

    monkeypatch.setattr(digest.sources, "parse_document", spy)
    return calls


# --- every kind, end to end ----------------------------------------------------------------------

EVERY_KIND = {
    "arxiv": ("arxiv-rss", "/arxiv.xml"), "arxiv-api": ("arxiv-atom", "/api/query"), "hf": ("hf-daily", "/hf"),
    "openreview": ("openreview", "/notes"), "biorxiv": ("biorxiv", "/details/biorxiv/2026-07-13/2026-07-15/0"),
    "biorxiv-rss": ("biorxiv", "/biorxiv_xml/genomics"), "iacr": ("rss", "/iacr.rss"), "nature": ("rss", "/nature"),
}


def serve_every_kind(server: HTTPServer) -> None:
    serve(server, "/arxiv.xml", ARXIV_ALL, "application/rss+xml; charset=utf-8")
    serve(server, "/api/query", ARXIV_API, "application/atom+xml; charset=utf-8")
    serve(server, "/hf", HF, "application/json; charset=utf-8")
    serve(server, "/notes", OPENREVIEW_1, "application/json", query_string={"offset": "0", "limit": "2"})
    serve(server, "/notes", OPENREVIEW_2, "application/json", query_string={"offset": "2", "limit": "2"})
    serve(server, "/details/biorxiv/2026-07-13/2026-07-15/0", BIORXIV_JSON, "application/json")
    serve(server, "/biorxiv_xml/genomics", BIORXIV_RSS, "application/rss+xml")
    serve(server, "/iacr.rss", IACR, "application/rss+xml")
    serve(server, "/nature", NATURE, "text/xml")


def every_kind_settings(server: HTTPServer) -> Settings:
    settings = make_settings(server, EVERY_KIND)
    for feed in settings.feeds:
        if feed.name == "openreview":
            feed.url = server.url_for("/notes") + "?offset=0&limit=2"
    return settings


def test_every_kind_is_fetched_parsed_and_stored(httpserver: HTTPServer, store: Store) -> None:
    serve_every_kind(httpserver)
    runs = by_name(ingest_due(every_kind_settings(httpserver), store, now=NOW))
    assert {n: r.status for n, r in runs.items()} == dict.fromkeys(EVERY_KIND, "ok")
    seen = {n: r.stats.seen for n, r in runs.items()}
    assert seen["arxiv"] == 1504 and seen["hf"] == 3 and seen["openreview"] == 3 and seen["iacr"] == 3
    # The arXiv API query matches 28,946 papers: an open-ended listing, of which a new feed reads only
    # the first page (paging would fetch thousands of old papers from arXiv).
    assert seen["arxiv-api"] == 5 and len(httpserver.log) == 9
    assert all(seen[n] > 0 for n in ("biorxiv", "biorxiv-rss", "nature"))
    states = {s.name: s for s in store.feed_states()}
    assert all(s.last_success == NOW and s.last_error is None for s in states.values())
    assert states["openreview"].paper_count == 3


def test_cli_ingest_and_status_json(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_every_kind(httpserver)
    httpserver.expect_request("/down").respond_with_data("oops", status=500)
    feeds = {**EVERY_KIND, "down": ("rss", "/down")}
    lines = ['data_dir = "data"', "[fetch]", 'allow_hosts = ["127.0.0.1"]', "retries = 0", "host_spacing = 0"]
    for name, (kind, path) in feeds.items():
        url = httpserver.url_for(path) + ("?offset=0&limit=2" if kind == "openreview" else "")
        lines += ["[[feeds]]", f'name = "{name}"', f'kind = "{kind}"', f'url = "{url}"']
    config = tmp_path / "digest.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "ingest"])
    assert result.exit_code == 0, result.output
    assert "down: error: " in result.stderr and "HTTP 500" in result.stderr
    assert "arxiv: 1504 entries: " in result.stdout
    status = runner.invoke(cli, ["--config", str(config), "status", "--json"])
    assert status.exit_code == 0, status.output
    rows = {row["name"]: row for row in json.loads(status.stdout)["feeds"]}
    assert rows["down"]["health"] == "error" and "HTTP 500" in rows["down"]["last_error"]
    assert rows["down"]["consecutive_failures"] == 1
    assert {n: rows[n]["health"] for n in EVERY_KIND} == dict.fromkeys(EVERY_KIND, "ok")
    assert rows["arxiv"]["papers"] == 1504 and rows["arxiv"]["last_entry_count"] == 1504


# --- (1) the charset of Content-Type wins (RFC 7303 §3, RFC 9110 §8.3.1) -------------------------

# (charset label sent, Python codec the bytes are in, a title only that codec spells right)
CHARSETS = [
    ("iso-8859-1", "cp1252", "\u201cSmart\u201d quotes \u2013 \u20ac5 caf\xe9"),  # WHATWG: the label means windows-1252
    ("windows-1252", "cp1252", "Na\xefve \u201cRetrieval\u201d"),
    ("iso-8859-2", "iso-8859-2", "\u0141\xf3d\u017a \u017c\xf3\u0142\u0107 models"),
    ("koi8-r", "koi8-r", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440"),
    ("utf-16le", "utf-16-le", "\u65e5\u672c\u8a9e\u306e\u8ad6\u6587"),
]


def arxiv_rss_with_title(title: str) -> tuple[str, str]:
    """The real arXiv capture with its first paper's title replaced; (document, first arXiv id)."""
    text = ARXIV_ALL.decode("utf-8")
    first = digest.sources.parse_document("arxiv-rss", ARXIV_ALL).records[0]
    item = text.index("<item>")
    start = text.index("<title>", item) + len("<title>")
    end = text.index("</title>", start)
    return text[:start] + title + text[end:], first.external_id


def iacr_with_title(title: str) -> tuple[str, str]:
    text = IACR.decode("utf-8")
    first = digest.sources.parse_document("rss", IACR).records[0]
    start = text.index("<title>", text.index("<item>")) + len("<title>")
    end = text.index("</title>", start)
    return text[:start] + title + text[end:], first.external_id


def without_declaration(text: str) -> str:
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text)


def with_declaration(text: str, encoding: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n' + without_declaration(text).lstrip()


@pytest.mark.parametrize(("label", "codec", "title"), CHARSETS, ids=[c[0] for c in CHARSETS])
@pytest.mark.parametrize("declaration", ["none", "wrong"])
@pytest.mark.parametrize("kind", ["arxiv-rss", "rss"])  # lxml (digest.sources.xmlsafe) and feedparser
def test_content_type_charset_wins(httpserver: HTTPServer, sqlite_store: Store, label: str, codec: str,
                                   title: str, declaration: str, kind: str) -> None:
    text, first_id = arxiv_rss_with_title(title) if kind == "arxiv-rss" else iacr_with_title(title)
    # "wrong": the declaration names an encoding the bytes are not in (a CMS's template default).
    text = without_declaration(text) if declaration == "none" else with_declaration(text, "utf-8")
    body = text.encode(codec, "xmlcharrefreplace")
    serve(httpserver, "/feed", body, f"application/rss+xml; charset={label}")
    [run] = ingest_due(make_settings(httpserver, {"f": (kind, "/feed")}), sqlite_store, now=NOW)
    assert run.status == "ok", run.error
    [record] = [p for p in sqlite_store.list_papers(limit=2000) if any(v.external_id == first_id for v in p.sources)]
    assert record.title == title


def test_bom_wins_over_the_charset(httpserver: HTTPServer, sqlite_store: Store) -> None:
    # RFC 7303 §3 (W3C bug 26100): a byte order mark is authoritative, even over the MIME charset.
    text, first_id = iacr_with_title("Caf\xe9 \u65e5\u672c")
    body = with_declaration(text, "utf-16").encode("utf-16")
    serve(httpserver, "/feed", body, "application/rss+xml; charset=iso-8859-1")
    [run] = ingest_due(make_settings(httpserver, {"f": ("rss", "/feed")}), sqlite_store, now=NOW)
    assert run.status == "ok", run.error
    assert any(p.title == "Caf\xe9 \u65e5\u672c" for p in sqlite_store.list_papers(limit=10))


def test_a_charset_the_bytes_contradict_is_not_believed(httpserver: HTTPServer, sqlite_store: Store) -> None:
    # "charset=utf-8" over Windows-1252 bytes: the parsers' own repair still reads them right.
    text, _ = iacr_with_title("Caf\xe9 na\xefve")
    serve(httpserver, "/feed", without_declaration(text).encode("cp1252"), "application/rss+xml; charset=utf-8")
    [run] = ingest_due(make_settings(httpserver, {"f": ("rss", "/feed")}), sqlite_store, now=NOW)
    assert run.status == "ok" and any(p.title == "Caf\xe9 na\xefve" for p in sqlite_store.list_papers(limit=10))


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
@pytest.mark.parametrize(("kind", "body"), [("hf-daily", HF), ("biorxiv", BIORXIV_JSON), ("openreview", OPENREVIEW_2),
                                            ("rss", b"")], ids=["hf-daily", "biorxiv", "openreview", "json-feed"])
def test_json_in_utf16_and_utf32(httpserver: HTTPServer, sqlite_store: Store, codec: str, kind: str,
                                 body: bytes) -> None:
    # RFC 8259 §8.1 asks for UTF-8, but UTF-16/32 (with a BOM or not, RFC 4627 §3) are read too.
    if kind == "rss":
        body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
            {"id": "1", "url": "https://a.org/1", "title": "Caf\xe9 \u65e5\u672c"}]}).encode()
    doc = json.loads(body)
    payload = json.dumps(doc, ensure_ascii=False).encode(codec)
    serve(httpserver, "/doc", payload, f"application/json; charset={codec.removesuffix('-sig')}")
    expected = digest.sources.parse_document(kind, body)
    [run] = ingest_due(make_settings(httpserver, {"f": (kind, "/doc")}), sqlite_store, now=NOW)
    assert run.status == "ok", run.error
    assert run.stats.seen == len(expected.records) > 0


# --- (2) 304: not modified, nothing parsed ------------------------------------------------------

LAST_MODIFIED = "Thu, 28 Nov 2024 05:00:00 GMT"


def test_304_on_the_second_run_is_not_modified_and_parses_nothing(
        httpserver: HTTPServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": LAST_MODIFIED}
    httpserver.expect_ordered_request("/etag").respond_with_data(IACR, headers={"ETag": '"v1"'})
    httpserver.expect_ordered_request("/lm").respond_with_data(HF, content_type="application/json",
                                                                headers={"Last-Modified": LAST_MODIFIED})
    httpserver.expect_ordered_request("/etag", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    httpserver.expect_ordered_request("/lm", headers={"If-Modified-Since": LAST_MODIFIED}).respond_with_data(
        "", status=304, headers=validators)
    settings = make_settings(httpserver, {"etag": ("rss", "/etag"), "lm": ("hf-daily", "/lm")})
    assert [r.status for r in ingest_due(settings, store, now=NOW)] == ["ok", "ok"]
    parses = count_parses(monkeypatch)
    second = ingest_due(settings, store, now=NOW + LATER)
    httpserver.check_assertions()
    assert [r.status for r in second] == ["not-modified", "not-modified"] and parses == []
    assert all(r.stats.seen == 0 for r in second)
    etag, lm = store.get_feed_state("etag"), store.get_feed_state("lm")
    assert etag.last_success == NOW + LATER and etag.paper_count == 3 and etag.etag == '"v1"'
    # RFC 9111 §4.3.4: the validators a 304 carries are stored; the ETag is new for this feed.
    assert (lm.etag, lm.last_modified) == ('"v1"', LAST_MODIFIED)


def test_etag_with_obs_text_is_sent_back_as_received(httpserver: HTTPServer, store: Store) -> None:
    """RFC 9110 §8.8.3 lets an ETag hold obs-text (bytes 0x80-0xFF, "café-v1" from a server hashing a
    file name): it is sent back as the very bytes received, and the feed's next poll is a 304."""
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match"):
            # werkzeug reads header bytes as latin-1: what digest sent is the byte 0xE9.
            assert request.headers["If-None-Match"] == '"caf\u00e9-v1"'
            return Response(status=304)
        response = Response(IACR, content_type="application/rss+xml")
        response.headers["ETag"] = '"caf\u00e9-v1"'  # werkzeug sends it as the byte 0xE9
        return response

    httpserver.expect_request("/feed.xml").respond_with_handler(handler)
    settings = make_settings(httpserver, {"lab": ("rss", "/feed.xml")})
    [first] = ingest_due(settings, store, now=NOW)
    assert first.status == "ok"
    [second] = ingest_due(settings, store, now=NOW + LATER)
    assert second.status == "not-modified", second.error
    assert store.get_feed_state("lab").consecutive_failures == 0


# --- (3) one feed failing never stops the others -------------------------------------------------

def test_failing_feeds_do_not_stop_the_run(httpserver: HTTPServer, store: Store) -> None:
    release = threading.Event()

    def slow(_: Request) -> Response:
        release.wait(5)
        return Response(IACR)

    def fifty_megabytes(_: Request) -> Response:
        chunk = b"<item><title>x</title></item>" * 2048
        return Response((chunk for _ in range(50 * 2**20 // len(chunk))), content_type="application/rss+xml")

    port = httpserver.port
    feeds = {"a-good": ("rss", "/good"), "b-500": ("rss", "/500"), "c-timeout": ("rss", "/slow"),
             "d-html": ("rss", "/html"), "e-huge": ("rss", "/huge"), "f-redirect": ("rss", "/redirect"),
             "g-hf": ("hf-daily", "/hf")}
    serve(httpserver, "/good", IACR)
    httpserver.expect_request("/500").respond_with_data("no", status=500)
    httpserver.expect_request("/slow").respond_with_handler(slow)
    serve(httpserver, "/html", b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
    httpserver.expect_request("/huge").respond_with_handler(fifty_megabytes)
    httpserver.expect_request("/redirect").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{port}/good"})
    serve(httpserver, "/hf", HF, "application/json")
    # Only the name is allow-listed: the feeds live on http://localhost:<port>/, and the redirect to the
    # loopback address itself must be refused like any other private address.
    settings = make_settings(httpserver, feeds, allow=("localhost",))
    assert all(f.url and f.url.startswith("http://localhost:") for f in settings.feeds)
    # The test server answers one request at a time: the slow handler is let go once digest gave up.
    try:
        runs = by_name(ingest_due(settings, store, now=NOW, 
                                   progress=lambda run: run.feed_name == "c-timeout" and release.set()))
    finally:
        release.set()
    assert list(runs) == list(feeds)
    assert runs["a-good"].status == "ok" and runs["a-good"].stats.new == 3
    assert runs["g-hf"].status == "ok" and runs["g-hf"].stats.new == 3, runs["g-hf"].error
    reasons = {name: runs[name].error or "" for name in feeds if name not in ("a-good", "g-hf")}
    expected = {"b-500": "HTTP 500", "c-timeout": "timed out", "d-html": "HTML page", "e-huge": "limit",
                "f-redirect": "non-public address 127.0.0.1"}
    for name, fragment in expected.items():
        assert runs[name].status == "error" and fragment in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and len(reasons[name]) <= 500
    states = {s.name: s for s in store.feed_states()}
    assert {n: states[n].last_error for n in expected} == reasons
    assert all(states[n].consecutive_failures == 1 for n in expected)


LOGIN_PAGE = (b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in - Example University"
              b"</title></head><body><form method=\"post\" action=\"/login\"><input name=\"username\">"
              b"<input type=\"password\" name=\"password\"><button>Sign in</button></form></body></html>")


@pytest.mark.parametrize(("kind", "path"), [("hf-daily", "/api/daily_papers"), ("openreview", "/notes")])
def test_html_login_page_for_a_json_source_says_it_is_an_html_page(httpserver: HTTPServer, store: Store,
                                                                   kind: str, path: str) -> None:
    """A campus proxy's sign-in page answered (200) for a JSON API: the feed's error says "this is an
    HTML page, not JSON", as the XML sources say "not a feed", not "Expecting value: line 1"."""
    httpserver.expect_request(path).respond_with_data(LOGIN_PAGE, content_type="text/html; charset=utf-8")
    [run] = ingest_due(make_settings(httpserver, {"src": (kind, path)}), store, now=NOW)
    assert run.status == "error"
    assert "this is an HTML page, not JSON" in (run.error or ""), run.error


# --- (4) paging ----------------------------------------------------------------------------------

def arxiv_page(start: int, total: int) -> bytes:
    """A real arXiv API page ("testing", 10 a page) with its totalResults set to ``total``."""
    capture = next((DATA / "arxiv-atom" / "arxiv.py-2026").glob(f"q_testing_s{start}_m10_*.json"))
    body = json.loads(capture.read_bytes())["body"]
    return re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{total}<", body).encode()


def empty_arxiv_page(start: int) -> bytes:
    # The API's transient: no entries and a totalResults of 0, inside a listing of more.
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title>'
            '<id>https://arxiv.org/api/x</id><updated>2026-04-12T22:10:19Z</updated>'
            f'<opensearch:totalResults>0</opensearch:totalResults><opensearch:startIndex>{start}'
            '</opensearch:startIndex><opensearch:itemsPerPage>10</opensearch:itemsPerPage></feed>').encode()


def api_request(server: HTTPServer, start: int, body: bytes, **headers: str) -> None:
    server.expect_ordered_request("/api/query", query_string={"search_query": "testing", "start": str(start),
                                                              "max_results": "10"}).respond_with_data(
        body, content_type="application/atom+xml; charset=utf-8", headers=headers)


def api_settings(server: HTTPServer) -> Settings:
    settings = make_settings(server, {"api": ("arxiv-atom", "/api/query")})
    settings.feeds[0].url = server.url_for("/api/query") + "?search_query=testing&start=0&max_results=10"
    return settings


def test_arxiv_api_feed_follows_opensearch_paging_and_retries_an_empty_page(httpserver: HTTPServer,
                                                                            store: Store) -> None:
    api_request(httpserver, 0, arxiv_page(0, 30), ETag='"a1"')
    api_request(httpserver, 10, empty_arxiv_page(10))  # asked again once before it is believed
    api_request(httpserver, 10, arxiv_page(10, 30))
    api_request(httpserver, 20, arxiv_page(20, 30))
    [run] = ingest_due(api_settings(httpserver), store, now=NOW)
    httpserver.check_assertions()
    assert run.status == "ok" and run.stats.new == 30 and run.warnings == ()
    assert store.get_feed_state("api").etag == '"a1"'


def test_arxiv_api_page_empty_twice_is_believed_and_the_rest_refetched(httpserver: HTTPServer,
                                                                        store: Store) -> None:
    api_request(httpserver, 0, arxiv_page(0, 30), ETag='"a1"')
    api_request(httpserver, 10, empty_arxiv_page(10))
    api_request(httpserver, 10, empty_arxiv_page(10))
    [run] = ingest_due(api_settings(httpserver), store, now=NOW)
    httpserver.check_assertions()
    assert len(httpserver.log) == 3
    assert run.status == "ok" and run.stats.new == 10 and "page 2 stayed empty" in run.warnings[-1]
    # Pages were left unread: no validator is kept, so a 304 cannot hide them at the next poll.
    assert store.get_feed_state("api").etag is None


def test_arxiv_api_first_page_empty_is_asked_again(httpserver: HTTPServer, store: Store) -> None:
    api_request(httpserver, 0, empty_arxiv_page(0))
    api_request(httpserver, 0, arxiv_page(0, 10))
    [run] = ingest_due(api_settings(httpserver), store, now=NOW)
    httpserver.check_assertions()
    assert run.status == "ok" and run.stats.new == 10


def dated_arxiv_page(start: int, total: int, newest: datetime, step: timedelta) -> bytes:
    """A real arXiv API page of an open-ended listing (``total`` results), newest first: its entries
    submitted (and last updated) at ``newest``, ``newest - step``, ..."""
    head, *entries = arxiv_page(start, total).decode().split("<entry>")
    for i, entry in enumerate(entries):
        stamp = (newest - i * step).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries[i] = re.sub(r"<(published|updated)>[^<]*<", rf"<\1>{stamp}<", entry)
    return "<entry>".join([head, *entries]).encode()


def open_ended_settings(server: HTTPServer) -> Settings:
    settings = make_settings(server, {"cat": ("arxiv-atom", "/api/query")})
    settings.feeds[0].url = server.url_for("/api/query") + (
        "?search_query=cat%3Acs.LG&start=0&max_results=10&sortBy=submittedDate&sortOrder=descending")
    return settings


def serve_open_ended(server: HTTPServer, newest: datetime, step: timedelta) -> None:
    for start in (0, 10, 20):
        server.expect_request("/api/query", query_string={
            "search_query": "cat:cs.LG", "start": str(start), "max_results": "10", "sortBy": "submittedDate",
            "sortOrder": "descending"}).respond_with_data(
            dated_arxiv_page(start, 50_000, newest - start * step, step), content_type="application/atom+xml")


def api_starts(server: HTTPServer) -> list[str]:
    return [req.args["start"] for req, _ in server.log]


def test_open_ended_arxiv_listing_is_read_back_to_the_last_poll(httpserver: HTTPServer, store: Store) -> None:
    """A category listing newest first (50,000 results): a new feed reads its first page; later
    polls read on until a page reaches a week before the previous poll, so nothing arXiv announced
    beyond the first page in between is lost."""
    day = timedelta(days=1)
    serve_open_ended(httpserver, NOW, timedelta(hours=16))  # 30 entries over 20 days
    settings = open_ended_settings(httpserver)
    [first] = ingest_due(settings, store, now=NOW)
    assert first.status == "ok" and first.stats.new == 10 and api_starts(httpserver) == ["0"]
    httpserver.clear_log()
    # 10 entries a page, 16 h apart: the second page's oldest is 12.6 days old, past 7 days before NOW
    # (the previous poll), so paging stops after it; the third page is not asked for.
    [second] = ingest_due(settings, store, now=NOW + 2 * day)
    assert api_starts(httpserver) == ["0", "10"]
    assert second.status == "ok" and second.stats.new == 10 and second.warnings == ()


def test_open_ended_arxiv_listing_stops_at_max_pages(httpserver: HTTPServer, store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest.sources, "MAX_PAGES", 2)
    serve_open_ended(httpserver, NOW, timedelta(minutes=1))  # every page within the week
    settings = open_ended_settings(httpserver)
    store.sync_feeds(settings.feeds)
    store.record_fetch("cat", now=NOW - timedelta(days=1), outcome="ok", entry_count=10, batch_hash="x")
    [run] = ingest_due(settings, store, now=NOW)
    assert api_starts(httpserver) == ["0", "10"]
    assert run.status == "ok" and run.stats.new == 20
    assert run.warnings == ("stopped after 2 pages; later pages are not read",)


def test_open_ended_listing_stops_at_the_lookback_even_near_max_pages() -> None:
    """510 results, 10 a page: open-ended (51 pages > MAX_PAGES=50). Page 1 is within a week of the
    last poll, page 2 is 30+ days older: paging must stop there, not read on to 50 pages."""
    since = NOW - timedelta(hours=1)
    url = ("https://export.arxiv.org/api/query?search_query=cat%3Aq-bio.NC&start=0&max_results=10"
           "&sortBy=submittedDate&sortOrder=descending")
    page1 = parse_document("arxiv-atom", dated_arxiv_page(0, 510, NOW, timedelta(minutes=5)))
    page2_url = arxiv_next_page_url(url, b"", page1, since=since)
    assert page2_url is not None and "start=10" in page2_url  # page 1 reaches after since - 7 days
    old = parse_document("arxiv-atom", dated_arxiv_page(10, 510, NOW - timedelta(days=30), timedelta(days=1)))
    # Page 2's newest paper is 30 days old, far before since - 7 days: nothing beyond it is wanted.
    # 500 results are left, which 50 pages would hold: "open-ended" is not judged by what is left,
    # or every further page would be read (50 requests per poll, and no ETag kept).
    assert arxiv_next_page_url(page2_url, b"", old, since=since) is None


def test_open_ended_listing_page_failed_is_read_at_the_next_poll(httpserver: HTTPServer, store: Store) -> None:
    """Poll 1 (previous poll a day ago) needs page 2 (its newest paper is 7.9 days old, inside
    since - 7 days) but page 2 answers 500: "the rest is fetched next time". The run still counts as a
    success for the records read, but last_success stays, so poll 2 reads back as far as poll 1 did
    and page 2's papers are not lost."""
    step = timedelta(hours=19)  # page 1 spans NOW .. NOW - 7.1 days; page 2 starts at NOW - 7.9 days
    query = {"search_query": "cat:cs.LG", "max_results": "10", "sortBy": "submittedDate",
             "sortOrder": "descending"}

    def serve(start: int, status: int = 200) -> None:
        body = dated_arxiv_page(start, 50_000, NOW - start * step, step) if status == 200 else b"down"
        httpserver.expect_request("/api/query", query_string={**query, "start": str(start)}).respond_with_data(
            body, status=status, content_type="application/atom+xml")

    settings = open_ended_settings(httpserver)
    store.sync_feeds(settings.feeds)
    store.record_fetch("cat", now=NOW - timedelta(days=1), outcome="ok", entry_count=10, batch_hash="x")
    serve(0)
    serve(10, status=500)
    [first] = ingest_due(settings, store, now=NOW)
    assert api_starts(httpserver) == ["0", "10"] and "page 2 failed" in first.warnings[-1]
    assert "the rest is fetched next time" in first.warnings[-1]
    state = store.get_feed_state("cat")  # what `digest status` shows: why, and the success kept
    assert state.last_error == first.warnings[-1] and state.consecutive_failures == 0
    assert state.last_success == NOW - timedelta(days=1)
    httpserver.clear()
    serve(0)
    serve(10)
    [second] = ingest_due(settings, store, now=NOW + LATER)
    assert "10" in api_starts(httpserver)
    assert second.stats.new == 10 and store.get_feed_state("cat").last_success == NOW + LATER
    assert store.get_feed_state("cat").last_error is None


@pytest.mark.parametrize("order", ["sortBy=relevance&sortOrder=descending",
                                   "sortBy=submittedDate&sortOrder=ascending", ""])
def test_open_ended_arxiv_listing_not_newest_first_is_read_one_page(order: str) -> None:
    """Only a newest-first date order says where the papers since the last poll end."""
    page = parse_document("arxiv-atom", dated_arxiv_page(0, 50_000, NOW, timedelta(minutes=1)))
    url = f"https://export.arxiv.org/api/query?search_query=cat:cs.LG&start=0&max_results=10&{order}"
    assert arxiv_next_page_url(url, b"", page, since=NOW - timedelta(days=1)) is None
    newest_first = "https://export.arxiv.org/api/query?search_query=x&max_results=10&sortBy=lastUpdatedDate"
    assert arxiv_next_page_url(newest_first, b"", page, since=None) is None  # a new feed
    naive = (NOW - timedelta(days=1)).astimezone(timezone.utc).replace(tzinfo=None)  # taken as UTC
    assert arxiv_next_page_url(newest_first, b"", page, since=naive) == newest_first + "&start=10"


HF_NOW = datetime(2026, 8, 3, 9, 0, tzinfo=timezone.utc)


def hf_day(*ids: str) -> bytes:
    """The real daily-papers answer, its papers given other arXiv ids (another day's list)."""
    template = json.loads(HF)[0]
    return json.dumps([{**template, "paper": {**template["paper"], "id": pid}} for pid in ids]).encode()


def test_hf_daily_reads_back_to_the_last_poll_and_always_yesterday(httpserver: HTTPServer, store: Store) -> None:
    """The service was down from 31 July: the latest list, then each day back to the previous
    poll's, a quiet day (an empty list) included; the next poll reads yesterday's list again (its
    upvotes still move)."""
    serve(httpserver, "/api/daily_papers", HF, "application/json", query_string="")
    days = {"2026-08-02": hf_day("2608.00001", "2607.26654"), "2026-08-01": b"[]",
            "2026-07-31": hf_day("2607.30003")}
    for day, body in days.items():
        serve(httpserver, "/api/daily_papers", body, "application/json", query_string={"date": day})
    settings = make_settings(httpserver, {"hf": ("hf-daily", "/api/daily_papers")})
    store.sync_feeds(settings.feeds)
    store.record_fetch("hf", now=datetime(2026, 7, 31, 23, 0, tzinfo=timezone.utc), outcome="ok",
                       entry_count=1, batch_hash="x")
    [run] = ingest_due(settings, store, now=HF_NOW)
    assert [req.args.get("date") for req, _ in httpserver.log] == [None, "2026-08-02", "2026-08-01", "2026-07-31"]
    assert run.status == "ok" and run.stats.new == 5 and run.warnings == ()
    httpserver.clear_log()
    [again] = ingest_due(settings, store, now=HF_NOW + LATER)
    assert [req.args.get("date") for req, _ in httpserver.log] == [None, "2026-08-02"]
    assert again.stats.new == 0


def test_hf_daily_reading_earlier_days_sends_no_validators(httpserver: HTTPServer, store: Store) -> None:
    """Yesterday's list is read at every poll (its upvotes move): a 304 for the latest list must not
    skip it, so no If-None-Match / If-Modified-Since is sent while earlier days are read."""
    httpserver.expect_request("/api/daily_papers", query_string="").respond_with_data(
        HF, content_type="application/json", headers={"ETag": '"v1"', "Last-Modified": "Mon, 03 Aug 2026 08:00:00 GMT"})
    serve(httpserver, "/api/daily_papers", hf_day("2608.00001"), "application/json", query_string={"date": "2026-08-02"})
    settings = make_settings(httpserver, {"hf": ("hf-daily", "/api/daily_papers")})
    ingest_due(settings, store, now=HF_NOW)
    httpserver.clear_log()
    ingest_due(settings, store, now=HF_NOW + LATER)
    assert [req.args.get("date") for req, _ in httpserver.log] == [None, "2026-08-02"]
    assert not any(h in req.headers for req, _ in httpserver.log for h in ("If-None-Match", "If-Modified-Since"))


@pytest.mark.parametrize(("since", "expected"), [
    (None, ["2026-08-02"]),                                                   # a new feed: yesterday too
    (datetime(2026, 8, 3, 1, tzinfo=timezone.utc), ["2026-08-02"]),           # polled earlier today
    (datetime(2026, 7, 31, 23, tzinfo=timezone.utc), ["2026-08-02", "2026-08-01", "2026-07-31"]),
    (datetime(2026, 6, 1, tzinfo=timezone.utc), [f"2026-{d}" for d in ("08-02", "08-01", "07-31", "07-30", "07-29",
                                                                       "07-28", "07-27")]),  # at most a week
])
def test_hf_day_urls(since: datetime | None, expected: list[str]) -> None:
    urls = hf_day_urls("https://huggingface.co/api/daily_papers", since=since, today=HF_NOW.date())
    assert urls == [f"https://huggingface.co/api/daily_papers?date={day}" for day in expected]


@pytest.mark.parametrize("url", ["https://huggingface.co/api/daily_papers?date=2026-08-01",
                                 "https://mirror.example/hf.json", "https://huggingface.co/api/papers/2607.26654"])
def test_hf_day_urls_only_for_the_daily_endpoint_without_a_day(url: str) -> None:
    assert hf_day_urls(url, since=None, today=HF_NOW.date()) == []


def biorxiv_page(cursor: int, total: int, n: int) -> dict[str, object]:
    real = json.loads(BIORXIV_JSON)
    template = real["collection"][0]
    return {"messages": [{"status": "ok", "cursor": str(cursor), "count": n, "total": str(total)}],
            "collection": [{**template, "doi": f"10.64898/2026.07.13.{cursor + i:06d}"} for i in range(n)]}


@pytest.mark.parametrize("kind", ["biorxiv", "openreview"])
def test_a_server_repeating_the_same_page_does_not_loop(httpserver: HTTPServer, sqlite_store: Store,
                                                        kind: str) -> None:
    if kind == "biorxiv":
        path, body = "/details/biorxiv/2026-07-13/2026-07-15/0", json.dumps(biorxiv_page(0, 250, 100)).encode()
        httpserver.expect_request(re.compile(r"/details/biorxiv/2026-07-13/2026-07-15/\d+")).respond_with_data(
            body, content_type="application/json")
        expected = 100
    else:  # every offset answers the first page (a proxy ignoring the query string)
        path = "/notes"
        httpserver.expect_request("/notes").respond_with_data(OPENREVIEW_1, content_type="application/json")
        expected = 2
    settings = make_settings(httpserver, {"f": (kind, path)})
    if kind == "openreview":
        settings.feeds[0].url = httpserver.url_for("/notes") + "?offset=0&limit=2"
    [run] = ingest_due(settings, sqlite_store, now=NOW)
    assert len(httpserver.log) == 2  # the repeat is seen at once, not after MAX_PAGES requests
    assert run.status == "ok" and run.stats.new == expected
    assert "page 2 repeats records already read" in run.warnings[-1]


def test_biorxiv_cursor_stops_at_the_total(httpserver: HTTPServer, sqlite_store: Store) -> None:
    base = "/details/biorxiv/2026-07-13/2026-07-15"
    for cursor, n in ((0, 100), (100, 100), (200, 30)):
        httpserver.expect_ordered_request(f"{base}/{cursor}").respond_with_json(biorxiv_page(cursor, 230, n))
    [run] = ingest_due(make_settings(httpserver, {"b": ("biorxiv", f"{base}/0")}), sqlite_store, now=NOW)
    httpserver.check_assertions()
    assert len(httpserver.log) == 3 and run.stats.new == 230 and run.warnings == ()


def test_a_later_page_failing_keeps_the_pages_read(httpserver: HTTPServer, sqlite_store: Store) -> None:
    base = "/details/biorxiv/2026-07-13/2026-07-15"
    httpserver.expect_ordered_request(f"{base}/0").respond_with_json(biorxiv_page(0, 250, 100),
                                                                     headers={"ETag": '"b1"'})
    httpserver.expect_ordered_request(f"{base}/100").respond_with_data("down", status=500)
    [run] = ingest_due(make_settings(httpserver, {"b": ("biorxiv", f"{base}/0")}), sqlite_store, now=NOW)
    assert run.status == "ok" and run.stats.new == 100
    assert "page 2 failed" in run.warnings[-1] and "HTTP 500" in run.warnings[-1]
    assert sqlite_store.get_feed_state("b").etag is None


def test_retry_after_on_a_later_page_delays_the_next_poll(httpserver: HTTPServer, store: Store) -> None:
    """A 429 with "Retry-After: 86400" on page 2: the pages read are kept, and the feed's next
    attempt waits the day the server asked for, as it would for the first page."""
    base = "/details/biorxiv/2026-07-13/2026-07-15"
    httpserver.expect_ordered_request(f"{base}/0").respond_with_json(biorxiv_page(0, 250, 100))
    httpserver.expect_ordered_request(f"{base}/100").respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "86400"})
    [run] = ingest_due(make_settings(httpserver, {"biorxiv": ("biorxiv", f"{base}/0")}), store, now=NOW)
    assert run.status == "ok" and run.stats.new == 100
    state = store.get_feed_state("biorxiv")
    assert state.next_attempt is not None and state.next_attempt >= NOW + timedelta(days=1)


# --- (5) arXiv's calendar: stale and quiet -------------------------------------------------------

#: The capture as Wednesday's listing (its channel dated Wednesday): what the feed showed before
#: Thursday's rebuild.
ARXIV_WEDNESDAY = ARXIV_ALL.replace(b"<pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>",
                                    b"<pubDate>Wed, 27 Nov 2024 00:00:00 -0500</pubDate>", 1).replace(
    b"<lastBuildDate>Thu, 28 Nov 2024 14:47:20 +0000</lastBuildDate>",
    b"<lastBuildDate>Wed, 27 Nov 2024 14:47:20 +0000</lastBuildDate>", 1)


@pytest.mark.parametrize(("first", "second", "health"), [
    # Wednesday night's listing seen again on Thursday morning, after the rebuild: stale.
    (datetime(2024, 11, 27, 22, 0, tzinfo=EASTERN), datetime(2024, 11, 28, 2, 0, tzinfo=EASTERN), "stale"),
    # Twice on Thursday morning, both after the rebuild: the same batch is simply still current.
    (datetime(2024, 11, 28, 2, 0, tzinfo=EASTERN), datetime(2024, 11, 28, 9, 0, tzinfo=EASTERN), "ok"),
])
def test_same_listing_twice(httpserver: HTTPServer, store: Store, first: datetime, second: datetime,
                            health: str) -> None:
    serve(httpserver, "/arxiv", ARXIV_WEDNESDAY if health == "stale" else ARXIV_ALL, "application/rss+xml")
    settings = make_settings(httpserver, {"arxiv": ("arxiv-rss", "/arxiv")})
    assert ingest_due(settings, store, now=first)[0].status == "ok"
    [again] = ingest_due(settings, store, now=second)
    assert again.status == health and again.stats.unchanged == 1504
    state = store.get_feed_state("arxiv")
    assert state.health == health and state.last_success == (first if health == "stale" else second)


def test_same_listing_as_304_after_the_rebuild_is_stale(httpserver: HTTPServer, store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_ordered_request("/arxiv").respond_with_data(ARXIV_WEDNESDAY, headers={"ETag": '"w"'})
    httpserver.expect_ordered_request("/arxiv", headers={"If-None-Match": '"w"'}).respond_with_data("", status=304)
    settings = make_settings(httpserver, {"arxiv": ("arxiv-rss", "/arxiv")})
    ingest_due(settings, store, now=datetime(2024, 11, 27, 22, 0, tzinfo=EASTERN))
    parses = count_parses(monkeypatch)
    [again] = ingest_due(settings, store, now=datetime(2024, 11, 28, 2, 0, tzinfo=EASTERN))
    assert again.status == "stale" and parses == []


def test_weekend_empty_feed_is_quiet(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_ordered_request("/arxiv").respond_with_data(ARXIV_ALL)
    httpserver.expect_ordered_request("/arxiv").respond_with_data(ARXIV_EMPTY)
    settings = make_settings(httpserver, {"arxiv": ("arxiv-rss", "/arxiv")})
    ingest_due(settings, store, now=datetime(2024, 11, 29, 9, 0, tzinfo=EASTERN))  # Friday
    [weekend] = ingest_due(settings, store, now=datetime(2024, 11, 30, 9, 0, tzinfo=EASTERN))  # Saturday
    assert weekend.status == "quiet" and weekend.error is None and weekend.stats.seen == 0
    state = store.get_feed_state("arxiv")
    assert state.health == "quiet" and state.paper_count == 1504 and state.consecutive_failures == 0
