"""Unsubscribe requests that arrive by email: the mailto URI of List-Unsubscribe, answered.

Every digest's List-Unsubscribe header (RFC 2369 §3.2) carries, besides the RFC 8058 https URI,
``mailto:ADDRESS?subject=unsubscribe%20TOKEN`` (:func:`digest.tokens.unsubscribe_mailto`). A mail
client that offers "unsubscribe" and uses the mailto (Outlook, Apple Mail and others) sends a
message to ``ADDRESS`` with the subject "unsubscribe TOKEN". `digest unsubscribe-mail` reads such
messages (from an MTA's pipe alias on stdin, a file, an mbox or a Maildir) and hands each token to
:func:`digest.digests.unsubscribe.unsubscribe_once`, which verifies and applies it with the code
behind the web's links.

The message is never trusted: the signed token is the whole authorisation, and the From header,
which anyone can write, is neither needed nor read. Where the token is looked for:

1. the Subject (RFC 2047 encoded-words decoded, folding undone; "Re:", "Fwd:" or any other words
   around it do not matter; a client that left the subject percent-encoded is read too);
2. the text/plain parts, then the text/html parts (as text, through :func:`digest.sanitize.to_text`),
   where only "unsubscribe TOKEN" counts (the word, then spaces or a colon): a reply to a digest
   quotes its footer, whose unsubscribe URL holds the same token after "/unsubscribe/", and a
   reply must not unsubscribe anyone. Attached messages (message/*: a bounce carrying a digest, a
   forwarded digest) are not read at all.

At most :data:`MAX_MESSAGE_BYTES` of each message are read (the subject and the first text part
come first; a request is a few lines), so a huge message cannot exhaust memory; the rest of stdin
is read and dropped, so the MTA writing it does not see a broken pipe.

Each message gives one :class:`Outcome`: "unsubscribed", "paused" (an alert-level token) or
"ignored" with a reason (:data:`REASONS`); a message without a valid token is ignored, never an
error. The token itself is never part of an outcome.

A message is honoured once, whatever it was read from (:func:`request_identity`,
:func:`digest.digests.unsubscribe.unsubscribe_once`): read again, it is ignored as
"already-handled". An mbox or a file is read whole on every run, and a user who unsubscribed by
mail and then resumed their digests on the web must not be unsubscribed again by the old message
(its token is still valid). A new request, even with the same token, is a new message.

A Maildir (https://cr.yp.to/proto/maildir.html) filled by getmail, mbsync or fetchmail keeps what
was handled too: each message read is moved from ``new/`` to ``cur/`` with the Seen flag (``:2,S``,
flags in ASCII order) and messages already Seen are skipped, so a timer's runs read only new ones.

Public: :class:`Outcome`, :data:`REASONS`, :data:`MAX_MESSAGE_BYTES`, :func:`tokens_in`,
:func:`request_identity`, :func:`handle_message`, :func:`read_stream`, :func:`handle_inputs`,
:func:`handle_path`, :func:`check_path`.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import unquote

from digest.config import Settings
from digest.digests.unsubscribe import unsubscribe_once
from digest.errors import DigestError, NotFoundError, printable
from digest.sanitize import to_text
from digest.tokens import TOKEN_PATTERN, TokenError, TokenExpired, TokenRevoked

__all__ = ["Outcome", "REASONS", "MAX_MESSAGE_BYTES", "tokens_in", "request_identity", "handle_message",
           "read_stream", "handle_inputs", "handle_path", "check_path"]

#: Bytes of one message that are read; an unsubscribe request is a few hundred.
MAX_MESSAGE_BYTES = 256 * 1024
#: Candidates tried per message: a message stuffed with token-shaped strings costs no more than this.
MAX_CANDIDATES = 20
#: Why a message was ignored (the ``reason`` of an outcome) and how that reads.
REASONS: dict[str, str] = {
    "no-token": "no unsubscribe token",
    "invalid": "the unsubscribe token is not valid (altered, or not made here for unsubscribing)",
    "expired": "the unsubscribe token has expired",
    "revoked": "the unsubscribe token was revoked (the user's links were renewed since)",
    "unknown-user": "the unsubscribe token names a user who is no longer stored",
    "unknown-alert": "the unsubscribe token names an alert that is no longer stored",
    "already-handled": "this request was already honoured",
}
# Worse first: the reason given when several candidates fail is the one that says most.
_REASON_RANK = ("revoked", "expired", "unknown-user", "unknown-alert", "invalid", "no-token")

_TOKEN = re.compile(TOKEN_PATTERN)
# In a body only the request itself: "unsubscribe" and the token, spaces or a colon between. Not
# "/unsubscribe/TOKEN" (a quoted digest footer) nor "unsubscribe%20TOKEN" (a quoted List-Unsubscribe).
_BODY_REQUEST = re.compile(r"(?i:\bunsubscribe)[\s:]+(" + TOKEN_PATTERN + ")")
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one message did. ``message`` says which one ("-" for stdin, a file, ``MBOX#N``, a
    Maildir file); ``user`` and ``alert`` are the email address and the alert name concerned."""

    message: str
    outcome: Literal["unsubscribed", "paused", "ignored"]
    user: str | None = None
    alert: str | None = None
    reason: str | None = None

    def line(self) -> str:
        """One printable line (what the message, the user or the alert holds cannot drive a terminal)."""
        if self.outcome == "unsubscribed":
            what = f"unsubscribed {self.user} from all digests"
        elif self.outcome == "paused":
            what = f"paused alert \u201c{self.alert}\u201d for {self.user}"
        else:
            what = "ignored: " + REASONS.get(self.reason or "", self.reason or "")
        return printable(f"{self.message}: {what}").replace("\n", " ")


# --- one message ---------------------------------------------------------------------------------


def tokens_in(msg: Message) -> list[str]:
    """Token-shaped strings of ``msg``, most likely first: the subject's, then "unsubscribe TOKEN"
    of the text/plain parts, then of the text/html parts; each once, at most :data:`MAX_CANDIDATES`."""
    subject = _subject(msg)
    found = _TOKEN.findall(subject) + _TOKEN.findall(unquote(subject))
    plain, html = _text_parts(msg)
    for text in plain + [to_text(h) for h in html]:
        found += _BODY_REQUEST.findall(text)
    return list(dict.fromkeys(found))[:MAX_CANDIDATES]


def _subject(msg: Message) -> str:
    """The decoded Subject; the raw one when the header is too broken for the parser."""
    try:
        return str(msg.get("subject") or "")
    except Exception:  # the stdlib's header parser has raised on hostile headers; the raw value is enough
        return _raw_header(msg, "subject")


def _raw_header(msg: Message, name: str) -> str:
    """The first ``name`` header as it was written (folding kept, nothing decoded), "" without one."""
    return str(next((value for key, value in msg.raw_items() if key.lower() == name), ""))


def _text_parts(msg: Message) -> tuple[list[str], list[str]]:
    """(text/plain contents, text/html contents) of ``msg``, not descending into attached messages."""
    plain: list[str] = []
    html: list[str] = []
    pending: list[Message] = [msg]
    while pending:
        part = pending.pop(0)
        try:
            kind = part.get_content_type()
            if part.is_multipart():
                payload = part.get_payload()
                if not kind.startswith("message/") and isinstance(payload, list):
                    pending.extend(p for p in payload if isinstance(p, Message))
            elif kind in ("text/plain", "text/html"):
                (plain if kind == "text/plain" else html).append(_content(part))
        except Exception:  # a part too broken to read holds no request we could honour; the others may
            continue
    return plain, html


def _content(part: Message) -> str:
    """A text part decoded (transfer encoding and charset); an unknown or wrong charset as UTF-8
    with replacement characters: the token is ASCII whatever the charset."""
    try:
        if isinstance(part, EmailMessage):
            return str(part.get_content())
    except Exception:  # LookupError for an unknown charset, and whatever a broken part raises
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")


def request_identity(msg: Message, raw: bytes) -> str:
    """What names the message ``msg`` (read as ``raw``) the same on every reading: its Message-ID,
    unique to one message (RFC 5322 §3.6.4) and kept when a mailbox is rewritten or an MTA delivers
    the message again with other trace headers; else the bytes read of it. Hashed, so that it has
    one length whatever the message holds. A Message-ID is compared as written, whitespace (folding)
    aside."""
    message_id = "".join(_raw_header(msg, "message-id").split())
    if message_id:
        # surrogateescape: the parser keeps a header's non-ASCII bytes so, and gives them back here.
        return "message-id:" + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
    return "bytes:" + hashlib.sha256(raw).hexdigest()


def handle_message(store: Any, settings: Settings, raw: bytes, where: str) -> Outcome:
    """Act on the unsubscribe request in ``raw`` (the first :data:`MAX_MESSAGE_BYTES` are read),
    unless this message was honoured before (:func:`request_identity`)."""
    raw = raw[:MAX_MESSAGE_BYTES]
    msg = message_from_bytes(raw, policy=policy.default)
    request = request_identity(msg, raw)
    reasons: list[str] = []
    for token in tokens_in(msg):
        try:
            done = unsubscribe_once(store, settings, token, request=request, via="mail")
        except TokenRevoked:
            reasons.append("revoked")
        except TokenExpired:
            reasons.append("expired")
        except TokenError:  # TokenInvalid: tampered, made with another key or for another purpose
            reasons.append("invalid")
        except NotFoundError as exc:
            reasons.append("unknown-user" if exc.what == "user" else "unknown-alert")
        else:
            if done is None:
                return Outcome(where, "ignored", reason="already-handled")
            if done.alert is not None:
                return Outcome(where, "paused", user=done.user, alert=done.alert)
            return Outcome(where, "unsubscribed", user=done.user)
    reason = min(reasons or ["no-token"], key=_REASON_RANK.index)
    return Outcome(where, "ignored", reason=reason)


# --- where messages come from --------------------------------------------------------------------


def read_stream(stream: BinaryIO) -> bytes:
    """One message from ``stream`` (an MTA's pipe): its first :data:`MAX_MESSAGE_BYTES`, the rest
    read and dropped. DigestError when there is no message at all."""
    head = stream.read(MAX_MESSAGE_BYTES)
    while stream.read(_CHUNK):
        pass
    if not head.strip():
        raise DigestError("stdin: no message (the input is empty)")
    return bytes(head)


def handle_inputs(store: Any, settings: Settings, paths: Sequence[Path], stdin: bytes | None) -> Iterator[Outcome]:
    """Every message of ``paths`` in turn, or, without paths, the one message read from stdin."""
    if not paths:
        yield handle_message(store, settings, stdin or b"", "-")
    for path in paths:
        yield from handle_path(store, settings, path)


def check_path(path: Path) -> None:
    """DigestError unless ``path`` is something :func:`handle_path` reads: a file (one message or
    an mbox) or a Maildir (a folder with cur/, new/ and tmp/)."""
    if path.is_dir():
        missing = [d for d in ("cur", "new", "tmp") if not (path / d).is_dir()]
        if missing:
            raise DigestError(f"{path}: a folder but not a Maildir (no {', '.join(m + '/' for m in missing)})")
    elif not path.exists():
        raise DigestError(f"{path}: no such file or Maildir")
    elif not os.access(path, os.R_OK):
        raise DigestError(f"{path}: not readable (permission denied)")


def handle_path(store: Any, settings: Settings, path: Path) -> Iterator[Outcome]:
    """Every message at ``path``: a Maildir (unseen messages, marked seen once handled), an mbox
    (a file starting with a "From " line) or a single message (a .eml file)."""
    check_path(path)
    if path.is_dir():
        yield from _maildir(store, settings, path)
        return
    with path.open("rb") as fh:
        start = fh.read(5)
    if start == b"From ":
        yield from _mbox(store, settings, path)
    elif start:
        with path.open("rb") as fh:
            raw = fh.read(MAX_MESSAGE_BYTES)
        yield handle_message(store, settings, raw, str(path))
    # An empty file is an mbox holding no message (what a fetcher leaves after emptying it).


def _mbox(store: Any, settings: Settings, path: Path) -> Iterator[Outcome]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            with box.get_file(key) as fh:  # without the "From " line; only what is read is in memory
                raw = fh.read(MAX_MESSAGE_BYTES)
            yield handle_message(store, settings, raw, f"{path}#{number}")
    finally:
        box.close()


def _maildir(store: Any, settings: Settings, path: Path) -> Iterator[Outcome]:
    """Unseen messages of ``new/`` and ``cur/``, oldest name first (names start with the delivery
    time); each is moved to ``cur/`` with the S flag after it was handled. A message another run
    took meanwhile (gone from under us) is left to that run."""
    for sub in ("new", "cur"):
        for name in sorted(os.listdir(path / sub)):
            if name.startswith(".") or (sub == "cur" and "S" in _flags(name)):
                continue
            file = path / sub / name
            try:
                with file.open("rb") as fh:
                    raw = fh.read(MAX_MESSAGE_BYTES)
            except FileNotFoundError:
                continue
            outcome = handle_message(store, settings, raw, str(file))
            _mark_seen(path, sub, name)
            yield outcome


def _flags(name: str) -> str:
    """The flags of a Maildir file name: what follows ":2," (the "info" of the Maildir spec)."""
    _, sep, info = name.rpartition(":2,")
    return info if sep else ""


def _mark_seen(path: Path, sub: str, name: str) -> None:
    unique = name.split(":", 1)[0]
    seen = f"{unique}:2,{''.join(sorted(set(_flags(name)) | {'S'}))}"
    try:
        os.rename(path / sub / name, path / "cur" / seen)
    except FileNotFoundError:  # another run moved it first: it is handled
        pass
