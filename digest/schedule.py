"""The scheduler: APScheduler 3 as a metronome, and nothing more.

Jobs are defined here in code with fixed ids (:data:`JOB_IDS`), an in-memory job store, explicit UTC,
``coalesce=True`` (a backlog of ticks runs once), ``max_instances=1`` and a misfire grace of hours.
Every job calls an idempotent library function whose durable progress lives in our tables (feed
state, ingest watermarks, the outbox), so a scheduler that was down for a day simply runs each job
once on start and the tables say what is owed: no missed digest, no double digest, no lost paper.
Each run is recorded in ``job_runs`` for `digest status`; each missed run is logged loudly, and so is
a run that stands for several coalesced ones (:class:`_LoudRuns`). Poll, match and send run in that
order at every tick, and on start as the catch-up (:class:`_TickChain`).

In scale-out mode (PostgreSQL, ``mode="enqueue"``) the same jobs only enqueue work units that
`digest worker` processes claim (see :mod:`digest.worker`); one scheduler is active at a time
(:meth:`digest.store.Store.try_scheduler_lock`).

Public names: :data:`JOB_IDS`, :func:`build_scheduler`, :func:`run_scheduler`,
:func:`install_signal_handlers`, :func:`arxiv_poll_decision`, :func:`arxiv_gap`, :class:`PollDecision`,
:func:`next_runs`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

from apscheduler.events import (EVENT_JOB_ADDED, EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED,
                                EVENT_JOB_MODIFIED, EVENT_JOB_SUBMITTED, JobEvent, JobExecutionEvent,
                                JobSubmissionEvent, SchedulerEvent)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Settings
from digest.dates import utcnow
from digest.models import FeedState

log = logging.getLogger("digest.schedule")

JOB_POLL, JOB_MATCH, JOB_SEND, JOB_RETENTION = "poll-feeds", "match", "send-digests", "retention"
JOB_IDS: tuple[str, ...] = (JOB_POLL, JOB_MATCH, JOB_SEND, JOB_RETENTION)

#: A run later than this is skipped and logged as missed; the next run catches up from the tables.
MISFIRE_GRACE_SECONDS = 6 * 3600
#: Per-user delivery at the local hour is decided by digests.periods; a few minutes' tick is enough.
TICK_MINUTES = {JOB_POLL: 5, JOB_MATCH: 5, JOB_SEND: 5}
#: Where each tick job sits on the shared grid: poll, then match, then send (:class:`_TickChain`).
TICK_OFFSETS = {JOB_POLL: timedelta(0), JOB_MATCH: timedelta(minutes=1), JOB_SEND: timedelta(minutes=2)}
#: Finished work items and similar bookkeeping are kept this long.
RETENTION_DAYS = 14
ARXIV_FEED_KINDS = frozenset({"arxiv-rss", "arxiv-atom"})
Mode = Literal["embedded", "enqueue"]
JobBody = Callable[[datetime], Any]


# --- arXiv-aware polling ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollDecision:
    """What to do with one arXiv feed now. ``action``: poll | retry | wait | backfill."""

    action: Literal["poll", "retry", "wait", "backfill"]
    reason: str
    not_before: datetime | None = None
    backfill_from: date | None = None
    backfill_to: date | None = None


def arxiv_gap(last_success: datetime | None, now: datetime) -> tuple[date, date] | None:
    """The days an arXiv RSS feed last read at ``last_success`` must be backfilled for at ``now``, or
    None when at most one announcement batch came since (the feed still shows it). The range starts
    a week before the last success (digest.sources.ARXIV_LOOKBACK): the batches missed carry papers
    submitted before it (a Monday announcement holds Friday's and the weekend's, holidays add days)."""
    from digest.sources import ARXIV_LOOKBACK
    from digest.sources.arxiv_calendar import EASTERN, feed_updates

    if last_success is None:
        return None
    missed = feed_updates(last_success, now)
    if not missed:
        return None
    # The feed shows a batch until the next midnight Eastern, when it is rebuilt with the next batch
    # or, over a weekend or holiday, with none: one batch missed is still there only until then.
    shown_until = datetime.combine(missed[0].astimezone(EASTERN).date() + timedelta(days=1), time(0), tzinfo=EASTERN)
    if len(missed) == 1 and now < shown_until:
        return None
    return (last_success - ARXIV_LOOKBACK).date(), now.date()


def arxiv_poll_decision(state: FeedState, now: datetime, *,
                        retry_after: timedelta = timedelta(minutes=30)) -> PollDecision:
    """Poll after each daily refresh, sit out weekend/holiday gaps, retry a stale batch, and backfill
    through the API when more than one batch was missed (arXiv replaces its RSS batch daily, so a
    day that was not fetched is gone from the feed and only the API still has it)."""
    from digest.sources.arxiv_calendar import feed_updates, next_feed_update

    if state.last_success is None:
        return PollDecision("poll", "never fetched")
    if state.health == "never":  # its URL or categories changed: a new feed, read now
        return PollDecision("poll", "never fetched since its configuration changed")
    if state.health == "stale":
        # The store keeps last_success at the last *fresh* batch, so a stale fetch is retried on
        # this spacing rather than on every tick.
        due = (state.last_attempt or now) + retry_after
        if due > now:
            return PollDecision("wait", "stale batch; retry scheduled", not_before=due)
    missed = feed_updates(state.last_success, now)
    if len(missed) > 1 and state.kind == "arxiv-atom":
        # An API listing of categories reads itself back to a week before its last good poll
        # (digest.sources.arxiv_next_page_url): polling recovers the gap, a backfill would repeat it.
        return PollDecision("poll", f"{len(missed)} batches since the last good fetch; the API listing reads "
                            "back to it")
    if len(missed) > 1:
        days = arxiv_gap(state.last_success, now)
        return PollDecision("backfill", f"{len(missed)} batches since the last good fetch; recovering the gap "
                            "from the arXiv API", backfill_from=days[0] if days else None,
                            backfill_to=days[1] if days else None)
    if len(missed) == 1:
        return PollDecision("retry" if state.health == "stale" else "poll",
                            f"new batch expected since {missed[0]:%Y-%m-%d %H:%M} UTC")
    upcoming = next_feed_update(now)
    return PollDecision("wait", f"no new batch since the last fetch; next refresh {upcoming:%a %Y-%m-%d %H:%M} UTC",
                        not_before=upcoming)


# --- the jobs (embedded mode: do the work) ---------------------------------------------------------


def _waits(store: Any, state: FeedState, now: datetime) -> bool:
    """Whether a due arXiv feed waits for arXiv's calendar (:func:`arxiv_poll_decision`); its next
    attempt then moves to when it will really be fetched, which `digest status` shows."""
    if state.kind not in ARXIV_FEED_KINDS:
        return False
    decision = arxiv_poll_decision(state, now)
    if decision.action != "wait":
        log.info("feed=%s %s: %s", state.name, decision.action, decision.reason)
        return False
    log.debug("feed=%s waits: %s", state.name, decision.reason)
    if decision.not_before:
        store.defer_feed(state.name, decision.not_before)
    return True


def poll_feeds(settings: Settings, store: Any, now: datetime) -> None:
    """Fetch the feeds that are due, arXiv feeds only when :func:`arxiv_poll_decision` says so; a feed
    whose poll can no longer read every day since the last one is backfilled first
    (:func:`digest.backfill.catch_up`)."""
    from digest.backfill import catch_up

    store.sync_feeds(settings.feeds)
    configured = {f.name: f for f in settings.feeds}
    for state in store.due_feeds(now):
        feed = configured.get(state.name)
        if feed is None:
            continue
        if _waits(store, state, now):
            continue
        run = catch_up(settings, store, feed, now=now, state=state)
        if run.backfill is not None:
            log.log(logging.WARNING if run.backfill.failed else logging.INFO, "feed=%s backfill %s: %s",
                    run.feed_name, run.backfill.days, run.backfill.error or f"new={run.backfill.stats.added}")
        log.info("feed=%s status=%s new=%d%s", run.feed_name, run.status, run.stats.added,
                 f" error={run.error}" if run.error else "")


def match_new_papers(store: Any) -> None:
    from digest.match.run import match_new

    log.info("match: %s", match_new(store))


def send_digests(settings: Settings, store: Any, now: datetime) -> None:
    from digest.digests.send import send_due

    log.info("send: %s", send_due(store, settings, now=now))


def retention(store: Any, now: datetime) -> None:
    from digest.tokens import MAX_AGE

    purged = store.purge_work(now - timedelta(days=RETENTION_DAYS))
    # A digest's page reads its recorded contents for as long as its links (the feedback token) live.
    lifetime = MAX_AGE["feedback"]
    contents = store.prune_digest_contents(now - timedelta(seconds=lifetime)) if lifetime is not None else 0
    log.info("retention: purged %d finished work items and the contents of %d expired digest pages", purged, contents)


# --- the jobs (scale-out mode: only enqueue) -------------------------------------------------------


def enqueue_polls(settings: Settings, store: Any, now: datetime) -> int:
    """One "fetch" unit per due feed, keyed by the feed's due time so that every tick until a worker
    runs it enqueues it only once. The unit backfills a gap before it polls (digest.backfill.catch_up),
    in that order, so a poll never moves the feed's last success past days not yet read."""
    store.sync_feeds(settings.feeds)
    n = 0
    for state in store.due_feeds(now):
        if _waits(store, state, now):
            continue
        # A feed never fetched has no due time yet: "never" keys its first fetch, once.
        due = state.last_attempt or state.next_attempt
        slot = due.replace(microsecond=0).isoformat() if due else "never"
        n += store.enqueue_work("fetch", f"feed:{state.name}:{slot}", {"feed": state.name}, now=now,
                                retry_failed_after=timedelta(seconds=state.interval_seconds))
    return n


def _tick_key(now: datetime, minutes: int) -> str:
    bucket = now.replace(minute=now.minute - now.minute % minutes, second=0, microsecond=0)
    return bucket.strftime("%Y-%m-%dT%H:%M")


def enqueue_match(store: Any, now: datetime) -> bool:
    return bool(store.enqueue_work("match", f"match:{_tick_key(now, TICK_MINUTES[JOB_MATCH])}", {}, now=now))


def enqueue_sends(store: Any, now: datetime) -> int:
    """One "digests" unit per tick: a worker builds the due digests into the outbox. Delivery needs
    no unit of its own: the outbox is itself a leased queue (one row = one claim, see
    OutboxStore.claim_pending), which idle workers drain."""
    return int(store.enqueue_work("digests", f"digests:{_tick_key(now, TICK_MINUTES[JOB_SEND])}",
                                  {"now": now.isoformat()}, now=now))


# --- building and running --------------------------------------------------------------------------


def job_bodies(settings: Settings, store: Any, mode: Mode = "embedded") -> dict[str, JobBody]:
    if mode == "enqueue":
        return {JOB_POLL: lambda now: enqueue_polls(settings, store, now),
                JOB_MATCH: lambda now: enqueue_match(store, now),
                JOB_SEND: lambda now: enqueue_sends(store, now),
                JOB_RETENTION: lambda now: retention(store, now)}
    return {JOB_POLL: lambda now: poll_feeds(settings, store, now),
            JOB_MATCH: lambda now: match_new_papers(store),
            JOB_SEND: lambda now: send_digests(settings, store, now),
            JOB_RETENTION: lambda now: retention(store, now)}


class _TickChain:
    """Poll, match and send run in that order at every tick, not only on start.

    The three tick jobs share one 5-minute grid, offset by :data:`TICK_OFFSETS` (poll at +0, match at
    +1 min, send at +2 min): a user's digest due at 07:00 is built at 07:02 from the listing the 07:00
    poll fetched and the 07:01 match matched. Run at the same instant, the send would build the
    digest before that listing was fetched and matched, and the listing would wait a day for the next
    digest (the arXiv RSS rebuild lands at 06:00 UTC, which is 07:00 in Paris). A poll or a match
    that takes longer than its minute holds up the jobs after it: each run waits while a job before
    it in :data:`ORDER` is running. In scale-out mode the jobs only enqueue, in that order, and the
    queue keeps it (``digest.worker.UNIT_ORDER``).

    On start (``run_now``) the catch-up runs each job once, all due at once: the first run of each
    job also waits until the first run of the job before it has ended (failed or not: the tables say
    what is owed), so the late digests hold the missed listings the poll backfilled and the matcher
    matched. The waits are in the jobs themselves, read from this object's own state: never from the
    scheduler's job store, whose lock a shutdown holds while it waits for the running jobs. A job
    still waiting when the scheduler stops is not started (the next start catches up).
    """

    ORDER = (JOB_POLL, JOB_MATCH, JOB_SEND)

    def __init__(self, sched: BaseScheduler, *, run_now: bool) -> None:
        self._sched = sched
        self._changed = threading.Condition()
        self._running: set[str] = set()
        self._waiting: set[str] = set()
        self._first_ended = {job_id: threading.Event() for job_id in self.ORDER} if run_now else {}
        self._before = {job_id: self.ORDER[:i] for i, job_id in enumerate(self.ORDER)}

    def _stopped(self) -> bool:
        return self._sched.state == STATE_STOPPED

    def begin(self, job_id: str) -> bool:
        """Wait for this run's turn, then mark it running; False when the scheduler stopped meanwhile
        (a SIGTERM during the catch-up poll): then this run is not started at all."""
        before = self._before.get(job_id, ())
        if before and before[-1] in self._first_ended:
            while not self._first_ended[before[-1]].wait(timeout=1.0):
                if self._stopped():
                    return False
        with self._changed:
            # A job before this one that is itself still waiting for its turn holds it up too: when a
            # long poll ends, the match and the send waiting for it must not start together.
            self._waiting.add(job_id)
            try:
                while self._running.intersection(before) or self._waiting.intersection(before):
                    if self._stopped():
                        return False
                    self._changed.wait(timeout=1.0)
                if self._stopped():
                    return False
                self._running.add(job_id)
            finally:
                self._waiting.discard(job_id)
                self._changed.notify_all()
        return True

    def ended(self, job_id: str) -> None:
        with self._changed:
            self._running.discard(job_id)
            self._changed.notify_all()
        if job_id in self._first_ended:
            self._first_ended[job_id].set()


def run_job(store: Any, job_id: str, body: JobBody, chain: _TickChain | None = None) -> None:
    """Run one job body, recording start, end and error in job_runs; errors are logged, not raised,
    so one failing job never stops the metronome. ``chain`` orders the tick jobs (:class:`_TickChain`)."""
    if chain is not None and not chain.begin(job_id):
        log.info("job=%s not started: the scheduler is stopping", job_id)
        chain.ended(job_id)
        return
    try:
        _run_recorded(store, job_id, body)
    finally:
        if chain is not None:
            chain.ended(job_id)


def _run_recorded(store: Any, job_id: str, body: JobBody) -> None:
    start = utcnow()
    store.record_job_start(job_id, now=start)
    error: str | None = None
    try:
        body(start)
    except Exception as exc:  # the job's own errors are already one line each; keep ticking
        error = f"{type(exc).__name__}: {exc}"
        log.exception("job=%s failed: %s", job_id, error)
    finally:
        store.record_job_end(job_id, error, now=utcnow())
        log.info("job=%s done in %.1fs%s", job_id, (utcnow() - start).total_seconds(),
                 f" error={error}" if error else "")


def _duration(span: timedelta) -> str:
    """"3 days 0:12:05" for a log line: whole seconds, no microseconds."""
    return str(timedelta(seconds=round(span.total_seconds()))).replace(",", "")


class _LoudRuns:
    """The scheduler's events as log lines (issue #5: "a loud log line for every missed run").

    * a run more than the misfire grace late is skipped by APScheduler: ERROR ``MISSED RUN``;
    * a run that stands for several: with ``coalesce`` APScheduler runs a backlog of ticks once, at
      the latest one, and checks only that one against the grace, so three days of a suspended host
      (a laptop lid, a paused VM, a stopped process) would pass in silence. The run the job was due
      for is remembered from the scheduler's events; when a submitted run is later than that, the
      ticks between were coalesced: one WARNING ``LATE RUN`` naming the job, how late it is and
      about how many runs were skipped. Coalescing itself stays: the tables say what is owed.
    * a job that raised: ERROR.

    The job store is read only from events the scheduler dispatches outside its job store lock (a
    job added, modified or submitted); the executor's events come from worker threads, which a
    shutdown holding that lock waits for.
    """

    _REMEMBER = EVENT_JOB_ADDED | EVENT_JOB_MODIFIED | EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES
    MASK = _REMEMBER | EVENT_JOB_MISSED | EVENT_JOB_ERROR

    def __init__(self, sched: BaseScheduler) -> None:
        self._sched = sched
        #: job id -> the run it was due for next, as last seen
        self._owed: dict[str, datetime] = {}

    def __call__(self, event: SchedulerEvent) -> None:
        if isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            # Loud on purpose: the process was suspended or blocked for hours. Nothing is lost (the
            # next run catches up from the tables) but the operator should know why mail was late.
            log.error("MISSED RUN job=%s scheduled_at=%s (more than %dh late); the next run catches up",
                      event.job_id, event.scheduled_run_time.isoformat(), MISFIRE_GRACE_SECONDS // 3600)
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_ERROR:
            log.error("job=%s raised %r", event.job_id, event.exception)
        elif isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_SUBMITTED:
            self._report_coalesced(event.job_id, event.scheduled_run_times[-1])
        if isinstance(event, JobEvent) and event.code & self._REMEMBER:
            job = self._sched.get_job(event.job_id)
            if job is not None and job.next_run_time is not None:
                self._owed[event.job_id] = job.next_run_time

    def _report_coalesced(self, job_id: str, run_at: datetime) -> None:
        owed = self._owed.get(job_id)
        job = self._sched.get_job(job_id)
        if owed is None or job is None or run_at <= owed:
            return
        following = job.trigger.get_next_fire_time(owed, owed)
        spacing = following - owed if following is not None and following > owed else None
        skipped = round((run_at - owed) / spacing) if spacing else 1
        log.warning("LATE RUN job=%s %s late (host suspended or process stopped?): about %d run%s skipped, "
                    "coalesced into this one", job_id, _duration(utcnow() - owed), skipped,
                    "" if skipped == 1 else "s")


def build_scheduler(settings: Settings, store: Any, *, mode: Mode = "embedded",
                    scheduler: BaseScheduler | None = None, jobs: Mapping[str, JobBody] | None = None,
                    run_now: bool = True) -> BaseScheduler:
    """A configured, not yet started scheduler with the four jobs.

    ``jobs`` replaces job bodies by id (tests use it to stand in for slow collaborators). With
    ``run_now`` the tick jobs run once on start, poll then match then send (:class:`_TickChain`):
    that is the catch-up after a restart.
    """
    sched = scheduler or BackgroundScheduler(timezone=timezone.utc)
    sched.configure(timezone=timezone.utc)
    # Given per job (not only as job_defaults) so they hold before start() too.
    options: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                               "replace_existing": True}
    bodies = job_bodies(settings, store, mode)
    bodies.update(jobs or {})
    now = utcnow()
    first = now if run_now else None
    chain = _TickChain(sched, run_now=run_now)
    # One grid for the three (without run_now the first tick is one interval away, as before).
    grid = now if run_now else now + timedelta(minutes=TICK_MINUTES[JOB_POLL])
    for job_id in _TickChain.ORDER:
        trigger = IntervalTrigger(minutes=TICK_MINUTES[job_id], start_date=grid + TICK_OFFSETS[job_id],
                                  timezone=timezone.utc)
        kwargs: dict[str, Any] = {"next_run_time": first} if first else {}
        sched.add_job(run_job, trigger, args=(store, job_id, bodies[job_id], chain), id=job_id, name=job_id,
                      **options, **kwargs)
    sched.add_job(run_job, CronTrigger(hour=3, minute=17, timezone=timezone.utc),
                  args=(store, JOB_RETENTION, bodies[JOB_RETENTION]), id=JOB_RETENTION, name=JOB_RETENTION,
                  **options)
    sched.add_listener(_LoudRuns(sched), _LoudRuns.MASK)
    return sched


def next_runs(store: Any, now: datetime | None = None) -> dict[str, datetime]:
    """When each job runs next, for `digest status`: the scheduler lives in another process, but its
    triggers are fixed in code and its last runs are in job_runs."""
    now = now or utcnow()
    last = {r.job_id: r.last_start for r in store.job_runs()}
    result: dict[str, datetime] = {}
    for job_id in (JOB_POLL, JOB_MATCH, JOB_SEND):
        started = last.get(job_id)
        due = started + timedelta(minutes=TICK_MINUTES[job_id]) if started else now
        result[job_id] = max(due, now)
    nxt = CronTrigger(hour=3, minute=17, timezone=timezone.utc).get_next_fire_time(None, now)
    if nxt is not None:
        result[JOB_RETENTION] = nxt
    return result


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT set ``stop``; the main thread then shuts the scheduler down and waits for the
    job in flight, so systemd's stop (SIGTERM, then SIGKILL after TimeoutStopSec) loses nothing."""

    def handler(signum: int, _frame: Any) -> None:
        log.warning("received %s: finishing in-flight work, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_scheduler(settings: Settings, store: Any, stop: threading.Event, *, mode: Mode = "embedded",
                  jobs: Mapping[str, JobBody] | None = None) -> bool:
    """Take the active-scheduler lock, run until ``stop`` is set, then shut down waiting for
    running jobs. Returns False (without running) when another scheduler holds the lock."""
    lock = store.try_scheduler_lock()
    if lock is None:
        log.error("another digest scheduler is active (lock held); not starting a second one")
        return False
    sched = build_scheduler(settings, store, mode=mode, jobs=jobs)
    try:
        sched.start()
        log.info("scheduler started mode=%s jobs=%s", mode, ",".join(JOB_IDS))
        stop.wait()
        sched.shutdown(wait=True)
        log.info("scheduler stopped cleanly")
    finally:
        lock.release()
    return True
