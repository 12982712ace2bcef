"""Digest delivery benchmark (issue #4): N users x M papers rendered and delivered to a local SMTP
server, against the render-only baseline from the same run. Target: 10,000 x 20 in <= 30 s.

Set-up (not timed): a fresh SQLite file; real papers from the bundled arXiv RSS capture, ingested
through the store; N users with one subscription each; each user's digest holds M papers picked from
a pool of 400 (users with overlapping topics share paper blocks, as in a real lab). The matching
and selection stages have their own benchmarks; this one starts from built :class:`Digest` values.

Timed phases:
  render-only baseline  ``render_email`` for every digest (one shared RenderCache);
  full run              what ``digest send`` does once digests are built: per digest ``render_email``
                        + ``build_message`` (8bit bodies) and the recorded contents, ``enqueue_digests`` per 100 digests (one
                        transaction: outbox rows, sent papers, watermarks), while
                        :class:`BackgroundDelivery` drains the outbox over ``[delivery] connections``
                        SMTP connections (default 2; ``--workers``), one child process each, to
                        aiosmtpd (itself a child process, so it shares no GIL), which counts
                        messages and bytes and parses nothing. The run ends when the server has
                        accepted every message and every row is marked sent. The render, message
                        and enqueue phases are timed in this process; "deliver" is the wait for the
                        delivery processes after the last enqueue (the rest overlaps).

Public: :func:`run`, :func:`format_report`, :data:`TARGET_SECONDS`.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TARGET_SECONDS = 30.0
POOL = 400


def _smtp_server(port_out: Any, stop: Any, counts: Any) -> None:
    """Child process: aiosmtpd on 127.0.0.1 counting messages and bytes until ``stop`` is set."""
    import socket

    from aiosmtpd.controller import Controller

    class Counter:
        # The least a server can do: count, keep nothing, parse nothing.
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts[0] += 1
            counts[1] += len(envelope.original_content or b"")
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Counter(), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    port_out.value = port
    stop.wait()
    controller.stop()
    counts[2] = int(time.process_time() * 1000)  # CPU milliseconds, for the report


def _children_cpu() -> float:
    """CPU seconds of this process's finished (joined) child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _papers(store: Any, now: datetime) -> list[Any]:
    from digest.resources import samples_dir
    from digest.sources import arxiv_rss

    parsed = arxiv_rss.parse((samples_dir() / "arxiv-rss_all-archives_2024-11-28.xml").read_bytes())
    records = [r for r in parsed.records if r.abstract][:POOL]
    store.ingest_records("bench", records, now=now)
    return list(store.papers_by_ids([f"arxiv:{r.arxiv_id}" for r in records]).values())


def _setup(store: Any, users: int, papers_per: int, now: datetime) -> list[tuple[Any, Any]]:
    from digest.models import Digest, DigestItem, DigestSection, Reason

    rng = random.Random(7)
    pool = _papers(store, now)
    out = []
    with store.write() as conn:
        made = [store.upsert_user(f"user{i}@bench.example.org", name=f"User {i}", conn=conn) for i in range(users)]
    for user in made:
        start = rng.randrange(len(pool))
        picked = [pool[(start + k) % len(pool)] for k in range(papers_per)]
        topic = ("diffusion models", "Yann LeCun", "graph networks")[user.id % 3]
        items = tuple(DigestItem(p, (Reason(1, topic, 2.0 - k / 100, {}),), 2.0 - k / 100, None, False, p.seq)
                      for k, p in enumerate(picked))
        digest = Digest(user.id, user.email, user.name, "daily", "2026-11-24", now - timedelta(days=1), now,
                        # Its alert's section, so the email carries its "Stop one alert" link as a real one does.
                        (DigestSection(topic, items, "subscription", user.id),), 0, (), 0, 1)
        out.append((user, digest))
    return out


def run(*, users: int = 10_000, papers: int = 20, workers: int | None = None) -> dict[str, Any]:
    from pydantic import SecretStr

    from digest.config import Settings, SmtpSettings
    from digest.deliver.outbox import BackgroundDelivery
    from digest.digests.send import ENQUEUE_BATCH, message_bytes, record_contents
    from digest.store.outbox import Enqueue
    from digest.render.email import RenderCache, render_email
    from digest.store import Store

    now = datetime(2026, 11, 24, 7, tzinfo=timezone.utc)
    ctx = multiprocessing.get_context("spawn")
    port, stop, counts = ctx.Value("i", 0), ctx.Event(), ctx.Array("q", [0, 0, 0])
    server = ctx.Process(target=_smtp_server, args=(port, stop, counts), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        t = time.perf_counter()
        digests = _setup(store, users, papers, now)
        setup_s = time.perf_counter() - t
        while port.value == 0:  # the child sets it once listening
            time.sleep(0.01)
        settings = Settings(data_dir=Path(tmp), smtp=SmtpSettings.model_validate({"host": "127.0.0.1",
                                                                                  "port": port.value}),
                            secret_key=SecretStr("bench-secret-key-not-a-real-one"))
        if workers is None:  # as `digest send` would: the [delivery] connections default
            workers = settings.delivery.connections

        def render_all(cache: RenderCache) -> list[Any]:
            return [render_email(d, settings=settings, user_feed_token=u.feed_token, generation=u.token_generation,
                                 cache=cache) for u, d in digests]

        render_all(RenderCache())  # warm-up: template compilation, css-inline of the template
        t = time.perf_counter()
        rendered = render_all(RenderCache())
        render_s = time.perf_counter() - t
        html_sizes = sorted(len(r.html.encode()) for r in rendered)

        phases: dict[str, float] = {"render": 0.0, "message": 0.0, "enqueue": 0.0}
        t_full = time.perf_counter()
        cpu_main = time.process_time()
        cpu_children = _children_cpu()
        cache = RenderCache()
        total_bytes = 0
        url = store.engine.url.render_as_string(hide_password=False)
        with BackgroundDelivery(url, settings, now=now, workers=workers) as background:
            batch: list[Enqueue] = []
            for n, (user, digest) in enumerate(digests, 1):
                t0 = time.perf_counter()
                r = render_email(digest, settings=settings, user_feed_token=user.feed_token,
                                 generation=user.token_generation, cache=cache)
                t1 = time.perf_counter()
                message_id, data = message_bytes(digest, r, user, settings, now=now)
                batch.append(Enqueue(user.id, "daily", digest.period_key, message_id, r.subject, user.email, data,
                                     r.paper_ids, 0, 1, (None,) * len(r.paper_ids),
                                     contents=record_contents(digest, r)))
                t2 = time.perf_counter()
                if len(batch) == ENQUEUE_BATCH or n == len(digests):
                    store.enqueue_digests(batch, now=now)
                    batch = []
                phases["render"] += t1 - t0
                phases["message"] += t2 - t1
                phases["enqueue"] += time.perf_counter() - t2
                total_bytes += len(data)
            t = time.perf_counter()
            during = int(counts[0])  # accepted by the server while this process was still enqueueing
            delivery = background.finish()
        phases["deliver"] = time.perf_counter() - t
        full_s = time.perf_counter() - t_full
        cpu_main = time.process_time() - cpu_main
        sample = data
        store.close()
    stop.set()
    server.join(10)
    cpu_server = counts[2] / 1000
    cpu_delivery = _children_cpu() - cpu_children - cpu_server
    n = len(digests)
    return {
        "users": users, "papers_per_digest": papers, "setup_seconds": round(setup_s, 2),
        "render_only_seconds": round(render_s, 2), "render_only_ms_per_message": round(1000 * render_s / n, 3),
        "full_seconds": round(full_s, 2), "full_ms_per_message": round(1000 * full_s / n, 3),
        "target_seconds": TARGET_SECONDS, "within_target": full_s <= TARGET_SECONDS,
        "full_over_render_only": round(full_s / render_s, 2) if render_s else None,
        "phases_seconds": {k: round(v, 2) for k, v in phases.items()},
        "phases_ms_per_message": {k: round(1000 * v / n, 3) for k, v in phases.items()},
        "sent": delivery.sent, "failed": delivery.failed + delivery.retried, "smtp_connections": workers,
        "cpu_seconds": {"main": round(cpu_main, 2), "delivery": round(cpu_delivery, 2),
                        "smtp_server": round(cpu_server, 2)},
        "errors": delivery.errors[:5], "message_lines_last": sample.count(b"\r\n"),
        "server_received": int(counts[0]), "server_bytes": int(counts[1]), "received_while_enqueueing": during,
        "message_kb_avg": round(total_bytes / n / 1024, 1),
        "html_kb_median": round(html_sizes[n // 2] / 1024, 1), "html_kb_max": round(html_sizes[-1] / 1024, 1),
    }


def format_report(r: dict[str, Any]) -> str:
    ms = r["phases_ms_per_message"]
    cpu = r["cpu_seconds"]
    lines = [
        f"digests: {r['users']:,} users x {r['papers_per_digest']} papers "
        f"(message {r['message_kb_avg']} KB avg, HTML median {r['html_kb_median']} KB, max {r['html_kb_max']} KB)",
        f"  render only (baseline)   {r['render_only_seconds']:7.2f} s  {r['render_only_ms_per_message']:.3f} ms/msg",
        f"  render+build+enqueue+send{r['full_seconds']:7.2f} s  {r['full_ms_per_message']:.3f} ms/msg  "
        f"= {r['full_over_render_only']}x render only; target <= {r['target_seconds']:.0f} s: "
        f"{'met' if r['within_target'] else 'NOT met'}",
        f"    render {ms['render']:.3f}  message {ms['message']:.3f}  enqueue {ms['enqueue']:.3f}  "
        f"deliver (after the last enqueue; the rest overlaps) {ms['deliver']:.3f} ms/msg",
        f"  delivered {r['sent']:,} over {r['smtp_connections']} SMTP connection(s), one child process each; server received "
        f"{r['server_received']:,} ({r['server_bytes'] / 1e6:.1f} MB, {r['received_while_enqueueing']:,} of them while "
        f"enqueueing); failures {r['failed']}",
        f"  CPU seconds: main {cpu['main']:.2f}, delivery {cpu['delivery']:.2f}, SMTP server {cpu['smtp_server']:.2f} "
        f"(of {r['full_seconds'] * (os.cpu_count() or 1):.1f} core-seconds in the full run)",
    ]
    return "\n".join(lines)
