"""Atom 1.0 (RFC 4287) and RSS 2.0 documents for a list of matched papers (issue #4, "Atom and RSS").

Entry ids never come from titles (titles get corrected; ids must not change, RFC 4287 §4.2.6):
arXiv papers use the version-less abstract URL ``https://arxiv.org/abs/<id>``, everything else a
``tag:`` URI (RFC 4151) minted from the canonical paper id under the install's host name.

Every value comes from a feed and is escaped by jinja's XML autoescape; the HTML ``content`` /
``description`` is built from escaped values and then escaped again as element text, so readers
that render it see our markup only. Characters XML 1.0 forbids (C0 controls, U+FFFE/FFFF, lone
surrogates) are dropped, since one of them makes the whole document unreadable (§2.2 of XML 1.0).

Public names: :class:`FeedEntry`, :func:`render_feed`, :func:`entry_id`, :func:`tag_uri`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from digest.models import SOURCE_LABELS, Paper, Reason
from digest.render.reasons import reason_terms
from digest.resources import templates_dir
from digest.sanitize import safe_url
from digest.text import collapse_ws

__all__ = ["FeedEntry", "render_feed", "entry_id", "tag_uri"]

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
#: The date part of our tag: URIs (RFC 4151 §2.1: a date on which the authority owned the name).
TAG_DATE = "2024"
_MAX_AUTHORS = 25


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
    """The permanent id of ``paper`` in every feed we write (see the module docstring)."""
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return tag_uri(authority, f"paper:{paper.id}")


def _clean(value: Any) -> Any:
    """jinja ``finalize``: drop characters XML 1.0 cannot carry from every printed value."""
    if isinstance(value, Markup):
        return Markup(_XML_INVALID.sub("", str(value)))
    if isinstance(value, str):
        return _XML_INVALID.sub("", value)
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
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(value: datetime) -> str:
    return format_datetime(_utc(value), usegmt=True)


def _entry_updated(entry: FeedEntry, fallback: datetime) -> datetime:
    p = entry.paper
    return entry.updated or p.updated or p.first_seen or p.published or fallback


def _view(entry: FeedEntry, authority: str, fallback: datetime) -> dict[str, Any]:
    p = entry.paper
    labels = dict.fromkeys(SOURCE_LABELS.get(v.source_kind, v.source_kind) for v in p.sources)
    why = [{"name": collapse_ws(r.subscription), "terms": reason_terms(p, r)} for r in entry.reasons]
    ident = entry_id(p, authority)
    return {
        "id": ident,
        "is_permalink": ident.startswith("https://"),
        "title": collapse_ws(p.title),
        "link": safe_url(p.abs_url),
        "pdf": safe_url(p.pdf_url),
        "code": safe_url(p.code_url),
        "authors": list(p.authors[:_MAX_AUTHORS]),
        "more_authors": max(len(p.authors) - _MAX_AUTHORS, 0),
        "summary": p.tldr or p.abstract,
        "abstract": p.abstract,
        "tldr": p.tldr,
        "categories": list(dict.fromkeys(p.categories)),
        "via": ", ".join(labels),
        "why": why,
        "trending": bool(entry.trending),
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
