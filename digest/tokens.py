"""Signed, revocable tokens for the links we send, and the URLs that carry them.

Web routes (served by ``digest.web``; every URL below is built from ``[web] base_url``):

==========================================  ======================================================
``GET  /unsubscribe/{token}``               confirmation page (mail scanners prefetch GET links,
                                            so a GET never changes anything)
``POST /unsubscribe/{token}``               unsubscribes (the form on that page)
``POST /unsubscribe/one-click/{token}``     RFC 8058 one-click: the mailbox provider POSTs
                                            ``List-Unsubscribe=One-Click`` with no cookies and no
                                            session; the token alone authorises it
``GET  /unsubscribe/one-click/{token}``     the confirmation page, as above (a mail client
                                            without RFC 8058 opens the https URL in a browser)
``POST /resume``                            an unsubscribed user, signed in, resumes their
                                            digests (needs a session and the CSRF token)
``GET  /feedback/{token}?p=PAPER&k=KIND``   feedback from a digest: ``k`` is ``m``/``more`` (add
                                            to a user tag), ``n``/``not-relevant`` or
                                            ``a``/``mute-author`` (then ``a=AUTHOR`` names the
                                            author); ``p`` a canonical id. GET confirms, POST acts
``GET  /feeds/{feed_token}/{name}.atom``    private feeds (also ``.rss``); ``name`` is ``all``
                                            (every feed-channel subscription of the user),
                                            ``sub-<id>``, ``tag-<tag name>`` or ``trending``
``GET  /alerts``                            the user's alert settings (needs a session)
==========================================  ======================================================

Tokens are itsdangerous ``URLSafeTimedSerializer`` values with one salt per purpose, so a token
made for one purpose never verifies for another. The payload is ``[user_id, generation, data]``:
``generation`` is the user's ``token_generation`` when the token was made; bumping that column
revokes every token issued before (pass the current value to :func:`verify_token`). Feed URLs do
not use signed tokens: they carry the user's random ``feed_token`` column, rotated to revoke.

Feedback tokens are per digest, not per link: signing costs ~37 µs, and a digest of 20 papers
with three feedback links each would spend 2 ms on signatures alone (the delivery benchmark allows
~1 ms per message in total). The token names the user and the digest (``d`` = period key), the
query string names the paper and the action (``k`` = ``m``, ``n`` or ``a``, short for the kinds;
the long names are accepted too); the web handler can check that the paper was in that digest
(outbox ``paper_ids``). Whoever holds the token can act only as that user, like the unsubscribe
link.

Because a digest repeats its feedback token in ~120 URLs (three per paper, in both parts),
:func:`feedback_token` makes a compact form: ``<user_id>.<generation>.<period key>`` signed by
itsdangerous' ``TimestampSigner`` (same key, salt ``digest.feedback.compact``, a timestamp and an
HMAC-SHA1), ~50 characters instead of the ~70 of base64 JSON, and no JSON or zlib work to make it.
:func:`verify_token` accepts both forms for "feedback" and returns the same :class:`TokenData`
(``data == {"d": period_key}``), so links already in mailboxes keep working.

Signing key: ``DIGEST_SECRET_KEY`` (``settings.secret_key``) when set; otherwise a random key is
generated once and kept in ``<data_dir>/secret_key`` (mode 0600), so links keep working across
restarts. Deleting that file revokes every link ever sent. The key is never logged or rendered.

Public names: :data:`PURPOSES`, :data:`MAX_AGE`, :data:`TOKEN_PATTERN`, :class:`TokenData`, :func:`make_token`,
:func:`verify_token`, :func:`secret_key`, :func:`unsubscribe_url`, :func:`one_click_unsubscribe_url`,
:func:`unsubscribe_mailto`, :func:`feedback_token`, :func:`feedback_url`, :func:`feedback_urls`,
:func:`feedback_kind`, :data:`FEEDBACK_KINDS`, :data:`FEEDBACK_KIND_CODES`, :func:`feed_url`, :func:`settings_url`,
the errors :class:`TokenError` and its subclasses.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, quote_plus

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from digest.config import Settings
from digest.errors import ConfigError, DigestError

__all__ = ["PURPOSES", "MAX_AGE", "TOKEN_PATTERN", "TokenData", "TokenError", "TokenInvalid", "TokenExpired", "TokenRevoked",
           "make_token", "verify_token", "secret_key", "unsubscribe_url", "one_click_unsubscribe_url",
           "unsubscribe_mailto", "feedback_token", "feedback_url", "feedback_urls", "feed_url", "settings_url", "FEEDBACK_KINDS",
           "FEEDBACK_KIND_CODES", "feedback_kind"]

Purpose = Literal["unsubscribe", "feedback", "signin", "feed"]
PURPOSES: tuple[str, ...] = ("unsubscribe", "feedback", "signin", "feed")
FeedbackKind = Literal["more", "not-relevant", "mute-author"]
FEEDBACK_KINDS: tuple[str, ...] = ("more", "not-relevant", "mute-author")
#: The ``k`` value each kind has in the URLs we make (shorter: they are repeated 60 times a digest).
FEEDBACK_KIND_CODES: dict[str, str] = {"more": "m", "not-relevant": "n", "mute-author": "a"}

_DAY = 86400
#: Seconds a token stays valid. Digests sit in mailboxes for months and RFC 8058 one-click must still
#: work when someone finally cleans up, so unsubscribe links live ~13 months; a sign-in link is
#: short-lived because it opens a session. None = no expiry (revocation still applies).
MAX_AGE: dict[str, int | None] = {
    "unsubscribe": 400 * _DAY,
    "feedback": 90 * _DAY,
    "signin": 15 * 60,
    "feed": None,
}
_SALT_PREFIX = "digest."
# The compact feedback token before its timestamp and signature: user id, generation, period key
# ("2026-11-24", "2026-W48-1"; "2026-W48" before); letters, digits and dashes only, so the dots that
# separate them are unambiguous.
_COMPACT_VALUE = re.compile(r"(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})\.([0-9A-Za-z-]{1,32})")
_COMPACT_TOKEN = re.compile(_COMPACT_VALUE.pattern + r"\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+")
_KEY_FILE = "secret_key"
_MIN_KEY_CHARS = 32
#: How long a reader waits for a signing key file it finds short to be completed (see _read_key).
_KEY_SETTLE_SECONDS = 2.0
#: What link(2) answers on a filesystem without hard links: EPERM on Linux (link(2): "the filesystem
#: ... does not support the creation of hard links"), EOPNOTSUPP/ENOTSUP elsewhere, ENOSYS from a
#: FUSE filesystem without a link operation, EXDEV from some network and container mounts.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS})
#: A token of :func:`make_token` in running text (a subject, a mail body): the base64 payload (a "."
#: first when itsdangerous compressed it), the base64 timestamp and the base64 HMAC-SHA1 signature
#: (20 bytes: 27 characters without padding), separated by dots. Not preceded by a token character,
#: "." or "/", and not followed by a token character, so a longer word or a URL path is not cut up.
TOKEN_PATTERN = r"(?<![\w./%-])\.?[A-Za-z0-9_-]{4,4096}\.[A-Za-z0-9_-]{4,12}\.[A-Za-z0-9_-]{27}(?![\w-])"


class TokenError(DigestError, ValueError):
    """A link token that cannot be honoured; ``purpose`` says which kind of link it was."""

    exit_code = 2

    def __init__(self, purpose: str, reason: str) -> None:
        self.purpose, self.reason = purpose, reason
        super().__init__(f"{purpose} link: {reason}")


class TokenInvalid(TokenError):
    """Tampered, truncated, made with another key or for another purpose."""


class TokenExpired(TokenError):
    """Signed by us but older than its purpose allows."""


class TokenRevoked(TokenError):
    """Signed by us but the user's token generation has moved on since."""


@dataclass(frozen=True, slots=True)
class TokenData:
    purpose: str
    user_id: int
    generation: int
    issued: datetime
    data: dict[str, Any] = field(default_factory=dict)


# --- the key -------------------------------------------------------------------------------------


def secret_key(settings: Settings) -> str:
    """The signing key: ``DIGEST_SECRET_KEY`` or the persisted generated key (see module doc).

    On PostgreSQL, the installation of several hosts, the key must come from the environment: a key
    generated in each host's data_dir would make the links one host's worker mails (unsubscribe,
    feedback, sign-in) invalid on another host's web app."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if settings.database_url.startswith("postgresql"):
        raise ConfigError("set DIGEST_SECRET_KEY, the same on every host: with a shared PostgreSQL database, "
                          "links signed on one host must verify on the others", key="secret_key")
    return _persisted_key(str(Path(settings.data_dir).resolve()))


@lru_cache(maxsize=8)
def _persisted_key(data_dir: str) -> str:
    path = Path(data_dir) / _KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    try:
        return _write_key(path, secrets.token_urlsafe(48))
    except FileExistsError:
        # Two processes started at once (cron's `digest send` and an operator's): the other one's key
        # is in place, whole; both must sign with it.
        return _read_key(path)


def _write_key(path: Path, key: str) -> str:
    """Publish ``key`` at ``path`` atomically, or FileExistsError when another process did first.

    The key is written whole and synced to a temporary file in the same folder, then hard-linked
    to its name: ``link(2)`` fails if the name exists and makes the complete file appear at once,
    so a concurrent reader never sees a partly written key (which the O_EXCL create-then-write
    this replaces showed it) and no process can overwrite a key whose links are already mailed.
    A filesystem without hard links (some FUSE, SMB and network mounts, container volumes) gets
    :func:`_create_key` instead."""
    fd, temp = tempfile.mkstemp(prefix=f".{_KEY_FILE}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        linked = True
        try:
            os.link(temp, path)
        except OSError as exc:  # FileExistsError (EEXIST) included: another process published first
            if exc.errno not in _NO_HARD_LINKS:
                raise
            linked = False
    finally:
        os.unlink(temp)
    return key if linked else _create_key(path, key)


def _create_key(path: Path, key: str) -> str:
    """Publish ``key`` at ``path`` without a hard link: create the name exclusively (O_EXCL: the
    first writer wins, FileExistsError for the others), mode 0600, then the whole key in one
    write(2) and an fsync. The file is empty for the moment between create and write, and a reader
    may find it so: :func:`_read_key` reads a short key again until it is complete. A crash in that
    moment leaves an empty file, which :func:`_read_key` refuses with what to do."""
    data = (key + "\n").encode("ascii")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write is allowed by POSIX, though not seen for 65 bytes
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def _read_key(path: Path) -> str:
    """The key in ``path``. A file shorter than a key is read again for a little while before it is
    refused: a process of an older version creates the file first and writes it after."""
    deadline = time.monotonic() + _KEY_SETTLE_SECONDS
    while True:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= _MIN_KEY_CHARS:
            return key
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    # Not a race any more: the file stayed short. Deleting it revokes every link signed with it, so
    # the operator decides; an empty file is what a crash while it was first written leaves.
    what = "is empty" if not key else f"holds {len(key)} characters, fewer than the {_MIN_KEY_CHARS} of a signing key"
    raise DigestError(f"{path} {what}. If a crash left it so while it was first written, no link was signed "
                      "with it: delete it and a new key is generated; otherwise set DIGEST_SECRET_KEY "
                      f"to a key of at least {_MIN_KEY_CHARS} characters")


@lru_cache(maxsize=32)
def _serializer(key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT_PREFIX + purpose)


@lru_cache(maxsize=32)
def _compact_signer(key: str, purpose: str) -> TimestampSigner:
    # Its own salt: a compact token and a serializer token of one purpose never verify as each other.
    return TimestampSigner(key, salt=_SALT_PREFIX + purpose + ".compact")


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}; one of {', '.join(PURPOSES)}")


# --- make and verify -----------------------------------------------------------------------------


def make_token(purpose: str, user_id: int, generation: int, *, settings: Settings, **data: Any) -> str:
    """A URL-safe signed token for ``purpose``; ``data`` must be JSON-serialisable."""
    _check_purpose(purpose)
    payload: list[Any] = [int(user_id), int(generation)]
    if data:
        payload.append(data)
    return str(_serializer(secret_key(settings), purpose).dumps(payload))


def verify_token(purpose: str, token: str, *, settings: Settings, max_age: int | None = None,
                 generation: int | None = None) -> TokenData:
    """Check signature, purpose, age and (given the user's current ``generation``) revocation.

    ``max_age`` overrides the purpose's default (:data:`MAX_AGE`). Raises :class:`TokenInvalid`,
    :class:`TokenExpired` or :class:`TokenRevoked`.
    """
    _check_purpose(purpose)
    limit = MAX_AGE[purpose] if max_age is None else max_age
    try:
        if purpose == "feedback" and _COMPACT_TOKEN.fullmatch(token):
            user_id, gen, data, issued = _load_compact(purpose, token, settings, limit)
        else:
            user_id, gen, data, issued = _load_serialized(purpose, token, settings, limit)
    except SignatureExpired:
        raise TokenExpired(purpose, "this link has expired") from None
    except BadSignature:
        raise TokenInvalid(purpose, "this link is not valid") from None
    if generation is not None and gen != generation:
        raise TokenRevoked(purpose, "this link was revoked")
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=timezone.utc)
    return TokenData(purpose, user_id, gen, issued, data)


def _load_serialized(purpose: str, token: str, settings: Settings, limit: int | None
                     ) -> tuple[int, int, dict[str, Any], datetime]:
    """(user id, generation, data, issued) of a serializer token; itsdangerous errors propagate."""
    payload, issued = _serializer(secret_key(settings), purpose).loads(token, max_age=limit, return_timestamp=True)
    if (not isinstance(payload, list) or len(payload) not in (2, 3) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in payload[:2])
            or (len(payload) == 3 and not isinstance(payload[2], dict))):
        raise TokenInvalid(purpose, "this link is not valid")
    return payload[0], payload[1], dict(payload[2]) if len(payload) == 3 else {}, issued


def _load_compact(purpose: str, token: str, settings: Settings, limit: int | None
                  ) -> tuple[int, int, dict[str, Any], datetime]:
    """The same for the compact form made by :func:`feedback_token`."""
    value, issued = _compact_signer(secret_key(settings), purpose).unsign(token, max_age=limit,
                                                                          return_timestamp=True)
    found = _COMPACT_VALUE.fullmatch(value.decode("ascii", "replace"))
    if found is None:  # signed by us, so not expected; refuse rather than guess
        raise TokenInvalid(purpose, "this link is not valid")
    return int(found.group(1)), int(found.group(2)), {"d": found.group(3)}, issued


# --- URLs ----------------------------------------------------------------------------------------


def _base(settings: Settings) -> str:
    return settings.web.base_url.rstrip("/")


def unsubscribe_url(settings: Settings, token: str) -> str:
    """The page (GET confirm, POST unsubscribe) linked from the email footer."""
    return f"{_base(settings)}/unsubscribe/{token}"


def one_click_unsubscribe_url(settings: Settings, token: str) -> str:
    """RFC 8058 one-click POST endpoint; this is the https URI in List-Unsubscribe."""
    return f"{_base(settings)}/unsubscribe/one-click/{token}"


def unsubscribe_mailto(settings: Settings, token: str) -> str:
    """The mailto URI of List-Unsubscribe (RFC 2369 §3.2): a message with the subject "unsubscribe
    TOKEN" to ``[smtp] unsubscribe_address``, else to our sender; `digest unsubscribe-mail` reads it."""
    address = settings.smtp.unsubscribe_address or parseaddr(settings.smtp.from_)[1] or "digest@localhost"
    return f"mailto:{quote(address, safe='@')}?subject={quote('unsubscribe ' + token)}"


def feedback_token(settings: Settings, user_id: int, generation: int, period_key: str) -> str:
    """One compact feedback token per digest (see the module doc for why not one per link)."""
    value = f"{int(user_id)}.{int(generation)}.{period_key}"
    if not _COMPACT_VALUE.fullmatch(value):
        raise ValueError(f"feedback token: unexpected user id, generation or period key {value!r}")
    return _compact_signer(secret_key(settings), "feedback").sign(value).decode("ascii")


def feedback_kind(value: str) -> str | None:
    """The feedback kind a ``k`` query value names (a kind or its code), or None."""
    if value in FEEDBACK_KINDS:
        return value
    return next((kind for kind, code in FEEDBACK_KIND_CODES.items() if code == value), None)


def feedback_url(settings: Settings, token: str, kind: str, paper_id: str, *, author: str | None = None) -> str:
    """A one-click feedback link: ``kind`` is "more", "not-relevant" or "mute-author" (+ ``author``)."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(f"unknown feedback kind {kind!r}")
    if kind == "mute-author" and not author:
        raise ValueError("mute-author needs the author's name")
    return feedback_urls(settings, token, paper_id, author=author)[kind]


def feedback_urls(settings: Settings, token: str, paper_id: str, *, author: str | None = None,
                  tag: str | None = None) -> dict[str, str]:
    """Every feedback link for one paper at once (the renderer's fast path: one quoting per paper).

    Keys are the feedback kinds; "mute-author" is present only when ``author`` is given. ``tag``: the
    user tag that recommended the paper, so "more like this" and "not relevant" teach that tag.
    """
    head = f"{_base(settings)}/feedback/{token}?p={quote(paper_id, safe=':')}&k="
    codes = FEEDBACK_KIND_CODES
    labelled = f"&t={quote_plus(tag, safe='')}" if tag else ""
    urls = {"more": head + codes["more"] + labelled, "not-relevant": head + codes["not-relevant"] + labelled}
    if author:
        urls["mute-author"] = f"{head}{codes['mute-author']}&a={quote_plus(author, safe='')}"
    return urls


def feed_url(settings: Settings, feed_token: str, name: str, *, format: str = "atom") -> str:
    """A private feed URL. ``name``: "all", "trending", "sub-<id>" or "tag-<tag name>"."""
    if format not in ("atom", "rss"):
        raise ValueError(f"unknown feed format {format!r}")
    return f"{_base(settings)}/feeds/{quote(feed_token, safe='')}/{quote(name, safe='')}.{format}"


def settings_url(settings: Settings) -> str:
    """The user's alert settings page."""
    return f"{_base(settings)}/alerts"


def digest_url(settings: Settings, token: str) -> str:
    """The web page of one whole digest (``GET /digest/{token}``, digest.web.digest_page), where its
    email's "N more" leads: ``token`` is that digest's :func:`feedback_token`."""
    return f"{_base(settings)}/digest/{token}"
