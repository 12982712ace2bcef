"""Work items claimed by workers, the single-scheduler lock, and scheduler job runs.

Scale-out (issue #5): the scheduler only enqueues units of work (one feed fetch, one match batch, one
outbox row); `digest worker` processes claim them. On PostgreSQL a claim is
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent claimers never block on, or take, the same row
(https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE). On SQLite the write
transaction (BEGIN IMMEDIATE) already admits one writer at a time, which is the fallback.

Every claim carries a lease: a worker that dies stops renewing it, the lease expires, and the next
claimer takes the item again. Completing or failing an item checks the lease owner, so a worker whose
lease was taken over cannot overwrite the new owner's result.

Public names: :class:`WorkStore` (mixed into ``Store``), :class:`WorkItem`, :class:`JobRun`,
:class:`SchedulerLock`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, and_, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from digest.store.base import StoreBase, utcnow
from digest.store.schema import JobRunRow, WorkItemRow

#: An item failing this many times is left as "failed" for the operator (shown in `digest status`).
MAX_ATTEMPTS = 5
#: pg_try_advisory_lock key: a fixed 64-bit number that names "the digest scheduler".
SCHEDULER_LOCK_KEY = 0x646967657374  # "digest"


#: The longest an item waits for earlier items its kind is ordered after (``claim_work(after=...)``).
MAX_ORDER_WAIT = timedelta(minutes=15)


def _claimable(row: Any, now: datetime) -> Any:
    """Queued and due, or running under a lease that expired (its worker died) and not yet given up."""
    return or_(and_(row.status == "queued", or_(row.lease_until.is_(None), row.lease_until <= now)),
               and_(row.status == "running", row.lease_until <= now, row.attempts < MAX_ATTEMPTS))


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    kind: str
    key: str
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class JobRun:
    job_id: str
    last_start: datetime | None
    last_end: datetime | None
    last_error: str | None
    runs: int

    @property
    def running(self) -> bool:
        return self.last_start is not None and (self.last_end is None or self.last_end < self.last_start)


class SchedulerLock:
    """Proof that this process is the one active scheduler; hold it for the scheduler's life.

    PostgreSQL: a session advisory lock lives as long as the connection that took it, so the lock
    keeps a dedicated connection open and a crashed scheduler's lock vanishes with its connection.
    SQLite: an flock on a file next to the database (one host by definition), released by the kernel
    when the process dies.
    """

    def __init__(self, *, conn: Connection | None = None, handle: IO[str] | None = None) -> None:
        self._conn, self._handle = conn, handle

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEDULER_LOCK_KEY})
            finally:
                self._conn.close()
                self._conn = None
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "SchedulerLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _item(row: Any) -> WorkItem:
    return WorkItem(id=row.id, kind=row.kind, key=row.key, payload=dict(row.payload or {}), status=row.status,
                    attempts=row.attempts, lease_owner=row.lease_owner, lease_until=row.lease_until,
                    last_error=row.last_error)


class WorkStore(StoreBase):
    # --- the queue --------------------------------------------------------------------------------

    def enqueue_work(self, kind: str, key: str, payload: dict[str, Any] | None = None, *,
                     now: datetime | None = None, retry_failed_after: timedelta | None = None) -> bool:
        """Queue one unit; False when (kind, key) already exists, so enqueueing is idempotent.

        Keys name the unit of work, e.g. ``feed:arxiv-cs:2026-11-24T06`` or ``outbox:41``: the
        scheduler may enqueue the same unit on every tick and it is still done once.
        ``retry_failed_after``: a unit of that key that failed for good at least that long ago is
        queued afresh (a feed whose fetch unit failed, say while the database was down, keeps the
        key its unchanged state gives it, and would otherwise never be polled again).
        """
        now = now or utcnow()
        values = dict(kind=kind, key=key, payload=payload or {}, status="queued", attempts=0, created=now)
        ins = (postgresql.insert(WorkItemRow) if self.dialect == "postgresql" else sqlite.insert(WorkItemRow))
        stmt = ins.values(**values).on_conflict_do_nothing(index_elements=["kind", "key"]).returning(WorkItemRow.id)
        with self.write() as conn:
            if conn.execute(stmt).first() is not None:
                return True
            if retry_failed_after is None:
                return False
            again = conn.execute(update(WorkItemRow).where(
                WorkItemRow.kind == kind, WorkItemRow.key == key, WorkItemRow.status == "failed",
                WorkItemRow.finished <= now - retry_failed_after).values(
                status="queued", attempts=0, lease_owner=None, lease_until=None, finished=None, payload=payload or {},
                # Queued afresh: units ordered after it (claim_work's ``after``) wait for it as for a new one.
                created=now))
            return bool(again.rowcount)

    def claim_work(self, owner: str, kinds: tuple[str, ...] | list[str] | None = None, lease_seconds: float = 300,
                   limit: int = 1, *, now: datetime | None = None,
                   after: Mapping[str, tuple[str, ...]] | None = None) -> list[WorkItem]:
        """Take up to ``limit`` claimable items: queued and due, or running with an expired lease.

        An item whose lease expired :data:`MAX_ATTEMPTS` times (its worker died each time: a unit that
        kills the process) is "failed", not handed out again without end.

        ``after`` orders kinds: an item of kind K waits while an item of one of ``after[K]`` enqueued
        before it (a smaller id) is still to be done: claimable or running under a live lease. So a
        digest unit enqueued after a tick's fetch units is built from what they fetched, with any
        number of workers, as the embedded scheduler's chain does it. An earlier item waiting out a
        retry back-off does not hold the later one up, and none holds it up for longer than
        :data:`MAX_ORDER_WAIT` after it was enqueued (a queue no worker of that kind serves).
        """
        now = now or utcnow()
        claimable = _claimable(WorkItemRow, now)
        query = select(WorkItemRow.id).where(claimable).order_by(WorkItemRow.id).limit(limit)
        for kind, earlier_kinds in (after or {}).items():
            earlier = aliased(WorkItemRow)
            pending = or_(_claimable(earlier, now), and_(earlier.status == "running", earlier.lease_until > now))
            blocked = (select(earlier.id).where(earlier.id < WorkItemRow.id, earlier.kind.in_(list(earlier_kinds)),
                                                earlier.created > now - MAX_ORDER_WAIT, pending).exists())
            query = query.where(~and_(WorkItemRow.kind == kind, blocked))
        if kinds:
            query = query.where(WorkItemRow.kind.in_(list(kinds)))
        if self.dialect == "postgresql":
            # Rows another transaction is claiming are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        expired = and_(WorkItemRow.status == "running", WorkItemRow.lease_until <= now)
        with self.write() as conn:
            conn.execute(update(WorkItemRow).where(expired, WorkItemRow.attempts >= MAX_ATTEMPTS).values(
                status="failed", finished=now, lease_until=None,
                last_error=f"its worker stopped without finishing it {MAX_ATTEMPTS} times (lease expired)"))
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(update(WorkItemRow).where(WorkItemRow.id.in_(ids)).values(
                status="running", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=WorkItemRow.attempts + 1))
            rows = conn.execute(select(WorkItemRow).where(WorkItemRow.id.in_(ids)).order_by(WorkItemRow.id))
            return [_item(r) for r in rows]

    def _owned(self, item_id: int, owner: str) -> Any:
        return and_(WorkItemRow.id == item_id, WorkItemRow.status == "running", WorkItemRow.lease_owner == owner)

    def complete_work(self, item_id: int, owner: str, *, now: datetime | None = None) -> bool:
        """Mark done; False if ``owner`` no longer holds the lease (it expired and was reclaimed)."""
        with self.write() as conn:
            res = conn.execute(update(WorkItemRow).where(self._owned(item_id, owner)).values(
                status="done", finished=now or utcnow(), lease_until=None, last_error=None))
            return bool(res.rowcount)

    def fail_work(self, item_id: int, owner: str, error: str, *, retry_seconds: float = 60,
                  now: datetime | None = None) -> bool:
        """Record a failure: back to the queue after ``retry_seconds`` x attempts, or "failed" for good
        after :data:`MAX_ATTEMPTS`."""
        now = now or utcnow()
        with self.write() as conn:
            attempts = conn.execute(select(WorkItemRow.attempts).where(self._owned(item_id, owner))).scalar()
            if attempts is None:
                return False
            if attempts >= MAX_ATTEMPTS:
                values: dict[str, Any] = dict(status="failed", finished=now, lease_until=None)
            else:
                values = dict(status="queued", lease_until=now + timedelta(seconds=retry_seconds * attempts))
            conn.execute(update(WorkItemRow).where(WorkItemRow.id == item_id).values(
                last_error=error[:2000], lease_owner=None, **values))
            return True

    def renew_lease(self, item_id: int, owner: str, lease_seconds: float, *, now: datetime | None = None) -> bool:
        now = now or utcnow()
        with self.write() as conn:
            res = conn.execute(update(WorkItemRow).where(self._owned(item_id, owner), WorkItemRow.lease_until > now)
                               .values(lease_until=now + timedelta(seconds=lease_seconds)))
            return bool(res.rowcount)

    def get_work(self, kind: str, key: str) -> WorkItem | None:
        with self.read() as conn:
            row = conn.execute(select(WorkItemRow).where(WorkItemRow.kind == kind, WorkItemRow.key == key)).first()
            return _item(row) if row else None

    def list_work(self, *, kind: str | None = None, status: str | None = None) -> list[WorkItem]:
        query = select(WorkItemRow).order_by(WorkItemRow.id)
        if kind:
            query = query.where(WorkItemRow.kind == kind)
        if status:
            query = query.where(WorkItemRow.status == status)
        with self.read() as conn:
            return [_item(r) for r in conn.execute(query)]

    def work_summary(self, *, now: datetime | None = None) -> dict[str, Any]:
        """Counts per kind and status, expired leases, and the age of the oldest queued item."""
        now = now or utcnow()
        with self.read() as conn:
            counts: dict[str, dict[str, int]] = {}
            for kind, status, n in conn.execute(select(WorkItemRow.kind, WorkItemRow.status, func.count())
                                                .group_by(WorkItemRow.kind, WorkItemRow.status)):
                counts.setdefault(kind, {})[status] = n
            expired = conn.execute(select(func.count()).where(WorkItemRow.status == "running",
                                                              WorkItemRow.lease_until <= now)).scalar() or 0
            oldest = conn.execute(select(func.min(WorkItemRow.created))
                                  .where(WorkItemRow.status == "queued")).scalar()
            failed = [_item(r) for r in conn.execute(select(WorkItemRow).where(WorkItemRow.status == "failed")
                                                     .order_by(WorkItemRow.id.desc()).limit(10))]
        return {"counts": counts, "expired_leases": expired,
                "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else None,
                "failed": [{"kind": i.kind, "key": i.key, "error": i.last_error} for i in failed]}

    def purge_work(self, before: datetime) -> int:
        """Retention: forget finished items older than ``before`` (failed ones stay for the operator)."""
        with self.write() as conn:
            res = conn.execute(delete(WorkItemRow).where(WorkItemRow.status == "done", WorkItemRow.finished < before))
            return int(res.rowcount or 0)

    # --- one scheduler at a time -----------------------------------------------------------------

    def try_scheduler_lock(self) -> SchedulerLock | None:
        """The active-scheduler lock, or None when another scheduler holds it."""
        if self.dialect == "postgresql":
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}).scalar()
            if not got:
                conn.close()
                return None
            return SchedulerLock(conn=conn)
        db = self.engine.url.database
        path = Path(f"{db}.scheduler.lock") if db and db != ":memory:" else None
        if path is None:
            return SchedulerLock()
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return SchedulerLock(handle=handle)

    # --- job runs (for `digest status`) ----------------------------------------------------------

    def _upsert_job(self, conn: Connection, job_id: str, values: dict[str, Any]) -> None:
        ins = postgresql.insert(JobRunRow) if self.dialect == "postgresql" else sqlite.insert(JobRunRow)
        stmt = ins.values(job_id=job_id, runs=0, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["job_id"], set_=values))

    def record_job_start(self, job_id: str, *, now: datetime | None = None) -> None:
        with self.write() as conn:
            self._upsert_job(conn, job_id, {"last_start": now or utcnow()})

    def record_job_end(self, job_id: str, error: str | None = None, *, now: datetime | None = None) -> None:
        with self.write() as conn:
            self._upsert_job(conn, job_id, {"last_end": now or utcnow(), "last_error": error})
            conn.execute(update(JobRunRow).where(JobRunRow.job_id == job_id).values(runs=JobRunRow.runs + 1))

    def job_runs(self) -> list[JobRun]:
        with self.read() as conn:
            return [JobRun(job_id=r.job_id, last_start=r.last_start, last_end=r.last_end, last_error=r.last_error,
                           runs=r.runs) for r in conn.execute(select(JobRunRow).order_by(JobRunRow.job_id))]
