"""Pure rules for merging records into papers: keys, fuzzy title matching, field fill-in.

No SQL here; :mod:`digest.store.papers` loads candidates and applies these rules. Merge order
(issue #2): arXiv id, then DOI, then the canonical id (OpenReview / URL), then a fuzzy title match
among papers whose first author has the same folded surname, confirmed by author overlap.

Fuzzy titles: both titles are reduced to :func:`title_key` (ASCII-folded, lower case, punctuation
dropped), so case and punctuation never matter. The remaining difference must be a few typing
slips: an optimal-string-alignment distance (a swapped pair of letters counts once) within
:func:`edit_budget`. Tokens that change what a paper is (numbers, roman numerals, "not"/"without")
must agree exactly, so "Scaling Laws II" never merges into "Scaling Laws", nor "Attention Is Not
All You Need" into "Attention Is All You Need".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import OSA

from digest.models import PaperRecord
from digest.text import author_key, fold, surname_key

TITLE_KEY_LEN = 500
AUTHOR_KEY_LEN = 120
#: Shortest title key that may match fuzzily; shorter ones ("Introduction") must match exactly.
MIN_FUZZY_LEN = 12
#: Share of the shorter author list that must appear in the other list.
AUTHOR_OVERLAP = 0.5

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ROMAN = re.compile(r"^(?:i{1,3}|iv|v|vi{1,3}|ix|x)$")
_NEGATIONS = frozenset({"not", "no", "non", "without", "beyond", "un"})

#: Columns of ``papers`` that merging may change after insert (besides ``seq``).
MUTABLE_FIELDS = ("arxiv_id", "doi", "openreview_id", "url", "title", "title_original", "title_key",
                  "first_author_key", "authors", "abstract", "tldr", "categories", "keywords", "pdf_url",
                  "code_url", "published", "updated", "version", "license", "journal_ref", "venue")
#: Sources that number the versions of what they publish: arXiv's (by arXiv id) and bioRxiv/medRxiv (by DOI).
_ARXIV_KINDS = frozenset({"arxiv-rss", "arxiv-atom", "arxiv-snapshot"})
#: Fields a richer source fills in when the paper lacks them (no event: the paper is not new).
_FILL_FIELDS = ("tldr", "code_url", "pdf_url", "url", "license", "journal_ref", "venue", "published",
                "abstract", "title_original")


# ASCII bytes -> the same byte lower-cased if a letter or digit, else a space: on ASCII titles one
# bytes.translate does what lower() and _NON_ALNUM do (~3x faster than the regex; runs per record).
_ASCII_TITLE = bytes(c if 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 else c + 32 if 0x41 <= c <= 0x5A else 0x20
                     for c in range(256))


def title_key(title: str) -> str:
    if title.isascii():  # no folding needed beyond lower-casing: the common case (bulk ingest)
        return " ".join(title.encode("ascii").translate(_ASCII_TITLE).decode("ascii").split())[:TITLE_KEY_LEN]
    return _NON_ALNUM.sub(" ", fold(title)).strip()[:TITLE_KEY_LEN]


@lru_cache(maxsize=65536)
def _surname(name: str) -> str:
    return surname_key(name)[:AUTHOR_KEY_LEN]


def first_author_key(authors: Sequence[str]) -> str:
    return _surname(authors[0]) if authors else ""


def _guard_tokens(key: str) -> frozenset[str]:
    return frozenset(t for t in key.split() if t.isdigit() or _ROMAN.match(t) or t in _NEGATIONS)


def edit_budget(key: str) -> int:
    """Typing slips allowed between two title keys: 2 for ordinary titles, one more per 40 characters."""
    return 2 + max(0, len(key) - 80) // 40


def titles_match(a: str, b: str) -> bool:
    """Same paper title up to case, punctuation and a few typing slips (see module docstring)."""
    if a == b:
        return bool(a)
    if min(len(a), len(b)) < MIN_FUZZY_LEN or _guard_tokens(a) != _guard_tokens(b):
        return False
    budget = edit_budget(min(a, b, key=len))
    return OSA.distance(a, b, score_cutoff=budget) <= budget


def authors_overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    """At least half of the shorter author list (by "surname initial" key) is in the other one."""
    ka = {k for k in (author_key(n) for n in a) if k}
    kb = {k for k in (author_key(n) for n in b) if k}
    if not ka or not kb:
        return False
    needed = max(1, math.ceil(min(len(ka), len(kb)) * AUTHOR_OVERLAP))
    return len(ka & kb) >= needed


def aware(moment: datetime | None) -> datetime | None:
    """Sources should give aware datetimes; a naive one is taken as UTC rather than refused."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def new_row(pid: str, rec: PaperRecord, *, arxiv_id: str | None, doi: str | None, now: datetime,
            tkey: str | None = None, akey: str | None = None) -> dict[str, Any]:
    """The ``papers`` row for a paper first seen as ``rec`` (keys may be passed in when already computed)."""
    return {
        "id": pid, "arxiv_id": arxiv_id, "doi": doi, "openreview_id": rec.openreview_id, "url": rec.url,
        "title": rec.title, "title_original": rec.title_original, "title_key": title_key(rec.title) if tkey is None else tkey,
        "first_author_key": first_author_key(rec.authors) if akey is None else akey, "authors": list(rec.authors),
        "abstract": rec.abstract or "", "tldr": rec.tldr, "categories": list(rec.categories),
        "keywords": list(rec.keywords), "pdf_url": rec.pdf_url, "code_url": rec.code_url,
        "published": aware(rec.published), "updated": aware(rec.updated), "version": rec.version,
        "license": rec.license, "journal_ref": rec.journal_ref, "venue": rec.venue, "first_seen": now, "seq": 0,
    }


def _union(old: list[Any], new: Sequence[str]) -> list[Any]:
    merged = list(old)
    seen = {str(x).lower() for x in merged}
    for item in new:
        if item.lower() not in seen:
            seen.add(item.lower())
            merged.append(item)
    return merged


def _versions_own(row: dict[str, Any], rec: PaperRecord) -> bool:
    """Whether ``rec`` comes from the server that numbers this paper's versions.

    Only that server says what a new version is. A journal or blog entry linking
    ".../abs/2405.00001v2" names a version, but its title and text are its own and must not replace
    the paper's; nor does a bioRxiv v2 make a paper stored from arXiv v1 a new version.
    """
    if rec.source_kind in _ARXIV_KINDS:
        return bool(rec.arxiv_id) and rec.arxiv_id == row["arxiv_id"]
    if rec.source_kind == "biorxiv" and rec.doi and row["doi"]:
        return rec.doi.lower() == str(row["doi"]).lower()
    return False


def apply_record(row: dict[str, Any], rec: PaperRecord) -> tuple[bool, bool]:
    """Merge ``rec`` into ``row`` in place; returns (changed, new_version).

    A higher version from the server that numbers the paper's versions (see :func:`_versions_own`)
    replaces the text fields (the newer version is what readers get); any other record only fills gaps and adds categories/keywords. Identifier columns are set by the
    caller, which knows whether another paper already owns them.
    """
    before = dict(row)
    new_version = bool(rec.version and row["version"] and rec.version > row["version"] and _versions_own(row, rec))
    if new_version:
        row["version"] = rec.version
        for name in ("title", "abstract", "pdf_url", "title_original"):
            value = getattr(rec, name)
            if value:
                row[name] = value
        if rec.authors:
            row["authors"] = list(rec.authors)
        row["title_key"], row["first_author_key"] = title_key(row["title"]), first_author_key(row["authors"])
    elif rec.version and not row["version"]:
        row["version"] = rec.version
    for name in _FILL_FIELDS:
        value = getattr(rec, name)
        if value and not row[name]:
            row[name] = aware(value) if isinstance(value, datetime) else value
    if not row["authors"] and rec.authors:
        row["authors"] = list(rec.authors)
        row["first_author_key"] = first_author_key(row["authors"])
    updated = aware(rec.updated)
    if updated and (row["updated"] is None or updated > row["updated"]):
        row["updated"] = updated
    if rec.categories:
        row["categories"] = _union(row["categories"], rec.categories)
    if rec.keywords:
        row["keywords"] = _union(row["keywords"], rec.keywords)
    return row != before, new_version


_SIGNAL_NAMES = {"upvotes": "upvotes", "comments": "comments", "github_stars": "stars", "stars": "stars"}
#: The only keys signal_values() reads: signals without any of them give all None.
SIGNAL_KEYS = frozenset(_SIGNAL_NAMES)


def signal_values(signals: dict[str, Any]) -> dict[str, int | None]:
    """The numeric signals kept in the ``paper_signals`` time series."""
    out: dict[str, int | None] = {"upvotes": None, "comments": None, "stars": None}
    for key, column in _SIGNAL_NAMES.items():
        value = signals.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[column] = int(value)
    return out
