"""digest.backfill and `digest backfill` / `digest papers fetch`: earlier days read from the sources'
APIs, against a real local HTTP server (loopback allow-listed, no waiting between requests).

The arXiv API pages here are built in the API's current format (tests/data/arxiv-atom holds the
real ones the parser is tested on); the bioRxiv and Hugging Face answers are the real captures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_helpers import (ARXIV_ALL, ARXIV_FEED, DATA, GAP_WEEK_1, GAP_WEEK_2, MONDAY, THURSDAY, arxiv_feed,
                              entry, last_good_poll, page, serve_api, serve_gap, settings_for, write_config)

from digest import fetch as fetch_mod
from digest.backfill import arxiv_categories, backfill_feed, backfill_records, gap
from digest.cli import cli
from digest.config import FeedSettings, Settings
from digest.errors import ConfigError
from digest.fetch import HostLimiter
from digest.ingest import ingest_due
from digest.schedule import enqueue_polls
from digest.sources import arxiv_api
from digest.store import Store


BIORXIV_JSON = (DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json").read_bytes()
HF = (DATA / "hf-daily" / "newsassistant_hf_daily_papers_2026-08-03.json").read_bytes()


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    fetch_mod.set_limiter(HostLimiter(sleep=lambda s: None))
    yield
    fetch_mod.reset_limiter()


# --- the arXiv API client: a week per query, halves for big weeks, updates newest first -------------


def test_backfill_asks_a_week_at_a_time_oldest_first(httpserver: HTTPServer) -> None:
    api = serve_api(httpserver)
    api.by_range["[202411010000 TO 202411072359]"] = page(entry("2411.00001v1", published="2024-11-01T10:00:00Z"))
    api.by_range["[202411080000 TO 202411102359]"] = page(entry("2411.00002v1", published="2024-11-09T10:00:00Z"))
    settings = settings_for(httpserver).fetch
    got = list(arxiv_api.backfill(["cs.LG"], date(2024, 11, 1), date(2024, 11, 10), settings=settings,
                                  base_url=httpserver.url_for("/api/query")))
    assert [r.arxiv_id for r in got] == ["2411.00001", "2411.00002"]
    asked = [(r["search_query"], r["sortBy"], r["sortOrder"], r["max_results"]) for r in api.requests]
    assert asked == [("cat:cs.LG AND submittedDate:[202411010000 TO 202411072359]", "submittedDate", "ascending", "1000"),
                     ("cat:cs.LG AND submittedDate:[202411080000 TO 202411102359]", "submittedDate", "ascending", "1000")]


def test_a_week_holding_more_than_the_api_serves_is_asked_for_in_halves(httpserver: HTTPServer) -> None:
    """The API serves at most 30,000 results of one query (user manual, "Paging"): a larger week is
    split before any of it is read, so nothing beyond the limit is silently dropped."""
    api = serve_api(httpserver)
    api.by_range["[202411010000 TO 202411072359]"] = page(entry("2411.00009v1", published="2024-11-01T10:00:00Z"),
                                                          total=arxiv_api.RESULT_LIMIT + 1)
    api.by_range["[202411010000 TO 202411042359]"] = page(entry("2411.00001v1", published="2024-11-01T10:00:00Z"))
    api.by_range["[202411050000 TO 202411072359]"] = page(entry("2411.00005v1", published="2024-11-05T10:00:00Z"))
    got = list(arxiv_api.backfill(["cs.LG"], date(2024, 11, 1), date(2024, 11, 7), settings=settings_for(httpserver).fetch,
                                  base_url=httpserver.url_for("/api/query")))
    assert [r.arxiv_id for r in got] == ["2411.00001", "2411.00005"]  # the refused week yielded nothing
    assert [r["search_query"].partition("submittedDate:")[2] for r in api.requests] == [
        "[202411010000 TO 202411072359]", "[202411010000 TO 202411042359]", "[202411050000 TO 202411072359]"]


def test_a_backfill_range_ending_before_it_starts_is_refused(httpserver: HTTPServer) -> None:
    with pytest.raises(ValueError, match="ends .* before it starts"):
        list(arxiv_api.backfill(["cs.LG"], date(2024, 11, 2), date(2024, 11, 1), settings=settings_for(httpserver).fetch))


def test_updated_since_stops_at_the_first_older_paper_without_asking_for_the_next_page(httpserver: HTTPServer) -> None:
    api = serve_api(httpserver)
    api.updated[0] = page(entry("2310.00001v3", published="2023-10-01T10:00:00Z", updated="2024-11-27T10:00:00Z"),
                          entry("2411.00003v1", published="2024-11-20T10:00:00Z"),
                          entry("2310.00002v2", published="2023-10-02T10:00:00Z", updated="2024-11-01T10:00:00Z"),
                          total=50_000)
    got = list(arxiv_api.updated_since(["cs.LG", "stat.ML"], datetime(2024, 11, 18, tzinfo=timezone.utc),
                                       settings=settings_for(httpserver).fetch, base_url=httpserver.url_for("/api/query")))
    assert [(r.arxiv_id, r.version) for r in got] == [("2310.00001", 3), ("2411.00003", 1)]
    assert [(r["search_query"], r["sortOrder"], r["start"]) for r in api.requests] == [
        ("cat:cs.LG OR cat:stat.ML", "descending", "0")]


# --- which days a poll would miss -------------------------------------------------------------------


def test_gap_of_each_kind(httpserver: HTTPServer, sqlite_store: Store) -> None:
    arxiv = FeedSettings(name="a", kind="arxiv-rss", categories=["cs.LG"])
    bio = FeedSettings(name="b", kind="biorxiv", server="medrxiv")
    hf = FeedSettings(name="h", kind="hf-daily")
    settings = Settings(feeds=[arxiv, bio, hf])
    sqlite_store.sync_feeds(settings.feeds)
    for name in "abh":
        assert gap(settings.feed(name), sqlite_store.get_feed_state(name), THURSDAY) is None  # never polled
        sqlite_store.record_fetch(name, now=MONDAY, outcome="ok")
    state = sqlite_store.get_feed_state
    assert gap(arxiv, state("a"), THURSDAY) == (date(2024, 11, 19), date(2024, 11, 28))
    assert gap(arxiv, state("a"), MONDAY + timedelta(hours=12)) is None  # no announcement since
    # bioRxiv: a poll reads back 14 days (from the day before the last one); hf-daily 7 daily lists.
    last = MONDAY.astimezone(timezone.utc)  # 2024-11-26 02:00 UTC
    assert gap(bio, state("b"), last + timedelta(days=12)) is None
    assert gap(bio, state("b"), last + timedelta(days=13)) == (date(2024, 11, 25), date(2024, 12, 9))
    assert gap(hf, state("h"), last + timedelta(days=7)) is None
    assert gap(hf, state("h"), last + timedelta(days=8)) == (date(2024, 11, 26), date(2024, 12, 4))
    # A bioRxiv feed of its own URL (the RSS, or a fixed interval) reads what it names: no gap.
    own = FeedSettings(name="b", kind="biorxiv", url="https://connect.biorxiv.org/biorxiv_xml/genomics")
    assert gap(own, state("b"), MONDAY + timedelta(days=30)) is None


def test_arxiv_categories_from_the_feed_or_its_rss_url() -> None:
    assert arxiv_categories(FeedSettings(name="a", kind="arxiv-rss", categories=["cs.LG", "stat.ML"])) == ["cs.LG", "stat.ML"]
    assert arxiv_categories(FeedSettings(name="a", kind="arxiv-rss", url="https://rss.arxiv.org/rss/cs.LG+stat.ML")) == [
        "cs.LG", "stat.ML"]
    with pytest.raises(ConfigError, match="feed 'a': a backfill asks the arXiv API by category"):
        arxiv_categories(FeedSettings(name="a", kind="arxiv-rss", url="https://example.org/arxiv.xml"))


def test_sources_without_history_cannot_be_backfilled() -> None:
    for feed in (FeedSettings(name="j", kind="rss", url="https://example.org/feed.xml"),
                 FeedSettings(name="o", kind="openreview", venue="ICLR.cc/2025/Conference")):
        with pytest.raises(ConfigError, match=f"feed '{feed.name}' \\({feed.kind}\\) cannot be backfilled"):
            backfill_records(feed, Settings().fetch, date(2024, 1, 1), date(2024, 1, 2), today=date(2024, 1, 3))
    rss = FeedSettings(name="b", kind="biorxiv", url="https://connect.biorxiv.org/biorxiv_xml/genomics")
    with pytest.raises(ConfigError, match="reads a bioRxiv RSS feed or page, which keeps no earlier days"):
        backfill_records(rss, Settings().fetch, date(2024, 1, 1), date(2024, 1, 2), today=date(2024, 1, 3))


# --- catching up after an outage: backfill, then poll -------------------------------------------------


def test_a_poll_after_missed_announcements_backfills_the_gap_first(httpserver: HTTPServer, store: Store) -> None:
    api = serve_gap(httpserver)
    settings = settings_for(httpserver, arxiv_feed(httpserver))
    last_good_poll(store, settings, "arxiv", MONDAY)
    [run] = ingest_due(settings, store, now=THURSDAY)
    assert run.status == "ok" and run.backfill is not None and not run.backfill.failed
    assert (run.backfill.date_from, run.backfill.date_to) == (date(2024, 11, 19), date(2024, 11, 28))
    assert run.backfill.stats.new == 3 and run.stats.new == 1504
    for ref in ("arxiv:2411.16001", "arxiv:2411.17001", "arxiv:2301.00001"):
        assert store.get_paper(ref).source_names == ("arxiv",)
    assert store.get_paper("arxiv:2301.00001").version == 2
    assert len(api.queries("lastUpdatedDate")) == 1  # the listing reached back past the gap on its first page
    state = store.get_feed_state("arxiv")
    assert state.last_success == THURSDAY and state.last_error is None
    # Caught up: the next announcement is an ordinary poll.
    api.requests.clear()
    [again] = ingest_due(settings, store, now=THURSDAY + timedelta(hours=14))
    assert again.backfill is None and api.requests == []


def test_a_failed_backfill_keeps_the_gap_for_the_next_poll(httpserver: HTTPServer, store: Store) -> None:
    api = serve_gap(httpserver)
    api.failing = True
    settings = settings_for(httpserver, arxiv_feed(httpserver))
    last_good_poll(store, settings, "arxiv", MONDAY)
    [run] = ingest_due(settings, store, now=THURSDAY)
    assert run.backfill is not None and run.backfill.failed and "503" in (run.backfill.error or "")
    assert run.stats.new == 1504  # the poll itself is stored...
    state = store.get_feed_state("arxiv")
    assert state.last_success == MONDAY  # ...but the feed is not caught up
    assert state.last_error and state.last_error.startswith("backfill of 2024-11-19..2024-11-28 failed")
    assert state.consecutive_failures == 0
    # The API is back: the next poll backfills the same days, and then the feed is caught up, though
    # its RSS still shows the batch the failed run read.
    api.failing = False
    [retry] = ingest_due(settings, store, now=THURSDAY + timedelta(hours=2))
    assert retry.backfill is not None and not retry.backfill.failed and retry.backfill.stats.new == 3
    state = store.get_feed_state("arxiv")
    assert state.last_success == THURSDAY + timedelta(hours=2) and state.last_error is None
    assert state.health == "ok"


def test_a_gap_nothing_can_backfill_is_reported_and_polling_goes_on(httpserver: HTTPServer, sqlite_store: Store) -> None:
    """An arXiv RSS feed of its own URL without categories cannot be asked for by category: the poll
    is stored, the loss is said, and the feed is not held back for ever."""
    httpserver.expect_request("/mirror.xml").respond_with_data(ARXIV_ALL, content_type="application/rss+xml")
    settings = settings_for(httpserver, {"name": "mirror", "kind": "arxiv-rss", "url": httpserver.url_for("/mirror.xml")})
    last_good_poll(sqlite_store, settings, "mirror", MONDAY)
    [run] = ingest_due(settings, sqlite_store, now=THURSDAY)
    assert run.status == "ok" and run.backfill is None and run.stats.new == 1504
    assert run.warnings[-1].startswith("days 2024-11-19..2024-11-28 were missed and cannot be backfilled: feed "
                                       "'mirror': a backfill asks the arXiv API by category")
    assert sqlite_store.get_feed_state("mirror").last_success == THURSDAY
    assert [r.path for r, _ in httpserver.log] == ["/mirror.xml"]


def test_scale_out_enqueues_one_fetch_unit_that_catches_up(httpserver: HTTPServer, store: Store) -> None:
    from digest.worker import run_unit

    api = serve_gap(httpserver)
    settings = settings_for(httpserver, arxiv_feed(httpserver))
    last_good_poll(store, settings, "arxiv", MONDAY)
    assert enqueue_polls(settings, store, THURSDAY) == 1
    [item] = store.claim_work("w", now=THURSDAY)
    assert item.kind == "fetch"
    with time_machine.travel(THURSDAY, tick=False):  # the worker runs the unit "now"
        assert run_unit(settings, store, item, "w")
    assert api.ranges() == [GAP_WEEK_1, GAP_WEEK_2]
    assert store.get_paper("arxiv:2411.16001").title == "A paper 2411.16001v1"


# --- bioRxiv and Hugging Face -----------------------------------------------------------------------


def test_biorxiv_backfill_reads_every_cursor_page_of_the_range(httpserver: HTTPServer, sqlite_store: Store) -> None:
    doc = json.loads(BIORXIV_JSON)
    first, second = dict(doc), dict(doc)
    first["messages"] = [{**doc["messages"][0], "cursor": 0, "count": 2, "total": 3}]
    first["collection"] = doc["collection"][:2]
    second["messages"] = [{**doc["messages"][0], "cursor": 2, "count": 1, "total": 3}]
    second["collection"] = doc["collection"][2:]
    httpserver.expect_request("/details/medrxiv/2026-06-01/2026-07-15/0").respond_with_json(first)
    httpserver.expect_request("/details/medrxiv/2026-06-01/2026-07-15/2").respond_with_json(second)
    settings = settings_for(httpserver, {"name": "med", "kind": "biorxiv", "server": "medrxiv"})
    run = backfill_feed(settings, sqlite_store, settings.feed("med"), date(2026, 6, 1), date(2026, 7, 15),
                        now=datetime(2026, 7, 16, tzinfo=timezone.utc))
    assert run.error is None and run.read == 3 and run.stats.new == 3


def test_hf_daily_backfill_reads_each_days_list(httpserver: HTTPServer, sqlite_store: Store) -> None:
    for day in ("2026-08-01", "2026-08-02", "2026-08-03"):
        httpserver.expect_request("/api/daily_papers", query_string={"date": day}).respond_with_data(
            HF if day == "2026-08-03" else b"[]", content_type="application/json")
    settings = settings_for(httpserver, {"name": "hf", "kind": "hf-daily", "url": httpserver.url_for("/api/daily_papers")})
    run = backfill_feed(settings, sqlite_store, settings.feed("hf"), date(2026, 8, 1), date(2026, 8, 3),
                        now=datetime(2026, 8, 4, tzinfo=timezone.utc))
    assert run.error is None and run.stats.new == 3
    assert [r.args.get("date") for r, _ in httpserver.log] == ["2026-08-01", "2026-08-02", "2026-08-03"]


# --- the commands -----------------------------------------------------------------------------------


def test_backfill_command_prints_and_reports_json(httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    api = serve_api(httpserver)
    api.by_range["[202411010000 TO 202411032359]"] = page(entry("2411.00001v1", published="2024-11-01T10:00:00Z"),
                                                          entry("2411.00002v1", published="2024-11-02T10:00:00Z"))
    config = write_config(tmp_path, httpserver, sqlite_url, ARXIV_FEED)
    runner = CliRunner()
    out = runner.invoke(cli, ["--config", str(config), "backfill", "arxiv-cs-lg", "--from", "2024-11-01",
                              "--to", "2024-11-03"])
    assert out.exit_code == 0, out.output
    assert out.output == "arxiv-cs-lg: backfill 2024-11-01..2024-11-03: 2 entries: 2 new, 0 new versions, 0 merged, 0 unchanged\n"
    assert api.queries("lastUpdatedDate") == []  # a range in the past: no listing by last update
    out = runner.invoke(cli, ["--config", str(config), "backfill", "arxiv-cs-lg", "--from", "2024-11-01",
                              "--to", "2024-11-03", "--json"])
    assert out.exit_code == 0
    assert json.loads(out.output) == {"feed": "arxiv-cs-lg", "from": "2024-11-01", "to": "2024-11-03", "read": 2,
                                      "new": 0, "new_versions": 0, "merged": 0, "unchanged": 2, "error": None}


def test_backfill_command_errors(httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    api = serve_api(httpserver)
    api.failing = True
    config = write_config(tmp_path, httpserver, sqlite_url, ARXIV_FEED, """
[[feeds]]
name = "blog"
kind = "rss"
url = "https://example.org/feed.xml"
""")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["--config", str(config), "backfill", *args])

    out = run("arxiv-cs-lg", "--from", "2024-11-01", "--to", "2024-11-03")
    assert out.exit_code == 1
    assert out.output.startswith("arxiv-cs-lg: backfill 2024-11-01..2024-11-03 failed after 0 entries (no entries "
                                 "stored): ")
    assert "503" in out.output and "Traceback" not in out.output
    out = run("nope", "--from", "2024-11-01")
    assert out.exit_code == 1 and "no feed named 'nope'" in out.output
    out = run("blog", "--from", "2024-11-01")
    assert out.exit_code == 1 and "feed 'blog' (rss) cannot be backfilled" in out.output
    out = run("arxiv-cs-lg", "--from", "2024-11-03", "--to", "2024-11-01")
    assert out.exit_code == 2 and "--to 2024-11-01 is before --from 2024-11-03" in out.output
    out = run("arxiv-cs-lg", "--from", "yesterday")
    assert out.exit_code == 2 and "'yesterday' does not match the format '%Y-%m-%d'" in out.output


def test_papers_fetch_stores_papers_by_id(httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    asked: list[str] = []

    def answer(request: Request) -> Response:
        asked.append(request.args["id_list"])
        found = [entry(f"{i}v2", published="2024-11-01T10:00:00Z") for i in request.args["id_list"].split(",")
                 if i != "2411.99999"]
        return Response(page(*found), content_type="application/atom+xml")

    httpserver.expect_request("/api/query").respond_with_handler(answer)
    config = write_config(tmp_path, httpserver, sqlite_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["--config", str(config), "papers", "fetch", "https://arxiv.org/abs/2411.00001v1",
                              "arXiv:2411.00002", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert [(p["id"], p["version"], p["sources"]) for p in got] == [
        ("arxiv:2411.00001", 2, ["arxiv-lookup"]), ("arxiv:2411.00002", 2, ["arxiv-lookup"])]
    assert asked == ["2411.00001,2411.00002"]  # asked without a version: the newest one is stored
    out = runner.invoke(cli, ["--config", str(config), "papers", "fetch", "2411.00001", "2411.99999"])
    assert out.exit_code == 1
    assert "arxiv:2411.00001" in out.output and "error: arXiv has no paper 2411.99999" in out.output
    out = runner.invoke(cli, ["--config", str(config), "papers", "fetch", "not-an-id"])
    assert out.exit_code == 2 and "'not-an-id' is not an arXiv id" in out.output  # a usage error
