"""The source registry: which parser reads which kind of document, and where each feed lives.

Every source is a module with a pure ``parse(data: bytes, *, source=None) -> ParsedFeed`` (no I/O):
arXiv RSS, the arXiv API, the arXiv metadata snapshot, Hugging Face daily papers, OpenReview, bioRxiv
/medRxiv and generic RSS/Atom/JSON Feed. This module maps kinds to parsers, sniffs a document's kind,
builds a configured feed's URL, and fetches a feed with all its pages (bioRxiv's cursor, OpenReview's
offset) through the one network function, digest.fetch.fetch.

Public names: :data:`PARSERS`, :func:`detect_kind`, :func:`parse_document`, :func:`feed_url`,
:func:`fetch_feed`, :class:`Parser`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from digest.errors import ConfigError, ParseError
from digest.models import SOURCE_KINDS, ParsedFeed, PaperRecord
from digest.sources.sniff import detect_kind

if TYPE_CHECKING:
    from digest.config import FeedSettings, FetchSettings
    from digest.fetch import FetchResult

__all__ = ["PARSERS", "Parser", "detect_kind", "parse_document", "feed_url", "fetch_feed", "MAX_PAGES",
           "BIORXIV_DAYS"]

#: Upper bound on pages fetched for one feed run (bioRxiv pages hold 100 records, OpenReview 1000).
MAX_PAGES = 50
#: bioRxiv feeds without a URL fetch the posts of the last few days (weekends post little).
BIORXIV_DAYS = 3


class Parser(Protocol):
    def __call__(self, data: bytes, *, source: str | None = None) -> ParsedFeed: ...


def _lazy(module: str) -> Parser:
    """A parser that imports its module on first use, so this registry loads before every source
    module exists and ``digest --help`` does not pay for lxml/feedparser imports."""

    def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
        mod = importlib.import_module(f"digest.sources.{module}")
        result: ParsedFeed = mod.parse(data, source=source)
        return result

    parse.__name__ = f"{module}.parse"
    return parse


PARSERS: dict[str, Parser] = {
    "arxiv-rss": _lazy("arxiv_rss"),
    "arxiv-atom": _lazy("arxiv_api"),
    "arxiv-snapshot": _lazy("arxiv_snapshot"),
    "hf-daily": _lazy("hf_daily"),
    "openreview": _lazy("openreview"),
    "biorxiv": _lazy("biorxiv"),
    "rss": _lazy("rss"),
}
assert set(PARSERS) == set(SOURCE_KINDS)


def parse_document(kind: str, data: bytes, *, source: str | None = None) -> ParsedFeed:
    """Parse ``data`` as ``kind``; ParseError (one line) for anything that cannot be read.

    Parsers raise ParseError themselves; a lower-level error that still escapes one (a parser bug met
    on hostile input) is turned into ParseError here, because issue #2 promises the user one clear
    line per bad feed, never a traceback.
    """
    parser = PARSERS.get(kind)
    if parser is None:
        raise ParseError(kind, f"unknown kind; expected one of {', '.join(SOURCE_KINDS)}", source=source)
    try:
        return parser(data, source=source)
    except ParseError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError, RecursionError,
            OverflowError) as exc:
        raise ParseError(kind, f"unreadable document ({type(exc).__name__}: {exc})"[:300], source=source) from exc


def feed_url(feed: FeedSettings, *, today: date | None = None) -> str:
    """Where a configured feed is fetched from; an explicit ``url`` always wins.

    arXiv categories -> rss.arxiv.org (arxiv-rss) or an API query (arxiv-atom); hf-daily -> the daily
    papers API; openreview ``venue`` -> API v2 notes of that venue; biorxiv ``server`` (default
    biorxiv) -> details API for the last :data:`BIORXIV_DAYS` days.
    """
    if feed.url:
        return feed.url
    if feed.kind == "arxiv-rss" and feed.categories:
        from digest.sources import arxiv_rss

        return arxiv_rss.feed_url(list(feed.categories))
    if feed.kind == "arxiv-atom" and feed.categories:
        from digest.sources import arxiv_api

        query = " OR ".join(f"cat:{c}" for c in feed.categories)
        return arxiv_api.query_url(search_query=query, max_results=200, sort_by="submittedDate",
                                   sort_order="descending")
    if feed.kind == "hf-daily":
        from digest.sources import hf_daily

        return hf_daily.DEFAULT_URL
    if feed.kind == "openreview" and feed.venue:
        from digest.sources import openreview

        return openreview.notes_url(feed.venue)
    if feed.kind == "biorxiv":
        from digest.sources import biorxiv

        end = today or date.today()
        try:
            return biorxiv.details_url(feed.server or "biorxiv", end - timedelta(days=BIORXIV_DAYS - 1), end, 0)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"feeds.{feed.name}.server") from None
    raise ConfigError(f"feed {feed.name!r} of kind {feed.kind} needs a url", key=f"feeds.{feed.name}")


def _pager(kind: str) -> Callable[[str, bytes], str | None] | None:
    if kind == "biorxiv":
        from digest.sources import biorxiv

        return biorxiv.next_page_url
    if kind == "openreview":
        from digest.sources import openreview

        return openreview.next_page_url
    return None


def fetch_feed(feed: FeedSettings, settings: FetchSettings, *, etag: str | None = None,
               last_modified: str | None = None, today: date | None = None) -> tuple[FetchResult, ParsedFeed | None]:
    """Fetch and parse one feed, following bioRxiv/OpenReview pages; ``(result, None)`` on 304.

    The returned FetchResult is the first page's (its ETag/Last-Modified are what to send next
    time). Later pages are fetched without validators. Records of all pages are merged (first
    occurrence wins), warnings concatenated; at most :data:`MAX_PAGES` pages are read, with a
    warning when more remain. FetchError/ParseError propagate: the caller records the feed's error.
    """
    from digest.fetch import fetch  # the one network chokepoint

    url = feed_url(feed, today=today)
    user_supplied = bool(feed.url) or feed.kind not in ("arxiv-rss", "arxiv-atom", "hf-daily", "openreview",
                                                        "biorxiv")
    first = fetch(url, settings=settings, etag=etag, last_modified=last_modified, user_supplied=user_supplied)
    if first.not_modified:
        return first, None
    parsed = parse_document(feed.kind, first.body, source=feed.name)
    pager = _pager(feed.kind)
    if pager is None or parsed.status == "error":
        return first, parsed
    pages = [parsed]
    next_url = pager(first.final_url or url, first.body)
    while next_url and len(pages) < MAX_PAGES:
        page = fetch(next_url, settings=settings, user_supplied=user_supplied)
        page_parsed = parse_document(feed.kind, page.body, source=feed.name)
        if page_parsed.status == "error":
            break
        pages.append(page_parsed)
        next_url = pager(next_url, page.body)
    return first, _merge(pages, more=bool(next_url))


def _merge(pages: list[ParsedFeed], *, more: bool) -> ParsedFeed:
    if len(pages) == 1 and not more:
        return pages[0]
    seen: set[str] = set()
    records: list[PaperRecord] = []
    for page in pages:
        for r in page.records:
            if r.external_id not in seen:
                seen.add(r.external_id)
                records.append(r)
    warnings = [w for p in pages for w in p.warnings]
    if more:
        warnings.append(f"stopped after {MAX_PAGES} pages; the rest is fetched next time")
    head = pages[0]
    return ParsedFeed(kind=head.kind, records=tuple(records), status="ok" if records else "empty",
                      title=head.title, message=head.message, warnings=tuple(warnings),
                      total_results=head.total_results, feed_date=head.feed_date)
