"""Shared by the store's merge tests: records ingested as separate documents, as feeds deliver them."""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.models import PaperRecord
from digest.store import Store


def ingest_documents(store: Store, *batches: list[PaperRecord], start: datetime) -> list[tuple[int, int, int, int]]:
    """Each batch as its own document (its own feed, an hour apart from ``start``): the counts
    (new, merged, versions, unchanged) of each."""
    out = []
    for i, batch in enumerate(batches):
        s = store.ingest_records(f"feed{i}", batch, now=start + timedelta(hours=i))
        out.append((s.new, s.merged, s.new_versions, s.unchanged))
    return out
