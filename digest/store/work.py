"""Work items claimed by workers (SELECT ... FOR UPDATE SKIP LOCKED) and scheduler job runs."""

from __future__ import annotations

from digest.store.base import StoreBase


class WorkStore(StoreBase):
    pass
