"""Edge cases of digest.fetch against real local servers (pytest-httpserver on 127.0.0.1, allow-listed).

Redirect targets, userinfo, IDN and IPv6 hosts, Retry-After forms, 304 rules, content codings and
bombs, slow-drip servers. No test sleeps for real: the limiter's clock and sleep are fakes.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from email.utils import format_datetime
from typing import Any

import pytest
import time_machine
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import fetch as fetch_mod
from digest.errors import BlockedAddressError, FetchError
from digest.fetch import ERROR_DETAIL_CHARS, fetch
from fetch_helpers import FakeClock, fake_limiter, local

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2024, 11, 26, 15, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    yield from fake_limiter()


def resolve_as(monkeypatch: pytest.MonkeyPatch, mapping: dict[str, list[str]]) -> list[str]:
    """Make getaddrinfo answer ``mapping`` (name -> addresses, in order); returns the names asked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name in mapping:
            return [info for a in mapping[name] for info in real(a, port, *args, **kw)]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


# --- redirects --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_followed(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=status, headers={"Location": "new"})
    httpserver.expect_request("/new").respond_with_data(FEED)
    result = fetch(httpserver.url_for("/old"), settings=local())
    assert result.body == FEED and result.final_url.endswith("/new")


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/x", "http://10.0.0.1/", "http://169.254.169.254/",
                                    "http://[::1]/", "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/",
                                    "http://100.64.0.1/", "http://224.0.0.1/", "http://[ff02::1]/",
                                    "http://2130706433:{port}/", "http://[fec0::1]/"])
def test_redirect_from_allowed_name_to_private_address_refused(httpserver: HTTPServer, target: str) -> None:
    """Allow-listing a host by name allows that name only, not wherever it redirects to."""
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": target.format(port=httpserver.port)})
    httpserver.expect_request("/x").respond_with_data(FEED)
    url = f"http://localhost:{httpserver.port}/feed"
    with pytest.raises(BlockedAddressError) as info:
        fetch(url, settings=local(allow_hosts=["localhost"]))
    assert "redirect" in str(info.value) and str(info.value).startswith(url)
    assert [r.path for r, _ in httpserver.log] == ["/feed"]


@pytest.mark.parametrize("location", ["http://[::1", "http://host:99999/", "gopher://example.org/",
                                      "file:///etc/passwd", "data:text/xml,<rss/>"])
def test_redirect_to_invalid_or_non_http_url_is_a_fetch_error(httpserver: HTTPServer, location: str) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=302, headers={"Location": location})
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/feed"), settings=local())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("location", ["http://0177.0.0.1/feed.xml", "http://256.12.0.1/feed.xml"])
def test_redirect_to_a_malformed_address_is_one_clear_error_not_retried(httpserver: HTTPServer, clock: FakeClock,
                                                                        location: str) -> None:
    """A Location whose host is no valid address (an octal IPv4 form, which the C resolver would read
    as 127.0.0.1, or an octet over 255) is "redirect to an invalid URL": the same redirect would
    come back, so it is asked for once, not retried with back-off as a connection failure."""
    httpserver.expect_request("/feed").respond_with_data("", status=302, headers={"Location": location})
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/feed"), settings=local(retries=3))
    assert "connection failed" not in str(info.value) and "redirect to an invalid URL" in str(info.value)
    assert len(httpserver.log) == 1 and clock.slept == []


def test_http_error_after_a_redirect_names_the_redirect_target(httpserver: HTTPServer) -> None:
    """A feed that moved (301) and whose new address fails: the error names the URL configured and
    the one that failed ("...: redirected to .../current-issue.xml: HTTP 404")."""
    httpserver.expect_request("/rss/current.xml").respond_with_data(
        "", status=301, headers={"Location": "/feeds/journal/current-issue.xml"})
    httpserver.expect_request("/feeds/journal/current-issue.xml").respond_with_data("Not Found", status=404)
    url = httpserver.url_for("/rss/current.xml")
    with pytest.raises(FetchError) as info:
        fetch(url, settings=local(retries=0))
    assert str(info.value) == f"{url}: redirected to {httpserver.url_for('/feeds/journal/current-issue.xml')}: HTTP 404"


@pytest.mark.parametrize("url", ["http://[::1", "http://example.org:0/", "data:text/xml,<rss/>", "http:///x"])
def test_bad_urls_are_fetch_errors(url: str) -> None:
    with pytest.raises(FetchError):
        fetch(url, settings=local())


# --- userinfo -----------------------------------------------------------------------------------------


def test_userinfo_never_shown_in_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/err").respond_with_data("no", status=404)
    url = httpserver.url_for("/err").replace("http://", "http://alice:s3cret@")
    with pytest.raises(FetchError) as info:
        fetch(url, settings=local())
    assert "s3cret" not in str(info.value) and "s3cret" not in info.value.url
    assert "alice" not in str(info.value) and "HTTP 404" in str(info.value)
    for bad in ("ftp://alice:s3cret@example.org/x", "http://alice:s3cret@[::1/x",
                "http://alice:s3cret@127.0.0.1:1/x"):
        with pytest.raises(FetchError) as info:
            fetch(bad, settings=local(retries=0))
        assert "s3cret" not in str(info.value) and "s3cret" not in info.value.url


def test_userinfo_sent_as_basic_auth_to_same_origin_only(httpserver: HTTPServer) -> None:
    """RFC 9110 §11.6.2 / RFC 7617: URL credentials become Basic auth, never sent to another origin."""
    httpserver.expect_request("/private").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{httpserver.port}/elsewhere"})
    httpserver.expect_request("/elsewhere").respond_with_data(FEED)
    url = f"http://alice:s3cret@localhost:{httpserver.port}/private"
    assert fetch(url, settings=local(allow_hosts=["127.0.0.1", "localhost"])).body == FEED
    (first, _), (second, _) = httpserver.log
    assert first.headers.get("Authorization") == "Basic YWxpY2U6czNjcmV0"  # alice:s3cret
    assert second.headers.get("Authorization") is None


# --- hosts: IPv6 literal, IDN, several addresses --------------------------------------------------------


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 loopback")
def test_ipv6_literal_host_header_is_bracketed() -> None:
    """RFC 9110 §7.2 / RFC 3986 §3.2.2: an IPv6 host is sent as [addr]:port."""
    server = HTTPServer(host="::1")
    server.start()
    try:
        server.expect_request("/feed").respond_with_data(FEED)
        fetch(f"http://[::1]:{server.port}/feed", settings=local(allow_hosts=["::1"]))
        assert server.log[0][0].headers.get("Host") == f"[::1]:{server.port}"
    finally:
        server.clear()
        server.stop()


def test_idn_host_sent_as_a_label(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 5891: the host is resolved and sent in its ASCII (punycode) form."""
    asked = resolve_as(monkeypatch, {"xn--bcher-kva.example": ["127.0.0.1"]})
    httpserver.expect_request("/feed").respond_with_data(FEED)
    result = fetch(f"http://Bücher.example:{httpserver.port}/feed", settings=local())
    assert result.body == FEED and asked[0] == "xn--bcher-kva.example" and all(a.isascii() for a in asked)
    assert httpserver.log[0][0].headers.get("Host") == f"xn--bcher-kva.example:{httpserver.port}"


def test_invalid_idn_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="host"):
        fetch("http://a\u200b\u0301b..example/", settings=local())


def test_next_vetted_address_tried_when_first_refuses(httpserver: HTTPServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Like any client (RFC 8305 §5, sequentially): a dead first address does not fail the fetch."""
    resolve_as(monkeypatch, {"feeds.example": ["127.0.0.2", "127.0.0.1"]})
    httpserver.expect_request("/feed").respond_with_data(FEED)
    result = fetch(f"http://feeds.example:{httpserver.port}/feed", settings=local(allow_hosts=["127.0.0.0/8"],
                                                                                   retries=0))
    assert result.body == FEED


# --- Retry-After ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("7", 7.0), (" 12 ", 12.0), ("0", 0.0),
    (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),   # IMF-fixdate
    ("Tuesday, 26-Nov-24 15:01:30 GMT", 90.0),                            # obsolete RFC 850
    ("Tue Nov 26 15:01:30 2024", 90.0),                                   # obsolete asctime (UTC)
    ("Tue, 26 Nov 2024 14:00:00 GMT", 0.0),                               # in the past: now
    ("garbage", None), ("-5", None), ("1.5", None), ("\u00b2", None), ("", None),
])
def test_retry_after_forms(value: str, expected: float | None) -> None:
    """RFC 9110 §10.2.3 and §5.6.7: delay-seconds or any of the three HTTP-date forms."""
    with time_machine.travel(NOW, tick=False):
        assert fetch_mod._retry_after(value) == expected


def test_absurd_retry_after_is_finite_and_bounded(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/limited").respond_with_data("", status=429, headers={"Retry-After": "9" * 400})
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/limited"), settings=local())
    assert info.value.retry_after == fetch_mod.MAX_REPORTED_RETRY_AFTER and clock.slept == []


def test_retry_after_http_date_honoured(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_ordered_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": "Tue Nov 26 15:00:45 2024"})
    httpserver.expect_ordered_request("/busy").respond_with_data(FEED)
    with time_machine.travel(NOW, tick=False):
        assert fetch(httpserver.url_for("/busy"), settings=local()).body == FEED
    assert clock.slept == [45.0]


def test_429_without_retry_after_backs_off_within_jitter_bounds(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/limited").respond_with_data("", status=429)
    with pytest.raises(FetchError, match="HTTP 429 after 4 attempt"):
        fetch(httpserver.url_for("/limited"), settings=local(retries=3))
    assert len(clock.slept) == 3
    assert all(0 <= s <= min(fetch_mod.BACKOFF_CAP, 2 ** i) for i, s in enumerate(clock.slept))


# --- 304 -------------------------------------------------------------------------------------------------


def test_304_to_unconditional_request_is_an_error(httpserver: HTTPServer) -> None:
    """RFC 9110 §15.4.5: 304 answers a conditional request only; without validators it is a server bug."""
    httpserver.expect_request("/feed").respond_with_data("", status=304)
    with pytest.raises(FetchError, match="304") as info:
        fetch(httpserver.url_for("/feed"), settings=local())
    assert info.value.status == 304


def test_304_keeps_the_validators_it_does_not_replace(httpserver: HTTPServer) -> None:
    """RFC 9111 §4.3.4: a 304 updates the stored validators it carries; the others stay."""
    httpserver.expect_ordered_request("/feed", headers={"If-None-Match": 'W/"v1"'}).respond_with_data("", status=304)
    httpserver.expect_ordered_request("/feed").respond_with_data("", status=304, headers={"ETag": 'W/"v2"'})
    lm = "Tue, 26 Nov 2024 10:00:00 GMT"
    first = fetch(httpserver.url_for("/feed"), settings=local(), etag='W/"v1"', last_modified=lm)
    assert (first.not_modified, first.etag, first.last_modified) == (True, 'W/"v1"', lm)
    second = fetch(httpserver.url_for("/feed"), settings=local(), etag='W/"v1"', last_modified=lm)
    assert (second.etag, second.last_modified) == ('W/"v2"', lm)
    assert httpserver.log[0][0].headers.get("If-Modified-Since") == lm


# --- content codings and size caps ---------------------------------------------------------------------


@pytest.mark.parametrize("coding,encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw DEFLATE, as some servers send it
    ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))), ("identity", lambda b: b),
])
def test_content_codings_decoded(httpserver: HTTPServer, coding: str, encode: Any) -> None:
    httpserver.expect_request("/feed").respond_with_data(encode(FEED * 50), headers={"Content-Encoding": coding})
    assert fetch(httpserver.url_for("/feed"), settings=local()).body == FEED * 50


@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
def test_unsupported_content_coding_is_a_clear_error(httpserver: HTTPServer, coding: str) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"\x1b\x00garbage", headers={"Content-Encoding": coding})
    with pytest.raises(FetchError, match=f"Content-Encoding {coding}"):
        fetch(httpserver.url_for("/feed"), settings=local())


def test_corrupt_gzip_is_a_fetch_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"\x1f\x8b\x08\x00garbage-not-gzip",
                                                          headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="gzip"):
        fetch(httpserver.url_for("/feed"), settings=local())


def test_nested_gzip_bomb_is_capped_without_inflating_it(httpserver: HTTPServer) -> None:
    """A few hundred bytes that inflate to 200 MB: the decoded size is capped as it is decoded."""
    import tracemalloc

    bomb = gzip.compress(gzip.compress(b"\0" * 200_000_000, 9), 9)
    assert len(bomb) < 1000
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip, gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="limit"):
            fetch(httpserver.url_for("/bomb"), settings=local(max_bytes=1_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_chunked_body_over_the_cap_aborted(httpserver: HTTPServer) -> None:
    sent: list[int] = []

    def endless(_: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(10_000):
                sent.append(1)
                yield b"z" * 4096
        return Response(chunks(), direct_passthrough=True)

    httpserver.expect_request("/endless").respond_with_handler(endless)
    with pytest.raises(FetchError, match="download aborted"):
        fetch(httpserver.url_for("/endless"), settings=local(max_bytes=50_000))


def test_slow_drip_body_hits_the_transfer_deadline(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each byte arrives within the read timeout, but the whole body never would: abort, do not retry."""
    monkeypatch.setattr(fetch_mod, "TRANSFER_TIMEOUT", 0.5)
    stop = threading.Event()

    def drip(_: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(200):
                if stop.wait(0.05):
                    return
                yield b"<"
        return Response(chunks(), direct_passthrough=True)

    httpserver.expect_request("/drip").respond_with_handler(drip)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="timed out") as info:
            fetch(httpserver.url_for("/drip"), settings=local(read_timeout=1.0))
    finally:
        stop.set()
    assert time.monotonic() - started < 3 and "slow" in str(info.value)
    assert len(httpserver.log) <= 1


@pytest.fixture
def header_drip_server() -> Iterator[int]:
    """A server that answers a status line, then drips its headers one byte every 50 ms (for ~4 s):
    each read ends well within any read timeout, the response does not."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Padding: " + b"a" * 80
                for byte in head:
                    if stop.wait(0.05):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        srv.close()


def test_slow_drip_of_the_headers_is_bounded_by_the_transfer_deadline(
        header_drip_server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transfer deadline covers the whole exchange, status line and headers included: a tarpit
    dripping its headers is given up at the deadline ("timed out"), not when it stops."""
    monkeypatch.setattr(fetch_mod, "TRANSFER_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out") as info:
        fetch(f"http://127.0.0.1:{header_drip_server}/feed", settings=local(read_timeout=1.0, retries=0))
    assert time.monotonic() - started < 3 and "slow" in str(info.value)


# --- what the errors say ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500])
def test_errors_are_one_line_and_name_the_url(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/feed").respond_with_data("x\ny", status=status)
    url = httpserver.url_for("/feed")
    with pytest.raises(FetchError) as info:
        fetch(url, settings=local(retries=0))
    assert str(info.value).startswith(f"{url}: HTTP {status}") and "\n" not in str(info.value)


# --- politeness ---------------------------------------------------------------------------------------


def test_arxiv_host_spaced_three_seconds_through_fetch(httpserver: HTTPServer, clock: FakeClock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """arXiv API terms: one request every 3 s, whatever [fetch] host_spacing says; only GETs (no HEAD)."""
    resolve_as(monkeypatch, {"export.arxiv.org": ["127.0.0.1"]})
    httpserver.expect_request("/api/query", method="GET").respond_with_data(FEED)
    url = f"http://export.arxiv.org:{httpserver.port}/api/query"
    for _ in range(3):
        fetch(url, settings=local(host_spacing=0), user_supplied=False)
    assert clock.slept == [3.0, 3.0]
    assert {r.method for r, _ in httpserver.log} == {"GET"}
    assert {r.headers.get("Host") for r, _ in httpserver.log} == {f"export.arxiv.org:{httpserver.port}"}


def test_an_apis_json_error_says_why_in_the_feeds_error(httpserver: HTTPServer) -> None:
    """OpenReview's answer to an anonymous venue listing (tests/data/openreview/, 2026): HTTP 403
    with ``{"name": "ChallengeRequiredError", "message": ...}``. The error names it; an HTML error
    page or an overlong, multi-line or control-laden message does not flood it."""
    body = json.loads((Path(__file__).parent / "data" / "openreview" / "paper-search-pro_challenge_403_v2.json")
                      .read_bytes())["body"]
    httpserver.expect_request("/notes").respond_with_json(body, status=403)
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/notes"), settings=local())
    assert str(info.value).endswith(
        "HTTP 403 (ChallengeRequiredError: Challenge verification required (2026-09-30-10246308))")
    httpserver.expect_request("/html").respond_with_data('<html>{"message": "x"}</html>', status=404,
                                                         content_type="text/html")
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/html"), settings=local())
    assert str(info.value).endswith("HTTP 404")
    httpserver.expect_request("/long").respond_with_json({"error": {"message": "bad\x1b[31m\n" + "x" * 500}}, status=400)
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/long"), settings=local())
    detail = str(info.value).split("HTTP 400 (", 1)[1]
    assert "\x1b" not in detail and "\n" not in detail and len(detail) == ERROR_DETAIL_CHARS + 1
    httpserver.expect_request("/busy").respond_with_json({"detail": "slow down"}, status=503)
    with pytest.raises(FetchError, match=r"HTTP 503 after 1 attempt\(s\) \(slow down\)$"):
        fetch(httpserver.url_for("/busy"), settings=local(retries=0))
