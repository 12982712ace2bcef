"""Drain the outbox: claim due rows, send each, mark each right after the server accepted it.

Marking one row per accepted message (not per batch) is what bounds duplicates to the single message
in flight when the process dies. The mark of one message overlaps the sending of the next, without
loosening that bound: the next message goes to the server whole, but its end mark (the final "." of
SMTP DATA, which makes the server accept it) is sent only once the previous row is marked
(``before_commit`` of :meth:`Transport.send`). So the server reads one message while the row of the
previous one is written, and a process that dies at any point leaves at most one accepted message
unmarked. Retries back off exponentially (1 min, 2, 4 ... capped at 6 h); after
:data:`MAX_ATTEMPTS` transient failures a row is marked failed, like an RFC 5321 5yz reply at once.

A failure of the transport rather than of the message (:class:`~digest.errors.TransportError`: the
server unreachable, a 554 greeting, a wrong password, a refused sender, a Maildir that cannot be
written) fails no row, whatever its reply code: the row tried waits for its next attempt (backing
off, never given up: the operator has to fix the cause, and `digest status` shows it) and the run
stops, handing the rows it did not try back at once. So a wrong password costs one login per run,
not one per user, and every digest goes out once it is fixed.

A large run delivers while it is still enqueueing: :class:`BackgroundDelivery` runs
:func:`deliver_pending` in child processes (one SMTP connection each) that drain the outbox as rows
are committed. A thread would not do: it shares the GIL with the rendering and waits up to the
switch interval (5 ms) after every SMTP reply; measured, a delivery thread next to a busy one
managed ~9 ms per message instead of ~2.

Public: :class:`DeliveryRun`, :class:`Transport`, :class:`BackgroundDelivery`, :func:`deliver_pending`,
:func:`make_transport`, :func:`retry_delay`, :data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from digest.config import Settings
from digest.errors import DeliveryError, TransportError
from digest.store.outbox import OutboxItem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
BATCH = 200
LEASE_SECONDS = 600.0


class Transport(Protocol):
    name: str

    def __enter__(self) -> Any: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Any: ...

    def send(self, item: OutboxItem, *, before_commit: Callable[[], None] | None = None) -> Any:
        """Deliver ``item``; ``before_commit`` runs before the delivery becomes final (see the module doc)."""


@dataclass
class DeliveryRun:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: one line per problem: "outbox #12 (SMTP 550): recipient refused: ..."
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed


class _Accepted:
    """The message the transport delivered whose outbox row is not marked sent yet (at most one)."""

    def __init__(self, store: Any, run: DeliveryRun) -> None:
        self.store, self.run = store, run
        self._pending: tuple[int, datetime] | None = None

    def hold(self, outbox_id: int, at: datetime) -> None:
        assert self._pending is None, "a delivered message was left unmarked"
        self._pending = (outbox_id, at)

    def settle(self) -> None:
        """Mark the held message sent (a no-op when there is none). Forgets it first: a failed mark
        is not tried twice; the row keeps its lease and is sent again once that expires."""
        if self._pending is None:
            return
        outbox_id, at = self._pending
        self._pending = None
        self.store.mark_sent(outbox_id, now=at)
        self.run.sent += 1


def retry_delay(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` tries: 1 min doubling up to 6 h."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def make_transport(settings: Settings) -> Transport:
    if settings.delivery.method == "maildir":
        from digest.deliver.maildir import MaildirTransport

        assert settings.delivery.maildir is not None  # checked by the config
        return MaildirTransport(settings.delivery.maildir)
    from digest.deliver.smtp import SmtpTransport

    return SmtpTransport(settings)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def deliver_pending(store: Any, settings: Settings, *, now: datetime, limit: int | None = None,
                    transport: Transport | None = None, owner: str | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    more_coming: Callable[[], bool] | None = None) -> DeliveryRun:
    """Send every due outbox row (at most ``limit``) through one transport session.

    ``now`` may lie in the future or past (``digest send --now``); the run's clock advances from it
    with real elapsed time, so leases stay honest during a long run. ``should_stop`` is polled between
    messages (SIGTERM): claimed rows not yet tried are handed back at once. ``more_coming`` is asked
    when nothing is due: True (it may block briefly, waiting) means another process is still
    enqueueing, so look again; after its first False the outbox is drained once more and the run ends.
    """
    owner = owner or _owner()
    run = DeliveryRun()
    start = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - start)

    transport = transport or make_transport(settings)
    last_look = more_coming is None
    accepted = _Accepted(store, run)
    with transport:
        try:
            while True:
                accepted.settle()  # before claiming, and before waiting for more
                if limit is not None and run.attempted >= limit:
                    break
                want = BATCH if limit is None else min(BATCH, limit - run.attempted)
                items = store.claim_pending(clock(), want, owner, LEASE_SECONDS)
                if not items:
                    if last_look:
                        break
                    last_look = not more_coming()  # type: ignore[misc]  # None only when last_look
                    continue
                for n, item in enumerate(items):
                    if should_stop is not None and should_stop():
                        accepted.settle()
                        store.release_claims([i.id for i in items[n:]], owner)
                        return run
                    try:
                        reachable = _deliver_one(store, transport, item, clock, run, accepted)
                    except BaseException:
                        # Not a delivery outcome (Ctrl-C, a bug): the rows after this one were never tried.
                        store.release_claims([i.id for i in items[n + 1:]], owner)
                        raise
                    if not reachable:
                        # The transport failed (see the module doc): every other row would fail the same
                        # way and burn an attempt; leave them for the next run.
                        store.release_claims([i.id for i in items[n + 1:]], owner)
                        return run
        finally:
            accepted.settle()
    return run


def _deliver_one(store: Any, transport: Transport, item: OutboxItem, clock: Callable[[], datetime],
                 run: DeliveryRun, accepted: _Accepted) -> bool:
    """Send one row and record the outcome; False when the transport itself failed (TransportError).

    The previous message, if the transport accepted it, is marked sent while this one is being
    handed over (``before_commit``), or at the latest before this one's failure is recorded."""
    try:
        transport.send(item, before_commit=accepted.settle)
    except DeliveryError as exc:
        accepted.settle()
        run.errors.append(str(exc))
        if isinstance(exc, TransportError):
            store.mark_retry(item.id, exc.reason, exc.smtp_code, clock() + retry_delay(item.attempts))
            run.retried += 1
            log.warning("outbox #%s to user %s: delivery stopped, will be retried: %s", item.id, item.user_id, exc)
            return False
        if exc.permanent:
            store.mark_failed(item.id, exc.reason, exc.smtp_code)
            run.failed += 1
            log.warning("outbox #%s to user %s failed permanently: %s", item.id, item.user_id, exc)
        elif item.attempts >= MAX_ATTEMPTS:
            store.mark_failed(item.id, f"{exc.reason} (gave up after {item.attempts} attempts)", exc.smtp_code)
            run.failed += 1
            log.warning("outbox #%s to user %s: giving up: %s", item.id, item.user_id, exc)
        else:
            store.mark_retry(item.id, exc.reason, exc.smtp_code, clock() + retry_delay(item.attempts))
            run.retried += 1
            log.info("outbox #%s to user %s will be retried: %s", item.id, item.user_id, exc)
        return True
    accepted.hold(item.id, clock())
    return True


# --- delivering while enqueueing ------------------------------------------------------------------


def _background_worker(url: str, settings: Settings, now: datetime, done: Any, results: Any) -> None:
    """Child process: drain the outbox until the parent says it has enqueued everything."""
    from digest.store import Store

    run = DeliveryRun()
    try:
        store = Store.open(url, migrate=False)
        try:
            run = deliver_pending(store, settings, now=now, more_coming=lambda: not done.wait(0.05))
        finally:
            store.close()
    except Exception as exc:  # reported to the parent, which has the log and the exit status
        run.errors.append(f"delivery worker stopped: {type(exc).__name__}: {exc}"[:300])
    results.put(run)


class BackgroundDelivery:
    """Deliver the outbox in ``workers`` child processes while this process keeps enqueueing.

    Each worker is an ordinary outbox consumer (its own store connection, claims with a lease, one
    SMTP session), so the delivery guarantees are those of :func:`deliver_pending`. Use as a context
    manager; :meth:`finish` says enqueueing is over and returns the combined :class:`DeliveryRun`
    once the outbox is drained. ``url`` must name a database other processes can open (a file or a
    server, not ``:memory:``).
    """

    def __init__(self, url: str, settings: Settings, *, now: datetime, workers: int = 1) -> None:
        import multiprocessing

        # spawn, not fork: the parent holds open database connections and threads.
        self._ctx = multiprocessing.get_context("spawn")
        self._done = self._ctx.Event()
        self._results = self._ctx.Queue()
        self._procs = [self._ctx.Process(target=_background_worker, args=(url, settings, now, self._done, self._results),
                                         name=f"digest-deliver-{n}", daemon=True) for n in range(workers)]
        self.run: DeliveryRun | None = None

    def __enter__(self) -> "BackgroundDelivery":
        for proc in self._procs:
            proc.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish()

    def finish(self) -> DeliveryRun:
        if self.run is not None:
            return self.run
        self._done.set()
        run = DeliveryRun()
        for proc in self._procs:
            part: DeliveryRun | None = None
            while part is None and (proc.is_alive() or not self._results.empty()):
                try:
                    part = self._results.get(timeout=1.0)
                except queue.Empty:
                    continue
            if part is None:
                run.errors.append(f"delivery worker {proc.name} exited with status {proc.exitcode}")
                continue
            run.sent += part.sent
            run.retried += part.retried
            run.failed += part.failed
            run.errors.extend(part.errors)
        for proc in self._procs:
            proc.join(10)
        self.run = run
        return run
