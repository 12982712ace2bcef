"""What one user's digest for one period holds.

The digest covers the stored matches of the user's subscriptions for that period (``every``) and
channel whose ingest sequence lies above the user's digest watermark (``digest:<user_id>:<period>``)
and at or below the matcher's watermark (``match``): a match the matcher has not finished yet can
never be skipped by a watermark that ran ahead of it. Building changes nothing; the outbox records
the digest and moves the watermark in one transaction (:meth:`digest.store.Store.enqueue_digest`).

Rules, in order:

- one item per paper, carrying every subscription that matched it (reasons, best first);
- papers the user was already sent (or that an earlier digest of the same run takes) are dropped,
  except a newer version of one, which goes to an "Updated" section when the user asked for updates
  (``show_updates``; off by default); a new version's match moves to its event's ingest sequence
  (:meth:`digest.store.Store.save_matches`), so it is above the watermark even when it scores the same;
- papers by a muted author are dropped;
- rank: the best match score, lifted by the paper's trending score (:func:`trending.blend`);
- sections: "Trending in your topics" (matched papers that are trending, :func:`is_trending`, when
  blending), one section per subscription or tag (a paper sits in the section of its best reason),
  "Trending today" for a subscription of kind ``trending``, then "Updated";
- at most ``max_items`` items (:func:`cap_digest`); the rest is counted in ``more_count`` and the
  renderer may move more there to stay under Gmail's clip ("N more" links to the digest's web page,
  which lists them all: `digest send` builds the digest uncapped, caps it for the email and records
  every item, :mod:`digest.digests.record`);
- source status lines from feed health and arXiv's calendar ("arXiv did not announce today",
  "lab-papers failed: HTTP 500"): a failed feed is named with a short reason, never with a URL from
  its error text.

Public: :func:`build_digest`, :func:`cap_digest`, :func:`source_status`, :func:`is_trending`, :data:`MAX_ITEMS`,
:data:`MATCH_WATERMARK`, :data:`TRENDING_STRENGTH`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from digest.digests import trending
from digest.models import Digest, DigestItem, DigestSection, FeedState, Paper, Reason, Subscription, User
from digest.sources.arxiv_calendar import feed_updates
from digest.text import MutedAuthors

#: The matcher's watermark on the ingest sequence (digest.match.run).
MATCH_WATERMARK = "match"
#: Items shown in one digest before "N more"; render trims further to stay under ~102 KB.
MAX_ITEMS = 50
#: Matched papers pulled into "Trending in your topics".
TRENDING_IN_TOPICS = 5
#: Papers in a "Trending today" section (subscription kind "trending").
TRENDING_TODAY = 10
#: How strongly (:func:`trending.strength`, 0 to 1) a paper must trend to be called trending: to be
#: pulled into "Trending in your topics" and to carry the "Trending" badge. ½ is reached at
#: :data:`trending.HALF_STRENGTH` (about 20 fresh upvotes); a paper whose few votes or whose age
#: leave it below is no news, and a badge on every Hugging Face paper would mean nothing.
TRENDING_STRENGTH = 0.5
_QUERY_KINDS = ("query", "tag", "user-tag")
#: Any absolute URL (RFC 3986 scheme, "://", up to the next space) in a feed's error text.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S*")
_REASON_CHARS = 120
_ARXIV_QUIET = "arXiv did not announce today"
_CHANNELS = {"email": ("email", "both"), "feed": ("feed", "both")}


@dataclass
class _Candidate:
    paper_id: str
    reasons: list[Reason] = field(default_factory=list)
    seq: int = 0
    best: float = 0.0
    best_sub: int = 0


def _subscriptions(user: User, period: str, channel: str, subs: Iterable[Subscription]) -> list[Subscription]:
    return [s for s in subs if s.user_id == user.id and s.every == period and s.channel in _CHANNELS[channel]
            and not s.paused]


def is_trending(score: float | None) -> bool:
    """Whether a paper with trending score ``score`` is shown as trending (:data:`TRENDING_STRENGTH`)."""
    return score is not None and trending.strength(score) >= TRENDING_STRENGTH


def source_status(states: Iterable[FeedState], *, start: datetime | None = None,
                  end: datetime | None = None) -> tuple[str, ...]:
    """One human line per feed that did not deliver normally (wording from issue #4).

    Given a digest's period (``start``, ``end``], also "arXiv did not announce today" when an arXiv
    feed is configured and arXiv's calendar put no new listing in that period (a weekend, for a
    reader whose digest follows the European or American morning): known from the calendar
    (:func:`digest.sources.arxiv_calendar.feed_updates`), so it does not wait for the empty weekend
    feed, which the calendar-aware polling never fetches."""
    states = list(states)
    lines: dict[str, None] = {}
    if start is not None and end is not None and any(s.kind.startswith("arxiv") for s in states) \
            and not feed_updates(start, end):
        lines[_ARXIV_QUIET] = None
    for s in states:
        if s.health == "quiet" and s.kind.startswith("arxiv"):
            # Weekends and holidays: arXiv publishes an empty feed; not an error.
            lines[_ARXIV_QUIET] = None
        elif s.health == "stale":
            lines[f"{s.name} feed looked stale; retrying"] = None
        elif s.health == "error":
            lines[f"{s.name} failed: {_short_reason(s.last_error, s.url)}"] = None
    return tuple(lines)


def _short_reason(error: str | None, feed_url: str | None) -> str:
    """A feed's last error as every recipient may read it: without any URL. A fetch error starts
    with the URL fetched, and a private feed's URL carries its access key (``?key=...``, a token
    as user name); `digest status` shows the operator the whole text."""
    text = error or ""
    if feed_url:
        text = text.replace(feed_url, " ")
    text = " ".join(_URL.sub(" ", text).split()).strip(" :;,-")
    return text[:_REASON_CHARS].rstrip() or "the feed could not be fetched"


def _collect(matches: Iterable[Any], subs: dict[int, Subscription]) -> dict[str, _Candidate]:
    found: dict[str, _Candidate] = {}
    for m in matches:
        sub = subs.get(m.subscription_id)
        if sub is None:
            continue
        c = found.setdefault(m.paper_id, _Candidate(m.paper_id))
        c.reasons.append(Reason(m.subscription_id, sub.name, float(m.score), dict(m.explanation or {})))
        c.seq = max(c.seq, int(m.seq))
        if float(m.score) > c.best or not c.best_sub:
            c.best, c.best_sub = float(m.score), m.subscription_id
    for c in found.values():
        c.reasons.sort(key=lambda r: (-r.score, r.subscription))
    return found


def cap_digest(digest: Digest, max_items: int = MAX_ITEMS) -> Digest:
    """``digest`` with its ``max_items`` best-ranked items, sections in their order; the rest are
    added to ``more_count``."""
    everything = [(i.score, n, i) for s in digest.sections for n, i in enumerate(s.items)]
    if len(everything) <= max_items:
        return digest
    keep = {id(i) for _, _, i in sorted(everything, key=lambda t: -t[0])[:max_items]}
    out = []
    for s in digest.sections:
        items = tuple(i for i in s.items if id(i) in keep)
        if items:
            out.append(replace(s, items=items))
    return replace(digest, sections=tuple(out), more_count=digest.more_count + len(everything) - max_items)


def build_digest(store: Any, user: User, period: str, period_key: str, *, now: datetime,
                 include_updates: bool | None = None, trending_blend: bool = True,
                 start: datetime | None = None, end: datetime | None = None,
                 max_items: int | None = MAX_ITEMS, channel: str = "email",
                 subscriptions: list[Subscription] | None = None, feed_states: list[FeedState] | None = None,
                 match_seq: int | None = None, sent_in_run: Mapping[str, int | None] | None = None) -> Digest:
    """The digest ``user`` would get for ``period``/``period_key`` now. Reads only; changes nothing.

    ``include_updates`` None follows ``user.show_updates``. ``start``/``end`` are the period's send
    instants (:class:`digest.digests.periods.DuePeriod`); they default to the day or week before ``now``.
    The digest holds them in the user's time zone: their dates are the user's (the email's label).
    A send run that builds many digests passes what is the same for all of them: the user's
    ``subscriptions`` (all of them; filtered here), the ``feed_states`` (the source status lines,
    :func:`source_status`, also depend on the period) and the matcher's watermark ``match_seq``;
    and ``sent_in_run``, the papers (id -> version) that digests built earlier in the run took for
    this user and that are not recorded yet: they count as sent, so a paper matched by a daily and a
    weekly alert goes in the first digest built only. ``max_items`` None: every item, uncapped (what
    `digest send` records, then caps for the email with :func:`cap_digest`).
    """
    if channel not in _CHANNELS:
        raise ValueError(f"channel {channel!r} is not email or feed")
    updates = user.show_updates if include_updates is None else include_updates
    zone = ZoneInfo(user.timezone)
    end = (end or now).astimezone(zone)
    start = (start or end - timedelta(days=7 if period == "weekly" else 1)).astimezone(zone)
    subs = _subscriptions(user, period, channel, subscriptions if subscriptions is not None
                          else store.list_subscriptions(user.id, active_only=True))
    seq_from = store.digest_watermark(user.id, period)
    seq_to = max(seq_from, store.get_watermark(MATCH_WATERMARK) if match_seq is None else match_seq)

    status = source_status(store.feed_states() if feed_states is None else feed_states, start=start, end=end)

    def empty(status: tuple[str, ...] = ()) -> Digest:
        return Digest(user.id, user.email, user.name, period, period_key, start, end, (), 0, status, seq_from, seq_to)

    if not subs:
        return empty(status)
    by_id = {s.id: s for s in subs if s.kind in _QUERY_KINDS}
    candidates: dict[str, _Candidate] = {}
    if by_id and seq_to > seq_from:
        candidates = _collect(store.matches(user.id, since_seq=seq_from, until_seq=seq_to), by_id)
    trending_subs = [s for s in subs if s.kind == "trending"]
    hot: list[tuple[Paper, float]] = []
    if trending_subs:
        hot = trending.trending_papers(store, now=now, limit=TRENDING_TODAY * 3)

    papers = store.papers_by_ids(list(candidates))
    sent = store.sent_versions(user.id, [*candidates, *(p.id for p, _ in hot)])
    if sent_in_run:
        sent.update(sent_in_run)
    muted = MutedAuthors(store.muted_authors(user.id))
    t_scores = trending.trending_scores(store, papers.values(), now=now) if trending_blend and papers else {}

    fresh: list[DigestItem] = []
    updated: list[DigestItem] = []
    for pid, c in candidates.items():
        paper = papers.get(pid)
        if paper is None or muted.hides(paper.authors):
            continue
        t = t_scores.get(pid)
        score = trending.blend(c.best, t) if t is not None else c.best
        item = DigestItem(paper, tuple(c.reasons), score, t or None, False, c.seq)
        if pid in sent:
            before = sent[pid]
            if updates and paper.version is not None and before is not None and paper.version > before:
                updated.append(DigestItem(paper, item.reasons, score, item.trending, True, c.seq))
            continue
        fresh.append(item)

    sections: list[DigestSection] = []
    shown: set[str] = set()
    if trending_blend:
        rising = sorted((i for i in fresh if is_trending(i.trending)),
                        key=lambda i: (-(i.trending or 0), i.paper.id))[:TRENDING_IN_TOPICS]
        if rising:
            sections.append(DigestSection("Trending in your topics", tuple(rising), "trending"))
            shown.update(i.paper.id for i in rising)
    for sub in subs:
        if sub.id not in by_id:
            continue
        items = sorted((i for i in fresh if i.paper.id not in shown and i.reasons[0].subscription_id == sub.id),
                       key=lambda i: (-i.score, i.paper.id))
        if items:
            sections.append(DigestSection(sub.name, tuple(items), "tag" if sub.kind == "tag" else "subscription", sub.id))
    if trending_subs:
        sub = trending_subs[0]
        today = []
        for paper, t in hot:
            if paper.id in candidates or paper.id in sent or muted.hides(paper.authors):
                continue
            reasons = tuple(Reason(s.id, s.name, t, {"trending": round(t, 3)}) for s in trending_subs)
            today.append(DigestItem(paper, reasons, t, t, False, paper.seq))
            if len(today) == TRENDING_TODAY:
                break
        if today:
            sections.append(DigestSection("Trending today", tuple(today), "trending", sub.id))
    if updated:
        sections.append(DigestSection("Updated", tuple(sorted(updated, key=lambda i: (-i.score, i.paper.id))),
                                      "updated"))
    whole = Digest(user.id, user.email, user.name, period, period_key, start, end, tuple(sections), 0, status,
                   seq_from, seq_to)
    return whole if max_items is None else cap_digest(whole, max_items)
