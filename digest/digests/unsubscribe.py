"""Honouring an unsubscribe token: the one piece of code behind every way a user asks to stop.

The confirmation page's button and the RFC 8058 one-click POST (:mod:`digest.web.links`) and an
emailed request to the mailto URI of List-Unsubscribe (:mod:`digest.deliver.inbound`, `digest
unsubscribe-mail`) all verify the token here and apply it here, so they cannot drift apart.

- The token is the whole authorisation (RFC 8058 §3.2: no session, no cookie; for mail, the From
  header proves nothing). It must verify for the "unsubscribe" purpose and carry the user's current
  token generation: bumping it (:meth:`digest.store.Store.bump_token_generation`) revokes every
  link sent before.
- A token whose data names an alert (``{"s": subscription id}``) pauses that alert only; any other
  stops every digest of the user with :meth:`~digest.store.Store.unsubscribe_user`, which marks it
  as the user's own choice (re-applying the config does not undo it).
- Applying a token twice changes nothing the second time (a mail client that sends the request
  again, a retried POST).

Public: :class:`Unsubscribed`, :func:`verified_token`, :func:`apply_unsubscribe`, :func:`unsubscribe_by_token`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from digest.config import Settings
from digest.errors import NotFoundError
from digest.tokens import TokenData, verify_token

__all__ = ["Unsubscribed", "verified_token", "apply_unsubscribe", "unsubscribe_by_token"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What a token did: ``alert`` is the name of the alert it paused, None when it stopped every
    digest of ``user`` (their email address)."""

    user: str
    alert: str | None = None


def verified_token(store: Any, settings: Settings, purpose: str, token: str) -> TokenData:
    """``token`` verified for ``purpose``, including revocation by the user's current token
    generation. Raises :class:`digest.tokens.TokenError` (invalid, expired, revoked) or
    :class:`NotFoundError` (the user it names is no longer stored)."""
    data = verify_token(purpose, token, settings=settings)
    user = store.get_user(data.user_id)
    return verify_token(purpose, token, settings=settings, generation=user.token_generation)


def apply_unsubscribe(store: Any, data: TokenData, *, via: str) -> Unsubscribed:
    """Do what a verified unsubscribe token asks; ``via`` names the way in for the log ("web",
    "one-click", "mail"). NotFoundError when the alert it names is gone (deleted since)."""
    sub_id = data.data.get("s")
    if isinstance(sub_id, int) and not isinstance(sub_id, bool):
        sub = store.get_subscription(sub_id)
        if sub.user_id != data.user_id:  # signed by us, so not expected; never act on another user's alert
            raise NotFoundError("subscription", str(sub_id))
        sub = store.update_subscription(sub.id, paused=True)
        log.info("user=%s alert=%s unsubscribed via=%s", sub.user_email, sub.name, via)
        return Unsubscribed(sub.user_email, sub.name)
    # Marked as the user's own choice: re-applying the config (`digest init`) does not undo it.
    user = store.unsubscribe_user(data.user_id)
    log.info("user=%s unsubscribed from all digests via=%s", user.email, via)
    return Unsubscribed(user.email)


def unsubscribe_by_token(store: Any, settings: Settings, token: str, *, via: str) -> Unsubscribed:
    """Verify an unsubscribe token and apply it (the two steps above)."""
    return apply_unsubscribe(store, verified_token(store, settings, "unsubscribe", token), via=via)
