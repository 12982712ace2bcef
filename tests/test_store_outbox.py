"""The transactional outbox on SQLite and PostgreSQL: one row per period, watermark and sent papers
written together, concurrent enqueues and claims, leases, retries and status."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from digest.store import Store
from digest.store.schema import PaperRow

from scale_helpers import capture_selects, row_walks

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def _papers(store: Store, *ids: str) -> None:
    # Bare rows: these tests are about the outbox; sent_papers only needs the foreign key to hold.
    with store.write() as conn:
        for pid in ids:
            conn.execute(PaperRow.__table__.insert().values(
                id=pid, title=pid, title_key=pid, first_author_key="", authors=[], abstract="", categories=[],
                keywords=[], first_seen=T0, seq=0))


def _enqueue(store: Store, user_id: int, key: str = "2026-11-24", *, papers: tuple[str, ...] = (),
             seq_from: int = 0, seq_to: int = 10, message: bytes | None = b"Subject: x\r\n\r\nbody\r\n") -> int | None:
    return store.enqueue_digest(user_id, "daily", key, f"<{user_id}.{key}@digest>", "subject", "a@example.org",
                                message, list(papers), seq_from, seq_to, [1] * len(papers), now=T0)


def test_enqueue_writes_row_sent_papers_and_watermark_together(store: Store) -> None:
    _papers(store, "arxiv:1", "arxiv:2")
    u = store.upsert_user("a@example.org")
    oid = _enqueue(store, u.id, papers=("arxiv:1", "arxiv:2"), seq_to=7)
    assert oid is not None
    assert store.digest_watermark(u.id, "daily") == 7
    assert store.digest_watermark(u.id, "weekly") == 0
    assert store.sent_versions(u.id, ["arxiv:1", "arxiv:2", "arxiv:3"]) == {"arxiv:1": 1, "arxiv:2": 1}
    row = store.get_outbox(oid)
    assert row is not None and row.status == "pending" and row.message == b"Subject: x\r\n\r\nbody\r\n"
    assert (row.seq_from, row.seq_to) == (0, 7)
    assert store.outbox_keys([(u.id, "daily", "2026-11-24"), (u.id, "daily", "2026-11-25")]) == {
        (u.id, "daily", "2026-11-24")}


def test_second_enqueue_of_the_same_period_is_a_no_op(store: Store) -> None:
    _papers(store, "arxiv:1", "arxiv:9")
    u = store.upsert_user("a@example.org")
    assert _enqueue(store, u.id, papers=("arxiv:1",), seq_to=5) is not None
    # Same period again (a second run): nothing changes, not even the watermark.
    assert _enqueue(store, u.id, papers=("arxiv:9",), seq_from=5, seq_to=9) is None
    assert store.digest_watermark(u.id, "daily") == 5
    assert store.sent_versions(u.id, ["arxiv:9"]) == {}
    assert len(store.outbox_rows()) == 1


def test_digest_built_from_a_stale_watermark_is_refused(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    assert _enqueue(store, u.id, "2026-11-24", seq_from=0, seq_to=5) is not None
    # Another run built tomorrow's digest from watermark 0 too: it would repeat papers 1..5.
    assert _enqueue(store, u.id, "2026-11-25", seq_from=0, seq_to=8) is None
    assert _enqueue(store, u.id, "2026-11-25", seq_from=5, seq_to=8) is not None
    assert store.digest_watermark(u.id, "daily") == 8


def test_empty_digest_marks_the_period_done_and_advances(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    oid = _enqueue(store, u.id, message=None, seq_to=4)
    assert oid is not None
    assert store.get_outbox(oid).status == "empty"  # type: ignore[union-attr]
    assert store.digest_watermark(u.id, "daily") == 4
    assert store.claim_pending(T0 + timedelta(hours=1), 10, "w1") == []
    assert store.outbox_summary().counts["empty"] == 1


def test_concurrent_enqueues_of_one_period_write_one_row(store: Store) -> None:
    _papers(store, "arxiv:1")
    u = store.upsert_user("a@example.org")
    results: list[int | None] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(_enqueue(store, u.id, papers=("arxiv:1",), seq_to=3))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r is not None]) == 1
    assert len(store.outbox_rows()) == 1
    assert store.digest_watermark(u.id, "daily") == 3


def test_concurrent_claims_never_hand_out_a_row_twice(store: Store) -> None:
    users = [store.upsert_user(f"u{i}@example.org") for i in range(30)]
    for u in users:
        _enqueue(store, u.id)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(3)

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while batch := store.claim_pending(T0 + timedelta(minutes=1), 4, name, 300):
            mine.extend(i.id for i in batch)
        claimed.append(mine)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for c in claimed for i in c]
    assert len(every) == len(set(every)) == 30


def test_lease_expiry_reclaims_a_row_whose_sender_died(store: Store) -> None:
    u = store.upsert_user("a@example.org")
    oid = _enqueue(store, u.id)
    now = T0 + timedelta(minutes=1)
    [item] = store.claim_pending(now, 10, "w1", lease_seconds=60)
    assert item.id == oid and item.attempts == 1 and item.message
    assert store.claim_pending(now + timedelta(seconds=59), 10, "w2", 60) == []
    [again] = store.claim_pending(now + timedelta(seconds=61), 10, "w2", 60)
    assert again.id == oid and again.attempts == 2 and again.message == item.message


def test_retry_failed_sent_and_summary(store: Store) -> None:
    ids = [_enqueue(store, store.upsert_user(f"u{i}@example.org").id) for i in range(3)]
    now = T0 + timedelta(minutes=1)
    items = store.claim_pending(now, 10, "w1")
    assert [i.id for i in items] == ids
    store.mark_sent(ids[0], now=now)
    store.mark_retry(ids[1], "try later", 451, now + timedelta(minutes=5))
    store.mark_failed(ids[2], "mailbox unavailable", 550)
    assert store.claim_pending(now + timedelta(minutes=4), 10, "w1") == []
    assert [i.id for i in store.claim_pending(now + timedelta(minutes=5), 10, "w1")] == [ids[1]]
    sent = store.get_outbox(ids[0])
    assert sent is not None and sent.status == "sent" and sent.sent_at == now and sent.message is None
    summary = store.outbox_summary()
    assert summary.counts["sent"] == 1 and summary.counts["failed"] == 1 and summary.counts["sending"] == 1
    assert [(p.id, p.smtp_code, p.last_error) for p in summary.problems] == [(ids[2], 550, "mailbox unavailable")]
    assert summary.last_sent == now
    assert [r.id for r in store.outbox_rows("failed")] == [ids[2]]
    assert store.requeue_failed() == 1
    assert store.get_outbox(ids[2]).status == "pending"  # type: ignore[union-attr]


def test_release_claims_gives_rows_back(store: Store) -> None:
    oid = _enqueue(store, store.upsert_user("a@example.org").id)
    now = T0 + timedelta(minutes=1)
    [item] = store.claim_pending(now, 10, "w1")
    store.release_claims([item.id], "other-owner")  # not ours: untouched
    assert store.claim_pending(now, 10, "w2") == []
    store.release_claims([item.id], "w1")
    [again] = store.claim_pending(now, 10, "w2")
    assert again.id == oid and again.attempts == 1


def test_enqueue_digests_in_one_transaction_gives_the_one_by_one_outcomes(store: Store) -> None:
    from digest.store.outbox import Enqueue

    _papers(store, "arxiv:1", "arxiv:2")
    a, b = store.upsert_user("a@example.org"), store.upsert_user("b@example.org")
    assert _enqueue(store, b.id, "2026-11-23") is not None  # b's day already recorded

    def row(user_id: int, key: str, seq_from: int, seq_to: int, papers: tuple[str, ...] = ()) -> Enqueue:
        return Enqueue(user_id, "daily", key, f"<{user_id}.{key}@digest>", "s", "x@example.org",
                       b"Subject: x\r\n\r\nbody\r\n", papers, seq_from, seq_to, (2,) * len(papers))

    ids = store.enqueue_digests([
        row(a.id, "2026-11-24", 0, 5, ("arxiv:1",)),
        row(a.id, "2026-11-25", 0, 9),              # built from the watermark the first one moves: stale
        row(b.id, "2026-11-23", 10, 12),            # its row exists: nothing written
        row(b.id, "2026-11-24", 10, 20, ("arxiv:1", "arxiv:2")),
    ], now=T0)
    assert ids[0] is not None and ids[1] is None and ids[2] is None and ids[3] is not None
    assert store.digest_watermark(a.id, "daily") == 5 and store.digest_watermark(b.id, "daily") == 20
    assert store.sent_versions(a.id, ["arxiv:1", "arxiv:2"]) == {"arxiv:1": 2}
    assert store.sent_versions(b.id, ["arxiv:1", "arxiv:2"]) == {"arxiv:1": 2, "arxiv:2": 2}
    assert store.outbox_keys([(a.id, "daily", "2026-11-25")]) == set()
    assert store.enqueue_digests([], now=T0) == []


def test_last_sent_time_is_read_from_an_index(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`digest status` shows when a digest was last sent without reading every outbox row: each row
    holds the complete message (tens of KB, kept forever), so a walk to ``sent_at`` crossed every
    message (0.4 s warm for 30,000 sent digests, a year of a department's from disk)."""
    statements = capture_selects(monkeypatch)
    store = Store.open(sqlite_url, migrate=False)
    try:
        user = store.upsert_user("ada@example.org", name="Ada")
        for day in range(1, 4):
            key = f"2026-11-{day:02d}"
            store.enqueue_digest(user.id, "daily", key, f"<{key}@example.org>", "Your digest", user.email,
                                 b"x" * 50_000, [], 0, 0, now=datetime(2026, 11, day, 7, tzinfo=timezone.utc))
        statements.seen.clear()
        store.outbox_summary()
    finally:
        store.close()
    walked = row_walks(statements, "outbox")
    assert not walked, "digest status reads every outbox row (and message):\n" + "\n".join(walked)


def test_retention_drops_the_contents_of_expired_digest_pages_but_keeps_the_rows(store: Store) -> None:
    """The daily retention job keeps every outbox row (its key makes a period's digest once-only)
    but drops the recorded contents of a digest built more than 90 days ago: its page's links (the
    digest's feedback token) have expired, so nothing reads them any more."""
    from digest.schedule import retention
    from digest.store.outbox import Enqueue

    u = store.upsert_user("a@example.org")
    for key, when in (("old", T0 - timedelta(days=91)), ("month", T0 - timedelta(days=30))):
        store.enqueue_digests([Enqueue(u.id, "daily", key, f"<{key}@digest>", "s", "a@example.org",
                                       b"Subject: x\r\n\r\nbody\r\n", (), 0, 0, contents={"sections": []})], now=when)
    retention(store, T0)
    assert store.recorded_digest(u.id, "old").contents is None  # type: ignore[union-attr]
    assert store.recorded_digest(u.id, "month").contents == {"sections": []}  # type: ignore[union-attr]
    assert store.outbox_keys([(u.id, "daily", k) for k in ("old", "month")]) == {
        (u.id, "daily", k) for k in ("old", "month")}
