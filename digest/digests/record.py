"""What a digest held when it was built: kept with its outbox row, for the digest's web page.

An email shows a digest's first papers and says "N more papers did not fit in this email: see the
whole digest"; that page (:mod:`digest.web.digest_page`) lists what the email listed and what it had
no room for, as the email had them. Little of it can be rebuilt later from the store: an alert may
have been paused, renamed or made weekly or feed-only since, updates turned on or off, a paper's
match moved to a new ingest sequence by a new arXiv version (:meth:`digest.store.Store.save_matches`),
its "sent" record overwritten by the digest itself or a later one, and a trending paper may have
gained sources. So `digest send` records the digest with its outbox row (``outbox.contents``,
migration 0006; :func:`contents_of`), and the page reads that record (:func:`read_contents`).

It is small JSON: ids and a few small values per paper, no titles, authors or abstracts (the page
shows each paper as stored now). Per section, in the email's order: its kind and its title as the
email showed it. Per paper, in order: its id, the version the digest sent, whether it was an update
("Updated vN"), whether the email showed it (false: one of the "N more", past the digest's cap or
dropped to stay under Gmail's clipping budget), its rank score, its trending score (the "Trending"
badge), and its reasons: each alert's name as it was and the parts of the matcher's explanation that
a card reads (:data:`_EXPLANATION_KEYS`, :data:`_CLAUSE_KEYS`)::

    {"day": "Tue 24 Nov",
     "sections": [{"kind": "subscription", "title": "diffusion models",
                   "items": [{"id": "arxiv:2611.00001", "version": 2, "updated": true, "shown": true,
                              "score": 0.8123, "trending": 3.1,
                              "reasons": [{"alert": 12, "name": "diffusion models", "score": 0.8,
                                           "explanation": {"kind": "query", "clauses": [...]}}]}]}]}

``updated``, ``trending`` and ``version`` are left out when false or null. A stored value is read
back as stored JSON is everywhere (:mod:`digest.render.reasons`): anything malformed is skipped,
never trusted.

Public: :func:`contents_of`, :func:`read_contents`, :class:`DigestContents`, :class:`RecordedSection`,
:class:`RecordedItem`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from digest.models import DigestItem, DigestSection, Paper, Reason

#: The parts of a match explanation a card reads: a recommendation's kind and user tag (the tag its
#: feedback links teach, digest.render.email), and its clauses (digest.render.reasons).
_EXPLANATION_KEYS = ("kind", "tag")
#: The parts of a clause the "Why:" terms and the highlights read (digest.render.reasons).
_CLAUSE_KEYS = ("clause", "field", "term", "matched", "spans")
#: A card shows at most the first 400 characters of a title and 320 of a summary
#: (digest.render.email): a span that starts later highlights nothing, and a word repeated through
#: an abstract would otherwise make most of the record.
_SHOWN_CHARS = 400
#: Digits kept of a score: ranks and the trending threshold need no more.
_SCORE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class RecordedItem:
    """One paper of a recorded digest (see the module doc)."""

    paper_id: str
    version: int | None
    updated: bool
    #: whether the email showed it (else it was one of its "N more")
    shown: bool
    score: float
    trending: float | None
    reasons: tuple[Reason, ...]

    def with_paper(self, paper: Paper) -> DigestItem:
        """The item a card shows: ``paper`` as stored now, under the version the digest sent (its
        "Updated vN" badge says what the email said)."""
        return DigestItem(replace(paper, version=self.version), self.reasons, self.score, self.trending,
                          self.updated, paper.seq)


@dataclass(frozen=True, slots=True)
class RecordedSection:
    title: str
    #: "subscription" | "tag" | "trending" | "updated"
    kind: str
    items: tuple[RecordedItem, ...]


@dataclass(frozen=True, slots=True)
class DigestContents:
    """A recorded digest: its label ("Tue 24 Nov", "week of 23 Nov") and its sections in order."""

    day: str
    sections: tuple[RecordedSection, ...]

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(i.paper_id for s in self.sections for i in s.items)


# --- writing ---------------------------------------------------------------------------------------


def _rounded(value: float) -> float | None:
    """``value`` to :data:`_SCORE_DIGITS` digits; None for an infinite or NaN one, which JSON (and
    PostgreSQL's json type) cannot hold."""
    return round(value, _SCORE_DIGITS) if math.isfinite(value) else None


def _shown(span: Any) -> bool:
    return isinstance(span, (list, tuple)) and bool(span) and isinstance(span[0], int) and span[0] < _SHOWN_CHARS


def _clause(clause: dict[str, Any]) -> dict[str, Any]:
    out = {k: clause[k] for k in _CLAUSE_KEYS if clause.get(k) is not None}
    if isinstance(out.get("spans"), list):
        out["spans"] = [span for span in out["spans"] if _shown(span)]
    return out


def _explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    out = {k: explanation[k] for k in _EXPLANATION_KEYS if isinstance(explanation.get(k), str)}
    found = explanation.get("clauses")
    if isinstance(found, list):
        kept = [_clause(c) for c in found if isinstance(c, dict)]
        if kept:
            out["clauses"] = kept
    return out


def _item(item: DigestItem, shown: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.paper.id}
    if item.paper.version is not None:
        out["version"] = item.paper.version
    if item.updated:
        out["updated"] = True
    out["shown"] = shown
    out["score"] = _rounded(item.score)
    trending = _rounded(item.trending) if item.trending is not None else None
    if trending is not None:
        out["trending"] = trending
    out["reasons"] = [{"alert": r.subscription_id, "name": r.subscription, "score": _rounded(r.score),
                       "explanation": _explanation(r.explanation)} for r in item.reasons]
    return out


def _section(section: DigestSection, shown: set[str]) -> dict[str, Any]:
    return {"kind": section.kind, "title": section.title,
            "items": [_item(i, i.paper.id in shown) for i in section.items]}


def contents_of(sections: Iterable[DigestSection], shown: Iterable[str], *, day: str) -> dict[str, Any]:
    """The record of a digest of ``sections`` (every item it selected, before any cap) whose email
    showed the papers ``shown`` and is labelled ``day``: the JSON the outbox keeps (module doc)."""
    ids = set(shown)
    return {"day": day, "sections": [_section(s, ids) for s in sections]}


# --- reading ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reason(data: Any) -> Reason | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    explanation = data.get("explanation")
    return Reason(_integer(data.get("alert")) or 0, data["name"], _number(data.get("score")) or 0.0,
                  explanation if isinstance(explanation, dict) else {})


def _read_item(data: Any) -> RecordedItem | None:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    reasons = data.get("reasons")
    return RecordedItem(
        paper_id=data["id"],
        version=_integer(data.get("version")),
        updated=data.get("updated") is True,
        shown=data.get("shown") is not False,
        score=_number(data.get("score")) or 0.0,
        trending=_number(data.get("trending")),
        reasons=tuple(r for r in map(_reason, reasons if isinstance(reasons, list) else ()) if r is not None))


def _read_section(data: Any) -> RecordedSection | None:
    if not isinstance(data, dict):
        return None
    items = data.get("items")
    found = tuple(i for i in map(_read_item, items if isinstance(items, list) else ()) if i is not None)
    title, kind = data.get("title"), data.get("kind")
    return RecordedSection(title if isinstance(title, str) else "", kind if isinstance(kind, str) else "subscription",
                           found) if found else None


def read_contents(data: Any) -> DigestContents | None:
    """A stored record (:func:`contents_of`) read back; None for none (a row recorded before
    migration 0006 has NULL)."""
    if not isinstance(data, dict):
        return None
    sections = data.get("sections")
    day = data.get("day")
    return DigestContents(day if isinstance(day, str) else "",
                          tuple(s for s in map(_read_section, sections if isinstance(sections, list) else ())
                                if s is not None))
