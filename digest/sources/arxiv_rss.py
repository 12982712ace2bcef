"""arXiv announcement feeds from rss.arxiv.org (the 2024 RSS 2.0 format and its Atom form), kind "arxiv-rss".

One item per announced paper::

    <item>
      <title>...</title>
      <link>https://arxiv.org/abs/2411.17700</link>
      <description>arXiv:2411.17700v1 Announce Type: new \\nAbstract: ...</description>
      <guid isPermaLink="false">oai:arXiv.org:2411.17700v1</guid>
      <category>cs.CY</category> ...
      <pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>      new | cross | replace | replace-cross
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <arxiv:DOI>...</arxiv:DOI> <arxiv:journal_reference>...</arxiv:journal_reference>   (some items)
      <dc:creator>A, B, C</dc:creator>                       all authors in one field
    </item>

An item's pubDate is the day its version was announced: the record's ``published`` for a first
version, its ``updated`` for a replacement or a later version cross-listed (the API's meaning of both).

A bad category gets HTTP 200 and a channel titled "Feed error for query: ..." whose description says
what is wrong (status "error"); weekends and holidays give a valid channel with no items (status "empty").

Two parsers yield the same records: :func:`parse` (lxml, the fast path used for ingest) and
:func:`parse_with_feedparser` (the reference; tests/test_sources_arxiv_rss.py proves they agree on
every fixture and on generated feeds). Both only extract raw strings; :func:`_record` turns them into
a :class:`PaperRecord`, so the two can differ only in extraction.

Public names: :data:`KIND`, :func:`parse`, :func:`parse_with_feedparser`, :func:`feed_url`,
:func:`split_description`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from lxml import etree

from digest.dates import as_utc, rfc5322_date
from digest.errors import ConfigError, ParseError
from digest.ids import ARXIV_CATEGORY_RE, find_arxiv_id, normalize_doi
from digest.models import FeedStatus, PaperRecord, ParsedFeed
from digest.sources.xmlsafe import check_no_entities, parse_document
from digest.text import clean_title, collapse_ws, split_authors

__all__ = ["KIND", "parse", "parse_with_feedparser", "feed_url", "split_description", "ERROR_TITLE_PREFIX"]

KIND = "arxiv-rss"
FEED_BASE = "https://rss.arxiv.org/rss/"
#: arXiv's error channel for a bad archive/category name (tests/data/arxiv-rss/*error*).
ERROR_TITLE_PREFIX = "Feed error for query"
ANNOUNCE_TYPES = frozenset({"new", "cross", "replace", "replace-cross"})

_ARXIV_NS = "http://arxiv.org/schemas/atom"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_ANNOUNCE_RE = re.compile(r"Announce Type:\s*([A-Za-z-]+)")
_ABSTRACT_RE = re.compile(r"\bAbstract:\s*")
#: The header arXiv puts before the "Abstract:" label, for a description that has no label.
_HEADER_RE = re.compile(r"\s*arXiv:\S+\s+Announce Type:\s*[A-Za-z-]+")
#: The guid of every item arXiv writes (see _guid_id).
_USUAL_GUID = re.compile(r"oai:arXiv\.org:(\d{4}\.\d{4,5})v(\d+)").fullmatch


def feed_url(categories: list[str]) -> str:
    """``["cs.LG", "stat.ML"]`` -> ``https://rss.arxiv.org/rss/cs.LG+stat.ML`` (one feed for all)."""
    cats = [c.strip() for c in categories if c.strip()]
    if not cats:
        raise ConfigError("an arXiv feed needs at least one category", key="feeds.categories")
    for c in cats:
        if not ARXIV_CATEGORY_RE.match(c):
            raise ConfigError(f"{c!r} is not an arXiv archive or category (like cs or cs.LG)",
                              key="feeds.categories")
    return FEED_BASE + "+".join(cats)


#: The raw strings of one item, as either parser found them: guid, link, title, description, creator,
#: announce_type, doi, journal_ref, rights, pub_date (str; absent = "") and categories (list of str).
#: A plain dict, not a dataclass: the fast parser builds 1,500 of them per listing.
_Item = dict[str, Any]


# --- the fast path: lxml -------------------------------------------------------------------------

_TAG_FIELDS = {
    "guid": "guid", "link": "link", "title": "title", "description": "description", "pubDate": "pub_date",
    f"{{{_DC_NS}}}creator": "creator", f"{{{_DC_NS}}}rights": "rights",
    f"{{{_ARXIV_NS}}}announce_type": "announce_type", f"{{{_ARXIV_NS}}}DOI": "doi",
    f"{{{_ARXIV_NS}}}journal_reference": "journal_ref",
}


def _text(el: etree._Element) -> str:
    if len(el):  # markup inside (not in arXiv's feed, but cheap to allow)
        return "".join(el.itertext())
    return el.text or ""


def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """Parse an rss.arxiv.org document (bytes, RSS or Atom) into records; ParseError if it is not one."""
    doc = parse_document(data, kind=KIND, source=source)
    root = doc.root
    if root.tag == _ATOM_FEED:
        return _parse_atom(root, doc, source)
    if _root_name(root) != "rss":
        raise ParseError(KIND, f"not an RSS 2.0 or Atom document (root element <{_root_name(root)}>)", source=source)
    channel = root.find("channel")
    if channel is None:
        raise ParseError(KIND, "RSS document without a <channel>", source=source)
    head: dict[str, str] = {}
    items: list[etree._Element] = []
    for el in channel:
        tag = el.tag
        if tag == "item":
            items.append(el)
        elif tag in ("title", "description", "pubDate", "lastBuildDate"):
            head[tag] = _text(el)
    intact, warnings = _intact(doc, items)
    raw: list[_Item] = []
    fields = _TAG_FIELDS
    for el in intact:
        # One pass over the children, _text() inlined: this loop runs ~15 times per item.
        categories: list[str] = []
        values: _Item = {"categories": categories}
        for child in el:
            tag = child.tag  # comments have a function for a tag: no field, not "category"
            value = child.text or "" if not len(child) else "".join(child.itertext())
            name = fields.get(tag)
            if name is not None:
                values[name] = value  # a repeated element: the last one wins
            elif tag == "category":
                categories.append(value)
        raw.append(values)
    return _feed(head, raw, warnings)


_ATOM_NS = "http://www.w3.org/2005/Atom"
_ATOM_FEED = f"{{{_ATOM_NS}}}feed"
#: rss.arxiv.org/atom/<category>: the same announcements as an Atom feed, element for element.
_ATOM_FIELDS = {
    f"{{{_ATOM_NS}}}id": "guid", f"{{{_ATOM_NS}}}title": "title", f"{{{_ATOM_NS}}}summary": "description",
    f"{{{_ATOM_NS}}}published": "pub_date", f"{{{_DC_NS}}}creator": "creator", f"{{{_DC_NS}}}rights": "rights",
    f"{{{_ARXIV_NS}}}announce_type": "announce_type", f"{{{_ARXIV_NS}}}DOI": "doi",
    f"{{{_ARXIV_NS}}}journal_reference": "journal_ref",
}
_ATOM_HEAD = {f"{{{_ATOM_NS}}}title": "title", f"{{{_ATOM_NS}}}subtitle": "description",
              f"{{{_ATOM_NS}}}updated": "lastBuildDate"}


def _parse_atom(root: etree._Element, doc: Any, source: str | None) -> ParsedFeed:
    """The Atom form (rss.arxiv.org/atom/cs.LG): <entry> for <item>, <summary> for <description>,
    <published> for <pubDate>, <category term=...>, <link href=...>; the arXiv and Dublin Core
    elements are the same. Read into the same raw strings, so the records are the RSS form's."""
    head: dict[str, str] = {}
    entries: list[etree._Element] = []
    for el in root:
        if el.tag == f"{{{_ATOM_NS}}}entry":
            entries.append(el)
        elif el.tag in _ATOM_HEAD:
            head[_ATOM_HEAD[el.tag]] = _text(el)
    intact, warnings = _intact(doc, entries)
    raw: list[_Item] = []
    for entry in intact:
        categories: list[str] = []
        values: _Item = {"categories": categories}
        names: list[str] = []
        for child in entry:
            tag = child.tag
            name = _ATOM_FIELDS.get(tag) if isinstance(tag, str) else None
            if name is not None:
                values[name] = _text(child)
            elif tag == f"{{{_ATOM_NS}}}category":
                categories.append(child.get("term") or "")
            elif tag == f"{{{_ATOM_NS}}}link" and child.get("rel", "alternate") == "alternate":
                values["link"] = child.get("href") or ""
            elif tag == f"{{{_ATOM_NS}}}author":
                names.append(child.findtext(f"{{{_ATOM_NS}}}name") or "")
        if "creator" not in values and names:
            values["creator"] = ", ".join(n for n in names if n.strip())
        raw.append(values)
    return _feed(head, raw, warnings)


def _intact(doc: Any, items: list[etree._Element]) -> tuple[list[etree._Element], list[str]]:
    """The items no parse error touched (:meth:`XmlDocument.intact`) and the document's warnings,
    with one more when some were dropped."""
    warnings = list(doc.warnings)
    intact = doc.intact(items)
    if len(intact) < len(items):
        warnings.append(f"dropped {len(items) - len(intact)} damaged item(s)")
    return intact, warnings


def _root_name(root: Any) -> str:
    """The root's local name. Not etree.QName: it raises ValueError on the names libxml2's recover
    mode makes of a damaged start tag ("rssFxmlns:arxiv")."""
    return root.tag.rpartition("}")[2] if isinstance(root.tag, str) else "?"


# --- the reference path: feedparser --------------------------------------------------------------

def parse_with_feedparser(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """The same as :func:`parse`, via feedparser (slow: ~3,000 items/s). feedparser gets bytes only,
    so it does its own encoding detection; entity declarations are refused exactly as in :func:`parse`."""
    import feedparser  # imported here: the fast path should not pay for it

    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("feedparser only ever receives bytes")
    check_no_entities(bytes(data), kind=KIND, source=source)
    # sanitize_html=False: descriptions become plain text in _record() anyway; the sanitizer would
    # only make this path differ from the lxml one on harmless markup.
    try:
        fp = feedparser.parse(bytes(data), sanitize_html=False, resolve_relative_uris=False)
    except (UnicodeError, LookupError) as exc:  # its encoding sniffing decodes a damaged declaration
        raise ParseError(KIND, f"not an RSS 2.0 document: {type(exc).__name__}", source=source) from None
    version = fp.get("version") or ""
    if not version.startswith(("rss", "atom")):
        reason = f": {fp.get('bozo_exception')}" if fp.get("bozo") else ""
        raise ParseError(KIND, f"not an RSS 2.0 or Atom document{reason}", source=source)
    feed = fp.get("feed", {})
    # feedparser names the Atom form's head and entries as the RSS form's (<subtitle> as "subtitle",
    # <summary> as "summary"), except the entries' <link>: one "link" either way.
    head = {"title": feed.get("title", ""), "description": feed.get("subtitle", ""),
            "pubDate": feed.get("published", ""), "lastBuildDate": feed.get("updated", "")}
    warnings = [f"document is not well-formed ({fp.get('bozo_exception')})"] if fp.get("bozo") else []
    ax = _arxiv_keys(fp.get("namespaces", {}))
    raw = [{"guid": e.get("id", ""), "link": e.get("link", ""), "title": e.get("title", ""),
            "description": e.get("summary", ""), "creator": e.get("author", ""),
            "categories": [t.get("term") or "" for t in e.get("tags", [])],
            "announce_type": _first(e, ax, "announce_type"), "doi": _first(e, ax, "doi"),
            "journal_ref": _first(e, ax, "journal_reference"), "rights": e.get("rights", ""),
            "pub_date": e.get("published", "")}
           for e in fp.get("entries", [])]
    return _feed(head, raw, warnings)


def _arxiv_keys(namespaces: dict[str, str]) -> tuple[str, ...]:
    """The key prefixes feedparser gives arXiv's elements. It knows DC by its URI but not arXiv's, so
    it names ``<ax:doi>`` "ax_doi" after the document's own prefix (lower-cased), and a default-namespace
    ``<doi xmlns="...">`` "doi"; lxml goes by the URI, so the fast path never depends on the prefix."""
    declared = [p.lower() + "_" if p else "" for p, uri in namespaces.items() if uri == _ARXIV_NS]
    return tuple(dict.fromkeys(["arxiv_", *declared]))


def _first(entry: Any, prefixes: tuple[str, ...], name: str) -> str:
    for prefix in prefixes:
        value = entry.get(prefix + name)
        if value is not None:
            return str(value)
    return ""


# --- shared: raw strings -> records --------------------------------------------------------------

def _feed(head: dict[str, str], raw: list[_Item], warnings: list[str]) -> ParsedFeed:
    title = collapse_ws(head.get("title", "")) or None
    feed_date = _date(head.get("pubDate", "")) or _date(head.get("lastBuildDate", ""))
    if title and title.startswith(ERROR_TITLE_PREFIX):
        error_message = collapse_ws(head.get("description", "")) or title
        return ParsedFeed(kind=KIND, records=(), status="error", title=title, message=error_message,
                          warnings=tuple(warnings), feed_date=feed_date)
    records: list[PaperRecord] = []
    for n, item in enumerate(raw, 1):
        rec = _record(item)
        if rec is None:
            warnings.append(f"item {n} has no arXiv id in its guid or link; skipped")
        else:
            records.append(rec)
    status: FeedStatus = "ok" if records else "empty"
    message = "no announcements in this feed (weekend or holiday)" if not raw else None
    if raw and not records:
        status, message = "error", "no item carried an arXiv id"
    return ParsedFeed(kind=KIND, records=tuple(records), status=status, title=title, message=message,
                      warnings=tuple(warnings), feed_date=feed_date)


def _record(item: _Item) -> PaperRecord | None:
    get = item.get
    link = get("link", "")
    found = _guid_id(get("guid", "").strip()) or find_arxiv_id(link.strip())
    if found is None:
        return None
    arxiv_id, version = found
    description = get("description", "")
    if version is None:  # the guid normally carries it; the description repeats it ("arXiv:2411.17700v1")
        again = find_arxiv_id(description[:80])
        version = again[1] if again and again[0] == arxiv_id else None
    announce = get("announce_type", "")
    if announce not in ANNOUNCE_TYPES:  # the usual clean value needs no collapsing or lower-casing
        announce = collapse_ws(announce).lower()
    if not announce:
        m = _ANNOUNCE_RE.search(description[:200])
        announce = m.group(1).lower() if m else ""
    abstract = collapse_ws(_abstract(description))
    announced = _date(get("pub_date", ""))
    # pubDate is the day this version was announced; that is the paper's publication date only for
    # its first version, else it is when the paper was updated (the API's and snapshot's meaning).
    later = (version is not None and version > 1) or announce.startswith("replace")
    title_raw = get("title", "").strip()
    doi, journal_ref, rights = get("doi"), get("journal_ref"), get("rights")
    return PaperRecord(
        source_kind=KIND,
        external_id=arxiv_id,
        title=clean_title(title_raw),
        title_original=title_raw,
        authors=tuple(split_authors(get("creator", ""))),
        abstract=abstract,
        categories=_categories(tuple(get("categories", ()))),
        arxiv_id=arxiv_id,
        version=version,
        doi=normalize_doi(doi) if doi else None,
        url=link.strip() or f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v{version}" if version else f"https://arxiv.org/pdf/{arxiv_id}",
        published=None if later else announced,
        updated=announced if later else None,
        license=rights.strip() or None if rights else None,
        journal_ref=collapse_ws(journal_ref) or None if journal_ref else None,
        announce_type=announce if announce in ANNOUNCE_TYPES else (announce or None),
    )


def split_description(description: str) -> tuple[str, str | None]:
    """An arXiv announcement's description ("arXiv:2411.17700v1 Announce Type: new Abstract: ...")
    as (the abstract, whitespace-collapsed; the announce type, lower-cased, or None): what this
    parser makes of it, for other readers of arXiv's announcements (a generic feed of them)."""
    m = _ANNOUNCE_RE.search(description[:200])
    return collapse_ws(_abstract(description)), m.group(1).lower() if m else None


def _guid_id(guid: str) -> tuple[str, int | None] | None:
    """``find_arxiv_id(guid)``, with arXiv's usual ``oai:arXiv.org:2411.17700v1`` read by one
    anchored match (~0.25 us instead of ~0.9)."""
    usual = _USUAL_GUID(guid)
    return (usual[1], int(usual[2])) if usual else find_arxiv_id(guid)


def _abstract(description: str) -> str:
    """The description after its "Abstract:" label, as ``_ABSTRACT_RE`` finds it up to the whitespace
    after the label, which the caller's collapse_ws drops either way; without a label, all of it but
    arXiv's "arXiv:<id> Announce Type: <type>" header, which is not abstract text. arXiv's label
    follows a ~40-character header, so str.find locates it in ~0.1 us where the regex search takes
    ~1 us; the regex decides when the first "Abstract:" is not at a word boundary."""
    i = description.find("Abstract:")
    if i >= 0 and not (i and (description[i - 1].isalnum() or description[i - 1] == "_")):  # \b before it
        # The whitespace \s* would skip is left in place: collapse_ws drops it the same way.
        return description[i + 9:]
    m = _ABSTRACT_RE.search(description) if i >= 0 else None
    if m:
        return description[m.end():]
    header = _HEADER_RE.match(description)
    return description[header.end():] if header else description


@lru_cache(maxsize=4096)  # a listing has a few hundred distinct category lists (and few categories)
def _categories(raw: tuple[str, ...]) -> tuple[str, ...]:
    """Whitespace-collapsed, empty ones dropped, first occurrence kept."""
    return tuple(dict.fromkeys(c for c in (" ".join(x.split()) for x in raw) if c))


@lru_cache(maxsize=64)  # every item of one announcement carries the same pubDate
def _date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    value = rfc5322_date(text)
    if value is not None:
        return value
    value = _iso_date(text)  # RSS 2.0 says RFC 822, but ISO 8601 dates are a common slip
    return as_utc(value) if value is not None else None


def _iso_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
