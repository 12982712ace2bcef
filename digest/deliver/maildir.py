"""Maildir delivery for local use: each digest becomes one file in ``[delivery] maildir``.

A Maildir (http://cr.yp.to/proto/maildir.html, :class:`mailbox.Maildir`) is what local mail readers
(mutt, Thunderbird via a local account, aerc) open directly, and it needs no server: the stored bytes
are written to ``tmp/`` and renamed into ``new/``, so a reader never sees half a message. Like SMTP, a
process that dies between writing and marking the outbox row leaves at most that one message twice,
with the same Message-ID.

Public: :class:`MaildirTransport`.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from digest.errors import DeliveryError, TransportError
from digest.store.outbox import OutboxItem


class MaildirTransport:
    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._box: mailbox.Maildir | None = None

    def __enter__(self) -> "MaildirTransport":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def send(self, item: OutboxItem, *, before_commit: Callable[[], None] | None = None) -> str:
        """Write the message; returns its Maildir key. ``before_commit`` runs first: a file appears
        in ``new/`` at once, so there is no later point to run it at."""
        if item.message is None:
            raise DeliveryError(item.id, "outbox row has no message bytes", permanent=True)
        if before_commit is not None:
            before_commit()
        try:
            if self._box is None:
                self._box = mailbox.Maildir(self.path, factory=None, create=True)
            return self._box.add(item.message)
        except OSError as exc:
            # A full disk or a permission problem is the Maildir's, not this message's, and may clear
            # up: the outbox keeps the row for a retry with backoff and stops the run.
            raise TransportError(item.id, f"maildir {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None
