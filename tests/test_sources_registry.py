"""digest.sources: kind detection on every fixture, parse_document, feed URLs and paged fetching."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from digest.config import FeedSettings, FetchSettings
from digest.errors import ConfigError, ParseError
from digest.models import SOURCE_KINDS
from digest.sources import (PARSERS, content_charset, detect_kind, feed_url, fetch_feed, normalize_encoding,
                            parse_document)

DATA = Path(__file__).parent / "data"

# Expected kind per fixture folder (or file); None means "must be refused with ParseError".
_BY_FOLDER: dict[str, str | None] = {
    "arxiv-rss": "arxiv-rss",
    "arxiv-atom/arxiv.py-2016": "arxiv-atom",
    # arxiv.py's recorder wraps the Atom body in JSON ({"url", "status_code", "body"}): not a feed.
    "arxiv-atom/arxiv.py-2026": None,
    "arxiv-atom": "arxiv-atom",
    "hf-daily": "hf-daily",
    "biorxiv": "biorxiv",
    "generic-rss": "rss",
    "openreview": "openreview",
}
_BY_FILE: dict[str, str | None] = {
    "corpus/arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl": "arxiv-snapshot",
    "corpus/arxiv-snapshot_edge-cases_constructed.jsonl": "arxiv-snapshot",
    "openreview/error_synthetic.json": None,
    # Other projects' envelopes around an API answer (a recording with its request; an error body).
    "openreview/openproceedings_iclr2021_blind_listing_v1.json": None,
    "openreview/openproceedings_iclr2024_accepted_v2.json": None,
    "openreview/openproceedings_iclr2024_desk_rejected_v2.json": None,
    "openreview/paper-search-pro_challenge_403_v2.json": None,
    "openreview/README.md": None,
    "bad/utf16_bom.xml": "rss",
    "bad/wrong_declared_encoding.xml": "rss",
    "bad/truncated.xml": "rss",
    "bad/broken_middle_entry.xml": "rss",
    "bad/huge_single_entry.xml": "rss",
    "bad/rss_hostile_markup.xml": "rss",
    "bad/json_feed_broken_items.json": "rss",
    # Entity declarations are refused by the parser, not the sniffer; the root is still RSS/Atom.
    "bad/entity_bomb.xml": "rss",
    "bad/xxe_file.xml": "rss",
    "bad/xxe_parameter.xml": "rss",
    # Truncated JSON Feed: the prefix names the format; the parser then refuses it.
    "bad/json_truncated.json": "rss",
}


def _expected(path: Path) -> str | None:
    rel = path.relative_to(DATA).as_posix()
    if rel in _BY_FILE:
        return _BY_FILE[rel]
    folder = path.parent.relative_to(DATA).as_posix()
    while folder not in _BY_FOLDER and "/" in folder:
        folder = folder.rsplit("/", 1)[0]
    # corpus/rss_cache_*.json are a JSON digest of feedparser output, bad/* the adversarial corpus,
    # eval/ matching data: none of them is a feed.
    return _BY_FOLDER.get(folder)


_FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.mark.parametrize("path", _FILES, ids=lambda p: p.relative_to(DATA).as_posix())
def test_detect_kind_on_every_fixture(path: Path) -> None:
    data = path.read_bytes()
    expected = _expected(path)
    for sample in (data, data[:64 * 1024]):  # digest ingest --file sniffs the first 64 KB only
        if expected is None:
            with pytest.raises(ParseError) as info:
                detect_kind(sample, path.name)
            assert "\n" not in str(info.value)
        else:
            assert detect_kind(sample, path.name) == expected


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"<!DOCTYPE html><html><body>Hi</body></html>", "HTML page"),
    (b"<html><head><title>x</title></head></html>", "HTML page"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "gzip"),
    (b"%PDF-1.7\n", "PDF"),
    (bytes(range(256)) * 4, "binary"),
    (b"hello world", "plain text"),
    (b'{"a": 1}', "not a feed format"),
    (b"<?xml version='1.0'?><config/>", "root element <config>"),
])
def test_detect_kind_refuses_non_feeds_with_a_one_line_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        detect_kind(data, "thing")
    assert reason in str(info.value)


@pytest.mark.parametrize(("data", "kind"), [
    (b'[{"paper": {"id": "2401.01234"}}]', "hf-daily"),
    (b"[]", "hf-daily"),
    (b'{"id": "2401.01234", "title": "T", "upvotes": 3, "authors": []}', "hf-daily"),  # /api/papers/<id>
    (b'[{"id": "2401.01234", "title": "T", "upvotes": 3}]', "hf-daily"),
    (b'{"messages": [{"status": "ok"}], "collection": []}', "biorxiv"),
    (b'{"notes": [], "count": 0}', "openreview"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "rss"),
    (b'{"id": "0704.0001", "authors_parsed": [["A", "B", ""]]}\n{"id": "0704.0002", "authors_parsed": []}\n',
     "arxiv-snapshot"),
    (b'<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel/></rss>', "arxiv-rss"),
    (b'<rss version="2.0" xmlns:ax="http://arxiv.org/schemas/atom"><channel/></rss>', "arxiv-rss"),  # any prefix
    (b'<rss version="2.0"><channel/></rss>', "rss"),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "rss"),
    (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "rss"),
    (b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- c -->\n<rss/>", "rss"),
    ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16-le"), "rss"),
])
def test_detect_kind_sniffs_each_format(data: bytes, kind: str) -> None:
    assert detect_kind(data) == kind


def test_registry_covers_every_kind_and_parse_document_dispatches() -> None:
    assert set(PARSERS) == set(SOURCE_KINDS)
    parsed = parse_document("hf-daily", (DATA / "hf-daily" / "newsassistant_hf_daily_papers_2026-08-03.json").read_bytes())
    assert parsed.kind == "hf-daily" and len(parsed.records) == 3
    with pytest.raises(ParseError, match="unknown kind"):
        parse_document("gopher", b"x")


def test_parse_document_turns_parser_crashes_into_parse_error() -> None:
    # A JSON Feed whose items hold a wrong type is still a clean ParseError or a result, never a crash.
    for body in (b'{"version": "https://jsonfeed.org/version/1.1", "items": {"a": 1}}',
                 b'{"notes": "no", "count": "x"}', b'{"messages": "x", "collection": 5}', b"[1, 2, 3]"):
        for kind in ("rss", "openreview", "biorxiv", "hf-daily"):
            try:
                parse_document(kind, body)
            except ParseError:
                pass


# --- feed URLs -------------------------------------------------------------------------------


def _feed(**kw: object) -> FeedSettings:
    return FeedSettings.model_validate({"name": "f", **kw})


def test_feed_url_explicit_url_wins() -> None:
    assert feed_url(_feed(kind="rss", url="https://example.org/feed.xml")) == "https://example.org/feed.xml"


def test_feed_url_built_from_settings() -> None:
    assert feed_url(_feed(kind="hf-daily")) == "https://huggingface.co/api/daily_papers"
    assert feed_url(_feed(kind="openreview", venue="ICLR.cc/2024/Conference")) == (
        "https://api2.openreview.net/notes?content.venueid=ICLR.cc%2F2024%2FConference&offset=0&limit=1000")
    assert feed_url(_feed(kind="biorxiv"), today=date(2026, 7, 17)) == (
        "https://api.biorxiv.org/details/biorxiv/2026-07-15/2026-07-17/0")
    assert feed_url(_feed(kind="biorxiv", server="medrxiv"), today=date(2026, 9, 15)).startswith(
        "https://api.biorxiv.org/details/medrxiv/2026-09-13/2026-09-15/0")


@pytest.mark.parametrize(("since", "start"), [
    (datetime(2026, 7, 17, 6, tzinfo=timezone.utc), "2026-07-15"),   # polled today: the usual three days
    (datetime(2026, 7, 10, 6, tzinfo=timezone.utc), "2026-07-09"),   # down for a week: back to the day before
    (datetime(2026, 1, 1, tzinfo=timezone.utc), "2026-07-04"),       # two weeks at most (MAX_PAGES)
])
def test_biorxiv_feed_reads_back_to_the_previous_poll(since: datetime, start: str) -> None:
    assert feed_url(_feed(kind="biorxiv"), today=date(2026, 7, 17), since=since) == (
        f"https://api.biorxiv.org/details/biorxiv/{start}/2026-07-17/0")


def test_feed_url_arxiv_categories_use_the_arxiv_modules() -> None:
    pytest.importorskip("digest.sources.arxiv_rss")
    url = feed_url(_feed(kind="arxiv-rss", categories=["cs.LG", "stat.ML"]))
    assert url.startswith("https://rss.arxiv.org/") and "cs.LG" in url and "stat.ML" in url


def test_feed_url_bad_biorxiv_server_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="server"):
        feed_url(_feed(kind="biorxiv", server="arxiv"))


# --- paged fetching through digest.fetch, against a real local HTTP server ----------------------


@pytest.fixture
def fetch_settings() -> FetchSettings:
    return FetchSettings(allow_hosts=["127.0.0.1", "localhost"], retries=0, host_spacing=0.0)


def _biorxiv_page(cursor: int, total: int, n: int) -> dict[str, object]:
    real = json.loads((DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json").read_bytes())
    template = real["collection"][0]
    collection = [{**template, "doi": f"10.64898/2026.07.13.{cursor + i:06d}"} for i in range(n)]
    return {"messages": [{"status": "ok", "cursor": str(cursor), "count": n, "total": str(total)}],
            "collection": collection}


def test_fetch_feed_follows_the_biorxiv_cursor(httpserver: HTTPServer, fetch_settings: FetchSettings) -> None:
    base = "/details/biorxiv/2026-07-15/2026-07-17"
    httpserver.expect_ordered_request(f"{base}/0").respond_with_json(_biorxiv_page(0, 250, 100),
                                                                    headers={"ETag": '"p1"'})
    httpserver.expect_ordered_request(f"{base}/100").respond_with_json(_biorxiv_page(100, 250, 100))
    httpserver.expect_ordered_request(f"{base}/200").respond_with_json(_biorxiv_page(200, 250, 50))
    feed = _feed(kind="biorxiv", url=httpserver.url_for(f"{base}/0"))
    result, parsed = fetch_feed(feed, fetch_settings)
    httpserver.check_assertions()
    assert parsed is not None and len(parsed.records) == 250
    assert len({r.doi for r in parsed.records}) == 250
    assert result.etag == '"p1"' and parsed.total_results == 250


def test_fetch_feed_follows_openreview_offsets(httpserver: HTTPServer, fetch_settings: FetchSettings) -> None:
    page1 = (DATA / "openreview" / "venue_notes_page1_synthetic.json").read_bytes()
    page2 = (DATA / "openreview" / "venue_notes_page2_synthetic.json").read_bytes()
    httpserver.expect_ordered_request("/notes", query_string={"content.venueid": "V", "offset": "0", "limit": "2"}
                                      ).respond_with_data(page1, content_type="application/json")
    httpserver.expect_ordered_request("/notes", query_string={"content.venueid": "V", "offset": "2", "limit": "2"}
                                      ).respond_with_data(page2, content_type="application/json")
    feed = _feed(kind="openreview", url=httpserver.url_for("/notes") + "?content.venueid=V&offset=0&limit=2")
    _, parsed = fetch_feed(feed, fetch_settings)
    httpserver.check_assertions()
    assert parsed is not None
    assert [r.openreview_id for r in parsed.records] == ["aB3xYz9QrSt", "Zq7Lmn0PwE4", "Kp2Vb8nRt1M"]


def test_fetch_feed_returns_none_on_304(httpserver: HTTPServer, fetch_settings: FetchSettings) -> None:
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    feed = _feed(kind="rss", url=httpserver.url_for("/feed.xml"))
    result, parsed = fetch_feed(feed, fetch_settings, etag='"v1"')
    assert parsed is None and result.not_modified


def test_fetch_feed_single_page_rss(httpserver: HTTPServer, fetch_settings: FetchSettings) -> None:
    body = (DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml").read_bytes()
    httpserver.expect_request("/rss.xml").respond_with_data(body, content_type="application/rss+xml")
    _, parsed = fetch_feed(_feed(kind="rss", url=httpserver.url_for("/rss.xml")), fetch_settings)
    assert parsed is not None and len(parsed.records) == 3


def test_fetch_feed_resolves_relative_links_against_the_address_it_fetched(
        httpserver: HTTPServer, fetch_settings: FetchSettings) -> None:
    """A Hugo Academic site built without its base URL links everything "/publication/...": the
    entries are where the feed came from (RFC 3986 §5.1.3), not skipped for want of a link."""
    body = (DATA / "generic-rss" / "relative-links" / "gewu-lab_hugo_academic_publication_index_first3.xml").read_bytes()
    httpserver.expect_request("/publication/index.xml").respond_with_data(body, content_type="application/rss+xml")
    _, parsed = fetch_feed(_feed(kind="rss", url=httpserver.url_for("/publication/index.xml")), fetch_settings)
    assert parsed is not None and parsed.status == "ok" and len(parsed.records) == 3
    first = parsed.records[0]
    assert first.url == httpserver.url_for("/publication/a-two-stage-framework-for-multiple-sound-source-localization/")
    assert first.published is None  # Hugo's zero date, "Mon, 01 Jan 0001"


# --- character encoding: the Content-Type charset (RFC 7303 §3), JSON in UTF-16/32 (RFC 8259 §8.1) ----


@pytest.mark.parametrize(("content_type", "charset"), [
    ("application/rss+xml; charset=ISO-8859-1", "iso-8859-1"), ('text/xml;CHARSET="utf-16le"', "utf-16le"),
    ("application/xml", None), (None, None), ("text/xml; charset=", None),
])
def test_content_charset(content_type: str | None, charset: str | None) -> None:
    assert content_charset(content_type) == charset


def test_normalize_encoding_charset_over_declaration() -> None:
    body = '<?xml version="1.0" encoding="utf-8"?><rss><t>\u0141\xf3d\u017a</t></rss>'.encode("iso-8859-2")
    data, note = normalize_encoding(body, "application/rss+xml; charset=iso-8859-2")
    assert note is None and data == '<?xml version="1.0" encoding="utf-8"?><rss><t>\u0141\xf3d\u017a</t></rss>'.encode()
    # WHATWG: an iso-8859-1 label is read as windows-1252 (curly quotes live in 0x80-0x9F).
    assert normalize_encoding(b"<rss>\x93q\x94</rss>", "text/xml; charset=iso-8859-1")[0] == \
        "<rss>\u201cq\u201d</rss>".encode()


def test_normalize_encoding_leaves_plain_utf8_and_boms_alone() -> None:
    utf8 = '<?xml version="1.0"?><rss><t>\xe9</t></rss>'.encode()
    assert normalize_encoding(utf8, "application/xml; charset=utf-8")[0] is utf8
    assert normalize_encoding(utf8, None)[0] is utf8
    utf16 = '<rss><t>\xe9</t></rss>'.encode("utf-16")  # BOM: authoritative over the charset
    assert normalize_encoding(utf16, "text/xml; charset=iso-8859-1") == (utf16, None)
    latin = "<rss><t>\xe9</t></rss>".encode("latin-1")
    data, note = normalize_encoding(latin, "text/xml; charset=utf-8")  # a charset the bytes contradict
    assert data is latin and note and "not utf-8" in note


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_normalize_encoding_json_becomes_utf8(codec: str) -> None:
    text = '{"title": "Caf\xe9 \u65e5\u672c"}'
    assert normalize_encoding(text.encode(codec), "application/json")[0] == text.encode()


@pytest.mark.parametrize(("name", "kind"), [("arxiv-rss/aioarxiv_all-archives_2024-11-28.xml", "arxiv-rss"),
                                            ("arxiv-rss/aioarxiv_empty-test-archive_2024-11-28.xml", "arxiv-rss"),
                                            ("arxiv-rss/aioarxiv_error-bad-archive_2024-11-28.xml", "arxiv-rss"),
                                            ("biorxiv/netnewswire_biorxiv_plant_biology_2019-08.rdf", "biorxiv"),
                                            ("biorxiv/feed-rs_rss_1.0_biorxiv_genomics.xml", "biorxiv"),
                                            ("arxiv-atom/sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml", "arxiv-atom"),
                                            ("arxiv-atom/arxiv.py-2016/au_del_maestro.xml", "arxiv-atom")])
def test_a_feed_configured_as_rss_that_is_arxivs_or_biorxivs_reads_as_that_source(name: str, kind: str) -> None:
    """Someone who pastes rss.arxiv.org/rss/cs.LG or a bioRxiv subject feed as kind "rss" gets the
    records (and the weekend's "empty", the bad category's "error") that source's own kind gives."""
    data = (DATA / name).read_bytes()
    as_rss, as_source = parse_document("rss", data, source="f"), parse_document(kind, data, source="f")
    assert as_rss == as_source and as_rss.kind == kind


def test_other_feeds_configured_as_rss_stay_generic() -> None:
    data = (DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml").read_bytes()
    parsed = parse_document("rss", data)
    assert parsed.kind == "rss" and {r.source_kind for r in parsed.records} == {"rss"}
    with pytest.raises(ParseError, match="^cannot read as rss: this is an HTML page"):
        parse_document("rss", b"<html><body>no feed</body></html>")
