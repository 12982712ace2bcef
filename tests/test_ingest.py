"""Ingest orchestration: every kind of bad input is recorded on its feed and the run goes on.

Feeds are served by a real local HTTP server (allow-listed 127.0.0.1); parsing and storing are real.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import fetch as fetch_mod
from digest.config import Settings
from digest.errors import ParseError
from digest.fetch import HostLimiter
from digest.ingest import batch_hash, ingest_due, ingest_file
from digest.sources.arxiv_calendar import EASTERN
from digest.store import Store

DATA = Path(__file__).parent / "data"
ARXIV_ALL = (DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
ARXIV_EMPTY = (DATA / "arxiv-rss" / "aioarxiv_empty-test-archive_2024-11-28.xml").read_bytes()
ARXIV_ERROR = (DATA / "arxiv-rss" / "aioarxiv_error-bad-archive_2024-11-28.xml").read_bytes()
IACR = (DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml").read_bytes()
NOW = datetime(2024, 11, 28, 9, 0, tzinfo=EASTERN)  # Thursday, an announcement day

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<rss version="2.0"><channel><title>&lol3;</title><item><title>x</title>'
        b'<link>https://a.org/1</link></item></channel></rss>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
       b'<link>https://a.org/1</link></item></channel></rss>')
WRONG_ENCODING = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                  '<item><title>Caf\xe9 na\xefve widgets</title><link>https://a.org/cafe</link></item>'
                  '</channel></rss>').encode("latin-1")


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    fetch_mod.set_limiter(HostLimiter(sleep=lambda s: None))
    yield
    fetch_mod.reset_limiter()


def make_settings(server: HTTPServer, feeds: dict[str, tuple[str, str]], **fetch: object) -> Settings:
    return Settings.model_validate({
        "fetch": {"allow_hosts": ["127.0.0.1"], "retries": 0, "host_spacing": 0, "read_timeout": 0.5, **fetch},
        "feeds": [{"name": name, "kind": kind, "url": server.url_for(path)} for name, (kind, path) in feeds.items()],
    })


def serve(server: HTTPServer, path: str, body: bytes, status: int = 200, ctype: str = "application/xml") -> None:
    server.expect_request(path).respond_with_data(body, status=status, content_type=ctype)


def test_bad_feeds_are_recorded_and_good_ones_stored(httpserver: HTTPServer, store: Store) -> None:
    release = threading.Event()

    def slow(_: Request) -> Response:
        release.wait(5)
        return Response(IACR)

    feeds = {
        "good": ("rss", "/good"), "arxiv": ("arxiv-rss", "/arxiv"),
        "truncated": ("arxiv-rss", "/truncated"), "html": ("rss", "/html"), "binary": ("rss", "/binary"),
        "bomb": ("rss", "/bomb"), "xxe": ("rss", "/xxe"), "encoding": ("rss", "/encoding"),
        "huge": ("rss", "/huge"), "slow": ("rss", "/slow"), "broken": ("rss", "/500"),
        "arxiv-error": ("arxiv-rss", "/arxiv-error"), "weekend": ("arxiv-rss", "/weekend"),
    }
    serve(httpserver, "/good", IACR)
    serve(httpserver, "/arxiv", ARXIV_ALL)
    serve(httpserver, "/truncated", ARXIV_ALL[: len(ARXIV_ALL) // 3])
    serve(httpserver, "/html", b"<!DOCTYPE html><html><head><title>Error</title></head><body>Oops</body></html>",
          ctype="text/html")
    serve(httpserver, "/binary", bytes(range(256)) * 64, ctype="application/octet-stream")
    serve(httpserver, "/bomb", BOMB)
    serve(httpserver, "/xxe", XXE)
    serve(httpserver, "/encoding", WRONG_ENCODING)
    serve(httpserver, "/huge", b"<" + b"x" * (50 * 1024 * 1024))
    # The slow handler blocks its (single-threaded) server, so it gets a server of its own.
    slow_server = HTTPServer(host="127.0.0.1")
    slow_server.expect_request("/slow").respond_with_handler(slow)
    slow_server.start()
    serve(httpserver, "/500", b"Internal Server Error", status=500, ctype="text/plain")
    serve(httpserver, "/arxiv-error", ARXIV_ERROR)
    serve(httpserver, "/weekend", ARXIV_EMPTY)
    settings = make_settings(httpserver, feeds)
    settings.feeds[[f.name for f in settings.feeds].index("slow")].url = slow_server.url_for("/slow")
    try:
        runs = {r.feed_name: r for r in ingest_due(settings, store, now=NOW)}
    finally:
        release.set()
        slow_server.clear()
        slow_server.stop()

    assert set(runs) == set(feeds)
    assert runs["good"].status == "ok" and runs["good"].stats.new == 3
    assert runs["arxiv"].status == "ok" and runs["arxiv"].stats.seen == 1504
    assert runs["truncated"].status == "ok", runs["truncated"].error
    assert runs["truncated"].stats.seen > 100 and runs["truncated"].warnings  # good entries kept
    assert runs["encoding"].status == "ok" and store.get_paper("https://a.org/cafe").title == "Café naïve widgets"
    assert runs["weekend"].status == "quiet" and runs["weekend"].stats.seen == 0
    reasons = {name: runs[name].error for name in
               ("html", "binary", "bomb", "xxe", "huge", "slow", "broken", "arxiv-error")}
    for name, reason in reasons.items():
        assert runs[name].status == "error" and reason and "\n" not in reason, name
    assert "HTML" in str(reasons["html"])
    assert "entit" in str(reasons["bomb"]) and "entit" in str(reasons["xxe"])
    assert "limit" in str(reasons["huge"]) and "timed out" in str(reasons["slow"])
    assert "HTTP 500" in str(reasons["broken"])
    assert "error" in str(reasons["arxiv-error"]).lower()

    states = {s.name: s for s in store.feed_states()}
    assert states["bomb"].last_error == reasons["bomb"] and states["bomb"].consecutive_failures == 1
    assert states["good"].last_success == NOW and states["good"].paper_count == 3
    assert states["weekend"].health == "quiet" and states["arxiv-error"].health == "error"
    assert not any("root:" in (p.title or "") for p in store.list_papers(limit=50))  # no /etc/passwd leaked


def test_not_modified_and_due_times(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_ordered_request("/feed").respond_with_data(IACR, headers={"ETag": '"v1"'})
    httpserver.expect_ordered_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    settings = make_settings(httpserver, {"iacr": ("rss", "/feed")})
    [first] = ingest_due(settings, store, now=NOW)
    assert first.stats.new == 3
    assert ingest_due(settings, store, now=NOW + timedelta(minutes=5)) == []  # not due yet
    [second] = ingest_due(settings, store, now=NOW + timedelta(hours=2))
    assert second.status == "not-modified" and second.stats.seen == 0
    assert store.get_feed_state("iacr").etag == '"v1"'


def test_same_arxiv_batch_next_day_is_stale(httpserver: HTTPServer, store: Store) -> None:
    serve(httpserver, "/arxiv", ARXIV_ALL)
    settings = make_settings(httpserver, {"arxiv": ("arxiv-rss", "/arxiv")})
    assert ingest_due(settings, store, now=NOW)[0].status == "ok"
    [again] = ingest_due(settings, store, now=NOW + timedelta(days=1))
    assert again.status == "stale" and again.stats.unchanged == 1504


def test_ingest_file_detects_kind_and_is_idempotent(store: Store) -> None:
    path = DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml"
    first = ingest_file(store, path)
    again = ingest_file(store, path)
    assert (first.feed_name, first.new) == ("file:research_bot_iacr_eprint_rss.xml", 3)
    assert (again.new, again.unchanged) == (0, 3)


def test_ingest_file_snapshot_streams_with_progress(store: Store) -> None:
    done: list[int] = []
    path = DATA / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"
    stats = ingest_file(store, path, kind="arxiv-snapshot", progress=done.append)
    assert stats.new == 200 and sum(done) == 200
    assert store.get_paper("arxiv:0704.0001").sources[0].source_kind == "arxiv-snapshot"


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty"), (b"\x00\x01garbage\xff" * 50, "cannot read"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
])
def test_ingest_file_unreadable_is_one_line(tmp_path: Path, sqlite_store: Store, content: bytes, fragment: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(ParseError) as info:
        ingest_file(sqlite_store, path, kind=None if content else "rss")
    assert fragment.lower() in str(info.value).lower() and "\n" not in str(info.value)


def test_ingest_file_missing(tmp_path: Path, sqlite_store: Store) -> None:
    with pytest.raises(ParseError, match="No such file"):
        ingest_file(sqlite_store, tmp_path / "nope.xml")
    with pytest.raises(ParseError, match="directory"):
        ingest_file(sqlite_store, tmp_path)


def test_batch_hash_ignores_order() -> None:
    from digest.models import PaperRecord

    a = PaperRecord("arxiv-rss", "1", "A", arxiv_id="2401.00001", version=1)
    b = PaperRecord("arxiv-rss", "2", "B", arxiv_id="2401.00002", version=1)
    assert batch_hash([a, b]) == batch_hash([b, a]) != batch_hash([a])


def test_failing_feed_backs_off(httpserver: HTTPServer, store: Store) -> None:
    serve(httpserver, "/500", b"no", status=500)
    settings = make_settings(httpserver, {"down": ("rss", "/500")})
    ingest_due(settings, store, now=NOW)
    assert ingest_due(settings, store, now=NOW + timedelta(minutes=1)) == []
    [run] = ingest_due(settings, store, now=NOW + timedelta(minutes=6))
    assert run.failed and store.get_feed_state("down").consecutive_failures == 2


def test_now_must_be_aware_in_store(store: Store) -> None:
    assert NOW.astimezone(timezone.utc).tzinfo is timezone.utc


SNAPSHOT = DATA / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"


def test_snapshot_lines_with_unstorable_characters_are_stored(tmp_path: Path, store: Store) -> None:
    # "\ud800" (an unpaired surrogate) and "\u0000" are valid JSON escapes that neither SQLite nor
    # PostgreSQL can store: they used to end the import with a traceback and lose its batch.
    lines = SNAPSHOT.read_bytes().splitlines(keepends=True)
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(lines[0].replace(b'"title":"', b'"title":"\\ud800', 1)
                     + lines[1].replace(b'"abstract":"', b'"abstract":"\\u0000', 1) + lines[2])
    stats = ingest_file(store, path)
    assert (stats.new, stats.warnings) == (3, ())
    assert store.get_paper("arxiv:0704.0001").title.startswith("\ufffdCalculation of prompt diphoton")
    assert "\x00" not in store.get_paper("arxiv:0704.0002").abstract


@pytest.mark.parametrize("first", [b"{not json\n", b"[1, 2]\n", b'{"id": "nope", "authors_parsed": []}\n'])
def test_a_snapshot_with_a_bad_first_line_is_still_detected(tmp_path: Path, sqlite_store: Store, first: bytes) -> None:
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(first + b"".join(SNAPSHOT.read_bytes().splitlines(keepends=True)[:3]))
    stats = ingest_file(sqlite_store, path)  # no kind: detected from the lines after the bad one
    assert stats.new == 3 and stats.warnings[:2] == ("skipped 1 of 4 line(s)", stats.warnings[1])
    assert stats.warnings[1].startswith("line 1: ")


@pytest.mark.parametrize(("content", "fragment"), [
    (b"<?xml version='1.0'?>\n<rss version='2.0'><channel><title>t</title></channel></rss>\n" * 50,
     "this is XML, not the arXiv snapshot (JSON Lines)"),
    (b"<!DOCTYPE html><html><body>Kaggle sign-in</body></html>\n", "this is an HTML page"),
    (b"%PDF-1.4\n" + b"x" * 100, "this is a PDF document"),
    (b"id,title\n0704.0001,A title\n", "this is plain text, not the arXiv snapshot (JSON Lines)"),
])
def test_a_file_given_as_a_snapshot_that_is_something_else(tmp_path: Path, sqlite_store: Store, content: bytes,
                                                           fragment: str) -> None:
    path = tmp_path / "arxiv.json"
    path.write_bytes(content)
    with pytest.raises(ParseError) as info:
        ingest_file(sqlite_store, path, kind="arxiv-snapshot")
    assert fragment in str(info.value) and "\n" not in str(info.value)
