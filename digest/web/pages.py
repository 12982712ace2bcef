"""Public pages: home, search (seed 001 style), trending (seed 003 style) and the paper page (seed
004's "via"). They read through the same library functions as the command line."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.errors import NotFoundError, QueryError
from digest.ids import parse_paper_ref
from digest.models import SOURCE_LABELS, Tag
from digest.match.tags import category_query
from digest.store.base import row_id
from digest.web.app import ctx, render
from digest.web.views import HitView, hit_view

#: Results per search page; ``?page=N`` (1-based) shows the others.
SEARCH_LIMIT = 50
TRENDING_LIMIT = 30
#: Tags in the search page's list of all tags (those with most papers).
TAG_LIST_LIMIT = 300


async def home(request: Request) -> Response:
    return render(request, "home.html", title="Paper alerts and daily digests")


def _page_number(value: str | None, pages: int) -> int:
    """``?page=`` as a page that exists: 1 for a missing or malformed value, the last for one past it."""
    number = row_id(value) if value else None
    return min(max(number or 1, 1), max(pages, 1))


def _tag_search(tag: Tag | None, name: str) -> str:
    """The search that finds the papers of the tag ``name``: a source tag's own query (``cat:cs.CV``
    for an arXiv category, ``kw:"graph neural networks"`` for a source keyword), a topic tag (a
    ``[[tags]]`` query) as a keyword, since search sees topic tags among a paper's keywords. A
    topic tag whose name a phrase cannot hold (a double quote) is searched with its own query."""
    if tag is not None and tag.origin == "source" and tag.query.startswith("cat:"):
        return category_query(name)  # not the stored query: rows written before it quoted "a b" names
    if tag is not None and (tag.origin == "source" or '"' in name):
        return tag.query
    return f'kw:"{name}"'


def _tags_with_searches(store: Any) -> list[tuple[str, int, str]]:
    """The list of all tags: (name, paper count, the search that finds those papers)."""
    from digest.match.tags import tag_counts

    tags = {t.name: t for t in store.list_tags()}
    return [(name, n, _tag_search(tags.get(name), name)) for name, n in tag_counts(store)[:TAG_LIST_LIMIT]]


async def search(request: Request) -> Response:
    from digest.match.search import search as run_search

    c = ctx(request)
    query = request.query_params.get("q", "").strip()
    hits: list[HitView] = []
    total, page, pages = 0, 1, 1
    error: QueryError | None = None
    if query:
        try:
            # In a worker thread: a common word over a large store takes seconds of CPU, and on
            # the event loop it would hold up every other request (feed readers polling, sign-ins).
            found = await run_in_threadpool(run_search, c.store, query)
        except QueryError as exc:
            error = exc
        else:
            total = len(found)  # "N results" counts them all, whichever page is shown
            pages = max(math.ceil(total / SEARCH_LIMIT), 1)
            page = _page_number(request.query_params.get("page"), pages)
            start = (page - 1) * SEARCH_LIMIT
            hits = [hit_view(h.paper, h.score, h.explanation) for h in found[start:start + SEARCH_LIMIT]]
    return render(request, "search.html", query=query, hits=hits, total=total, error=error, page=page, pages=pages,
                  first=(page - 1) * SEARCH_LIMIT + 1, tags=_tags_with_searches(c.store),
                  title=f"{query} — search" if query else "Search")


async def trending(request: Request) -> Response:
    from digest.digests.trending import trending_papers

    c = ctx(request)
    ranked = trending_papers(c.store, now=datetime.now(timezone.utc), limit=TRENDING_LIMIT)
    items = [hit_view(paper, score) for paper, score in ranked]
    return render(request, "trending.html", items=items, title="Trending papers")


async def paper(request: Request) -> Response:
    c = ctx(request)
    ref = parse_paper_ref(request.path_params["paper_id"])
    try:
        found = c.store.get_paper(ref)
    except NotFoundError:
        found = None
    if found is None:
        raise NotFoundError("paper", ref)
    return render(request, "paper.html", paper=found, labels=SOURCE_LABELS, title=found.title)
