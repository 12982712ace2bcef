"""Evaluating the indexed queries on a batch of papers at once (:meth:`QueryIndex.match_batch`).

Per batch, not per (query, paper) pair:

1. an inverted index of the batch: every term key -> the papers holding it and their per-field
   counts, in flat numpy arrays (rows sorted by key);
2. each *distinct* clause is scored once for the whole batch: exact words (and fuzzy words on the
   papers where one expansion of them occurs) in vectorised form, with the very operations of
   :func:`digest.match.score._eval_exact_word` in the same order, so the floats are bit-identical;
   phrases, prefixes, structured clauses and the rare paper with two fuzzy variants of one word by
   the scalar :func:`~digest.match.score.leaf_result`, on the papers that hold all their words;
3. each triggered query plan is narrowed by set algebra on clause results -- all required
   clauses present, excluded ones absent, and a score bound (an AND scores at most 1.25 times its
   best child, an OR at most ``1 + 0.2 (k - 1)`` times) against the lowest threshold -- and only the
   survivors are scored, by :meth:`_Batch.score` (which mirrors ``score._score`` and hands an AND
   with two scoring children to the scalar ``_score_and`` for its proximity bonus).

Explanations are not built here: :meth:`QueryIndex.explain` evaluates the one query on the one paper
when a match is stored or shown. tests/test_match_index.py proves the result equals brute force.

Private to :mod:`digest.match.index`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from digest.match.document import Document
from digest.match.query import And, MetaClause, Node, Not, Or, TextClause, TEXT_FIELDS, Word
from digest.match.score import (FIELD_WEIGHTS, IDF_FLOOR, K1, OR_OTHERS, PHRASE_IDF_FACTOR, PROXIMITY_BONUS,
                                _score_and, bind_document, clause_idf, leaf_result)
from digest.match.stats import IDF_MAX
from digest.match.stats import CorpusStats

__all__ = ["Batch"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
# A clause's result on the batch: papers (ascending) and their scores.
Result = tuple[Ints, Floats]
_FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}
# Margin under a threshold for score bounds and for the rounding to 6 decimals of final scores.
_EPS = 1e-6
_NONE: Result = (np.zeros(0, np.int64), np.zeros(0, np.float64))


class Batch:
    """A batch of documents prepared for evaluating many clauses and plans on it."""

    def __init__(self, docs: Sequence[Document], stats: CorpusStats,
                 expansions: Callable[[Iterable[str], Iterable[str]], dict[Word, dict[str, float]]],
                 pairs: frozenset[str] = frozenset()) -> None:
        self.docs = docs
        self.stats = stats
        self.universe = frozenset(range(len(docs)))
        key_ids: dict[str, int] = {}
        row_key: list[int] = []
        row_paper: list[int] = []
        row_counts: list[tuple[int, int, int, int]] = []
        forms: set[str] = set()
        for i, doc in enumerate(docs):
            for key, counts in doc.key_counts.items():
                kid = key_ids.setdefault(key, len(key_ids))
                row_key.append(kid)
                row_paper.append(i)
                row_counts.append(counts)
            for pair in doc.pair_counts.keys() & pairs:
                row_key.append(key_ids.setdefault(pair, len(key_ids)))
                row_paper.append(i)
                row_counts.append(doc.pair_counts[pair])  # type: ignore[arg-type]
            forms.update(doc.vocab_forms)
        self.key_ids = key_ids
        keys = np.array(row_key, np.int64)
        order = np.argsort(keys, kind="stable")  # stable: papers stay ascending within a key
        self.paper = np.array(row_paper, np.int64)[order]
        self.counts = np.array(row_counts, np.int64).reshape(-1, 4)[order]
        self.offsets = np.searchsorted(keys[order], np.arange(len(key_ids) + 1))
        idf = np.array([clause_idf(stats, k) if " " not in k else 0.0 for k in key_ids], np.float64)
        self.idf = idf[keys[order]] if len(keys) else np.zeros(0, np.float64)
        #: every fuzzy or prefix word of the index -> batch keys (forms, for prefixes) it accepts
        self.expansions = expansions(key_ids, forms)
        self._x: dict[tuple[str, ...], Floats] = {}
        self._scores: dict[tuple[str, ...], Floats] = {}
        self._results: dict[int, Result] = {}
        self._filters: dict[int, bool] = {}
        self._sets: dict[tuple[int, float | None], frozenset[int]] = {}
        self._dicts: dict[int, dict[int, float]] = {}
        self._bound: set[int] = set()
        self._form_papers: dict[str, list[int]] | None = None
        self._meta_papers: dict[Any, list[int]] | None = None

    # --- clause results ---------------------------------------------------------------------------

    def _rows(self, key: str) -> slice | None:
        kid = self.key_ids.get(key)
        return None if kid is None else slice(int(self.offsets[kid]), int(self.offsets[kid + 1]))

    def _field_x(self, fields: tuple[str, ...]) -> Floats:
        """Weighted hit counts of every row in ``fields``, summed in ``fields`` order (as score.py does)."""
        x = self._x.get(fields)
        if x is None:
            x = np.zeros(len(self.paper), np.float64)
            for name in fields:
                x = x + FIELD_WEIGHTS[name] * self.counts[:, _FIELD_INDEX[name]]
            self._x[fields] = x
            self._scores[fields] = self.idf * x * (K1 + 1) / (x + K1)
        return x

    def result(self, leaf: TextClause | MetaClause) -> Result:
        """Papers where ``leaf`` matches and its score there."""
        found = self._results.get(id(leaf))
        if found is None:
            found = self._results[id(leaf)] = self._evaluate(leaf)
        return found

    def is_filter(self, leaf: TextClause | MetaClause) -> bool:
        return self._filters.get(id(leaf), False)

    def _evaluate(self, leaf: TextClause | MetaClause) -> Result:
        if isinstance(leaf, MetaClause):
            return self._scalar(leaf, self._meta_candidates(leaf))
        if len(leaf.words) > 1:
            if len(leaf.words) == 2 and not any(w.dist or w.prefix for w in leaf.words):
                return self._phrase2(leaf)
            return self._scalar(leaf, self._phrase_candidates(leaf))
        word = leaf.words[0]
        if word.prefix:
            return self._scalar(leaf, self._prefix_candidates(word))
        if not word.dist:
            return self._exact(word.key, leaf.fields)
        return self._fuzzy(leaf, word)

    def _exact(self, key: str, fields: tuple[str, ...]) -> Result:
        rows = self._rows(key)
        if rows is None:
            return _NONE
        x = self._field_x(fields)[rows]
        scores = self._scores[fields][rows]
        papers = self.paper[rows]
        if len(fields) < len(TEXT_FIELDS):
            hit = x > 0
            return papers[hit], scores[hit]
        return papers, scores

    def _phrase2(self, leaf: TextClause) -> Result:
        """Two exact words: hits are the starts of the pair plus the single tokens of the joined
        word, each of quality 1 (score._phrase_hits); the idf is the phrase's, as in score._eval_text."""
        a, b = leaf.words
        pair = self._rows(f"{a.key} {b.key}")
        join = self._rows(leaf.joins[0] + " ") if leaf.joins[0] else None
        if pair is None and join is None:
            return _NONE
        parts = [r for r in (pair, join) if r is not None]
        papers = np.concatenate([self.paper[r] for r in parts])
        counts = np.concatenate([self.counts[r] for r in parts])
        if len(parts) == 2:
            unique, inverse = np.unique(papers, return_inverse=True)
            summed = np.zeros((len(unique), 4), np.int64)
            np.add.at(summed, inverse, counts)
            # a paper with both in one field might hold a token that is both (never seen): score it alone
            both = np.zeros(len(unique), np.int64)
            np.add.at(both, inverse, 1)
            papers, counts = unique, summed
        x = np.zeros(len(papers), np.float64)
        for name in leaf.fields:
            x = x + FIELD_WEIGHTS[name] * counts[:, _FIELD_INDEX[name]]
        idf = max(IDF_FLOOR, min(IDF_MAX, PHRASE_IDF_FACTOR * sum([self.stats.idf(a.key), self.stats.idf(b.key)])))
        hit = x > 0
        if len(parts) == 2:
            hit &= both == 1
            found = dict(zip(papers[hit].tolist(), (idf * x[hit] * (K1 + 1) / (x[hit] + K1)).tolist()))
            found.update(self._scalar_dict(leaf, papers[both > 1].tolist()))
            return _from_dict(found)
        x = x[hit]
        return papers[hit], idf * x * (K1 + 1) / (x + K1)

    def _fuzzy(self, leaf: TextClause, word: Word) -> Result:
        """A fuzzy word: vectorised where one accepted key occurs in a paper, scalar where several do."""
        parts: list[Result] = []
        for key, sim in self.expansions.get(word, {}).items():
            if sim == 1.0:
                parts.append(self._exact(key, leaf.fields))
                continue
            rows = self._rows(key)
            assert rows is not None
            x = np.zeros(rows.stop - rows.start, np.float64)
            for name in leaf.fields:
                counts = self.counts[rows, _FIELD_INDEX[name]]
                quality = np.zeros(len(counts), np.float64)  # sum(h.quality ...) of score.py, term by term
                for n in range(int(counts.max(initial=0))):
                    quality = quality + np.where(counts > n, sim, 0.0)
                x = x + FIELD_WEIGHTS[name] * quality
            hit = x > 0
            x = x[hit]
            parts.append((self.paper[rows][hit], clause_idf(self.stats, key) * x * (K1 + 1) / (x + K1)))
        if not parts:
            return _NONE
        if len(parts) == 1:
            return parts[0]
        papers = np.concatenate([p for p, _ in parts])
        scores = np.concatenate([s for _, s in parts])
        unique, first, seen = np.unique(papers, return_index=True, return_counts=True)
        single = seen == 1
        merged = dict(zip(unique[single].tolist(), scores[first[single]].tolist()))
        merged.update(self._scalar_dict(leaf, unique[~single].tolist()))
        return _from_dict(merged)

    def _scalar_dict(self, leaf: TextClause | MetaClause, papers: Iterable[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        words = leaf.words if isinstance(leaf, TextClause) else ()
        for p in papers:
            doc = self.docs[p]
            if p not in self._bound:
                bind_document(doc, self.stats)
                self._bound.add(p)
            self._preset(doc, words)
            res = leaf_result(leaf, doc, self.stats)
            if res is not None:
                out[p] = res.score
                self._filters[id(leaf)] = res.filter
        return out

    def _scalar(self, leaf: TextClause | MetaClause, papers: Iterable[int]) -> Result:
        return _from_dict(self._scalar_dict(leaf, sorted(papers)))

    def _key_papers(self, keys: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for key in keys:
            rows = self._rows(key)
            if rows is not None:
                out.update(self.paper[rows].tolist())
        return out

    def _phrase_candidates(self, leaf: TextClause) -> set[int]:
        """Papers holding every word of the phrase (or a joined token standing in for it); for two
        words, papers where they are adjacent, joined, or one of them is a joined term."""
        found: set[int] | None = None
        for r, word in enumerate(leaf.words):
            if word.prefix:
                papers = self._prefix_candidates(word)
            else:
                papers = self._key_papers(self.expansions.get(word, {}) if word.dist else (word.key,))
            joins = [j for j in (leaf.joins[r - 1] if r else None,
                                 leaf.joins[r] if r < len(leaf.joins) else None) if j]
            papers |= self._key_papers(joins)
            found = papers if found is None else found & papers
            if not found:
                return set()
        if found and len(leaf.words) == 2 and not any(w.prefix for w in leaf.words):
            # two words meet only where adjacent (document.pair_counts) or written as one token
            first, second = (list(self.expansions.get(w, {})) if w.dist else [w.key] for w in leaf.words)
            pairs = [f"{a} {b}" for a in first for b in second]
            join = leaf.joins[0]
            found = {p for p in found if (join and join in self.docs[p].key_counts)
                     or any(pair in self.docs[p].pair_counts for pair in pairs)}
        return found or set()

    def _prefix_candidates(self, word: Word) -> set[int]:
        if self._form_papers is None:
            self._form_papers = {}
            for i, doc in enumerate(self.docs):
                for form in doc.vocab_forms:
                    self._form_papers.setdefault(form, []).append(i)
        return {p for form in self.expansions.get(word, {}) for p in self._form_papers.get(form, ())}

    def _meta_candidates(self, leaf: MetaClause) -> Iterable[int]:
        if leaf.field != "authors":
            return range(len(self.docs))
        if self._meta_papers is None:
            self._meta_papers = {}
            for i, doc in enumerate(self.docs):
                for a in doc.authors:
                    for w in a.surname.split():
                        self._meta_papers.setdefault(w, []).append(i)
        return set(self._meta_papers.get(leaf.value.split()[-1], ()))

    # --- plans ------------------------------------------------------------------------------------

    def leaf_set(self, leaf: TextClause | MetaClause, floor: float | None) -> frozenset[int]:
        """Papers where ``leaf`` matches with a score of at least ``floor`` (None: at all)."""
        cache_key = (id(leaf), floor)
        found = self._sets.get(cache_key)
        if found is None:
            papers, scores = self.result(leaf)
            found = frozenset((papers if floor is None else papers[scores >= floor]).tolist())
            self._sets[cache_key] = found
        return found

    def candidates(self, node: Node, floor: float | None) -> frozenset[int]:
        """A superset of the papers where ``node`` matches with a score of at least ``floor``."""
        if isinstance(node, (TextClause, MetaClause)):
            return self.leaf_set(node, floor)
        if isinstance(node, Not):
            if floor is not None and floor > 0:
                return frozenset()
            return self.universe - self.candidates(node.child, None)
        if isinstance(node, Or):
            # best + OR_OTHERS * rest <= (1 + OR_OTHERS (k - 1)) * best
            child_floor = None if floor is None else floor / (1 + OR_OTHERS * (len(node.children) - 1)) - _EPS
            out: frozenset[int] = frozenset()
            for c in node.children:
                out |= self.candidates(c, child_floor)
            return out
        positive = [c for c in node.children if not isinstance(c, Not)]
        if not positive:
            found = self.universe if floor is None or floor <= 0 else frozenset()
        else:
            sets = sorted((self.candidates(c, None) for c in positive), key=len)
            found = sets[0]
            for s in sets[1:]:
                if not found:
                    return found
                found = found & s
            if floor is not None and found:
                # the mean of the scoring children, times a proximity bonus of at most 1 + PROXIMITY_BONUS
                bound = floor if len(positive) == 1 else floor / (1 + PROXIMITY_BONUS) - _EPS
                high: frozenset[int] = frozenset()
                for c in positive:
                    high |= self.candidates(c, bound)
                found = found & high
        for c in node.children:
            if isinstance(c, Not) and found:
                found = found - self.candidates(c.child, None)
        return found

    def _dict(self, leaf: TextClause | MetaClause) -> dict[int, float]:
        found = self._dicts.get(id(leaf))
        if found is None:
            papers, scores = self.result(leaf)
            found = self._dicts[id(leaf)] = dict(zip(papers.tolist(), scores.tolist()))
        return found

    def score(self, node: Node, p: int) -> tuple[float, bool] | None:
        """(score, is a filter) of ``node`` on paper ``p``: score._score on the batch's clause results."""
        if isinstance(node, (TextClause, MetaClause)):
            s = self._dict(node).get(p)
            return None if s is None else (s, self.is_filter(node))
        if isinstance(node, And):
            found: list[tuple[float, bool]] = []
            for child in node.children:
                if not isinstance(child, Not):
                    r = self.score(child, p)
                    if r is None:
                        return None
                    found.append(r)
            for child in node.children:
                if isinstance(child, Not) and self.score(child.child, p) is not None:
                    return None
            if not found:
                return 0.0, True
            scoring = [i for i, r in enumerate(found) if not r[1]] or list(range(len(found)))
            if len(scoring) > 1:  # the proximity bonus needs positions: the scalar evaluator
                return self._scalar_and(node, p)
            return sum(found[i][0] for i in scoring) / len(scoring), all(r[1] for r in found)
        if isinstance(node, Or):
            hits = [r for c in node.children if (r := self.score(c, p)) is not None]
            if not hits:
                return None
            if len(hits) == 1:
                return hits[0]
            scores = sorted((r[0] for r in hits), reverse=True)
            return scores[0] + OR_OTHERS * sum(scores[1:]), all(r[1] for r in hits)
        return None if self.score(node.child, p) is not None else (0.0, True)

    def _scalar_and(self, node: And, p: int) -> tuple[float, bool] | None:
        doc = self.docs[p]
        if p not in self._bound:
            bind_document(doc, self.stats)
            self._bound.add(p)
        self._preset(doc, _words_of(node))
        return _score_and(node, doc, self.stats)

    def _preset(self, doc: Document, words: Iterable[Word]) -> None:
        """Give ``doc`` the batch's expansions of ``words`` (restricted to its own vocabulary)."""
        for w in words:
            if (w.dist or w.prefix) and not doc.has_expansion(w):
                found = self.expansions.get(w, {})
                vocab = doc.vocab_forms if w.prefix else doc.vocab_keys
                keys = found.keys() & vocab if len(found) < len(vocab) else vocab & found.keys()
                doc.set_expansion(w, {k: found[k] for k in keys})


def _from_dict(found: dict[int, float]) -> Result:
    if not found:
        return _NONE
    papers = sorted(found)
    return np.array(papers, np.int64), np.array([found[p] for p in papers], np.float64)


def _words_of(node: Node) -> list[Word]:
    if isinstance(node, TextClause):
        return list(node.words)
    if isinstance(node, MetaClause):
        return []
    if isinstance(node, Not):
        return _words_of(node.child)
    return [w for c in node.children for w in _words_of(c)]
