"""`digest bench search`: searching a store through the search index against evaluating every paper.

The store: the real arXiv captures of the match benchmark (tests/data/corpus, ~3,600 papers) copied
under fresh arXiv ids up to ``papers`` (the text is the captures' own, so each copy has the real
vocabulary; a term's papers grow with the copies for both ways of searching alike). Two identical
stores are filled by ``Store.bulk_import``; `digest match` (``match_new``) runs on both, one of them
with its search index switched off (its watermark set past the store), which gives what writing the
index adds to matching. Then ``queries`` generated queries (the match benchmark's generator) are
searched through the index, and the first ``brute`` of them also by evaluating every stored paper
(what `digest search` did before the index, ``_hits`` over ``iter_papers``): their results must be
identical, and the ratio of the mean times is the figure of merit.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from digest.bench.match import generate_queries, load_corpus
from digest.errors import QueryError
from digest.models import Paper, PaperRecord


def _records(papers: list[Paper], count: int) -> list[PaperRecord]:
    out: list[PaperRecord] = []
    for i in range(count):
        p, copy = papers[i % len(papers)], i // len(papers)
        arxiv_id = f"{10 + copy:02d}01.{i % len(papers):05d}"  # a valid old-style month per copy
        out.append(PaperRecord("arxiv-rss", arxiv_id, title=p.title, authors=p.authors, abstract=p.abstract,
                               categories=p.categories, arxiv_id=arxiv_id, version=1))
    return out


def run(*, papers: int = 20_000, queries: int = 40, brute: int = 3, seed: int = 5,
        corpus: Path | None = None) -> dict[str, Any]:
    from digest.match.run import match_new
    from digest.match.search import _hits, search
    from digest.match.search_index import WATERMARK
    from digest.store import Store

    corpus_papers = load_corpus(corpus)
    if papers > 90 * len(corpus_papers):
        raise ValueError(f"at most {90 * len(corpus_papers):,} papers from this corpus")
    records = _records(corpus_papers, papers)
    work = Path(tempfile.mkdtemp(prefix="digest-bench-search-"))
    try:
        stores = {name: Store.open(f"sqlite:///{work / name}.db") for name in ("indexed", "plain")}
        for store in stores.values():
            store.bulk_import("bench", records)
        stores["plain"].set_watermark(WATERMARK, 10**15)  # match without writing the index
        match_seconds = {}
        for name, store in stores.items():
            start = time.perf_counter()
            match_new(store)
            match_seconds[name] = time.perf_counter() - start
        store = stores["indexed"]
        segments, postings, _ = store.search_index_size()
        texts = generate_queries(corpus_papers, queries, seed)
        search(store, texts[0])  # statistics and tags are read per search either way; warm the caches
        indexed: list[float] = []
        timed: list[tuple[float, str]] = []
        results: dict[str, list[tuple[str, float]]] = {}
        for text in texts:
            start = time.perf_counter()
            try:
                hits = search(store, text)
            except QueryError:
                continue
            indexed.append(time.perf_counter() - start)
            timed.append((indexed[-1], text))
            results[text] = [(h.paper.id, h.score) for h in hits]
        brute_times: list[float] = []
        identical = True
        for text in list(results)[:brute]:
            start = time.perf_counter()
            hits = _hits(store, text, store.iter_papers(), None)
            brute_times.append(time.perf_counter() - start)
            identical &= [(h.paper.id, h.score) for h in hits] == results[text]
        for s in stores.values():
            s.close()
        db_bytes = sum(f.stat().st_size for f in work.glob("indexed.db*"))
        plain_bytes = sum(f.stat().st_size for f in work.glob("plain.db*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mean_indexed = statistics.fmean(indexed)
    mean_brute = statistics.fmean(brute_times) if brute_times else None
    return {
        "papers": papers, "queries": len(indexed), "brute_force_queries": len(brute_times),
        "search_mean_seconds": round(mean_indexed, 4),
        "search_median_seconds": round(statistics.median(indexed), 4),
        "search_max_seconds": round(max(indexed), 4),
        "brute_force_mean_seconds": round(mean_brute, 3) if mean_brute is not None else None,
        "ratio": round(mean_brute / mean_indexed, 1) if mean_brute else None,
        "identical": identical,
        "mean_hits": round(statistics.fmean(len(r) for r in results.values()), 1),
        "slowest_queries": [[text, round(t, 3)] for t, text in sorted(timed, reverse=True)[:3]],
        "match_seconds_with_index": round(match_seconds["indexed"], 2),
        "match_seconds_without_index": round(match_seconds["plain"], 2),
        "match_ratio": round(match_seconds["indexed"] / match_seconds["plain"], 3),
        "index_segments": segments, "index_postings": postings,
        "database_bytes": db_bytes, "database_bytes_without_index": plain_bytes,
    }
