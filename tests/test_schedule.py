"""The scheduler: fixed jobs and options, loud missed runs, catch-up after an outage, arXiv-aware
polling decisions and polling, and a clean shutdown on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import FeedSettings, Settings
from digest.models import FeedState
from digest.schedule import (JOB_IDS, MISFIRE_GRACE_SECONDS, arxiv_gap, arxiv_poll_decision, build_scheduler, next_runs,
                             poll_feeds)
from digest.store import Store

UTC = timezone.utc
MON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday, after the 00:00 ET rebuild


def wait_for(cond: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll a condition with a bounded deadline (no fixed sleeps)."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


class Recorder:
    """Job bodies that record when they were called (``calls``) and ran (``spans``, monotonic start and
    end); ``slow`` makes a job take that many seconds."""

    def __init__(self, slow: dict[str, float] | None = None) -> None:
        self.slow = slow or {}
        self.calls: dict[str, list[datetime]] = {j: [] for j in JOB_IDS}
        self.spans: dict[str, list[tuple[float, float]]] = {j: [] for j in JOB_IDS}
        self.lock = threading.Lock()

    def bodies(self) -> dict[str, Callable[[datetime], None]]:
        def make(job: str) -> Callable[[datetime], None]:
            def body(now: datetime) -> None:
                start = time.monotonic()
                time.sleep(self.slow.get(job, 0.0))
                with self.lock:
                    self.calls[job].append(now)
                    self.spans[job].append((start, time.monotonic()))
            return body
        return {j: make(j) for j in JOB_IDS}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def sched_factory(settings: Settings, sqlite_store: Store) -> Iterator[Callable[..., BackgroundScheduler]]:
    made: list[BackgroundScheduler] = []

    def make(recorder: Recorder, **kw: Any) -> BackgroundScheduler:
        s = build_scheduler(settings, sqlite_store, jobs=recorder.bodies(), **kw)
        made.append(s)  # type: ignore[arg-type]
        return s  # type: ignore[return-value]

    yield make
    for s in made:
        if s.running:
            s.shutdown(wait=True)


def test_jobs_have_fixed_ids_and_safe_options(sched_factory: Callable[..., BackgroundScheduler]) -> None:
    sched = sched_factory(Recorder())
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == set(JOB_IDS) == {"poll-feeds", "match", "send-digests", "retention"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 3600
    assert str(sched.timezone) == "UTC"


def test_next_runs_for_status(sqlite_store: Store) -> None:
    sqlite_store.record_job_start("match", now=MON - timedelta(minutes=2))
    runs = next_runs(sqlite_store, MON)
    assert set(runs) == set(JOB_IDS)
    assert runs["match"] == MON + timedelta(minutes=3)
    assert runs["poll-feeds"] == MON  # never ran: due now
    assert runs["retention"] == datetime(2026, 11, 24, 3, 17, tzinfo=UTC)


def test_missed_run_is_logged_loudly(sched_factory: Callable[..., BackgroundScheduler],
                                     caplog: pytest.LogCaptureFixture) -> None:
    """A run more than the grace late (the host was suspended) is skipped with an ERROR line."""
    caplog.set_level(logging.INFO, logger="digest.schedule")
    recorder = Recorder()
    with time_machine.travel(MON, tick=True):
        sched = sched_factory(recorder, run_now=False)
        sched.modify_job("retention", next_run_time=datetime.now(UTC) - timedelta(hours=10))
        sched.start()
        wait_for(lambda: any("MISSED RUN job=retention" in r.getMessage() for r in caplog.records))
    missed = [r for r in caplog.records if "MISSED RUN" in r.getMessage()]
    assert missed[0].levelno == logging.ERROR
    assert recorder.calls["retention"] == []


def test_days_of_coalesced_runs_are_logged_loudly(sched_factory: Callable[..., BackgroundScheduler],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The host was suspended for three days (a laptop lid, a paused VM): the send job's 864 runs
    were not made. On resume they are coalesced into one run, whose own time is within the grace;
    one WARNING line names the job, how late it is and about how many runs were skipped."""
    caplog.set_level(logging.INFO)
    recorder = Recorder()
    sched = sched_factory(recorder, run_now=False)
    sched.modify_job("send-digests", next_run_time=datetime.now(UTC) - timedelta(days=3))
    sched.start()
    wait_for(lambda: len(recorder.spans["send-digests"]) >= 1)
    time.sleep(0.2)
    sched.shutdown(wait=True)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "send-digests" in r.getMessage()]
    assert len(loud) == 1 and loud[0].startswith("LATE RUN job=send-digests 3 days"), loud
    assert "about 864 runs skipped" in loud[0]
    assert len(recorder.spans["send-digests"]) == 1  # still coalesced into one run


def test_catch_up_after_a_restart_sends_after_polling_and_matching(
        sched_factory: Callable[..., BackgroundScheduler]) -> None:
    """On start the catch-up runs poll, match and send one after the other, not at the same instant:
    the late digests hold the missed arXiv listings the poll backfilled and the matcher matched."""
    recorder = Recorder(slow={"poll-feeds": 0.8, "match": 0.3})
    sched = sched_factory(recorder)
    sched.start()
    wait_for(lambda: all(recorder.spans[j] for j in ("poll-feeds", "match", "send-digests")))
    sched.shutdown(wait=True)
    send_start = recorder.spans["send-digests"][0][0]
    poll_end = recorder.spans["poll-feeds"][0][1]
    match_start, match_end = recorder.spans["match"][0]
    assert poll_end <= match_start and match_end <= send_start, \
        "the catch-up send ran before the catch-up poll and match had finished"


def test_a_shutdown_during_the_catch_up_poll_starts_no_match_or_send(
        sched_factory: Callable[..., BackgroundScheduler]) -> None:
    """SIGTERM while the catch-up poll runs: the poll finishes, the match and send waiting for it are
    not started (the next start catches up), and the shutdown does not hang."""
    recorder = Recorder(slow={"poll-feeds": 0.5})
    sched = sched_factory(recorder)
    sched.start()
    time.sleep(0.1)
    sched.shutdown(wait=True)
    assert len(recorder.spans["poll-feeds"]) == 1
    assert recorder.spans["match"] == [] and recorder.spans["send-digests"] == []


def test_every_tick_polls_then_matches_then_sends(sched_factory: Callable[..., BackgroundScheduler]) -> None:
    """Not only on start: at every tick the poll comes first, the match a minute later and the send
    a minute after that, on one grid, so a digest due at 07:00 is built at 07:02 from what the 07:00
    poll fetched (the arXiv RSS rebuild lands at 06:00 UTC, 07:00 in Paris)."""
    sched = sched_factory(Recorder(), run_now=False)
    now = datetime.now(UTC)
    nxt = {j.id: j.trigger.get_next_fire_time(None, now) for j in sched.get_jobs()}
    assert nxt["match"] - nxt["poll-feeds"] == timedelta(minutes=1)
    assert nxt["send-digests"] - nxt["match"] == timedelta(minutes=1)
    later = {j.id: j.trigger.get_next_fire_time(None, nxt["send-digests"] + timedelta(seconds=1)) for j in sched.get_jobs() if j.id != "retention"}
    assert later["poll-feeds"] - nxt["poll-feeds"] == timedelta(minutes=5)
    assert later["send-digests"] - later["poll-feeds"] == timedelta(minutes=2)


def test_a_slow_tick_holds_up_the_match_and_send_after_it(sqlite_store: Store) -> None:
    """A regular tick (not the start-up catch-up) whose poll takes longer than its minutes: the match
    due meanwhile waits until the poll has ended, and the send until the match has ended (not only
    until the poll has: the match waiting for it holds the send up too), so the digest holds the
    listing the poll was still fetching."""
    from digest.schedule import _TickChain, run_job

    class Running:
        state = 1  # STATE_RUNNING

    def body(spans: dict[str, tuple[float, float]], job: str, seconds: float) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            start = time.monotonic()
            time.sleep(seconds)
            spans[job] = (start, time.monotonic())
        return run

    for _ in range(15):  # which waiting thread wakes first when the poll ends is the OS's choice
        chain = _TickChain(Running(), run_now=False)  # type: ignore[arg-type]
        spans: dict[str, tuple[float, float]] = {}
        poll = threading.Thread(target=run_job, args=(sqlite_store, "poll-feeds", body(spans, "poll-feeds", 0.1), chain))
        poll.start()
        wait_for(lambda c=chain: "poll-feeds" in c._running)
        match = threading.Thread(target=run_job, args=(sqlite_store, "match", body(spans, "match", 0.05), chain))
        send = threading.Thread(target=run_job, args=(sqlite_store, "send-digests", body(spans, "send-digests", 0.0),
                                                      chain))
        match.start()  # due a minute after the poll: it waits, and so does the send due a minute later
        wait_for(lambda c=chain: "match" in c._waiting)
        send.start()
        for t in (poll, match, send):
            t.join(timeout=20)
        assert spans["poll-feeds"][1] <= spans["match"][0]
        assert spans["match"][1] <= spans["send-digests"][0]


def test_backlog_coalesces_into_one_run(sched_factory: Callable[..., BackgroundScheduler]) -> None:
    """An hour of 5-minute ticks owed (within the grace) runs once, not twelve times."""
    recorder = Recorder()
    with time_machine.travel(MON, tick=True):
        sched = sched_factory(recorder, run_now=False)
        sched.modify_job("match", next_run_time=datetime.now(UTC) - timedelta(hours=1))
        sched.start()
        wait_for(lambda: len(recorder.calls["match"]) >= 1)
        sched.shutdown(wait=True)
    assert len(recorder.calls["match"]) == 1


def test_restart_after_outage_catches_up_at_once(sched_factory: Callable[..., BackgroundScheduler],
                                                 sqlite_store: Store) -> None:
    """Down for three days: the new process runs each tick job once on start, with the current time;
    what is owed comes from the tables (feed state, watermarks, outbox), recorded in job_runs."""
    recorder = Recorder()
    with time_machine.travel(MON, tick=True):
        first = sched_factory(recorder)
        first.start()
        wait_for(lambda: all(recorder.calls[j] for j in ("poll-feeds", "match", "send-digests")))
        first.shutdown(wait=True)
    later = MON + timedelta(days=3)
    with time_machine.travel(later, tick=True):
        second = sched_factory(recorder)
        second.start()
        wait_for(lambda: all(len(recorder.calls[j]) == 2 for j in ("poll-feeds", "match", "send-digests")))
        second.shutdown(wait=True)
    for job in ("poll-feeds", "match", "send-digests"):
        assert recorder.calls[job][1] >= later
    runs = {r.job_id: r for r in sqlite_store.job_runs()}
    assert runs["send-digests"].runs == 2 and runs["send-digests"].last_error is None
    assert runs["send-digests"].last_start is not None and runs["send-digests"].last_start >= later


def test_failing_job_is_recorded_and_does_not_stop_the_scheduler(settings: Settings, sqlite_store: Store) -> None:
    def boom(now: datetime) -> None:
        raise RuntimeError("feed host down")

    noop: Callable[[datetime], None] = lambda now: None  # noqa: E731
    sched = build_scheduler(settings, sqlite_store, jobs={"poll-feeds": boom, "match": noop,
                                                          "send-digests": noop, "retention": noop})
    sched.start()
    try:
        wait_for(lambda: any(r.job_id == "poll-feeds" and r.last_end for r in sqlite_store.job_runs()))
    finally:
        sched.shutdown(wait=True)
    run = {r.job_id: r for r in sqlite_store.job_runs()}["poll-feeds"]
    assert run.last_error == "RuntimeError: feed host down"


# --- arXiv-aware polling ---------------------------------------------------------------------------


def state(**kw: Any) -> FeedState:
    base: dict[str, Any] = dict(name="arxiv-cs", kind="arxiv-rss", url=None, interval_seconds=3600, health="ok")
    base.update(kw)
    return FeedState(**base)


def test_poll_after_the_daily_refresh() -> None:
    friday_batch = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    d = arxiv_poll_decision(state(last_success=friday_batch), MON)
    assert d.action == "poll"
    # Monday 05:30 UTC is 00:30 Eastern: the rebuild happened but its grace hour has not passed.
    early = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    assert arxiv_poll_decision(state(last_success=friday_batch), early).action == "wait"


@pytest.mark.parametrize("now", [datetime(2026, 11, 21, 12, 0, tzinfo=UTC), datetime(2026, 11, 22, 23, 0, tzinfo=UTC)])
def test_no_polling_over_the_weekend(now: datetime) -> None:
    d = arxiv_poll_decision(state(last_success=datetime(2026, 11, 20, 7, 0, tzinfo=UTC)), now)
    assert d.action == "wait"
    assert d.not_before is not None and d.not_before.weekday() == 0  # Monday's rebuild


def test_stale_batch_is_retried_on_a_spacing() -> None:
    st = state(health="stale", last_success=datetime(2026, 11, 20, 7, 0, tzinfo=UTC),
               last_attempt=MON - timedelta(minutes=10))
    assert arxiv_poll_decision(st, MON).action == "wait"
    st = state(health="stale", last_success=datetime(2026, 11, 20, 7, 0, tzinfo=UTC),
               last_attempt=MON - timedelta(minutes=40))
    assert arxiv_poll_decision(st, MON).action == "retry"


def test_gap_of_more_than_one_announcement_triggers_a_backfill() -> None:
    """The backfill starts a week before the last good fetch: Tuesday's batch (missed) carries papers
    submitted on the Monday before it, and Monday's carried the weekend's; holds add days."""
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    d = arxiv_poll_decision(state(last_success=MON), thursday)  # missed Tue, Wed, Thu batches
    assert d.action == "backfill"
    assert (d.backfill_from, d.backfill_to) == ((MON - timedelta(days=7)).date(), thursday.date())
    assert arxiv_gap(MON, thursday) == (d.backfill_from, d.backfill_to)
    assert arxiv_gap(MON, MON + timedelta(days=1)) is None  # one batch since: the feed still shows it
    assert arxiv_gap(None, thursday) is None
    # Over a weekend the Friday -> Monday step is a single batch: no backfill.
    assert arxiv_poll_decision(state(last_success=datetime(2026, 11, 20, 7, tzinfo=UTC)), MON).action == "poll"


def test_an_api_listing_behind_by_several_batches_polls_instead_of_a_backfill() -> None:
    """An arXiv API category listing reads itself back to a week before its last good poll, which a
    later page that failed keeps where it was: polling recovers the gap, and a backfill of the same
    categories would repeat it at every poll while the page fails."""
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert arxiv_poll_decision(state(kind="arxiv-atom", last_success=MON), thursday).action == "poll"
    assert arxiv_poll_decision(state(kind="arxiv-rss", last_success=MON), thursday).action == "backfill"


def test_never_fetched_polls() -> None:
    assert arxiv_poll_decision(state(), MON).action == "poll"


def test_poll_feeds_skips_arxiv_on_the_weekend(tmp_path: Path, sqlite_store: Store, httpserver: Any,
                                               data_dir: Path) -> None:
    """Real fetches from a loopback server: Saturday makes no request, Monday fetches the batch."""
    body = (data_dir / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
    httpserver.expect_request("/rss/cs").respond_with_data(body, content_type="application/rss+xml")
    settings = Settings(data_dir=tmp_path, feeds=[FeedSettings(name="arxiv-cs", kind="arxiv-rss",
                                                               url=httpserver.url_for("/rss/cs"))])
    settings.fetch.allow_hosts = ["127.0.0.1", "localhost"]
    settings.fetch.host_spacing = 0
    friday = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    poll_feeds(settings, sqlite_store, friday)
    assert len(httpserver.log) == 1
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    poll_feeds(settings, sqlite_store, saturday)
    assert len(httpserver.log) == 1  # due by its interval, but no new batch exists on a Saturday
    poll_feeds(settings, sqlite_store, MON)
    assert len(httpserver.log) == 2
    assert sqlite_store.paper_count() > 0


# --- shutdown --------------------------------------------------------------------------------------


CHILD = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from digest.config import Settings
    from digest.schedule import install_signal_handlers, run_scheduler
    from digest.store import Store

    tmp, url = Path(sys.argv[1]), sys.argv[2]
    store = Store.open(url, migrate=False)

    def slow(now):
        (tmp / "started").write_text("x")
        deadline = time.monotonic() + 60
        while not (tmp / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp / "finished").write_text("x")

    noop = lambda now: None
    stop = threading.Event()
    install_signal_handlers(stop)
    ok = run_scheduler(Settings(data_dir=tmp), store, stop,
                       jobs={"poll-feeds": slow, "match": noop, "send-digests": noop, "retention": noop})
    print("clean exit" if ok else "no lock", flush=True)
""")


def test_sigterm_lets_the_job_in_flight_finish(tmp_path: Path, sqlite_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), sqlite_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: (tmp_path / "started").exists() or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        (tmp_path / "go").write_text("x")  # the job can finish only after the signal arrived
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "clean exit" in out
    assert (tmp_path / "finished").exists()
    assert "received SIGTERM" in err
    store = Store.open(sqlite_url, migrate=False)
    try:
        run = {r.job_id: r for r in store.job_runs()}["poll-feeds"]
        assert run.last_end is not None and not run.running
    finally:
        store.close()
