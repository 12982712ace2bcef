"""The trending score (docs/trending.md) and trending papers from stored signal time series."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from digest.digests.trending import blend, strength, trending_papers, trending_score
from digest.models import Paper, PaperRecord, Via
from digest.sources import hf_daily
from digest.store import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


@dataclass
class P:
    observed: datetime
    upvotes: int | None
    comments: int | None = None


def paper(age_h: float = 0, kinds: tuple[str, ...] = ("hf-daily",)) -> Paper:
    vias = tuple(Via(k, k, "x", NOW) for k in kinds)
    return Paper(id="arxiv:1", title="t", authors=(), published=NOW - timedelta(hours=age_h), sources=vias)


def test_formula_parts() -> None:
    p = paper()
    one = trending_score(p, [P(NOW, 20, 3)], now=NOW)
    assert math.isclose(one, math.log1p(20) + 0.5 * math.log1p(3))  # one observation: no velocity
    climbing = trending_score(p, [P(NOW - timedelta(hours=30), 5), P(NOW - timedelta(hours=1), 20, 3)], now=NOW)
    assert math.isclose(climbing, math.log1p(20) + 0.5 * math.log1p(3) + math.log1p(15))
    # Recency halves the score every 48 hours.
    assert math.isclose(trending_score(paper(48), [P(NOW, 20, 3)], now=NOW), one / 2)
    # A second source (arXiv) lifts it by a quarter; arXiv RSS and API count once.
    two = trending_score(paper(kinds=("hf-daily", "arxiv-rss", "arxiv-atom")), [P(NOW, 20, 3)], now=NOW)
    assert math.isclose(two, one * 1.25)
    assert trending_score(p, [], now=NOW) == 0.0
    assert trending_score(p, [P(NOW, 0, 0)], now=NOW) == 0.0


def test_velocity_uses_the_observation_before_the_window_and_ignores_the_future() -> None:
    p = paper()
    points = [P(NOW - timedelta(hours=50), 1), P(NOW - timedelta(hours=25), 10), P(NOW - timedelta(hours=2), 40),
              P(NOW + timedelta(hours=5), 400)]
    assert math.isclose(trending_score(p, points, now=NOW), math.log1p(40) + math.log1p(30))


def test_strength_and_blend() -> None:
    assert strength(0) == 0 and math.isclose(strength(3.0), 0.5) and strength(1e9) < 1
    assert blend(2.0, 0) == 2.0
    assert math.isclose(blend(2.0, 3.0), 2.5)
    assert blend(2.0, 1e9) < 3.0


def _hf(n: int, upvotes: int, comments: int = 0, *, age_h: float = 2) -> PaperRecord:
    return PaperRecord("hf-daily", f"2611.{n:05d}", title=f"Paper {n}", authors=("A B",), arxiv_id=f"2611.{n:05d}",
                       published=NOW - timedelta(hours=age_h), signals={"upvotes": upvotes, "comments": comments})


def test_trending_papers_from_stored_time_series(store: Store) -> None:
    store.ingest_records("hf", [_hf(1, 5), _hf(2, 50), _hf(3, 40, age_h=200)], now=NOW - timedelta(hours=26))
    store.ingest_records("hf", [_hf(1, 90, 10), _hf(2, 52), _hf(3, 41, age_h=200)], now=NOW - timedelta(hours=1))
    # Paper 4 was seen only after `now` (a --now in the past must not see it).
    store.ingest_records("hf", [_hf(4, 500)], now=NOW + timedelta(hours=3))
    store.ingest_records("arxiv", [PaperRecord("arxiv-rss", "2611.00009", title="No signals", arxiv_id="2611.00009")],
                         now=NOW)
    ranked = trending_papers(store, now=NOW, limit=10)
    assert [p.id for p, _ in ranked] == ["arxiv:2611.00001", "arxiv:2611.00002", "arxiv:2611.00003"]
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert [p.id for p, _ in trending_papers(store, now=NOW, limit=1)] == ["arxiv:2611.00001"]
    # A week later nothing has fresh signals.
    assert trending_papers(store, now=NOW + timedelta(days=8)) == []


def _hf_item(arxiv_id: str, upvotes: int | None, comments: int = 3) -> dict[str, object]:
    paper: dict[str, object] = {"id": arxiv_id, "title": "Scaling Laws for Sparse Mixture-of-Experts",
                                "authors": [{"name": "Ann Smith"}], "publishedAt": "2026-11-23T00:00:00.000Z",
                                "summary": "We study scaling."}
    if upvotes is not None:
        paper["upvotes"] = upvotes
    return {"paper": paper, "numComments": comments, "publishedAt": "2026-11-23T00:00:00.000Z"}


def test_a_fetch_missing_the_upvote_count_does_not_wipe_a_papers_trending_score(sqlite_store: Store) -> None:
    """A paper Hugging Face lists with 180 upvotes stays trending, keeping most of its score, when a
    later fetch returns it without its ``upvotes`` field (a partial API answer): a missing count is no
    signal, not zero upvotes (docs/trending.md: U is the latest count *observed*)."""
    import json

    store = sqlite_store
    first = hf_daily.parse(json.dumps([_hf_item("2611.01234", 180)]).encode())
    store.ingest_records("hf-daily", list(first.records), now=NOW - timedelta(hours=2))
    before = trending_papers(store, now=NOW - timedelta(hours=1))
    assert [p.id for p, _ in before] == ["arxiv:2611.01234"]
    partial = hf_daily.parse(json.dumps([_hf_item("2611.01234", None)]).encode())
    store.ingest_records("hf-daily", list(partial.records), now=NOW - timedelta(minutes=30))
    after = trending_papers(store, now=NOW)
    assert [p.id for p, _ in after] == ["arxiv:2611.01234"]
    assert after[0][1] > before[0][1] / 2


def test_an_implausible_reading_is_no_reading() -> None:
    """Negative counts and counts past the source's ceiling (damage stored before hf_daily dropped
    them) are skipped: the last plausible reading counts, and they give no velocity."""
    p = paper()
    real = [P(NOW - timedelta(hours=30), 5), P(NOW - timedelta(hours=3), 20, 3)]
    expected = trending_score(p, real, now=NOW)
    for bad in (10**9, hf_daily.MAX_UPVOTES + 1, -1):
        assert trending_score(p, [*real, P(NOW - timedelta(hours=1), bad, 10**9)], now=NOW) == expected
    assert trending_score(p, [P(NOW, hf_daily.MAX_UPVOTES)], now=NOW) == math.log1p(hf_daily.MAX_UPVOTES)


def test_a_stored_absurd_upvote_count_does_not_top_the_trending_list(store: Store) -> None:
    """A reading of 10^9 upvotes stored before the source rejected it (ln ≈ 20.7 as U and as V) would
    keep its paper first for a week; it is ignored and the paper ranks by its real 30 upvotes."""
    store.ingest_records("hf", [_hf(1, 30), _hf(2, 60)], now=NOW - timedelta(hours=26))
    store.ingest_records("hf", [_hf(1, 10**9), _hf(2, 60)], now=NOW - timedelta(hours=1))
    ranked = trending_papers(store, now=NOW)
    assert [p.id for p, _ in ranked] == ["arxiv:2611.00002", "arxiv:2611.00001"]
    assert math.isclose(ranked[1][1], math.log1p(30) * 2 ** (-2 / 48))
    # A week on, with a fresh paper of 40 upvotes beside it, still nothing of the 10^9 shows.
    later = NOW + timedelta(days=6)
    store.ingest_records("hf", [_hf(3, 40, age_h=-142)], now=later - timedelta(hours=1))
    assert [p.id for p, _ in trending_papers(store, now=later, limit=1)] == ["arxiv:2611.00003"]


def test_the_source_drops_an_absurd_count_before_it_is_stored(sqlite_store: Store) -> None:
    import json

    parsed = hf_daily.parse(json.dumps([_hf_item("2611.01234", 10**9), _hf_item("2611.05678", 60)]).encode())
    assert parsed.warnings == ("entry 1 (2611.01234): upvotes 1000000000 ignored: above the ceiling of 100,000",)
    sqlite_store.ingest_records("hf-daily", list(parsed.records), now=NOW - timedelta(hours=1))
    assert [p.id for p, _ in trending_papers(sqlite_store, now=NOW)] == ["arxiv:2611.05678", "arxiv:2611.01234"]
