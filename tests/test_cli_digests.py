"""`digest send`, `digest preview` and the outbox in `digest status`, end to end: config file, SQLite,
a real SMTP server on loopback, time frozen with time-machine (time zones, DST, catch-up)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from click.testing import CliRunner, Result
from smtp_sink import SinkHandler, smtp_sink

from digest.cli import cli
from digest.config import load_settings
from digest.models import PaperRecord
from digest.store import Store
from digest.store.matches import NewMatch
from digest.tokens import verify_token

UTC = timezone.utc
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # before Ann's 07:00 Berlin (06:00 UTC)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    with smtp_sink() as (server, port):
        cfg = tmp_path / "digest.toml"
        cfg.write_text(f"""
data_dir = "data"
[database]
url = "sqlite:///{tmp_path / 'digest.db'}"
[smtp]
host = "127.0.0.1"
port = {port}
from = "Paper Digest <digest@example.org>"
[web]
base_url = "https://papers.example.org"
""")
        yield cfg, server


def run(cfg: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    return result


def papers(store: Store, first: int, n: int, now: datetime) -> list[str]:
    recs = [PaperRecord("arxiv-rss", f"2611.{i:05d}", title=f"Diffusion <b>models</b> {i}", authors=("Yann LeCun",),
                        abstract="We study diffusion. It works.", arxiv_id=f"2611.{i:05d}", version=1, published=now)
            for i in range(first, first + n)]
    store.ingest_records("arxiv-cs.LG", recs, now=now)
    return [f"arxiv:2611.{i:05d}" for i in range(first, first + n)]


def matched(store: Store, sub_id: int, ids: list[str]) -> None:
    # Stand-in for the matcher: its stored output and its watermark.
    store.save_matches([NewMatch(sub_id, p, 1.0, {}, store.get_paper(p).seq) for p in ids])
    store.set_watermark("match", store.max_seq())


def open_store(cfg: Path) -> Store:
    return Store.open(load_settings(cfg).database_url)


def new_user(store: Store, email: str, **kw: Any) -> Any:
    # Users made the day before: a user created after today's send hour gets tomorrow's digest first.
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        return store.upsert_user(email, **kw)


def test_send_delivers_once_and_the_message_is_complete(env: Any) -> None:
    cfg, server = env
    server: SinkHandler
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = store.upsert_user("ann@example.org", name="Ann", timezone="Europe/Berlin", hour=7)
        sub = store.add_subscription(ann.id, "diffusion models", query="diffusion")
        matched(store, sub.id, papers(store, 1, 3, DAY1))
        assert run(cfg, "send", "--no-match").output.startswith("0 digest(s) queued")  # 07:00 Berlin not yet
    with time_machine.travel(DAY1 + timedelta(hours=1, minutes=5), tick=False):
        result = run(cfg, "send", "--no-match")
        assert "1 digest(s) queued" in result.output and "delivered 1" in result.output, result.output
        assert len(server.received) == 1
        again = run(cfg, "send", "--no-match")
        assert "0 digest(s) queued" in again.output and "delivered 0" in again.output
    assert len(server.received) == 1
    got = server.received[0]
    assert got.rcpt_tos == ["ann@example.org"] and got.mail_from == "digest@example.org"
    msg = got.message
    assert msg["From"] == "Paper Digest <digest@example.org>" and msg["To"] == "Ann <ann@example.org>"
    assert msg["Subject"] == "3 new papers: diffusion models — Tue 24 Nov"
    assert msg["Message-ID"] == f"<digest.daily.2026-11-24.u{ann.id}@example.org>"
    assert msg["Date"] == "Tue, 24 Nov 2026 06:05:00 +0000"
    assert msg["List-Id"] and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    for part in (text.get_content(), html.get_content()):
        assert part.count("Diffusion") >= 3
    assert "<b>models</b>" not in html.get_content()  # feed markup is escaped, never passed through
    # The one-click unsubscribe URL round-trips to this user.
    https = re.search(r"<(https://[^>]+)>", msg["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    mailto = re.search(r"<(mailto:[^>]+)>", msg["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    settings = load_settings(cfg)
    with time_machine.travel(DAY1 + timedelta(days=2), tick=False):
        assert verify_token("unsubscribe", https.rsplit("/", 1)[1], settings=settings).user_id == ann.id
        assert verify_token("unsubscribe", unquote(mailto).rsplit(" ", 1)[1], settings=settings).user_id == ann.id


def test_papers_are_never_repeated_and_new_ones_come_next_day(env: Any) -> None:
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = store.upsert_user("ann@example.org", timezone="UTC", hour=6)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion")
        matched(store, sub.id, papers(store, 1, 2, DAY1))
    with time_machine.travel(DAY1 + timedelta(hours=2), tick=False):
        run(cfg, "send", "--no-match")
        # Arrives after today's digest: it belongs to tomorrow's.
        matched(store, sub.id, papers(store, 3, 1, DAY1 + timedelta(hours=2)))
        run(cfg, "send", "--no-match")
    with time_machine.travel(DAY1 + timedelta(days=1, hours=2), tick=False):
        run(cfg, "send", "--no-match")
    assert [r.message["Subject"] for r in server.received] == [
        "2 new papers: diffusion — Tue 24 Nov", "1 new paper: diffusion — Wed 25 Nov"]
    html = [r.message.get_body(("html",)).get_content() for r in server.received]  # type: ignore[union-attr]
    assert "2611.00001" in html[0] and "2611.00003" not in html[0]
    assert "2611.00003" in html[1] and "2611.00001" not in html[1]


def test_dry_run_changes_nothing(env: Any) -> None:
    cfg, server = env
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=6)
        matched(store, store.add_subscription(ann.id, "d", query="d").id, papers(store, 1, 2, DAY1))
        out = run(cfg, "send", "--dry-run").output
        assert "dry-run" in out and "2 papers" in out and "nothing recorded or sent" in out
        assert store.outbox_rows() == [] and store.digest_watermark(ann.id, "daily") == 0
        assert server.received == []


def test_preview_writes_the_exact_html_that_is_sent(env: Any, tmp_path: Path) -> None:
    cfg, server = env
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", name="Ann", timezone="UTC", hour=6)
        matched(store, store.add_subscription(ann.id, "d", query="d").id, papers(store, 1, 2, DAY1))
        out = tmp_path / "preview.html"
        result = run(cfg, "preview", "ann@example.org", "--out", str(out))
        assert "2 shown" in result.output
        assert store.outbox_rows() == [] and store.digest_watermark(ann.id, "daily") == 0
        run(cfg, "send", "--no-match")
    sent = server.received[0].message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # The MIME part ends with a line break of its own (RFC 2046 §5.1.1: it belongs to the boundary).
    assert out.read_text(encoding="utf-8").replace("\r\n", "\n") == sent.replace("\r\n", "\n").removesuffix("\n")


def test_status_shows_the_outbox_with_failures(env: Any) -> None:
    cfg, server = env
    server.rcpt_replies["bob@example.org"] = "550 5.1.1 mailbox unavailable"
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        for who in ("ann", "bob"):
            u = new_user(store, f"{who}@example.org", timezone="UTC", hour=6)
            matched(store, store.add_subscription(u.id, "d", query="d").id, papers(store, 1, 1, DAY1))
        out = run(cfg, "send", "--no-match").output
        assert "delivered 1, retrying 0, failed 1" in out
        status = run(cfg, "status").output
    assert "outbox:" in status and "sent: 1" in status and "failed: 1" in status
    assert "bob@example.org daily 2026-11-24: SMTP 550 recipient refused: 5.1.1 mailbox unavailable" in status


def test_dst_fall_back_sends_once_and_catch_up_after_downtime(env: Any) -> None:
    cfg, server = env
    # New York falls back on 2026-11-01: 01:00 local happens at 05:00 UTC and again at 06:00 UTC.
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        store = open_store(cfg)
        u = store.upsert_user("ny@example.org", timezone="America/New_York", hour=1)
        sub = store.add_subscription(u.id, "d", query="d")
    for n, hour in enumerate((4, 5, 6, 7)):
        with time_machine.travel(datetime(2026, 11, 1, hour, 30, tzinfo=UTC), tick=False):
            matched(store, sub.id, papers(store, 10 + n, 1, datetime(2026, 11, 1, tzinfo=UTC)))
            run(cfg, "send", "--no-match")
    # 04:30 UTC: the latest 01:00 (Oct 31) predates the user. 05:30: Sunday's is due. 06:30 is 01:30
    # again (EST): already sent. The papers matched at 06:30 and 07:30 wait for the next digest.
    assert [r.message["Subject"] for r in server.received] == ["2 new papers: d — Sun 1 Nov"]
    # Down through Monday's 01:00 and Tuesday's: Tuesday's digest carries everything since Sunday.
    with time_machine.travel(datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False):
        matched(store, sub.id, papers(store, 20, 2, datetime(2026, 11, 2, tzinfo=UTC)))
    with time_machine.travel(datetime(2026, 11, 3, 20, tzinfo=UTC), tick=False):
        run(cfg, "send", "--no-match")
    subjects = [r.message["Subject"] for r in server.received]
    assert subjects == ["2 new papers: d — Sun 1 Nov", "4 new papers: d — Tue 3 Nov"]
    assert Counter(r.message["Message-ID"] for r in server.received).most_common(1)[0][1] == 1
