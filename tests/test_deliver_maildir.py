"""Maildir delivery: each due outbox row becomes one message file, once."""

from __future__ import annotations

import mailbox
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.config import DeliverySettings, Settings
from digest.deliver.outbox import deliver_pending
from digest.errors import ConfigError
from digest.store import Store

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def _enqueue(store: Store, n: int) -> None:
    for i in range(n):
        u = store.upsert_user(f"u{i}@example.org")
        body = f"Message-ID: <d.{u.id}@example.org>\r\nSubject: hi\r\n\r\nhello {i}\r\n".encode()
        store.enqueue_digest(u.id, "daily", "2026-11-24", f"<d.{u.id}@example.org>", "hi", u.email, body, [], 0, 1,
                             now=T0)


def test_maildir_gets_each_message_once(sqlite_store: Store, tmp_path: Path) -> None:
    _enqueue(sqlite_store, 3)
    box = tmp_path / "Mail"
    settings = Settings(delivery=DeliverySettings(method="maildir", maildir=box))
    run = deliver_pending(sqlite_store, settings, now=T0)
    assert run.sent == 3
    assert deliver_pending(sqlite_store, settings, now=T0).attempted == 0
    md = mailbox.Maildir(box, create=False)
    got = sorted(m["Message-ID"] for m in md)
    assert got == sorted(r.message_id for r in sqlite_store.outbox_rows())
    assert not list((box / "tmp").iterdir())  # written to tmp/, renamed into new/
    assert len(list((box / "new").iterdir())) == 3


def test_each_row_is_marked_before_the_next_file_appears(sqlite_store: Store, tmp_path: Path) -> None:
    _enqueue(sqlite_store, 3)
    box = tmp_path / "Mail"
    real_mark_sent, files_at_mark = sqlite_store.mark_sent, []

    def mark_sent(outbox_id: int, *, now: datetime | None = None) -> None:
        files_at_mark.append(len(list((box / "new").iterdir())))
        real_mark_sent(outbox_id, now=now)

    sqlite_store.mark_sent = mark_sent  # type: ignore[method-assign]
    settings = Settings(delivery=DeliverySettings(method="maildir", maildir=box))
    assert deliver_pending(sqlite_store, settings, now=T0).sent == 3
    assert files_at_mark == [1, 2, 3]  # never two written messages with unmarked rows


def test_unwritable_maildir_is_retried(sqlite_store: Store, tmp_path: Path) -> None:
    _enqueue(sqlite_store, 2)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings(delivery=DeliverySettings(method="maildir", maildir=blocker / "Mail"))
    run = deliver_pending(sqlite_store, settings, now=T0)
    assert (run.sent, run.retried) == (0, 1)
    assert sqlite_store.outbox_summary().counts["pending"] == 2


def test_maildir_method_needs_a_path(tmp_path: Path) -> None:
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[delivery]\nmethod = "maildir"\n')
    from digest.config import load_settings

    with pytest.raises(ConfigError, match="maildir"):
        load_settings(cfg)
