"""Hugging Face daily papers (kind "hf-daily"): https://huggingface.co/api/daily_papers.

The API answers with a JSON array, one object per paper featured that day: ``paper`` holds the
arXiv id (``id``), authors, abstract (``summary``), ``upvotes``, ``githubRepo``/``githubStars``,
``projectPage``, ``ai_summary``/``ai_keywords`` and ``organization``; the outer object adds
``numComments``. A paper object on its own (what ``/api/papers/<arXiv id>`` answers), or an array
of them, is read the same way. Hugging Face papers are arXiv papers, so records carry the arXiv id and merge with
the arXiv listing of the same paper; the community signals travel in ``signals`` (issue #2: "source
signals (Hugging Face upvotes and comments, GitHub stars...)", used by issue #4's trending score).

Public names: :func:`parse`, :data:`DEFAULT_URL`, :data:`MAX_UPVOTES`, :data:`MAX_COMMENTS`,
:data:`MAX_GITHUB_STARS`.
"""

from __future__ import annotations

from typing import Any

from digest.errors import ParseError
from digest.ids import parse_arxiv_id
from digest.models import ParsedFeed, PaperRecord
from digest.sanitize import safe_url, to_text
from digest.sources import fields
from digest.sources.sniff import hf_paper_object
from digest.text import clean_title

__all__ = ["parse", "DEFAULT_URL", "KIND", "MAX_UPVOTES", "MAX_COMMENTS", "MAX_GITHUB_STARS"]

KIND = "hf-daily"
DEFAULT_URL = "https://huggingface.co/api/daily_papers"

# Ceilings past which a count is damage, not popularity. The most upvoted Hugging Face papers have a
# few thousand upvotes and far fewer comments (the real captures in tests/data/hf-daily top out at 118
# upvotes and 4 comments); the most-starred GitHub repositories have about 400,000 stars. Each ceiling
# leaves an order of magnitude or more of headroom. A count past it (or negative, or not a whole
# number) is dropped with a warning naming the entry: stored, one absurd upvote count would keep its
# paper on top of the trending digest for a week (digest.digests.trending reads the latest count).
#: Most upvotes a Hugging Face paper is believed to have.
MAX_UPVOTES = 100_000
#: Most comments a Hugging Face daily entry is believed to have.
MAX_COMMENTS = 100_000
#: Most stars a paper's GitHub repository is believed to have.
MAX_GITHUB_STARS = 2_000_000
#: How much of a rejected value a warning quotes (the value is outside text of any length).
_QUOTE_LIMIT = 40


def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """Records for every well-formed paper of one daily-papers answer; broken entries are warnings."""
    doc = fields.load_json(data, kind=KIND, source=source)
    if hf_paper_object(doc):
        doc = [doc]
    if not isinstance(doc, list):
        if isinstance(doc, dict) and fields.text(doc.get("error")):
            return ParsedFeed(kind=KIND, records=(), status="error", message=fields.text(doc.get("error")))
        raise ParseError(KIND, "expected a JSON array of daily papers", source=source)
    records: list[PaperRecord] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(doc):
        problems: list[str] = []
        try:
            record = _record(item, problems)
        except ValueError as exc:
            warnings.append(f"entry {i + 1} skipped: {exc}")
            continue
        if record.external_id in seen:
            continue
        seen.add(record.external_id)
        records.append(record)
        warnings.extend(f"entry {i + 1} ({record.external_id}): {problem}" for problem in problems)
    return ParsedFeed(kind=KIND, records=tuple(records), status="ok" if records else "empty",
                      title="Hugging Face daily papers", warnings=tuple(warnings), total_results=len(doc))


def _record(item: Any, problems: list[str]) -> PaperRecord:
    """The record of one entry; values dropped from it (implausible counts) are added to ``problems``."""
    if hf_paper_object(item):
        item = {"paper": item}
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise ValueError("no 'paper' object")
    paper: dict[str, Any] = item["paper"]
    paper_id = fields.text(paper.get("id"))
    if not paper_id:
        raise ValueError("paper has no id")
    raw_title = fields.text(paper.get("title")) or fields.text(item.get("title"))
    if not raw_title:
        raise ValueError(f"paper {paper_id} has no title")
    plain_title = to_text(raw_title)
    title = clean_title(plain_title)
    parsed = parse_arxiv_id(paper_id)
    arxiv_id = parsed[0] if parsed else None
    page = f"https://huggingface.co/papers/{paper_id}"
    # Names are outside text like the title: entities decoded ("X &amp; Y"), markup dropped.
    authors = tuple(name for name in (to_text(a["name"]) for a in paper.get("authors") or []
                                      if isinstance(a, dict) and isinstance(a.get("name"), str)) if name)
    organization = paper.get("organization") or item.get("organization")
    org_name = (fields.text(organization.get("fullname")) or fields.text(organization.get("name"))
                if isinstance(organization, dict) else None)
    signals: dict[str, Any] = {
        # A missing count is unknown, not 0: an invented 0 would be the latest reading and wipe the
        # paper's trending score (digest.digests.trending reads the latest known count).
        "upvotes": _count(paper.get("upvotes"), "upvotes", MAX_UPVOTES, problems),
        # Only a daily entry counts comments (numComments is on the wrapper): a paper object alone
        # does not say, and an invented 0 would overwrite a count a daily entry gave.
        "comments": _count(item.get("numComments"), "numComments", MAX_COMMENTS, problems),
        "github_stars": _count(paper.get("githubStars"), "githubStars", MAX_GITHUB_STARS, problems),
        "organization": org_name,
        "project_page": safe_url(fields.text(paper.get("projectPage"))),
        "submitted_on_daily_at": _iso(paper.get("submittedOnDailyAt")),
        "hf_url": page,
    }
    tldr = fields.text(paper.get("ai_summary"))
    return PaperRecord(
        source_kind=KIND,
        external_id=arxiv_id or paper_id,
        title=title,
        title_original=plain_title if plain_title != title else None,
        authors=authors,
        abstract=to_text(fields.text(paper.get("summary")) or fields.text(item.get("summary")) or ""),
        tldr=to_text(tldr) if tldr else None,
        keywords=tuple(to_text(k) for k in fields.strings(paper.get("ai_keywords"))),
        arxiv_id=arxiv_id,
        # Not on arXiv (rare): the Hugging Face page is the only address the paper has.
        url=None if arxiv_id else page,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None,
        code_url=safe_url(fields.text(paper.get("githubRepo"))),
        published=fields.timestamp(paper.get("publishedAt")) or fields.timestamp(item.get("publishedAt")),
        signals={k: v for k, v in signals.items() if v is not None},
    )


def _count(raw: Any, name: str, ceiling: int, problems: list[str]) -> int | None:
    """A plausible count (a whole number from 0 to ``ceiling``; "7" and 7.0 read as 7), or None.

    An absent or null count is unknown and says nothing; any other value that is not a plausible
    count is dropped with a line in ``problems``: the rest of the entry is still good.
    """
    if raw is None:
        return None
    value = fields.integer(raw, bounded=False)  # any size: a huge one is named as too large
    if value is None:
        reason = "not a whole number"
    elif value < 0:
        reason = "negative"
    elif value > ceiling:
        reason = f"above the ceiling of {ceiling:,}"
    else:
        return value
    quoted = repr(raw)
    if len(quoted) > _QUOTE_LIMIT:
        quoted = quoted[:_QUOTE_LIMIT - 3] + "..."
    problems.append(f"{name} {quoted} ignored: {reason}")
    return None


def _iso(value: Any) -> str | None:
    moment = fields.timestamp(value)
    return moment.isoformat() if moment else None
