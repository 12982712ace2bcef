"""digest.fetch against a real local HTTP server (pytest-httpserver on 127.0.0.1, allow-listed)."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import fetch as fetch_mod
from digest.config import FetchSettings
from digest.errors import BlockedAddressError, FetchError
from digest.fetch import HostLimiter, check_address, fetch, is_public_address, sniff
from fetch_helpers import FakeClock, fake_limiter, local

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    yield from fake_limiter()


def test_ok_with_user_agent_and_validators(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed", headers={"User-Agent": "digest-test/1"}).respond_with_data(
        FEED, content_type="application/rss+xml", headers={"ETag": '"abc"', "Last-Modified": "Tue, 26 Nov 2024 10:00:00 GMT"})
    result = fetch(httpserver.url_for("/feed"), settings=local(user_agent="digest-test/1"))
    assert (result.status, result.body, result.etag, result.not_modified) == (200, FEED, '"abc"', False)
    assert result.last_modified == "Tue, 26 Nov 2024 10:00:00 GMT" and result.content_type == "application/rss+xml"


def test_conditional_get_304(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed", headers={"If-None-Match": '"abc"'}).respond_with_data("", status=304)
    result = fetch(httpserver.url_for("/feed"), settings=local(), etag='"abc"')
    assert result.not_modified and result.status == 304 and result.body == b""


def test_loopback_refused_without_allow_list(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED)
    with pytest.raises(BlockedAddressError, match="non-public address 127.0.0.1"):
        fetch(httpserver.url_for("/feed"), settings=FetchSettings())
    assert httpserver.log == []  # refused before connecting


def test_allow_list_by_cidr(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED)
    assert fetch(httpserver.url_for("/feed"), settings=local(allow_hosts=["127.0.0.0/8"])).body == FEED


@pytest.mark.parametrize("target", ["http://10.0.0.1/x", "http://192.168.1.1/", "http://169.254.169.254/latest",
                                    "http://[::1]/", "http://100.64.0.1/", "http://[fd00::1]/",
                                    "http://[::ffff:10.0.0.1]/"])
def test_redirect_to_private_address_refused(httpserver: HTTPServer, target: str) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=302, headers={"Location": target})
    with pytest.raises(BlockedAddressError):
        fetch(httpserver.url_for("/feed"), settings=local())


def test_relative_redirect_followed_and_final_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data(FEED)
    result = fetch(httpserver.url_for("/old"), settings=local())
    assert result.body == FEED and result.final_url.endswith("/new")


def test_redirect_loop_stops(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirects"):
        fetch(httpserver.url_for("/loop"), settings=local(max_redirects=3))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="only http and https"):
        fetch(url, settings=local())


def test_oversize_declared_and_streamed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchError, match="limit"):
        fetch(httpserver.url_for("/big"), settings=local(max_bytes=1000))

    def chunked(_: Request) -> Response:  # no Content-Length: the cap must apply while streaming
        return Response((b"y" * 1024 for _ in range(50)), direct_passthrough=True)

    httpserver.expect_request("/stream").respond_with_handler(chunked)
    with pytest.raises(FetchError, match="download aborted"):
        fetch(httpserver.url_for("/stream"), settings=local(max_bytes=10_000))


def test_timeout(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def slow(_: Request) -> Response:
        release.wait(5)
        return Response(FEED)

    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        with pytest.raises(FetchError, match="timed out"):
            fetch(httpserver.url_for("/slow"), settings=local(read_timeout=0.2, retries=0))
    finally:
        release.set()


def test_secret_query_parameter_of_a_feed_url_is_not_logged(httpserver: HTTPServer,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A private feed's key in its query (Zotero: ...items/top?format=atom&key=<secret>) appears in no
    log record of a fetch, not even at INFO and DEBUG, where HTTP libraries log full request URLs."""
    httpserver.expect_request("/users/475425/items/top").respond_with_data(FEED)
    url = httpserver.url_for("/users/475425/items/top") + "?format=atom&key=Zk8sEcReT42"
    caplog.set_level(logging.DEBUG)
    assert fetch(url, settings=local()).body == FEED
    # The test server's own access log (werkzeug) is not digest's.
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert not [m for m in logged if "Zk8sEcReT42" in m], logged


def test_service_logging_keeps_http_libraries_at_warning() -> None:
    """`digest run` logs at INFO; httpx (every request, full URL) and httpcore stay at WARNING."""
    from digest.cli.service import _logging

    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    try:
        _logging()
        assert [lg.getEffectiveLevel() for lg in loggers] == [logging.WARNING, logging.WARNING]
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def test_500_retried_with_backoff_then_error(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/err").respond_with_data("boom", status=500)
    with pytest.raises(FetchError, match="HTTP 500 after 3 attempt") as info:
        fetch(httpserver.url_for("/err"), settings=local(retries=2))
    hits = [req for req, _ in httpserver.log if req.path == "/err"]
    assert info.value.status == 500 and len(hits) == 3 and len(clock.slept) == 2


def test_retry_after_honoured_then_success(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_ordered_request("/busy").respond_with_data("", status=503, headers={"Retry-After": "7"})
    httpserver.expect_ordered_request("/busy").respond_with_data(FEED)
    assert fetch(httpserver.url_for("/busy"), settings=local()).body == FEED
    assert clock.slept == [7.0]


def test_retry_after_too_long_is_reported_not_waited(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/limited").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/limited"), settings=local())
    assert info.value.retry_after == 3600.0 and clock.slept == []


def test_404_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(httpserver.url_for("/gone"), settings=local())
    assert [req.path for req, _ in httpserver.log].count("/gone") == 1


def test_host_spacing_is_enforced(httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/feed").respond_with_data(FEED)
    for _ in range(3):
        fetch(httpserver.url_for("/feed"), settings=local(host_spacing=2.5))
    assert clock.slept == [2.5, 2.5]


def test_arxiv_hosts_get_three_seconds_and_one_connection(clock: FakeClock) -> None:
    limiter = HostLimiter(clock=clock.clock, sleep=clock.sleep)
    limiter.wait("export.arxiv.org", fetch_mod.ARXIV_SPACING)
    limiter.wait("export.arxiv.org", fetch_mod.ARXIV_SPACING)
    assert clock.slept == [3.0]
    assert limiter.connection_lock("export.arxiv.org") is limiter.connection_lock("EXPORT.arxiv.org")
    assert limiter.connection_lock("example.org") is None


@pytest.mark.parametrize("addr,public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False),
    ("172.16.0.1", False), ("192.168.0.1", False), ("169.254.169.254", False), ("100.64.1.1", False),
    ("224.0.0.1", False), ("0.0.0.0", False), ("240.0.0.1", False), ("::1", False), ("fe80::1", False),
    ("fc00::1", False), ("ff02::1", False), ("::", False), ("::ffff:127.0.0.1", False),
    ("2002:c0a8:0101::1", False), ("64:ff9b::a00:1", False),
])
def test_address_classification(addr: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(addr)) is public


def test_check_address_allow_list_by_host_name() -> None:
    settings = FetchSettings(allow_hosts=["localhost"])
    assert check_address("localhost", 80, settings).is_loopback
    with pytest.raises(BlockedAddressError):
        check_address("localhost", 80, FetchSettings())


@pytest.mark.parametrize("body,ctype,kind", [
    (FEED, "text/html", "xml"), (b"\xef\xbb\xbf  <feed xmlns='http://www.w3.org/2005/Atom'/>", None, "xml"),
    (b"<!DOCTYPE html><html><body>Error</body></html>", "text/xml", "html"), (b'{"a": 1}', None, "json"),
    (b"\x1f\x8b\x08\x00garbage", None, "binary"), (b"\x00\x01\x02\x03", None, "binary"), (b"  \n", None, "empty"),
    (b"hello there", "text/plain", "text"),
])
def test_sniff(body: bytes, ctype: str | None, kind: str) -> None:
    assert sniff(body, ctype) == kind
