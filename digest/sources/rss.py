"""Any RSS 0.9x/1.0/2.0, Atom or JSON Feed 1.0/1.1 (kind "rss"): journals, blogs, lab pages.

Each entry becomes a paper. When its link, id, identifiers or text name an arXiv id or a DOI in any
common form (issue #2: "abs, pdf, with or without version, www, no scheme"), the record carries that
id so the store merges it with the paper from arXiv or the publisher; otherwise the entry's link is
its identity (``url:`` canonical id). Entries of one document that share a link but have ids (RSS
guids, Atom ids) of their own are different papers (a lab's publications feed links every item to
its publications page): each is known by its id when that is a web address, else by the link with
a fragment naming the id (``.../publications#pub-101``). Entries that share both are one paper.

Before parsing, two generator faults are repaired with a warning (digest.sources.repair): PHP
messages printed before the document, and character references to UTF-16 surrogate halves; blank
lines before the XML declaration are dropped silently.

What publishers write into the description instead of elements (ScienceDirect's "Source:" line,
PubMed's citation and footer, Copernicus's and Pensoft's lines...) is read by
digest.sources.layouts; author fields in all their forms by digest.sources.feed_authors. A relative
link resolves against the feed's own address, else the address it was fetched from (``url``).

RSS/Atom go through feedparser, which only ever receives bytes in a stream (given a bytes *value*
it would try it as a file name first), after the DOCTYPE has been checked for entity declarations
(billion laughs, XXE; see digest.sources.xmlsafe). A feed that is partly broken (feedparser's
"bozo") keeps its good entries and reports the problem as a warning; a document that is not a feed
at all raises ParseError. JSON Feed (https://www.jsonfeed.org/version/1.1/) is read with json.

Public names: :func:`parse`, :func:`entry_ids`.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import re
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import feedparser

from digest.dates import as_utc
from digest.errors import ParseError
from digest.ids import arxiv_ids_in, find_arxiv_id, find_doi, is_preprint_doi, preprint_doi, without_tracking
from digest.models import ParsedFeed, PaperRecord
from digest.sanitize import safe_url, to_text
from digest.sources import arxiv_rss, biorxiv, fields, layouts, openreview, repair, xmlsafe
from digest.sources.feed_authors import authors_of
from digest.sources.sniff import decode_head, reject_non_feed, root_element
from digest.text import clean_title, collapse_ws

__all__ = ["parse", "entry_ids", "KIND", "MAX_TITLE", "MAX_ABSTRACT"]

KIND = "rss"
#: Untrusted feeds can send anything; a title or abstract beyond these is cut (with a warning).
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
# A DOI in prose only counts when it says it is one: "doi:10..." or a doi.org link.
_DOI_IN_TEXT = re.compile(r"(?:doi\.org/|\bdoi:\s*)(10\.\d{4,9}/\S+)", re.IGNORECASE)
#: arXiv's RSS before 2024 (RSS 1.0 at arxiv.org/rss/<category>, still in many captures) put the id,
#: version and primary category in every title: "Title. (arXiv:2303.00001v1 [cs.LG])", with
#: " UPDATED" for a replacement and " CROSS LISTED" for a cross-list.
_LEGACY_ARXIV_TITLE = re.compile(
    r"^(?P<title>.*?)\.?\s*\(arXiv:(?P<id>[^\s()\[\]]+)\s+\[(?P<category>[^\s\[\]]+)\]"
    r"(?:\s+(?P<note>UPDATED|CROSS LISTED))?\)\s*$", re.DOTALL)
_LEGACY_ANNOUNCE = {None: "new", "UPDATED": "replace", "CROSS LISTED": "cross"}
#: Where a DOI found in HTML text ends: a tag ("doi:10.1/x</a>"), a quote or an escaped character.
#: "<" followed by a digit stays: SICI DOIs hold "<515::AID-JBM12>".
_DOI_TEXT_END = re.compile(r"</|<[A-Za-z!]|[\"']|&(?:lt|gt|quot|amp|apos|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
#: What publishers' links put after a DOI in the path: a file extension or the name of a view.
_LINK_DOI_TAIL = re.compile(r"(?:\.pdf|/(?:full|abstract|pdf|epdf|html|fulltext|full-text|meta|summary|references|"
                            r"figures|citedby|suppinfo|supplementary))$")
_SESSION_ID = re.compile(r";jsessionid=[^?#/]*", re.IGNORECASE)
#: Registrants whose page links add the version as a path segment after the DOI: ChemRxiv and the
#: other Cambridge Open Engage servers (10.33774).
_VERSIONED_IN_LINKS = ("10.26434/", "10.33774/")
_VERSION_SEGMENT = re.compile(r"/v\d+$")
#: A last line that only names a site ("www.sciencedirect.com": an alert's link to the source).
_HOST_LINE = re.compile(r"\n[ \t]*(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+[ \t]*\Z")
#: The mark a blog engine ends a cut excerpt with: "[...]", "[…]" (WordPress's "[&hellip;]").
_EXCERPT_MARKER = re.compile(r"\s*\[(?:\.\.\.|…)\]\Z")
#: ScienceDirect's feeds have no author element; the description holds a line "Author(s): A, B, C".
_AUTHORS_LINE = re.compile(r"^Author\(s\):[ \t]*(\S.*)$", re.MULTILINE)
#: APS opens a description with that "Author(s): ..." line and closes it with the citation
#: "[Phys. Rev. Lett. 132, 060601] Published Thu Feb 08, 2024": neither is abstract text.
#: ScienceDirect's description: metadata lines ("Publication date:", "Source:", "Author(s):") before
#: the abstract, when there is one.
_METADATA_LINE = re.compile(r"(?:Publication date|Source|Author\(s\)):")
_BOILERPLATE_TAIL = re.compile(r"\s*(?:The post .{1,400}? appeared first on .{1,200}?\.?|This article is protected by "
                               r"copyright\. All rights reserved\.|[^\n]{1,400}? was originally published in [^\n]{1,200}? "
                               r"on Medium, where people are continuing the conversation by highlighting and responding "
                               r"to this story\.)\s*\Z", re.DOTALL)
#: An institutional repository's citation of the entry: names, "(year)", then the title.
_REPOSITORY_CITATION = re.compile(r"\A[^()\n]{2,300}\((?:19|20)\d\d\)\s")
#: ACS's description: only the journal's name and the article's DOI (after a graphic).
_JOURNAL_AND_DOI = re.compile(r"(?:[^\n.]{1,150}\n)?DOI:\s*10\.\S+\s*")
_PUBLISHED_TRAILER = re.compile(r"(?:\A|\n)\[[^\]\n]{3,100}\][ \t]*Published[ \t][^\n]{1,60}\Z")
#: MDPI titles every item "<Journal>, Vol. 29, Pages 789: <title>".
_VOLUME_PREFIX = re.compile(r"\A[^:]{1,100}?, Vol\. \d+, Pages? [\w.–-]+: (?=\S)")
#: PNAS and others end a title with its section: "... in human neurodevelopment [Neuroscience]".
#: A section or status tag before a title ("[ASAP] ", "[Articles] ", "[Comment] "); a retraction's
#: or correction's tag says what the item is and stays.
_SECTION_PREFIX = re.compile(r"\A\[(?![^\]]*(?:[Rr]etract|[Ww]ithdraw|[Cc]orrect|[Ee]rrat))[A-Z][A-Za-z ,&'-]{1,40}\]\s+(?=\S)")
_SECTION_SUFFIX = re.compile(r"\s+\[[A-Z][A-Za-z ,&'-]{1,60}\]\Z")
#: A short description that only cites the issue, beside a content:encoded that holds the abstract
#: (Wiley and other Atypon journals: "Angewandte Chemie International Edition, Volume 63, Issue 12,
#: March 18, 2024."; Science: "Science, Volume 383, Issue 6683, Page 590-595, February 2024.").
_SHORT_SUMMARY = 200
_CITATION_VOLUME = re.compile(r"\b(?:Volume|Vol\.)\s+\d")
#: Wiley's and Taylor & Francis's description of an article not yet in an issue.
_JOURNAL_STATUS = re.compile(r"[^.\n]{2,120}, (?:EarlyView|Early View|Ahead of Print|Online First|Just Accepted)\.?")
_CITATION_DETAIL = re.compile(r"\b(?:Issue|Pages?|pp\.)\s+\d|\b(?:19|20)\d\d\b")
#: Where the abstract proper starts in a content:encoded that leads with a graphical-abstract blurb.
_ABSTRACT_HEADING = re.compile(r"(?:\A|\n)Abstract\n(?=\S)")
#: The heading an abstract may start with, its line break lost in plain text: "ABSTRACT Forecasting
#: ..." (Wiley), "Abstract: We ...", "Abstract The family ..." (a sentence's usual first word after
#: it); not "Abstract algebra ..." or "Abstract Syntax Trees ...".
_ABSTRACT_LABEL = re.compile(r"\A(?:ABSTRACT\b[:.]?|Abstract(?:[:.]|\s*\n|(?= (?:The|This|These|We|In|Here|Our|An?|To|"
                             r"Background|Objectives?|Purpose|Aims?|Introduction|Context)\b)))\s*(?=\S)")
#: A paper's forum or PDF on openreview.net, and its forum id.
_OPENREVIEW_LINK = re.compile(r"https?://openreview\.net/(?:forum|pdf)\?(?:[^#]*&)?id=([\w-]{1,64})(?:[&#]|\Z)",
                              re.IGNORECASE)
_RAW_ABSTRACT_LABEL = re.compile(r"\A\s*(?:ABSTRACT|Abstract)[:.]?[ \t]*\r?\n(?=\s*[^\s<])")
#: A link in a description offered as the PDF: "<a href="...">PDF</a>".
_PDF_ANCHOR = re.compile(r"<a\b[^>]*?\bhref\s*=\s*[\"']([^\"'<>]+)[\"'][^>]*>\s*(?:PDF|Download PDF|Full[ -]text PDF)\s*</a\s*>",
                         re.IGNORECASE)
#: A link to a PDF rather than a page: a file name, OpenReview's /pdf?id=, a publisher's ".../pdf"
#: or Pensoft's ".../download/pdf/".
_PDF_LINK = re.compile(r"\.pdf(?:[?#]|\Z)|openreview\.net/pdf\?|/(?:download/)?pdf/?(?:[?#]|\Z)", re.IGNORECASE)
#: nature.com feeds open every item's text with "<p>Nature, Published online: 07 February 2024;
#: <a ...>doi:10.1038/...</a></p>": a citation, not the abstract (it would be each paper's summary).
_CITATION_LINE = re.compile(r"^\s*<p>[^<>]{1,200}?,\s*Published online:\s*[^<>;]{1,40};\s*(?:<a\b[^>]*>\s*)?"
                            r"doi:\s*10\.[^<>\s]+\s*(?:</a>\s*)?</p>", re.IGNORECASE)


def parse(data: bytes, *, source: str | None = None, url: str | None = None) -> ParsedFeed:
    """Records for every usable entry of an RSS, Atom or JSON Feed document; ``url``, where it was
    retrieved from, is the base of relative links when the feed names no absolute one."""
    data, php_note = repair.drop_php_messages(data)
    data = repair.drop_space_before_declaration(data)
    head = reject_non_feed(data, kind=KIND, source=source).lstrip()
    if head.startswith(("{", "[")):
        return _parse_json_feed(data, source, url)
    if not head.startswith("<"):
        raise ParseError(KIND, "this is plain text, not a feed (neither XML nor JSON)", source=source)
    xmlsafe.check_no_entities(data, kind=KIND, source=source)
    if data[:1] == b"\x00" or data[1:2] == b"\x00":  # UTF-16/32 without a BOM: scan the decoded text
        xmlsafe.check_no_entities(decode_head(data, limit=len(data)).encode("utf-8", "replace"),
                                  kind=KIND, source=source)
    data, surrogates_note = repair.combine_surrogate_references(data)
    parsed = _parse_xml_feed(data, source, url)
    notes = tuple(n for n in (php_note, surrogates_note) if n)
    return replace(parsed, warnings=notes + parsed.warnings) if notes else parsed


# --- RSS / Atom via feedparser ---------------------------------------------------------------


def _parse_xml_feed(data: bytes, source: str | None, url: str | None = None) -> ParsedFeed:
    try:
        # A stream, never bytes or str: feedparser tries strings as URLs and file names.
        d = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - feedparser's loose parser can fail in many ways on junk
        raise ParseError(KIND, f"unreadable feed: {type(exc).__name__}: {exc}", source=source) from None
    warnings: list[str] = []
    problem = _bozo_reason(d)
    if not d.get("version") and not d.entries:
        raise ParseError(KIND, f"not an RSS, RDF or Atom feed ({problem})" if problem
                         else "not an RSS, RDF or Atom feed", source=source)
    if problem:
        warnings.append(f"feed is not well-formed ({problem}); kept the entries that could be read")
    entries = list(d.entries)
    if problem and entries and _truncated(data):
        # A cut-off download: the last entry read is the one the cut went through, so its text is
        # incomplete; it comes back whole on the next fetch.
        entries.pop()
        warnings.append("document is truncated; dropped the last, incomplete entry")
    extra = _all_dc_identifiers(data, len(d.entries), source)
    feed = d.get("feed", {})
    base = _base_url([lk.get("href") for lk in feed.get("links", []) if isinstance(lk, dict) and lk.get("rel") == "self"],
                     feed.get("link"), url)
    # A journal's feed names the journal: in PRISM, or in a title that says it lists the journal's
    # articles ("IEEE Transactions on Pattern Analysis and Machine Intelligence - new TOC",
    # "Zoological Journal of the Linnean Society Current Issue").
    venue = (to_text(feed.get("prism_publicationname"))[:_MAX_VENUE]
             or (m["venue"][:_MAX_VENUE] if (m := _TOC_TITLE.match(to_text(feed.get("title")))) else None) or None)
    feed_date = _entry_date(feed, "updated") or _entry_date(feed, "published")  # the same forms as an entry's
    records = _collect((_entry_record(e, base, extra[i] if extra else (), venue, feed_date)
                        for i, e in enumerate(entries)), warnings)
    title = to_text(feed.get("title")) or None
    return ParsedFeed(kind=KIND, records=tuple(records), status="ok" if records else "empty", title=title,
                      warnings=tuple(warnings), feed_date=feed_date)


#: The titles of journals' table-of-contents feeds: IEEE Xplore's "<journal> - new TOC" (and "- early
#: access TOC"), OUP's "<journal> Current Issue" / "Advance Articles", the Microbiology Society's
#: "<journal>: Most Recent Articles", Atypon's "tandf: <journal>: Table of Contents" and
#: "Wiley-Online-Library: <journal>: Table of Contents" (the platform's name before it is dropped).
_TOC_TITLE = re.compile(r"\s*(?:[\w-]{2,30}:\s+)?(?P<venue>\S.{0,300}?):?(?:\s+-\s+(?:new|early access|popular)\s+TOC"
                        r"|\s+(?:Current Issue|Advance Articles)|:\s+(?:Most Recent|Latest) Articles|:\s+Table of Contents)"
                        r"\s*\Z", re.IGNORECASE)

_DC_NS = "http://purl.org/dc/elements/1.1/"
_ENTRY_TAGS = ("item", "{http://purl.org/rss/1.0/}item", "{http://www.w3.org/2005/Atom}entry")


def _all_dc_identifiers(data: bytes, entries: int, source: str | None) -> list[tuple[str, ...]]:
    """Every ``<dc:identifier>`` of each entry, in document order, when entries repeat it.

    feedparser keeps only an element's last occurrence, and HighWire (BMJ, older PNAS and Sage
    sites) gives two: "info:doi/10.1136/..." first, then its own "hwp:master-id:...", so the DOI
    that merges the article with other sources was lost. Read with the safe XML parser only when the
    namespace's identifier appears more often than there are entries; [] when the entries found do
    not line up one to one with feedparser's (a damaged document), so nothing is attached to the
    wrong entry.
    """
    if not entries or _DC_NS.encode() not in data or data.count(b"identifier>") <= 2 * entries:
        return []  # at most one opening and one closing tag per entry: feedparser has them all
    try:
        root = xmlsafe.parse_document(data, kind=KIND, source=source, recover=False).root
    except ParseError:
        return []
    items = [el for el in root.iter(*_ENTRY_TAGS)]
    if len(items) != entries:
        return []
    tag = f"{{{_DC_NS}}}identifier"
    return [tuple(text.strip() for el in item.iter(tag) if (text := el.text) and text.strip()) for item in items]


def _base_url(self_links: list[Any], site: Any, retrieved: str | None = None) -> str | None:
    """What an entry's relative links are relative to (RFC 3986 §5.1): the URI the feed was retrieved
    from, which its rel="self" link states, when it is on the site's host; else the site the feed
    names (a feed served by a proxy such as FeedBurner links posts relative to the site); else
    ``retrieved``, the address it came from, against which relative self and site links resolve too
    (a Hugo site built without its base URL links everything "/publication/...")."""
    if retrieved:
        self_links = [_resolve(retrieved, value) for value in self_links]
        site = _resolve(retrieved, site) if site else site
    site_url = _absolute(site)
    for value in self_links:
        url = _absolute(value)
        if url and (site_url is None or _host(url) == _host(site_url)):
            return url
    return site_url or (_absolute(retrieved) if retrieved else None)


def _absolute(value: Any) -> str | None:
    url = safe_url(fields.text(value))
    return url if url and _host(url) else None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _resolve(base: str | None, value: Any) -> str | None:
    """``value`` as an absolute URL against ``base`` when it is a relative reference (RFC 3986 §5.2;
    "//host/path" takes the base's scheme); a link that is no URL at all stays as it is (for
    safe_url to refuse)."""
    text = fields.text(value)
    if not (text and base):
        return text
    try:
        return urljoin(base, text) if not urlsplit(text).scheme else text
    except ValueError:  # "http://[::1": not a URL
        return text


def _truncated(data: bytes) -> bool:
    """True when the document does not end with its root element's end tag."""
    text = decode_head(data, limit=len(data))
    root = root_element(text.lstrip())
    return bool(root) and not text.rstrip().endswith(f"</{root}>") and f"</{root}>" not in text[-2000:].lower()


def _bozo_reason(d: Any) -> str | None:
    if not d.get("bozo"):
        return None
    exc = d.get("bozo_exception")
    # A declared encoding that the bytes contradict is fixed by feedparser; still worth a line.
    return collapse_ws(f"{type(exc).__name__}: {exc}")[:200] if exc is not None else "ill-formed"


def _collect(results: Any, warnings: list[str]) -> list[PaperRecord]:
    records: list[PaperRecord] = []
    seen: set[str] = set()
    for i, result in enumerate(results):
        if isinstance(result, str):
            warnings.append(f"entry {i + 1} skipped: {result}")
            continue
        record, notes = result
        warnings.extend(f"entry {i + 1}: {n}" for n in notes)
        if record.external_id in seen:
            continue
        seen.add(record.external_id)
        records.append(record)
    return _apart_on_a_shared_link(records)


def _apart_on_a_shared_link(records: list[PaperRecord]) -> list[PaperRecord]:
    """Entries with ids of their own that share one link (a lab's publications feed linking every
    item to its publications page) are different papers: each gets an address of its own, its id
    when that is a web address, else the link with a fragment naming the id. (Entries without an
    arXiv id or DOI only: those name the paper whatever the link.)"""
    by_link: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        if record.url and record.arxiv_id is None and record.doi is None:
            by_link.setdefault(record.url, []).append(i)  # one feed writes one link the same way
    for shared in by_link.values():
        if len(shared) < 2:
            continue
        for i in shared:
            record = records[i]
            entry_id = record.external_id
            if record.url is None or entry_id == record.url:
                continue  # an entry without an id of its own keeps the link
            own = safe_url(entry_id) if entry_id.startswith(("http://", "https://")) else None
            records[i] = replace(record, url=own or urlsplit(record.url)._replace(fragment=quote(entry_id, safe="")).geturl())
    return records


def _struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


#: "2024/02/08 10:30": feedparser's ISO 8601 reader takes it for an ordinal date (2024-11-01).
_SLASH_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
#: RFC 822 dates ending in a zone name feedparser does not know (it only knows the US ones and
#: reads the rest as UTC). Unambiguous names only: "IST" is India, Ireland or Israel.
#: An ISO 8601 date-time whose offset is written in the basic format (hhmm, no colon).
_ISO_BASIC_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?[+-]\d{4}")
_NAMED_ZONE = re.compile(r"(.*\d:\d{2}(?::\d{2})?)\s*([A-Z]{3,4})")
_ZONE_MINUTES = {"CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "WET": 0, "WEST": 60, "BST": 60, "EET": 120,
                 "EEST": 180, "MSK": 180, "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480,
                 "ACST": 570, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "HST": -600, "AKST": -540,
                 "AKDT": -480}


def _entry_date(entry: Any, key: str) -> datetime | None:
    """An entry's date (``published``, ``updated``, ``created``) in UTC, or None.

    dict.get throughout: FeedParserDict.get("updated_parsed") falls back to the published date
    (feedparser issue 310), which would invent an update. Two forms feedparser gets wrong are read
    from the raw text first.
    """
    raw = dict.get(entry, key)
    if isinstance(raw, str):
        text = raw.strip()
        if m := _SLASH_DATE.fullmatch(text):
            try:
                year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
                return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
            except ValueError:
                return None
        if _ISO_BASIC_OFFSET.fullmatch(text):
            # "2024-02-08T10:00:00+0530" (OJS's Atom template): feedparser drops the offset's minutes.
            try:
                return as_utc(datetime.fromisoformat(text))
            except ValueError:
                pass
        if (m := _NAMED_ZONE.fullmatch(text)) and m.group(2) in _ZONE_MINUTES:
            offset = _ZONE_MINUTES[m.group(2)]
            try:
                sign = "-" if offset < 0 else "+"
                return email.utils.parsedate_to_datetime(
                    f"{m.group(1)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}").astimezone(timezone.utc)
            except (TypeError, ValueError, IndexError):
                pass
    return _struct_time(dict.get(entry, f"{key}_parsed"))


def _entry_record(entry: Any, base: str | None = None, dc_identifiers: tuple[str, ...] = (),
                  feed_venue: str | None = None, built: datetime | None = None) -> tuple[PaperRecord, list[str]] | str:
    """One feedparser entry as a record, or the reason it was skipped; ``dc_identifiers`` are all
    its dc:identifier values when it has several (see :func:`_all_dc_identifiers`), ``feed_venue``
    the journal the feed names (prism:publicationName of its channel), ``built`` when the feed says
    it was built."""
    links = [str(lk["href"]) for lk in entry.get("links", []) if isinstance(lk, dict) and lk.get("href")]
    identifiers = [*dc_identifiers, *(entry.get(k) for k in ("dc_identifier", "prism_doi", "prism_url") if entry.get(k))]
    texts = [entry.get("title"), entry.get("summary"),
             *(c.get("value") for c in entry.get("content", []) if isinstance(c, dict))]
    listed = entry.get("authors", [])
    if isinstance(listed, str):
        # IEEE Xplore's feeds: one <authors> element, "Kun-Yu Lin;Henghui Ding;", which feedparser
        # keeps as text under its own name (it knows no such element).
        authors = authors_of([listed])
    else:
        authors = authors_of([a.get("name", "") for a in listed if isinstance(a, dict)] or [entry.get("author", "")])
    pdf = next((lk.get("href") for lk in entry.get("links", []) + entry.get("enclosures", [])
                if isinstance(lk, dict) and "pdf" in str(lk.get("type", "")).lower()), None)
    # The HTML form of the content when there are several (Wiley sends text/plain and text/html):
    # plain text would be read as markup, its line breaks lost.
    contents = sorted((c for c in entry.get("content", []) if isinstance(c, dict) and c.get("value")),
                      key=lambda c: "html" not in str(c.get("type", "")))
    content = contents[0].get("value") if contents else ""
    summary = entry.get("summary")
    if pdf is None and isinstance(summary, str) and (anchor := _PDF_ANCHOR.search(summary)) is not None:
        pdf = html.unescape(anchor[1])  # Pensoft: "<p><a href=".../download/pdf/">PDF</a></p>" after the abstract
    if isinstance(summary, str) and summary.strip().lower() in _NO_VALUE:
        summary = ""  # IEEE Xplore's <description>null</description>: an article without an abstract
    if isinstance(summary, str) and summary and isinstance(content, str) and content and (
            _cut_short(summary, content) or ("PMID:" in content[-400:] and len(content) > len(summary))):
        # PubMed: the description is the abstract's first ~500 characters and "...", or the last
        # section of a structured one ("CONCLUSION: ..."); the content has all of it.
        summary = content
    body = summary = summary or content
    text = ""
    cited: tuple[str, str | None] | None = None
    if isinstance(summary, str):
        # ScienceDirect names the authors in a line of the description only.
        text = to_text(_CITATION_LINE.sub("", summary, count=1))
        authors = authors or authors_of(_AUTHORS_LINE.findall(text)[:1])
        if summary is not content and _citation(summary):
            # A citation is no abstract: the content's, unless that is the citation again (Atypon), or none.
            body = content if isinstance(content, str) and content and not _citation(content) else ""
            cited = layouts.issue_citation(text)
    if isinstance(body, str):
        body = _CITATION_LINE.sub("", body, count=1)
        # "Abstract" on a line of its own before plain text (Wiley's dc:description), read before the
        # text is made one paragraph.
        body = _RAW_ABSTRACT_LABEL.sub("", body, count=1)
    # FeedBurner's <link> is its redirect; <feedburner:origLink> the article's own address.
    link = entry.get("feedburner_origlink") or entry.get("link")
    published, updated = _entry_date(entry, "published") or _entry_date(entry, "created"), _entry_date(entry, "updated")
    named = to_text(entry.get("prism_publicationname"))[:_MAX_VENUE]
    if named and named.casefold() == to_text(entry.get("title")).casefold():
        named = ""  # Atypon (AJPH, 2015) wrote each article's title as its item's publication name
    # dc:source names the journal in PubMed's and Atypon's items (a link elsewhere: not a name).
    source = to_text(entry.get("dc_source"))
    venue = named or feed_venue or (source[:_MAX_VENUE] if source and "/" not in source else None)
    journal_ref = _journal_ref(entry, venue, published or updated) if venue else None
    if cited and not journal_ref:  # Wiley's "Transactions in GIS, Volume 30, Issue 7, November 2026."
        venue, journal_ref = venue or cited[0], cited[1]
    if "Source:" in text:
        # ScienceDirect: "Publication date: 15 December 2026 / Source: Remote Sensing of Environment,
        # Volume 347 / Author(s): ..." is all the item says of where and when it appeared.
        issue_day = layouts.publication_day(text)
        if not published and issue_day and (built is None or issue_day <= built):
            # An issue's date after the feed was built ("Publication date: February 2022" in December
            # 2021) is no publication yet: the paper is dated when it is first seen.
            published = issue_day
        if (found := layouts.sciencedirect_source(text, published or updated or issue_day)) is not None:
            venue, journal_ref = found
    return _record(
        entry_id=entry.get("id"), link=link, links=links, identifiers=identifiers, texts=texts,
        raw_title=entry.get("title"), body=body, authors=authors,
        # prism:section is the article's type where a feed has no category (Ingenta: "Book Review").
        categories=[*(t.get("term") or t.get("label") for t in entry.get("tags", []) if isinstance(t, dict)),
                    entry.get("prism_section")],
        published=published, updated=updated, pdf=pdf,
        license=layouts.licence(to_text(entry.get("rights")), _absolute(entry.get("license"))), base=base,
        venue=venue, journal_ref=journal_ref,
    )


def _cut_short(summary: str, content: str) -> bool:
    """Whether the description is the start of the content, cut with "..." (PubMed)."""
    if not summary.rstrip().endswith(("...", "…")) or len(content) <= len(summary):
        return False
    head = " ".join(to_text(summary).split()[:12])
    return bool(head) and head in " ".join(to_text(content).split())


#: What some generators write where a field has no value: IEEE Xplore's abstract-less articles.
_NO_VALUE = frozenset({"null", "undefined", "none"})
#: What editors type where an item has no abstract (OJS journals: "N/A" for a note or corrigendum).
_PLACEHOLDERS = _NO_VALUE | {"n/a", "na", "n.a.", "-", "–", "—", "tba", "tbd"}
_MAX_VENUE = layouts.MAX_VENUE


_YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d\b")


def _journal_ref(entry: Any, venue: str, published: datetime | None) -> str | None:
    """A citation in arXiv's journal-ref style ("Fluids 9(6), 120 (2024)") from an entry's PRISM
    fields (https://www.idealliance.org/prism-metadata: volume, number, starting/ending page; IEEE's
    plain elements of the same meaning), or
    None without a volume: a name alone is the venue, not a reference."""
    # IEEE Xplore writes the same four as plain <volume>, <issue>, <startPage> and <endPage>.
    volume = to_text(entry.get("prism_volume") or entry.get("volume"))
    if not volume:
        return None
    number = to_text(entry.get("prism_number") or entry.get("issue"))
    first = to_text(entry.get("prism_startingpage") or entry.get("startpage"))
    last = to_text(entry.get("prism_endingpage") or entry.get("endpage"))
    pages = f"{first}–{last}" if first and last and last != first else first
    # The issue's year (prism:coverDate), else the article's: Taylor & Francis publish online a
    # year before the issue.
    cover = _YEAR.search(to_text(entry.get("prism_coverdate")))
    year = int(cover[0]) if cover else published.year if published else None
    ref = f"{venue} {volume}{f'({number})' if number else ''}{f', {pages}' if pages else ''}{f' ({year})' if year else ''}"
    return ref[:_MAX_VENUE]


def _citation(markup: str) -> bool:
    """Whether a short description only cites the issue ("Journal, Volume 63, Issue 12, March 2024.")
    or names the journal and the article's status ("Advanced Materials, EarlyView.")."""
    if len(markup) >= 4 * _SHORT_SUMMARY:
        return False
    text = to_text(markup)
    if len(text) >= _SHORT_SUMMARY:
        return False
    return bool(_CITATION_VOLUME.search(text) and _CITATION_DETAIL.search(text)) or bool(_JOURNAL_STATUS.fullmatch(text))


def entry_ids(*, entry_id: str | None, link: str | None, links: list[str] | None = None,
              identifiers: list[str] | None = None, texts: list[str | None] | None = None
              ) -> tuple[tuple[str, int | None] | None, str | None]:
    """The arXiv id (with version) and DOI an entry names, looking at its identifiers and links
    first and its text last; (None, None) when it names neither.

    An entry whose identifiers or links give it a DOI of its own is that publication: an arXiv id in
    its text is a paper it discusses or cites (a journal's news story about a preprint), not itself.
    """
    strong = [*(identifiers or []), link, entry_id, *(links or [])]
    arxiv = next((a for s in strong if (a := find_arxiv_id(s))), None)
    doi = next((d for s in strong if s and (d := _doi_in(s))), None)
    if arxiv is None:
        if doi is None:
            arxiv = _only(a for t in texts or [] for a in arxiv_ids_in(t))
    elif arxiv[1] is None:
        # A link to the abstract page has no version; the text may name the same id with one.
        arxiv = next((a for t in texts or [] for a in arxiv_ids_in(t) if a[0] == arxiv[0] and a[1]), arxiv)
    if doi is None and arxiv is None:
        dois = (d for t in texts or [] for m in _DOI_IN_TEXT.finditer(t or "")
                if (d := _doi_in(_DOI_TEXT_END.split(m.group(1), 1)[0], link=True)))
        found = _only((d, None) for d in dois)
        doi = found[0] if found else None
    return arxiv, doi


def _only(found: Iterable[tuple[str, int | None]]) -> tuple[str, int | None] | None:
    """The one paper a text names (its latest version named), or None when it names several: a
    newsletter issue or reading list that links three papers is none of them in particular."""
    first: tuple[str, int | None] | None = None
    for ident in found:
        if first is None:
            first = ident
        elif ident[0] != first[0]:
            return None
        elif (ident[1] or 0) > (first[1] or 0):
            first = ident
    return first


def _doi_in(value: str, *, link: bool | None = None) -> str | None:
    """The DOI an identifier or a link names, without what a link adds around it.

    Links may percent-encode the DOI (Wiley, doi.org links to SICI DOIs), carry a session id, or go
    on after it (a version and view on bioRxiv, ".pdf", "/full"); an identifier (prism:doi,
    dc:identifier "doi:...") is the DOI as written.
    """
    if link is None:
        link = "://" in value or value.lower().startswith(("www.", "doi.org/", "dx.doi.org/"))
    if link:
        value = _SESSION_ID.sub("", unquote(value) if "%" in value else value)
    doi = find_doi(value)
    if doi is None:
        return None
    if link:
        doi = _LINK_DOI_TAIL.sub("", doi)
        if doi.startswith(_VERSIONED_IN_LINKS):
            doi = _VERSION_SEGMENT.sub("", doi)  # ChemRxiv: ".../doi/full/10.26434/chemrxiv-2025-f11mk/v2"
    return preprint_doi(doi)


def _record(*, entry_id: Any, link: Any, links: list[str], identifiers: list[Any], texts: list[Any],
            raw_title: Any, body: Any, authors: tuple[str, ...], categories: list[Any],
            published: datetime | None, updated: datetime | None, pdf: Any = None,
            license: str | None = None, base: str | None = None, venue: str | None = None,
            journal_ref: str | None = None) -> tuple[PaperRecord, list[str]] | str:
    notes: list[str] = []
    # Year 1 is a generator's zero date (Hugo's "Mon, 01 Jan 0001"), no date at all.
    published, updated = (d if d and d.year >= 1000 else None for d in (published, updated))
    plain_title = to_text(raw_title if isinstance(raw_title, str) else "")
    legacy = _legacy_arxiv(plain_title)
    announce_type = None
    if legacy:
        title = clean_title(legacy.group("title"))
        categories = [legacy.group("category"), *categories]
        announce_type = _LEGACY_ANNOUNCE[legacy.group("note")]
    else:
        title = clean_title(plain_title)
        if title.endswith("]"):
            title = _SECTION_SUFFIX.sub("", title) or title
        if ", Vol. " in title:
            title = _VOLUME_PREFIX.sub("", title)
        if title.startswith("["):  # ACS's "[ASAP] ", the Lancet's "[Articles] ": a section before the title
            title = _SECTION_PREFIX.sub("", title) or title
    if " -- by " in title and not authors:  # NBER: "Fiscal Policy and Inflation -- by Jane Doe, John Roe"
        title, _, byline = title.rpartition(" -- by ")
        authors = authors_of([byline])
    if not title:
        return "no title"
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE]
        notes.append(f"title cut to {MAX_TITLE} characters")
    entry_id = fields.text(entry_id)
    # Tracking parameters go before the link is checked: PubMed's name the reader with spaces
    # ("utm_source=Mobile Safari UI/WKWebView") and stamp each fetch ("ff=20211214094348").
    raw_link = fields.text(link)
    link = safe_url(without_tracking(_resolve(base, link) or ""))
    links = [_resolve(base, x) or "" for x in links]
    pdf = _resolve(base, pdf)
    if link and not pdf and _PDF_LINK.search(link):
        pdf = link  # a conference list linking each paper's PDF ("...-Paper.pdf", OpenReview's /pdf?id=)
    # A paper on OpenReview, linked by its forum or PDF: its forum id names it, so it merges with
    # what the OpenReview source stores; the forum is its page.
    on_openreview = _OPENREVIEW_LINK.match(link) if link else None
    if on_openreview is not None:
        link = openreview.forum_url(on_openreview[1])
    arxiv, doi = entry_ids(entry_id=entry_id, link=link, links=[str(x) for x in links],
                           identifiers=[str(x) for x in identifiers if isinstance(x, str)],
                           texts=[str(t) if isinstance(t, str) else None for t in texts])
    url = link or safe_url(entry_id)
    if not (arxiv or doi or url):
        if raw_link and not base and raw_link.startswith(("/", "./", "../")):
            return f"its link {raw_link[:80]!r} is relative and the feed names no address it is relative to"
        return "no link, id, arXiv id or DOI"
    external_id = entry_id or url or (f"arxiv:{arxiv[0]}" if arxiv else f"doi:{doi}")
    abstract = to_text(body if isinstance(body, str) else "")
    if arxiv and abstract.startswith("arXiv:") and "Announce Type:" in abstract[:120]:
        # arXiv's announcements in another wrapper (rss.arxiv.org/atom, a mirror): the header is no abstract.
        abstract, announced = arxiv_rss.split_description(abstract)
        announce_type = announce_type or (announced if announced in arxiv_rss.ANNOUNCE_TYPES else None)
    if is_preprint_doi(doi):
        # A bioRxiv/medRxiv subject feed read as generic RSS: its abstracts carry the same JATS
        # debris ("O_LI", glued headings, "{alpha}") the bioRxiv source cleans, and get the same cleaning.
        abstract = biorxiv.clean_abstract(abstract)
    if "PMID:" in abstract and (pubmed := layouts.pubmed_abstract(abstract)) is not None:
        abstract, cited = pubmed  # PubMed: citation, "ABSTRACT", abstract, "PMID: ... | DOI: ..."
        journal_ref = journal_ref or cited
    if "Authors:" in abstract and (labelled := layouts.labelled_lines(abstract)) is not None:
        abstract, names, pensoft = labelled  # Pensoft: "ZooKeys 1076: 151-182 / DOI: / Authors: / Abstract:"
        authors = authors or authors_of([names])
        if pensoft and not journal_ref:
            venue, journal_ref = venue or pensoft[0], pensoft[1]
    if "Abstract\n" in abstract and (heading := _ABSTRACT_HEADING.search(abstract)) is not None:
        preamble, abstract = abstract[:heading.start()], abstract[heading.end():]
        if not authors:
            # Schweizerbart: the title, "Doan-Nhu, Hai; Nguyen-Ngoc, Lam", the citation, then "Abstract".
            names = next((line for line in preamble.split("\n") if layouts.is_name_list(line.strip())), "")
            authors = authors_of([names]) if names else authors
    if abstract[:8].lower() == "abstract":
        abstract = _ABSTRACT_LABEL.sub("", abstract, count=1)  # Wiley: "ABSTRACT\nForecasting the ..."
    if abstract.startswith(("Author(s):", "Publication date:")):
        abstract = _without_metadata_lines(abstract)
    if "DOI:" in abstract and len(abstract) < _SHORT_SUMMARY and _JOURNAL_AND_DOI.fullmatch(abstract):
        abstract = ""  # ACS: a table-of-contents graphic, the journal's name and the DOI
    if "Published" in abstract:
        abstract = _PUBLISHED_TRAILER.sub("", abstract)
    if "appeared first on" in abstract or "protected by copyright" in abstract or "on Medium, where" in abstract:
        # WordPress's "The post <title> appeared first on <site>." footer; Wiley's accepted articles'
        # "This article is protected by copyright. All rights reserved."; Medium's "<title> was
        # originally published in <publication> on Medium, where people are continuing the conversation ...".
        abstract = _BOILERPLATE_TAIL.sub("", abstract)
    if abstract and title in abstract and _REPOSITORY_CITATION.search(abstract[:300]):
        abstract = ""  # EPrints' description: the entry's own citation, "Doe, Jane (2024) Title. Journal..."
    if "\n" in abstract and (led := layouts.title_led(abstract, title)) is not None:
        # Copernicus journals (ESSD, ACP, ... ~40 of them): the title, the authors, the citation
        # and then a plain-language summary, one line each.
        abstract, names, copernicus = led
        authors = authors or authors_of([names])
        if copernicus and not journal_ref:
            venue, journal_ref = venue or copernicus[0], copernicus[1]
    if not authors and abstract and (leading := layouts.leading_names(abstract)) is not None:
        # CNKI: "Guocheng SHU;Ping LIU;...;Biodiversity is ..."; a feed built from Crossref: the
        # author list as the whole description.
        names, abstract = leading
        authors = authors_of([names])
    if abstract and (abstract.casefold() == title.casefold() or not any(c.isalnum() for c in abstract)
                     or abstract.lower() in _PLACEHOLDERS):
        # nature.com's items without a standfirst: the citation line, then the title again; Taylor &
        # Francis's ahead-of-print items: ". "; an OJS editor's "N/A"
        abstract = ""
    if "\n" in abstract and (host_line := _HOST_LINE.search(abstract)) is not None:
        abstract = abstract[:host_line.start()]  # an alert's last line naming the site: "www.sciencedirect.com"
    if abstract.endswith("]") and (marker := _EXCERPT_MARKER.search(abstract)) is not None:
        abstract = abstract[:marker.start()] + " …"  # WordPress's excerpt: "... the approach involves either [...]"
    if len(abstract) > MAX_ABSTRACT:
        abstract = abstract[:MAX_ABSTRACT].rsplit(" ", 1)[0] + " …"
        notes.append(f"abstract cut to {MAX_ABSTRACT} characters")
    cats = tuple(dict.fromkeys(c for c in (to_text(x) for x in categories if isinstance(x, str)) if c))
    return PaperRecord(
        source_kind=KIND,
        external_id=external_id[:500],
        title=title,
        title_original=plain_title[:MAX_TITLE] if plain_title != title else None,
        authors=authors,
        abstract=abstract,
        categories=cats,
        arxiv_id=arxiv[0] if arxiv else None,
        version=arxiv[1] if arxiv else None,
        doi=doi,
        openreview_id=on_openreview[1] if on_openreview else None,
        url=url,
        pdf_url=safe_url(fields.text(pdf)),
        published=published or updated,
        # One date only (RSS 1.0's dc:date, which feedparser files as "updated" too), or an "update"
        # no later than the publication (PubMed's dc:date, the day at midnight): no update happened.
        updated=updated if updated and published and updated > published else None,
        license=license,
        venue=venue,
        journal_ref=journal_ref,
        announce_type=announce_type,
    ), notes


def _without_metadata_lines(text: str) -> str:
    """``text`` without the metadata lines it starts with (ScienceDirect: "Publication date: ... /
    Source: Cell / Author(s): ..."; APS: "Author(s): ..."). A single line starting "Author(s):" is
    kept: in plain text without a line break the abstract runs on in it."""
    lines = text.split("\n")
    if len(lines) == 1 and not text.startswith("Publication date:"):
        return text
    n = 0
    while n < len(lines) and _METADATA_LINE.match(lines[n]):
        n += 1
    return "\n".join(lines[n:])


def _legacy_arxiv(title: str) -> re.Match[str] | None:
    """The match of an old arXiv RSS title ("Title. (arXiv:2303.00001v1 [cs.LG])"), else None."""
    if "(arXiv:" not in title:
        return None
    m = _LEGACY_ARXIV_TITLE.match(title)
    return m if m and m.group("title").strip() and find_arxiv_id(f"arXiv:{m.group('id')}") else None


# --- JSON Feed --------------------------------------------------------------------------------


def _parse_json_feed(data: bytes, source: str | None, url: str | None = None) -> ParsedFeed:
    doc = fields.load_json(data, kind=KIND, source=source)
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/"):
        raise ParseError(KIND, "this is JSON, but not a JSON Feed (no jsonfeed.org version)", source=source)
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(KIND, "JSON Feed without an 'items' array", source=source)
    warnings: list[str] = []
    feed_authors = _json_authors(doc)
    base = _base_url([doc.get("feed_url")], doc.get("home_page_url"), url)
    records = _collect((_json_item(item, feed_authors, base) for item in items), warnings)
    return ParsedFeed(kind=KIND, records=tuple(records), status="ok" if records else "empty",
                      title=to_text(fields.text(doc.get("title"))) or None, warnings=tuple(warnings))


def _json_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    # JSON Feed 1.1 "authors" (array); 1.0 "author" (object), kept for compatibility by the spec.
    raw = obj.get("authors")
    people = raw if isinstance(raw, list) else [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return authors_of([p["name"] for p in people if isinstance(p, dict) and isinstance(p.get("name"), str)])


def _json_item(item: Any, feed_authors: tuple[str, ...], base: str | None = None) -> tuple[PaperRecord, list[str]] | str:
    if not isinstance(item, dict):
        return "not an object"
    body = fields.text(item.get("content_html")) or fields.text(item.get("summary")) or \
        fields.text(item.get("content_text")) or ""
    links = [u for u in (fields.text(item.get("external_url")),) if u]
    return _record(
        entry_id=item.get("id"), link=item.get("url") or item.get("external_url"), links=links, identifiers=[],
        # content_html as written: a link to the paper (href="https://arxiv.org/abs/...") counts.
        texts=[item.get("title"), item.get("summary"), item.get("content_text"), item.get("content_html")],
        raw_title=item.get("title"), body=body, authors=_json_authors(item) or feed_authors,
        categories=list(fields.strings(item.get("tags"))),
        published=fields.timestamp(item.get("date_published")), updated=fields.timestamp(item.get("date_modified")),
        pdf=next((a.get("url") for a in _list(item.get("attachments"))
                  if isinstance(a, dict) and "pdf" in str(a.get("mime_type", "")).lower()), None), base=base,
    )


def _list(value: Any) -> list[Any]:
    """A JSON array field as a list; anything else (a number where an array belongs) as none."""
    return value if isinstance(value, list) else []
