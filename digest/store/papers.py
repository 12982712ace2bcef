"""Papers, their sources ("via"), the ingest sequence and source signals."""

from __future__ import annotations

from digest.store.base import StoreBase


class PaperStore(StoreBase):
    pass
