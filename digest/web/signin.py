"""Sign-in links: signed, short-lived (tokens.MAX_AGE["signin"]), single-use, revoked with the
user's token generation. Emailed through the same delivery as digests (SMTP or Maildir), or printed for an
operator by `digest users link EMAIL`. No passwords are stored anywhere.

The page that asked for the sign-in (``/signin?next=/settings``) travels inside the signed token
(``n``), so the link leads back there and nobody can change where it leads; :func:`return_path`
reads it back.

Public: :func:`signin_url`, :func:`send_signin_email`, :func:`return_path`, :func:`signin_identity`.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from digest.config import Settings
from digest.models import User
from digest.sanitize import header_safe
from digest.store.outbox import OutboxItem
from digest.tokens import MAX_AGE, TokenData, make_token
from digest.web.security import DEFAULT_NEXT, local_path

log = logging.getLogger("digest.web")

#: How long a sign-in link is valid, in seconds (the "signin" purpose of digest.tokens).
LINK_SECONDS = MAX_AGE["signin"] or 900


def signin_url(settings: Settings, user: User, next_path: str | None = None) -> str:
    """The sign-in link of ``user``; once confirmed it leads to ``next_path`` (a local path) or My alerts."""
    target = local_path(next_path)
    extra = {"n": target} if target != DEFAULT_NEXT else {}
    # A random part makes every link its own, so using one (links are single-use, see
    # digest.store.used_tokens) never spends another asked for in the same second.
    token = make_token("signin", user.id, user.token_generation, settings=settings, r=secrets.token_urlsafe(6), **extra)
    return f"{settings.web.base_url.rstrip('/')}/signin/{token}"


def return_path(data: TokenData) -> str:
    """Where a verified sign-in token leads (checked again: a path of this site only)."""
    target = data.data.get("n")
    return local_path(target if isinstance(target, str) else None)


def signin_identity(data: TokenData) -> str:
    """What marks a verified sign-in link used (digest.store.used_tokens): its decoded content, not
    its string. itsdangerous' base64 decoding ignores padding and characters outside its alphabet, so
    one signed token has many spellings ("...=" verifies as "..."); all of them are this one value.
    Links made before the random ``r`` existed are told apart by their issue second, as before."""
    content = [data.purpose, data.user_id, data.generation, int(data.issued.timestamp()), data.data]
    return "signin:" + json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _message(settings: Settings, user: User, url: str) -> EmailMessage:
    minutes = LINK_SECONDS // 60
    msg = EmailMessage()
    msg["From"] = header_safe(settings.smtp.from_)
    msg["To"] = header_safe(user.email)
    msg["Subject"] = "Your digest sign-in link"
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain="digest.local")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    msg.set_content(f"Open this link to sign in to digest (valid once, for {minutes} minutes):\n\n"
                    f"{url}\n\nIf you did not ask for it, ignore this message.\n")
    return msg


def send_signin_email(settings: Settings, user: User, next_path: str | None = None) -> None:
    """Mail a sign-in link to ``user`` through the configured transport (leading to ``next_path``)."""
    from digest.deliver.outbox import make_transport

    msg = _message(settings, user, signin_url(settings, user, next_path))
    item = OutboxItem(id=0, user_id=user.id, period="signin", period_key="", message_id=str(msg["Message-ID"]),
                      subject=str(msg["Subject"]), recipient=user.email, status="pending", attempts=0,
                      created=datetime.now(timezone.utc), message=msg.as_bytes())
    with make_transport(settings) as transport:  # the digests' own SMTP or Maildir delivery
        transport.send(item)
    log.info("user=%s sign-in link sent", user.email)
