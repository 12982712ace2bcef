"""The arXiv API (Atom from export.arxiv.org/api/query), kind "arxiv-atom": parser and client.

:func:`parse` reads one response page, in the legacy (2016: inline opensearch namespaces, http links)
and the current (2025+: https links, ``arxiv:primary_category`` without scheme) formats::

    <feed xmlns="http://www.w3.org/2005/Atom"> <opensearch:totalResults>214881</...> ...
      <entry> <id>http://arxiv.org/abs/2202.12139v1</id> <title/> <summary/> <published/> <updated/>
        <author><name/></author>... <category term="cs.SE"/>... <arxiv:primary_category term="cs.SE"/>
        <arxiv:doi/> <arxiv:comment/> <arxiv:journal_ref/> <link title="pdf" href=".../pdf/2202.12139v1"/>

A failed query is answered (with HTTP 400) by a feed whose only entry is titled "Error" and whose id
is ``https://arxiv.org/api/errors#...``; the summary says what is wrong -> status "error".

The client functions (:func:`search`, :func:`backfill`, :func:`lookup`) page through results with
:func:`digest.fetch.fetch`, which spaces requests to arXiv hosts 3 s apart with one connection at a
time (arXiv API terms of use). The API sometimes answers a page inside the advertised total with no
entries (a known transient); such a page is asked for again, up to ``empty_retries`` times, before
it is believed and the listing ends there.

Public names: :data:`KIND`, :data:`API_URL`, :func:`parse`, :func:`query_url`, :func:`category_query`,
:func:`search`, :func:`backfill`, :func:`updated_since`, :func:`lookup`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from digest.config import FetchSettings
from digest.dates import as_utc
from digest.errors import ApiError, ParseError
from digest.ids import ARXIV_CATEGORY_RE, find_arxiv_id, normalize_doi, parse_arxiv_id
from digest.models import FeedStatus, PaperRecord, ParsedFeed
from digest.sources.xmlsafe import parse_document
from digest.text import clean_title, collapse_ws, normalize_author

__all__ = ["KIND", "API_URL", "parse", "query_url", "category_query", "search", "backfill", "updated_since",
           "lookup"]

log = logging.getLogger(__name__)

KIND = "arxiv-atom"
API_URL = "https://export.arxiv.org/api/query"
#: The API serves at most 2,000 entries per request (arXiv API user manual, "Paging").
MAX_PAGE = 2000
#: ... and at most this many results of one query in all (arXiv API user manual, "Paging": a larger
#: result set is to be sliced into date ranges, as :func:`backfill` does).
RESULT_LIMIT = 30_000
EMPTY_RETRIES = 3
#: A backfill asks for at most this many days of submissions per query, and halves a range that
#: still holds more than :data:`RESULT_LIMIT` papers (a week of all of arXiv is ~ 24,000).
BACKFILL_WINDOW = timedelta(days=7)
#: Results per page of a backfill: fewer, larger pages spend less time in the 3 s between requests.
BACKFILL_PAGE = 1000
#: Called with every page a client function reads (totals and records, e.g. for a progress bar).
PageHook = Callable[[ParsedFeed], None]

_ATOM = "{http://www.w3.org/2005/Atom}"
_OS = "{http://a9.com/-/spec/opensearch/1.1/}"
_AX = "{http://arxiv.org/schemas/atom}"


# --- parsing ---------------------------------------------------------------------------------------

def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """One API response page -> records, totals, or the API's error message."""
    doc = parse_document(data, kind=KIND, source=source)
    root = doc.root
    if root.tag != f"{_ATOM}feed":
        # Not etree.QName: it raises ValueError on names libxml2's recover mode makes ("feed\xebxmlns:os").
        name = root.tag.rpartition("}")[2] if isinstance(root.tag, str) else "?"
        raise ParseError(KIND, f"not an Atom feed (root element <{name}>)", source=source)
    total = _int(root.findtext(f"{_OS}totalResults"))
    title = collapse_ws(root.findtext(f"{_ATOM}title") or "") or None
    feed_date = _iso(root.findtext(f"{_ATOM}updated"))
    warnings = list(doc.warnings)
    entries = root.findall(f"{_ATOM}entry")
    intact = doc.intact(entries)
    if len(intact) < len(entries):
        warnings.append(f"dropped {len(entries) - len(intact)} damaged entr{'y' if len(entries) - len(intact) == 1 else 'ies'}")
    records: list[PaperRecord] = []
    for n, entry in enumerate(intact, 1):
        entry_id = (entry.findtext(f"{_ATOM}id") or "").strip()
        if _is_error_entry(entry, entry_id):
            error_message = collapse_ws(entry.findtext(f"{_ATOM}summary") or "") or "the arXiv API reported an error"
            return ParsedFeed(kind=KIND, records=(), status="error", title=title, message=error_message,
                              warnings=tuple(warnings), total_results=total, feed_date=feed_date)
        rec = _record(entry, entry_id)
        if rec is None:
            warnings.append(f"entry {n} has no arXiv id ({entry_id!r}); skipped")
        else:
            records.append(rec)
    status: FeedStatus = "ok" if records else "empty"
    message = "no results" if not records else None
    return ParsedFeed(kind=KIND, records=tuple(records), status=status, title=title, message=message,
                      warnings=tuple(warnings), total_results=total, feed_date=feed_date)


def _is_error_entry(entry: etree._Element, entry_id: str) -> bool:
    """The API's error entry: its id is under ``/api/errors``. A title of "Error" alone is not enough
    (real titles can be one word: 2104.12255v1 is titled "0"), so it counts only without a paper id."""
    if "/api/errors" in entry_id:
        return True
    return (entry.findtext(f"{_ATOM}title") or "").strip() == "Error" and find_arxiv_id(entry_id) is None


def _record(entry: etree._Element, entry_id: str) -> PaperRecord | None:
    found = find_arxiv_id(entry_id)
    if found is None:
        return None
    arxiv_id, version = found
    title_raw = (entry.findtext(f"{_ATOM}title") or "").strip()
    primary = entry.find(f"{_AX}primary_category")
    cats = [primary.get("term", "")] if primary is not None else []
    cats += [c.get("term", "") for c in entry.iterfind(f"{_ATOM}category")]
    comment = collapse_ws(entry.findtext(f"{_AX}comment") or "")
    published, updated = _iso(entry.findtext(f"{_ATOM}published")), _iso(entry.findtext(f"{_ATOM}updated"))
    return PaperRecord(
        source_kind=KIND,
        external_id=arxiv_id,
        title=clean_title(title_raw),
        title_original=title_raw,
        authors=tuple(normalize_author(a.findtext(f"{_ATOM}name") or "")
                      for a in entry.iterfind(f"{_ATOM}author") if (a.findtext(f"{_ATOM}name") or "").strip()),
        # Atom text constructs without type="html" are plain text (RFC 4287 §3.1.1): no markup to strip.
        abstract=collapse_ws(entry.findtext(f"{_ATOM}summary") or ""),
        categories=_categories(cats),
        arxiv_id=arxiv_id,
        version=version,
        doi=normalize_doi(entry.findtext(f"{_AX}doi")),
        # arXiv's own links, as the RSS feed gives them: the abstract page of the paper (the API links a
        # version, over http in its legacy format) and the PDF of this version.
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v{version}" if version else f"https://arxiv.org/pdf/{arxiv_id}",
        published=published,
        # The API's <updated> of a paper never revised is its <published>: no update happened (the
        # announcements and the snapshot give none either).
        updated=updated if updated != published else None,
        journal_ref=collapse_ws(entry.findtext(f"{_AX}journal_ref") or "") or None,
        # The author's free-text comment ("12 pages, accepted at ICML") has no PaperRecord field.
        signals={"comment": comment} if comment else {},
    )


def _categories(terms: list[str]) -> tuple[str, ...]:
    """The arXiv categories among ``<category>`` terms, first occurrence kept. The API lists a paper's
    MSC and ACM classes as terms too (``57M25; 57M27``, ``I.2.6``; API user manual): they are not
    arXiv categories, and a subscription to ``cat:`` must not see them."""
    found = (t.strip() for t in terms)
    return tuple(dict.fromkeys(t for t in found if ARXIV_CATEGORY_RE.match(t)))


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _iso(text: str | None) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)  # 3.11 reads "Z" and "-04:00"
    except ValueError:
        return None
    return as_utc(value)  # None for year 9999 with a negative offset, year 1 with a positive one


# --- the client ------------------------------------------------------------------------------------

def query_url(*, search_query: str = "", id_list: list[str] | None = None, start: int = 0,
              max_results: int = 100, sort_by: str | None = None, sort_order: str | None = None,
              base_url: str = API_URL) -> str:
    """The API URL for one page (parameters as in the arXiv API user manual §3.1)."""
    params: list[tuple[str, str]] = [("search_query", search_query), ("id_list", ",".join(id_list or [])),
                                     ("start", str(start)), ("max_results", str(max_results))]
    if sort_by:
        params.append(("sortBy", sort_by))
    if sort_order:
        params.append(("sortOrder", sort_order))
    return f"{base_url}?{urlencode(params)}"


def _fetch_page(url: str, settings: FetchSettings) -> ParsedFeed:
    from digest.fetch import fetch  # the one network chokepoint
    from digest.sources import parse_document  # decodes by the response's charset, as for feeds

    result = fetch(url, settings=settings, accept="application/atom+xml", user_supplied=False)
    page = parse_document(KIND, result.body, source=url, content_type=result.content_type)
    if page.status == "error":
        raise ApiError("arXiv API", f"{page.message} ({url})")
    return page


class _TooManyResults(Exception):
    """A query's first page reports more results than the API serves for one query."""

    def __init__(self, total: int) -> None:
        super().__init__(f"{total} results")
        self.total = total


def _pages(*, settings: FetchSettings, search_query: str = "", id_list: list[str] | None = None,
           start: int = 0, page_size: int = 100, max_results: int | None = None, sort_by: str | None = None,
           sort_order: str | None = None, base_url: str = API_URL, empty_retries: int = EMPTY_RETRIES,
           on_page: PageHook | None = None, refuse_over: int | None = None,
           complete: bool = False) -> Iterator[ParsedFeed]:
    """The pages of a query, each fetched only when the previous one has been consumed.

    ``refuse_over``: raise _TooManyResults, before yielding anything, when the first page reports
    more results than that. ``complete``: a listing that cannot be read to its end raises ApiError
    (a backfill must not pass for done), where a search just ends; such a listing also asks an empty
    first page again (``totalResults`` 0 is part of the API's transient), as a feed's poll does.
    """
    page_size = max(1, min(page_size, MAX_PAGE))
    pos, yielded, total, retries = start, 0, None, 0
    seen: set[str] = set()
    while max_results is None or yielded < max_results:
        if total is not None and pos >= total:
            return
        want = page_size if max_results is None else min(page_size, max_results - yielded)
        url = query_url(search_query=search_query, id_list=id_list, start=pos, max_results=want,
                        sort_by=sort_by, sort_order=sort_order, base_url=base_url)
        page = _fetch_page(url, settings)
        if refuse_over is not None and total is None and (page.total_results or 0) > refuse_over:
            raise _TooManyResults(page.total_results or 0)
        # An empty page may report totalResults 0 too (the transient); keep the largest total seen.
        if page.total_results is not None:
            total = max(total or 0, page.total_results)
        if on_page is not None:
            on_page(page)
        if not page.records:
            unread = total is not None and pos < total
            first = complete and pos == start and not unread
            damaged = bool(page.warnings)  # entries that could not be read: not an empty answer
            if (unread or first or damaged) and retries < (empty_retries if unread or damaged else min(empty_retries, 1)):
                retries += 1
                log.info("arXiv API: empty page at %d of %s; asking again (%d)", pos, total, retries)
                if first:
                    total = None  # its "0 results" is not believed yet
                continue
            if damaged:
                raise ApiError("arXiv API", f"the answer could not be read ({page.warnings[0]}) ({url})")
            if unread:
                if complete:
                    raise ApiError("arXiv API", f"the page at {pos} of {total} results stayed empty after "
                                                f"{retries} retries ({url})")
                log.warning("arXiv API: page at %d of %d stayed empty after %d retries; stopping", pos, total, retries)
            return
        retries = 0
        fresh = {r.external_id for r in page.records} - seen
        if not fresh:  # a server that ignores "start" answers the same page for ever
            if complete:
                raise ApiError("arXiv API", f"the page at {pos} repeats the records already read ({url})")
            log.warning("arXiv API: the page at %d repeats the records already read; stopping", pos)
            return
        seen |= fresh
        if max_results is not None and yielded + len(page.records) > max_results:
            page = replace(page, records=page.records[:max_results - yielded])
        yield page
        yielded += len(page.records)
        # Advance by what came back, not by what was asked: short pages happen and must not skip.
        pos += len(page.records)


def _paged(**kw: Any) -> Iterator[PaperRecord]:
    """The records of :func:`_pages`, one by one."""
    for page in _pages(**kw):
        yield from page.records


def search(query: str, *, settings: FetchSettings, start: int = 0, page_size: int = 100,
           max_results: int | None = None, sort_by: str = "relevance", sort_order: str = "descending",
           base_url: str = API_URL, empty_retries: int = EMPTY_RETRIES) -> Iterator[PaperRecord]:
    """Every record matching an API ``search_query`` (``cat:cs.LG AND ti:transformer``), page by page."""
    return _paged(settings=settings, search_query=query, start=start, page_size=page_size,
                  max_results=max_results, sort_by=sort_by, sort_order=sort_order, base_url=base_url,
                  empty_retries=empty_retries)


def _stamp(value: date | datetime, *, end: bool) -> str:
    return _moment(value, end=end).strftime("%Y%m%d%H%M")


def category_query(categories: list[str]) -> str:
    """``cat:A OR cat:B``: the papers of any of ``categories``. An archive named alone ("cs",
    "astro-ph", "hep-th") means all of it, as rss.arxiv.org/rss/cs does: ``cat:cs OR cat:cs.*``, since
    the API's ``cat:`` matches a category exactly and papers of an archive with subjects are filed
    under those ("cs.LG"; older ones under the bare archive, and archives without subjects only so)."""
    terms: list[str] = []
    for c in (c.strip() for c in categories):
        if c:
            terms += [f"cat:{c}", f"cat:{c}.*"] if "." not in c else [f"cat:{c}"]
    if not terms:
        raise ParseError(KIND, "a query by category needs at least one category")
    return " OR ".join(dict.fromkeys(terms))


def backfill_query(categories: list[str], date_from: date | datetime, date_to: date | datetime) -> str:
    """``cat:A OR cat:B`` submitted in [from, to] (dates inclusive, UTC; API manual "submittedDate")."""
    where = category_query(categories)
    where = f"({where})" if " OR " in where else where
    return f"{where} AND submittedDate:[{_stamp(date_from, end=False)} TO {_stamp(date_to, end=True)}]"


def backfill(categories: list[str], date_from: date | datetime, date_to: date | datetime, *,
             settings: FetchSettings, page_size: int = BACKFILL_PAGE, base_url: str = API_URL,
             empty_retries: int = EMPTY_RETRIES, on_page: PageHook | None = None) -> Iterator[PaperRecord]:
    """Every paper submitted to ``categories`` from ``date_from`` to ``date_to`` (whole UTC days,
    both included; or the exact minutes of datetimes), oldest first, each in its newest version.

    The range is asked for a week at a time (:data:`BACKFILL_WINDOW`), and a range holding more than
    the :data:`RESULT_LIMIT` results the API serves for one query is asked for in halves, down to
    single minutes: the API would stop answering within the larger result set. Records come as pages
    arrive (each page is fetched when the previous one has been consumed). A page that stays empty
    inside its range's total raises ApiError: the range cannot be read whole now.
    """
    first, last = _moment(date_from, end=False), _moment(date_to, end=True)
    if first > last:
        raise ValueError(f"backfill range ends ({last:%Y-%m-%d %H:%M}) before it starts ({first:%Y-%m-%d %H:%M})")
    minute = timedelta(minutes=1)
    windows: deque[tuple[datetime, datetime]] = deque()
    start = first
    while start <= last:
        end = last if last - start < BACKFILL_WINDOW else start + BACKFILL_WINDOW - minute
        windows.append((start, end))
        if end == last:
            break
        start = end + minute
    while windows:
        start, end = windows.popleft()
        query = backfill_query(categories, start, end)
        try:
            yield from _paged(settings=settings, search_query=query, page_size=page_size, sort_by="submittedDate",
                              sort_order="ascending", base_url=base_url, empty_retries=empty_retries,
                              on_page=on_page, refuse_over=RESULT_LIMIT, complete=True)
        except _TooManyResults as exc:
            if end - start < minute:
                raise ApiError("arXiv API", f"{exc.total} papers were submitted to {', '.join(categories)} at "
                                            f"{start:%Y-%m-%d %H:%M} UTC, more than one query reads") from None
            days = (end.date() - start.date()).days
            if days:  # halves of whole days while there are several; then of the day's minutes
                middle = datetime.combine(start.date() + timedelta(days=days // 2), time(23, 59),
                                          tzinfo=timezone.utc)
            else:
                middle = start + (end - start) // 2
                middle -= timedelta(seconds=middle.second, microseconds=middle.microsecond)
            log.info("arXiv API: %s..%s holds %d papers; asking for it in halves", start, end, exc.total)
            windows.extendleft([(middle + minute, end), (start, middle)])


def updated_since(categories: list[str], since: datetime, *, settings: FetchSettings,
                  page_size: int = BACKFILL_PAGE, base_url: str = API_URL, empty_retries: int = EMPTY_RETRIES,
                  on_page: PageHook | None = None, warnings: list[str] | None = None) -> Iterator[PaperRecord]:
    """Papers of ``categories`` updated at or after ``since`` (a new version, or a first one), newest
    first: the listing by last update (API user manual, ``sortBy=lastUpdatedDate``), read until a
    page reaches back past ``since``. This is how a backfill finds the replacements arXiv announced
    during a gap, which a listing by submission date files under their first version's date.

    Each page is judged whole (its entries newer than ``since`` are kept even behind an older one:
    the API has been seen out of its order). At most :data:`RESULT_LIMIT` papers can be read this
    way; when more were updated since ``since``, a line saying so is added to ``warnings``.
    """
    since = as_utc(since) or since
    read = 0
    for page in _pages(settings=settings, search_query=category_query(categories), page_size=page_size,
                       sort_by="lastUpdatedDate", sort_order="descending", base_url=base_url,
                       empty_retries=empty_retries, on_page=on_page, max_results=RESULT_LIMIT, complete=True):
        older = False
        for rec in page.records:
            moment = rec.updated or rec.published
            if moment is not None and moment < since:
                older = True
            else:
                read += 1
                yield rec
        if older:
            return
    if read >= RESULT_LIMIT:
        note = (f"more than {RESULT_LIMIT} papers of {', '.join(categories)} were updated since "
                f"{since:%Y-%m-%d %H:%M} UTC, the most one arXiv API query reads: new versions announced "
                "before the newest of them were not read")
        log.warning("arXiv API: %s", note)
        if warnings is not None:
            warnings.append(note)


def _moment(value: date | datetime, *, end: bool) -> datetime:
    """A range bound as an aware UTC minute: a date is its first (``end=False``) or last minute."""
    if isinstance(value, datetime):
        moment = as_utc(value) or value
        return moment.replace(second=0, microsecond=0)
    return datetime.combine(value, time(23, 59) if end else time(0, 0), tzinfo=timezone.utc)


def lookup(ids: list[str], *, settings: FetchSettings, base_url: str = API_URL,
           chunk: int = 100) -> list[PaperRecord]:
    """Records for arXiv ids (with or without version), in the order asked; unknown ids are absent.

    Ids are checked here first: the API answers a malformed one with HTTP 400, whose explanation
    the fetcher does not pass on.
    """
    wanted: list[str] = []
    for raw in ids:
        parsed = parse_arxiv_id(raw)
        if parsed is None:
            raise ParseError(KIND, f"{raw!r} is not an arXiv id")
        wanted.append(f"{parsed[0]}v{parsed[1]}" if parsed[1] else parsed[0])
    found: dict[str, PaperRecord] = {}
    for i in range(0, len(wanted), chunk):
        part = wanted[i:i + chunk]
        for rec in _paged(settings=settings, id_list=part, page_size=len(part), max_results=len(part),
                          base_url=base_url):
            found.setdefault(rec.external_id, rec)
    order = [parse_arxiv_id(w) for w in wanted]
    return [found[p[0]] for p in dict.fromkeys(order) if p is not None and p[0] in found]
