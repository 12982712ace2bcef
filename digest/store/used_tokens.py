"""Single-use credentials: a sign-in link signs in once, a session signed out of opens nothing
again (migration 0004), an unsubscribe request mailed in is honoured once.

A signed token or session cookie stays valid until it expires; what makes it single-use is
remembering that it was used. The caller names what was used by an *identity*: a string that is the
same for every spelling of one credential (a sign-in link's decoded, verified content, not the
token string, whose base64 decoding tolerates padding and stray characters; a session's random id;
the user and the message an unsubscribe token came in by mail, see
:func:`digest.digests.unsubscribe.unsubscribe_once`), prefixed by its kind so that two kinds never
share a key. The store keeps the SHA-256 of that identity (the table must not hold anything that
signs anyone in) with the credential's own expiry, after which the signature check refuses it anyway
and the row is deleted.

Public (through :class:`digest.store.Store`): :meth:`UsedTokenStore.use_token`,
:meth:`UsedTokenStore.token_used`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Table, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError

from digest.store.base import StoreBase, utcnow
from digest.store.schema import UsedTokenRow

_U: Table = UsedTokenRow.__table__  # type: ignore[assignment]


def _key(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


class UsedTokenStore(StoreBase):
    def use_token(self, identity: str, *, user_id: int, expires: datetime) -> bool:
        """Mark the credential ``identity`` names used; False when it already was (by this request's
        twin or anyone else)."""
        try:
            with self.write() as conn:
                conn.execute(delete(_U).where(_U.c.expires < utcnow()))
                conn.execute(insert(_U).values(key=_key(identity), user_id=user_id, expires=expires))
        except IntegrityError:  # the primary key: used before (two clicks at once on PostgreSQL too)
            return False
        return True

    def token_used(self, identity: str) -> bool:
        """Whether the credential ``identity`` names was used (see :meth:`use_token`)."""
        with self.read() as conn:
            return bool(conn.execute(select(exists().where(_U.c.key == _key(identity)))).scalar())
