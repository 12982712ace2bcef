"""Searching stored papers with a saved-query string, and "query test" (how much would this query
have sent me?). Same matcher, statistics and default threshold as subscriptions, so what a user
sees here is what their digest will hold.

Public: :func:`search`, :func:`query_test`, :class:`Hit`, :class:`QueryTest`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from digest.errors import QueryError
from digest.gcpause import gc_paused
from digest.match.document import Document
from digest.match.run import load_stats
from digest.match.score import DEFAULT_THRESHOLD, compile_query
from digest.match.search_index import candidate_papers
from digest.match.validate import EXCLUSIONS_ONLY, only_exclusions
from digest.models import Paper

#: Warn when a query would send more than this many papers a day on average.
TOO_MANY_PER_DAY = 50


@dataclass(frozen=True, slots=True)
class Hit:
    paper: Paper
    score: float
    explanation: dict[str, Any]


def search(store: Any, text: str, *, limit: int | None = None, threshold: float | None = None) -> list[Hit]:
    """Stored papers matching ``text`` at or above the threshold, best first (QueryError if invalid).

    Only the papers the search index names as candidates are evaluated (digest.match.search_index);
    the hits are those of evaluating every stored paper."""
    hits = _hits(store, text, None, threshold)
    return hits[:limit] if limit is not None else hits


def _hits(store: Any, text: str, papers: Iterable[Paper] | None, threshold: float | None) -> list[Hit]:
    """Those of ``papers`` (None: the search index's candidates among all stored papers) matching
    ``text`` at or above the threshold, best first."""
    stats = load_stats(store)
    compiled = compile_query(text, stats)
    cutoff = DEFAULT_THRESHOLD if threshold is None else threshold
    excluding = only_exclusions(compiled.query.root)
    if excluding is not None and cutoff > 0:
        # It scores 0 wherever it matches: evaluating every stored paper (seconds) would find nothing.
        raise QueryError(text, excluding, EXCLUSIONS_ONLY)
    hits = []
    tags = store.topic_tags_by_paper()  # as subscriptions see them: `kw:` finds a topic tag's papers
    if papers is None:
        papers = candidate_papers(store, compiled, stats, tags, cutoff=cutoff)
    # Each document is ~1,000 small containers, in no cycle and freed once evaluated: the collector's
    # passes over them cost a quarter of a common word's search.
    with gc_paused():
        for paper in papers:
            result = compiled.evaluate(Document.from_paper(paper, tags=tags.get(paper.id, ()), batch=False), stats)
            if result is not None and result.score >= cutoff:
                hits.append(Hit(paper, result.score, result.explanation))
    hits.sort(key=lambda h: (-h.score, h.paper.id))
    return hits


def paper_day(paper: Paper) -> date | None:
    """The day a paper counts for: its announcement/publication date, else when we first saw it."""
    when = paper.published or paper.first_seen
    return when.date() if when else None


@dataclass(frozen=True, slots=True)
class QueryTest:
    query: str
    days: int
    start: date | None
    end: date | None
    per_day: tuple[tuple[date, int], ...]
    total: int
    top: tuple[Hit, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def per_day_average(self) -> float:
        return self.total / self.days if self.days else 0.0


def query_test(store: Any, text: str, *, days: int = 30, top: int = 10,
               threshold: float | None = None) -> QueryTest:
    """Matches per day over the ``days`` days up to the newest stored paper, and the best hits.

    The window ends on the latest day a stored paper is dated (not after today: a journal dating
    its next issue ahead, or a mistyped year, is not what a digest would have sent) rather than
    today, so a store that has not ingested for a while (or a demo store of captured feeds) still
    shows a meaningful rate. Only the papers dated within the window are read and scored, never a
    bulk import's back catalogue (~1,100 s per preview on a 400,000-paper store).
    """
    tomorrow = datetime.combine(datetime.now(timezone.utc).date() + timedelta(days=1), time(), timezone.utc)
    latest = store.latest_paper_day(before=tomorrow)
    end = latest.astimezone(timezone.utc).date() if latest is not None else None
    per_day: list[tuple[date, int]] = []
    hits: list[Hit] = []
    if end is not None:
        start = end - timedelta(days=days - 1)
        papers = store.papers_dated_between(datetime.combine(start, time(), timezone.utc),
                                            datetime.combine(end + timedelta(days=1), time(), timezone.utc))
        hits = _hits(store, text, papers, threshold)
        counts = Counter(paper_day(h.paper) for h in hits)
        per_day = [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]
    total = len(hits)
    warnings = []
    if total == 0:
        warnings.append(f"0 matches a day over the last {days} days: too strict, a typo, or nothing stored yet?")
    elif total / days > TOO_MANY_PER_DAY:
        warnings.append(f"{total / days:.0f} matches a day on average (more than {TOO_MANY_PER_DAY}): "
                        "add words, a field (ti:) or raise the threshold")
    return QueryTest(text, days, per_day[0][0] if per_day else None, end, tuple(per_day), total,
                     tuple(hits[:top]), tuple(warnings))
