"""SQLAlchemy 2.x typed table definitions: the whole schema of digest.

Only ``digest.store`` imports this module. Migrations in ``digest/store/migrations`` must match it
(a test compares ``alembic upgrade head`` with these models).

Sequence numbers: ``paper_events.seq`` is the ingest sequence (issue #2). Every new paper and every
new version of a known paper appends one event; downstream stages keep watermarks on it, never on
dates, so nothing is missed or repeated when clocks, time zones or feeds disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false
from sqlalchemy.types import TypeDecorator

# SQLite stores INTEGER PRIMARY KEY as rowid only for "INTEGER", not "BIGINT".
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ISO text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        from datetime import timezone
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import timezone
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class PaperRow(Base):
    __tablename__ = "papers"
    # Fuzzy-merge blocking (digest.store.papers): every record asks for candidates by first author
    # and by the hash of its exact title key (a source that drops or reorders the first author still
    # meets the paper); an arXiv record only among papers without an arXiv id (``arxiv_id IS NULL``),
    # which the author index's second column answers from the index alone. Migrations 0002 and 0003.
    __table_args__ = (Index("ix_papers_author_arxiv", "first_author_key", "arxiv_id"),)
    id: Mapped[str] = mapped_column(String(300), primary_key=True)  # canonical id
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    doi: Mapped[str | None] = mapped_column(String(255), unique=True)
    openreview_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    title_original: Mapped[str | None] = mapped_column(Text)
    #: normalised title (folded, punctuation dropped), compared in Python among the merge candidates
    title_key: Mapped[str] = mapped_column(String(500))
    #: merge.title_hash(title_key): exact-title candidates are looked up by it (a small index, where
    #: one of the keys themselves slowed a large import down; see merge.title_hash)
    title_hash: Mapped[int] = mapped_column(Integer, index=True, default=0, server_default="0")
    #: folded surname of the first author: the blocking key for fuzzy title merging
    first_author_key: Mapped[str] = mapped_column(String(120), default="")
    authors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    abstract: Mapped[str] = mapped_column(Text, default="")
    tldr: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None]
    updated: Mapped[datetime | None]
    version: Mapped[int | None] = mapped_column(Integer)
    license: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime]
    seq: Mapped[int] = mapped_column(BigId, index=True, default=0)


class PaperSourceRow(Base):
    """One "via": the paper reached us through this source/feed under this external id."""

    __tablename__ = "paper_sources"
    __table_args__ = (UniqueConstraint("source_kind", "feed_name", "external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    source_kind: Mapped[str] = mapped_column(String(32))
    feed_name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(500))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    announce_type: Mapped[str | None] = mapped_column(String(32))
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PaperAliasRow(Base):
    """Another name of a paper that is not one of its identifier columns: a bioRxiv preprint's
    published-journal DOI, or the DOI of a record merged into a paper that already had another.
    A record carrying the alias, from any source, resolves to the paper (migration 0003)."""

    __tablename__ = "paper_aliases"
    alias: Mapped[str] = mapped_column(String(300), primary_key=True)  # canonical form: "doi:10.1038/..."
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime]


class PaperEventRow(Base):
    """The ingest sequence: one row per new paper or new version."""

    __tablename__ = "paper_events"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "new" | "version"
    version: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime]


class SignalRow(Base):
    """Time series of source signals (upvotes, comments, stars) for trending velocity."""

    __tablename__ = "paper_signals"
    __table_args__ = (Index("ix_paper_signals_paper_time", "paper_id", "observed"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    source_kind: Mapped[str] = mapped_column(String(32))
    observed: Mapped[datetime]
    upvotes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    stars: Mapped[int | None] = mapped_column(Integer)


class FeedRow(Base):
    __tablename__ = "feeds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # categories, venue, server
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_attempt: Mapped[datetime | None]
    last_success: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(32))  # ok/empty/quiet/stale/error/not-modified
    last_entry_count: Mapped[int | None] = mapped_column(Integer)
    #: hash of the sorted entry ids of the last batch: the same batch on an announcement day = stale
    last_batch_hash: Mapped[str | None] = mapped_column(String(64))
    last_feed_date: Mapped[datetime | None]


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    hour: Mapped[int] = mapped_column(Integer, default=7)
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    #: unguessable token in private feed URLs; rotating it revokes old feed links
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    #: bumped to revoke every signed link (unsubscribe, feedback, sign-in) issued before
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="cli")  # config | cli | web | import
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    send_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    show_updates: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the user unsubscribed from everything themselves (a link or the web): re-applying the config
    #: does not make them active again; resuming clears it (migration 0004)
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created: Mapped[datetime]


class UsedTokenRow(Base):
    """Credentials already spent (migration 0004): a sign-in link signs in once, a signed-out session
    is over, an unsubscribe request mailed in is honoured once. ``key`` is the SHA-256 of the
    credential's identity (a sign-in link's decoded content, a session's id, a mailed request's user
    and message), never anything that signs in; rows go once the credential has expired anyway."""

    __tablename__ = "used_tokens"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires: Mapped[datetime]


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: "query" (saved query), "tag" (topic tag by name), "user-tag" (more like my labelled papers),
    #: "trending" (daily trending papers)
    kind: Mapped[str] = mapped_column(String(16), default="query")
    query: Mapped[str] = mapped_column(Text, default="")
    every: Mapped[str] = mapped_column(String(8), default="daily")
    channel: Mapped[str] = mapped_column(String(8), default="both")
    threshold: Mapped[float | None] = mapped_column(Float)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(16), default="cli")
    created: Mapped[datetime]


class TagRow(Base):
    """Topic tags: named queries from config applied to every paper."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16), default="config")


class PaperTagRow(Base):
    __tablename__ = "paper_tags"
    __table_args__ = (UniqueConstraint("tag_id", "paper_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SearchPostingRow(Base):
    """The search index (digest.match.search_index): per term, the ingest sequence numbers of the
    papers whose matching document carries it, one row per term and *segment* (one indexing batch),
    packed (see digest.store.search_index). Only ever added to: a posting left by an older version
    of a paper names a sequence number no paper has any more, or a paper that is checked anyway."""

    __tablename__ = "search_postings"
    # Small rows looked up by their key only: on SQLite the table is its primary key's b-tree, as
    # https://www.sqlite.org/withoutrowid.html recommends (a rowid table would store every term twice).
    __table_args__ = {"sqlite_with_rowid": False}
    # Byte order on PostgreSQL too: prefix and fuzzy lookups read key ranges ("t:optimiz" up to
    # "t:optimi{"), which a linguistic collation (en_US, ICU) orders differently ("{" before letters).
    term: Mapped[str] = mapped_column(String(128).with_variant(String(128, collation="C"), "postgresql"),
                                      primary_key=True)
    segment: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    papers: Mapped[bytes] = mapped_column(LargeBinary)


class SearchPendingRow(Base):
    """Papers whose matching document changed without a new ingest sequence number (a record from
    another source filled a field, a new source, a merge): search checks them directly until the
    next indexing pass re-indexes them. ``id`` orders marks, so a pass clears only what it read."""

    __tablename__ = "search_pending"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(String(300))


class UserLabelRow(Base):
    """A user's label on a paper: user tags ("more like this") and "not relevant" signals."""

    __tablename__ = "user_labels"
    __table_args__ = (UniqueConstraint("user_id", "tag", "paper_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(200))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    #: +1 = more like this, -1 = not relevant
    polarity: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime]


class MutedAuthorRow(Base):
    __tablename__ = "muted_authors"
    __table_args__ = (UniqueConstraint("user_id", "author_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author_key: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime]


class MatchRow(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("subscription_id", "paper_id"),
                      Index("ix_matches_sub_seq", "subscription_id", "seq"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ingest sequence of the paper event that produced this match
    seq: Mapped[int] = mapped_column(BigId)
    created: Mapped[datetime]


class WatermarkRow(Base):
    """Named progress markers on the ingest sequence ("match", "tags", "digest:<user>:<period>")."""

    __tablename__ = "watermarks"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    updated: Mapped[datetime | None]


class CorpusStatsRow(Base):
    """The matcher's corpus statistics (document frequencies for IDF) as of ingest sequence ``seq``;
    kept beside the watermark so scores do not depend on which process computed them."""

    __tablename__ = "corpus_stats"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    updated: Mapped[datetime | None]


class OutboxRow(Base):
    """Transactional outbox: one row per (user, period, period key); the unique key makes sending idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("user_id", "period", "period_key"),
                      Index("ix_outbox_status_next", "status", "next_attempt"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))  # daily | weekly | trending
    period_key: Mapped[str] = mapped_column(String(32))  # e.g. 2026-11-24 or 2026-W48-1
    message_id: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(String(320))
    #: the complete RFC 5322 message, so a retry sends the very same bytes
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed|empty
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    seq_from: Mapped[int] = mapped_column(BigId, default=0)
    seq_to: Mapped[int] = mapped_column(BigId, default=0)
    paper_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: what the digest held when it was built, for its web page (digest.digests.record; migration
    #: 0006); NULL in rows recorded before
    contents: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created: Mapped[datetime]
    #: indexed for `digest status`'s last sent time: max() from the index, not a walk over every
    #: row and its stored message (migration 0004)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))


class SentPaperRow(Base):
    """Which papers (and which version) each user was already sent: nothing twice, and "Updated"."""

    __tablename__ = "sent_papers"
    __table_args__ = (UniqueConstraint("user_id", "paper_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    version: Mapped[int | None] = mapped_column(Integer)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    sent: Mapped[datetime]


class WorkItemRow(Base):
    """Units of work for `digest worker` (PostgreSQL scale-out): claimed with FOR UPDATE SKIP LOCKED."""

    __tablename__ = "work_items"
    __table_args__ = (UniqueConstraint("kind", "key"), Index("ix_work_status_lease", "status", "lease_until"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # fetch | match | deliver
    key: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime]
    finished: Mapped[datetime | None]


class JobRunRow(Base):
    """Last run of each scheduler job, for `digest status` and missed-run detection."""

    __tablename__ = "job_runs"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_start: Mapped[datetime | None]
    last_end: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0)
