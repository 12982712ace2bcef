"""Backfill: the days a feed's regular poll can no longer read (issue #2, "nothing missed").

Some sources show only the present. arXiv's RSS feed holds one announcement batch and replaces it
every announcement day, so a service that was down across two announcements has lost a batch from
the feed; the arXiv API still has it. A bioRxiv poll reads back :data:`~digest.sources.BIORXIV_MAX_DAYS`
days of the details API and a Hugging Face poll :data:`~digest.sources.HF_CATCH_UP_DAYS` daily lists;
both APIs keep every earlier day. :func:`gap` tells which days a poll would miss now,
:func:`backfill_feed` reads any range of days of a feed, and :func:`catch_up` (what ``digest ingest``,
the scheduler and the workers run for every due feed) backfills a gap before it polls.

A backfill that fails does not lose the gap: the poll after it is stored, but the feed's
``last_success`` stays where it was (``last_error`` says why), so the next run backfills the same
days again. Every read is idempotent: papers already stored are merged, not repeated.

- arXiv (``arxiv-rss``, ``arxiv-atom``): the API by category and submission date, a week per query
  (:func:`digest.sources.arxiv_api.backfill`), from :data:`~digest.sources.ARXIV_LOOKBACK` before the
  last successful poll (a Monday announcement carries papers submitted since Friday; holidays and
  moderation holds add days); for a range reaching today also the papers updated since its start
  (:func:`~digest.sources.arxiv_api.updated_since`): the new versions arXiv announced meanwhile.
- bioRxiv / medRxiv (``biorxiv`` by ``server``, or a details-API ``url``): the details API for the
  range, every cursor page.
- Hugging Face (``hf-daily``): the daily list of each day in the range.

OpenReview venues and generic feeds have no history to ask for: a backfill of one is refused with
a clear error.

Public: :func:`gap`, :func:`backfill_records`, :func:`check_backfill`, :func:`backfill_feed`,
:func:`catch_up`, :class:`BackfillRun`, :func:`arxiv_categories`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from digest.config import FeedSettings, FetchSettings, Settings
from digest.errors import ConfigError, DigestError, FeedError, one_line
from digest.models import FeedState, IngestStats, PaperRecord, ParsedFeed

if TYPE_CHECKING:
    from digest.ingest import FeedRun
    from digest.store import Store

__all__ = ["gap", "backfill_records", "check_backfill", "backfill_feed", "catch_up", "BackfillRun",
           "arxiv_categories"]

log = logging.getLogger(__name__)

#: Called with every page a backfill reads (its totals and records: a progress bar's input).
PageHook = Callable[[ParsedFeed], None]

_ONE_DAY = timedelta(days=1)
_ARXIV_RSS_HOSTS = frozenset({"rss.arxiv.org", "arxiv.org", "www.arxiv.org", "export.arxiv.org"})


@dataclass(frozen=True, slots=True)
class BackfillRun:
    """What one backfill of ``feed_name`` over ``date_from``..``date_to`` stored, or why it failed
    (``error``, one line; ``read`` records had been read and stored before it failed)."""

    feed_name: str
    date_from: date
    date_to: date
    stats: IngestStats
    error: str | None = None
    read: int = 0
    #: Seconds the source asked us to wait before asking again (its Retry-After), when it failed so.
    retry_after: float | None = None
    #: What was read but could not be read whole (arXiv's limit on one query), one line each.
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def days(self) -> str:
        return f"{self.date_from}..{self.date_to}"


# --- which days a poll would miss -------------------------------------------------------------------


def gap(feed: FeedSettings, state: FeedState, now: datetime) -> tuple[date, date] | None:
    """The days to backfill before ``feed`` is polled at ``now``, or None when a poll reads them all.

    arXiv RSS: more than one announcement since the last successful poll
    (:func:`digest.schedule.arxiv_gap`). bioRxiv by server and Hugging Face's daily lists:
    a last successful poll longer ago than one poll reads back. A feed never polled has no gap: its
    history is what ``digest backfill`` is for.
    """
    from digest import sources

    last = state.last_success
    if last is None:
        return None
    if feed.kind == "arxiv-rss":
        from digest.schedule import arxiv_gap

        return arxiv_gap(last, now)
    today = now.date()
    if feed.kind == "biorxiv" and not feed.url and (today - last.date()).days >= sources.BIORXIV_MAX_DAYS - 1:
        return last.date() - _ONE_DAY, today
    if feed.kind == "hf-daily" and (today - last.date()).days > sources.HF_CATCH_UP_DAYS and _hf_daily_list(feed):
        return last.date(), today
    return None


def _hf_daily_list(feed: FeedSettings) -> bool:
    """Whether an hf-daily feed reads Hugging Face's list of the day (whose earlier days can be asked
    for), not a URL naming one day or another endpoint, which it reads as it is (sources.hf_day_urls)."""
    from digest import sources
    from digest.sources import hf_daily

    return bool(sources.hf_day_urls(feed.url or hf_daily.DEFAULT_URL, since=None, today=date.today()))


# --- reading a range of days ------------------------------------------------------------------------


def arxiv_categories(feed: FeedSettings) -> list[str]:
    """The arXiv categories of an arXiv feed: its ``categories``, or those of its rss.arxiv.org URL
    (``/rss/cs.LG+stat.ML``). ConfigError when neither names any (a backfill asks by category)."""
    if feed.categories:
        return list(feed.categories)
    if feed.url:
        parts = urlsplit(feed.url)
        path = parts.path.rstrip("/")
        # rss.arxiv.org/rss/cs.LG, and the addresses arXiv documented before it, which redirect there
        # (arxiv.org/rss/cs.LG, export.arxiv.org/rss/cs.LG): the categories are the last segment.
        if parts.hostname in _ARXIV_RSS_HOSTS and path.startswith("/rss/"):
            from digest.ids import ARXIV_CATEGORY_RE

            cats = [c for c in path.rsplit("/", 1)[1].replace(" ", "+").split("+") if c]
            if cats and all(ARXIV_CATEGORY_RE.match(c) for c in cats):
                return cats
    raise ConfigError(f"feed {feed.name!r}: a backfill asks the arXiv API by category; give the feed "
                      "`categories`", key=f"feeds.{feed.name}.categories")


def backfill_records(feed: FeedSettings, settings: FetchSettings, date_from: date, date_to: date, *,
                     today: date, on_page: PageHook | None = None,
                     warnings: list[str] | None = None) -> Iterator[PaperRecord]:
    """The records of ``feed``'s source for the days ``date_from``..``date_to`` (both included), read
    page by page as they are consumed. ConfigError at once for a feed whose source keeps no history
    (:func:`check_backfill`); FetchError/ParseError/FeedError from the page that failed."""
    if date_from > date_to:
        raise ConfigError(f"the range ends ({date_to}) before it starts ({date_from})")
    check_backfill(feed)
    if feed.kind == "biorxiv":
        return _biorxiv(feed, settings, date_from, date_to, on_page=on_page)
    if feed.kind == "hf-daily":
        return _hf_daily(feed, settings, date_from, date_to, on_page=on_page)
    return _arxiv(feed, settings, date_from, date_to, today=today, on_page=on_page, warnings=warnings)


def check_backfill(feed: FeedSettings) -> None:
    """ConfigError saying why ``feed`` cannot be backfilled, if it cannot: its source keeps no earlier
    days (OpenReview, generic feeds, bioRxiv's RSS), or an arXiv feed names no category."""
    if feed.kind in ("arxiv-rss", "arxiv-atom"):
        arxiv_categories(feed)
    elif feed.kind == "biorxiv":
        _biorxiv_api(feed, FetchSettings())
    elif feed.kind == "hf-daily":
        if not _hf_daily_list(feed):
            raise ConfigError(f"feed {feed.name!r} reads one fixed Hugging Face list ({feed.url}), not the list of "
                              "each day: there are no other days to backfill", key=f"feeds.{feed.name}.url")
    else:
        raise ConfigError(f"feed {feed.name!r} ({feed.kind}) cannot be backfilled: only arXiv, bioRxiv/medRxiv and "
                          "Hugging Face keep earlier days in an API", key=f"feeds.{feed.name}.kind")


def _arxiv(feed: FeedSettings, settings: FetchSettings, date_from: date, date_to: date, *, today: date,
           on_page: PageHook | None, warnings: list[str] | None) -> Iterator[PaperRecord]:
    from digest.sources import arxiv_api

    cats = arxiv_categories(feed)
    base = settings.arxiv_api_url
    yield from arxiv_api.backfill(cats, date_from, date_to, settings=settings, base_url=base, on_page=on_page)
    if date_to >= today - _ONE_DAY:
        # Replacements announced during the range are filed under their first version's submission
        # date; the listing by last update reaches them (newest first, so only for a range up to now).
        since = datetime.combine(date_from, time(0), tzinfo=timezone.utc)
        yield from arxiv_api.updated_since(cats, since, settings=settings, base_url=base, on_page=on_page,
                                           warnings=warnings)


def _biorxiv(feed: FeedSettings, settings: FetchSettings, date_from: date, date_to: date, *,
             on_page: PageHook | None) -> Iterator[PaperRecord]:
    from digest.sources import biorxiv

    api, server, base, query = _biorxiv_api(feed, settings)
    first = biorxiv.details_url(server, date_from, date_to, 0, base=base, api=api) + (f"?{query}" if query else "")
    return _pages(feed, settings, [first], lambda url, body: biorxiv.next_page_url(url, body), on_page=on_page)


def _biorxiv_api(feed: FeedSettings, settings: FetchSettings) -> tuple[str, str, str, str]:
    """What a bioRxiv feed's backfill asks: the API ("details", or "pubs" for preprints published in
    journals), the server (biorxiv, medrxiv), the API's base URL and the query the feed's URL adds
    (``?category=genomics``). A feed by ``server`` asks the configured details API; a feed with an
    API ``url`` asks what it names; ConfigError for one reading bioRxiv's RSS."""
    from digest.sources import biorxiv

    api, server, base, query = "details", (feed.server or "biorxiv").lower(), settings.biorxiv_api_url, ""
    if feed.url:
        # https://api.biorxiv.org/details/medrxiv/2025-01-01/2025-01-31/0[/json][?category=...]
        parts = urlsplit(feed.url)
        segs = parts.path.split("/")
        at = next((i for i, seg in enumerate(segs) if seg in ("details", "pubs")), None)
        if at is None or at + 1 >= len(segs) or not segs[at + 1]:
            raise ConfigError(f"feed {feed.name!r} reads a bioRxiv RSS feed or page, which keeps no earlier days; "
                              "a backfill needs a feed by `server` (the details API)", key=f"feeds.{feed.name}.url")
        api, server, query = segs[at], segs[at + 1].lower(), parts.query
        base = urlunsplit(parts._replace(path="/".join(segs[:at]), query="", fragment=""))
    if server not in biorxiv.SERVERS:
        raise ConfigError(f"bioRxiv server must be one of {', '.join(biorxiv.SERVERS)}, not {server!r}",
                          key=f"feeds.{feed.name}.server")
    return api, server, base, query


def _hf_daily(feed: FeedSettings, settings: FetchSettings, date_from: date, date_to: date, *,
              on_page: PageHook | None) -> Iterator[PaperRecord]:
    from digest import sources
    from digest.sources import hf_daily

    url = feed.url or hf_daily.DEFAULT_URL
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    return _pages(feed, settings, [sources.hf_day_url(url, day) for day in days], None, on_page=on_page)


def _pages(feed: FeedSettings, settings: FetchSettings, urls: Iterable[str],
           next_url: Callable[[str, bytes], str | None] | None, *, on_page: PageHook | None) -> Iterator[PaperRecord]:
    """The records of each URL in ``urls`` and of the pages ``next_url`` finds after it, through the
    one fetch function; an answer that reports an error raises FeedError naming the page."""
    from digest import sources
    from digest.fetch import fetch

    for start in urls:
        url: str | None = start
        while url:
            result = fetch(url, settings=settings, accept="application/json", user_supplied=bool(feed.url))
            page = sources.parse_document(feed.kind, result.body, source=url, content_type=result.content_type)
            if page.status == "error":
                raise FeedError(feed.name, f"{page.message or 'the source reported an error'} ({url})")
            if on_page is not None:
                on_page(page)
            yield from page.records
            url = next_url(url, result.body) if next_url else None


def backfill_feed(settings: Settings, store: Store, feed: FeedSettings, date_from: date, date_to: date, *,
                  now: datetime, on_page: PageHook | None = None) -> BackfillRun:
    """Read ``feed``'s days ``date_from``..``date_to`` and store them under the feed's name. Never
    raises for the source's failures: the returned run says what went wrong. Every record read
    before a failure is stored, and the run's counts are those of what was stored."""
    read = 0
    failure: list[BaseException] = []
    notes: list[str] = []

    def guarded(records: Iterator[PaperRecord]) -> Iterator[PaperRecord]:
        # A source failing ends the stream instead of raising through the store, which then commits
        # the batch it was filling: nothing read is thrown away.
        nonlocal read
        try:
            for rec in records:
                read += 1
                yield rec
        except Exception as exc:  # noqa: BLE001 - reported in the run, below
            failure.append(exc)

    log.info("feed=%s backfill %s..%s", feed.name, date_from, date_to)
    try:
        records = backfill_records(feed, settings.fetch, date_from, date_to, today=now.date(), on_page=on_page,
                                   warnings=notes)
        stats = store.ingest_records(feed.name, guarded(records), now=now)
    except Exception as exc:  # noqa: BLE001 - the store failing, or a bad range: reported, not raised
        failure.append(exc)
        stats = IngestStats(feed.name)
    if failure:
        first = failure[0]
        if not isinstance(first, DigestError):  # a bug: its traceback goes to the service's log
            log.info("feed=%s backfill failed unexpectedly", feed.name, exc_info=first)
        reason = one_line(first)
        log.info("feed=%s backfill %s..%s failed after %d records: %s", feed.name, date_from, date_to, read, reason)
        return BackfillRun(feed.name, date_from, date_to, stats, error=reason, read=read,
                           retry_after=getattr(first, "retry_after", None), warnings=tuple(notes))
    log.info("feed=%s backfill %s..%s stored %d new papers", feed.name, date_from, date_to, stats.added)
    return BackfillRun(feed.name, date_from, date_to, stats, read=read, warnings=tuple(notes))


def catch_up(settings: Settings, store: Store, feed: FeedSettings, *, now: datetime,
             state: FeedState | None = None) -> FeedRun:
    """Poll ``feed``, first backfilling the days the poll can no longer read (:func:`gap`). When the
    backfill fails, the poll is still stored but ``last_success`` stays (``last_error`` says why), so
    the next run backfills the same days again. When the backfill succeeds but the poll fails or is
    stale, the catch-up is recorded (:meth:`~digest.store.Store.record_caught_up`): the poll's
    retries do not backfill the same days again."""
    from dataclasses import replace

    from digest.ingest import ingest_feed

    state = state or store.get_feed_state(feed.name)
    days = gap(feed, state, now)
    if days is None:
        return ingest_feed(settings, store, feed, now=now)
    try:
        check_backfill(feed)
    except ConfigError as exc:  # nothing can recover these days: polling on is all there is to do
        run = ingest_feed(settings, store, feed, now=now)
        note = f"days {days[0]}..{days[1]} were missed and cannot be backfilled: {exc.reason}"
        log.warning("feed=%s %s", feed.name, note)
        return replace(run, warnings=(*run.warnings, note))
    backfill = backfill_feed(settings, store, feed, *days, now=now)
    unrecovered = (f"backfill of {backfill.days} failed ({backfill.error}); it is tried again at the next poll"
                   if backfill.error else None)
    run = ingest_feed(settings, store, feed, now=now, unrecovered=unrecovered, retry_after=backfill.retry_after)
    if (run.failed or run.status == "stale") and not backfill.failed:
        # The backfill read every day up to today: only the poll failed (its failure stays recorded,
        # with its backoff) or showed an old batch (a stuck mirror or cache: retried on the stale
        # spacing). Its retries need not read the same days from the API again; the next backfill
        # comes when another listing is missed (arXiv asks API clients not to repeat queries).
        store.record_caught_up(feed.name, now=now)
    return replace(run, backfill=backfill, warnings=(*backfill.warnings, *run.warnings))
