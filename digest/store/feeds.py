"""Configured feeds and their fetch state."""

from __future__ import annotations

from digest.store.base import StoreBase


class FeedStore(StoreBase):
    pass
