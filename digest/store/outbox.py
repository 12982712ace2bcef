"""The transactional outbox and the papers each user was sent."""

from __future__ import annotations

from digest.store.base import StoreBase


class OutboxStore(StoreBase):
    pass
