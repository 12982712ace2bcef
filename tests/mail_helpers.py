"""Digests as `digest send` enqueues them, read back as a mail client would: for the tests of what
an email links to (its digest page, its "Stop one alert" links)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from email.message import EmailMessage

import time_machine
from store_helpers import arxiv_papers, matched

from digest.config import Settings
from digest.digests.send import send_due
from digest.store import Store


def send(store: Store, settings: Settings, now: datetime) -> EmailMessage:
    """Run `digest send` (no SMTP: the message as the outbox recorded it)."""
    with time_machine.travel(now, tick=False):
        report = send_due(store, settings, now=now, match_first=False, deliver=False)
    [planned] = [p for p in report.planned if p.outcome == "enqueued"]
    row = store.get_outbox(planned.outbox_id or 0)
    assert row is not None and row.message is not None
    return email.message_from_bytes(row.message, policy=email.policy.default)  # type: ignore[return-value]


def parts(message: EmailMessage) -> tuple[str, str]:
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    # The wire's CRLF line ends as "\n" (RFC 5322 §2.3 lines, read back as text).
    return str(html.get_content()), str(text.get_content()).replace("\r\n", "\n")


def ada_with_two_alerts(store: Store, day: datetime) -> tuple[int, int, int]:
    """Ada (UTC, 06:00) with two daily email alerts, each with two papers matched on ``day``."""
    with time_machine.travel(day - timedelta(days=1), tick=False):
        ada = store.upsert_user("ada@example.org", name="Ada", timezone="UTC", hour=6)
        diffusion = store.add_subscription(ada.id, "diffusion models", query="diffusion", channel="email")
        graphs = store.add_subscription(ada.id, "graph neural networks", query="graph", channel="email")
    with time_machine.travel(day, tick=False):
        matched(store, diffusion.id, arxiv_papers(store, 1, 2, day, title="Denoising Diffusion Models, part {i}"))
        matched(store, graphs.id, arxiv_papers(store, 11, 2, day, title="Graph Attention Networks, part {i}"))
    return ada.id, diffusion.id, graphs.id
