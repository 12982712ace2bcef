"""Used credentials (digest.store.used_tokens), on SQLite and PostgreSQL: what makes a sign-in link,
a signed-out session and a mailed unsubscribe request good once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time_machine
from sqlalchemy import delete, func, select

from digest.store import Store
from digest.store.schema import UsedTokenRow, UserRow

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def _rows(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(UsedTokenRow)).scalar_one())


def test_an_identity_is_used_once(store: Store) -> None:
    """The first use wins; any later one (the same link clicked twice, the same request read
    again) is told it was used. Kinds of identity never share a key."""
    ann = store.upsert_user("ann@example.org")
    with time_machine.travel(NOW, tick=False):
        assert not store.token_used("unsubscribe-request:1:message-id:abc")
        assert store.use_token("unsubscribe-request:1:message-id:abc", user_id=ann.id, expires=NOW + timedelta(days=1))
        assert store.token_used("unsubscribe-request:1:message-id:abc")
        assert not store.use_token("unsubscribe-request:1:message-id:abc", user_id=ann.id,
                                   expires=NOW + timedelta(days=1))
        assert not store.token_used("session:message-id:abc")


def test_an_identity_is_forgotten_once_its_credential_expired(store: Store) -> None:
    """A row is kept until its credential expires (the signature check refuses it from then on)
    and is deleted by the next use of any identity; only the hash of an identity is stored."""
    ann = store.upsert_user("ann@example.org")
    with time_machine.travel(NOW, tick=False):
        store.use_token("session:old", user_id=ann.id, expires=NOW + timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        store.use_token("session:other", user_id=ann.id, expires=NOW + timedelta(days=1))
        assert store.token_used("session:old")  # at its expiry it still verifies: still used
    with time_machine.travel(NOW + timedelta(hours=1, seconds=1), tick=False):
        store.use_token("session:third", user_id=ann.id, expires=NOW + timedelta(days=1))
        assert not store.token_used("session:old") and _rows(store) == 2
    with store.read() as conn:
        keys = conn.execute(select(UsedTokenRow.key)).scalars().all()
    assert all(len(k) == 64 and "session" not in k for k in keys)


def test_identities_go_with_their_user(store: Store) -> None:
    ann = store.upsert_user("ann@example.org")
    bob = store.upsert_user("bob@example.org")
    with time_machine.travel(NOW, tick=False):
        store.use_token("session:ann", user_id=ann.id, expires=NOW + timedelta(days=1))
        store.use_token("session:bob", user_id=bob.id, expires=NOW + timedelta(days=1))
    with store.write() as conn:  # no command deletes a user; the foreign key cascades when one goes
        conn.execute(delete(UserRow).where(UserRow.id == ann.id))
    assert not store.token_used("session:ann") and store.token_used("session:bob")
