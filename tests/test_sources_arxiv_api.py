"""digest.sources.arxiv_api: the 2016 and 2026 API captures, and the client against a local server
serving those real pages (tests/data/arxiv-atom/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import QueryMatcher

from digest import fetch
from digest.config import FetchSettings
from digest.errors import FeedError, ParseError
from digest.sources.arxiv_api import backfill, backfill_query, lookup, parse, query_url, search

ATOM = Path(__file__).parent / "data" / "arxiv-atom"
NEW = ATOM / "arxiv.py-2026"
OLD = ATOM / "arxiv.py-2016"


def body(name: str) -> bytes:
    """The 2026 captures are JSON wrappers {url, status_code, body}; the parser gets the raw body."""
    return json.loads((NEW / name).read_text(encoding="utf-8"))["body"].encode("utf-8")


def test_legacy_2016_page() -> None:
    feed = parse((OLD / "au_del_maestro.xml").read_bytes())
    assert feed.status == "ok" and feed.total_results == 31 and len(feed.records) == 10
    r = feed.records[0]
    assert (r.arxiv_id, r.version) == ("1201.4869", 1)
    assert r.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert r.authors == ("Adrian Del Maestro",)
    assert r.categories == ("cond-mat.mes-hall", "cond-mat.other")
    assert r.doi == "10.1142/s021797921244002x"
    assert r.journal_ref == "Int. J. Mod. Phys. B, 26, 1244002 (2012)"
    assert r.signals == {"comment": "26 pages, 10 figures"}
    assert r.pdf_url == "http://arxiv.org/pdf/1201.4869v1"
    assert r.published == datetime(2012, 1, 23, 21, 15, 2, tzinfo=timezone.utc)
    assert r.abstract.startswith("As helium-4 is cooled below 2.17 K") and "\n" not in r.abstract


def test_current_2026_page_with_primary_category_first() -> None:
    feed = parse(body("q_testing_s0_m10_bc5a6c384fe9.json"))
    assert feed.total_results == 214881 and len(feed.records) == 10
    r = feed.records[0]
    assert (r.arxiv_id, r.version) == ("2202.12139", 1)
    assert r.categories == ("cs.SE", "cs.LG")
    assert r.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert r.doi == "10.1109/icstw55395.2022.00035"
    assert r.url == "https://arxiv.org/abs/2202.12139v1" and r.pdf_url == "https://arxiv.org/pdf/2202.12139v1"


def test_old_style_id_and_plain_text_summary() -> None:
    r = parse(body("id_astro-ph_0601001_s0_m100_3150dca9dc76.json")).records[0]
    assert (r.arxiv_id, r.version, r.external_id) == ("astro-ph/0601001", 1, "astro-ph/0601001")
    # The summary is Atom text: "V_max&lt;17.5" is a comparison, not a tag to strip.
    assert "V_max<17.5. Hence" in r.abstract


def test_error_entry() -> None:
    feed = parse(body("id_abc_s0_m100_b79c8dcf6bc3.json"))
    assert feed.status == "error" and feed.message == "incorrect id format for abc" and feed.records == ()


def test_empty_result() -> None:
    feed = parse(body("id_0000.0000_s0_m100_8b51d9633a68.json"))
    assert feed.status == "empty" and feed.total_results == 0


@pytest.mark.parametrize("path", sorted(NEW.glob("*.json")) + sorted(OLD.glob("*.xml")), ids=lambda p: p.name)
def test_every_capture_parses(path: Path) -> None:
    data = body(path.name) if path.suffix == ".json" else path.read_bytes()
    feed = parse(data)
    assert not feed.warnings
    assert feed.status in ("ok", "empty", "error")
    assert all(r.arxiv_id and r.title and r.authors for r in feed.records)


def test_rss_document_is_not_an_api_page(data_dir: Path) -> None:
    with pytest.raises(ParseError, match="not an Atom feed"):
        parse((data_dir / "arxiv-rss" / "aioarxiv_empty-test-archive_2024-11-28.xml").read_bytes())


def test_backfill_query() -> None:
    q = backfill_query(["cs.LG", "stat.ML"], date(2024, 1, 1), date(2024, 1, 31))
    assert q == "(cat:cs.LG OR cat:stat.ML) AND submittedDate:[202401010000 TO 202401312359]"
    assert backfill_query(["cs.LG"], datetime(2024, 1, 1, 6, 30, tzinfo=timezone.utc), date(2024, 1, 1)) == \
        "cat:cs.LG AND submittedDate:[202401010630 TO 202401012359]"


# --- the client against pytest-httpserver -----------------------------------------------------------

class FakeClock:
    """Time that only moves when fetch's limiter sleeps: spacing is checked without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    fetch.set_limiter(fetch.HostLimiter(clock=fake.clock, sleep=fake.sleep))
    yield fake
    fetch.reset_limiter()


@pytest.fixture
def api_settings() -> FetchSettings:
    # The loopback server stands in for export.arxiv.org, with arXiv's 3 s spacing.
    return FetchSettings(allow_hosts=["127.0.0.1"], host_spacing=3.0, retries=0)


class Params(QueryMatcher):
    """Matches when these parameters are present with these values (others may be too)."""

    def __init__(self, **params: str) -> None:
        self.params = params

    def get_comparing_values(self, request_query_string: bytes) -> tuple[Any, Any]:
        got = dict(parse_qsl(request_query_string.decode(), keep_blank_values=True))
        return {k: got.get(k) for k in self.params}, self.params


def serve(httpserver: HTTPServer, name: str, start: int, size: int, *, oneshot: bool = False,
          query: dict[str, str] | None = None) -> None:
    args = {"start": str(start), "max_results": str(size), **(query or {})}
    handler = (httpserver.expect_oneshot_request if oneshot else httpserver.expect_request)(
        "/api/query", query_string=Params(**args))
    handler.respond_with_data(body(name), content_type="application/atom+xml")


def ids_of(*names: str) -> list[str]:
    return [r.arxiv_id or "" for n in names for r in parse(body(n)).records]


def test_search_pages_through_real_pages_3s_apart(httpserver: HTTPServer, clock: FakeClock,
                                                   api_settings: FetchSettings) -> None:
    for start, name in ((0, "q_testing_s0_m10_bc5a6c384fe9.json"), (10, "q_testing_s10_m10_34e56e15aaac.json"),
                        (20, "q_testing_s20_m10_348a237fecab.json")):
        serve(httpserver, name, start, 10, query={"search_query": "testing"})
    got = list(search("testing", settings=api_settings, page_size=10, max_results=30,
                      base_url=httpserver.url_for("/api/query")))
    assert [r.arxiv_id for r in got] == ids_of("q_testing_s0_m10_bc5a6c384fe9.json",
                                               "q_testing_s10_m10_34e56e15aaac.json",
                                               "q_testing_s20_m10_348a237fecab.json")
    assert len(httpserver.log) == 3
    assert clock.sleeps == [3.0, 3.0]  # one request per 3 s, through digest.fetch's limiter


def test_empty_page_inside_the_total_is_retried(httpserver: HTTPServer, clock: FakeClock,
                                                api_settings: FetchSettings) -> None:
    serve(httpserver, "q_testing_s0_m10_bc5a6c384fe9.json", 0, 10)
    # The API's transient: an empty page (here with totalResults 0) where 214,881 were promised.
    serve(httpserver, "id_0000.0000_s0_m100_8b51d9633a68.json", 10, 10, oneshot=True)
    serve(httpserver, "id_0000.0000_s0_m100_8b51d9633a68.json", 10, 10, oneshot=True)
    serve(httpserver, "q_testing_s10_m10_34e56e15aaac.json", 10, 10)
    got = list(search("testing", settings=api_settings, page_size=10, max_results=20,
                      base_url=httpserver.url_for("/api/query")))
    assert len(got) == 20
    assert [r.arxiv_id for r in got[10:]] == ids_of("q_testing_s10_m10_34e56e15aaac.json")
    assert len(httpserver.log) == 4


def test_empty_page_is_believed_after_the_retries(httpserver: HTTPServer, clock: FakeClock,
                                                  api_settings: FetchSettings) -> None:
    serve(httpserver, "q_testing_s0_m10_bc5a6c384fe9.json", 0, 10)
    serve(httpserver, "id_0000.0000_s0_m100_8b51d9633a68.json", 10, 10)
    got = list(search("testing", settings=api_settings, page_size=10, base_url=httpserver.url_for("/api/query"),
                      empty_retries=2))
    assert len(got) == 10
    assert len(httpserver.log) == 1 + 1 + 2  # first page, the empty one, two retries


def test_api_error_page_raises_feed_error(httpserver: HTTPServer, clock: FakeClock,
                                          api_settings: FetchSettings) -> None:
    # Served with 200 here: the real 400 is turned into FetchError by digest.fetch before parsing.
    serve(httpserver, "id_abc_s0_m100_b79c8dcf6bc3.json", 0, 10)
    with pytest.raises(FeedError, match="incorrect id format for abc"):
        list(search("abc", settings=api_settings, page_size=10, base_url=httpserver.url_for("/api/query")))


def test_lookup_by_ids(httpserver: HTTPServer, clock: FakeClock, api_settings: FetchSettings) -> None:
    serve(httpserver, "id_1605.08386_s0_m100_199195aa31ad.json", 0, 2,
          query={"id_list": "1605.08386,astro-ph/0601001v1"})
    got = lookup(["1605.08386", "astro-ph/0601001v1"], settings=api_settings,
                 base_url=httpserver.url_for("/api/query"))
    assert [r.arxiv_id for r in got] == ["1605.08386"]  # the page holds only the first; absent ids are absent
    with pytest.raises(ParseError, match="not an arXiv id"):
        lookup(["abc"], settings=api_settings, base_url=httpserver.url_for("/api/query"))


def test_backfill_asks_by_category_and_date_oldest_first(httpserver: HTTPServer, clock: FakeClock,
                                                         api_settings: FetchSettings) -> None:
    q = backfill_query(["cs.LG"], date(2026, 6, 1), date(2026, 6, 14))
    httpserver.expect_request("/api/query", query_string={
        "search_query": q, "id_list": "", "start": "0", "max_results": "200", "sortBy": "submittedDate",
        "sortOrder": "ascending"}).respond_with_data(
        (ATOM / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml").read_bytes(), content_type="application/atom+xml")
    httpserver.expect_request("/api/query").respond_with_data(body("id_0000.0000_s0_m100_8b51d9633a68.json"))
    got = list(backfill(["cs.LG"], date(2026, 6, 1), date(2026, 6, 14), settings=api_settings,
                        base_url=httpserver.url_for("/api/query"), empty_retries=0))
    assert [r.arxiv_id for r in got][:1] == ["2606.13677"] and len(got) == 5


def test_query_url_encodes_like_the_api_manual() -> None:
    url = query_url(search_query="cat:cs.LG AND ti:transformer", start=20, max_results=10)
    assert url == ("https://export.arxiv.org/api/query?search_query=cat%3Acs.LG+AND+ti%3Atransformer"
                   "&id_list=&start=20&max_results=10")
