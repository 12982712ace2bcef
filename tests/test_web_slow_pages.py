"""Pages that evaluate a query over many papers (search; an alert's 30-day preview) take seconds on a
large store. They run in a worker thread, so a real server keeps answering everyone else meanwhile:
feed readers polling, people signing in. Checked with a search held up on purpose."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

import digest.match.search
from digest.models import PaperRecord
from digest.store import Store

from web_server import serve


def test_a_long_search_does_not_hold_up_other_requests(tmp_path: Path, sqlite_store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_store.ingest_records("arxiv", [PaperRecord(
        "arxiv-rss", "2411.00001", arxiv_id="2411.00001", title="Diffusion models for proteins",
        abstract="Denoising diffusion.", published=datetime(2026, 11, 20, tzinfo=timezone.utc))])
    started, release = threading.Event(), threading.Event()
    real_search = digest.match.search.search

    def held_search(store: Store, text: str, **kwargs: Any) -> Any:
        started.set()
        release.wait(60)
        return real_search(store, text, **kwargs)

    monkeypatch.setattr(digest.match.search, "search", held_search)
    with serve(tmp_path, sqlite_store) as (base, _), ThreadPoolExecutor(1) as pool:
        try:
            searching = pool.submit(httpx.get, f"{base}/search", params={"q": "diffusion"}, timeout=60)
            assert started.wait(30)
            # On the event loop, the held search would keep this request waiting until its timeout.
            assert httpx.get(f"{base}/signin", timeout=10).status_code == 200
            assert not searching.done()
        finally:
            release.set()
        page = searching.result()
    assert page.status_code == 200 and "models for proteins" in page.text
