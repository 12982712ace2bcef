"""Scale-out on a real PostgreSQL server: three workers share the queues, one dies mid-run, and
still every paper is stored and matched and every digest reaches a real SMTP server exactly once.

The death is a worker thread that claims a unit (and an outbox row) and stops without finishing,
as a SIGKILLed process would: its leases are never renewed nor released, they expire, and the
surviving workers take the units over.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from smtp_sink import smtp_sink

from digest.config import FeedSettings, Settings, UserSettings
from digest.store import Store
from digest.store.work import WorkItem
from digest.worker import HANDLERS, run_worker

pytestmark = pytest.mark.postgres

FEEDS, PAPERS_PER_FEED, USERS = 4, 6, 9
#: A third of the papers are about quantum codes: a term in most papers carries little weight (IDF).
TOPICS = ("Quantum error correction", "Protein folding with graph networks", "Sparse attention for long documents")
EVENING = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)
MIDNIGHT = datetime(2026, 11, 24, 0, 30, tzinfo=timezone.utc)
LEASE = 1.5  # seconds: short so the dead worker's claims expire within the test


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the worker catches or records it."""


def rss(feed: int) -> bytes:
    items = []
    for i in range(PAPERS_PER_FEED):
        n = feed * 100 + i
        when = format_datetime(datetime(2026, 11, 20, 8, i, tzinfo=timezone.utc))
        topic = TOPICS[i % len(TOPICS)]
        items.append(f"<item><title>{topic} study {n}</title>"
                     f"<link>https://example.org/papers/{n}</link><guid>https://example.org/papers/{n}</guid>"
                     f"<description>{topic} results number {n}.</description><pubDate>{when}</pubDate></item>")
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Lab {feed}</title>'
            f"<link>https://example.org/</link><description>d</description>{''.join(items)}</channel></rss>").encode()


def wait_for(cond: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.02)


def run_three(settings: Settings, store: Store, dead_does: Callable[[], None]) -> None:
    """Two healthy workers plus one that dies; returns when the healthy ones found no work left."""
    errors: list[BaseException] = []

    def healthy(name: str) -> None:
        try:
            run_worker(settings, store, owner=name, stop=threading.Event(), lease_seconds=LEASE,
                       idle_wait=0.05, until_idle=True)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def dying() -> None:
        try:
            dead_does()
        except Killed:
            pass

    dead = threading.Thread(target=dying)
    dead.start()
    dead.join()  # it holds its claims now, and will never finish them
    threads = [threading.Thread(target=healthy, args=(f"w{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_three_workers_one_killed_exactly_once(postgres_url: str, tmp_path: Path, httpserver: Any) -> None:
    for f in range(FEEDS):
        httpserver.expect_request(f"/lab{f}.xml").respond_with_data(rss(f), content_type="application/rss+xml")
    with smtp_sink() as (sink, port):
        settings = Settings(
            data_dir=tmp_path, secret_key="s" * 40,  # type: ignore[arg-type]
            feeds=[FeedSettings(name=f"lab{f}", kind="rss", url=httpserver.url_for(f"/lab{f}.xml"))
                   for f in range(FEEDS)],
            users=[UserSettings(email=f"u{i}@example.org", hour=0, timezone="UTC") for i in range(USERS)])
        settings.fetch.allow_hosts = ["127.0.0.1", "localhost"]
        settings.fetch.host_spacing = 0
        settings.smtp.host, settings.smtp.port = "127.0.0.1", port
        store = Store.open(postgres_url, migrate=False)
        try:
            store.sync_feeds(settings.feeds)
            # Users who signed up two days before; papers arrive in the evening; digests are due at
            # 00:00 UTC, when each user's digest must carry all of them.
            with time_machine.travel(EVENING - timedelta(days=2)):
                for u in settings.users:
                    store.upsert_user(u.email, hour=0, timezone="UTC")
                    store.add_subscription(u.email, "quantum", query="quantum", channel="email")

            # Phase 1: fetch units; the dying worker claims one feed and is killed inside it.
            evening = time_machine.travel(EVENING, tick=True)
            evening.start()
            for f in range(FEEDS):
                assert store.enqueue_work("fetch", f"feed:lab{f}:1", {"feed": f"lab{f}"})

            def die_fetching() -> None:
                def handler(s: Settings, st: Any, item: WorkItem) -> None:
                    raise Killed()
                run_worker(settings, store, owner="doomed", stop=threading.Event(), lease_seconds=LEASE,
                           handlers={**HANDLERS, "fetch": handler}, deliver=None, until_idle=True)

            run_three(settings, store, die_fetching)
            # The healthy workers may go idle while the doomed lease is still live: keep passing over
            # the queue until it expired and was taken over.
            wait_for(lambda: _drain(settings, store))
            assert {i.status for i in store.list_work(kind="fetch")} == {"done"}
            taken_over = [i for i in store.list_work(kind="fetch") if i.attempts == 2]
            assert len(taken_over) == 1 and taken_over[0].lease_owner != "doomed"
            assert store.paper_count() == FEEDS * PAPERS_PER_FEED

            # Phase 2: one match batch and one digest build, then delivery of one row per claim; the
            # dying worker claims an outbox row and is killed before sending it.
            evening.stop()
            night = time_machine.travel(MIDNIGHT, tick=True)
            night.start()
            store.enqueue_work("match", "match:1")
            store.enqueue_work("digests", "digests:1")
            run_worker(settings, store, owner="w1", stop=threading.Event(), lease_seconds=LEASE, deliver=None,
                       until_idle=True)
            assert store.outbox_summary().counts["pending"] == USERS
            doomed_rows: list[int] = []

            def die_sending() -> None:
                items = store.claim_pending(datetime.now(timezone.utc), 1, "doomed", lease_seconds=LEASE)
                doomed_rows.extend(i.id for i in items)
                raise Killed()

            run_three(settings, store, die_sending)
            wait_for(lambda: _drain(settings, store) and store.outbox_summary().counts["sent"] == USERS)
            night.stop()
        finally:
            store_counts = store.outbox_summary().counts
            matches = store.match_count()
            store.close()
        recipients = Counter(r.rcpt_tos[0] for r in sink.received)
        ids = Counter(sink.message_ids())
    assert store_counts["sent"] == USERS and store_counts["pending"] == 0 and store_counts["sending"] == 0
    assert recipients == Counter({f"u{i}@example.org": 1 for i in range(USERS)})  # every digest exactly once
    assert all(n == 1 for n in ids.values())
    assert matches == USERS * FEEDS * PAPERS_PER_FEED // len(TOPICS)  # no quantum paper missed for anyone
    assert doomed_rows, "the dying worker should have held an outbox row"


def _drain(settings: Settings, store: Store) -> bool:
    """One more pass of a healthy worker over both queues; True when nothing is left or leased."""
    run_worker(settings, store, owner="w3", stop=threading.Event(), lease_seconds=LEASE, idle_wait=0.05,
               until_idle=True)
    busy = [i for i in store.list_work() if i.status in ("queued", "running")]
    counts = store.outbox_summary().counts
    return not busy and counts["pending"] == 0 and counts["sending"] == 0
