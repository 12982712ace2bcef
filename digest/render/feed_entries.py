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

``<host>`` is the host of ``[web] base_url``. Entries are newest first (trending: best first), at most
``limit``. An entry's time is when it last changed for its feed: when it entered it (a match, a
tag, a trending signal fetched) or when the paper got a new version; a source's date still ahead of
now (a journal dating its next issue ahead, a mistyped year) is not a change yet, so no feed claims a
time later than the moment it is rendered (RFC 9110 §8.8.2.1 for Last-Modified, RFC 4287 §3.3).

Where a feed is served (its self link): :func:`feed_location`, for ``digest feed`` and ``digest feeds
export`` alike: a private feed at its owner's URL from ``digest.tokens.feed_url`` (which the web app
uses for every feed it serves, under the reader's token), a tag or trending feed at the public file
the export writes (named by :func:`feed_file_name`).

Public names: :class:`FeedSpec`, :func:`resolve_feed`, :func:`subscription_feed`, :func:`user_feed`,
:func:`tag_feed`, :func:`trending_feed`, :func:`feed_document`, :func:`feed_location`, :func:`feed_file_name`,
:data:`DEFAULT_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from digest.config import Settings
from digest.digests.trending import trending_papers
from digest.errors import NotFoundError
from digest.models import Paper, Reason, StoredMatch, Subscription
from digest.render.feeds import FeedEntry, render_feed, tag_uri
from digest.text import MutedAuthors
from digest.tokens import feed_url

__all__ = ["FeedSpec", "resolve_feed", "subscription_feed", "user_feed", "tag_feed", "trending_feed",
           "feed_document", "feed_location", "feed_file_name", "DEFAULT_LIMIT", "TRENDING_LIMIT", "FEED_CHANNELS"]

DEFAULT_LIMIT = 100
#: Entries of the trending feed unless a limit is given.
TRENDING_LIMIT = 50
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


def _unmuted(entries: dict[str, FeedEntry], muted: MutedAuthors | None) -> dict[str, FeedEntry]:
    """``entries`` without papers by an author the feed's reader muted (a private feed, like the digest)."""
    if not muted:
        return entries
    return {pid: e for pid, e in entries.items() if not muted.hides(e.paper.authors)}


def _newest_first(entries: dict[str, FeedEntry], limit: int) -> tuple[FeedEntry, ...]:
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    ranked = sorted(entries.values(), key=lambda e: (e.updated or epoch, e.paper.seq, e.paper.id), reverse=True)
    return tuple(ranked[:limit])


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _source_updated(paper: Paper, now: datetime) -> datetime | None:
    """The paper's own update time (a new version), unless it is still ahead of ``now``: a journal
    dating its next issue ahead or a mistyped year is no change we have seen, and a feed's time must
    not be later than the moment it is served (RFC 9110 §8.8.2.1)."""
    return paper.updated if paper.updated is not None and paper.updated <= now else None


def _paper_changed(paper: Paper, now: datetime) -> datetime:
    """When ``paper`` last changed as far as we know: its update time, else when we first saw it."""
    return _source_updated(paper, now) or paper.first_seen or now


def _from_matches(store: Any, matches: list[StoredMatch], limit: int, now: datetime,
                  muted: MutedAuthors | None = None) -> tuple[FeedEntry, ...]:
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
        version = _source_updated(paper, now)
        when = max(updated[pid], version) if version else updated[pid]
        entries[pid] = FeedEntry(paper, tuple(why), when)
    return _newest_first(_unmuted(entries, muted), limit)


def _tag_entries(store: Any, tag: str, limit: int, reason_name: str, now: datetime,
                 muted: MutedAuthors | None = None) -> tuple[FeedEntry, ...]:
    store.get_tag(tag)  # NotFoundError for an unknown tag
    # The store reads the tag's newest papers in the order of _newest_first; pages follow only
    # while muted authors' papers leave the feed short.
    entries: dict[str, FeedEntry] = {}
    offset = 0
    while len(entries) < limit:
        papers = store.papers_with_tag_newest(tag, now=now, limit=limit, offset=offset)
        page = {p.id: FeedEntry(p, (Reason(0, reason_name, 0.0, {}),), _paper_changed(p, now)) for p in papers}
        entries.update(_unmuted(page, muted))
        if len(papers) < limit:
            break
        offset += limit
    return _newest_first(entries, limit)


def subscription_feed(store: Any, settings: Settings, ref: str | int, *, limit: int = DEFAULT_LIMIT,
                      now: datetime | None = None, muted: MutedAuthors | None = None) -> FeedSpec:
    """The feed of one subscription (``ref``: id or ``USER_EMAIL/NAME``), whatever its kind, without
    the authors its user muted (``muted``: given when the caller has them already)."""
    now = _now(now)
    sub: Subscription = store.get_subscription(ref)
    user = store.get_user(sub.user_id)
    if muted is None:
        muted = MutedAuthors(store.muted_authors(user.id))
    name = f"sub-{sub.id}"
    feed_id = tag_uri(_host(settings), f"feed/subscription/{sub.id}")
    title = f"{sub.name} — digest"
    if sub.kind == "tag":
        entries = _tag_entries(store, sub.query, limit, sub.name, now, muted)
    elif sub.kind == "trending":
        entries = _trending_entries(store, now, limit, muted)
    else:
        matches = store.matches(subscription=sub.id, newest_first=True, limit=limit)
        entries = _from_matches(store, matches, limit, now, muted)
    return FeedSpec(name, title, feed_id, entries, user.feed_token, subtitle=f"Papers matching {sub.query or sub.name}")


def user_feed(store: Any, settings: Settings, user_ref: str | int, *, limit: int = DEFAULT_LIMIT,
              now: datetime | None = None) -> FeedSpec:
    """All of a user's feed-channel subscriptions in one feed."""
    now = _now(now)
    user = store.get_user(user_ref)
    subs = [s for s in store.list_subscriptions(user.id) if s.channel in FEED_CHANNELS and not s.paused]
    muted = MutedAuthors(store.muted_authors(user.id))  # once for all of them
    entries: dict[str, FeedEntry] = {}
    for sub in subs:
        for entry in subscription_feed(store, settings, sub.id, limit=limit, now=now, muted=muted).entries:
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


def tag_feed(store: Any, settings: Settings, tag: str, *, limit: int = DEFAULT_LIMIT,
             now: datetime | None = None, muted: MutedAuthors | None = None) -> FeedSpec:
    """Papers of one topic tag (``muted``: the authors a private feed's reader muted)."""
    return FeedSpec(f"tag-{tag}", f"Topic: {tag} — digest", tag_uri(_host(settings), f"feed/tag/{tag}"),
                    _tag_entries(store, tag, limit, f"tag {tag}", _now(now), muted))


def _trending_entries(store: Any, now: datetime | None, limit: int,
                      muted: MutedAuthors | None = None) -> tuple[FeedEntry, ...]:
    """Trending papers, best first. An entry changed when the paper did or when its trending signals
    were last fetched (up to ``now``), whichever is later: a paper first seen days ago that starts
    collecting upvotes enters the feed now, and the feed's time must move with it, or a reader
    asking If-Modified-Since would be told nothing changed."""
    now = _now(now)
    ranked = trending_papers(store, now=now, limit=limit)
    history = store.signal_history([p.id for p, _ in ranked]) if ranked else {}
    entries = []
    for paper, score in ranked:
        if muted and muted.hides(paper.authors):
            continue
        fetched = [point.observed for point in history.get(paper.id, ()) if point.observed <= now]
        entries.append(FeedEntry(paper, (), max([_paper_changed(paper, now), *fetched]), trending=score))
    return tuple(entries)


def trending_feed(store: Any, settings: Settings, *, limit: int = TRENDING_LIMIT,
                  now: datetime | None = None, muted: MutedAuthors | None = None) -> FeedSpec:
    """Trending papers, best first (see digest.digests.trending for the score); ``muted``: the
    authors a private feed's reader muted."""
    return FeedSpec("trending", "Trending papers — digest", tag_uri(_host(settings), "feed/trending"),
                    _trending_entries(store, now, limit, muted), subtitle="Papers people are upvoting now")


def resolve_feed(store: Any, settings: Settings, ref: str, *, limit: int | None = None,
                 now: datetime | None = None) -> FeedSpec:
    """A feed named as on the command line: ``trending``, ``tag:NAME``, ``user:EMAIL``, a
    subscription ``USER_EMAIL/NAME`` or its numeric id. ``limit``: at most that many entries (by
    default each feed's own, as the web app and ``digest feeds export`` serve it)."""
    ref = ref.strip()
    if ref == "trending":
        return trending_feed(store, settings, limit=limit or TRENDING_LIMIT, now=now)
    limit = limit or DEFAULT_LIMIT
    if ref.startswith("tag:"):
        return tag_feed(store, settings, ref[4:], limit=limit, now=now)
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


def feed_file_name(spec: FeedSpec, format: str) -> str:
    """The file name of ``spec`` in ``digest feeds export``: tag names are free text, and quoting
    keeps "/" and friends out of the path ("tag-a%2Fb.atom")."""
    return f"{quote(spec.name, safe='-_.~ ')}.{format}"


def feed_location(settings: Settings, spec: FeedSpec, *, format: str = "atom") -> str:
    """Where ``spec`` is served: its owner's private URL (``digest.tokens.feed_url``), else the public
    file ``digest feeds export`` writes, served at ``<base_url>/feeds/`` (the file name quoted as a
    URL path: "tag-large language models.atom" is ".../tag-large%20language%20models.atom")."""
    if spec.feed_token:
        return feed_url(settings, spec.feed_token, spec.name, format=format)
    return f"{settings.web.base_url.rstrip('/')}/feeds/{quote(feed_file_name(spec, format))}"
