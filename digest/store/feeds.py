"""Configured feeds and their fetch state: conditional-GET validators, health, back-off.

Health of a feed after a fetch (``FeedState.health``, stored in ``feeds.last_status``):

* ``ok`` — entries arrived; ``empty`` — a valid feed with no entries (non-arXiv);
* ``quiet`` — an arXiv feed with no entries (weekend, holiday: arXiv publishes empty feeds then);
* ``stale`` — an arXiv RSS feed showing the same batch as before although a new listing was due
  (see :mod:`digest.sources.arxiv_calendar`), or an empty one dated before the listing due (the
  weekend's empty feed still served on Monday morning by a lagging rebuild or cache: quiet would
  move ``last_success`` past Monday's listing, which no later poll shows); retried sooner, and
  ``last_success`` is not moved so the next fetch is judged against the same moment;
* ``not-modified`` — 304 on a non-arXiv feed; ``error`` — fetch/parse failed; ``never`` — not tried.

Failures back off exponentially (:data:`FAILURE_BACKOFF` doubling per consecutive failure, capped
at :data:`MAX_BACKOFF` or the feed's interval if longer), never sooner than a server's Retry-After
(itself read as at most :data:`MAX_RETRY_AFTER`).

Validators: a 200 replaces both ETag and Last-Modified; a 304 replaces only those it carries
(RFC 9111 §4.3.4). An empty arXiv feed (quiet or stale) is no batch: it keeps the last batch's identity, so
Friday's batch still served on Monday is judged stale.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Table, func, insert, or_, select, update

from digest.config import FeedSettings
from digest.errors import NotFoundError
from digest.models import SOURCE_KINDS, FeedState
from digest.sources.arxiv_calendar import EASTERN, expected_batch_changed, is_announcement_day, shows_current_listing
from digest.store.base import StoreBase
from digest.store.schema import FeedRow, PaperSourceRow

_F: Table = FeedRow.__table__  # type: ignore[assignment]
_S: Table = PaperSourceRow.__table__  # type: ignore[assignment]

FAILURE_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=24)
STALE_RETRY = timedelta(minutes=30)
#: The longest Retry-After honoured (a week, as digest.fetch reads it).
MAX_RETRY_AFTER = timedelta(days=7)
#: Kinds whose feed is one daily batch on arXiv's calendar.
ARXIV_BATCH_KINDS = frozenset({"arxiv-rss"})
_FETCH_OUTCOMES = frozenset({"ok", "empty", "not-modified", "error"})


def _options(feed: FeedSettings) -> dict[str, Any]:
    return {"categories": list(feed.categories), "venue": feed.venue, "server": feed.server}


def failure_delay(failures: int, interval: timedelta, retry_after: float | None) -> timedelta:
    """When to try again after ``failures`` consecutive failures (>= 1), honouring a Retry-After."""
    cap = max(MAX_BACKOFF, interval)
    # Doubling stops once past the cap: 2 ** failures alone would overflow timedelta after ~40 failures.
    doublings = min(failures - 1, max(0, math.ceil(math.log2(cap / FAILURE_BACKOFF))))
    delay = min(FAILURE_BACKOFF * 2 ** doublings, cap)
    if retry_after is not None and retry_after > 0:  # NaN fails the comparison too
        delay = max(delay, timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())))
    return delay


def judge_health(kind: str, outcome: str, *, same_batch: bool, prev_success: datetime | None,
                 now: datetime, feed_date: datetime | None = None) -> str:
    """The health word for one fetch outcome (see module docstring). A same batch dated as the
    listing due now (``feed_date``, the feed's pubDate) is current, not stale: a poll shortly after
    midnight read it before the grace hour the calendar waits for. An empty feed is quiet when it is
    dated as the listing due now or later (or carries no date) or on a day without a listing (US
    Eastern), stale when dated before the listing due on a day that has one."""
    if outcome == "error":
        return "error"
    if kind in ARXIV_BATCH_KINDS:
        if outcome == "empty":
            # On a day with a listing (a lagging cache still serving the weekend's empty feed on
            # Monday); on a weekend or holiday an empty feed is what arXiv serves, whatever its date.
            lagging = feed_date is not None and not shows_current_listing(feed_date, now)
            return "stale" if lagging and is_announcement_day(now.astimezone(EASTERN).date()) else "quiet"
        if (outcome == "not-modified" or same_batch) and expected_batch_changed(prev_success, now):
            if feed_date is not None and shows_current_listing(feed_date, now):
                return "ok"
            return "stale"
        return "ok"
    return outcome


class FeedStore(StoreBase):
    """Feeds from the config and what happened the last time each was fetched."""

    def sync_feeds(self, feeds: list[FeedSettings]) -> None:
        """Upsert feeds from the config by name; feeds no longer configured are disabled, not deleted."""
        with self.write() as conn:
            existing = {r.name: r for r in conn.execute(select(_F))}
            for feed in feeds:
                values = {"kind": feed.kind, "url": feed.url, "options": _options(feed),
                          "interval_seconds": feed.interval, "enabled": True}
                old = existing.get(feed.name)
                if old is None:
                    conn.execute(insert(_F).values(name=feed.name, consecutive_failures=0, **values))
                    continue
                if old.url != feed.url or old.kind != feed.kind or old.options != values["options"]:
                    # A different resource: old validators and batch identity no longer apply, nor do
                    # the old one's failures (its health is "never" until the new one is fetched, now).
                    values.update(etag=None, last_modified=None, last_batch_hash=None, next_attempt=None,
                                  consecutive_failures=0, last_error=None, last_status=None)
                elif feed.interval < old.interval_seconds and old.last_attempt and old.next_attempt \
                        and not old.consecutive_failures:
                    # A shorter interval counts from the last poll, not from where the old one put the
                    # next (a day away for "1d" -> "1h"); a failing feed keeps its back-off.
                    values["next_attempt"] = min(old.next_attempt, old.last_attempt + timedelta(seconds=feed.interval))
                conn.execute(update(_F).where(_F.c.id == old.id).values(**values))
            gone = set(existing) - {f.name for f in feeds}
            if gone:
                conn.execute(update(_F).where(_F.c.name.in_(sorted(gone))).values(enabled=False))

    def _counts(self, conn: Connection, names: list[str]) -> dict[str, int]:
        """Papers delivered by each of the feeds ``names``. Every source kind is named so SQLite
        searches the unique index (source_kind, feed_name, external_id) for just these feeds; by
        feed name alone it would read every via of every feed, a bulk import's included, at each
        poll (https://www.sqlite.org/optoverview.html#the_skip_scan_optimization needs ANALYZE)."""
        if not names:
            return {}
        rows = conn.execute(select(_S.c.feed_name, func.count(func.distinct(_S.c.paper_id)))
                            .where(_S.c.source_kind.in_(SOURCE_KINDS), _S.c.feed_name.in_(names))
                            .group_by(_S.c.feed_name))
        return {name: int(n) for name, n in rows}

    def feed_states(self, *, include_disabled: bool = False) -> list[FeedState]:
        query = select(_F).order_by(_F.c.name)
        if not include_disabled:
            query = query.where(_F.c.enabled.is_(True))
        with self.read() as conn:
            rows = conn.execute(query).all()
            counts = self._counts(conn, [r.name for r in rows])
            return [_state(r, counts.get(r.name, 0)) for r in rows]

    def get_feed_state(self, name: str) -> FeedState:
        with self.read() as conn:
            row = conn.execute(select(_F).where(_F.c.name == name)).first()
            if row is None:
                raise NotFoundError("feed", name)
            return _state(row, self._counts(conn, [name]).get(name, 0))

    def due_feeds(self, now: datetime) -> list[FeedState]:
        """Enabled feeds whose next attempt is not in the future, most overdue first."""
        return sorted((s for s in self.feed_states() if s.next_attempt is None or s.next_attempt <= now),
                      key=lambda s: (s.next_attempt is not None, s.next_attempt or now, s.name))

    def record_fetch(self, name: str, *, now: datetime, outcome: str, etag: str | None = None,
                     last_modified: str | None = None, entry_count: int | None = None,
                     batch_hash: str | None = None, feed_date: datetime | None = None,
                     error: str | None = None, retry_after: float | None = None, complete: bool = True) -> FeedState:
        """Record one fetch: ``outcome`` is ok / empty / not-modified / error. Returns the new state.

        ``complete=False`` (a later page failed, its records unread; or a backfill before the poll
        failed) leaves ``last_success`` where it was: feeds that read back to their previous success
        (the arXiv API's category listings, Hugging Face's days, a backfill) then read those days
        again at the next run. ``error`` then says why (``last_error``), without counting a failure:
        the records read were stored. Nor are the poll's validators and batch kept. ``retry_after``
        (seconds) also delays a poll that went well: a source it needs asked to wait.
        """
        if outcome not in _FETCH_OUTCOMES:
            raise ValueError(f"unknown fetch outcome {outcome!r}")
        with self.write() as conn:
            row = conn.execute(select(_F).where(_F.c.name == name)).first()
            if row is None:
                raise NotFoundError("feed", name)
            interval = timedelta(seconds=row.interval_seconds)
            same = batch_hash is not None and batch_hash == row.last_batch_hash
            # A 304 repeats the batch last read, and so its date.
            dated = feed_date if feed_date is not None or outcome != "not-modified" else row.last_feed_date
            health = judge_health(row.kind, outcome, same_batch=same, prev_success=row.last_success, now=now,
                                  feed_date=dated)
            values: dict[str, Any] = {"last_attempt": now, "last_status": health}
            if health == "error":
                failures = (row.consecutive_failures or 0) + 1
                values.update(last_error=error or "unknown error", consecutive_failures=failures,
                              next_attempt=now + failure_delay(failures, interval, retry_after))
            else:
                delay = min(interval, STALE_RETRY) if health == "stale" else interval
                if retry_after:  # the poll went well, but a source it needs asked us to wait (a backfill's API)
                    delay = max(delay, timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())))
                values.update(last_error=None if complete else error, consecutive_failures=0, next_attempt=now + delay)
                if health != "stale" and complete:
                    values["last_success"] = now
                # An incomplete poll's validators are not kept either: a 304 to the next poll, once
                # the rest is read, would pass for "not modified" (stale) and leave the feed behind.
                values.update(_validators(outcome, etag, last_modified) if complete else {"etag": None,
                                                                                           "last_modified": None})
                if outcome in ("ok", "empty"):
                    values["last_entry_count"] = entry_count
                # An incomplete poll's batch is not remembered: the next poll, once the rest is read,
                # must not pass for "stale" by showing the same batch again.
                if complete and (outcome == "ok" or (outcome == "empty" and row.kind not in ARXIV_BATCH_KINDS)):
                    values["last_batch_hash"] = batch_hash
                if feed_date is not None:
                    values["last_feed_date"] = feed_date
            conn.execute(update(_F).where(_F.c.id == row.id).values(**values))
        return self.get_feed_state(name)


    def defer_feed(self, name: str, until: datetime) -> None:
        """Nothing new is expected from ``name`` before ``until`` (arXiv's next announcement): its next
        attempt moves there, so `digest status` says when it will really be fetched."""
        with self.write() as conn:
            conn.execute(update(_F).where(_F.c.name == name, or_(_F.c.next_attempt.is_(None), _F.c.next_attempt < until))
                         .values(next_attempt=until))

    def record_caught_up(self, name: str, *, now: datetime) -> None:
        """Everything ``name`` had to read up to ``now`` was read another way although its poll failed
        or was stale (a backfill through the source's API up to today): ``last_success`` moves to
        ``now``, so the poll's retries do not read the same days again. The failure or the stale
        health itself stays recorded."""
        with self.write() as conn:
            conn.execute(update(_F).where(_F.c.name == name).values(last_success=now))


def _validators(outcome: str, etag: str | None, last_modified: str | None) -> dict[str, str | None]:
    """The ETag/Last-Modified columns to write: a 304 freshens only the validators it carries (RFC 9111
    §4.3.4); a full response replaces both (one without Last-Modified has none any more)."""
    if outcome == "not-modified":
        return {k: v for k, v in (("etag", etag), ("last_modified", last_modified)) if v is not None}
    if etag is None and last_modified is None:
        return {}  # callers that do not track validators (a local file) leave them alone
    return {"etag": etag, "last_modified": last_modified}


def _state(r: Row[Any], paper_count: int) -> FeedState:
    return FeedState(name=r.name, kind=r.kind, url=r.url, interval_seconds=r.interval_seconds,
                     last_attempt=r.last_attempt, last_success=r.last_success, last_error=r.last_error,
                     consecutive_failures=r.consecutive_failures or 0, next_attempt=r.next_attempt, etag=r.etag,
                     last_modified=r.last_modified, last_entry_count=r.last_entry_count,
                     health=r.last_status or "never", paper_count=paper_count)
