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
- A request that stays where it was read (a message in an mbox read again by every run of a timer)
  is honoured once (:func:`unsubscribe_once`): else a user who resumed their digests on the web
  would be unsubscribed again by the old request, whose token is still valid, at every run.

Public: :class:`Unsubscribed`, :func:`verified_token`, :func:`token_alert`, :func:`apply_unsubscribe`,
:func:`unsubscribe_once`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from digest.config import Settings
from digest.errors import NotFoundError
from digest.tokens import MAX_AGE, TokenData, verify_token

__all__ = ["Unsubscribed", "verified_token", "token_alert", "apply_unsubscribe", "unsubscribe_once"]

log = logging.getLogger(__name__)

#: How long a request honoured by :func:`unsubscribe_once` is remembered after its token was made:
#: as long as the token verifies (after that it is refused as expired, so nothing needs remembering;
#: 400 days should unsubscribe tokens ever be made not to expire).
_REMEMBERED = timedelta(seconds=MAX_AGE["unsubscribe"] or 400 * 86400)


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


def token_alert(store: Any, data: TokenData) -> Any | None:
    """The alert (a :class:`~digest.models.Subscription`) a verified unsubscribe token pauses, or
    None for a token that stops every digest. NotFoundError when the alert it names is gone
    (deleted since) or is not the token user's."""
    sub_id = data.data.get("s")
    if not isinstance(sub_id, int) or isinstance(sub_id, bool):
        return None
    sub = store.get_subscription(sub_id)
    if sub.user_id != data.user_id:  # signed by us, so not expected; never act on another user's alert
        raise NotFoundError("subscription", str(sub_id))
    return sub


def apply_unsubscribe(store: Any, data: TokenData, *, via: str) -> Unsubscribed:
    """Do what a verified unsubscribe token asks; ``via`` names the way in for the log ("web",
    "one-click", "mail"). NotFoundError when the alert it names is gone (deleted since)."""
    sub = token_alert(store, data)
    if sub is not None:
        sub = store.update_subscription(sub.id, paused=True)
        log.info("user=%s alert=%s unsubscribed via=%s", sub.user_email, sub.name, via)
        return Unsubscribed(sub.user_email, sub.name)
    # Marked as the user's own choice: re-applying the config (`digest init`) does not undo it.
    user = store.unsubscribe_user(data.user_id)
    log.info("user=%s unsubscribed from all digests via=%s", user.email, via)
    return Unsubscribed(user.email)


def unsubscribe_once(store: Any, settings: Settings, token: str, *, request: str, via: str) -> Unsubscribed | None:
    """Verify an unsubscribe token and apply it (the two steps above), unless the request it came
    in was honoured before: None then, and nothing is done. ``request`` names the request the same
    way on every reading (a message's identity: :func:`digest.deliver.inbound.request_identity`).

    What was honoured is kept in the used-token store (digest.store.used_tokens) until the token
    expires, per user: a stranger's message copying a Message-ID cannot make another user's request
    look handled. It is kept after the token was applied: a crash in between loses no request
    (applying again changes nothing), and two runs reading one message at once both apply it, harmlessly.
    """
    data = verified_token(store, settings, "unsubscribe", token)
    identity = f"unsubscribe-request:{data.user_id}:{request}"
    if store.token_used(identity):
        return None
    done = apply_unsubscribe(store, data, via=via)
    store.use_token(identity, user_id=data.user_id, expires=data.issued + _REMEMBERED)
    return done
