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
from digest.errors import ApiError, FeedError, ParseError
from digest.sources.arxiv_api import backfill, backfill_query, category_query, lookup, parse, query_url, search

ATOM = Path(__file__).parent / "data" / "arxiv-atom"
NEW = ATOM / "arxiv.py-2026"
OLD = ATOM / "arxiv.py-2016"


def body(name: str) -> bytes:
    """The 2026 captures are JSON wrappers {url, status_code, body}; the parser gets the raw body."""
    return json.loads((NEW / name).read_text(encoding="utf-8"))["body"].encode("utf-8")


def test_legacy_2019_answer_with_old_ids_and_journal_refs() -> None:
    """A real answer of 2019 (search_query=all:science): old-style ids, non-ASCII names, journal
    references with entities, papers never revised (their <updated> is their <published>)."""
    feed = parse((ATOM / "ewan-m_arxiv-api_all-science_2019-08-10.xml").read_bytes())
    assert feed.status == "ok" and feed.total_results == 120839 and len(feed.records) == 10 and not feed.warnings
    recs = {r.arxiv_id: r for r in feed.records}
    assert {"quant-ph/0210005", "physics/0507092"} <= set(recs)
    assert recs["1503.01162"].authors[:2] == ("Peter Garik", "Yann Benétreau-Dupin")
    assert recs["1503.01162"].journal_ref == "Science & Education, September 2014, 23(9): 1853-1873"
    assert recs["0808.0631"].authors == ("Hans R. Künsch",)
    assert recs["quant-ph/0210005"].published == datetime(2002, 10, 1, 13, 23, 14, tzinfo=timezone.utc)
    assert all(r.version == 1 and r.updated is None and r.published for r in feed.records)


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
    assert (r.url, r.pdf_url) == ("https://arxiv.org/abs/1201.4869", "https://arxiv.org/pdf/1201.4869v1")  # https, as arXiv serves
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
    assert r.url == "https://arxiv.org/abs/2202.12139" and r.pdf_url == "https://arxiv.org/pdf/2202.12139v1"


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


def test_an_archive_named_alone_means_all_of_it() -> None:
    """rss.arxiv.org/rss/cs lists every cs.* paper; the API's ``cat:cs`` alone would match only the
    papers filed under the bare archive (old ones), so a backfill of such a feed would find nothing."""
    assert category_query(["cs", "hep-th", "stat.ML", "cs"]) == "cat:cs OR cat:cs.* OR cat:hep-th OR cat:hep-th.* OR cat:stat.ML"
    assert backfill_query(["astro-ph"], date(2024, 1, 1), date(2024, 1, 1)) == \
        "(cat:astro-ph OR cat:astro-ph.*) AND submittedDate:[202401010000 TO 202401012359]"
    with pytest.raises(ParseError, match="needs at least one category"):
        category_query([" "])


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
    q = backfill_query(["cs.LG"], date(2026, 6, 8), date(2026, 6, 14))
    httpserver.expect_request("/api/query", query_string={
        "search_query": q, "id_list": "", "start": "0", "max_results": "1000", "sortBy": "submittedDate",
        "sortOrder": "ascending"}).respond_with_data(
        (ATOM / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml").read_bytes(), content_type="application/atom+xml")
    httpserver.expect_request("/api/query").respond_with_data(body("id_0000.0000_s0_m100_8b51d9633a68.json"))
    # The capture holds 5 of the 28,946 results it reports; the next page stays empty: a backfill
    # cannot be read whole now, which it says (the records read before are still yielded).
    got: list[Any] = []
    with pytest.raises(ApiError, match="the page at 5 of 28946 results stayed empty after 0 retries"):
        for rec in backfill(["cs.LG"], date(2026, 6, 8), date(2026, 6, 14), settings=api_settings,
                            base_url=httpserver.url_for("/api/query"), empty_retries=0):
            got.append(rec)
    assert [r.arxiv_id for r in got][:1] == ["2606.13677"] and len(got) == 5


def test_query_url_encodes_like_the_api_manual() -> None:
    url = query_url(search_query="cat:cs.LG AND ti:transformer", start=20, max_results=10)
    assert url == ("https://export.arxiv.org/api/query?search_query=cat%3Acs.LG+AND+ti%3Atransformer"
                   "&id_list=&start=20&max_results=10")


# --- constructed pages: cases the captures do not show ----------------------------------------------

def _page(entries: str, *, ns: str = 'xmlns:arxiv="http://arxiv.org/schemas/atom"', total: int = 1) -> bytes:
    """An API page in the current format around ``entries`` (arXiv elements under the prefix ``ns`` binds)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            f'{ns} xmlns="http://www.w3.org/2005/Atom"><id>https://arxiv.org/api/x</id><title>arXiv Query</title>'
            f"<updated>2026-04-12T22:10:19Z</updated><opensearch:totalResults>{total}</opensearch:totalResults>"
            f"{entries}</feed>").encode()


def _entry(arxiv_id: str = "2101.00001v2", *, title: str = "A paper", extra: str = "", px: str = "arxiv") -> str:
    return (f"<entry><id>http://arxiv.org/abs/{arxiv_id}</id><title>{title}</title>"
            "<updated>2021-02-01T10:00:00Z</updated><published>2021-01-01T10:00:00Z</published>"
            f"<summary>An abstract.</summary><author><name>Ada Lovelace</name></author>"
            f'<{px}:primary_category term="cs.LG"/><category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            f"{extra}</entry>")


def test_a_paper_titled_error_is_a_paper_not_an_api_error() -> None:
    # Real titles can be one word (2104.12255v1 is titled "0"); only an id under /api/errors is an error.
    feed = parse(_page(_entry(title="Error") + _entry("2101.00002v1")))
    assert feed.status == "ok" and [r.title for r in feed.records] == ["Error", "A paper"]


def test_error_entry_without_the_errors_id_is_still_an_error() -> None:
    entry = "<entry><id>http://arxiv.org/api/x</id><title>Error</title><summary>start must be an integer</summary></entry>"
    feed = parse(_page(entry))
    assert feed.status == "error" and feed.message == "start must be an integer"


def test_msc_and_acm_classes_are_not_categories() -> None:
    # The API lists a paper's MSC and ACM classes as <category> terms too (API user manual, "I.2.6").
    extra = ('<category term="math.GT" scheme="http://arxiv.org/schemas/atom"/>'
             '<category term="57M25; 57M27" scheme="http://arxiv.org/schemas/atom"/>'
             '<category term="I.2.6" scheme="http://arxiv.org/schemas/atom"/>'
             '<category term="68T05" scheme="http://arxiv.org/schemas/atom"/>'
             '<category term=" cond-mat.stat-mech\n " scheme="http://arxiv.org/schemas/atom"/>')
    r = parse(_page(_entry(extra=extra))).records[0]
    assert r.categories == ("cs.LG", "math.GT", "cond-mat.stat-mech")


def test_out_of_range_date_is_dropped_not_fatal() -> None:
    entry = _entry().replace("2021-01-01T10:00:00Z", "9999-12-31T23:00:00-05:00")
    feed = parse(_page(entry))
    assert feed.status == "ok" and feed.records[0].published is None
    assert feed.records[0].updated == datetime(2021, 2, 1, 10, 0, tzinfo=timezone.utc)


def test_arxiv_namespace_under_any_prefix() -> None:
    extra = ("<ax:doi>10.1103/PhysRevD.60.1 10.1016/j.nuclphysb.2000.01.001</ax:doi>"
             "<ax:comment>20 pages,\n 3 figures</ax:comment><ax:journal_ref>Phys.Rev. D60 (1999) 1</ax:journal_ref>")
    entry = _entry("hep-th/9901001v3", extra=extra, px="ax").replace("Ada Lovelace", "Jos{\\'e} Garc\\'ia")
    r = parse(_page(entry, ns='xmlns:ax="http://arxiv.org/schemas/atom"')).records[0]
    assert (r.arxiv_id, r.version) == ("hep-th/9901001", 3)
    assert r.doi == "10.1103/physrevd.60.1" and r.journal_ref == "Phys.Rev. D60 (1999) 1"
    assert r.signals == {"comment": "20 pages, 3 figures"} and r.categories == ("cs.LG",)
    assert r.authors == ("José García",)
    assert r.pdf_url == "https://arxiv.org/pdf/hep-th/9901001v3"  # no <link title="pdf">: built from the id


def test_default_namespaced_arxiv_elements() -> None:
    extra = '<doi xmlns="http://arxiv.org/schemas/atom">10.1000/xyz</doi>'
    r = parse(_page(_entry(extra=extra))).records[0]
    assert r.doi == "10.1000/xyz"


@pytest.mark.parametrize("data", [
    b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>http://arxiv.org/abs/2101.00001</id></entry>",
    b"<feed/>", b"<?xml version='1.0'?>", b"\x00\x01garbage",
    # libxml2's recover mode makes a root named "feed\xebxmlns:os", which lxml's QName refuses.
    b'<feed\xebxmlns:os="http://a9.com/-/spec/opensearch/1.1/"></feed>',
])
def test_bad_input_gives_a_one_line_parse_error_or_a_feed(data: bytes) -> None:
    try:
        parse(data)
    except ParseError as exc:
        assert "\n" not in str(exc)
