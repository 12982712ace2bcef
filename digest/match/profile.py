"""User-tag recommendation: "more papers like the ones I tagged".

A user labels papers under a tag of their own (``digest tag add USER TAG PAPER_ID``); a subscription
of kind "user-tag" then recommends new papers like them. The profile of a tag is

* a keyword profile: the tf-idf vector (title terms x2, keywords x1.5, abstract x1, matcher
  normalisation so "regularisation" meets "regularization") summed over the tagged papers, and
* their titles, for fuzzy title similarity (rapidfuzz ``token_sort_ratio`` over normalised words).

A new paper scores ``SCALE * (similarity to the liked papers - NEGATIVE_WEIGHT * similarity to the
papers labelled "not relevant")``, each similarity being ``0.7 * cosine + 0.3 * best title ratio``.
So a "not relevant" label pushes papers like it down, and a paper by a muted author is dropped.
Scores live on the same scale as query matches (threshold :data:`DEFAULT_PROFILE_THRESHOLD`) and the
explanation has the same outer shape ({"kind", "clauses"...}) so digests and the web render both.

Public: :class:`Profile`, :class:`ProfileMatch`, :func:`build_profile`, :data:`DEFAULT_PROFILE_THRESHOLD`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from digest.match.normalize import is_stop_word, terms
from digest.models import Paper
from digest.text import MutedAuthors

SCALE = 10.0
NEGATIVE_WEIGHT = 1.0
KEYWORD_SHARE = 0.7
#: Where "like these" starts on tests/data/eval: two tagged knowledge-distillation papers put the six
#: best unlabelled KD papers above it and the first off-topic ones just below (tests/test_match_profile.py).
DEFAULT_PROFILE_THRESHOLD = 2.4
PROFILE_TERMS = 40
_FIELD_WEIGHTS = (("title", 2.0), ("keywords", 1.5), ("abstract", 1.0), ("tldr", 1.0))

Idf = Callable[[str], float]


@dataclass(frozen=True, slots=True)
class ProfileMatch:
    """Same duck type as the query matcher's MatchResult: ``score`` and a JSON ``explanation``."""

    score: float
    explanation: dict[str, Any]


def _keys(text: str) -> list[tuple[str, str]]:
    return [(t.key, t.form) for t in terms(text, joined=False) if len(t.key) > 2 and not is_stop_word(t.form)]


def _vector(paper: Paper, idf: Idf) -> tuple[dict[str, float], dict[str, str]]:
    """L2-normalised tf-idf vector of a paper, and a readable form for each key."""
    tf: dict[str, float] = {}
    forms: dict[str, str] = {}
    for name, weight in _FIELD_WEIGHTS:
        value = getattr(paper, name)
        text = " ; ".join(value) if isinstance(value, tuple) else (value or "")
        for key, form in _keys(text):
            tf[key] = tf.get(key, 0.0) + weight
            forms.setdefault(key, form)
    vec = {k: (1 + math.log(v)) * idf(k) for k, v in tf.items() if v > 0}
    norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
    return {k: w / norm for k, w in vec.items()}, forms


def _centroid(vectors: Sequence[dict[str, float]], keep: int) -> dict[str, float]:
    total: Counter[str] = Counter()
    for v in vectors:
        total.update(v)
    top = dict(total.most_common(keep))
    norm = math.sqrt(sum(w * w for w in top.values())) or 1.0
    return {k: w / norm for k, w in top.items()}


def _title_key(title: str) -> str:
    return " ".join(k for k, _ in _keys(title))


@dataclass(frozen=True, slots=True)
class Profile:
    tag: str
    positive: dict[str, float]
    negative: dict[str, float]
    positive_titles: tuple[tuple[str, str, str], ...]  # (paper id, title, title key)
    negative_titles: tuple[tuple[str, str, str], ...]
    forms: dict[str, str] = field(default_factory=dict)
    labelled: frozenset[str] = frozenset()
    muted: MutedAuthors = field(default_factory=MutedAuthors)

    @property
    def empty(self) -> bool:
        return not self.positive

    def _similarity(self, vec: dict[str, float], centroid: dict[str, float],
                    titles: Sequence[tuple[str, str, str]], title_key: str) -> tuple[float, float, tuple[str, str] | None]:
        cosine = sum(w * centroid.get(k, 0.0) for k, w in vec.items())
        best, like = 0.0, None
        for pid, title, key in titles:
            ratio = fuzz.token_sort_ratio(title_key, key) / 100.0
            if ratio > best:
                best, like = ratio, (pid, title)
        return cosine, best, like

    def evaluate(self, paper: Paper, idf: Idf) -> ProfileMatch | None:
        """Score a new paper against the profile; None when below no threshold can help (no overlap,
        a paper already labelled, or a muted author)."""
        if self.empty or paper.id in self.labelled:
            return None
        if self.muted.hides(paper.authors):
            return None
        vec, forms = _vector(paper, idf)
        tkey = _title_key(paper.title)
        cos_p, title_p, like = self._similarity(vec, self.positive, self.positive_titles, tkey)
        if cos_p <= 0 and title_p < 0.5:
            return None
        pos = KEYWORD_SHARE * cos_p + (1 - KEYWORD_SHARE) * title_p
        neg, cos_n, title_n, unlike = 0.0, 0.0, 0.0, None
        if self.negative:
            cos_n, title_n, unlike = self._similarity(vec, self.negative, self.negative_titles, tkey)
            neg = KEYWORD_SHARE * cos_n + (1 - KEYWORD_SHARE) * title_n
        score = SCALE * (pos - NEGATIVE_WEIGHT * neg)
        contributions = sorted(((w * self.positive.get(k, 0.0), k) for k, w in vec.items() if k in self.positive),
                               reverse=True)[:8]
        explanation: dict[str, Any] = {
            "kind": "profile",
            "tag": self.tag,
            "formula": "10 * (0.7*cosine + 0.3*title_ratio)[liked] - 10 * (same)[not relevant]",
            "clauses": [{"clause": forms.get(k) or self.forms.get(k, k), "field": "profile", "kind": "exact",
                         "matched": [forms.get(k) or self.forms.get(k, k)], "score": round(SCALE * c, 4)}
                        for c, k in contributions],
            "keyword_similarity": round(cos_p, 4),
            "title_similarity": round(title_p, 4),
        }
        if like:
            explanation["similar_to"] = {"paper_id": like[0], "title": like[1]}
        if self.negative:
            explanation["not_relevant_penalty"] = round(SCALE * NEGATIVE_WEIGHT * neg, 4)
            if unlike and neg > 0:
                explanation["unlike"] = {"paper_id": unlike[0], "title": unlike[1]}
        return ProfileMatch(round(score, 4), explanation)


def build_profile(tag: str, liked: Iterable[Paper], not_relevant: Iterable[Paper], idf: Idf, *,
                  muted: Iterable[str] = ()) -> Profile:
    """The profile of a user tag from its labelled papers (see the module doc)."""
    liked, not_relevant = list(liked), list(not_relevant)
    forms: dict[str, str] = {}
    pos_vecs, neg_vecs = [], []
    for p in liked:
        v, f = _vector(p, idf)
        pos_vecs.append(v)
        forms.update(f)
    for p in not_relevant:
        neg_vecs.append(_vector(p, idf)[0])
    return Profile(
        tag=tag,
        positive=_centroid(pos_vecs, PROFILE_TERMS) if pos_vecs else {},
        negative=_centroid(neg_vecs, PROFILE_TERMS) if neg_vecs else {},
        positive_titles=tuple((p.id, p.title, _title_key(p.title)) for p in liked),
        negative_titles=tuple((p.id, p.title, _title_key(p.title)) for p in not_relevant),
        forms=forms,
        labelled=frozenset(p.id for p in liked) | frozenset(p.id for p in not_relevant),
        muted=MutedAuthors(muted),
    )


def profile_for(store: Any, user: str | int, tag: str, idf: Idf) -> Profile:
    """Build the profile of ``user``'s tag from the store's labels and muted authors."""
    labels = store.labels(user, tag)
    papers = store.papers_by_ids(pid for pid, _ in labels)
    liked = [papers[pid] for pid, pol in labels if pol > 0 and pid in papers]
    unliked = [papers[pid] for pid, pol in labels if pol < 0 and pid in papers]
    return build_profile(tag, liked, unliked, idf, muted=store.muted_authors(user))
