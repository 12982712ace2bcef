"""Match new papers: every paper event above the "match" watermark against every active
subscription and topic tag; store matches and tags; advance the watermark.

One batch of events is one transaction: its matches, paper tags, the updated corpus statistics and
the new watermark commit together. Re-running adds nothing (stored rows are unique per
subscription/tag and paper), and a crash loses at most the batch in flight, which the next run redoes.

Order within a paper: topic tags first (source categories and keywords, then ``[[tags]]`` queries),
so that ``kw:`` in a saved query also sees the paper's topic tags and a "tag" subscription simply
follows its tag; then query subscriptions through the :class:`~digest.match.index.QueryIndex`; then
"user-tag" subscriptions through their profiles (:mod:`digest.match.profile`). Papers by an author
a user muted are dropped from that user's matches.

Public: :func:`match_new`, :class:`MatchRun`, :func:`load_stats`, :func:`idf_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from digest.errors import QueryError
from digest.gcpause import gc_paused
from digest.match.document import Document
from digest.match import search_index
from digest.match.index import QueryIndex, Ranked
from digest.match.profile import DEFAULT_PROFILE_THRESHOLD, Profile, profile_for
from digest.match.score import DEFAULT_THRESHOLD, compile_query
from digest.match.stats import CorpusStats
from digest.match.tags import source_tags
from digest.models import Paper, Subscription
from digest.store.matches import NewMatch, NewPaperTag
from digest.text import MutedAuthors

WATERMARK = "match"
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class MatchRun:
    events: int = 0
    batches: int = 0
    matches: int = 0
    paper_tags: int = 0
    watermark_from: int = 0
    watermark_to: int = 0
    #: Subscriptions or tags whose stored query no longer parses: (name, reason); they are skipped.
    skipped: tuple[tuple[str, str], ...] = field(default=())
    #: Papers whose terms were written to the search index (digest.match.search_index).
    indexed: int = 0


#: Papers that corpus statistics are built from when none are saved (a store filled by a bulk import
#: before its first `digest match`): the newest ones by ingest sequence. Reading every paper took
#: ~550 s per call on a 400,000-paper store, and every query check, `digest init` and alert saved
#: paid it; idf and the breadth estimate are shares of papers, which a sample of this size estimates
#: well, and the newest papers are what a new alert will be judged against anyway.
STATS_SAMPLE = 5_000


def load_stats(store: Any, *, up_to: int | None = None) -> CorpusStats:
    """The saved corpus statistics; when none are saved, built from the newest :data:`STATS_SAMPLE`
    stored papers (only those whose events are all at or below ``up_to``, when given: the rest are
    counted as they are matched)."""
    data, _ = store.load_corpus_stats()
    if data:
        return CorpusStats.from_dict(data)
    if up_to == 0:
        return CorpusStats()
    return CorpusStats.from_documents(Document.from_paper(p) for p in store.newest_papers(STATS_SAMPLE, up_to=up_to))


def idf_of(stats: CorpusStats) -> Callable[[str], float]:
    """IDF by term key, for the profile scorer: the matcher's own, so both score on one scale."""
    return stats.idf


@dataclass
class _Plan:
    """What one run matches against: built once per run, not per paper."""

    index: QueryIndex = field(default_factory=QueryIndex)
    thresholds: dict[tuple[str, int], float] = field(default_factory=dict)
    subs: dict[int, Subscription] = field(default_factory=dict)
    tag_subs: dict[str, list[Subscription]] = field(default_factory=dict)
    profiles: list[tuple[Subscription, Profile, float]] = field(default_factory=list)
    tag_ids: dict[str, int] = field(default_factory=dict)
    tag_names: dict[int, str] = field(default_factory=dict)
    muted: dict[int, MutedAuthors] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _plan(store: Any, stats: CorpusStats) -> _Plan:
    plan = _Plan()
    for tag in store.list_tags():
        plan.tag_ids[tag.name] = tag.id
        plan.tag_names[tag.id] = tag.name
        if tag.origin == "source":
            continue  # categories/keywords are applied from the paper's own fields
        try:
            plan.index.add(("tag", tag.id), compile_query(tag.query, stats))
            plan.thresholds[("tag", tag.id)] = DEFAULT_THRESHOLD
        except QueryError as exc:
            plan.skipped.append((f"tag {tag.name}", str(exc)))
    idf = idf_of(stats)
    for sub in store.list_subscriptions(active_only=True, kinds=["query", "tag", "user-tag"]):
        plan.subs[sub.id] = sub
        if sub.user_id not in plan.muted:
            plan.muted[sub.user_id] = MutedAuthors(store.muted_authors(sub.user_id))
        if sub.kind == "query":
            try:
                plan.index.add(("sub", sub.id), compile_query(sub.query, stats))
            except QueryError as exc:
                plan.skipped.append((f"{sub.user_email}/{sub.name}", str(exc)))
                continue
            plan.thresholds[("sub", sub.id)] = sub.threshold if sub.threshold is not None else DEFAULT_THRESHOLD
        elif sub.kind == "tag":
            plan.tag_subs.setdefault(sub.query, []).append(sub)
        else:
            profile = profile_for(store, sub.user_id, sub.query, idf)
            if not profile.empty:
                threshold = sub.threshold if sub.threshold is not None else DEFAULT_PROFILE_THRESHOLD
                plan.profiles.append((sub, profile, threshold))
    return plan


def _muted(plan: _Plan, user_id: int, paper: Paper) -> bool:
    muted = plan.muted.get(user_id)
    return muted is not None and muted.hides(paper.authors)


def _match_paper(plan: _Plan, stats: CorpusStats, seq: int, paper: Paper, doc: Document,
                 hits: Sequence[tuple[Any, float]], retagged: tuple[Document, Sequence[tuple[Any, float]]] | None,
                 new_tags: dict[str, str]) -> tuple[list[NewMatch], list[tuple[str, NewPaperTag]]]:
    """Matches and tags of one paper, from its batch hits (and, when ``[[tags]]`` queries tagged
    it, the hits of its document rebuilt with those tags). Tags are returned by name (source tags
    may not exist yet). Explanations are built here, for what is stored."""
    tags: dict[str, tuple[float, dict[str, Any]]] = {}
    for name, query, reason in source_tags(paper):
        new_tags.setdefault(name, query)
        tags[name] = (1.0, {"kind": "source", "from": reason})
    for (kind, key), _ in hits:
        if kind == "tag":
            result = plan.index.explain((kind, key), doc, stats)
            tags[plan.tag_names[key]] = (result.score, result.explanation)
    if retagged is not None:
        # Topic tags join the keywords, so `kw:` in saved queries sees them (issue #3, Tags).
        # Source categories and keywords need no rebuild: `cat:` and `kw:` already see them.
        doc, hits = retagged
    matches: list[NewMatch] = []
    for (kind, key), _ in hits:
        if kind == "sub" and not _muted(plan, plan.subs[key].user_id, paper):
            result = plan.index.explain((kind, key), doc, stats)
            matches.append(NewMatch(key, paper.id, result.score, result.explanation, seq))
    for name, (score, explanation) in tags.items():
        for sub in plan.tag_subs.get(name, ()):
            if not _muted(plan, sub.user_id, paper):
                matches.append(NewMatch(sub.id, paper.id, score, {**explanation, "kind": "tag", "tag": name}, seq))
    idf = idf_of(stats)
    for sub, profile, threshold in plan.profiles:
        found = profile.evaluate(paper, idf)
        if found is not None and found.score >= threshold:
            matches.append(NewMatch(sub.id, paper.id, found.score, found.explanation, seq))
    return matches, [(name, NewPaperTag(0, paper.id, s, e)) for name, (s, e) in tags.items()]


def _batch_hits(plan: _Plan, stats: CorpusStats, rows: Sequence[tuple[int, str, Paper]], docs: list[Document]
                ) -> tuple[list[Ranked], dict[int, tuple[Document, Ranked]]]:
    """Every query's hits on the batch, and for papers that a ``[[tags]]`` query tagged, their
    document rebuilt with those tags and its hits."""
    hits = plan.index.match_batch(docs, stats, plan.thresholds)
    retag = {i: [plan.tag_names[key] for (kind, key), _ in found if kind == "tag"] for i, found in enumerate(hits)}
    retag = {i: names for i, names in retag.items() if names}
    tagged_docs = [Document.from_paper(rows[i][2], tags=names) for i, names in retag.items()]
    again = plan.index.match_batch(tagged_docs, stats, plan.thresholds)
    return hits, {i: (d, h) for i, d, h in zip(retag, tagged_docs, again)}


def match_new(store: Any, *, batch: int = 2000, progress: Progress | None = None) -> MatchRun:
    """Match every paper event above the watermark; see the module doc. ``progress(done, total)``."""
    start = store.get_watermark(WATERMARK)
    # The search index first catches up with what was matched before it existed (or changed since).
    indexed = search_index.catch_up(store, up_to=start, batch=batch, progress=progress)
    total = max(store.max_seq() - start, 0)
    stats = load_stats(store, up_to=start)
    plan = _plan(store, stats)
    watermark, events, batches, n_matches, n_tags = start, 0, 0, 0, 0
    while True:
        rows: Sequence[tuple[int, str, Paper]] = store.papers_after(watermark, limit=batch)
        if not rows:
            break
        matches: list[NewMatch] = []
        tagged: list[tuple[str, NewPaperTag]] = []
        new_tags: dict[str, str] = {}
        # A batch's documents hold ~1,000 small containers each, all alive until the batch ends and
        # in no cycle: without the pause, the collector's passes over them took half the time.
        with gc_paused():
            # Statistics first, so the first papers ever matched are not scored against an empty corpus.
            docs = [Document.from_paper(paper) for _, _, paper in rows]
            for (_, kind, _), doc in zip(rows, docs):
                if kind == "new":
                    stats.update(doc)
            hits, retagged = _batch_hits(plan, stats, rows, docs)
            for i, ((seq, _, paper), doc) in enumerate(zip(rows, docs)):
                m, t = _match_paper(plan, stats, seq, paper, doc, hits[i], retagged.get(i), new_tags)
                matches += m
                tagged += t
            # Each paper once, under its latest sequence number (a batch may hold its new and later events).
            latest = {paper.id: (paper.seq, doc) for (_, _, paper), doc in zip(rows, docs)}
            postings = search_index.postings_of(latest.values())
            n_latest = len(latest)
            del docs, hits, retagged, latest  # freed in the pause: the next pass meets few young objects
        last = rows[-1][0]
        with store.write() as conn:
            if store.get_watermark(WATERMARK, conn=conn) != watermark:
                # Another `digest match` finished this batch first; continue from where it got to.
                watermark = store.get_watermark(WATERMARK, conn=conn)
                stats = load_stats(store, up_to=watermark)
                continue
            ids = store.ensure_tags([(n, q) for n, q in new_tags.items() if n not in plan.tag_ids], conn=conn)
            plan.tag_ids.update(ids)
            plan.tag_names.update({v: k for k, v in ids.items()})
            n_tags += store.save_paper_tags([t._replace(tag_id=plan.tag_ids[name]) for name, t in tagged], conn=conn)
            n_matches += store.save_matches(matches, conn=conn)
            store.save_corpus_stats(stats.to_dict(), last, conn=conn)
            store.set_watermark(WATERMARK, last, conn=conn)
            if store.get_watermark(search_index.WATERMARK, conn=conn) == watermark:  # else a catch-up does it
                store.save_search_segment(postings, conn=conn)
                store.set_watermark(search_index.WATERMARK, last, conn=conn)
                indexed += n_latest
        watermark = last
        events += len(rows)
        batches += 1
        if progress:
            progress(min(watermark - start, total), total)
    return MatchRun(events=events, batches=batches, matches=n_matches, paper_tags=n_tags, watermark_from=start,
                    watermark_to=watermark, skipped=tuple(plan.skipped), indexed=indexed)
