"""`digest worker`: claim units of work and run them through the library functions.

The scheduler in scale-out mode only enqueues (:mod:`digest.schedule`); any number of workers on any
number of hosts claim units from ``work_items`` (one feed fetch, one backfill, one match batch, one
digest build) and rows from the outbox (one message each). Both queues are leased: a worker that dies
stops renewing, its lease expires, and another worker takes the unit again. Every unit is idempotent
(ingest merges, matching keeps a watermark, the outbox has a unique key per user and period), so a
unit that runs twice after a crash changes nothing the second time; a message is marked sent right
after the server accepted it, which bounds duplicates to the one in flight when a worker dies.

Public: :func:`run_worker`, :func:`run_unit`, :data:`UNIT_KINDS`, :data:`UNIT_ORDER`, :class:`WorkerStats`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from digest.config import Settings
from digest.dates import utcnow
from digest.store.work import WorkItem

log = logging.getLogger("digest.worker")

UNIT_KINDS: tuple[str, ...] = ("fetch", "backfill", "match", "digests")
#: Which units wait for earlier-enqueued units of other kinds (``WorkStore.claim_work(after=...)``):
#: matching waits for the fetches queued before it, and a digest for those fetches and that matching,
#: so what the scheduler queues in that order runs in that order on any number of workers, as the
#: embedded scheduler's start-up chain runs it (digest.schedule._StartChain).
UNIT_ORDER: dict[str, tuple[str, ...]] = {"match": ("fetch", "backfill"), "digests": ("fetch", "backfill", "match")}
LEASE_SECONDS = 300.0
IDLE_WAIT_SECONDS = 5.0
Handler = Callable[[Settings, Any, WorkItem], Any]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerStats:
    units: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    sent: int = 0
    lost_leases: int = 0


# --- what each unit does ----------------------------------------------------------------------------


def _fetch(settings: Settings, store: Any, item: WorkItem) -> Any:
    from digest.backfill import catch_up

    run = catch_up(settings, store, settings.feed(item.payload["feed"]), now=utcnow())
    if run.failed:  # already recorded on the feed (with its backoff); the unit itself is done
        log.warning("feed=%s error=%s", run.feed_name, run.error)
    if run.backfill is not None and run.backfill.failed:  # recorded too: the feed's next poll backfills again
        log.warning("feed=%s backfill %s error=%s", run.feed_name, run.backfill.days, run.backfill.error)
    return run


def _backfill(settings: Settings, store: Any, item: WorkItem) -> Any:
    """A backfill unit queued by an earlier version (fetch units now backfill a gap themselves): a
    failure raises, so the queue runs it again."""
    from digest.backfill import backfill_feed

    p = item.payload
    run = backfill_feed(settings, store, settings.feed(p["feed"]), date.fromisoformat(p["from"]),
                        date.fromisoformat(p["to"]), now=utcnow())
    if run.error:
        raise RuntimeError(f"feed {run.feed_name!r}: backfill {run.days} failed: {run.error}")
    return run


def _match(settings: Settings, store: Any, item: WorkItem) -> Any:
    from digest.match.run import match_new

    return match_new(store)


def _digests(settings: Settings, store: Any, item: WorkItem) -> Any:
    from digest.digests.send import send_due

    # Builds due digests into the outbox; the unique (user, period, key) makes a rerun a no-op.
    # Delivery is not part of the unit: each outbox row is claimed on its own (see run_worker).
    # The scheduler's tick time when it set one, so a late unit builds what was due at that tick.
    now = datetime.fromisoformat(item.payload["now"]) if "now" in item.payload else utcnow()
    return send_due(store, settings, now=max(now, utcnow()), deliver=False)


HANDLERS: dict[str, Handler] = {"fetch": _fetch, "backfill": _backfill, "match": _match, "digests": _digests}


# --- the loop ------------------------------------------------------------------------------------


class _Heartbeat:
    """Renews a unit's lease every third of its length while the unit runs."""

    def __init__(self, store: Any, item: WorkItem, owner: str, lease_seconds: float) -> None:
        self.store, self.item, self.owner, self.lease = store, item, owner, lease_seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{item.id}", daemon=True)

    def _beat(self) -> None:
        while not self._done.wait(self.lease / 3):
            if not self.store.renew_lease(self.item.id, self.owner, self.lease):
                log.warning("unit=%s:%s lease lost to another worker", self.item.kind, self.item.key)
                return

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def run_unit(settings: Settings, store: Any, item: WorkItem, owner: str, *, lease_seconds: float = LEASE_SECONDS,
             handlers: Mapping[str, Handler] = HANDLERS, stats: WorkerStats | None = None) -> bool:
    """Run one claimed unit and record its outcome; True when it completed."""
    stats = stats if stats is not None else WorkerStats()
    handler = handlers.get(item.kind)
    if handler is None:
        store.fail_work(item.id, owner, f"no handler for unit kind {item.kind!r}")
        stats.failed += 1
        return False
    try:
        with _Heartbeat(store, item, owner, lease_seconds):
            handler(settings, store, item)
    except Exception as exc:  # one failing unit must not stop the worker; it is retried with backoff
        log.exception("unit=%s:%s failed", item.kind, item.key)
        store.fail_work(item.id, owner, f"{type(exc).__name__}: {exc}")
        stats.failed += 1
        return False
    if not store.complete_work(item.id, owner):
        stats.lost_leases += 1  # ran past its lease and someone else took it; idempotence covers it
        log.warning("unit=%s:%s finished after its lease was taken over", item.kind, item.key)
        return False
    stats.units[item.kind] = stats.units.get(item.kind, 0) + 1
    log.info("unit=%s:%s done owner=%s", item.kind, item.key, owner)
    return True


def _deliver_one(settings: Settings, store: Any, owner: str) -> int:
    from digest.deliver.outbox import deliver_pending

    run = deliver_pending(store, settings, now=utcnow(), limit=1, owner=owner)
    for err in run.errors:
        log.warning("deliver: %s", err)
    return run.sent + run.retried + run.failed


def run_worker(settings: Settings, store: Any, *, owner: str | None = None, stop: threading.Event,
               kinds: tuple[str, ...] = UNIT_KINDS, lease_seconds: float = LEASE_SECONDS,
               idle_wait: float = IDLE_WAIT_SECONDS, handlers: Mapping[str, Handler] = HANDLERS,
               deliver: Callable[[Settings, Any, str], int] | None = _deliver_one,
               until_idle: bool = False) -> WorkerStats:
    """Claim and run units until ``stop`` is set (SIGTERM) — or, with ``until_idle``, until both
    queues are empty. The unit in hand is always finished before returning."""
    owner = owner or default_owner()
    stats = WorkerStats()
    log.info("worker=%s started kinds=%s", owner, ",".join(kinds))
    while not stop.is_set():
        busy = False
        for item in store.claim_work(owner, kinds, lease_seconds, limit=1, after=UNIT_ORDER):
            busy = True
            run_unit(settings, store, item, owner, lease_seconds=lease_seconds, handlers=handlers, stats=stats)
        if deliver is not None and not stop.is_set():
            n = deliver(settings, store, owner)
            stats.sent += n
            busy = busy or n > 0
        if not busy:
            if until_idle:
                break
            stop.wait(idle_wait)
    log.info("worker=%s stopped units=%s sent=%d", owner, stats.units, stats.sent)
    return stats
