"""bioRxiv and medRxiv (kind "biorxiv"): the details API and the subject-collection RSS 1.0 feeds.

Details API (https://api.biorxiv.org): ``/details/{server}/{start}/{end}/{cursor}`` answers
``{"messages": [{"cursor", "count", "total", ...}], "collection": [...]}`` with at most 100 records a
page; counts may be strings ("522"). Each record has ``doi``, ``version``, ``title``, ``authors``
("Last, F.; Last, F."), ``date``, ``category``, ``license``, ``type``, ``published`` (the journal DOI
or "NA"), ``server`` and an abstract that carries JATS conversion debris (``O_ST_ABS``,
``C_LIO_LI``, ``O_SCPLOW``...), cleaned here. The publisher API (``/pubs/{server}/{start}/{end}/
{cursor}``: preprints published in a journal in that interval) answers the same envelope with
``preprint_doi``, ``preprint_title``, ``preprint_authors``, ``preprint_abstract``, ``preprint_date``,
``preprint_category``, ``preprint_platform`` and the journal's ``published_doi``: read as the
preprint (no version number), its journal DOI an alias, as ``published`` is in the details API.

RSS (``connect.biorxiv.org/biorxiv_xml/<subject>``): RSS 1.0 with ``dc:identifier`` "doi:..." and the
version in the item URL (``...571984v1?rss=1``); parsed with digest.sources.xmlsafe.

Records are keyed by DOI (canonical id ``doi:...``) and carry the version; links are the server's
own ``/content/{doi}v{version}`` page and its ``.full.pdf``.

Public names: :func:`parse`, :func:`details_url`, :func:`next_page_url`, :data:`API_BASE`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from digest.errors import ParseError
from digest.ids import normalize_doi, preprint_doi
from digest.models import ParsedFeed, PaperRecord
from digest.sanitize import to_text
from digest.sources import fields, xmlsafe
from digest.text import clean_title, split_authors

__all__ = ["parse", "details_url", "next_page_url", "clean_abstract", "API_BASE", "KIND", "SERVERS"]

KIND = "biorxiv"
API_BASE = "https://api.biorxiv.org"
SERVERS = ("biorxiv", "medrxiv")

_RSS1 = "{http://purl.org/rss/1.0/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_PRISM = "{http://purl.org/rss/1.0/modules/prism/}"
_DATE_SEG = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The DOI suffix and version in an item's link: "2023.12.16.571984v1", or before December 2019
#: a six-digit number ("/cgi/content/short/743294v1": DOI 10.1101/743294).
_VERSIONED = re.compile(r"(\d{4}\.\d{2}\.\d{2}\.\d+|(?<=/)\d{6})v(\d+)")

# JATS-to-text debris in API abstracts: O_/C_ open/close markers for structured-abstract titles
# (ST_ABS), list items (LI, with "C_LIO_LI" between items), small caps (SCPLOW/SCPCAP); figures and
# tables (graphical abstracts) are dropped whole. Longest markers first.
_JATS_BLOCKS = re.compile(r"O_(FIG_DISPLAY|FIG|TBL|TEXTBOX|LINKSMALLFIG)\w*.*?C_\1(?![A-Z_])", re.DOTALL)
_JATS_MARKERS = {"C_LIO_LI": "\n- ", "O_ST_ABS": "\n", "C_ST_ABS": "\n", "O_SCPLOW": "", "C_SCPLOW": "",
                 "O_SCPCAP": "", "C_SCPCAP": "", "O_LI": "\n- ", "C_LI": "\n", "O_FIG": "", "C_FIG": "",
                 "O_TBL": "", "C_TBL": ""}
_JATS_RE = re.compile("|".join(sorted(_JATS_MARKERS, key=len, reverse=True)))
# Section headings glued to their first word by the conversion ("BackgroundThe shunt..."). Without
# O_ST_ABS markers (the RSS feeds) they are glued to the sentence before as well ("common.MethodsWe"):
# a heading right after a sentence's end starts a new line.
_HEADINGS = (r"(Background|Objectives?|Aims?|Purpose|Introduction|Context|Motivation|Methods?|Methodology|Design|"
             r"Setting|Participants|Results?|Findings|Conclusions?|Interpretation|Significance Statement|"
             r"Significance|Importance|Highlights?|HIGHLIGHTS?|One[ -][Ss]entence [Ss]ummary|Summary|"
             r"Key [Mm]essage|Abbreviations|Funding|Rationale|Main outcome measures|Exposures?|Trial registration)")
# Older subject feeds (2019 captures) lost the backslashes of the "\\n" escapes in their abstracts:
# a paragraph break is a bare "nn" between a sentence's end and the next capital ("unclear.nnResults"),
# and a list item ends in a bare "n" before its close marker ("traits.nC_LIO_LIWe"). No English or
# gene word starts with "nn" right after a full stop, and the punctuation is required.
_LOST_PARAGRAPH = re.compile(r"(?<=[.!?])nn(?=[A-Z])")
_LOST_ITEM_END = re.compile(r"(?<=[.!?:;])n(?=C_LI|O_LI)")
#: What follows a glued heading: a capitalised word, or an acronym ("ResultsDNA damage", "AbbreviationsAM, ...").
_HEADING_END = r"(?=[A-Z][a-z]|[A-Z][A-Z0-9]+\b)"
_GLUED_HEADING = re.compile(rf"^{_HEADINGS}{_HEADING_END}", re.MULTILINE)
_GLUED_INNER_HEADING = re.compile(rf"(?<=[a-z0-9%)\]][.!?])[ \t]*{_HEADINGS}{_HEADING_END}")
# bioRxiv writes Greek letters as {alpha}, {beta}...
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
          "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
          "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
          "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ",
          "Psi": "Ψ", "Omega": "Ω"}
_GREEK["+/-"] = "±"  # and {+/-} beside them
_GREEK_RE = re.compile(r"\{(" + "|".join(map(re.escape, _GREEK)) + r")\}")


def details_url(server: str, start_date: date | str, end_date: date | str, cursor: int = 0, *,
                base: str = API_BASE, api: str = "details") -> str:
    """URL of one page (100 records from ``cursor``) of the details API (or, with ``api="pubs"``, the
    publisher API) for a date range, at ``base`` (a mirror or proxy may stand in for api.biorxiv.org)."""
    server = server.lower()
    if server not in SERVERS:
        raise ValueError(f"bioRxiv server must be one of {', '.join(SERVERS)}, not {server!r}")
    return f"{base.rstrip('/')}/{api}/{server}/{start_date}/{end_date}/{int(cursor)}"


def next_page_url(url: str, data: bytes) -> str | None:
    """The next page's URL after ``url`` (body ``data``), or None once ``cursor + count >= total``."""
    try:
        doc = fields.load_json(data, kind=KIND)
    except ParseError:
        return None
    message = _message(doc)
    if message is None:
        return None
    cursor = fields.integer(message.get("cursor")) or 0
    count = fields.integer(message.get("count")) or 0
    total = fields.integer(message.get("total"))
    received = len(doc.get("collection") or []) if isinstance(doc, dict) else 0
    step = max(count, received)
    if step <= 0 or total is None or cursor + step >= total:
        return None
    parts = urlsplit(url)
    segs = parts.path.split("/")
    i = next((n for n, seg in enumerate(segs) if seg in ("details", "pubs")), None)
    if i is None:
        return None
    # details|pubs/{server}/{interval: two dates, N or Nd}/{cursor}[/{format}]
    at = i + 4 if len(segs) > i + 3 and _DATE_SEG.match(segs[i + 2]) else i + 3
    if len(segs) <= at - 1:
        return None
    if len(segs) == at:
        segs.append(str(cursor + step))
    else:
        segs[at] = str(cursor + step)
    return urlunsplit(parts._replace(path="/".join(segs)))


def _message(doc: Any) -> dict[str, Any] | None:
    if not isinstance(doc, dict):
        return None
    messages = doc.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return messages[0]
    return None


def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """Records from a details-API answer (JSON) or a subject RSS feed (XML)."""
    if data.lstrip()[:1] in (b"{", b"["):
        return _parse_details(data, source)
    from digest.sources.sniff import reject_non_feed

    reject_non_feed(data, kind=KIND, source=source)
    return _parse_rss(data, source)


_NOTHING_FOUND = re.compile(r"\s*no (?:posts|articles|records|results) found\b", re.IGNORECASE)


def _parse_details(data: bytes, source: str | None) -> ParsedFeed:
    doc = fields.load_json(data, kind=KIND, source=source)
    message = _message(doc)
    if message is None or not isinstance(doc, dict):
        raise ParseError(KIND, "expected the details API's 'messages' and 'collection'", source=source)
    status = fields.text(message.get("status")) or "ok"
    collection = doc.get("collection")
    if status != "ok" or not isinstance(collection, list):
        # "no posts found" (details) and "no articles found for published version of ..." (the
        # publisher lookup of a preprint not yet published) are the API's empty answers; anything
        # else is its error message.
        if _NOTHING_FOUND.match(status):
            return ParsedFeed(kind=KIND, records=(), status="empty", message=status, total_results=0)
        return ParsedFeed(kind=KIND, records=(), status="error", message=status)
    records: list[PaperRecord] = []
    warnings: list[str] = []
    for i, item in enumerate(collection):
        try:
            records.append(_details_record(item))
        except ValueError as exc:
            warnings.append(f"record {i + 1} skipped: {exc}")
    return ParsedFeed(kind=KIND, records=tuple(_latest_versions(records)), status="ok" if records else "empty",
                      title=_plain(message.get("category")), warnings=tuple(warnings),
                      total_results=fields.integer(message.get("total")))


def _dated(posted: datetime | None, version: int | None) -> tuple[datetime | None, datetime | None]:
    """A record's ``published`` and ``updated`` from the day its version was posted: the paper's
    publication for a first version (or a record without a number), else its update, as the arXiv
    API and announcements date a replacement. The store keeps the first version's day when it saw
    it, and dates a paper first seen at v2 by when it arrived."""
    if version is not None and version > 1:
        return None, posted
    return posted, None


def _latest_versions(records: list[PaperRecord]) -> list[PaperRecord]:
    """Each DOI once, at its newest version (a date range can list two versions of one paper),
    with the first version's posting day as its ``published`` when the answer lists that too."""
    best: dict[str, PaperRecord] = {}
    first_posted: dict[str, datetime] = {}
    for r in records:
        old = best.get(r.external_id)
        if old is None or (r.version or 0) > (old.version or 0):
            best[r.external_id] = r
        if r.published is not None:
            first_posted[r.external_id] = r.published
    return [replace(r, published=first_posted[r.external_id])
            if r.published is None and r.external_id in first_posted else r for r in best.values()]


#: A publisher-API record's fields under the details API's names (see the module docstring).
_PUBS_FIELDS = {"doi": "preprint_doi", "title": "preprint_title", "authors": "preprint_authors",
                "abstract": "preprint_abstract", "date": "preprint_date", "category": "preprint_category",
                "server": "preprint_platform", "published": "published_doi",
                "author_corresponding": "preprint_author_corresponding", "published_journal": "published_journal"}
#: The publisher API's answers by date range name the preprint's DOI "biorxiv_doi" (by DOI: "preprint_doi").
_PUBS_DOI_KEYS = ("preprint_doi", "biorxiv_doi")


def _details_record(item: Any) -> PaperRecord:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    if "doi" not in item and any(key in item for key in _PUBS_DOI_KEYS):  # the publisher API (/pubs/)
        doi_key = next(key for key in _PUBS_DOI_KEYS if key in item)
        item = {name: item.get(doi_key if name == "doi" else pubs_name) for name, pubs_name in _PUBS_FIELDS.items()}
    doi = normalize_doi(fields.text(item.get("doi")))
    if not doi:
        raise ValueError("no DOI")
    raw_title = fields.text(item.get("title"))
    if not raw_title:
        raise ValueError(f"{doi} has no title")
    plain_title = to_text(raw_title)
    title = clean_title(plain_title)
    version = fields.integer(item.get("version"))
    server = _server(fields.text(item.get("server")), fields.text(item.get("jatsxml")))
    published_doi = normalize_doi(fields.text(item.get("published")))
    # Every text the API sends is outside text, markup included: plain text or nothing.
    signals: dict[str, Any] = {
        "server": server,
        "type": _plain(item.get("type")),
        "corresponding_author": _plain(item.get("author_corresponding")),
        "published_doi": published_doi,
    }
    category = fields.text(item.get("category"))
    published, updated = _dated(fields.timestamp(item.get("date")), version)
    return PaperRecord(
        source_kind=KIND,
        external_id=doi,
        title=title,
        title_original=plain_title if plain_title != title else None,
        authors=_authors(to_text(fields.text(item.get("authors")) or "")),
        abstract=clean_abstract(fields.text(item.get("abstract")) or ""),
        categories=(to_text(category),) if category else (),
        doi=doi,
        version=version,
        url=_content_url(server, doi, version),
        pdf_url=_content_url(server, doi, version) + ".full.pdf",
        published=published,
        updated=updated,
        license=_plain(item.get("license")),
        journal_ref=f"doi:{published_doi}" if published_doi else None,
        venue=_plain(item.get("published_journal")),
        # The journal's own entry (a publisher feed, the arXiv API's DOI) merges with the preprint.
        aliases=(f"doi:{published_doi}",) if published_doi and published_doi != doi else (),
        signals={k: v for k, v in signals.items() if v is not None},
    )


def _authors(field: str) -> tuple[str, ...]:
    """bioRxiv's author list ("O`Toole, P.; Doe, J."): its backticks are apostrophes (O'Toole)."""
    return tuple(split_authors(field.replace("`", "'") if "`" in field else field))


def _plain(value: Any) -> str | None:
    """A text field as plain text (markup dropped), or None when nothing is left."""
    return to_text(fields.text(value)) or None


def _server(name: str | None, link: str | None) -> str:
    for hint in (name, link):
        if hint and "medrxiv" in hint.lower():
            return "medrxiv"
    return "biorxiv"


def _content_url(server: str, doi: str, version: int | None) -> str:
    suffix = f"v{version}" if version else ""
    return f"https://www.{server}.org/content/{doi}{suffix}"


def clean_abstract(raw: str) -> str:
    """A details-API abstract as plain text: JATS markers resolved, paragraphs and list items on
    their own lines, glued section headings separated, {rho}-style Greek letters resolved."""
    text = _LOST_ITEM_END.sub("", _LOST_PARAGRAPH.sub("\n", raw))
    text = _JATS_BLOCKS.sub(" ", text)
    text = _JATS_RE.sub(lambda m: _JATS_MARKERS[m.group(0)], text)
    text = _GREEK_RE.sub(lambda m: _GREEK[m.group(1)], text)
    lines = [to_text(line) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line and line != "-")
    return _GLUED_HEADING.sub(r"\1: ", _GLUED_INNER_HEADING.sub(r"\n\1", text))


def _parse_rss(data: bytes, source: str | None) -> ParsedFeed:
    doc = xmlsafe.parse_document(data, kind=KIND, source=source)
    root = doc.root
    # Not etree.QName: a recovered document whose prefix was never declared has the tag "rdf:RDF",
    # which QName refuses with ValueError.
    name = str(root.tag).rsplit("}", 1)[-1]
    if name != "RDF" or root.tag == name:
        raise ParseError(KIND, f"expected an RSS 1.0 (RDF) feed, found <{name[:40]}>", source=source)
    channel = root.find(f"{_RSS1}channel")
    feed_title = _plain(_child_text(channel, f"{_RSS1}title")) if channel is not None else None
    items = root.findall(f"{_RSS1}item")
    records: list[PaperRecord] = []
    warnings = list(doc.warnings)
    for i, item in enumerate(doc.intact(items)):
        try:
            records.append(_rss_record(item))
        except ValueError as exc:
            warnings.append(f"item {i + 1} skipped: {exc}")
    if len(items) > len(doc.intact(items)):
        warnings.append(f"{len(items) - len(doc.intact(items))} damaged item(s) dropped")
    return ParsedFeed(kind=KIND, records=tuple(records), status="ok" if records else "empty",
                      title=feed_title, warnings=tuple(warnings))


def _child_text(el: etree._Element, tag: str) -> str | None:
    child = el.find(tag)
    if child is None:
        return None
    return fields.text("".join(child.itertext()))


def _rss_record(item: etree._Element) -> PaperRecord:
    about = item.get(f"{_RDF}about") or _child_text(item, f"{_RSS1}link") or ""
    doi = normalize_doi(_child_text(item, f"{_DC}identifier")) or normalize_doi(about)
    doi = preprint_doi(doi) if doi else None
    m = _VERSIONED.search(about)
    if not doi and m:
        doi = f"10.1101/{m.group(1)}"
    if not doi:
        raise ValueError("no DOI")
    raw_title = _child_text(item, f"{_RSS1}title") or _child_text(item, f"{_DC}title")
    if not raw_title:
        raise ValueError(f"{doi} has no title")
    plain_title = to_text(raw_title)
    title = clean_title(plain_title)
    version = int(m.group(2)) if m else None
    server = _server(None, about)
    posted = _child_text(item, f"{_DC}date") or _child_text(item, f"{_PRISM}publicationDate")
    published, updated = _dated(fields.timestamp(posted), version)
    return PaperRecord(
        source_kind=KIND,
        external_id=doi,
        title=title,
        title_original=plain_title if plain_title != title else None,
        authors=_authors(to_text(_child_text(item, f"{_DC}creator") or "")),
        abstract=clean_abstract(_child_text(item, f"{_RSS1}description") or ""),
        doi=doi,
        version=version,
        url=_content_url(server, doi, version),
        pdf_url=_content_url(server, doi, version) + ".full.pdf",
        published=published,
        updated=updated,
        signals={"server": server},
    )
