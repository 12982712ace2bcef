"""Atom 1.0 (RFC 4287) and RSS 2.0 documents for a list of matched papers (issue #4, "Atom and RSS").

Entry ids never come from titles (titles get corrected; ids must not change, RFC 4287 §4.2.6):
a paper whose canonical id is an arXiv one (``arxiv:<id>``) uses the version-less abstract URL
``https://arxiv.org/abs/<id>``, everything else a ``tag:`` URI (RFC 4151) minted from its canonical
paper id under the install's host name. Both come from the canonical id, which a paper keeps for
good: a journal paper that later gains an arXiv id (its preprint merged into it) keeps its tag: id,
or readers would show it twice.

Every value comes from a feed and is escaped by jinja's XML autoescape; the HTML ``content`` /
``description`` is built from escaped values and then escaped again as element text, so readers
that render it see our markup only. Characters XML 1.0 forbids (C0 controls, U+FFFE/FFFF, lone
surrogates) are dropped from every printed value, since one of them makes the whole document
unreadable (§2.2 of XML 1.0); feed text also has its bidi overrides closed
(:func:`digest.sanitize.display_text`). Dates are RFC 3339 with four-digit years (RFC 4287 §3.3),
links pass :func:`digest.sanitize.safe_url` (absolute, RFC 4287 §4.2.7.1 IRIs), and an entry
without a title or with an empty category gets a placeholder title or loses the category
(§4.1.2: atom:title is required; §4.2.2.2: the term attribute too).

Public names: :class:`FeedEntry`, :func:`render_feed`, :func:`entry_id`, :func:`tag_uri`, :data:`UNTITLED`,
and what every rendering of a paper shares: :func:`via_line`, :func:`clip`, :func:`word_prefix`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from digest.digests.select import is_trending
from digest.models import Paper, Reason
from digest.render.reasons import reason_terms
from digest.resources import templates_dir
from digest.sanitize import XML_INVALID, display_line, display_text, safe_url
from digest.text import collapse_ws

__all__ = ["FeedEntry", "render_feed", "entry_id", "tag_uri", "UNTITLED", "via_line", "clip", "word_prefix"]

#: The date part of our tag: URIs (RFC 4151 §2.1: a date on which the authority owned the name).
TAG_DATE = "2024"
_MAX_AUTHORS = 25
#: An entry's title when the paper has none we can print (RFC 4287 §4.1.2 requires one).
UNTITLED = "(untitled)"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One paper in a feed, with why it is there and when it last changed for this feed."""

    paper: Paper
    reasons: tuple[Reason, ...] = ()
    updated: datetime | None = None
    trending: float | None = None


def tag_uri(authority: str, specific: str) -> str:
    """``tag:example.org,2024:<specific>``; ``specific`` is percent-encoded where RFC 3986 requires."""
    return f"tag:{authority.lower()},{TAG_DATE}:{quote(specific, safe=':/@!$&()*+,;=-._~')}"


def entry_id(paper: Paper, authority: str) -> str:
    """The permanent id of ``paper`` in every feed we write (see the module docstring): from its
    canonical id, never from ``arxiv_id``, which a journal or bioRxiv paper gains when its preprint
    merges into it."""
    arxiv = paper.id.removeprefix("arxiv:") if paper.id.startswith("arxiv:") else None
    if arxiv:
        # quote(): an arXiv id is "2401.00001" or "hep-th/9901001", unchanged; anything else a
        # source let through must still make an IRI (RFC 4287 §4.2.6).
        return f"https://arxiv.org/abs/{quote(arxiv, safe='/')}"
    return tag_uri(authority, f"paper:{paper.id}")


def _clean(value: Any) -> Any:
    """jinja ``finalize``: drop characters XML 1.0 cannot carry from every printed value."""
    if isinstance(value, Markup):
        return Markup(XML_INVALID.sub("", str(value)))
    if isinstance(value, str):
        return XML_INVALID.sub("", value)
    return value


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), autoescape=True, finalize=_clean,
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["rfc3339"] = _rfc3339
    env.filters["rfc822"] = _rfc822
    return env


def _utc(value: datetime) -> datetime:
    return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value).astimezone(timezone.utc)


def _rfc3339(value: datetime) -> str:
    """RFC 3339 §5.6 ``date-time`` in UTC. Four-digit years always: ``strftime("%Y")`` writes year 5
    as "5" on glibc, and feeds do carry dates like 0005-01-01."""
    try:
        u = _utc(value)
    except OverflowError:  # an aware time at 0001-01-01 whose UTC falls before year 1
        u = value.replace(tzinfo=timezone.utc)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def _rfc822(value: datetime) -> str:
    """RFC 822 §5 (RFC 5322 §3.3) date as RSS 2.0 requires for pubDate and lastBuildDate."""
    try:
        u = _utc(value)
    except OverflowError:
        u = value.replace(tzinfo=timezone.utc)
    return format_datetime(u, usegmt=True)


def word_prefix(text: str, limit: int) -> str:
    """The start of ``text`` (longer than ``limit``) cut at a word to at most ``limit`` characters,
    with no trailing space or ",;:"; cut inside a word only when a first word longer than half of
    ``limit`` would leave too little."""
    cut = text[:limit]
    if not text[limit].isspace():
        word = cut.rsplit(" ", 1)[0]
        cut = word if len(word) > limit // 2 else cut
    return cut.rstrip(" ,;:")


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word to at most ``limit`` characters and " …" (the usual text is shorter)."""
    return text if len(text) <= limit else word_prefix(text, limit) + " …"


#: Longest journal reference or venue a "via" line shows.
VENUE_CHARS = 120


def via_line(paper: Paper) -> str:
    """What follows "via" wherever a paper is shown (email, digest page, feeds, listings): its
    sources, then where it appeared when a source said so: "OpenReview · ICLR 2025 Oral",
    "arXiv, Hugging Face · Phys. Rev. D 110, 123456 (2024)". Display-safe, on one line."""
    sources = display_line(", ".join(dict.fromkeys(via.label for via in paper.sources)))
    venue = display_line(clip(display_line(paper.journal_ref or paper.venue or ""), VENUE_CHARS))
    return f"{sources} · {venue}" if sources and venue else sources or venue


def _entry_updated(entry: FeedEntry, fallback: datetime) -> datetime:
    p = entry.paper
    return entry.updated or p.updated or p.first_seen or p.published or fallback


def _view(entry: FeedEntry, authority: str, fallback: datetime) -> dict[str, Any]:
    p = entry.paper
    why = [{"name": display_line(r.subscription), "terms": reason_terms(p, r)} for r in entry.reasons]
    ident = entry_id(p, authority)
    abstract, tldr = display_text(p.abstract), display_text(p.tldr) if p.tldr else None
    return {
        "id": ident,
        "is_permalink": ident.startswith("https://"),
        "title": display_line(p.title) or UNTITLED,
        "link": safe_url(p.abs_url),
        "pdf": safe_url(p.pdf_url),
        "code": safe_url(p.code_url),
        "openreview": p.openreview_url,
        "authors": [name for name in map(display_line, p.authors[:_MAX_AUTHORS]) if name],
        "more_authors": max(len(p.authors) - _MAX_AUTHORS, 0),
        "summary": tldr or abstract,
        "abstract": abstract,
        "tldr": tldr,
        "categories": [term for term in dict.fromkeys(map(display_line, p.categories)) if term],
        "via": via_line(p),
        "why": why,
        "trending": is_trending(entry.trending),  # the digest's bar for the badge
        "updated": _entry_updated(entry, fallback),
        "published": p.published or p.first_seen,
    }


def render_feed(entries: Sequence[FeedEntry], *, title: str, feed_id: str, self_url: str,
                format: Literal["atom", "rss"] = "atom", updated: datetime | None = None,
                alternate_url: str | None = None, subtitle: str | None = None) -> bytes:
    """The feed document as UTF-8 bytes.

    ``feed_id`` is the permanent feed id (RFC 4287 §4.2.6; see digest.render.feed_entries for how
    ours are minted), ``self_url`` where the document is served (``link rel="self"``), ``updated``
    the feed's last change (default: the newest entry, else now).
    """
    if format not in ("atom", "rss"):
        raise ValueError(f"unknown feed format {format!r}")
    now = datetime.now(timezone.utc)
    authority = urlsplit(self_url).hostname or "localhost"
    views = [_view(e, authority, updated or now) for e in entries]
    feed_updated = updated or max((v["updated"] for v in views), default=now)
    template = _env().get_template(f"feeds/{format}.xml")
    text = template.render(
        title=collapse_ws(title), feed_id=feed_id, self_url=self_url,
        alternate_url=safe_url(alternate_url) if alternate_url else None,
        subtitle=collapse_ws(subtitle) if subtitle else None,
        updated=feed_updated, entries=views,
    )
    return text.encode("utf-8")
