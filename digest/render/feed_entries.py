"""What goes into each feed: entries from stored matches, topic tags and trending, and the feed's
identity (id, title, name in URLs). Shared by ``digest feed``, ``digest feeds export`` and the web.

Feed names (the ``{name}`` of ``/feeds/{feed_token}/{name}.atom``, see digest.tokens) and ids:

=================  ===========================================  ==========================================
feed               name                                         id (RFC 4287 §4.2.6, never changes)
=================  ===========================================  ==========================================
one subscription   ``sub-<id>``                                 ``tag:<host>,2024:feed/subscription/<id>``
a user's feeds     ``all`` (subscriptions with channel          ``tag:<host>,2024:feed/user/<id>``
                   feed or both, not paused)
topic tag          ``tag-<tag name>``                           ``tag:<host>,2024:feed/tag/<name>``
trending           ``trending``                                 ``tag:<host>,2024:feed/trending``
=================  ===========================================  ==========================================

``<host>`` is the host of ``[web] base_url``. Entries are newest first, at most ``limit``.

Public names: :class:`FeedSpec`, :func:`resolve_feed`, :func:`subscription_feed`, :func:`user_feed`,
:func:`tag_feed`, :func:`trending_feed`, :func:`feed_document`, :data:`DEFAULT_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

from digest.config import Settings
from digest.digests.trending import trending_papers
from digest.errors import NotFoundError
from digest.models import Reason, StoredMatch, Subscription
from digest.render.feeds import FeedEntry, render_feed, tag_uri

__all__ = ["FeedSpec", "resolve_feed", "subscription_feed", "user_feed", "tag_feed", "trending_feed",
           "feed_document", "DEFAULT_LIMIT", "FEED_CHANNELS"]

DEFAULT_LIMIT = 100
#: Subscription channels that publish to feeds.
FEED_CHANNELS = ("feed", "both")


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed, ready to render: ``name`` is its last URL segment, ``feed_token`` the owner's (None
    for tag and trending feeds, which belong to nobody)."""

    name: str
    title: str
    feed_id: str
    entries: tuple[FeedEntry, ...]
    feed_token: str | None = None
    subtitle: str | None = None


def _host(settings: Settings) -> str:
    return urlsplit(settings.web.base_url).hostname or "localhost"


def _newest_first(entries: dict[str, FeedEntry], limit: int) -> tuple[FeedEntry, ...]:
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    ranked = sorted(entries.values(), key=lambda e: (e.updated or epoch, e.paper.seq, e.paper.id), reverse=True)
    return tuple(ranked[:limit])


def _from_matches(store: Any, matches: list[StoredMatch], limit: int) -> tuple[FeedEntry, ...]:
    """Entries from stored matches; a paper matched by several subscriptions is one entry with every reason."""
    papers = store.papers_by_ids({m.paper_id for m in matches})
    reasons: dict[str, list[Reason]] = {}
    updated: dict[str, datetime] = {}
    for m in matches:
        if m.paper_id not in papers:
            continue
        reasons.setdefault(m.paper_id, []).append(Reason(m.subscription_id, m.subscription, m.score, m.explanation))
        updated[m.paper_id] = max(updated.get(m.paper_id, m.created), m.created)
    entries = {}
    for pid, why in reasons.items():
        paper = papers[pid]
        # The entry changed when it entered this feed, or later when a new version arrived.
        when = max(updated[pid], paper.updated) if paper.updated else updated[pid]
        entries[pid] = FeedEntry(paper, tuple(why), when)
    return _newest_first(entries, limit)


def _tag_entries(store: Any, tag: str, limit: int, reason_name: str) -> tuple[FeedEntry, ...]:
    store.get_tag(tag)  # NotFoundError for an unknown tag
    papers = store.papers_by_ids(store.papers_with_tag(tag))
    entries = {pid: FeedEntry(p, (Reason(0, reason_name, 0.0, {}),), p.updated or p.first_seen)
               for pid, p in papers.items()}
    return _newest_first(entries, limit)


def subscription_feed(store: Any, settings: Settings, ref: str | int, *, limit: int = DEFAULT_LIMIT,
                      now: datetime | None = None) -> FeedSpec:
    """The feed of one subscription (``ref``: id or ``USER_EMAIL/NAME``), whatever its kind."""
    sub: Subscription = store.get_subscription(ref)
    user = store.get_user(sub.user_id)
    name = f"sub-{sub.id}"
    feed_id = tag_uri(_host(settings), f"feed/subscription/{sub.id}")
    title = f"{sub.name} — digest"
    if sub.kind == "tag":
        entries = _tag_entries(store, sub.query, limit, sub.name)
    elif sub.kind == "trending":
        entries = _trending_entries(store, now, limit)
    else:
        entries = _from_matches(store, store.matches(subscription=sub.id, newest_first=True, limit=limit), limit)
    return FeedSpec(name, title, feed_id, entries, user.feed_token, subtitle=f"Papers matching {sub.query or sub.name}")


def user_feed(store: Any, settings: Settings, user_ref: str | int, *, limit: int = DEFAULT_LIMIT,
              now: datetime | None = None) -> FeedSpec:
    """All of a user's feed-channel subscriptions in one feed."""
    user = store.get_user(user_ref)
    subs = [s for s in store.list_subscriptions(user.id) if s.channel in FEED_CHANNELS and not s.paused]
    entries: dict[str, FeedEntry] = {}
    for sub in subs:
        for entry in subscription_feed(store, settings, sub.id, limit=limit, now=now).entries:
            known = entries.get(entry.paper.id)
            if known is None:
                entries[entry.paper.id] = entry
            else:
                later = max(known.updated, entry.updated) if known.updated and entry.updated else known.updated
                entries[entry.paper.id] = FeedEntry(entry.paper, known.reasons + entry.reasons, later,
                                                    known.trending or entry.trending)
    title = f"{user.name or user.email} — digest"
    return FeedSpec("all", title, tag_uri(_host(settings), f"feed/user/{user.id}"),
                    _newest_first(entries, limit), user.feed_token, subtitle="Every alert delivered as a feed")


def tag_feed(store: Any, settings: Settings, tag: str, *, limit: int = DEFAULT_LIMIT) -> FeedSpec:
    """Papers of one topic tag."""
    return FeedSpec(f"tag-{tag}", f"Topic: {tag} — digest", tag_uri(_host(settings), f"feed/tag/{tag}"),
                    _tag_entries(store, tag, limit, f"tag {tag}"))


def _trending_entries(store: Any, now: datetime | None, limit: int) -> tuple[FeedEntry, ...]:
    now = now or datetime.now(timezone.utc)
    return tuple(FeedEntry(p, (), p.updated or p.first_seen or now, trending=score)
                 for p, score in trending_papers(store, now=now, limit=limit))


def trending_feed(store: Any, settings: Settings, *, limit: int = 50, now: datetime | None = None) -> FeedSpec:
    """Trending papers, best first (see digest.digests.trending for the score)."""
    return FeedSpec("trending", "Trending papers — digest", tag_uri(_host(settings), "feed/trending"),
                    _trending_entries(store, now, limit), subtitle="Papers people are upvoting now")


def resolve_feed(store: Any, settings: Settings, ref: str, *, limit: int = DEFAULT_LIMIT,
                 now: datetime | None = None) -> FeedSpec:
    """A feed named as on the command line: ``trending``, ``tag:NAME``, ``user:EMAIL``, a
    subscription ``USER_EMAIL/NAME`` or its numeric id."""
    ref = ref.strip()
    if ref == "trending":
        return trending_feed(store, settings, now=now)
    if ref.startswith("tag:"):
        return tag_feed(store, settings, ref[4:], limit=limit)
    if ref.startswith("user:"):
        return user_feed(store, settings, ref[5:], limit=limit, now=now)
    if ref.isdigit() or "/" in ref:
        return subscription_feed(store, settings, ref, limit=limit, now=now)
    raise NotFoundError("feed", f"{ref} (use USER_EMAIL/SUBSCRIPTION, an id, tag:NAME, user:EMAIL or trending)")


def feed_document(spec: FeedSpec, *, self_url: str, format: Literal["atom", "rss"] = "atom",
                  alternate_url: str | None = None) -> bytes:
    """Render ``spec``; ``updated`` is the newest entry's time, so an unchanged feed renders the same
    bytes (stable ETag / Last-Modified, and exports that skip unchanged files)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    updated = max((e.updated for e in spec.entries if e.updated), default=epoch)
    return render_feed(spec.entries, title=spec.title, feed_id=spec.feed_id, self_url=self_url, format=format,
                       updated=updated, alternate_url=alternate_url, subtitle=spec.subtitle)
