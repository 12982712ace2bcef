"""Single-use links: a sign-in link signs in once (migration 0004).

A signed token stays valid until it expires; what makes it single-use is remembering that it was
used. The store keeps the SHA-256 of each used token (never the token: the table must not hold
anything that signs anyone in) with the token's own expiry, after which the signature check refuses
it anyway and the row is deleted.

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


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UsedTokenStore(StoreBase):
    def use_token(self, token: str, *, user_id: int, expires: datetime) -> bool:
        """Mark ``token`` used; False when it already was (by this request's twin or anyone else)."""
        try:
            with self.write() as conn:
                conn.execute(delete(_U).where(_U.c.expires < utcnow()))
                conn.execute(insert(_U).values(key=_key(token), user_id=user_id, expires=expires))
        except IntegrityError:  # the primary key: used before (two clicks at once on PostgreSQL too)
            return False
        return True

    def token_used(self, token: str) -> bool:
        with self.read() as conn:
            return bool(conn.execute(select(exists().where(_U.c.key == _key(token)))).scalar())
