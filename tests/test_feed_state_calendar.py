"""Feed state against arXiv's real calendar (announcements, weekends, DST): a week of 5-minute ticks,
stale vs quiet, conditional GET, Retry-After and back-off, recovery after an outage over a weekend,
a feed whose configuration changes, and what `digest status` says. Most came from an adversarial
review. End-to-end polls use a loopback server (pytest-httpserver) serving the real captures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_helpers import serve_api
from digest import fetch as fetch_mod
from digest.cli import cli
from digest.config import FeedSettings, Settings
from digest.digests.send import preview
from digest.fetch import HostLimiter
from digest.ingest import ingest_due
from digest.models import FeedState
from digest.schedule import arxiv_poll_decision, poll_feeds
from digest.sources.arxiv_calendar import EASTERN, expected_batch_changed, next_feed_update
from digest.store import Store
from digest.store.feeds import MAX_BACKOFF

UTC = timezone.utc
DATA = Path(__file__).parent / "data"
ARXIV_ALL = (DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_text(encoding="utf-8")
ARXIV_EMPTY = (DATA / "arxiv-rss" / "aioarxiv_empty-test-archive_2024-11-28.xml").read_bytes()
_HEAD, _REST = ARXIV_ALL.split("<item>", 1)
_ITEMS = ["<item>" + part for part in _REST.split("<item>")]
_ITEMS[-1] = _ITEMS[-1][: _ITEMS[-1].rindex("</item>") + len("</item>")]


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    fetch_mod.set_limiter(HostLimiter(sleep=lambda s: None))
    yield
    fetch_mod.reset_limiter()


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=EASTERN)  # type: ignore[misc]


def listing(day: date, n: int = 8) -> bytes:
    """The real capture cut to ``n`` items, a different slice per day, its pubDate set to ``day``
    (arXiv's listing date): a distinct batch for each announcement day."""
    start = (day.toordinal() * n) % (len(_ITEMS) - n)
    stamp = datetime.combine(day, datetime.min.time(), tzinfo=EASTERN).strftime("%a, %d %b %Y %H:%M:%S %z")
    head = _HEAD.replace("Thu, 28 Nov 2024 00:00:00 -0500", stamp)
    return (head + "".join(_ITEMS[start:start + n]) + "\n  </channel>\n</rss>\n").encode("utf-8")


def settings_for(server: HTTPServer, path: str = "/rss/cs.LG", categories: list[str] | None = None,
                 data_dir: Path | None = None) -> Settings:
    return Settings.model_validate({
        **({"data_dir": str(data_dir)} if data_dir is not None else {}),
        "fetch": {"allow_hosts": ["127.0.0.1"], "retries": 0, "host_spacing": 0, "read_timeout": 2,
                  "arxiv_api_url": server.url_for("/api/query")},
        "feeds": [{"name": "arxiv", "kind": "arxiv-rss", "url": server.url_for(path),
                   "categories": categories or ["cs.LG"]}],
    })


class ArxivRss:
    """rss.arxiv.org as it behaves at the simulated moment ``now``: ``body(now)`` decides."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.now: datetime | None = None
        self.hits: list[datetime] = []

    def __call__(self, request: Request) -> Response:
        assert self.now is not None
        self.hits.append(self.now)
        got = self.body(self.now)
        if isinstance(got, Response):
            return got
        return Response(got, content_type="application/rss+xml")


def real_arxiv(now: datetime) -> bytes:
    """The listing arXiv's RSS shows at ``now``: the day's listing Mon-Fri (rebuilt at midnight
    Eastern), an empty feed on Saturday and Sunday."""
    day = now.astimezone(EASTERN).date()
    return listing(day) if day.weekday() < 5 else ARXIV_EMPTY


def tick(settings: Settings, store: Store, feed: ArxivRss, now: datetime) -> None:
    feed.now = now
    poll_feeds(settings, store, now.astimezone(UTC))


def every_5_minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    """The scheduler's poll ticks from ``start`` (included) to ``end`` (excluded)."""
    now = start
    while now < end:
        yield now
        now = (now.astimezone(UTC) + timedelta(minutes=5)).astimezone(start.tzinfo)


# --- the calendar: real dates -----------------------------------------------------------------------


def test_refresh_is_midnight_eastern_plus_grace_across_both_dst_switches() -> None:
    """Pinned: the Monday after each DST switch (Sun 9 Mar 2025, Sun 2 Nov 2025) refreshes at 01:00
    local wall time, i.e. 05:00 UTC in summer time and 06:00 UTC in winter."""
    assert next_feed_update(datetime(2025, 3, 7, 7, 0, tzinfo=UTC)) == datetime(2025, 3, 10, 5, 0, tzinfo=UTC)
    assert next_feed_update(datetime(2025, 10, 31, 6, 0, tzinfo=UTC)) == datetime(2025, 11, 3, 6, 0, tzinfo=UTC)
    # A clock in another zone names the same instant.
    tokyo = datetime(2025, 3, 8, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert next_feed_update(tokyo) == datetime(2025, 3, 10, 5, 0, tzinfo=UTC)


def test_poll_exactly_at_the_refresh_and_just_before() -> None:
    """Pinned: the refresh moment itself counts (a poll at 01:00:00 expects the new batch), one
    second before does not."""
    friday = et(2024, 12, 6, 1, 10)
    refresh = et(2024, 12, 9, 1, 0)
    assert expected_batch_changed(friday, refresh)
    assert not expected_batch_changed(friday, refresh - timedelta(seconds=1))
    st = FeedState(name="a", kind="arxiv-rss", url=None, interval_seconds=3600, health="ok", last_success=friday)
    assert arxiv_poll_decision(st, refresh.astimezone(UTC)).action == "poll"
    assert arxiv_poll_decision(st, (refresh - timedelta(seconds=1)).astimezone(UTC)).action == "wait"


# --- stale vs quiet, end to end ------------------------------------------------------------------------


def test_a_week_of_5_minute_ticks_polls_once_per_listing(httpserver: HTTPServer, sqlite_store: Store) -> None:
    """Pinned: the scheduler ticking every 5 minutes over a real week (Sun 27 Oct - Mon 4 Nov 2024,
    across the November DST switch on Sun 3 Nov) fetches each weekday listing once, at the first tick
    after its refresh (01:00 local), nothing on the weekend, and never calls the feed stale."""
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    settings = settings_for(httpserver)
    now, end = et(2024, 10, 27, 12, 0), et(2024, 11, 4, 3, 0)
    healths: set[str] = set()
    while now < end:
        tick(settings, sqlite_store, feed, now)
        healths.add(sqlite_store.get_feed_state("arxiv").health)
        now = (now.astimezone(UTC) + timedelta(minutes=5)).astimezone(EASTERN)
    local = [h.astimezone(EASTERN) for h in feed.hits]
    assert [h.strftime("%a %H:%M") for h in local] == [
        "Sun 12:00", "Mon 01:00", "Tue 01:00", "Wed 01:00", "Thu 01:00", "Fri 01:00", "Mon 01:00"]
    assert [h.astimezone(UTC).hour for h in local[1:]] == [5, 5, 5, 5, 5, 6]  # EDT, then EST
    assert healths == {"quiet", "ok"}
    assert sqlite_store.get_feed_state("arxiv").paper_count == 6 * 8


def test_outage_over_a_friday_ending_on_the_weekend_reads_fridays_listing_from_the_api(httpserver: HTTPServer,
                                                                           sqlite_store: Store) -> None:
    """arXiv answers 503 all Friday and recovers on Saturday with the empty weekend feed: Friday's
    listing, no longer in the feed, is read from the arXiv API before the feed is marked quiet (one
    missed batch is in the feed only until the next midnight Eastern rebuild)."""

    def body(now: datetime) -> Any:
        day = now.astimezone(EASTERN).date()
        if day == date(2024, 12, 6):
            return Response("arXiv is down", status=503)
        return real_arxiv(now)

    feed = ArxivRss(body)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    api = serve_api(httpserver)
    settings = settings_for(httpserver)
    for when in (et(2024, 12, 5, 1, 5), et(2024, 12, 6, 1, 5), et(2024, 12, 6, 12, 0), et(2024, 12, 7, 9, 0),
                 et(2024, 12, 9, 1, 5)):
        tick(settings, sqlite_store, feed, when)
    assert len(feed.hits) >= 4
    assert api.requests, "Friday 6 Dec's listing was never read (no backfill from the arXiv API)"


def test_service_down_friday_back_on_saturday_reads_fridays_listing_from_the_api(httpserver: HTTPServer,
                                                                             sqlite_store: Store) -> None:
    """Our own service down from Thursday to Saturday: Friday's listing is read from the arXiv API."""
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    api = serve_api(httpserver)
    settings = settings_for(httpserver)
    tick(settings, sqlite_store, feed, et(2024, 12, 5, 1, 5))
    tick(settings, sqlite_store, feed, et(2024, 12, 7, 10, 0))
    tick(settings, sqlite_store, feed, et(2024, 12, 9, 1, 5))
    assert api.requests, "Friday 6 Dec's listing was never read"


def empty_listing(day: date) -> bytes:
    """The real empty arXiv feed (weekends, holidays), its pubDate set to ``day``."""
    stamp = datetime.combine(day, datetime.min.time(), tzinfo=EASTERN).strftime("%a, %d %b %Y %H:%M:%S %z")
    return ARXIV_EMPTY.replace(b"Thu, 28 Nov 2024 00:00:00 -0500", stamp.encode())


def test_empty_listing_dated_today_on_a_weekday_is_quiet(httpserver: HTTPServer, sqlite_store: Store) -> None:
    """Pinned: a small category can have no paper on an announcement day; an empty feed dated today
    is quiet (not an error), and the next listing is read after the next refresh."""
    def body(now: datetime) -> bytes:
        day = now.astimezone(EASTERN).date()
        return empty_listing(day) if day == date(2024, 12, 4) else real_arxiv(now)

    feed = ArxivRss(body)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    settings = settings_for(httpserver)
    tick(settings, sqlite_store, feed, et(2024, 12, 3, 1, 5))
    tick(settings, sqlite_store, feed, et(2024, 12, 4, 1, 5))
    s = sqlite_store.get_feed_state("arxiv")
    assert (s.health, s.consecutive_failures, s.last_error) == ("quiet", 0, None)
    tick(settings, sqlite_store, feed, et(2024, 12, 5, 1, 5))
    assert sqlite_store.get_feed_state("arxiv").health == "ok" and len(feed.hits) == 3


def test_weekend_feed_still_served_on_monday_morning_is_stale_not_quiet(httpserver: HTTPServer,
                                                                        sqlite_store: Store) -> None:
    """Monday 9 Dec 2024, 01:05 Eastern: a lagging rebuild (or a cache in front of it: the reason for
    the calendar's grace hour) still serves the weekend's empty feed, dated Sunday 8 Dec. An empty
    feed dated before the listing due is the old feed again: stale, retried in 30 minutes with
    last_success kept, so Monday's listing, there from 01:30, is read (quiet would have moved
    last_success past it, and no later poll or backfill would have read it)."""
    store = sqlite_store

    def lagging(now: datetime) -> bytes:
        if et(2024, 12, 9, 0, 0) <= now < et(2024, 12, 9, 1, 30):
            return empty_listing(date(2024, 12, 8))
        return real_arxiv(now)

    feed = ArxivRss(lagging)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    serve_api(httpserver)
    settings = settings_for(httpserver)
    for now in every_5_minutes(et(2024, 12, 6, 1, 5), et(2024, 12, 9, 1, 10)):  # Fri -> Mon 01:05
        tick(settings, store, feed, now)
    state = store.get_feed_state("arxiv")
    assert state.health == "stale" and state.last_success is not None
    assert state.last_success.astimezone(EASTERN).date() == date(2024, 12, 6)
    for now in every_5_minutes(et(2024, 12, 9, 1, 10), et(2024, 12, 10, 12, 0)):  # -> Tue noon
        tick(settings, store, feed, now)
    monday = set(re.findall(r"arXiv:(\d{4}\.\d{4,5})", listing(date(2024, 12, 9)).decode()))
    stored = {p.arxiv_id for p in store.iter_papers()}
    assert len(monday) == 8
    assert monday <= stored, f"Monday's listing was lost: {sorted(monday - stored)} never stored " \
                             f"(polls at {[h.strftime('%a %H:%M') for h in feed.hits]})"


def test_a_stuck_feed_is_backfilled_once_per_missed_listing_not_at_every_retry(httpserver: HTTPServer,
                                                                               sqlite_store: Store) -> None:
    """rss.arxiv.org keeps serving Monday 2 Dec's listing (a stuck mirror or cache). From Wednesday
    00:00 Eastern Tuesday's listing is gone from the feed, so the days are read from the arXiv API;
    the poll after that backfill is stale, and its 30-minute retries poll the RSS feed only: the
    catch-up is recorded (last_success moves) although the poll was stale, so the same week is not
    read from the API again until another listing is missed (arXiv asks API clients not to repeat
    queries)."""
    store = sqlite_store

    def stuck(now: datetime) -> bytes:
        day = now.astimezone(EASTERN).date()
        return listing(date(2024, 12, 2)) if day >= date(2024, 12, 2) else real_arxiv(now)

    feed = ArxivRss(stuck)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    api = serve_api(httpserver)
    settings = settings_for(httpserver)
    backfills: list[datetime] = []
    for now in every_5_minutes(et(2024, 12, 2, 1, 5), et(2024, 12, 4, 9, 0)):
        before = len(api.requests)
        tick(settings, store, feed, now)
        if len(api.requests) > before:
            backfills.append(now)
    assert backfills, "Tuesday's listing was never read from the API"
    assert len(backfills) <= 2, f"the same days were read from the arXiv API {len(backfills)} times: " \
                                f"{[b.strftime('%a %H:%M') for b in backfills]}"
    assert store.get_feed_state("arxiv").health == "stale"  # still said in the digests' status line


def test_saturday_digest_says_arxiv_did_not_announce(httpserver: HTTPServer, sqlite_store: Store,
                                                     tmp_path: Path) -> None:
    """The scheduler polls arXiv every 5 minutes from Thursday to Saturday; the calendar-aware
    polling never fetches the weekend's empty feed, so the feed stays "ok" from Friday's listing.
    Ann's Saturday digest (London, 08:00, empty digests on) still says "arXiv did not announce
    today": no listing came out in its period, by arXiv's calendar."""
    store = sqlite_store
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    settings = settings_for(httpserver, data_dir=tmp_path)
    with time_machine.travel(datetime(2024, 11, 1, tzinfo=UTC), tick=False):
        ann = store.upsert_user("ann@example.org", timezone="Europe/London", hour=8, send_empty=True)
        store.add_subscription(ann.id, "diffusion", query="diffusion")
    for now in every_5_minutes(et(2024, 12, 5, 12, 0), et(2024, 12, 7, 3, 0)):  # Thu noon -> Sat 08:00 London
        tick(settings, store, feed, now)
    assert store.get_feed_state("arxiv").health == "ok"
    saturday_8am = datetime(2024, 12, 7, 8, 5, tzinfo=UTC)
    with time_machine.travel(saturday_8am, tick=False):
        digest, rendered = preview(store, settings, ann.email, now=saturday_8am)
    assert digest.period_key == "2024-12-07"
    assert "arXiv did not announce today" in digest.source_status
    assert "arXiv did not announce today" in rendered.text


def test_same_listing_as_304_on_a_weekday_is_stale_but_ok_on_saturday(sqlite_store: Store) -> None:
    """Pinned: a 304 after a refresh is stale (retried in 30 min, last_success kept); a 304 on
    Saturday for Friday's listing is ok."""
    sqlite_store.sync_feeds([FeedSettings(name="cs", kind="arxiv-rss", categories=["cs.LG"])])
    thu = et(2024, 12, 5, 1, 10)
    sqlite_store.record_fetch("cs", now=thu, outcome="ok", etag='"t"', entry_count=8, batch_hash="thu")
    fri = et(2024, 12, 6, 1, 10)
    s = sqlite_store.record_fetch("cs", now=fri, outcome="not-modified", etag='"t"')
    assert (s.health, s.last_success, s.next_attempt) == ("stale", thu, fri + timedelta(minutes=30))
    sqlite_store.record_fetch("cs", now=fri + timedelta(hours=1), outcome="ok", etag='"f"', entry_count=8,
                              batch_hash="fri")
    sat = et(2024, 12, 7, 9, 0)
    s = sqlite_store.record_fetch("cs", now=sat, outcome="not-modified", etag='"f"')
    assert (s.health, s.last_success, s.etag) == ("ok", sat, '"f"')


# --- config changes -------------------------------------------------------------------------------------


def test_changing_an_arxiv_feeds_categories_fetches_the_new_feed_now(httpserver: HTTPServer,
                                                                    sqlite_store: Store) -> None:
    """The operator changes feed "arxiv" from cs.LG to cs.CL on Tuesday 10:00: the new feed is fetched
    at once (health "never" means a new resource), not on Wednesday after Tuesday's cs.CL listing
    is gone."""
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    httpserver.expect_request("/rss/cs.CL").respond_with_handler(feed)
    old = settings_for(httpserver)
    tick(old, sqlite_store, feed, et(2024, 12, 3, 1, 5))
    new = settings_for(httpserver, "/rss/cs.CL", ["cs.CL"])
    tick(new, sqlite_store, feed, et(2024, 12, 3, 10, 0))
    assert [r.path for r, _ in httpserver.log] == ["/rss/cs.LG", "/rss/cs.CL"]
    state = sqlite_store.get_feed_state("arxiv")
    assert (state.health, state.last_success) != ("never", et(2024, 12, 3, 1, 5))


def test_removed_feed_is_not_polled_nor_shown_and_keeps_its_state(httpserver: HTTPServer,
                                                                  sqlite_store: Store) -> None:
    """Pinned: a feed dropped from the config is disabled: not fetched, not in status."""
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    settings = settings_for(httpserver)
    tick(settings, sqlite_store, feed, et(2024, 12, 3, 1, 5))
    empty = Settings.model_validate({"fetch": settings.fetch.model_dump(), "feeds": []})
    tick(empty, sqlite_store, feed, et(2024, 12, 4, 1, 5))
    assert len(feed.hits) == 1 and sqlite_store.feed_states() == []
    [kept] = sqlite_store.feed_states(include_disabled=True)
    assert kept.last_success == et(2024, 12, 3, 1, 5)


# --- Retry-After, back-off, recovery --------------------------------------------------------------------


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_in_both_forms_sets_next_attempt(httpserver: HTTPServer, sqlite_store: Store,
                                                     form: str) -> None:
    """Pinned: a 429 with Retry-After of 3 hours, as delay-seconds or as an HTTP-date, puts the
    next attempt 3 hours on (clock frozen: the HTTP-date is read against it)."""
    now = datetime(2024, 12, 3, 15, 0, tzinfo=UTC)
    value = "10800" if form == "seconds" else format_datetime(now + timedelta(hours=3), usegmt=True)
    httpserver.expect_request("/blog").respond_with_data("slow down", status=429, headers={"Retry-After": value})
    settings = Settings.model_validate({
        "fetch": {"allow_hosts": ["127.0.0.1"], "retries": 0, "host_spacing": 0},
        "feeds": [{"name": "blog", "kind": "rss", "url": httpserver.url_for("/blog")}]})
    with time_machine.travel(now, tick=False):
        [run] = ingest_due(settings, sqlite_store, now=now)
    state = sqlite_store.get_feed_state("blog")
    assert run.status == "error" and "429" in (state.last_error or "")
    assert state.next_attempt == now + timedelta(hours=3)
    assert sqlite_store.due_feeds(now + timedelta(hours=2, minutes=59)) == []


def test_failures_then_recovery_resets_the_state(sqlite_store: Store) -> None:
    """Pinned: back-off doubles from 5 minutes, is capped at a day, and one success clears it all."""
    sqlite_store.sync_feeds([FeedSettings(name="blog", kind="rss", url="https://blog.example.org/f")])
    t = datetime(2024, 12, 3, 15, 0, tzinfo=UTC)
    delays = []
    for n in range(1, 12):
        s = sqlite_store.record_fetch("blog", now=t, outcome="error", error=f"HTTP 503 #{n}")
        delays.append(s.next_attempt - t)
    assert delays[:4] == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert delays[-1] == MAX_BACKOFF and max(delays) == MAX_BACKOFF and s.consecutive_failures == 11
    ok = sqlite_store.record_fetch("blog", now=t, outcome="ok", entry_count=1, batch_hash="x")
    assert (ok.consecutive_failures, ok.last_error, ok.health, ok.last_success) == (0, None, "ok", t)


# --- `digest status` ------------------------------------------------------------------------------------


def _status(tmp_path: Path, db: str, server: HTTPServer) -> dict[str, Any]:
    config = tmp_path / "digest.toml"
    config.write_text(f'[database]\nurl = "{db}"\n[[feeds]]\nname = "arxiv"\nkind = "arxiv-rss"\n'
                      f'url = "{server.url_for("/rss/cs.LG")}"\ncategories = ["cs.LG"]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["feeds"]
    return dict(row)


def test_status_json_names_the_promised_fields(httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    """Pinned: last success, last error, consecutive failures, next attempt and health, by name."""
    store = Store.open(sqlite_url, migrate=False)
    try:
        store.sync_feeds([FeedSettings(name="arxiv", kind="arxiv-rss", url=httpserver.url_for("/rss/cs.LG"),
                                       categories=["cs.LG"])])
        t = datetime(2024, 12, 3, 15, 0, tzinfo=UTC)
        store.record_fetch("arxiv", now=t, outcome="error", error="HTTP 503 after 1 attempt(s)", retry_after=600)
    finally:
        store.close()
    row = _status(tmp_path, sqlite_url, httpserver)
    assert {"last_success", "last_error", "consecutive_failures", "next_attempt", "health"} <= set(row)
    assert (row["health"], row["consecutive_failures"], row["last_success"]) == ("error", 1, None)
    assert "503" in row["last_error"]
    assert datetime.fromisoformat(row["next_attempt"]) == t + timedelta(minutes=10)


def test_status_next_attempt_of_an_arxiv_feed_is_when_it_will_really_be_fetched(
        httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    """After Friday's listing is read, `digest status` shows the next attempt at the next refresh (Mon 9
    Dec 01:00 Eastern), not a time on Friday that passes all weekend without a fetch."""
    feed = ArxivRss(real_arxiv)
    httpserver.expect_request("/rss/cs.LG").respond_with_handler(feed)
    store = Store.open(sqlite_url, migrate=False)
    try:
        tick(settings_for(httpserver), store, feed, et(2024, 12, 6, 1, 5))
        tick(settings_for(httpserver), store, feed, et(2024, 12, 7, 12, 0))
    finally:
        store.close()
    assert len(feed.hits) == 1
    row = _status(tmp_path, sqlite_url, httpserver)
    assert row["health"] == "ok"
    assert datetime.fromisoformat(row["next_attempt"]) >= et(2024, 12, 9, 1, 0)


@pytest.mark.parametrize("outcome", ["ok", "not-modified"])
def test_a_listing_read_before_the_grace_hour_is_current_after_it(sqlite_store: Store, outcome: str) -> None:
    """A poll at 00:30 Eastern already reads Tuesday's listing (the feed is rebuilt at midnight; the
    calendar expects it only from 01:00). Seen again at 01:30, the same batch, or a 304 for it, is the
    listing due now by its own date: "ok", not "stale" (which would refetch every 30 minutes all day
    and backfill from the API the next day). A batch dated Monday at that time is stale."""
    tuesday = datetime(2024, 12, 3, 0, 0, tzinfo=EASTERN)
    sqlite_store.sync_feeds([FeedSettings(name="a", kind="arxiv-rss", categories=["cs.LG"])])
    sqlite_store.record_fetch("a", now=tuesday - timedelta(hours=23), outcome="ok", batch_hash="monday",
                              feed_date=tuesday - timedelta(days=1))
    early = sqlite_store.record_fetch("a", now=tuesday + timedelta(minutes=30), outcome="ok", batch_hash="tuesday",
                                      feed_date=tuesday, etag='"t"')
    assert early.health == "ok"
    again = sqlite_store.record_fetch("a", now=tuesday + timedelta(minutes=90), outcome=outcome,
                                      batch_hash="tuesday" if outcome == "ok" else None,
                                      feed_date=tuesday if outcome == "ok" else None, etag='"t"')
    assert again.health == "ok" and again.last_success == tuesday + timedelta(minutes=90)
    old = sqlite_store.record_fetch("a", now=tuesday + timedelta(days=1, minutes=90), outcome="ok",
                                    batch_hash="tuesday", feed_date=tuesday)
    assert old.health == "stale"  # Wednesday's listing was due: Tuesday's again is stale
