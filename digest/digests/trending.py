"""Trending papers: Hugging Face upvotes, their velocity across fetches, comments, cross-source presence
and recency with exponential decay. The formula and its reasons are in docs/trending.md:

    trending = (ln(1+U) + ½·ln(1+C) + ln(1+V)) · (1 + ¼·(S−1)) · 2^(−age_h / 48)

U latest upvotes, C latest comments, V upvotes gained over the last 24 h as observed across fetches
(``paper_signals`` time series), S number of distinct sources the paper came through (arXiv, Hugging
Face, OpenReview...), age_h hours since publication (or first sight). Logarithms because upvotes are
heavy-tailed (one paper with 400 must not drown ten with 40); velocity so a paper climbing today beats
one that collected its votes last week. A reading outside the source's plausible range (negative, or past
``hf_daily.MAX_UPVOTES`` / ``MAX_COMMENTS``: damage, which the source now drops, but rows stored before
may hold) is no reading: the last plausible one counts, as for a fetch that lacked the count.

Public: :func:`trending_score`, :func:`trending_scores`, :func:`trending_papers`, :func:`strength`,
:func:`blend`, :data:`HALF_LIFE_HOURS`, :data:`BLEND_WEIGHT`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from digest.models import SOURCE_LABELS, Paper
from digest.sources.hf_daily import MAX_COMMENTS, MAX_UPVOTES

HALF_LIFE_HOURS = 48.0
COMMENT_WEIGHT = 0.5
PRESENCE_WEIGHT = 0.25
VELOCITY_WINDOW = timedelta(hours=24)
#: Candidates: papers with a signal observed within this window before ``now``.
CANDIDATE_WINDOW = timedelta(days=7)
#: ``strength`` reaches ½ at this score (≈ 20 fresh upvotes on one source).
HALF_STRENGTH = 3.0
#: How much trending can lift a match score in a topic digest: at most ×(1 + BLEND_WEIGHT).
BLEND_WEIGHT = 0.5
#: The largest plausible reading of each counted signal; a larger (or negative) one is ignored.
_CEILINGS = {"upvotes": MAX_UPVOTES, "comments": MAX_COMMENTS}


class Point(Protocol):
    """One observation (``digest.store.papers.SignalPoint``)."""

    observed: datetime
    upvotes: int | None
    comments: int | None


def _readings(points: Sequence[Point], attr: str) -> list[tuple[datetime, int]]:
    """The plausible readings of one signal, oldest first. The logarithms do not tame one absurd count:
    10^9 upvotes give ln ≈ 20.7 as U and again as V (41 in all, against 3.7 for 40 fresh upvotes),
    which outlasts 3.5 half-lives of decay, a week on top. It is dropped, not capped: capped at the
    ceiling it would still score ≈ 23 and stay on top for days."""
    ceiling = _CEILINGS[attr]
    values = ((p.observed, getattr(p, attr)) for p in points)
    return sorted((t, v) for t, v in values if v is not None and 0 <= v <= ceiling)


def _latest(points: Sequence[Point], attr: str) -> tuple[datetime, int] | None:
    values = _readings(points, attr)
    return values[-1] if values else None


def _velocity(points: Sequence[Point], now: datetime) -> int:
    """Upvotes gained during the last 24 h, as far as our fetches saw them (never extrapolated)."""
    seen = _readings(points, "upvotes")
    if len(seen) < 2:
        return 0
    cutoff = now - VELOCITY_WINDOW
    before = [v for t, v in seen if t <= cutoff]
    reference = before[-1] if before else seen[0][1]
    return max(seen[-1][1] - reference, 0)


def source_count(paper: Paper) -> int:
    """Distinct sources by label: arXiv RSS and arXiv API count once."""
    return len({SOURCE_LABELS.get(v.source_kind, v.source_kind) for v in paper.sources}) or 1


def trending_score(paper: Paper, points: Sequence[Point], *, now: datetime) -> float:
    """The score of one paper from its signal observations up to ``now`` (later ones are ignored)."""
    points = [p for p in points if p.observed <= now]
    upvotes = _latest(points, "upvotes")
    comments = _latest(points, "comments")
    u = upvotes[1] if upvotes else 0
    c = comments[1] if comments else 0
    base = math.log1p(u) + COMMENT_WEIGHT * math.log1p(c) + math.log1p(_velocity(points, now))
    if base <= 0:
        return 0.0
    presence = 1 + PRESENCE_WEIGHT * (source_count(paper) - 1)
    born = paper.published or paper.first_seen
    age_h = max((now - born).total_seconds() / 3600, 0.0) if born else 0.0
    return base * presence * 2 ** (-age_h / HALF_LIFE_HOURS)


def strength(score: float) -> float:
    """Map a trending score to [0, 1): 0 for nothing, ½ at :data:`HALF_STRENGTH`."""
    return score / (score + HALF_STRENGTH) if score > 0 else 0.0


def blend(match_score: float, trending: float) -> float:
    """Rank key in a topic digest: the match score lifted by at most ``BLEND_WEIGHT`` when trending."""
    return match_score * (1 + BLEND_WEIGHT * strength(trending))


class _Store(Protocol):
    def signal_history(self, paper_ids: Iterable[str]) -> dict[str, Any]: ...

    def papers_by_ids(self, ids: Iterable[str]) -> dict[str, Paper]: ...

    def papers_with_signals(self, since: datetime, until: datetime) -> list[str]: ...


def trending_scores(store: _Store, papers: Iterable[Paper], *, now: datetime) -> dict[str, float]:
    """Scores of the given papers (0 for papers without signals)."""
    papers = list(papers)
    history = store.signal_history([p.id for p in papers])
    return {p.id: trending_score(p, history.get(p.id, ()), now=now) for p in papers}


def trending_papers(store: _Store, *, now: datetime, limit: int = 20,
                    window: timedelta = CANDIDATE_WINDOW) -> list[tuple[Paper, float]]:
    """The ``limit`` highest-scoring papers with signals seen in ``window`` before ``now``, best first."""
    ids = store.papers_with_signals(now - window, now)
    if not ids:
        return []
    papers = store.papers_by_ids(ids)
    scores = trending_scores(store, papers.values(), now=now)
    ranked = sorted(((papers[pid], s) for pid, s in scores.items() if s > 0), key=lambda ps: (-ps[1], ps[0].id))
    return ranked[:limit]
