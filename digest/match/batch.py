"""A batch of papers prepared for matching many clauses at once (:meth:`QueryIndex.match_batch`).

Per batch, not per (query, paper) pair:

1. an inverted index of the batch: every term key -> the papers holding it and their per-field
   counts, in flat numpy arrays (rows sorted by key, then paper), plus the pair keys ("a b": a
   term keyed a followed by one keyed b) that the index's phrases look up, and the same for the
   surface forms that prefix words accept (:attr:`Batch.forms`);
2. the expansions of the index's fuzzy and prefix words against the batch's vocabulary, once;
3. the clauses that need more than counts -- phrases of three or more words or with a prefix
   word, structured clauses, and the (clause, paper) pairs that :mod:`digest.match.clauses`
   leaves to it -- scored on their candidate papers, exact phrases off the token sequences, the
   rest by the scalar :func:`~digest.match.score.leaf_result` (so the result is the scorer's own).

Words and two-word phrases are scored in bulk from these arrays by :mod:`digest.match.clauses`;
plans by :mod:`digest.match.plans`. tests/test_match_index.py proves the result equals brute force.

Private to :mod:`digest.match`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from digest.match.document import Document
from digest.match.ranges import ranges
from digest.match.query import MetaClause, TextClause, TEXT_FIELDS, Word
from digest.match.score import (FIELD_WEIGHTS, IDF_FLOOR, K1, PHRASE_IDF_FACTOR, author_forms, bind_document, leaf_result)
from digest.match.stats import IDF_MAX
from digest.match.stats import CorpusStats

__all__ = ["Batch", "FormTable", "FIELD_INDEX", "HIT_FIELD"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
# A clause's result on the batch: papers (ascending) and their scores.
Result = tuple[Ints, Floats]
#: A text field's column in the per-field counts.
FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}
_NONE: Result = (np.zeros(0, np.int64), np.zeros(0, np.float64))
#: A hit's field and token position packed in one int: ``field index * HIT_FIELD + position``.
HIT_FIELD = 1 << 32


class FormTable(NamedTuple):
    """Per surface form that a prefix word accepts in a batch, its (paper, per-field hit counts,
    rank of its key among the forms' keys) rows, papers ascending within a form (a form's key is
    ``stem(form)``)."""

    ids: dict[str, int]  # form -> id
    offsets: Ints  # the rows of form id f: offsets[f]:offsets[f + 1]
    paper: Ints
    counts: Ints
    rank: Ints
    rank_idf: Floats  # the clause idf of each ranked key


class Batch:
    """A batch of documents prepared for evaluating many clauses and plans on it."""

    def __init__(self, docs: Sequence[Document], stats: CorpusStats,
                 expansions: Callable[[Iterable[str], Iterable[str]], dict[Word, dict[str, float]]],
                 pairs: frozenset[str] = frozenset(), fuzzy_phrases: Iterable[TextClause] = ()) -> None:
        self.docs = docs
        self.stats = stats
        key_ids = _Ids()
        row_key: list[int] = []
        row_counts: list[tuple[int, int, int, int] | list[int]] = []
        per_paper = np.zeros((2, len(docs)), np.int64)  # rows of each paper: word keys, pair keys
        forms: set[str] = set()
        # C-level passes over each document's dicts (key ids come from _Ids.__missing__ for new keys)
        for i, doc in enumerate(docs):
            row_key += map(key_ids.__getitem__, doc.key_counts)
            row_counts += doc.key_counts.values()
            per_paper[0, i] = len(doc.key_counts)
            forms.update(doc.vocab_forms)
        vocab = list(key_ids)  # the document keys: the pair keys below are no words
        #: word keys have the ids below this (pair keys the others), so their rows come first
        self.word_keys = len(vocab)
        #: every fuzzy or prefix word of the index -> batch keys (forms, for prefixes) it accepts
        # only document keys: the pair keys below ("trad off") are no words a fuzzy word may accept
        self.expansions = expansions(vocab, forms)
        # two-word phrases with a fuzzy word also look up the pairs of the keys the words accept
        variants = {f"{a} {b}" for leaf in fuzzy_phrases
                    for a in (self.expansions.get(leaf.words[0], ()) if leaf.words[0].dist else (leaf.words[0].key,))
                    for b in (self.expansions.get(leaf.words[1], ()) if leaf.words[1].dist else (leaf.words[1].key,))}
        if variants:
            pairs = pairs | variants
        for i, doc in enumerate(docs):
            # frozenset.intersection(dict) walks the dict; `dict.keys() & big_set` would copy the set
            found = pairs.intersection(doc.pair_counts)
            row_key += map(key_ids.__getitem__, found)
            row_counts += map(doc.pair_counts.__getitem__, found)
            per_paper[1, i] = len(found)
        self.key_ids: dict[str, int] = key_ids
        keys = np.array(row_key, np.int64)
        order = np.argsort(keys, kind="stable")  # stable: papers stay ascending within a key
        papers = np.arange(len(docs), dtype=np.int64)
        self.paper = np.concatenate([np.repeat(papers, per_paper[0]), np.repeat(papers, per_paper[1])])[order]
        self.counts = np.fromiter(chain.from_iterable(row_counts), np.int64, 4 * len(row_counts)).reshape(-1, 4)[order]
        self.offsets = np.searchsorted(keys[order], np.arange(len(key_ids) + 1))
        raw_idf = stats.idf_many(vocab)
        self._raw_idf: list[float] = raw_idf.tolist()
        idf = np.concatenate([np.maximum(IDF_FLOOR, raw_idf), np.zeros(len(key_ids) - len(vocab))])
        #: per key id: the clause idf of a word key (score.clause_idf), 0.0 for the pair keys
        self.key_idf: list[float] = idf.tolist()
        #: the keys by id
        self.key_names: list[str] = list(key_ids)
        #: token positions (digest.match.positions.Positions.of), built when first needed
        self.positions: object | None = None
        self._x: dict[tuple[str, ...], Floats] = {}
        self._results: dict[int, Result] = {}
        self._filters: dict[int, bool] = {}
        self._bound: set[int] = set()
        self._forms: FormTable | None = None
        self._meta_papers: dict[Any, list[int]] | None = None

    # --- clause results ---------------------------------------------------------------------------

    def _rows(self, key: str) -> slice | None:
        kid = self.key_ids.get(key)
        return None if kid is None else slice(int(self.offsets[kid]), int(self.offsets[kid + 1]))

    def field_x(self, fields: tuple[str, ...]) -> Floats:
        """Every row's hit counts weighted and summed over ``fields``, in their order (score.py's x)."""
        x = self._x.get(fields)
        if x is None:
            x = np.zeros(len(self.paper), np.float64)
            for name in fields:
                x = x + FIELD_WEIGHTS[name] * self.counts[:, FIELD_INDEX[name]]
            self._x[fields] = x
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
        assert len(leaf.words) > 1, "words are scored in bulk (digest.match.clauses)"
        if not any(w.prefix or self.inexact(w) or w.acronym for w in leaf.words):
            return self._phrase_exact(leaf, self._phrase_candidates(leaf))
        return self._scalar(leaf, self._phrase_candidates(leaf))

    def word_idf(self, key: str) -> float:
        """``stats.idf(key)``, read off the batch's table for its own keys."""
        kid = self.key_ids.get(key)
        return self._raw_idf[kid] if kid is not None and kid < self.word_keys else self.stats.idf(key)

    def inexact(self, word: Word) -> bool:
        """A fuzzy word that accepts, in this batch, some key other than its own (else it is exact here)."""
        return bool(word.dist) and any(k != word.key for k in self.expansions.get(word, ()))

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
        found.update(self.scalar_scores(leaf, odd))
        return _from_dict(found)

    def key_rows(self, kids: Ints) -> tuple[Ints, Ints]:
        """(index into ``kids``, row) of every row of the keys ``kids``."""
        at, owner = ranges(self.offsets[kids], self.offsets[kids + 1] - self.offsets[kids])
        return owner, at

    def form_rows(self, fids: Ints) -> tuple[Ints, Ints]:
        """(index into ``fids``, row of :attr:`forms`) of every row of the forms ``fids``."""
        offsets = self.forms.offsets
        at, owner = ranges(offsets[fids], offsets[fids + 1] - offsets[fids])
        return owner, at

    def _form_rows(self, word: Word) -> Ints:
        """Rows of :attr:`forms` for the forms the prefix ``word`` accepts."""
        ids = self.forms.ids
        found = [f for form in self.expansions.get(word, ()) if (f := ids.get(form)) is not None]
        return self.form_rows(np.array(found, np.int64))[1]

    @property
    def forms(self) -> FormTable:
        """The table of the surface forms that prefix words accept, made on first use."""
        if self._forms is None:
            wanted = {f for w, found in self.expansions.items() if w.prefix for f in found}
            forms = list(wanted)
            form_ids = {form: fid for fid, form in enumerate(forms)}
            fid_rows: list[int] = []
            count_rows: list[int] = []
            chunks: list[tuple[int, int, int]] = []  # (paper, field, rows) of each field's run of rows
            key_of = [""] * len(forms)  # a form's key, read off the first of its terms met
            unseen = set(wanted)
            for i, doc in enumerate(self.docs):
                for fi, ft in enumerate(doc.fields.values()):
                    postings = ft.form_postings
                    found = postings.keys() & wanted if postings else None  # walks the smaller side
                    if found:
                        # C-level passes over one set (same order twice): no Python step per row
                        fid_rows += map(form_ids.__getitem__, found)
                        count_rows += map(len, map(postings.__getitem__, found))
                        chunks.append((i, fi, len(found)))
                        new = found & unseen
                        if new:
                            unseen -= new
                            for form in new:
                                key_of[form_ids[form]] = postings[form][0].key
            runs = np.array(chunks, np.int64).reshape(-1, 3)
            paper_rows = np.repeat(runs[:, 0], runs[:, 2])
            # one row per (form, paper), papers ascending within a form, with its count in each field
            n = len(self.docs)
            cells, row_of = np.unique(np.array(fid_rows, np.int64) * n + paper_rows, return_inverse=True)
            counts = np.zeros((len(cells), len(TEXT_FIELDS)), np.int64)
            counts[row_of, np.repeat(runs[:, 1], runs[:, 2])] = count_rows
            keys = sorted(set(key_of))
            rank = {k: r for r, k in enumerate(keys)}
            form_rank = np.array([rank[k] for k in key_of], np.int64)
            offsets = np.searchsorted(cells, np.arange(len(form_ids) + 1, dtype=np.int64) * n)
            idf = np.array([self.key_idf[self.key_ids[k]] for k in keys], np.float64)  # forms' keys are batch keys
            self._forms = FormTable(form_ids, offsets, cells % n, counts, form_rank[cells // n], idf)
        return self._forms

    def scalar_scores(self, leaf: TextClause | MetaClause, papers: Iterable[int]) -> dict[int, float]:
        """Paper -> score of ``leaf`` by the scalar scorer, for those of ``papers`` where it matches."""
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
        return _from_dict(self.scalar_scores(leaf, sorted(papers)))

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
        if within is None and not any(w.prefix or self.inexact(w) for w in leaf.words):
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
        return set(self.forms.paper[self._form_rows(word)].tolist())

    def _meta_candidates(self, leaf: MetaClause) -> Iterable[int]:
        if leaf.field != "authors":
            return range(len(self.docs))
        if self._meta_papers is None:
            self._meta_papers = {}
            for i, doc in enumerate(self.docs):
                for a in doc.authors:
                    for form in a.forms:
                        self._meta_papers.setdefault(form, []).append(i)
        return {i for form in author_forms(leaf) for i in self._meta_papers.get(form, ())}

    # --- positions, for the proximity bonus -----------------------------------------------------

    def hit_positions(self, leaf: TextClause | MetaClause, p: int) -> list[int]:
        """Every hit of ``leaf`` (matched) on paper ``p`` as ``field index * HIT_FIELD + token
        position``, as score._positions reads them; none for structured clauses. For phrases and
        prefix words: one-word clauses read theirs in bulk (digest.match.positions)."""
        if isinstance(leaf, MetaClause):
            return []
        doc = self.docs[p]
        out: list[int] = []
        words = leaf.words
        if len(words) == 2 and not any(w.dist or w.prefix or w.acronym for w in words):
            # two exact words (score._phrase_at): a term keyed a at s, of width w, and one keyed b at
            # s + w; or the joined word written as one token at s
            a, b = words[0].key, words[1].key
            for name in leaf.fields:
                ft = doc.fields[name]
                base = FIELD_INDEX[name] * HIT_FIELD
                after = {t.pos for t in ft.postings.get(b, ())}
                starts = {t.pos for t in ft.postings.get(a, ()) if t.pos + t.width in after}
                if leaf.joins[0]:
                    starts.update(t.pos for t in ft.postings.get(leaf.joins[0], ()) if t.width == 1)
                out += [base + s for s in starts]
            return out
        if p not in self._bound:
            bind_document(doc, self.stats)
            self._bound.add(p)
        self._preset(doc, leaf.words)
        res = leaf_result(leaf, doc, self.stats)
        assert res is not None, f"{leaf.text!r} does not match {doc.paper_id}"
        for name, hits, _ in res.fields:
            base = FIELD_INDEX[name] * HIT_FIELD
            out += [base + h.pos for h in hits]
        return out

    def _preset(self, doc: Document, words: Iterable[Word]) -> None:
        """Give ``doc`` the batch's expansions of ``words`` (restricted to its own vocabulary)."""
        for w in words:
            if (w.dist or w.prefix) and not doc.has_expansion(w):
                found = self.expansions.get(w, {})
                vocab = doc.vocab_forms if w.prefix else doc.vocab_keys
                # walk the smaller side (a view's `&` would copy the other operand into a set)
                keys = vocab.intersection(found) if len(found) < len(vocab) else [k for k in vocab if k in found]
                doc.set_expansion(w, {k: found[k] for k in keys})


class _Ids(dict[str, int]):
    """Key -> id, ids given in order of first lookup."""

    def __missing__(self, key: str) -> int:
        self[key] = found = len(self)
        return found


def _from_dict(found: dict[int, float]) -> Result:
    if not found:
        return _NONE
    papers = sorted(found)
    return np.array(papers, np.int64), np.array([found[p] for p in papers], np.float64)
