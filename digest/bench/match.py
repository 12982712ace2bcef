"""Benchmark: many saved queries against a day's papers, through the index and by brute force.

Queries are drawn from the real corpus (tests/data/corpus, arXiv RSS captures): title words in a
realistic frequency band, title bigrams as phrases, author surnames, with fields, ORs, NOTs, typos
(automatic fuzzy), explicit ``~`` and prefixes. Brute force evaluates every query on a sample of
the papers and is extrapolated; on that sample the two result sets are compared for identity.

Public: :func:`run`, :func:`load_corpus`, :func:`generate_queries`.
"""

from __future__ import annotations

import gc
import json
import random
import re
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from digest.errors import DigestError
from digest.ids import find_arxiv_id
from digest.gcpause import gc_paused
from digest.match.document import Document
from digest.match.index import QueryIndex, match_all
from digest.match.normalize import STOP_WORDS
from digest.match.score import compile_query
from digest.match.stats import CorpusStats
from digest.models import Paper, Via
from digest.text import author_key, clean_text, split_authors

__all__ = ["run", "load_corpus", "generate_queries", "default_corpus"]

_REPO = Path(__file__).resolve().parents[2]
_FEED_NAMES = {"cs.SD+eess.AS": "arxiv-audio"}
_EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)


def default_corpus() -> Path:
    for path in (_REPO / "tests" / "data" / "corpus", _REPO.parent / "shared" / "fixtures" / "corpus"
                 / "arxiv-rss-filter_rss_cache"):
        if path.is_dir():
            return path
    raise DigestError("no corpus: pass --corpus DIR (arXiv rss_cache_*.json files)")


def load_corpus(path: Path | None = None) -> list[Paper]:
    """Unique papers of every rss_cache_*.json file under ``path``, oldest capture first (DigestError
    when there are none: the benchmark draws its queries and papers from them)."""
    folder = path or default_corpus()
    files = sorted(folder.glob("rss_cache_*.json"))
    if not files:
        raise DigestError(f"{folder}: no corpus files (arXiv rss_cache_*.json captures)")
    seen: dict[str, Paper] = {}
    for file in files:
        for url, feed in json.loads(file.read_text("utf-8")).items():
            name = _FEED_NAMES.get(url.rsplit("/", 1)[-1], "arxiv-cs")
            for e in feed.get("entries", []):
                found = find_arxiv_id(e.get("id", ""))
                if not found or f"arxiv:{found[0]}" in seen:
                    continue
                abstract = e.get("summary", "").split("Abstract:", 1)[-1]
                via = Via("arxiv-rss", name, found[0], first_seen=_EPOCH)
                seen[f"arxiv:{found[0]}"] = Paper(
                    id=f"arxiv:{found[0]}", title=clean_text(e.get("title", "")),
                    authors=tuple(split_authors(e.get("author", ""))), abstract=clean_text(abstract),
                    arxiv_id=found[0], sources=(via,))
    return list(seen.values())


_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")


def _vocabulary(papers: list[Paper]) -> tuple[list[str], list[str], list[str]]:
    """Title words in a useful frequency band, frequent title bigrams, and author surnames."""
    df: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    surnames: Counter[str] = Counter()
    for p in papers:
        words = [w for w in _WORD.findall(p.title)]
        df.update({w.lower() for w in words})
        bigrams.update(f"{a.lower()} {b.lower()}" for a, b in zip(words, words[1:])
                       if a.lower() not in STOP_WORDS and b.lower() not in STOP_WORDS)
        surnames.update(author_key(a).rsplit(" ", 1)[0] for a in p.authors)
    n = len(papers)
    words = [w for w, c in df.items() if 2 <= c <= n * 0.03 and len(w) >= 4 and w not in STOP_WORDS]
    phrases = [b for b, c in bigrams.items() if c >= 2]
    names = [s for s, c in surnames.items() if c >= 2 and s.isalpha()]
    return sorted(words), sorted(phrases), sorted(names)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1:] if rng.random() < 0.5 else word[:i] + word[i + 1] + word[i] + word[i + 2:]


def generate_queries(papers: list[Paper], count: int, seed: int = 7) -> list[str]:
    """``count`` saved queries in the mix of docs/benchmarks.md, reproducible from ``seed``."""
    rng = random.Random(seed)
    words, phrases, names = _vocabulary(papers)
    long_words = [w for w in words if len(w) >= 8 and w.isalpha()]

    def w() -> str:
        return rng.choice(words)

    def ph() -> str:
        return f'"{rng.choice(phrases)}"'

    makers = [
        (25, lambda: w()),
        (18, lambda: ph()),
        (12, lambda: f"{w()} {w()}"),
        (10, lambda: f"({w()} OR {w()} OR {ph()}) {w()}"),
        (8, lambda: f"{w()} -{w()}"),
        (4, lambda: f"{ph()} NOT ({w()} OR {w()})"),
        (6, lambda: f"ti:{w()} OR abs:{ph()}"),
        (6, lambda: _typo(rng.choice(long_words), rng)),
        (2, lambda: f"{w()}~"),
        (3, lambda: f"{rng.choice(long_words)[:5]}*"),
        (5, lambda: f"au:{rng.choice(names)}"),
        (1, lambda: f"src:arxiv-audio {w()}"),
    ]
    weights = [m[0] for m in makers]
    return [rng.choices(makers, weights)[0][1]() for _ in range(count)]


def run(queries: int = 100_000, papers: int = 2_000, sample: int = 10, seed: int = 7,
        corpus: Path | None = None) -> dict[str, Any]:
    """Run the benchmark and return its figures (seconds, ratio, identical)."""
    corpus_papers = load_corpus(corpus)
    t0 = time.perf_counter()
    with gc_paused():  # as digest match builds a batch's documents (digest.match.run)
        all_docs = [Document.from_paper(p) for p in corpus_papers]
    t_docs = time.perf_counter() - t0
    stats = CorpusStats.from_documents(all_docs)
    docs = all_docs[-papers:]  # the newest captures play "today's papers"
    texts = generate_queries(corpus_papers, queries, seed)

    t0 = time.perf_counter()
    compiled = {i: compile_query(t) for i, t in enumerate(texts)}
    index = QueryIndex(stats)
    for key, q in compiled.items():
        index.add(key, q)
    t_index = time.perf_counter() - t0

    # A service keeps its index for days: move it out of the collector's sight, as it would be
    # after start-up, so full collections do not rescan a million long-lived objects per batch.
    gc.collect()
    gc.freeze()
    t0, c0 = time.perf_counter(), time.process_time()
    results = index.match_batch(docs, stats)
    t_match, c_match = time.perf_counter() - t0, time.process_time() - c0

    step = max(1, len(docs) // max(sample, 1))
    picks = list(range(0, len(docs), step))[:sample]
    fresh = [Document.from_paper(corpus_papers[len(corpus_papers) - len(docs) + i]) for i in picks]
    t0, c0 = time.perf_counter(), time.process_time()
    brute = [match_all(compiled, doc, stats) for doc in fresh]
    t_brute = (time.perf_counter() - t0) / len(picks) * len(docs)
    c_brute = (time.process_time() - c0) / len(picks) * len(docs)
    gc.unfreeze()
    # Explanations are built when a match is stored (digest match) or shown: time them apart.
    t0 = time.perf_counter()
    explained = [[(k, index.explain(k, docs[i], stats)) for k, _ in results[i]] for i in picks]
    t_explain = (time.perf_counter() - t0) / len(picks) * len(docs)
    identical = all(_as_set(b) == _as_set(e) and _scores(b) == dict(results[i])
                    for b, e, i in zip(brute, explained, picks))
    matches = sum(len(r) for r in results)
    return {
        "queries": len(texts), "papers": len(docs), "corpus_papers": len(corpus_papers),
        "document_build_seconds": round(t_docs / len(all_docs) * len(docs), 3),
        "index_build_seconds": round(t_index, 3),
        "match_seconds": round(t_match, 3),
        # CPU time too: on a shared machine wall-clock time includes waiting for a core.
        "match_cpu_seconds": round(c_match, 3),
        "candidates_per_paper": round(sum(len(index.candidates(d)) for d in docs[:200]) / min(200, len(docs)), 1),
        "matches": matches,
        "explain_all_matches_seconds_extrapolated": round(t_explain, 1),
        "brute_force_sample_papers": len(picks),
        "brute_force_seconds_extrapolated": round(t_brute, 1),
        "brute_force_cpu_seconds_extrapolated": round(c_brute, 1),
        "ratio": round(t_brute / t_match, 1) if t_match else None,
        "cpu_ratio": round(c_brute / c_match, 1) if c_match else None,
        "identical": identical,
        "within_target": t_match <= 3.0 and t_brute / max(t_match, 1e-9) >= 50,
    }


def _scores(results: list[tuple[Any, Any]]) -> dict[Any, float]:
    return {k: r.score for k, r in results}


def _as_set(results: list[tuple[Any, Any]]) -> set[tuple[Any, float, str]]:
    return {(k, r.score, json.dumps(r.explanation, sort_keys=True)) for k, r in results}
