"""The work queue on both backends: idempotent enqueue, exclusive claims, lease expiry, job runs."""

from __future__ import annotations

import threading
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
