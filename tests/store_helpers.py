"""Shared by tests that fill a store: records ingested as separate documents, as feeds deliver them,
and stored matches standing in for the matcher."""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.models import PaperRecord
from digest.store import Store
from digest.store.matches import NewMatch


def ingest_documents(store: Store, *batches: list[PaperRecord], start: datetime) -> list[tuple[int, int, int, int]]:
    """Each batch as its own document (its own feed, an hour apart from ``start``): the counts
    (new, merged, versions, unchanged) of each."""
    out = []
    for i, batch in enumerate(batches):
        s = store.ingest_records(f"feed{i}", batch, now=start + timedelta(hours=i))
        out.append((s.new, s.merged, s.new_versions, s.unchanged))
    return out


def arxiv_papers(store: Store, first: int, n: int, now: datetime, *, version: int = 1,
                 title: str = "Diffusion <b>models</b> {i}") -> list[str]:
    """``n`` arXiv papers numbered from ``first`` (``title`` formatted with ``i``), stored at ``now``;
    their canonical ids."""
    recs = [PaperRecord("arxiv-rss", f"2611.{i:05d}", title=title.format(i=i), authors=("Yann LeCun",),
                        abstract="We study diffusion. It works.", arxiv_id=f"2611.{i:05d}", version=version,
                        published=now)
            for i in range(first, first + n)]
    store.ingest_records("arxiv-cs.LG", recs, now=now)
    return [f"arxiv:2611.{i:05d}" for i in range(first, first + n)]


def matched(store: Store, sub_id: int, ids: list[str]) -> None:
    """Stand-in for the matcher: its stored output and its watermark."""
    store.save_matches([NewMatch(sub_id, p, 1.0, {}, store.get_paper(p).seq) for p in ids])
    store.set_watermark("match", store.max_seq())
