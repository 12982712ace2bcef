"""OpenReview API v2 notes (kind "openreview"): the accepted papers of one venue.

``GET https://api2.openreview.net/notes?content.venueid=<venue id>&offset=N&limit=M`` answers
``{"notes": [...], "count": <total>}``. In API v2 every content field is wrapped as
``{"value": ...}`` (``title``, ``authors``, ``abstract``, ``TLDR``, ``keywords``, ``venue``,
``venueid``, ``pdf``, ``primary_area``); times (``cdate``, ``mdate``, ``pdate``) are epochs in
milliseconds. API v1 notes (plain values, ``TL;DR``) are read too, since some venues still serve
them. Written from the public documentation (docs.openreview.net, "Using the API / Notes") and
checked against real answers other projects captured (tests/data/SOURCES.md, "openreview/"): the
TL;DR's key is ``TLDR``; people may be objects (``{"fullname": ...}``) rather than names; notes
imported from DBLP or ORCID link the paper elsewhere (an arXiv or publisher PDF, a doi.org page),
which gives the record that arXiv id or DOI. In 2026 the API answered an anonymous venue listing
with HTTP 403 and ``{"name": "ChallengeRequiredError", "message": "Challenge verification required
..."}``; its body, when one is parsed, is an "error" status with that message.

The paper's id is the forum id (a submission's note id is its forum id); links follow openreview.net's
own forms: ``/forum?id=`` for the abstract page and ``/pdf?id=`` for the PDF.

Signing in: since 2026 the API refuses anonymous venue listings; with ``[fetch] openreview_username``
and DIGEST_OPENREVIEW_PASSWORD, :func:`access_token` signs in (``POST /login``) and digest sends the
token (``Authorization: Bearer``) to the API's origin only.

Public names: :func:`parse`, :func:`notes_url`, :func:`next_page_url`, :func:`forum_url`, :func:`access_token`,
:data:`API_BASE`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.errors import FetchError, ParseError
from digest.ids import find_arxiv_id, find_doi
from digest.models import ParsedFeed, PaperRecord
from digest.sanitize import safe_url, to_text
from digest.sources import fields
from digest.text import clean_title, split_authors

if TYPE_CHECKING:
    from pydantic import SecretStr

    from digest.config import FetchSettings

__all__ = ["parse", "notes_url", "next_page_url", "forum_url", "access_token", "API_BASE", "KIND", "PAGE_SIZE"]

KIND = "openreview"
API_BASE = "https://api2.openreview.net"
SITE = "https://openreview.net"
#: The API's maximum page size (docs: "get_notes will return up to the first 1000").
PAGE_SIZE = 1000


def notes_url(venue: str, *, offset: int = 0, limit: int = PAGE_SIZE, base: str = API_BASE) -> str:
    """The API v2 URL of one page of a venue's notes (``venue`` is a venue id such as
    ``ICLR.cc/2024/Conference``) at ``base`` (``[fetch] openreview_api_url``)."""
    query = urlencode({"content.venueid": venue, "offset": offset, "limit": limit})
    return f"{base.rstrip('/')}/notes?{query}"


def forum_url(forum_id: str) -> str:
    """A paper's page on openreview.net: its forum (the abstract, reviews and discussion)."""
    return f"{SITE}/forum?id={forum_id}"


# --- signing in -------------------------------------------------------------------------------------

#: How long a token digest asks for lives (seconds; the API's default is an hour, its maximum a week).
TOKEN_LIFETIME = 3600
#: A token is renewed this long before it expires, so none runs out in the middle of a feed's pages.
TOKEN_MARGIN = 300
#: What to do when the API refuses a venue listing to a client that did not sign in.
SIGN_IN_HINT = ("OpenReview lists a venue's notes to signed-in clients only: set [fetch] openreview_username "
                "and DIGEST_OPENREVIEW_PASSWORD")

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def access_token(settings: FetchSettings, password: SecretStr | None, *, renew: bool = False) -> str | None:
    """A bearer token for ``settings.openreview_api_url``, signing in (``POST /login``, as the
    openreview-py client does) when there is none yet, it is about to expire, or ``renew`` (the API
    refused it); None without an account (``[fetch] openreview_username`` and the password from
    DIGEST_OPENREVIEW_PASSWORD). One token serves every feed and page until it expires. FetchError
    when the sign-in fails; neither the password nor the token ever appears in it."""
    username = settings.openreview_username
    if not username or password is None:
        return None
    key = (settings.openreview_api_url.rstrip("/"), username)
    with _tokens_lock:
        held = _tokens.get(key)
        if held is not None and not renew and held[1] > time.monotonic():
            return held[0]
        from digest.fetch import post_json  # the network chokepoint

        url = f"{key[0]}/login"
        try:
            result = post_json(url, {"id": username, "password": password.get_secret_value(),
                                     "expiresIn": TOKEN_LIFETIME}, settings=settings)
        except FetchError as exc:
            raise FetchError(exc.url, f"OpenReview sign-in as {username!r} failed: {exc.reason}", status=exc.status,
                             retry_after=exc.retry_after) from None
        try:
            token = json.loads(result.body).get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
            raise FetchError(url, f"OpenReview sign-in as {username!r} answered no token")
        _tokens[key] = (token, time.monotonic() + TOKEN_LIFETIME - TOKEN_MARGIN)
        return token


def forget_tokens() -> None:
    """Drop every held token (tests; a changed account)."""
    with _tokens_lock:
        _tokens.clear()


def next_page_url(url: str, data: bytes) -> str | None:
    """The URL of the page after ``url`` (whose body is ``data``), or None when ``count`` is reached.

    Paging is offset/limit (API v2): the next offset is this offset plus the notes received; a short
    or empty page, or an offset at ``count``, ends it.
    """
    try:
        doc = fields.load_json(data, kind=KIND)
    except ParseError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("notes"), list):
        return None
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    offset = fields.integer(query.get("offset")) or 0
    received = len(doc["notes"])
    count = fields.integer(doc.get("count"))
    limit = fields.integer(query.get("limit"))
    if received == 0 or count is None or offset + received >= count:
        return None
    if limit is not None and received < limit:
        return None
    query["offset"] = str(offset + received)
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """Records for every note that is a paper (has a title); other notes become warnings."""
    doc = fields.load_json(data, kind=KIND, source=source)
    if not isinstance(doc, dict):
        raise ParseError(KIND, "expected a JSON object with 'notes'", source=source)
    if not isinstance(doc.get("notes"), list):
        message = fields.text(doc.get("message")) or fields.text(doc.get("name"))
        if message:  # the API's error answer: {"name": "...Error", "message": "...", "status": 4xx}
            return ParsedFeed(kind=KIND, records=(), status="error", message=message)
        raise ParseError(KIND, "expected a JSON object with 'notes'", source=source)
    records: list[PaperRecord] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for i, note in enumerate(doc["notes"]):
        try:
            record = _record(note)
        except ValueError as exc:
            warnings.append(f"note {i + 1} skipped: {exc}")
            continue
        if record.external_id not in seen:
            seen.add(record.external_id)
            records.append(record)
    count = fields.integer(doc.get("count"))
    return ParsedFeed(kind=KIND, records=tuple(records), status="ok" if records else "empty",
                      title="OpenReview", warnings=tuple(warnings), total_results=count)


def _value(content: dict[str, Any], *names: str) -> Any:
    """A content field by any of its names, unwrapped from API v2's ``{"value": ...}``."""
    for name in names:
        if name in content:
            raw = content[name]
            return raw.get("value") if isinstance(raw, dict) else raw
    return None


def _record(note: Any) -> PaperRecord:
    if not isinstance(note, dict) or not isinstance(note.get("content"), dict):
        raise ValueError("not a note with content")
    content: dict[str, Any] = note["content"]
    note_id = fields.text(note.get("id"))
    forum = fields.text(note.get("forum")) or note_id
    if not forum or not note_id:
        raise ValueError("note has no id")
    if forum != note_id:
        raise ValueError(f"note {note_id} is a reply in forum {forum}, not a paper")
    raw_title = fields.text(_value(content, "title"))
    if not raw_title:
        raise ValueError(f"note {note_id} has no title")
    plain_title = to_text(raw_title)
    title = clean_title(plain_title)
    authors = _authors(_value(content, "authors"))
    # "one-sentence_summary": ICLR 2021's name for the TL;DR (API v1).
    tldr = fields.text(_value(content, "TLDR", "TL;DR", "tldr", "one-sentence_summary"))
    primary_area = fields.text(_value(content, "primary_area"))
    venueid = fields.text(_value(content, "venueid"))
    pdf = fields.text(_value(content, "pdf"))
    # A PDF stored on OpenReview is a path ("/pdf/<sha>.pdf"); notes imported from DBLP or ORCID
    # link the paper where it lives (arXiv, a publisher) and have no PDF on OpenReview.
    external_pdf = safe_url(pdf) if pdf and pdf.startswith(("http://", "https://")) else None
    # An arXiv link in the note's own fields lets the paper merge with its preprint, and a doi.org
    # page (an imported journal paper's "html") with its journal entry.
    links = [fields.text(_value(content, key)) for key in ("arxiv", "arXiv", "preprint", "code", "html")]
    arxiv = next(filter(None, map(find_arxiv_id, [*links, external_pdf])), None)
    html = links[-1]
    doi = find_doi(html) if html and urlsplit(html).hostname in _DOI_HOSTS else None
    venue = to_text(fields.text(_value(content, "venue")) or "") or None
    if venue is not None and venue.casefold() == plain_title.casefold():
        venue = None  # ORCID imports ("OpenReview.net/Public_Article") repeat the title as their venue
    signals: dict[str, Any] = {"venueid": (to_text(venueid) or None) if venueid else None,
                               "number": fields.integer(note.get("number"))}
    return PaperRecord(
        source_kind=KIND,
        external_id=forum,
        title=title,
        title_original=plain_title if plain_title != title else None,
        authors=authors,
        abstract=to_text(fields.text(_value(content, "abstract")) or ""),
        tldr=to_text(tldr) if tldr else None,
        keywords=_keywords(_value(content, "keywords")),
        categories=(to_text(primary_area).replace("_", " "),) if primary_area else (),
        arxiv_id=arxiv[0] if arxiv else None,
        doi=doi,
        openreview_id=forum,
        url=forum_url(forum),
        pdf_url=external_pdf or (f"{SITE}/pdf?id={note_id}" if pdf else None),
        code_url=safe_url(fields.text(_value(content, "code"))),
        published=_first_time(note, "pdate", "odate", "cdate", "tcdate"),
        updated=_first_time(note, "mdate", "tmdate"),
        venue=venue,
        signals={k: v for k, v in signals.items() if v is not None},
    )


def _first_time(note: dict[str, Any], *names: str) -> datetime | None:
    # API v1 notes often have no cdate/mdate (null), only the true creation/modification times.
    return next((t for name in names if (t := fields.timestamp(note.get(name), millis=True))), None)


_KEYWORD_SEPARATORS = re.compile(r"\s*[,;]\s*")


def _keywords(value: Any) -> tuple[str, ...]:
    """Keywords as a tuple, one per term, first spelling of each kept.

    API v1 venues (and authors typing into one box) give one comma- or semicolon-separated string,
    as the whole field or as a list item.
    """
    out: dict[str, str] = {}
    for item in fields.strings(value):
        for keyword in _KEYWORD_SEPARATORS.split(to_text(item)):
            if keyword:
                out.setdefault(keyword.casefold(), keyword)
    return tuple(out.values())


def _authors(value: Any) -> tuple[str, ...]:
    """Author names as plain text; a single string ("A, B and C") is a list written out. A blind
    submission's placeholder ("Anonymous", API v1) names nobody. Notes imported from ORCID and some
    workshops list people as objects: ``{"fullname": ..., "username": "~Profile1", "institutions": [...]}``."""
    if isinstance(value, list):
        value = [a.get("fullname") or a.get("name") if isinstance(a, dict) else a for a in value]
    names = split_authors(to_text(value)) if isinstance(value, str) else [to_text(a) for a in fields.strings(value)]
    return tuple(name for name in names if name and name.lower() not in _PLACEHOLDER_AUTHORS)


#: The hosts of a DOI's web address ("https://doi.org/10.1109/...").
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})
#: What blind submissions show instead of their authors.
_PLACEHOLDER_AUTHORS = frozenset({"anonymous", "anonymous authors", "anonymous author(s)"})
