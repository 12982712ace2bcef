"""The transactional outbox, the papers each user was sent, and the digest watermarks.

One outbox row per (user, period, period key). :meth:`OutboxStore.enqueue_digest` writes the row, the
user's ``sent_papers`` and the digest watermark (``digest:<user_id>:<period>``) in one transaction, so
a missed run, a restart or two runs at once never lose or repeat a paper: the unique key turns a
second enqueue of the same period into a no-op, and a digest built from a watermark that moved on
meanwhile is refused instead of repeating papers.

Delivery claims rows with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer
serialises claims) and marks each row right after the server accepted it. A process that dies between
the two leaves one row in "sending"; when its lease expires the row is claimed again and the very same
bytes (same Message-ID) go out once more — the only duplicate the design allows.

Public (through :class:`digest.store.Store`): the methods of :class:`OutboxStore` and the values
:class:`OutboxItem`, :class:`OutboxSummary`.
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
from digest.store.schema import OutboxRow, SentPaperRow, WatermarkRow

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


def digest_watermark_name(user_id: int, period: str) -> str:
    return f"digest:{user_id}:{period}"


_LIST_COLUMNS = [c for c in _O.c if c.name not in ("message", "paper_ids")]


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


class _StaleWatermark(Exception):
    """Raised inside the enqueue transaction to roll it back."""


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
        lock = select(_W.c.seq).where(_W.c.name == bindparam("wm"))
        if self.dialect == "postgresql":
            lock = lock.with_for_update()
        sent = self._insert(_SP)
        to = bindparam("to", type_=_W.c.seq.type)
        found = {
            "wm_ensure": self._insert(_W).on_conflict_do_nothing(index_elements=["name"]),
            "wm_lock": lock,
            "outbox": self._insert(_O).on_conflict_do_nothing(index_elements=["user_id", "period", "period_key"])
            .returning(_O.c.id),
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
        with self.read() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for r in conn.execute(select(_SP.c.paper_id, _SP.c.version)
                                      .where(_SP.c.user_id == user_id, _SP.c.paper_id.in_(chunk))):
                    out[r.paper_id] = r.version
        return out

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
        now = now or utcnow()
        versions = list(versions) if versions is not None else [None] * len(paper_ids)
        if len(versions) != len(paper_ids):
            raise ValueError("versions and paper_ids differ in length")
        wm = digest_watermark_name(user_id, period)
        q = self._enqueue_statements()
        try:
            with self.write() as conn:
                # Make the watermark row exist, then lock it: two transactions enqueueing for the same
                # user and period queue here (PostgreSQL), or already did at BEGIN IMMEDIATE (SQLite).
                conn.execute(q["wm_ensure"], {"name": wm, "seq": 0, "updated": now})
                if int(conn.execute(q["wm_lock"], {"wm": wm}).scalar() or 0) > seq_from:
                    raise _StaleWatermark
                outbox_id = conn.execute(q["outbox"], {
                    "user_id": user_id, "period": period, "period_key": period_key, "message_id": message_id,
                    "subject": subject, "recipient": recipient, "message": message,
                    "status": "pending" if message is not None else "empty", "attempts": 0, "next_attempt": now,
                    "seq_from": seq_from, "seq_to": seq_to, "paper_ids": list(paper_ids), "created": now}).scalar()
                if outbox_id is None:
                    return None
                if paper_ids:
                    conn.execute(q["sent"], [{"user_id": user_id, "paper_id": p, "version": v, "outbox_id": outbox_id,
                                              "sent": now} for p, v in zip(paper_ids, versions)])
                conn.execute(q["wm_advance"], {"wm": wm, "to": seq_to, "now": now})
                return int(outbox_id)
        except _StaleWatermark:
            return None

    # --- delivery --------------------------------------------------------------------------------

    def claim_pending(self, now: datetime, limit: int, owner: str, lease_seconds: float = 300) -> list[OutboxItem]:
        """Lease up to ``limit`` rows that are due: pending ones whose next attempt has come, and
        "sending" ones whose lease expired (their sender died). Oldest first."""
        due = ((_O.c.status == "pending") & ((_O.c.next_attempt.is_(None)) | (_O.c.next_attempt <= now))) | \
              ((_O.c.status == "sending") & (_O.c.lease_until < now))
        pick = select(_O.c.id).where(due).order_by(_O.c.id).limit(limit)
        if self.dialect == "postgresql":
            # Several workers claim side by side without waiting on each other's rows.
            pick = pick.with_for_update(skip_locked=True)
        until = now + timedelta(seconds=lease_seconds)
        with self.write() as conn:
            ids = [r[0] for r in conn.execute(pick)]
            if not ids:
                return []
            conn.execute(update(_O).where(_O.c.id.in_(ids)).values(
                status="sending", lease_owner=owner, lease_until=until, attempts=_O.c.attempts + 1))
            rows = conn.execute(select(_O).where(_O.c.id.in_(ids)).order_by(_O.c.id)).all()
        return [_item(r, message=True) for r in rows]

    def mark_sent(self, outbox_id: int, *, now: datetime | None = None) -> None:
        """The server accepted the message. Its bytes are dropped: a sent row is never sent again and
        10,000 users a day would otherwise keep ~300 MB of mail in the database."""
        with self.write() as conn:
            conn.execute(update(_O).where(_O.c.id == outbox_id).values(
                status="sent", sent_at=now or utcnow(), lease_owner=None, lease_until=None, message=None,
                last_error=None))

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
        cols = list(_O.c) if with_message else [*_LIST_COLUMNS, _O.c.paper_ids]
        stmt = select(*cols).order_by(_O.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(_O.c.status == status)
        if user_id is not None:
            stmt = stmt.where(_O.c.user_id == user_id)
        with self.read() as conn:
            return [_item(r, message=with_message) for r in conn.execute(stmt)]

    def get_outbox(self, outbox_id: int) -> OutboxItem | None:
        with self.read() as conn:
            row = conn.execute(select(_O).where(_O.c.id == outbox_id)).first()
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


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive text-parsed datetimes (or str).
    from datetime import timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
