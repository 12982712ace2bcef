"""Load test of the feed endpoint: real uvicorn on loopback, SQLite store, a writer ingesting and
matching the whole time (what the scheduler does), bounded in requests and seconds.

Reported per phase (full feeds; 304 revalidations with If-None-Match): requests/s, p50 and p99
latency, errors (any non-200/304 or transport error), and how often SQLite said "database is
locked" anywhere (readers must never see it: WAL lets readers run beside the one writer, and the
store's writers take the lock up front with BEGIN IMMEDIATE and a busy timeout).

Public: :func:`run`, :func:`format_report`.
"""

from __future__ import annotations

import logging
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from digest.config import Settings
from digest.models import PaperRecord

WORDS = ("diffusion", "graph", "protein", "attention", "bandit", "causal", "quantum", "robot", "speech", "vision",
         "sparse", "kernel", "privacy", "federated", "reinforcement", "language", "molecule", "climate")
MAX_REQUESTS = 20_000


class _LockWatch(logging.Handler):
    """Counts "database is locked" anywhere in the logs (server errors are logged with tracebacks)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        if "database is locked" in text:
            self.count += 1


def _records(start: int, n: int) -> list[PaperRecord]:
    out = []
    for i in range(start, start + n):
        a, b = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
        out.append(PaperRecord(source_kind="rss", external_id=f"https://bench.example/{i}",
                               url=f"https://bench.example/{i}", title=f"{a.title()} {b} methods, part {i}",
                               authors=(f"Author {i % 97}",), abstract=f"We study {a} with {b}. Item {i}.",
                               published=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=i)))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stats(latencies: list[float], elapsed: float) -> dict[str, Any]:
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": round(len(lat) / elapsed, 1) if elapsed else 0,
            "p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2) if lat else None}


def _phase(url: str, *, revalidate: bool, seconds: float, concurrency: int) -> dict[str, Any]:
    """Hammer ``url`` from ``concurrency`` keep-alive clients until ``seconds`` or MAX_REQUESTS.

    With ``revalidate`` each client acts like a feed reader: it sends the ETag it last saw and takes
    a 200 (the writer changed the feed) as the new version; without, every request wants the body.
    """
    by_status: dict[int, list[float]] = {200: [], 304: []}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [MAX_REQUESTS]

    def client() -> None:
        with httpx.Client(timeout=10.0) as http:
            etag = http.get(url).headers.get("etag", "") if revalidate else ""
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                t0 = time.perf_counter()
                try:
                    r = http.get(url, headers={"If-None-Match": etag} if revalidate else {})
                    status, detail = r.status_code, f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    status, detail = 0, type(exc).__name__
                took = time.perf_counter() - t0
                if status == 200 and revalidate:
                    etag = r.headers.get("etag", "")
                with lock:
                    if status in by_status and (revalidate or status == 200):
                        by_status[status].append(took)
                    else:
                        errors.append(detail)

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(client) for _ in range(concurrency)]:
            f.result()
    elapsed = time.monotonic() - start
    main = by_status[304 if revalidate else 200]
    return {**_stats(main, elapsed), "seconds": round(elapsed, 2), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5],
            "changed_200": len(by_status[200]) if revalidate else None}


def _writer(store: Any, stop: threading.Event, counter: dict[str, int], failures: list[str]) -> None:
    """What the scheduler does while people read: ingest a small batch, match it, repeat."""
    from digest.match.run import match_new

    n = 100_000
    while not stop.is_set():
        try:
            store.ingest_records("bench-writer", _records(n, 20))
            match_new(store)
            counter["batches"] += 1
        except Exception as exc:  # reported, not raised: the figures say what went wrong
            failures.append(f"{type(exc).__name__}: {exc}")
        n += 20
        stop.wait(0.02)


def run(*, seconds: float = 10.0, concurrency: int = 8, papers: int = 2000,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    import uvicorn

    from digest.match.run import match_new
    from digest.store import Store
    from digest.web import create_app

    say = progress or (lambda _msg: None)
    watch = _LockWatch()
    logging.getLogger().addHandler(watch)
    with tempfile.TemporaryDirectory(prefix="digest-bench-web-") as tmp:
        port = _free_port()
        settings = Settings(data_dir=Path(tmp))
        settings.web.base_url = f"http://127.0.0.1:{port}"
        store = Store.open(settings.database_url)
        say(f"storing {papers} papers")
        store.ingest_records("bench", _records(0, papers))
        store.upsert_user("reader@bench.example")
        sub = store.add_subscription("reader@bench.example", "diffusion", query="diffusion", channel="feed")
        match_new(store)
        user = store.get_user("reader@bench.example")
        server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/feeds/{user.feed_token}/sub-{sub.id}.atom"
        first = httpx.get(url, timeout=30)
        first.raise_for_status()
        etag, size = first.headers["etag"], len(first.content)

        stop, counter, failures = threading.Event(), {"batches": 0}, list[str]()
        writer = threading.Thread(target=_writer, args=(store, stop, counter, failures), daemon=True)
        writer.start()
        try:
            say(f"full feeds for {seconds:g} s")
            full = _phase(url, revalidate=False, seconds=seconds, concurrency=concurrency)
            say(f"304 revalidations for {seconds:g} s")
            not_modified = _phase(url, revalidate=True, seconds=seconds, concurrency=concurrency)
        finally:
            stop.set()
            writer.join()
            server.should_exit = True
            thread.join()
            store.close()
            logging.getLogger().removeHandler(watch)
    return {"full": {**full, "bytes": size}, "not_modified": not_modified, "first_etag": etag,
            "concurrency": concurrency, "papers": papers, "writer_batches": counter["batches"],
            "writer_failures": failures[:5], "database_locked": watch.count,
            "ratio_304_vs_full_rps": round(not_modified["rps"] / full["rps"], 2) if full["rps"] else None}


def format_report(r: dict[str, Any]) -> str:
    lines = [f"feed endpoint, uvicorn on loopback, SQLite, {r['concurrency']} clients, writer ingesting "
             f"({r['writer_batches']} batches of 20 papers + matching during the run)"]
    for name, key in (("full feed (200)", "full"), ("revalidation (304)", "not_modified")):
        p = r[key]
        lines.append(f"  {name:20} {p['requests']:6d} requests  {p['rps']:8.1f} req/s  p50 {p['p50_ms']} ms  "
                     f"p99 {p['p99_ms']} ms  errors {p['errors']}")
    lines.append(f"  304 vs full: {r['ratio_304_vs_full_rps']}x requests/s; full feed {r['full']['bytes']} bytes; "
                 f"{r['not_modified']['changed_200']} revalidations got a changed feed (200)")
    lines.append(f"  'database is locked': {r['database_locked']}; writer failures: {len(r['writer_failures'])}")
    return "\n".join(lines)
