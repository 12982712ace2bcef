"""Shared by the backfill tests: a fake arXiv API (its answers by query) served by a real local HTTP
server, pages in the API's current format, settings pointing every API at that server, and the
state of a feed last polled on a Monday and caught up on the Thursday after.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.config import Settings
from digest.errors import NotFoundError
from digest.sources.arxiv_calendar import EASTERN
from digest.store import Store

DATA = Path(__file__).parent / "data"
ARXIV_ALL = (DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
MONDAY = datetime(2024, 11, 25, 21, 0, tzinfo=EASTERN)  # after Monday's announcement
THURSDAY = datetime(2024, 11, 28, 9, 0, tzinfo=EASTERN)  # Tuesday's, Wednesday's and Thursday's missed
#: The submission weeks a backfill on THURSDAY asks for (from a week before MONDAY's poll).
GAP_WEEK_1, GAP_WEEK_2 = "[202411190000 TO 202411252359]", "[202411260000 TO 202411282359]"


def settings_for(server: HTTPServer, *feeds: dict[str, Any]) -> Settings:
    return Settings.model_validate({
        "fetch": {"allow_hosts": ["127.0.0.1"], "retries": 0, "host_spacing": 0, "read_timeout": 2,
                  "arxiv_api_url": server.url_for("/api/query"), "biorxiv_api_url": server.url_for("/")},
        "feeds": list(feeds),
    })


def arxiv_feed(server: HTTPServer) -> dict[str, Any]:
    return {"name": "arxiv", "kind": "arxiv-rss", "url": server.url_for("/rss/cs.LG"), "categories": ["cs.LG"]}


def entry(arxiv_id: str, *, published: str, updated: str | None = None, title: str = "A paper") -> str:
    return (f"<entry><id>http://arxiv.org/abs/{arxiv_id}</id><title>{title} {arxiv_id}</title>"
            f"<updated>{updated or published}</updated><published>{published}</published>"
            f"<summary>An abstract about {arxiv_id}.</summary><author><name>Ada Lovelace</name></author>"
            f'<arxiv:primary_category term="cs.LG"/><category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            f"</entry>")


def page(*entries: str, total: int | None = None) -> bytes:
    total = len(entries) if total is None else total
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">'
            "<id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>2024-11-28T00:00:00Z</updated>"
            f"<opensearch:totalResults>{total}</opensearch:totalResults>{''.join(entries)}</feed>").encode()


class FakeApi:
    """The arXiv API's answers by query: submissions per date range (and, when given, per start
    offset), the listing by last update per start offset; ``script`` overrides answers in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.by_range: dict[str, bytes] = {}
        self.by_range_start: dict[tuple[str, int], bytes] = {}
        self.updated: dict[int, bytes] = {}
        self.failing_ranges: set[str] = set()
        self.failing = False
        self.script: dict[str, list[bytes]] = {}

    def __call__(self, request: Request) -> Response:
        args = dict(request.args)
        self.requests.append(args)
        if self.failing:
            return Response("arXiv is down", status=503)
        if args.get("sortBy") == "lastUpdatedDate":
            return Response(self.updated.get(int(args["start"]), page()), content_type="application/atom+xml")
        stamp = args["search_query"].partition("submittedDate:")[2]
        if stamp in self.failing_ranges:
            return Response("arXiv is down", status=503)
        if self.script.get(stamp):
            return Response(self.script[stamp].pop(0), content_type="application/atom+xml")
        start = int(args.get("start", "0"))
        if (stamp, start) in self.by_range_start:
            return Response(self.by_range_start[(stamp, start)], content_type="application/atom+xml")
        return Response(self.by_range.get(stamp, page()), content_type="application/atom+xml")

    def queries(self, sort: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("sortBy") == sort]

    def ranges(self) -> list[str]:
        return [r["search_query"].partition("submittedDate:")[2] for r in self.queries("submittedDate")]


def serve_api(server: HTTPServer) -> FakeApi:
    api = FakeApi()
    server.expect_request("/api/query").respond_with_handler(api)
    return api


def serve_gap(httpserver: HTTPServer) -> FakeApi:
    httpserver.expect_request("/rss/cs.LG").respond_with_data(ARXIV_ALL, content_type="application/rss+xml")
    api = serve_api(httpserver)
    api.by_range[GAP_WEEK_1] = page(entry("2411.16001v1", published="2024-11-25T15:00:00Z"))
    api.by_range[GAP_WEEK_2] = page(entry("2411.17001v1", published="2024-11-26T15:00:00Z"))
    api.updated[0] = page(entry("2301.00001v2", published="2023-01-01T10:00:00Z", updated="2024-11-26T12:00:00Z"),
                          entry("2301.00002v4", published="2023-01-02T10:00:00Z", updated="2024-11-02T12:00:00Z"),
                          total=40_000)
    return api


def last_good_poll(store: Store, settings: Settings, name: str, when: datetime) -> None:
    store.sync_feeds(settings.feeds)
    store.record_fetch(name, now=when, outcome="ok", entry_count=1, batch_hash="monday")


def stored(store: Store, ref: str) -> bool:
    try:
        store.get_paper(ref)
    except NotFoundError:
        return False
    return True


def write_config(tmp_path: Path, server: HTTPServer, db: str, *feeds: str) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(f"""
[database]
url = "{db}"
[fetch]
allow_hosts = ["127.0.0.1"]
retries = 0
host_spacing = 0
arxiv_api_url = "{server.url_for('/api/query')}"
biorxiv_api_url = "{server.url_for('/')}"
{''.join(feeds)}
""")
    return config


ARXIV_FEED = """
[[feeds]]
name = "arxiv-cs-lg"
kind = "arxiv-rss"
categories = ["cs.LG"]
"""
