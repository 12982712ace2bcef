"""The work queue on both backends: idempotent enqueue, exclusive claims, lease expiry, job runs."""

from __future__ import annotations

import threading
import time
from typing import Any
from datetime import datetime, timedelta, timezone

import pytest

from digest.store import Store

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def test_enqueue_is_idempotent(store: Store) -> None:
    assert store.enqueue_work("fetch", "feed:a:1", {"feed": "a"}, now=T0)
    assert not store.enqueue_work("fetch", "feed:a:1", {"feed": "other"}, now=T0)
    assert store.enqueue_work("match", "feed:a:1", now=T0)  # unique per kind
    assert store.get_work("fetch", "feed:a:1").payload == {"feed": "a"}  # type: ignore[union-attr]


def test_claim_complete_and_kinds(store: Store) -> None:
    store.enqueue_work("fetch", "f1", now=T0)
    store.enqueue_work("deliver", "d1", now=T0)
    [item] = store.claim_work("w1", ["deliver"], lease_seconds=60, now=T0)
    assert (item.kind, item.key, item.status, item.attempts, item.lease_owner) == ("deliver", "d1", "running", 1, "w1")
    assert store.claim_work("w2", ["deliver"], 60, now=T0) == []
    assert not store.complete_work(item.id, "w2", now=T0)  # not the owner
    assert store.complete_work(item.id, "w1", now=T0)
    assert store.get_work("deliver", "d1").status == "done"  # type: ignore[union-attr]
    assert [i.key for i in store.claim_work("w2", None, 60, limit=5, now=T0)] == ["f1"]


def test_expired_lease_is_reclaimed_and_old_owner_loses(store: Store) -> None:
    store.enqueue_work("deliver", "outbox:1", now=T0)
    [first] = store.claim_work("dead-worker", ["deliver"], lease_seconds=30, now=T0)
    assert store.claim_work("w2", ["deliver"], 30, now=T0 + timedelta(seconds=29)) == []
    [again] = store.claim_work("w2", ["deliver"], 30, now=T0 + timedelta(seconds=31))
    assert again.id == first.id and again.attempts == 2 and again.lease_owner == "w2"
    # The presumed-dead worker wakes up: it can neither renew nor complete the item any more.
    assert not store.renew_lease(first.id, "dead-worker", 30, now=T0 + timedelta(seconds=32))
    assert not store.complete_work(first.id, "dead-worker")
    assert store.renew_lease(first.id, "w2", 30, now=T0 + timedelta(seconds=32))
    assert store.complete_work(first.id, "w2")


def test_fail_retries_with_backoff_then_gives_up(store: Store) -> None:
    store.enqueue_work("fetch", "f", now=T0)
    now = T0
    for attempt in range(1, 6):
        [item] = store.claim_work("w", ["fetch"], 60, now=now)
        assert item.attempts == attempt
        assert store.fail_work(item.id, "w", f"boom {attempt}", retry_seconds=10, now=now)
        if attempt < 5:
            assert store.claim_work("w", ["fetch"], 60, now=now) == []  # backing off
            now += timedelta(seconds=10 * attempt)
    final = store.get_work("fetch", "f")
    assert final is not None and final.status == "failed" and final.last_error == "boom 5"
    summary = store.work_summary(now=now)
    assert summary["counts"] == {"fetch": {"failed": 1}}
    assert summary["failed"][0]["error"] == "boom 5"


def test_concurrent_claimers_never_share_an_item(store: Store) -> None:
    """Eight threads claim from 200 items at once: every item is claimed exactly once."""
    for i in range(200):
        store.enqueue_work("match", f"m{i}", now=T0)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claimer(name: str) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while batch := store.claim_work(name, ["match"], 300, limit=3, now=T0):
                mine.extend(i.id for i in batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        claimed[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 200 and len(set(every)) == 200


@pytest.mark.postgres
def test_skip_locked_skips_a_row_locked_by_an_open_transaction(postgres_url: str) -> None:
    """While one claimer's transaction holds the first row, a second claimer gets the next one."""
    from sqlalchemy import select

    from digest.store.schema import WorkItemRow

    s = Store.open(postgres_url, migrate=False)
    try:
        s.enqueue_work("deliver", "a", now=T0)
        s.enqueue_work("deliver", "b", now=T0)
        with s.engine.connect() as held:
            with held.begin():
                locked = held.execute(select(WorkItemRow.id).order_by(WorkItemRow.id).limit(1)
                                      .with_for_update()).scalar()
                [got] = s.claim_work("w2", ["deliver"], 60, now=T0)  # does not wait for `held`
                assert got.id != locked and got.key == "b"
    finally:
        s.close()


def test_scheduler_lock_is_exclusive(store: Store) -> None:
    other = Store.open(str(store.engine.url.render_as_string(hide_password=False)), migrate=False)
    try:
        first = store.try_scheduler_lock()
        assert first is not None
        assert other.try_scheduler_lock() is None
        first.release()
        second = other.try_scheduler_lock()
        assert second is not None
        second.release()
    finally:
        other.close()


def test_job_runs(store: Store) -> None:
    store.record_job_start("match", now=T0)
    assert store.job_runs()[0].running
    store.record_job_end("match", now=T0 + timedelta(seconds=2))
    store.record_job_start("poll-feeds", now=T0)
    store.record_job_end("poll-feeds", "feed 'x': timeout", now=T0 + timedelta(seconds=1))
    runs = {r.job_id: r for r in store.job_runs()}
    assert runs["match"].runs == 1 and not runs["match"].running and runs["match"].last_error is None
    assert runs["poll-feeds"].last_error == "feed 'x': timeout"


def test_purge_keeps_failed(store: Store) -> None:
    store.enqueue_work("fetch", "old", now=T0)
    [i] = store.claim_work("w", None, 60, now=T0)
    store.complete_work(i.id, "w", now=T0)
    assert store.purge_work(T0 + timedelta(days=1)) == 1
    assert store.get_work("fetch", "old") is None


ORDER = {"match": ("fetch", "backfill"), "digests": ("fetch", "backfill", "match")}


def test_a_unit_waits_for_earlier_units_of_the_kinds_it_is_ordered_after(store: Store) -> None:
    """A tick queues two fetches, then matching, then a digest build: with one worker per unit, the
    match and digest units are not handed out while a fetch queued before them is queued or running,
    and the digest waits for the match too; later units of the same kinds do not hold earlier ones."""
    for key in ("fetch:a", "fetch:b"):
        store.enqueue_work("fetch", key, now=T0)
    store.enqueue_work("match", "match:1", now=T0)
    store.enqueue_work("digests", "digests:1", now=T0)
    store.enqueue_work("fetch", "fetch:later", now=T0)  # queued after them: holds nothing up

    [a] = store.claim_work("w1", None, 60, now=T0, after=ORDER)
    [b] = store.claim_work("w2", None, 60, now=T0, after=ORDER)
    assert (a.key, b.key) == ("fetch:a", "fetch:b")
    # A third and fourth worker: only the later fetch is free; match and digests wait for a and b.
    assert [i.key for i in store.claim_work("w3", None, 60, limit=5, now=T0, after=ORDER)] == ["fetch:later"]
    assert store.claim_work("w4", ["match", "digests"], 60, limit=5, now=T0, after=ORDER) == []
    store.complete_work(a.id, "w1", now=T0)
    assert store.claim_work("w4", ["match", "digests"], 60, limit=5, now=T0, after=ORDER) == []
    store.complete_work(b.id, "w2", now=T0)
    [match] = store.claim_work("w4", ["match", "digests"], 60, limit=5, now=T0, after=ORDER)
    assert match.key == "match:1"
    assert store.claim_work("w5", ["digests"], 60, now=T0, after=ORDER) == []  # the match is running
    store.complete_work(match.id, "w4", now=T0)
    assert [i.key for i in store.claim_work("w5", ["digests"], 60, now=T0, after=ORDER)] == ["digests:1"]


def test_an_earlier_unit_backing_off_or_failed_does_not_hold_a_later_one_up(store: Store) -> None:
    """A fetch that failed and waits out its retry back-off, or failed for good, does not keep the
    digest queued after it waiting: the feed's error is on the feed, the digest goes out."""
    store.enqueue_work("fetch", "fetch:down", now=T0)
    store.enqueue_work("digests", "digests:1", now=T0)
    [fetch] = store.claim_work("w1", ["fetch"], 60, now=T0, after=ORDER)
    store.fail_work(fetch.id, "w1", "timed out", retry_seconds=600, now=T0)
    [digest] = store.claim_work("w2", ["digests"], 60, now=T0 + timedelta(seconds=1), after=ORDER)
    assert digest.key == "digests:1"


def test_a_unit_waits_for_a_dead_workers_unit_until_it_is_given_up(store: Store) -> None:
    """A fetch whose worker died (expired lease) will run again, so the digest still waits for it;
    once it failed for good, it no longer does."""
    store.enqueue_work("fetch", "fetch:a", now=T0)
    store.enqueue_work("digests", "digests:1", now=T0)
    now = T0
    for _ in range(5):  # MAX_ATTEMPTS leases, each left to expire
        [fetch] = store.claim_work("dying", ["fetch"], 30, now=now, after=ORDER)
        assert store.claim_work("w", ["digests"], 30, now=now, after=ORDER) == []
        now += timedelta(seconds=31)
    [digest] = store.claim_work("w", ["digests"], 30, now=now, after=ORDER)  # the fetch is "failed" now
    assert digest.key == "digests:1"
    assert store.get_work("fetch", "fetch:a").status == "failed"  # type: ignore[union-attr]


def test_no_unit_waits_longer_than_the_order_limit_for_a_kind_no_worker_serves(store: Store) -> None:
    """Workers started for digests only, none for fetches: the digest is built after
    MAX_ORDER_WAIT, not never."""
    from digest.store.work import MAX_ORDER_WAIT

    store.enqueue_work("fetch", "fetch:a", now=T0)
    store.enqueue_work("digests", "digests:1", now=T0)
    assert store.claim_work("w", ["digests"], 60, now=T0 + MAX_ORDER_WAIT - timedelta(seconds=1), after=ORDER) == []
    [digest] = store.claim_work("w", ["digests"], 60, now=T0 + MAX_ORDER_WAIT + timedelta(seconds=1), after=ORDER)
    assert digest.key == "digests:1"


def test_workers_run_a_ticks_digest_after_its_fetches_and_matching(store: Store) -> None:
    """Three `digest worker`s share the queue the scheduler filled at start-up (fetches, then
    matching, then the digest build): whichever worker is free first, the digest build starts only
    after every fetch and the matching ended, so the digest holds what that tick fetched."""
    from digest.config import Settings
    from digest.worker import HANDLERS, UNIT_ORDER, run_worker

    assert UNIT_ORDER == ORDER
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def unit(seconds: float) -> Any:
        def handler(settings: Settings, st: Store, item: Any) -> None:
            with lock:
                events.append(("start", item.key))
            time.sleep(seconds)
            with lock:
                events.append(("end", item.key))
        return handler

    handlers = {**HANDLERS, "fetch": unit(0.4), "match": unit(0.1), "digests": unit(0.0)}
    for key in ("fetch:a", "fetch:b"):
        store.enqueue_work("fetch", key)
    store.enqueue_work("match", "match:1")
    store.enqueue_work("digests", "digests:1")
    stop = threading.Event()
    threads = [threading.Thread(target=run_worker, args=(Settings(), store),
                                kwargs=dict(owner=f"w{i}", stop=stop, handlers=handlers, deliver=None, idle_wait=0.02))
               for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while ("end", "digests:1") not in events and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    at = {e: i for i, e in enumerate(events)}
    assert at[("start", "match:1")] > max(at[("end", "fetch:a")], at[("end", "fetch:b")])
    assert at[("start", "digests:1")] > at[("end", "match:1")]


def test_a_failed_fetch_queued_again_holds_up_the_match_queued_after_it(store: Store) -> None:
    """A feed's fetch unit failed for good (the database was down during its five attempts); an hour
    later the poll job queues it again (same key, same row) and, in the same tick, the match and
    digests units. The match waits for it as for a fetch queued for the first time: the row counts
    as queued when it was queued again, not when it was first created."""
    key = "feed:arxiv-cs:2026-11-24T05:00:00"
    store.enqueue_work("fetch", key, {"feed": "arxiv-cs"}, now=T0)
    now = T0
    for _ in range(5):
        [fetch] = store.claim_work("w1", ["fetch"], 60, now=now, after=ORDER)
        store.fail_work(fetch.id, "w1", "database is down", retry_seconds=1, now=now)
        now += timedelta(seconds=10)
    assert store.get_work("fetch", key).status == "failed"  # type: ignore[union-attr]
    tick = T0 + timedelta(hours=1)
    assert store.enqueue_work("fetch", key, {"feed": "arxiv-cs"}, now=tick, retry_failed_after=timedelta(minutes=55))
    store.enqueue_work("match", "match:2026-11-24T07:00", now=tick)
    store.enqueue_work("digests", "digests:2026-11-24T07:00", now=tick)
    assert store.claim_work("w2", ["match", "digests"], 60, limit=5, now=tick + timedelta(seconds=5), after=ORDER) == []
    [again] = store.claim_work("w1", ["fetch"], 60, now=tick + timedelta(seconds=5), after=ORDER)
    store.complete_work(again.id, "w1", now=tick + timedelta(seconds=6))
    got = store.claim_work("w2", ["match", "digests"], 60, limit=5, now=tick + timedelta(seconds=7), after=ORDER)
    assert [i.key for i in got] == ["match:2026-11-24T07:00"]
