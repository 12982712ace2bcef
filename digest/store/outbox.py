"""The transactional outbox, the papers each user was sent, and the digest watermarks.

One outbox row per (user, period, period key), with what the digest held for its web page
(``contents``: :mod:`digest.digests.record`). :meth:`OutboxStore.enqueue_digest` writes the row, the
user's ``sent_papers`` and the digest watermark (``digest:<user_id>:<period>``) in one transaction, so
a missed run, a restart or two runs at once never lose or repeat a paper: the unique key turns a
second enqueue of the same period into a no-op, and a digest built from a watermark that moved on
meanwhile is refused instead of repeating papers.

Delivery claims rows with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer
serialises claims) and marks each row right after the server accepted it. A process that dies between
the two leaves one row in "sending"; when its lease expires the row is claimed again and the very same
bytes (same Message-ID) go out once more — the only duplicate the design allows.

Public (through :class:`digest.store.Store`): the methods of :class:`OutboxStore` and the values
:class:`OutboxItem`, :class:`OutboxSummary`, :class:`Enqueue`, :class:`RecordedDigest`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from digest.store.base import StoreBase, utcnow
from digest.store.schema import OutboxRow, SentPaperRow, UserRow, WatermarkRow

_O = cast(Table, OutboxRow.__table__)
_SP = cast(Table, SentPaperRow.__table__)
_W = cast(Table, WatermarkRow.__table__)

STATUSES = ("pending", "sending", "sent", "failed", "empty")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row. ``message`` is None for listings (and after the row was sent)."""

    id: int
    user_id: int
    period: str
    period_key: str
    message_id: str
    subject: str
    recipient: str
    status: str
    attempts: int
    created: datetime
    message: bytes | None = None
    next_attempt: datetime | None = None
    last_error: str | None = None
    smtp_code: int | None = None
    sent_at: datetime | None = None
    seq_from: int = 0
    seq_to: int = 0
    paper_count: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """What `digest status` shows: counts per status and the rows that need attention."""

    counts: dict[str, int]
    #: failed rows and pending rows that already failed once, newest first
    problems: tuple[OutboxItem, ...] = ()
    oldest_pending: datetime | None = None
    last_sent: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Enqueue:
    """One digest to record with :meth:`OutboxStore.enqueue_digests` (arguments of ``enqueue_digest``)."""

    user_id: int
    period: str
    period_key: str
    message_id: str
    subject: str
    recipient: str
    #: None records an empty digest (status "empty")
    message: bytes | None
    paper_ids: tuple[str, ...]
    seq_from: int
    seq_to: int
    versions: tuple[int | None, ...] | None = None
    #: why the message could not be built: the row is recorded "failed" with this reason, for
    #: `digest status` (``message`` is then None)
    error: str | None = None
    #: what the digest held, for its web page (JSON, :func:`digest.digests.record.contents_of`)
    contents: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordedDigest:
    """What the outbox keeps of one digest for its web page (:meth:`OutboxStore.recorded_digest`)."""

    outbox_id: int
    user_id: int
    period: str
    period_key: str
    status: str
    #: the email's subject ("" for a digest recorded empty or failed)
    subject: str
    #: what the digest held (:func:`digest.digests.record.read_contents` reads it); None for a row
    #: recorded before migration 0006
    contents: dict[str, Any] | None


def digest_watermark_name(user_id: int, period: str) -> str:
    return f"digest:{user_id}:{period}"


# Prebuilt with bound parameters: delivery marks every message, one statement compiled once.
_MARK_SENT = update(_O).where(_O.c.id == bindparam("oid")).values(
    status="sent", sent_at=bindparam("at", type_=_O.c.sent_at.type), lease_owner=None, lease_until=None,
    message=None, last_error=None)

_LIST_COLUMNS = [c for c in _O.c if c.name not in ("message", "paper_ids", "contents")]
#: A row with its message, as delivery reads it: the recorded contents (JSON, read back only by the
#: digest's web page) are left in the database rather than parsed for every message sent.
_MESSAGE_COLUMNS = [c for c in _O.c if c.name != "contents"]


def _item(row: Any, *, message: bool) -> OutboxItem:
    m = row._mapping
    return OutboxItem(
        id=m["id"], user_id=m["user_id"], period=m["period"], period_key=m["period_key"],
        message_id=m["message_id"], subject=m["subject"], recipient=m["recipient"], status=m["status"],
        attempts=m["attempts"], created=m["created"], message=m["message"] if message else None,
        next_attempt=m["next_attempt"], last_error=m["last_error"], smtp_code=m["smtp_code"],
        sent_at=m["sent_at"], seq_from=m["seq_from"], seq_to=m["seq_to"],
        paper_count=len(m["paper_ids"] or ()) if "paper_ids" in m else 0,
        lease_owner=m["lease_owner"], lease_until=m["lease_until"])


class OutboxStore(StoreBase):
    _enqueue_cache: dict[str, dict[str, Any]] = {}

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    def _enqueue_statements(self) -> dict[str, Any]:
        """The enqueue statements, built once per dialect with bound parameters: building them with
        inline values for every digest cost ~3 ms of SQLAlchemy work per 75 KB message."""
        found = OutboxStore._enqueue_cache.get(self.dialect)
        if found is not None:
            return found
        # Locked in name order, so two runs enqueueing overlapping batches cannot deadlock.
        lock = select(_W.c.name, _W.c.seq).where(_W.c.name.in_(bindparam("wms", expanding=True))).order_by(_W.c.name)
        if self.dialect == "postgresql":
            lock = lock.with_for_update()
        sent = self._insert(_SP)
        to = bindparam("to", type_=_W.c.seq.type)
        found = {
            "wm_ensure": self._insert(_W).on_conflict_do_nothing(index_elements=["name"]),
            "wm_lock": lock,
            "outbox": self._insert(_O).on_conflict_do_nothing(index_elements=["user_id", "period", "period_key"])
            .returning(_O.c.id, _O.c.user_id, _O.c.period, _O.c.period_key),
            "sent": sent.on_conflict_do_update(index_elements=["user_id", "paper_id"], set_={
                "version": sent.excluded.version, "outbox_id": sent.excluded.outbox_id, "sent": sent.excluded.sent}),
            "wm_advance": update(_W).where(_W.c.name == bindparam("wm")).values(
                seq=case((_W.c.seq < to, to), else_=_W.c.seq),
                updated=bindparam("now", type_=_W.c.updated.type)),
        }
        OutboxStore._enqueue_cache[self.dialect] = found
        return found

    # --- what was already delivered -------------------------------------------------------------

    def digest_watermark(self, user_id: int, period: str) -> int:
        """Ingest sequence up to which the user's ``period`` digests have covered matches."""
        with self.read() as conn:
            seq = conn.execute(select(_W.c.seq).where(_W.c.name == digest_watermark_name(user_id, period))).scalar()
        return int(seq or 0)

    def sent_versions(self, user_id: int, paper_ids: Iterable[str]) -> dict[str, int | None]:
        """paper id -> version last sent to the user, for those of ``paper_ids`` that were sent."""
        ids = list(dict.fromkeys(paper_ids))
        out: dict[str, int | None] = {}
        stmt = select(_SP.c.paper_id, _SP.c.version).where(_SP.c.user_id == user_id)
        with self.read() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(stmt.where(_SP.c.paper_id.in_(ids[i:i + 500]))):
                    out[r.paper_id] = r.version
        return out

    def recorded_digest(self, user_id: int, period_key: str) -> RecordedDigest | None:
        """The digest recorded for ``user_id`` under ``period_key`` (a key names its period: daily
        keys are dates, weekly ones ISO week dates), or None when the outbox holds none."""
        with self.read() as conn:
            row = conn.execute(select(_O.c.id, _O.c.period, _O.c.period_key, _O.c.status, _O.c.subject,
                                      _O.c.contents)
                               .where(_O.c.user_id == user_id, _O.c.period_key == period_key)
                               .order_by(_O.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        return RecordedDigest(int(row.id), user_id, row.period, row.period_key, row.status, row.subject or "",
                              row.contents)

    def prune_digest_contents(self, before: datetime) -> int:
        """Drop the recorded contents (what a digest's web page reads) of digests built before
        ``before``, when their links have expired; the rows stay (their key makes a period's digest
        once-only). Sent messages need no pruning: :meth:`mark_sent` drops their bytes."""
        with self.write() as conn:
            return int(conn.execute(update(_O).where(_O.c.created < before, _O.c.contents.is_not(None))
                                    .values(contents=None)).rowcount or 0)

    def outbox_keys(self, wanted: Iterable[tuple[int, str, str]]) -> set[tuple[int, str, str]]:
        """Which of the (user_id, period, period_key) triples already have an outbox row."""
        wanted = set(wanted)
        if not wanted:
            return set()
        keys = sorted({k for _, _, k in wanted})
        found: set[tuple[int, str, str]] = set()
        with self.read() as conn:
            for r in conn.execute(select(_O.c.user_id, _O.c.period, _O.c.period_key)
                                  .where(_O.c.period_key.in_(keys))):
                t = (r.user_id, r.period, r.period_key)
                if t in wanted:
                    found.add(t)
        return found

    def last_recorded(self, user_ids: Iterable[int]) -> dict[tuple[int, str], datetime]:
        """(user id, period) -> when the user's latest digest of that period was recorded (the newest
        outbox row's ``created``, whatever its status). :func:`digest.digests.periods.after_last_digest`
        compares periods with it: instants, not keys, which change with the user's time zone."""
        ids = sorted(set(user_ids))
        out: dict[tuple[int, str], datetime] = {}
        with self.read() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(select(_O.c.user_id, _O.c.period, func.max(_O.c.created))
                                      .where(_O.c.user_id.in_(ids[i:i + 500]))
                                      .group_by(_O.c.user_id, _O.c.period)):
                    at = _aware(r[2])
                    if at is not None:
                        out[(r.user_id, r.period)] = at
        return out

    # --- enqueue ---------------------------------------------------------------------------------

    def enqueue_digest(self, user_id: int, period: str, period_key: str, message_id: str, subject: str,
                       recipient: str, message: bytes | None, paper_ids: Sequence[str], seq_from: int,
                       seq_to: int, versions: Sequence[int | None] | None = None, *,
                       now: datetime | None = None) -> int | None:
        """Record one digest, the papers it sends and the new watermark in one transaction.

        ``seq_from`` is the watermark the digest was built from and ``seq_to`` the one it covers up to.
        Returns the new outbox id, or None when nothing was written: the (user, period, period key)
        row exists already (a second run, or a concurrent one), or the watermark moved past
        ``seq_from`` meanwhile (another digest of this user and period took those papers; rebuild).
        ``message=None`` records an empty digest (status "empty"): nothing is sent, but the period is
        done and the watermark still advances past the matches that were considered and dropped.
        """
        return self.enqueue_digests([Enqueue(user_id, period, period_key, message_id, subject, recipient, message,
                                             tuple(paper_ids), seq_from, seq_to,
                                             tuple(versions) if versions is not None else None)], now=now)[0]

    def enqueue_digests(self, digests: Sequence["Enqueue"], *, now: datetime | None = None) -> list[int | None]:
        """:meth:`enqueue_digest` for many digests in ONE transaction; an outbox id or None for each.

        Same outcome as enqueueing them one by one in order: a digest whose watermark moved past its
        ``seq_from`` (also by an earlier digest of the batch) or whose (user, period, key) row exists
        gets None and leaves nothing behind. Every statement runs once per batch (executemany), not
        once per digest: per-statement overhead was most of the cost of 10,000 single enqueues.
        """
        now = now or utcnow()
        for d in digests:
            if d.versions is not None and len(d.versions) != len(d.paper_ids):
                raise ValueError("versions and paper_ids differ in length")
        if not digests:
            return []
        q = self._enqueue_statements()
        names = [digest_watermark_name(d.user_id, d.period) for d in digests]
        with self.write() as conn:
            # Make the watermark rows exist (seq 0 means the same as no row), then lock them: two
            # transactions enqueueing for the same user and period queue here (PostgreSQL), or
            # already did at BEGIN IMMEDIATE (SQLite).
            unique = sorted(set(names))
            conn.execute(q["wm_ensure"], [{"name": n, "seq": 0, "updated": now} for n in unique])
            current = {r.name: int(r.seq or 0) for r in conn.execute(q["wm_lock"], {"wms": unique})}
            # Rows that exist already (checked under the watermark locks, which whoever inserts them
            # holds too): they write nothing and, as one by one, do not move the watermark.
            exists = {(r.user_id, r.period, r.period_key) for r in conn.execute(
                select(_O.c.user_id, _O.c.period, _O.c.period_key)
                .where(_O.c.user_id.in_({d.user_id for d in digests}),
                       _O.c.period_key.in_({d.period_key for d in digests})))}
            fresh: list[int] = []
            for n, (d, wm) in enumerate(zip(digests, names)):
                if (d.user_id, d.period, d.period_key) in exists:
                    continue
                exists.add((d.user_id, d.period, d.period_key))
                if current.get(wm, 0) <= d.seq_from:
                    fresh.append(n)
                    current[wm] = max(current.get(wm, 0), d.seq_to)
            ids: dict[tuple[int, str, str], int] = {}
            if fresh:
                rows = conn.execute(q["outbox"], [{
                    "user_id": d.user_id, "period": d.period, "period_key": d.period_key,
                    "message_id": d.message_id, "subject": d.subject, "recipient": d.recipient, "message": d.message,
                    "status": _enqueued_status(d), "last_error": d.error, "attempts": 0, "next_attempt": now,
                    "seq_from": d.seq_from, "seq_to": d.seq_to, "paper_ids": list(d.paper_ids),
                    "contents": d.contents, "created": now}
                    for d in (digests[n] for n in fresh)])
                ids = {(r.user_id, r.period, r.period_key): int(r.id) for r in rows}
            out: list[int | None] = [None] * len(digests)
            sent: dict[tuple[int, str], dict[str, Any]] = {}
            advance: dict[str, int] = {}
            for n in fresh:
                d = digests[n]
                oid = ids.get((d.user_id, d.period, d.period_key))
                if oid is None or oid in out:
                    continue  # the row existed already (another run): nothing of it is written
                out[n] = oid
                versions = d.versions if d.versions is not None else (None,) * len(d.paper_ids)
                for p, v in zip(d.paper_ids, versions):
                    # One row per (user, paper): a later digest of the batch wins, as it would one by one
                    # (and PostgreSQL refuses to upsert one row twice in a statement).
                    sent[(d.user_id, p)] = {"user_id": d.user_id, "paper_id": p, "version": v, "outbox_id": oid,
                                            "sent": now}
                advance[names[n]] = max(advance.get(names[n], 0), d.seq_to)
            if sent:
                conn.execute(q["sent"], list(sent.values()))
            if advance:
                conn.execute(q["wm_advance"], [{"wm": wm, "to": to, "now": now} for wm, to in advance.items()])
        return out

    # --- delivery --------------------------------------------------------------------------------

    def claim_pending(self, now: datetime, limit: int, owner: str, lease_seconds: float = 300) -> list[OutboxItem]:
        """Lease up to ``limit`` rows that are due: pending ones whose next attempt has come, and
        "sending" ones whose lease expired (their sender died). Oldest first. A pending digest of a
        user deactivated since it was built (removed from the config, unsubscribed) is not sent: it
        is marked failed, with that reason, for `digest status`."""
        due = ((_O.c.status == "pending") & ((_O.c.next_attempt.is_(None)) | (_O.c.next_attempt <= now))) | \
              ((_O.c.status == "sending") & (_O.c.lease_until < now))
        pick = select(_O.c.id).where(due).order_by(_O.c.id).limit(limit)
        if self.dialect == "postgresql":
            # Several workers claim side by side without waiting on each other's rows.
            pick = pick.with_for_update(skip_locked=True)
        until = now + timedelta(seconds=lease_seconds)
        with self.write() as conn:
            conn.execute(update(_O).where(_O.c.status == "pending", _O.c.user_id.in_(
                select(UserRow.id).where(UserRow.active.is_(False)))).values(
                status="failed", last_error="not sent: the user was deactivated (removed from the config or unsubscribed)",
                lease_owner=None, lease_until=None))
            ids = [r[0] for r in conn.execute(pick)]
            if not ids:
                return []
            conn.execute(update(_O).where(_O.c.id.in_(ids)).values(
                status="sending", lease_owner=owner, lease_until=until, attempts=_O.c.attempts + 1))
        # Read the rows (their messages: megabytes for a batch) after the commit, outside the write
        # lock that enqueueing processes wait for: they are leased to ``owner`` now and only ``owner``
        # changes them until the lease expires.
        with self.read() as conn:
            rows = conn.execute(select(*_MESSAGE_COLUMNS).where(_O.c.id.in_(ids)).order_by(_O.c.id)).all()
        return [_item(r, message=True) for r in rows]

    def mark_sent(self, outbox_id: int, *, now: datetime | None = None) -> None:
        """The server accepted the message. Its bytes are dropped: a sent row is never sent again and
        10,000 users a day would otherwise keep ~300 MB of mail in the database."""
        with self.write() as conn:
            conn.execute(_MARK_SENT, {"oid": outbox_id, "at": now or utcnow()})

    def mark_retry(self, outbox_id: int, error: str, code: int | None, next_attempt: datetime) -> None:
        with self.write() as conn:
            conn.execute(update(_O).where(_O.c.id == outbox_id).values(
                status="pending", last_error=error[:1000], smtp_code=code, next_attempt=next_attempt,
                lease_owner=None, lease_until=None))

    def mark_failed(self, outbox_id: int, error: str, code: int | None) -> None:
        """Permanent failure (RFC 5321 5yz, or retries exhausted): kept for `digest status`."""
        with self.write() as conn:
            conn.execute(update(_O).where(_O.c.id == outbox_id).values(
                status="failed", last_error=error[:1000], smtp_code=code, lease_owner=None, lease_until=None))

    def release_claims(self, outbox_ids: Iterable[int], owner: str) -> None:
        """Give back rows this owner claimed but did not try (clean shutdown): pending again at once."""
        ids = list(outbox_ids)
        if not ids:
            return
        with self.write() as conn:
            conn.execute(update(_O).where(_O.c.id.in_(ids), _O.c.status == "sending", _O.c.lease_owner == owner)
                         .values(status="pending", lease_owner=None, lease_until=None,
                                 attempts=case((_O.c.attempts > 0, _O.c.attempts - 1), else_=0)))

    def requeue_failed(self, outbox_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
        """Put failed rows back to pending (after the operator fixed the cause); returns how many."""
        stmt = update(_O).where(_O.c.status == "failed", _O.c.message.is_not(None))
        if outbox_ids is not None:
            stmt = stmt.where(_O.c.id.in_(list(outbox_ids)))
        with self.write() as conn:
            return int(conn.execute(stmt.values(status="pending", next_attempt=now or utcnow())).rowcount or 0)

    # --- status ----------------------------------------------------------------------------------

    def outbox_rows(self, status: str | None = None, *, limit: int = 100, user_id: int | None = None,
                    with_message: bool = False) -> list[OutboxItem]:
        """Newest rows first, without their bytes unless ``with_message``."""
        cols = _MESSAGE_COLUMNS if with_message else [*_LIST_COLUMNS, _O.c.paper_ids]
        stmt = select(*cols).order_by(_O.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(_O.c.status == status)
        if user_id is not None:
            stmt = stmt.where(_O.c.user_id == user_id)
        with self.read() as conn:
            return [_item(r, message=with_message) for r in conn.execute(stmt)]

    def get_outbox(self, outbox_id: int) -> OutboxItem | None:
        with self.read() as conn:
            row = conn.execute(select(*_MESSAGE_COLUMNS).where(_O.c.id == outbox_id)).first()
        return _item(row, message=True) if row is not None else None

    def outbox_summary(self, *, problems: int = 10) -> OutboxSummary:
        with self.read() as conn:
            counts = {s: 0 for s in STATUSES}
            for r in conn.execute(select(_O.c.status, func.count()).group_by(_O.c.status)):
                counts[r[0]] = int(r[1])
            trouble = conn.execute(
                select(*_LIST_COLUMNS).where((_O.c.status == "failed") |
                                             ((_O.c.status == "pending") & _O.c.last_error.is_not(None)))
                .order_by(_O.c.id.desc()).limit(problems)).all()
            oldest = conn.execute(select(func.min(_O.c.created)).where(_O.c.status.in_(("pending", "sending")))).scalar()
            last = conn.execute(select(func.max(_O.c.sent_at))).scalar()
        return OutboxSummary(counts=counts, problems=tuple(_item(r, message=False) for r in trouble),
                             oldest_pending=_aware(oldest), last_sent=_aware(last))


def _enqueued_status(digest: Enqueue) -> str:
    if digest.error is not None:
        return "failed"
    return "pending" if digest.message is not None else "empty"


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive text-parsed datetimes (or str).
    from datetime import timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
