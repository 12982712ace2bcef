"""Users, subscriptions, topic tags, user labels and muted authors."""

from __future__ import annotations

from digest.store.base import StoreBase


class UserStore(StoreBase):
    pass
