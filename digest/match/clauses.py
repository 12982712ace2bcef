"""Every distinct clause of a batch's triggered plans, scored on the whole batch in a few array
operations (used by :mod:`digest.match.plans`).

Most clauses are *sums over accepted keys*: a word (exact or fuzzy) hits wherever a key it accepts
occurs, a two-word phrase wherever its pair key ("a b") or its joined word ("ab ") does. Their
results are read off the batch's inverted index (:class:`~digest.match.batch.Batch`) for all such
clauses at once: one *entry* per (clause, accepted key), the entries' rows gathered in one fancy
index, hit qualities summed and weighted per field, and scored by the very expression of
:mod:`digest.match.score` (``idf * x * (K1 + 1) / (x + K1)``, same operands, same order, so the
floats are bit-identical). Prefix words are summed the same way over the forms they accept. A
(clause, paper) that two entries meet -- a fuzzy word with two accepted keys in one paper, a
phrase present both as a pair and as its joined word -- is left to the scalar scorer, as are the
clause kinds that need token positions (longer phrases, fuzzy phrases with near variants) and the
structured ones (:meth:`Batch.result`).

Private to :mod:`digest.match`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import numpy as np
import numpy.typing as npt

from digest.match.batch import Batch
from digest.match.query import MetaClause, TextClause, TEXT_FIELDS
from digest.match.score import FIELD_WEIGHTS, IDF_FLOOR, K1, PHRASE_IDF_FACTOR
from digest.match.stats import IDF_MAX

__all__ = ["clause_table"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Leaf = Union[TextClause, MetaClause]
# (entries' key or form ids) -> (entry index, row) of every row of the batch's key (form) table they cover
RowSource = Callable[[Ints], tuple[Ints, Ints]]
_FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}


class _Entries:
    """(clause uid, batch key id, similarity, idf, fields) per accepted key, as parallel lists."""

    def __init__(self) -> None:
        self.uid: list[int] = []
        self.kid: list[int] = []
        self.sim: list[float] = []
        self.idf: list[float] = []
        self.fields: list[int] = []

    def add(self, uid: int, kid: int, sim: float, idf: float, fields: int) -> None:
        self.uid.append(uid)
        self.kid.append(kid)
        self.sim.append(sim)
        self.idf.append(idf)
        self.fields.append(fields)


def clause_table(batch: Batch, leaves: Sequence[Leaf]) -> tuple[Ints, Floats]:
    """Every leaf's result on the batch as one sorted key array ``uid * papers + paper`` (``uid``:
    the leaf's index in ``leaves``) with the scores: where the clause matches, what it scores."""
    n = len(batch.docs)
    key_ids, key_idf, expansions = batch.key_ids, batch.key_idf, batch.expansions
    fieldsets: dict[tuple[str, ...], int] = {}
    sums, prefixes = _Entries(), _Entries()
    odd, adjacent = _Entries(), _Entries()  # fuzzy phrases: papers with a near variant, adjacency
    keys: list[Ints] = []
    scores: list[Floats] = []
    for uid, leaf in enumerate(leaves):
        if isinstance(leaf, TextClause) and len(leaf.words) <= 2 and not any(w.prefix for w in leaf.words[1:]):
            fs = fieldsets.setdefault(leaf.fields, len(fieldsets))
            words = leaf.words
            first = words[0]
            if len(words) == 1 and first.prefix:
                form_ids = batch.form_ids
                for form in expansions.get(first, ()):
                    fid = form_ids.get(form)
                    if fid is not None:
                        prefixes.add(uid, fid, 1.0, 0.0, fs)
                continue
            if len(words) == 1:
                if not first.dist:
                    kid = key_ids.get(first.key)
                    if kid is not None:
                        sums.add(uid, kid, 1.0, key_idf[kid], fs)
                else:
                    for key, sim in expansions.get(first, {}).items():
                        kid = key_ids[key]
                        sums.add(uid, kid, sim, key_idf[kid], fs)
                continue
            if not first.prefix:
                second = words[1]
                idf = max(IDF_FLOOR, min(IDF_MAX, PHRASE_IDF_FACTOR * sum(
                    [batch.stats.idf(first.key), batch.stats.idf(second.key)])))
                for pair in (f"{first.key} {second.key}", f"{leaf.joins[0]} " if leaf.joins[0] else None):
                    kid = key_ids.get(pair) if pair else None
                    if kid is not None:
                        sums.add(uid, kid, 1.0, idf, fs)
                if batch.inexact(first) or batch.inexact(second):
                    # Where a near variant of a word occurs the phrase is scored one by one (below),
                    # if its words are adjacent there in some accepted form (Batch's variant pairs).
                    accepted = [list(expansions.get(w, ())) if w.dist else [w.key] for w in words]
                    for w, keys_of_w in zip(words, accepted):
                        for key in keys_of_w:
                            if key != w.key:
                                odd.add(uid, key_ids[key], 0.0, 0.0, fs)
                    for a in accepted[0]:
                        for b in accepted[1]:
                            kid = key_ids.get(f"{a} {b}")
                            if kid is not None:
                                adjacent.add(uid, kid, 0.0, 0.0, fs)
                continue
        papers, s = batch.result(leaf)
        keys.append(papers + uid * n)
        scores.append(s)
    fields = sorted(fieldsets, key=fieldsets.__getitem__)
    for entries, rows in ((sums, batch.key_rows), (prefixes, batch.form_rows)):
        if entries.uid:
            k, s = _summed(batch, leaves, entries, rows, fields, prefix=entries is prefixes)
            if entries is sums and odd.uid:
                k, s = _rescore_variants(batch, leaves, k, s, odd, adjacent)
            keys.append(k)
            scores.append(s)
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    all_keys, all_scores = np.concatenate(keys), np.concatenate(scores)
    order = np.argsort(all_keys, kind="stable")
    return all_keys[order], all_scores[order]


def _summed(batch: Batch, leaves: Sequence[Leaf], entries: _Entries,
            rows_of: RowSource, fields: list[tuple[str, ...]], *, prefix: bool) -> tuple[Ints, Floats]:
    """Score the entries' clauses: per (clause, paper), the weighted sum of hit qualities over the
    clause's fields, times the idf (score._eval_text / _eval_exact_word, row-wise)."""
    n = len(batch.docs)
    kid = np.array(entries.kid, np.int64)
    owner, at = rows_of(kid)
    uid = np.array(entries.uid, np.int64)[owner]
    fs = np.array(entries.fields, np.int64)[owner]
    if prefix:
        paper, counts, rank = batch.form_paper[at], batch.form_counts[at], batch.form_rank[at]
        key = uid * n + paper
        # A prefix word sums the hits of every form it accepts (quality 1 each) and takes the idf of
        # the greatest key among the forms hit in its fields (score's ``best``): group by (clause, paper).
        hit = _weighted(counts.astype(np.float64), fs, fields) > 0
        key, counts, rank, fs = key[hit], counts[hit], rank[hit], fs[hit]
        order = np.argsort(key, kind="stable")
        key, counts, rank, fs = key[order], counts[order], rank[order], fs[order]
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.zeros(0, np.int64)
        if not len(starts):
            return key, np.zeros(0, np.float64)
        key, fs = key[starts], fs[starts]
        counts = np.add.reduceat(counts, starts, axis=0)
        idf = batch.rank_idf[np.maximum.reduceat(rank, starts)]
        x = _weighted(counts.astype(np.float64), fs, fields)
        return key, idf * x * (K1 + 1) / (x + K1)
    # x per row: exact hits (similarity 1) read off the batch's per-field-set sums of every row
    sim = np.array(entries.sim, np.float64)[owner]
    x = np.empty(len(at), np.float64)
    for f, names in enumerate(fields):
        mine = np.flatnonzero(fs == f) if len(fields) > 1 else slice(None)
        x[mine] = batch.field_x(names)[at[mine]]
    inexact = np.flatnonzero(sim != 1.0)
    if len(inexact):
        # score.py adds a fuzzy hit's similarity hit by hit: the same additions, in the same order
        c, s = batch.counts[at[inexact]], sim[inexact, None]
        acc = np.zeros(c.shape, np.float64)
        for k in range(1, int(c.max(initial=0)) + 1):
            acc = np.where(c >= k, acc + s, acc)
        x[inexact] = _weighted(acc, fs[inexact], fields)
    key = uid * n + batch.paper[at]
    hit = x > 0
    key, x, idf_rows = key[hit], x[hit], np.array(entries.idf, np.float64)[owner][hit]
    score = idf_rows * x * (K1 + 1) / (x + K1)
    order = np.argsort(key, kind="stable")
    key, score = key[order], score[order]
    twice = key[1:] == key[:-1]
    if not twice.any():
        return key, score
    # Two entries meet one (clause, paper): score it with the scalar scorer (rare).
    several = np.zeros(len(key), np.bool_)
    several[1:] |= twice
    several[:-1] |= twice
    redo = np.unique(key[several])
    extra_keys, extra_scores = [], []
    for u in np.unique(redo // n).tolist():
        papers = (redo[redo // n == u] % n).tolist()
        for p, sc in batch.scalar_scores(leaves[u], papers).items():
            extra_keys.append(u * n + p)
            extra_scores.append(sc)
    key = np.concatenate([key[~several], np.array(extra_keys, np.int64)])
    score = np.concatenate([score[~several], np.array(extra_scores, np.float64)])
    order = np.argsort(key, kind="stable")
    return key[order], score[order]


def _cells(batch: Batch, entries: _Entries) -> Ints:
    """The distinct ``uid * papers + paper`` of the papers holding the entries' keys."""
    owner, at = batch.key_rows(np.array(entries.kid, np.int64))
    return np.unique(np.array(entries.uid, np.int64)[owner] * len(batch.docs) + batch.paper[at])


def _rescore_variants(batch: Batch, leaves: Sequence[Leaf], keys: Ints, scores: Floats,
                      odd: _Entries, adjacent: _Entries) -> tuple[Ints, Floats]:
    """Fuzzy two-word phrases: the exact pair's result stands where no near variant of a word
    occurs; where one does, the scalar scorer decides, on the papers where some accepted form of
    each word follows the other (elsewhere the phrase cannot match)."""
    n = len(batch.docs)
    redo = _cells(batch, odd)
    keep = ~np.isin(keys, redo, assume_unique=True)
    keys, scores = keys[keep], scores[keep]
    redo = np.intersect1d(redo, _cells(batch, adjacent), assume_unique=True)
    extra_keys, extra_scores = [], []
    uids = redo // n
    bounds = np.flatnonzero(np.concatenate([[True], uids[1:] != uids[:-1], [True]])) if len(redo) else np.zeros(1, np.int64)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        u = int(uids[lo])
        for p, sc in batch.scalar_scores(leaves[u], (redo[lo:hi] % n).tolist()).items():
            extra_keys.append(u * n + p)
            extra_scores.append(sc)
    keys = np.concatenate([keys, np.array(extra_keys, np.int64)])
    scores = np.concatenate([scores, np.array(extra_scores, np.float64)])
    order = np.argsort(keys, kind="stable")
    return keys[order], scores[order]


def _weighted(quality: Floats, fs: Ints, fields: list[tuple[str, ...]]) -> Floats:
    """Per row, ``sum(FIELD_WEIGHTS[f] * quality[f])`` over the row's fields, added in field order."""
    x = np.zeros(len(quality), np.float64)
    for f, names in enumerate(fields):
        rows = np.flatnonzero(fs == f) if len(fields) > 1 else np.arange(len(quality))
        xf = np.zeros(len(rows), np.float64)
        for name in names:
            xf = xf + FIELD_WEIGHTS[name] * quality[rows, _FIELD_INDEX[name]]
        x[rows] = xf
    return x

