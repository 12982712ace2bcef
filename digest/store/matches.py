"""Matches and watermarks on the ingest sequence."""

from __future__ import annotations

from digest.store.base import StoreBase


class MatchStore(StoreBase):
    pass
