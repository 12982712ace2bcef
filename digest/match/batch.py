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
from digest.match.query import MetaClause, Node, Not, TextClause, TEXT_FIELDS, Word
from digest.match.score import (FIELD_WEIGHTS, IDF_FLOOR, K1, PHRASE_IDF_FACTOR, bind_document, clause_idf, leaf_result)
from digest.match.stats import IDF_MAX
from digest.match.stats import CorpusStats

__all__ = ["Batch"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
# A clause's result on the batch: papers (ascending) and their scores.
Result = tuple[Ints, Floats]
_FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}
_NONE: Result = (np.zeros(0, np.int64), np.zeros(0, np.float64))


class Batch:
    """A batch of documents prepared for evaluating many clauses and plans on it."""

    def __init__(self, docs: Sequence[Document], stats: CorpusStats,
                 expansions: Callable[[Iterable[str], Iterable[str]], dict[Word, dict[str, float]]],
                 pairs: frozenset[str] = frozenset()) -> None:
        self.docs = docs
        self.stats = stats
        key_ids: dict[str, int] = {}
        row_key: list[int] = []
        row_paper: list[int] = []
        row_counts: list[tuple[int, int, int, int]] = []
        forms: set[str] = set()
        vocab: set[str] = set()
        for i, doc in enumerate(docs):
            for key, counts in doc.key_counts.items():
                kid = key_ids.setdefault(key, len(key_ids))
                row_key.append(kid)
                row_paper.append(i)
                row_counts.append(counts)
            # frozenset.intersection(dict) walks the dict; `dict.keys() & big_set` would copy the set
            for pair in pairs.intersection(doc.pair_counts):
                row_key.append(key_ids.setdefault(pair, len(key_ids)))
                row_paper.append(i)
                row_counts.append(doc.pair_counts[pair])  # type: ignore[arg-type]
            forms.update(doc.vocab_forms)
            vocab.update(doc.vocab_keys)
        self.key_ids = key_ids
        keys = np.array(row_key, np.int64)
        order = np.argsort(keys, kind="stable")  # stable: papers stay ascending within a key
        self.paper = np.array(row_paper, np.int64)[order]
        self.counts = np.array(row_counts, np.int64).reshape(-1, 4)[order]
        self.offsets = np.searchsorted(keys[order], np.arange(len(key_ids) + 1))
        idf = np.array([clause_idf(stats, k) if " " not in k else 0.0 for k in key_ids], np.float64)
        self.idf = idf[keys[order]] if len(keys) else np.zeros(0, np.float64)
        #: every fuzzy or prefix word of the index -> batch keys (forms, for prefixes) it accepts
        # only document keys: the pair keys above ("trad off") are no words a fuzzy word may accept
        self.expansions = expansions(vocab, forms)
        self._x: dict[tuple[str, ...], Floats] = {}
        self._scores: dict[tuple[str, ...], Floats] = {}
        self._results: dict[int, Result] = {}
        self._filters: dict[int, bool] = {}
        self._bound: set[int] = set()
        self._forms: tuple[dict[str, int], Ints, Ints, Ints, Ints, Floats] | None = None
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
            if len(leaf.words) == 2 and not any(w.prefix for w in leaf.words):
                return self._phrase2_fuzzy(leaf)
            if not any(w.prefix or self._inexact(w) or w.acronym for w in leaf.words):
                return self._phrase_exact(leaf, self._phrase_candidates(leaf))
            return self._scalar(leaf, self._phrase_candidates(leaf))
        word = leaf.words[0]
        if word.prefix:
            return self._prefix(word, leaf.fields)
        if not word.dist:
            return self._exact(word.key, leaf.fields)
        return self._fuzzy(leaf, word)

    def _inexact(self, word: Word) -> bool:
        """A fuzzy word that accepts, in this batch, some key other than its own (else it is exact here)."""
        return bool(word.dist) and any(k != word.key for k in self.expansions.get(word, ()))

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

    def _phrase2_fuzzy(self, leaf: TextClause) -> Result:
        """Two words, fuzzy or not: on papers holding no variant (an accepted key other than the
        word's own) the words are exact and the vectorised phrase applies; the others are scored
        one by one."""
        variants = [k for w in leaf.words if w.dist for k in self.expansions.get(w, ()) if k != w.key]
        if not variants:
            return self._phrase2(leaf)
        odd = self._key_papers(variants)
        papers, scores = self._phrase2(leaf)
        keep = ~np.isin(papers, np.fromiter(odd, np.int64, len(odd)))
        found = dict(zip(papers[keep].tolist(), scores[keep].tolist()))
        found.update(self._scalar_dict(leaf, sorted(self._phrase_candidates(leaf, odd))))
        return _from_dict(found)

    def _phrase_exact(self, leaf: TextClause, papers: set[int]) -> Result:
        """A phrase of exact words, read off each candidate's token sequence: its hits are the
        positions where the words follow one another, each of quality 1 (n words of similarity 1,
        over n). Papers where a joined token could stand in for words, or where a word is itself
        a joined pair of tokens, take the scalar path (score._phrase_at's other branches)."""
        keys = [w.key for w in leaf.words]
        joins = [j for j in leaf.joins if j]
        n = len(keys)
        idf = max(IDF_FLOOR, min(IDF_MAX, PHRASE_IDF_FACTOR * sum(self.stats.idf(k) for k in keys)))
        found: dict[int, float] = {}
        odd: list[int] = []
        for p in sorted(papers):
            doc = self.docs[p]
            if any(j + " " in doc.pair_counts for j in joins):  # a joined word written as one token
                odd.append(p)
                continue
            x = 0.0
            for name in leaf.fields:
                ft = doc.fields[name]
                postings = ft.postings
                # a key's postings list its single tokens first, then its joined pairs (normalize.terms)
                if any((found_k := postings.get(k)) and found_k[-1].width != 1 for k in keys):
                    break
                first = postings.get(keys[0])
                if not first:
                    continue
                seq = ft.seq
                hits = sum(1 for t in first if t.pos + n <= len(seq)
                           and all(seq[t.pos + i].key == keys[i] for i in range(1, n)))
                if hits:
                    x += FIELD_WEIGHTS[name] * hits
            else:
                if x:
                    found[p] = idf * x * (K1 + 1) / (x + K1)
                continue
            odd.append(p)
        found.update(self._scalar_dict(leaf, odd))
        return _from_dict(found)

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
            # sum(h.quality for h in hits) of score.py, added hit by hit: a table per hit count
            counts = self.counts[rows]
            sums = [0.0]
            for _ in range(int(counts.max(initial=0))):
                sums.append(sums[-1] + sim)
            quality = np.array(sums, np.float64)
            x = np.zeros(rows.stop - rows.start, np.float64)
            for name in leaf.fields:
                x = x + FIELD_WEIGHTS[name] * quality[counts[:, _FIELD_INDEX[name]]]
            hit = x > 0
            x = x[hit]
            parts.append((self.paper[rows][hit], clause_idf(self.stats, key) * x * (K1 + 1) / (x + K1)))
        if not parts:
            return _NONE
        if len(parts) == 1:
            return parts[0]
        papers = np.concatenate([p for p, _ in parts])
        scores = np.concatenate([s for _, s in parts])
        order = np.argsort(papers, kind="stable")
        papers, scores = papers[order], scores[order]
        twice = papers[1:] == papers[:-1]
        if not twice.any():
            return papers, scores
        several = np.zeros(len(papers), np.bool_)  # papers where two accepted keys occur: scalar
        several[1:] |= twice
        several[:-1] |= twice
        merged = dict(zip(papers[~several].tolist(), scores[~several].tolist()))
        merged.update(self._scalar_dict(leaf, np.unique(papers[several]).tolist()))
        return _from_dict(merged)

    def _prefix(self, word: Word, fields: tuple[str, ...]) -> Result:
        """A prefix word (score._eval_text on one prefix word): every accepted form counts its hits,
        and the idf is that of the greatest key among the forms hit (score's ``best``)."""
        table = self._form_table()
        at = self._form_rows(word)
        if not len(at):
            return _NONE
        papers, counts, ranks = table[2][at], table[3][at], table[4][at]
        cols = [_FIELD_INDEX[name] for name in fields]
        hit = counts[:, cols].sum(axis=1) > 0
        papers, counts, ranks = papers[hit], counts[hit], ranks[hit]
        if not len(papers):
            return _NONE
        summed = np.zeros((len(self.docs), 4), np.int64)
        np.add.at(summed, papers, counts)
        best = np.full(len(self.docs), -1, np.int64)
        np.maximum.at(best, papers, ranks)
        found = np.flatnonzero(best >= 0)
        x = np.zeros(len(found), np.float64)
        for name in fields:
            x = x + FIELD_WEIGHTS[name] * summed[found, _FIELD_INDEX[name]]
        return found.astype(np.int64), table[5][best[found]] * x * (K1 + 1) / (x + K1)

    def _form_rows(self, word: Word) -> Ints:
        """Rows of the form table for the forms the prefix ``word`` accepts."""
        form_ids, offsets = self._form_table()[:2]
        spans = [np.arange(offsets[f], offsets[f + 1]) for form in self.expansions.get(word, ())
                 if (f := form_ids.get(form)) is not None]
        return np.concatenate(spans) if spans else np.zeros(0, np.int64)

    def _form_table(self) -> tuple[dict[str, int], Ints, Ints, Ints, Ints, Floats]:
        """Per surface form that a prefix word accepts (ascending papers within a form): paper, per-field hit
        counts, and the rank of its key among the forms' keys (a form's key is ``stem(form)``);
        plus the clause idf of each ranked key."""
        if self._forms is None:
            form_ids: dict[str, int] = {}
            key_of: dict[str, str] = {}
            rows: list[tuple[int, int, int, int, int, int]] = []
            wanted = {f for w, found in self.expansions.items() if w.prefix for f in found}
            for i, doc in enumerate(self.docs):
                per_field = [f.form_postings for f in doc.fields.values()]
                for form in doc.vocab_forms.intersection(wanted):  # sets: walks the smaller
                    fid = form_ids.setdefault(form, len(form_ids))
                    found = [p.get(form, ()) for p in per_field]
                    if form not in key_of:
                        key_of[form] = next(t for f in found for t in f).key
                    rows.append((fid, i, *map(len, found)))  # type: ignore[arg-type]
            keys = sorted(set(key_of.values()))
            rank = {k: r for r, k in enumerate(keys)}
            form_rank = np.array([rank[key_of[f]] for f in form_ids], np.int64)
            table = np.array(rows, np.int64).reshape(-1, 6)
            table = table[np.argsort(table[:, 0], kind="stable")]
            offsets = np.searchsorted(table[:, 0], np.arange(len(form_ids) + 1))
            idf = np.array([clause_idf(self.stats, k) for k in keys], np.float64)
            self._forms = (form_ids, offsets, table[:, 1].copy(), table[:, 2:6].copy(), form_rank[table[:, 0]], idf)
        return self._forms

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

    def _phrase_candidates(self, leaf: TextClause, within: set[int] | None = None) -> set[int]:
        """A superset of the papers (of ``within``, when given) where the phrase can match: its
        consecutive words adjacent somewhere, or one of its joined words written as one token."""
        found: set[int] | None = None
        if within is None and not any(w.prefix or self._inexact(w) for w in leaf.words):
            # Consecutive words meet where adjacent (document.pair_counts: "a b" for a term keyed a
            # followed by one keyed b, joined terms included; the batch holds these keys) -- unless
            # a joined token stands in for two of them: papers holding a joined word stay in.
            for a, b in zip(leaf.words, leaf.words[1:]):
                papers = self._key_papers((f"{a.key} {b.key}",))
                found = papers if found is None else found & papers
                if not found:
                    break
            # ("joined ": the joined word as one token, the only way score._phrase_at uses a join)
            return (found or set()) | self._key_papers(j + " " for j in leaf.joins if j)
        found = within
        for r, word in enumerate(leaf.words):  # papers holding every word (or a joined token)
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
        if found and not any(w.prefix for w in leaf.words):
            # as above, with the keys each word accepts in that paper
            accepted = [self.expansions.get(w, {}) if w.dist else {w.key: 1.0} for w in leaf.words]
            joins = [j for j in leaf.joins if j]
            found = {p for p in found if self._adjacent(self.docs[p], accepted, joins)}
        return found or set()

    @staticmethod
    def _adjacent(doc: Document, accepted: list[dict[str, float]], joins: list[str]) -> bool:
        """Whether each pair of consecutive words has accepted keys adjacent in ``doc`` (or a
        joined word is in it): a necessary condition for a phrase match."""
        if any(j + " " in doc.pair_counts for j in joins):  # a joined word written as one token
            return True
        vocab = doc.key_counts
        present = [[k for k in keys if k in vocab] for keys in accepted]
        pairs = doc.pair_counts
        return all(any(f"{a} {b}" in pairs for a in first for b in second)
                   for first, second in zip(present, present[1:]))

    def _prefix_candidates(self, word: Word) -> set[int]:
        return set(self._form_table()[2][self._form_rows(word)].tolist())

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

    # --- positions, for the proximity bonus -----------------------------------------------------

    def hit_positions(self, leaf: TextClause | MetaClause, p: int) -> list[tuple[int, int]]:
        """(field index, token position) of every hit of ``leaf`` (matched) on paper ``p``, as
        score._positions reads them; none for structured clauses."""
        if isinstance(leaf, MetaClause):
            return []
        doc = self.docs[p]
        if len(leaf.words) == 1 and not leaf.words[0].prefix:
            # a word: every posting of the keys it accepts (score._word_hits), read directly
            word = leaf.words[0]
            accepted = self.expansions.get(word, ()) if word.dist else (word.key,)
            out = []
            for name in leaf.fields:
                postings = doc.fields[name].postings
                for key in accepted:
                    for t in postings.get(key, ()):
                        out.append((_FIELD_INDEX[name], t.pos))
            return out
        if p not in self._bound:
            bind_document(doc, self.stats)
            self._bound.add(p)
        self._preset(doc, leaf.words)
        res = leaf_result(leaf, doc, self.stats)
        assert res is not None, f"{leaf.text!r} does not match {doc.paper_id}"
        return [(_FIELD_INDEX[name], h.pos) for name, hits, _ in res.fields for h in hits]

    def _preset(self, doc: Document, words: Iterable[Word]) -> None:
        """Give ``doc`` the batch's expansions of ``words`` (restricted to its own vocabulary)."""
        for w in words:
            if (w.dist or w.prefix) and not doc.has_expansion(w):
                found = self.expansions.get(w, {})
                vocab = doc.vocab_forms if w.prefix else doc.vocab_keys
                # walk the smaller side (a view's `&` would copy the other operand into a set)
                keys = vocab.intersection(found) if len(found) < len(vocab) else [k for k in vocab if k in found]
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
