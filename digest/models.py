"""Frozen value types that cross module boundaries.

Sources produce :class:`PaperRecord` values (one per feed entry) inside a :class:`ParsedFeed`; the
store turns them into rows and hands back :class:`Paper` values. Nothing else builds rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

SourceKind = Literal[
    "arxiv-rss", "arxiv-atom", "arxiv-snapshot", "hf-daily", "openreview", "biorxiv", "rss"
]
SOURCE_KINDS: tuple[str, ...] = (
    "arxiv-rss", "arxiv-atom", "arxiv-snapshot", "hf-daily", "openreview", "biorxiv", "rss"
)

#: Human names of the source kinds ("via arXiv, Hugging Face"); :attr:`Via.label` names one source.
SOURCE_LABELS: dict[str, str] = {
    "arxiv-rss": "arXiv", "arxiv-atom": "arXiv", "arxiv-snapshot": "arXiv",
    "hf-daily": "Hugging Face", "openreview": "OpenReview", "biorxiv": "bioRxiv", "rss": "RSS",
}
#: The servers one "biorxiv" source kind reads (its records' ``signals["server"]``), by their names.
SERVER_LABELS: dict[str, str] = {"biorxiv": "bioRxiv", "medrxiv": "medRxiv"}


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """One paper as one source saw it, already cleaned but not yet merged.

    ``external_id`` is the id within the source (arXiv id without version for arXiv sources, the
    DOI for bioRxiv, the forum id for OpenReview, the entry id/link for RSS). At least one of
    ``arxiv_id``, ``doi``, ``openreview_id`` or ``url`` must be set: the store derives the canonical
    id from the first one present (see :func:`digest.ids.canonical_id`).
    """

    source_kind: str
    external_id: str
    title: str
    authors: tuple[str, ...] = ()
    abstract: str = ""
    tldr: str | None = None
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    arxiv_id: str | None = None
    version: int | None = None
    doi: str | None = None
    openreview_id: str | None = None
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    license: str | None = None
    journal_ref: str | None = None
    venue: str | None = None
    #: arXiv announce type: new / cross / replace / replace-cross (None elsewhere).
    announce_type: str | None = None
    #: Source signals: upvotes, comments, github_stars, organization... (JSON-serialisable values).
    signals: dict[str, Any] = field(default_factory=dict)
    #: Title as the source wrote it, before whitespace/TeX cleanup.
    title_original: str | None = None
    #: Other names of the same work that another source may store it under, in canonical form
    #: (``doi:10.1038/...``): a bioRxiv preprint's published-journal DOI.
    aliases: tuple[str, ...] = ()


FeedStatus = Literal["ok", "empty", "error", "not-modified"]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a source parser made of one document.

    ``status`` is "empty" for a valid feed with no entries (arXiv's weekend feed) and "error" for a
    document that is a feed but says it failed (arXiv's error feed for a bad category, an API error
    entry); ``records`` keeps every good entry even when some entries were broken (``warnings``).
    """

    kind: str
    records: tuple[PaperRecord, ...]
    status: FeedStatus = "ok"
    title: str | None = None
    message: str | None = None
    warnings: tuple[str, ...] = ()
    #: opensearch:totalResults / cursor totals for paged APIs.
    total_results: int | None = None
    #: Date the feed says it was built/announced (arXiv lastBuildDate / pubDate).
    feed_date: datetime | None = None
    #: Why a later page of a paged feed failed, when one did and the pages after it were not read:
    #: the records are kept, and the next run reads from where this one started (``last_success`` stays).
    pages_failed: str | None = None


@dataclass(frozen=True, slots=True)
class Via:
    """One way a stored paper reached us (seed 004's "via")."""

    source_kind: str
    feed_name: str
    external_id: str
    first_seen: datetime
    announce_type: str | None = None
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How a "via ..." line names this source (:func:`via_label`)."""
        return via_label(self.source_kind, self.feed_name, self.signals)


def via_label(source_kind: str, feed_name: str, signals: dict[str, Any] | None) -> str:
    """How a "via ..." line names a source: the server a bioRxiv-kind source read the paper from
    ("medRxiv"); the feed's configured name for a generic feed, whose kind ("RSS") is only its file
    format; else its kind's label ("arXiv", "Hugging Face")."""
    if source_kind == "rss" and feed_name:
        return feed_name
    server = (signals or {}).get("server") if source_kind == "biorxiv" else None
    if isinstance(server, str) and server in SERVER_LABELS:
        return SERVER_LABELS[server]
    return SOURCE_LABELS.get(source_kind, source_kind)


@dataclass(frozen=True, slots=True)
class Paper:
    """A stored, merged paper."""

    id: str
    title: str
    authors: tuple[str, ...]
    abstract: str = ""
    tldr: str | None = None
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    arxiv_id: str | None = None
    version: int | None = None
    doi: str | None = None
    openreview_id: str | None = None
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    license: str | None = None
    journal_ref: str | None = None
    venue: str | None = None
    title_original: str | None = None
    first_seen: datetime | None = None
    #: Highest ingest sequence number of this paper (new paper or new version).
    seq: int = 0
    sources: tuple[Via, ...] = ()

    @property
    def source_names(self) -> tuple[str, ...]:
        """Distinct feed names the paper came through, in first-seen order."""
        seen: dict[str, None] = {}
        for via in self.sources:
            seen.setdefault(via.feed_name, None)
        return tuple(seen)

    @property
    def abs_url(self) -> str | None:
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        if self.doi:
            return f"https://doi.org/{self.doi}"
        return self.url

    @property
    def openreview_url(self) -> str | None:
        """The paper's OpenReview forum (its reviews and discussion), when it has one and
        :attr:`abs_url` is not already that page."""
        if not self.openreview_id:
            return None
        forum = f"https://openreview.net/forum?id={quote(self.openreview_id, safe='')}"
        return None if forum == self.abs_url else forum


@dataclass(frozen=True, slots=True)
class IngestStats:
    """What one ingest of one document did to the store."""

    feed_name: str
    seen: int = 0
    new: int = 0
    new_versions: int = 0
    merged: int = 0
    unchanged: int = 0
    #: What the parser skipped or repaired in the document (bad lines, damaged entries).
    warnings: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return self.new + self.new_versions


@dataclass(frozen=True, slots=True)
class FeedState:
    """Operator-visible state of one configured feed."""

    name: str
    kind: str
    url: str | None
    interval_seconds: int
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_attempt: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_entry_count: int | None = None
    #: ok / empty / quiet / stale / error / never
    health: str = "never"
    paper_count: int = 0


# --- Digests (issue #4): what a user receives for one period ------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is in a digest: one subscription (or tag) that matched it."""

    subscription_id: int
    subscription: str
    score: float
    #: The matcher's explanation: clauses, fields, exact/fuzzy, spans (see digest.match).
    explanation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper: Paper
    reasons: tuple[Reason, ...]
    #: Blended rank score (match score and trending signal).
    score: float
    trending: float | None = None
    #: True when this is a new version of a paper the user was already sent ("Updated" section).
    updated: bool = False
    #: Event sequence number that put the paper in this digest.
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DigestSection:
    title: str
    items: tuple[DigestItem, ...]
    #: "subscription" | "tag" | "trending" | "updated"
    kind: str = "subscription"
    #: The alert whose section this is (its email links "stop this alert"); None for sections no
    #: one alert makes ("Trending in your topics", "Updated").
    subscription_id: int | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """One user's digest for one period; the unit the outbox stores and the feeds are built from."""

    user_id: int
    user_email: str
    user_name: str | None
    period: str  # daily | weekly | trending
    period_key: str  # 2026-11-24 | 2026-W48-1 (the ISO week date of the send day)
    period_start: datetime
    period_end: datetime
    sections: tuple[DigestSection, ...]
    #: Items beyond the size budget, summarised as "N more" with a link.
    more_count: int = 0
    #: Human lines such as "arXiv did not announce today" or "cs.LG feed looked stale; retrying".
    source_status: tuple[str, ...] = ()
    seq_from: int = 0
    seq_to: int = 0

    @property
    def items(self) -> tuple[DigestItem, ...]:
        return tuple(i for s in self.sections for i in s.items)

    @property
    def paper_count(self) -> int:
        return len({i.paper.id for i in self.items}) + self.more_count


# --- Users, subscriptions, tags and stored matches (issue #3) -----------------------------------


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str | None
    timezone: str = "UTC"
    hour: int = 7
    weekday: int = 0
    #: Unguessable token in private feed URLs; rotating it revokes old feed links.
    feed_token: str = ""
    #: Bumped to revoke every signed link issued before.
    token_generation: int = 0
    origin: str = "cli"  # config | cli | web | import
    active: bool = True
    send_empty: bool = False
    show_updates: bool = False
    created: datetime | None = None
    #: The user stopped every digest themselves (an unsubscribe link): re-applying the config or an
    #: import does not start them again.
    unsubscribed: bool = False


SubscriptionKind = Literal["query", "tag", "user-tag", "trending"]
SUBSCRIPTION_KINDS: tuple[str, ...] = ("query", "tag", "user-tag", "trending")


@dataclass(frozen=True, slots=True)
class Subscription:
    """A saved query (or a tag, user tag or trending feed) that one user receives papers for.

    ``query`` holds the query text for kind "query", the topic tag name for "tag" and the user's
    label name for "user-tag"; it is empty for "trending".
    """

    id: int
    user_id: int
    user_email: str
    name: str
    kind: str = "query"
    query: str = ""
    every: str = "daily"  # daily | weekly
    channel: str = "both"  # email | feed | both
    #: None: the matcher's default threshold.
    threshold: float | None = None
    paused: bool = False
    origin: str = "cli"
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Tag:
    """A topic tag: a named query applied to every paper."""

    id: int
    name: str
    query: str
    origin: str = "config"


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """One (subscription, paper) match as the store keeps it."""

    id: int
    user_id: int
    user_email: str
    subscription_id: int
    subscription: str
    paper_id: str
    score: float
    explanation: dict[str, Any]
    seq: int
    created: datetime
