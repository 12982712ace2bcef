"""The source registry: which parser reads which kind of document, and where each feed lives.

Every source is a module with a pure ``parse(data: bytes, *, source=None) -> ParsedFeed`` (no I/O):
arXiv RSS, the arXiv API, the arXiv metadata snapshot, Hugging Face daily papers, OpenReview, bioRxiv
/medRxiv and generic RSS/Atom/JSON Feed. This module maps kinds to parsers, sniffs a document's kind,
builds a configured feed's URL, and fetches a feed with all its pages (bioRxiv's cursor, OpenReview's
offset, the arXiv API's opensearch start) through the one network function, digest.fetch.fetch.

Character encoding is settled here, once, before any parser sees the bytes (:func:`normalize_encoding`):
parsers get UTF-8 (or the untouched bytes when nothing says otherwise), so lxml, feedparser and json
all read a document the same way:

* XML (RFC 7303 §3, RFC 9110 §8.3.1): a byte order mark wins; then the ``charset`` parameter of the
  response's Content-Type, over the document's XML declaration and over any guessing; without
  either, the parsers' own rules (XML 1.0 §4.3.3 and appendix F) apply. Labels are read as the WHATWG
  Encoding Standard maps them (``iso-8859-1`` and ``us-ascii`` mean windows-1252, as in browsers).
  A charset the bytes cannot be decoded in is not believed (a warning says so).
* JSON (RFC 8259 §8.1, §11): UTF-8, with UTF-16/32 (BOM or not, told as RFC 4627 §3 does) accepted
  and transcoded; the media type defines no charset, so one is only a fallback for bytes that are
  not Unicode at all.

Public names: :data:`PARSERS`, :func:`detect_kind`, :func:`parse_document`, :func:`feed_url`,
:func:`fetch_feed`, :class:`Parser`, :func:`normalize_encoding`, :func:`content_charset`,
:func:`arxiv_next_page_url`, :func:`hf_day_urls`.
"""

from __future__ import annotations

import codecs
import importlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.errors import ConfigError, DigestError, FetchError, ParseError, one_line
from digest.models import SOURCE_KINDS, ParsedFeed, PaperRecord
from digest.sources.sniff import detect_kind

if TYPE_CHECKING:
    from pydantic import SecretStr

    from digest.config import FeedSettings, FetchSettings
    from digest.fetch import FetchResult

log = logging.getLogger(__name__)

__all__ = ["PARSERS", "Parser", "detect_kind", "parse_document", "feed_url", "fetch_feed", "MAX_PAGES",
           "BIORXIV_DAYS", "normalize_encoding", "content_charset", "hf_day_url"]

#: Upper bound on pages fetched for one feed run (bioRxiv pages hold 100 records, OpenReview 1000).
MAX_PAGES = 50
#: bioRxiv feeds without a URL fetch the posts of the last few days (weekends post little).
BIORXIV_DAYS = 3
#: ... and after an outage, back to the day before the previous successful poll, this many days at
#: most: bioRxiv posts ~150-220 records a day with revisions, so two weeks (~30 pages of 100) stay
#: well within MAX_PAGES, which would otherwise cut the window's newest days (the API answers
#: oldest first) while the run still counted as a success.
BIORXIV_MAX_DAYS = 14


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


def parse_document(kind: str, data: bytes, *, source: str | None = None,
                   content_type: str | None = None, url: str | None = None) -> ParsedFeed:
    """Parse ``data`` as ``kind``; ParseError (one line) for anything that cannot be read.

    ``content_type`` is the HTTP Content-Type the bytes came with (None for a local file): its
    ``charset`` decides how XML is decoded (see :func:`normalize_encoding`). ``url`` is the address
    the document was retrieved from (after redirects): a generic feed's relative links are resolved
    against it when the feed states no absolute address of its own (RFC 3986 §5.1.3). Parsers raise ParseError
    themselves; a lower-level error that still escapes one (a parser bug met on hostile input) is
    turned into ParseError here, because issue #2 promises the user one clear line per bad feed,
    never a traceback.
    """
    parser = PARSERS.get(kind)
    if parser is None:
        raise ParseError(kind, f"unknown kind; expected one of {', '.join(SOURCE_KINDS)}", source=source)
    data, note = normalize_encoding(data, content_type)
    if kind == "rss":
        kind, parser = _specific_parser(data) or (kind, parser)
    if note:
        # Not a feed warning: the parsers fix (and report) what the bytes really are themselves, and a
        # warning on an empty feed would make it an error (digest.ingest._check_parsed).
        log.info("%s: %s", source or kind, note)
    try:
        if kind == "rss" and url:
            from digest.sources import rss

            return rss.parse(data, source=source, url=url)
        return parser(data, source=source)
    except ParseError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError, RecursionError,
            OverflowError) as exc:
        raise ParseError(kind, f"unreadable document ({type(exc).__name__}: {exc})"[:300], source=source) from exc


#: Kinds whose documents a feed configured as plain "rss" is read as when it turns out to be one:
#: someone pasting rss.arxiv.org/rss/cs.LG, an arXiv API query or a bioRxiv subject feed as "any RSS feed" gets the
#: records those sources make (arXiv's TeX author names and announce types, bioRxiv's versions,
#: links and clean abstracts), not the generic reading of the same items.
_SPECIFIC_RSS_KINDS = ("arxiv-rss", "arxiv-atom", "biorxiv")


def _specific_parser(data: bytes) -> tuple[str, Parser] | None:
    try:
        detected = detect_kind(data)
    except ParseError:
        return None  # the generic parser says what is wrong with it
    return (detected, PARSERS[detected]) if detected in _SPECIFIC_RSS_KINDS else None


# --- character encoding ------------------------------------------------------------------------

#: Labels the WHATWG Encoding Standard maps to windows-1252 (what browsers and feed readers do): the
#: C1 range 0x80-0x9F of such "Latin-1" feeds holds curly quotes, dashes and the euro sign.
_WINDOWS_1252_LABELS = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819",
                                  "ibm819", "us-ascii", "ascii", "ansi_x3.4-1968", "windows-1252", "cp1252",
                                  "x-cp1252"})
_UNICODE_BOMS: tuple[bytes, ...] = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE,
                                    codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: The XML declaration's encoding pseudo-attribute (XML 1.0 §4.3.3), in decoded text.
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_JSON_START = (b"{", b"[")


def content_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type (RFC 9110 §8.3.1: case-insensitive name, the value
    a token or a quoted string), lower-cased; None when absent or empty."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip('"').strip().lower()
            return value or None
    return None


def _codec(label: str) -> str | None:
    """The Python codec for a charset label (WHATWG mapping of Latin-1 labels), or None if unknown."""
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode(data: bytes, codec: str) -> str | None:
    """``data`` decoded strictly in ``codec``; None when the bytes are not text in it. windows-1252
    leaves five bytes undefined, which the WHATWG decoder maps to C1 controls: so does Latin-1."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return data.decode("latin-1") if codec == "cp1252" else None


def _first_byte(data: bytes) -> bytes:
    """The first byte that is not whitespace or NUL: tells JSON (``{`` ``[``) from markup in every
    ASCII-compatible encoding and in UTF-16/32."""
    return data[:256].lstrip(b" \t\r\n\x00")[:1]


def normalize_encoding(data: bytes, content_type: str | None = None) -> tuple[bytes, str | None]:
    """The bytes a parser should read, and a note when the declared charset was not believed.

    See the module docstring for the rules. Bytes are returned untouched whenever nothing needs to
    change (the common UTF-8 feed), so the big arXiv listings are not copied.
    """
    bom = next((b for b in _UNICODE_BOMS if data.startswith(b)), None)
    if bom is not None:
        # RFC 7303 §3 / XML 1.0 §4.3.3 and RFC 8259 §8.1: a BOM is authoritative over the charset.
        return (_json_as_utf8(data) if _first_byte(data[len(bom):]) in _JSON_START else data), None
    if _first_byte(data) in _JSON_START:
        return _json_as_utf8(data, content_charset(content_type)), None
    return _xml_with_charset(data, content_charset(content_type))


def _json_as_utf8(data: bytes, charset: str | None = None) -> bytes:
    """JSON re-encoded as UTF-8: UTF-16/32 detected from the bytes as json.loads does (RFC 4627 §3);
    a charset parameter only rescues bytes that are not valid Unicode text at all."""
    found = json.detect_encoding(data)
    if found == "utf-8" and _is_utf8(data):
        return data
    text = _decode(data, found)
    if text is None and charset and (codec := _codec(charset)):
        text = _decode(data, codec)
    if text is None:
        return data  # the JSON parser reports it, in one line
    return text.removeprefix("\ufeff").encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _declared_label(data: bytes) -> str | None:
    """The encoding an XML declaration names (ASCII-compatible bytes), lower-cased, or None."""
    m = _XML_DECL_ENCODING.match(data[:256].decode("latin-1"))
    return m.group(0)[len(m.group(1)) + 1:-1].strip().lower() if m else None


#: Single-byte Western codecs (as codecs.lookup names them) that a server's default label says.
_LATIN_CODECS = frozenset({"iso8859-1", "cp1252", "iso8859-15", "latin-1"})


def _xml_with_charset(data: bytes, charset: str | None) -> tuple[bytes, str | None]:
    """XML decoded by the HTTP charset and re-encoded as UTF-8 with a matching declaration."""
    if charset is None:
        return data, None  # XML 1.0 §4.3.3: the declaration (or UTF-8) and the parsers' recovery
    codec = _codec(charset)
    if codec is None:
        return data, f"unknown charset {charset!r} in Content-Type; read by the document's own declaration"
    declared = _declared_label(data)
    if codec == "utf-8" and (declared is None or _codec(declared) == "utf-8") and _is_utf8(data):
        return data, None  # already what the parsers read by default: no copy
    if codec in _LATIN_CODECS and not data.isascii() and _is_utf8(data):
        # A Latin-1 label over bytes that are UTF-8 with non-ASCII text (Apache's old default
        # "AddDefaultCharset ISO-8859-1" in front of a UTF-8 feed): Latin-1 text practically never
        # forms valid UTF-8 sequences, so the label is wrong. Read by the document's declaration,
        # which xmlsafe checks against the bytes in turn.
        return data, f"Content-Type says charset {charset}, but the bytes are UTF-8; read as UTF-8"
    text = _decode(data, codec)
    if text is None:
        return data, (f"Content-Type says charset {charset} but the bytes are not {charset}; "
                      "read by the document's own declaration")
    # The declaration must now say what the bytes are, or the parser would decode them again by it.
    text = _XML_DECL_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}utf-8{m.group(2)}", text, count=1)
    return text.encode("utf-8"), None


def feed_url(feed: FeedSettings, *, today: date | None = None, since: datetime | None = None,
             settings: FetchSettings | None = None) -> str:
    """Where a configured feed is fetched from; an explicit ``url`` always wins.

    arXiv categories -> rss.arxiv.org (arxiv-rss) or an API query (arxiv-atom); hf-daily -> the daily
    papers API; openreview ``venue`` -> API v2 notes of that venue; biorxiv ``server`` (default
    biorxiv) -> details API for the last :data:`BIORXIV_DAYS` days, or back to the day before
    ``since`` (the feed's previous successful poll) when that is longer ago, :data:`BIORXIV_MAX_DAYS`
    at most: the details API answers by posting date, so days a service was down are read then.
    """
    if feed.url:
        return feed.url
    if feed.kind == "arxiv-rss" and feed.categories:
        from digest.sources import arxiv_rss

        return arxiv_rss.feed_url(list(feed.categories))
    if feed.kind == "arxiv-atom" and feed.categories:
        from digest.sources import arxiv_api

        return arxiv_api.query_url(search_query=arxiv_api.category_query(list(feed.categories)), max_results=200,
                                   sort_by="submittedDate", sort_order="descending",
                                   base_url=settings.arxiv_api_url if settings else arxiv_api.API_URL)
    if feed.kind == "hf-daily":
        from digest.sources import hf_daily

        return hf_daily.DEFAULT_URL
    if feed.kind == "openreview" and feed.venue:
        from digest.sources import openreview

        return openreview.notes_url(feed.venue, base=settings.openreview_api_url if settings else openreview.API_BASE)
    if feed.kind == "biorxiv":
        from digest.sources import biorxiv

        end = today or date.today()
        start = end - timedelta(days=BIORXIV_DAYS - 1)
        if since is not None:
            start = max(min(start, since.date() - timedelta(days=1)), end - timedelta(days=BIORXIV_MAX_DAYS - 1))
        try:
            return biorxiv.details_url(feed.server or "biorxiv", start, end, 0,
                                       base=settings.biorxiv_api_url if settings else biorxiv.API_BASE)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"feeds.{feed.name}.server") from None
    raise ConfigError(f"feed {feed.name!r} of kind {feed.kind} needs a url", key=f"feeds.{feed.name}")


#: What follows one page: the next page's URL from this page's URL, body and parse, or None at the end.
Pager = Callable[[str, bytes, ParsedFeed], str | None]
#: An arXiv API page with no entries is asked for again this many times before it is believed: the
#: API sometimes answers a page inside its results with none (see digest.sources.arxiv_api).
ARXIV_EMPTY_RETRIES = 1
#: How far before the previous successful poll an open-ended arXiv API listing is read back. The API
#: orders by submission (or last-update) time, but a paper appears in it only when arXiv announces it:
#: a Monday announcement carries papers submitted since Friday 14:00 ET, a holiday closure adds days,
#: and a moderation hold more. A week covers these; the scheduler backfills longer gaps through
#: :func:`digest.sources.arxiv_api.backfill`.
ARXIV_LOOKBACK = timedelta(days=7)
#: Hugging Face's daily lists read besides the latest one reach back to the day of the previous
#: successful poll (a service that was down for a while), at most this many days. Yesterday's list is
#: read at every poll: its papers still gather the upvotes and comments the trending digest ranks by.
HF_CATCH_UP_DAYS = 7
#: Kinds whose further pages are a fixed list of URLs, not a cursor taken from the answer: a page
#: bringing nothing new (a quiet day) is no sign of a server repeating itself, and the list ends.
_LISTED_PAGES = frozenset({"hf-daily"})
#: The API's date sort keys (arXiv API user manual §3.1.1.1) and the record field each one orders by.
_ARXIV_DATE_SORTS = {"submittedDate": "published", "lastUpdatedDate": "updated"}


def _pager(kind: str, *, url: str, since: datetime | None, today: date) -> Pager | None:
    if kind == "biorxiv":
        from digest.sources import biorxiv

        return lambda url, body, _parsed: biorxiv.next_page_url(url, body)
    if kind == "openreview":
        from digest.sources import openreview

        return lambda url, body, _parsed: openreview.next_page_url(url, body)
    if kind == "arxiv-atom":
        return lambda url, body, parsed: arxiv_next_page_url(url, body, parsed, since=since)
    if kind == "hf-daily":
        days = iter(hf_day_urls(url, since=since, today=today))
        return lambda _url, _body, _parsed: next(days, None)
    return None


def hf_day_urls(url: str, *, since: datetime | None, today: date) -> list[str]:
    """The lists of earlier days to read after Hugging Face's latest one (``?date=YYYY-MM-DD``),
    newest first: yesterday, and back to the day of ``since`` (the previous successful poll), at
    most :data:`HF_CATCH_UP_DAYS`. None for a URL that is not the daily-papers endpoint or that
    already names a day."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not parts.path.rstrip("/").endswith("/api/daily_papers") or any(k == "date" for k, _ in query):
        return []
    yesterday = today - timedelta(days=1)
    oldest = min(yesterday, max(since.date() if since else yesterday, today - timedelta(days=HF_CATCH_UP_DAYS)))
    days = (yesterday - timedelta(days=n) for n in range((yesterday - oldest).days + 1))
    return [hf_day_url(url, day) for day in days]


def hf_day_url(url: str, day: date) -> str:
    """Hugging Face's list of one day: the daily-papers URL with ``date=YYYY-MM-DD`` (replacing one it has)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "date"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("date", day.isoformat())])))


def arxiv_next_page_url(url: str, body: bytes, parsed: ParsedFeed, *, since: datetime | None = None) -> str | None:
    """The arXiv API page after ``url`` by OpenSearch paging (arXiv API user manual §3.3.1 "start" and
    "max_results"; opensearch:totalResults): ``start`` advances by the entries received (short pages
    happen and must not skip any) until ``totalResults``.

    A result set that cannot be read in :data:`MAX_PAGES` pages is an open-ended listing (a whole
    category, newest first, as :func:`feed_url` builds from ``categories``). Reading all of it would
    ask arXiv for thousands of old papers at every poll, and reading only its first page would lose
    whatever arXiv announced beyond that page since the last poll. So when a listing is sorted
    newest first by date and ``since`` (the feed's previous successful poll) is known, pages are read
    until one reaches back past ``since`` - :data:`ARXIV_LOOKBACK`, whatever its size; without
    ``since`` (a new feed), or in another order, the first page of an open-ended listing is the feed.
    """
    total, received = parsed.total_results, len(parsed.records)
    if total is None or received == 0:
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    start = _non_negative(params.get("start")) or 0
    size = max(_non_negative(params.get("max_results")) or received, received)
    if start + received >= total:
        return None
    date_field = _newest_first_by(params)
    if since is not None and date_field is not None:
        # Newest first since a known poll: read back to the lookback, however many results there are
        # (judging "open-ended" by what is left would read every page once few are left).
        if not _reaches_after(parsed, date_field, since):
            return None
    elif total - start > MAX_PAGES * size:
        return None
    query = [(k, v) for k, v in query if k != "start"] + [("start", str(start + received))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _newest_first_by(params: dict[str, str]) -> str | None:
    """The record field a listing is ordered by, newest first, or None for any other order."""
    if params.get("sortOrder", "descending") != "descending":
        return None
    return _ARXIV_DATE_SORTS.get(params.get("sortBy", ""))


def _reaches_after(page: ParsedFeed, field_name: str, since: datetime) -> bool:
    """Whether a newest-first page still holds papers that arXiv may have announced after
    ``since``: its oldest date is within :data:`ARXIV_LOOKBACK` of it."""
    # A v1 record's "updated" is its "published" (the API gives both; other sources may not).
    dates = [d for r in page.records if (d := getattr(r, field_name) or r.published) is not None]
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return bool(dates) and min(dates) >= since - ARXIV_LOOKBACK


def _non_negative(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


@dataclass(slots=True)
class _Pages:
    """The pages of one feed run read so far, and why reading stopped early (if it did)."""

    pages: list[ParsedFeed]
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    #: Why a page failed (or stayed empty inside the total): the next run must read from where this one did.
    failed: str | None = None
    #: The failed page's Retry-After (seconds): the feed's next attempt waits for it as for the first page's.
    retry_after: float | None = None
    seen: set[str] = field(default_factory=set)

    def stop(self, note: str, *, failed: bool) -> None:
        """Stop paging early, saying why; ``failed``: the pages left unread must be read next time."""
        self.notes.append(note)
        self.complete = False
        if failed:
            self.failed = note

    def add(self, page: ParsedFeed) -> bool:
        """Keep ``page``; False when it brings no record not already read (a server repeating a page)."""
        fresh = {r.external_id for r in page.records} - self.seen
        self.seen |= fresh
        self.pages.append(page)
        return bool(fresh)


def fetch_feed(feed: FeedSettings, settings: FetchSettings, *, etag: str | None = None,
               last_modified: str | None = None, today: date | None = None,
               since: datetime | None = None, openreview_password: SecretStr | None = None,
               ) -> tuple[FetchResult, ParsedFeed | None]:
    """Fetch and parse one feed, following its pages; ``(result, None)`` on 304 (nothing is parsed).

    Pages: bioRxiv's cursor, OpenReview's offset, the arXiv API's OpenSearch ``start``
    (:func:`arxiv_next_page_url`, which reads an open-ended listing back to ``since``, the feed's
    previous successful poll; an empty arXiv API page is fetched again once before it is believed), and
    Hugging Face's lists of earlier days (:func:`hf_day_urls`). Paging stops at the end, after :data:`MAX_PAGES` pages, at a page that brings no new
    record (a server that keeps answering the same page must not loop us), or at a later page that
    fails; records of the pages read are merged (first occurrence wins), warnings concatenated, with
    one saying why paging stopped early. The returned FetchResult is the first page's, so its
    ETag/Last-Modified are what to send next time, except when pages were left unread: then it
    carries none, or a 304 to the next run would leave them unread for good, and it carries the
    failed page's Retry-After (429/503), which the feed's next attempt must honour. The first page's
    FetchError/ParseError propagate: the caller records the feed's error.
    """
    from digest.fetch import fetch  # the one network chokepoint

    today = today or date.today()
    url = feed_url(feed, today=today, since=since, settings=settings)
    if feed.kind in _LISTED_PAGES and hf_day_urls(url, since=since, today=today):
        # The earlier days are read at every poll (their upvotes move): a 304 for the latest list
        # must not skip them, so its validators are not sent.
        etag = last_modified = None
    user_supplied = bool(feed.url) or feed.kind not in ("arxiv-rss", "arxiv-atom", "hf-daily", "openreview",
                                                        "biorxiv")
    from digest.sources import openreview  # light; its sign-in is used by venue feeds only

    signs_in = feed.kind == "openreview" and not feed.url
    bearer = openreview.access_token(settings, openreview_password) if signs_in else None
    try:
        first = fetch(url, settings=settings, etag=etag, last_modified=last_modified, user_supplied=user_supplied,
                      bearer=bearer)
    except FetchError as exc:
        if not signs_in or exc.status not in (401, 403):
            raise
        if bearer is None:
            raise FetchError(exc.url, f"{exc.reason}; {openreview.SIGN_IN_HINT}", status=exc.status) from None
        # A token the API no longer takes (expired early, revoked): sign in again, once.
        bearer = openreview.access_token(settings, openreview_password, renew=True)
        first = fetch(url, settings=settings, etag=etag, last_modified=last_modified, user_supplied=user_supplied,
                      bearer=bearer)
    if first.not_modified:
        return first, None
    parsed = _parse_response(feed, first)
    if _believe_empty(feed.kind, parsed) is False:
        first = fetch(url, settings=settings, user_supplied=user_supplied, bearer=bearer)
        parsed = _parse_response(feed, first)
    pager = _pager(feed.kind, url=first.final_url or url, since=since, today=today)
    if pager is None or parsed.status == "error":
        return first, parsed
    read = _Pages([])
    read.add(parsed)
    _follow_pages(feed, settings, pager, read, first.final_url or url, first.body, user_supplied=user_supplied,
                  bearer=bearer)
    if not read.complete:
        first = replace(first, etag=None, last_modified=None, retry_after=read.retry_after)
    return first, _merge(read)


def _parse_response(feed: FeedSettings, result: FetchResult) -> ParsedFeed:
    # RFC 9110 §8.3: the response's Content-Type (its charset) says how to decode the body.
    return parse_document(feed.kind, result.body, source=feed.name, content_type=result.content_type,
                          url=result.final_url or None)


def _believe_empty(kind: str, parsed: ParsedFeed, retries_done: int = 0) -> bool | None:
    """None for a page with entries; for an empty arXiv API page, whether to believe it yet."""
    if parsed.records or parsed.status == "error":
        return None
    return kind != "arxiv-atom" or retries_done >= ARXIV_EMPTY_RETRIES


def _follow_pages(feed: FeedSettings, settings: FetchSettings, pager: Pager, read: _Pages, url: str, body: bytes,
                  *, user_supplied: bool, bearer: str | None = None) -> None:
    from digest.fetch import fetch

    next_url = pager(url, body, read.pages[-1])
    while next_url:
        number = len(read.pages) + 1
        if number > MAX_PAGES:
            read.stop(f"stopped after {MAX_PAGES} pages; later pages are not read", failed=False)
            return
        try:
            page_result = fetch(next_url, settings=settings, user_supplied=user_supplied, bearer=bearer)
            page = _parse_response(feed, page_result)
            retries = 0
            while _believe_empty(feed.kind, page, retries) is False:
                retries += 1
                page_result = fetch(next_url, settings=settings, user_supplied=user_supplied, bearer=bearer)
                page = _parse_response(feed, page_result)
        except DigestError as exc:  # FetchError, ParseError: the pages already read are kept
            read.stop(f"page {number} failed ({one_line(exc, limit=300)}); the rest is fetched next time", failed=True)
            read.retry_after = exc.retry_after if isinstance(exc, FetchError) else None
            return
        if page.status == "error":
            read.stop(f"page {number} reports an error ({page.message or 'no message'}); the rest is fetched "
                      "next time", failed=True)
            return
        if not read.add(page):
            if feed.kind in _LISTED_PAGES:
                next_url = pager(next_url, page_result.body, page)
                continue
            if page.records:
                read.notes.append(f"page {number} repeats records already read; stopped paging")
            elif feed.kind == "arxiv-atom":  # still empty after the retry, inside the announced total
                read.stop(f"page {number} stayed empty; the rest is fetched next time", failed=True)
            return
        next_url = pager(next_url, page_result.body, page)


def _merge(read: _Pages) -> ParsedFeed:
    pages = read.pages
    if len(pages) == 1 and not read.notes:
        return pages[0]
    seen: set[str] = set()
    records: list[PaperRecord] = []
    for page in pages:
        for r in page.records:
            if r.external_id not in seen:
                seen.add(r.external_id)
                records.append(r)
    warnings = [w for p in pages for w in p.warnings] + read.notes
    head = pages[0]
    return ParsedFeed(kind=head.kind, records=tuple(records), status="ok" if records else "empty",
                      title=head.title, message=head.message, warnings=tuple(warnings), pages_failed=read.failed,
                      total_results=head.total_results, feed_date=head.feed_date)
