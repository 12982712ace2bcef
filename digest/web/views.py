"""Paper listings as the templates need them: title and tl;dr (or abstract) split into highlighted
segments from a match explanation's spans. Segments are plain text; the template escapes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from digest.match.score import highlight
from digest.models import Paper
from digest.render.feeds import via_line

ABSTRACT_CHARS = 420


@dataclass(frozen=True, slots=True)
class HitView:
    paper: Paper
    score: float | None
    title_segments: list[tuple[str, bool]]
    text_segments: list[tuple[str, bool]]
    text_label: str  # "tl;dr" | "abstract"
    via: str


def _spans(explanation: dict[str, Any] | None) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    clauses = explanation.get("clauses") if isinstance(explanation, dict) else None
    for clause in clauses if isinstance(clauses, list) else []:
        if not isinstance(clause, dict) or not isinstance(clause.get("field"), str):
            continue
        for span in clause.get("spans") or []:
            if isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(v, int) for v in span):
                found.setdefault(clause["field"], []).append((span[0], span[1]))
    return found


def hit_view(paper: Paper, score: float | None = None, explanation: dict[str, Any] | None = None) -> HitView:
    spans = _spans(explanation)
    if paper.tldr:
        text, label, text_spans = paper.tldr, "tl;dr", spans.get("tldr", [])
    else:
        text, label, text_spans = paper.abstract, "abstract", spans.get("abstract", [])
        if len(text) > ABSTRACT_CHARS:
            text = text[:ABSTRACT_CHARS].rsplit(" ", 1)[0] + " …"
    return HitView(paper, score, highlight(paper.title, spans.get("title", [])), highlight(text, text_spans),
                   label, via_line(paper))
