"""Topic tags: named queries from the config (``[[tags]]``) plus the categories and keywords sources
give a paper. ``digest match`` applies them to new papers (:mod:`digest.match.run`); this module
says what a paper's source tags are, re-applies configured tags to papers already stored (a tag
added to the config later still covers the back catalogue, one whose query changed is re-tagged),
and counts papers per tag.

Public: :func:`source_tags`, :func:`changed_tags`, :func:`apply_tags`, :func:`tag_counts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from digest.errors import NotFoundError
from digest.models import Paper
from digest.text import collapse_ws

#: Keywords longer than this are sentences, not tags (some feeds put a summary line there).
MAX_KEYWORD_TAG = 60


def category_query(category: str) -> str:
    """The query that finds a category's papers: ``cat:cs.CV``, quoted when the name is not one word
    (journals' "Cryptographic protocols")."""
    return f"cat:{category}" if _ONE_WORD.fullmatch(category) else f'cat:"{category}"'


_ONE_WORD = re.compile(r'[^\s()"]+')


def source_tags(paper: Paper) -> list[tuple[str, str, str]]:
    """``(tag name, equivalent query, "category" | "keyword")`` for what the sources said."""
    out: dict[str, tuple[str, str, str]] = {}
    for c in paper.categories:
        c = c.strip()
        if c and '"' not in c:
            out.setdefault(c, (c, category_query(c), "category"))
    for k in paper.keywords:
        name = collapse_ws(k).strip(" ;,.").lower()
        if name and len(name) <= MAX_KEYWORD_TAG and '"' not in name:
            out.setdefault(name, (name, f'kw:"{name}"', "keyword"))
    return list(out.values())


def tag_counts(store: Any) -> list[tuple[str, int]]:
    """Every tag (configured, from the command line, or from sources) with its paper count."""
    return list(store.tag_counts())


def changed_tags(store: Any, tags: Iterable[Any]) -> list[str]:
    """Names of ``tags`` (``TagSettings``: name and query) stored with another query: the ones to
    re-tag with :func:`apply_tags` once saved (saving a changed query forgets what the old one found)."""
    stored = {t.name: t.query for t in store.list_tags()}
    return [t.name for t in tags if t.name in stored and stored[t.name] != t.query]


def apply_tags(store: Any, names: Iterable[str] | None = None, *, batch: int = 1000,
               progress: Callable[[int], None] | None = None) -> int:
    """Evaluate topic-tag queries over every stored paper; returns paper tags added or improved.

    Only tags with a query of their own (not source tags) are evaluated; ``names`` limits it.
    Idempotent, like :func:`digest.match.run.match_new`.
    """
    from digest.match.document import Document
    from digest.match.index import QueryIndex
    from digest.match.run import load_stats
    from digest.match.score import DEFAULT_THRESHOLD, compile_query
    from digest.store.matches import NewPaperTag

    wanted = set(names) if names is not None else None
    tags = store.list_tags()
    unknown = sorted((wanted or set()) - {t.name for t in tags})
    if unknown:
        raise NotFoundError("tag", ", ".join(unknown))
    stats = load_stats(store)
    index = QueryIndex()
    thresholds: dict[int, float] = {}
    for tag in tags:
        if tag.origin == "source" or (wanted is not None and tag.name not in wanted):
            continue
        index.add(tag.id, compile_query(tag.query, stats))
        thresholds[tag.id] = DEFAULT_THRESHOLD
    if not thresholds:
        return 0
    added, done, rows = 0, 0, []
    for paper in store.iter_papers(batch):
        for key, result in index.match(Document.from_paper(paper), stats, thresholds):
            rows.append(NewPaperTag(key, paper.id, result.score, result.explanation))
        done += 1
        if len(rows) >= batch:
            added += store.save_paper_tags(rows)
            rows = []
        if progress and done % batch == 0:
            progress(done)
    added += store.save_paper_tags(rows)
    return added
