"""Why a paper matched, read from the matcher's explanation (digest.match.score): the matched terms
for "Why: …" lines and the spans to highlight.

An explanation is ``{"clauses": [{"clause", "field", "matched": [...], "spans": [[start, end]], ...}]}``;
spans index the paper's original ``title`` / ``abstract`` / ``tldr`` text (other fields, such as
authors, index texts we do not show, so only their ``matched`` strings are used). Explanations are
stored JSON: anything malformed is skipped, never trusted.

Public names: :func:`clauses`, :func:`reason_terms`, :func:`spans_by_field`, :data:`TEXT_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from digest.match.query import source_key
from digest.models import SOURCE_LABELS, Paper, Reason
from digest.sanitize import display_text
from digest.text import clean_title

__all__ = ["clauses", "reason_terms", "spans_by_field", "TEXT_FIELDS", "MAX_TERMS"]

TEXT_FIELDS = ("title", "abstract", "tldr")
MAX_TERMS = 8


def clauses(explanation: Any) -> list[dict[str, Any]]:
    found = explanation.get("clauses") if isinstance(explanation, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _spans(clause: dict[str, Any]) -> list[tuple[int, int]]:
    out = []
    for span in clause.get("spans") or ():
        try:
            start, end = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if 0 <= start < end:
            out.append((start, end))
    return out


def _texts(paper: Paper) -> dict[str, str]:
    return {"title": paper.title, "abstract": paper.abstract, "tldr": paper.tldr or ""}


def spans_by_field(paper: Paper, reasons: tuple[Reason, ...]) -> dict[str, list[tuple[int, int]]]:
    """Matched spans per text field of ``paper`` across every reason.

    A span must cover what its clause says it ``matched`` (the matcher lists the text under each of
    its spans): one that does not indexes another text than the paper has now, such as an earlier
    version's abstract, and would highlight the wrong words, so it is dropped."""
    texts = _texts(paper)
    found: dict[str, list[tuple[int, int]]] = {}
    for reason in reasons:
        for clause in clauses(reason.explanation):
            field = str(clause.get("field") or "")
            if field not in TEXT_FIELDS:
                continue
            text, matched = texts[field], clause.get("matched")
            said = {m for m in matched if isinstance(m, str)} if isinstance(matched, list) else None
            found.setdefault(field, []).extend(
                (s, e) for s, e in _spans(clause) if e <= len(text) and (said is None or text[s:e] in said))
    return found


def _spellings(paper: Paper, field: str) -> dict[str, str]:
    """The paper's own spelling of each key a category or source clause reports as matched: the
    matcher compares them folded ("cs.ro", "huggingface", digest.match.document), the reader knows
    them as arXiv and the "via" line write them ("cs.RO", "Hugging Face", a feed's name)."""
    names: Iterable[str]
    key: Callable[[str], str]
    if field == "categories":
        names, key = paper.categories, lambda name: name.strip().lower()
    elif field == "sources":
        names = [name for via in paper.sources
                 for name in (via.label, SOURCE_LABELS.get(via.source_kind, ""), via.feed_name, via.source_kind)]
        key = source_key
    else:
        return {}
    spelled: dict[str, str] = {}
    for name in names:
        if name:
            spelled.setdefault(key(name), name)
    return spelled


def reason_terms(paper: Paper, reason: Reason) -> tuple[str, ...]:
    """The distinct terms one reason matched: the matcher's ``matched`` strings (a category or
    source as the paper spells it), else the text under its spans, else the clause itself
    (case-insensitively distinct, at most :data:`MAX_TERMS`), each on one line with its TeX shown as
    text the way titles are (:func:`digest.text.clean_title`: ``Schr\\"odinger`` reads Schrödinger)
    and cleaned by :func:`digest.sanitize.display_text`."""
    texts = _texts(paper)
    terms: dict[str, str] = {}

    def add(term: Any) -> None:
        if isinstance(term, str):
            # A span can end inside a right-to-left override: each term is closed on its own.
            term = display_text(clean_title(term))
            if term:
                terms.setdefault(term.casefold(), term)

    for clause in clauses(reason.explanation):
        field = str(clause.get("field") or "")
        matched = clause.get("matched")
        if isinstance(matched, list) and matched:
            spelled = _spellings(paper, field)
            for term in matched:
                add(spelled.get(term, term) if isinstance(term, str) else term)
            continue
        text = texts.get(field, "")
        pieces = [text[s:e].lower() for s, e in _spans(clause) if e <= len(text)]
        if pieces:
            for piece in pieces:
                add(piece)
        else:
            add(clause.get("term") or clause.get("clause"))
    return tuple(terms.values())[:MAX_TERMS]
