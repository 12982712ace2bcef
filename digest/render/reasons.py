"""Why a paper matched, read from the matcher's explanation (digest.match.score): the matched terms
for "Why: …" lines and the spans to highlight.

An explanation is ``{"clauses": [{"clause", "field", "matched": [...], "spans": [[start, end]], ...}]}``;
spans index the paper's original ``title`` / ``abstract`` / ``tldr`` text (other fields, such as
authors, index texts we do not show, so only their ``matched`` strings are used). Explanations are
stored JSON: anything malformed is skipped, never trusted.

Public names: :func:`clauses`, :func:`reason_terms`, :func:`spans_by_field`, :data:`TEXT_FIELDS`.
"""

from __future__ import annotations

from typing import Any

from digest.models import Paper, Reason
from digest.sanitize import display_text
from digest.text import collapse_ws

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


def spans_by_field(reasons: tuple[Reason, ...]) -> dict[str, list[tuple[int, int]]]:
    """Matched spans per text field across every reason."""
    found: dict[str, list[tuple[int, int]]] = {}
    for reason in reasons:
        for clause in clauses(reason.explanation):
            field = str(clause.get("field") or "")
            if field in TEXT_FIELDS:
                found.setdefault(field, []).extend(_spans(clause))
    return found


def reason_terms(paper: Paper, reason: Reason) -> tuple[str, ...]:
    """The distinct terms one reason matched: the matcher's ``matched`` strings, else the text under
    its spans, else the clause itself (case-insensitively distinct, at most :data:`MAX_TERMS`), each
    on one line and cleaned by :func:`digest.sanitize.display_text`."""
    texts = {"title": paper.title, "abstract": paper.abstract, "tldr": paper.tldr or ""}
    terms: dict[str, str] = {}

    def add(term: Any) -> None:
        if isinstance(term, str):
            # A span can end inside a right-to-left override: each term is closed on its own.
            term = display_text(collapse_ws(term))
            if term:
                terms.setdefault(term.casefold(), term)

    for clause in clauses(reason.explanation):
        matched = clause.get("matched")
        if isinstance(matched, list) and matched:
            for term in matched:
                add(term)
            continue
        text = texts.get(str(clause.get("field") or ""), "")
        pieces = [text[s:e].lower() for s, e in _spans(clause) if e <= len(text)]
        if pieces:
            for piece in pieces:
                add(piece)
        else:
            add(clause.get("term") or clause.get("clause"))
    return tuple(terms.values())[:MAX_TERMS]
