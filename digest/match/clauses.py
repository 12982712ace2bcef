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
from typing import NamedTuple, Union

import numpy as np
import numpy.typing as npt

from digest.match.batch import FIELD_INDEX, Batch
from digest.match.positions import Positions, is_word
from digest.match.query import MetaClause, TextClause, TEXT_FIELDS
from digest.match.score import FIELD_WEIGHTS, IDF_FLOOR, K1, PHRASE_IDF_FACTOR
from digest.match.stats import IDF_MAX

__all__ = ["clause_table"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Leaf = Union[TextClause, MetaClause]
# (entries' key or form ids) -> (entry index, row) of every row of the batch's key (form) table they cover
RowSource = Callable[[Ints], tuple[Ints, Ints]]


# One entry per (clause, accepted key): (clause uid, batch key or form id, similarity, idf, fields)
Entry = tuple[int, int, float, float, int]


class _Columns(NamedTuple):
    """Entries as arrays, one per field of :data:`Entry`."""

    uid: Ints
    kid: Ints
    sim: Floats
    idf: Floats
    fields: Ints


def _columns(entries: list[Entry]) -> _Columns:
    uid, kid, sim, idf, fields = zip(*entries) if entries else ((),) * 5  # one transposition, in C
    return _Columns(np.array(uid, np.int64), np.array(kid, np.int64), np.array(sim, np.float64),
                    np.array(idf, np.float64), np.array(fields, np.int64))


def clause_table(batch: Batch, leaves: Sequence[Leaf]) -> tuple[Ints, Floats]:
    """Every leaf's result on the batch as one sorted key array ``uid * papers + paper`` (``uid``:
    the leaf's index in ``leaves``) with the scores: where the clause matches, what it scores."""
    n = len(batch.docs)
    key_ids, key_idf, expansions = batch.key_ids, batch.key_idf, batch.expansions
    fieldsets: dict[tuple[str, ...], int] = {}
    sums: list[Entry] = []
    prefixes: list[Entry] = []
    odd: list[Entry] = []  # fuzzy phrases: papers holding a near variant of a word,
    adjacent: list[Entry] = []  # and papers where some accepted forms are adjacent
    keys: list[Ints] = []
    scores: list[Floats] = []
    for uid, leaf in enumerate(leaves):
        if isinstance(leaf, TextClause) and len(leaf.words) <= 2 and not any(w.prefix for w in leaf.words[1:]):
            fs = fieldsets.setdefault(leaf.fields, len(fieldsets))
            words = leaf.words
            first = words[0]
            if len(words) == 1 and first.prefix:
                form_ids = batch.forms.ids
                for form in expansions.get(first, ()):
                    fid = form_ids.get(form)
                    if fid is not None:
                        prefixes.append((uid, fid, 1.0, 0.0, fs))
                continue
            if len(words) == 1:
                if not first.dist:
                    kid = key_ids.get(first.key)
                    if kid is not None:
                        sums.append((uid, kid, 1.0, key_idf[kid], fs))
                else:
                    for key, sim in expansions.get(first, {}).items():
                        kid = key_ids[key]
                        sums.append((uid, kid, sim, key_idf[kid], fs))
                continue
            if not first.prefix:
                second = words[1]
                idf = max(IDF_FLOOR, min(IDF_MAX, PHRASE_IDF_FACTOR * sum(
                    [batch.word_idf(first.key), batch.word_idf(second.key)])))
                for pair in (f"{first.key} {second.key}", f"{leaf.joins[0]} " if leaf.joins[0] else None):
                    kid = key_ids.get(pair) if pair else None
                    if kid is not None:
                        sums.append((uid, kid, 1.0, idf, fs))
                if batch.inexact(first) or batch.inexact(second):
                    # Where a near variant of a word occurs the phrase is scored one by one (below),
                    # if its words are adjacent there in some accepted form (Batch's variant pairs).
                    accepted = [list(expansions.get(w, ())) if w.dist else [w.key] for w in words]
                    for w, keys_of_w in zip(words, accepted):
                        for key in keys_of_w:
                            if key != w.key:
                                odd.append((uid, key_ids[key], 0.0, 0.0, fs))
                    # adjacent: some accepted pair, or the joined word written as one token
                    pairs = [f"{a} {b}" for a in accepted[0] for b in accepted[1]]
                    for pair in pairs + ([f"{leaf.joins[0]} "] if leaf.joins[0] else []):
                        kid = key_ids.get(pair)
                        if kid is not None:
                            adjacent.append((uid, kid, 0.0, 0.0, fs))
                continue
        papers, s = batch.result(leaf)
        keys.append(papers + uid * n)
        scores.append(s)
    fields = sorted(fieldsets, key=fieldsets.__getitem__)
    for entries, rows in ((sums, batch.key_rows), (prefixes, batch.form_rows)):
        if entries:
            k, s = _summed(batch, leaves, entries, rows, fields, prefix=entries is prefixes)
        elif entries is sums and odd:
            # No paper holds a phrase's exact pair, but some hold a near variant: those are rescored.
            k, s = np.zeros(0, np.int64), np.zeros(0, np.float64)
        else:
            continue
        if entries is sums and odd:
            k, s = _rescore_variants(batch, leaves, k, s, odd, adjacent)
        keys.append(k)
        scores.append(s)
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    all_keys, all_scores = np.concatenate(keys), np.concatenate(scores)
    order = np.argsort(all_keys, kind="stable")
    return all_keys[order], all_scores[order]


def _summed(batch: Batch, leaves: Sequence[Leaf], entries: list[Entry],
            rows_of: RowSource, fields: list[tuple[str, ...]], *, prefix: bool) -> tuple[Ints, Floats]:
    """Score the entries' clauses: per (clause, paper), the weighted sum of hit qualities over the
    clause's fields, times the idf (score._eval_text / _eval_exact_word, row-wise)."""
    n = len(batch.docs)
    cols = _columns(entries)
    owner, at = rows_of(cols.kid)
    uid = cols.uid[owner]
    fs = cols.fields[owner]
    if prefix:
        forms = batch.forms
        paper, counts, rank = forms.paper[at], forms.counts[at], forms.rank[at]
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
        idf = forms.rank_idf[np.maximum.reduceat(rank, starts)]
        x = _weighted(counts.astype(np.float64), fs, fields)
        return key, idf * x * (K1 + 1) / (x + K1)
    # x per row: exact hits (similarity 1) read off the batch's per-field-set sums of every row
    sim = cols.sim[owner]
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
    key, x, idf_rows = key[hit], x[hit], cols.idf[owner][hit]
    score = idf_rows * x * (K1 + 1) / (x + K1)
    order = np.argsort(key, kind="stable")
    key, score = key[order], score[order]
    twice = key[1:] == key[:-1]
    if not twice.any():
        return key, score
    # Two entries meet one (clause, paper): a fuzzy word with two accepted keys in the paper
    # ("constraint~" on a paper with "constraint" and "constrain"), a phrase both as a pair and
    # joined. score.py sums such a word's hits in position order: read the positions.
    several = np.zeros(len(key), np.bool_)
    several[1:] |= twice
    several[:-1] |= twice
    redo = np.unique(key[several])
    words = np.fromiter((is_word(leaves[u]) for u in (redo // n).tolist()), np.bool_, len(redo))
    fs_of_uid = dict(zip(cols.uid.tolist(), cols.fields.tolist()))
    word_keys, word_scores, left = _several_keys(batch, leaves, redo[words], fs_of_uid, fields)
    extra_keys, extra_scores = _scalar_cells(batch, leaves, np.union1d(redo[~words], left))
    key = np.concatenate([key[~several], word_keys, extra_keys])
    score = np.concatenate([score[~several], word_scores, extra_scores])
    order = np.argsort(key, kind="stable")
    return key[order], score[order]


def _several_keys(batch: Batch, leaves: Sequence[Leaf], cells: Ints, fs_of_uid: dict[int, int],
                 fields: list[tuple[str, ...]]) -> tuple[Ints, Floats, Ints]:
    """One-word clauses on the (clause, paper) cells where they accept several keys: score._eval_text
    from the hits, each worth its key's similarity, summed per field in position order; the idf
    of the best hit's key. Returns (cells, scores) and the cells left to the scalar scorer (two
    accepted keys at one position, whose order score.py breaks by offsets)."""
    n = len(batch.docs)
    if not len(cells):
        return cells, np.zeros(0, np.float64), cells
    owner, field, pos, kid, sim = Positions.of(batch).word_hits(leaves, cells // n, cells % n)
    order = np.lexsort((pos, field, owner))
    owner, field, pos, kid, sim = owner[order], field[order], pos[order], kid[order], sim[order]
    segment = owner * len(TEXT_FIELDS) + field
    same_spot = (segment[1:] == segment[:-1]) & (pos[1:] == pos[:-1])
    tied = np.unique(owner[1:][same_spot])
    # per (cell, field), hit by hit: the additions of ``sum(h.quality for h in hits)``
    starts = np.flatnonzero(np.concatenate([[True], segment[1:] != segment[:-1]]))
    rank = np.arange(len(segment)) - np.repeat(starts, np.diff(np.append(starts, len(segment))))
    sums = np.zeros(len(cells) * len(TEXT_FIELDS), np.float64)
    for k in range(int(rank.max(initial=-1)) + 1):
        at = rank == k
        sums[segment[at]] = sums[segment[at]] + sim[at]
    fs = np.array([fs_of_uid[u] for u in (cells // n).tolist()], np.int64)
    x = _weighted(sums.reshape(-1, len(TEXT_FIELDS)), fs, fields)
    # the best hit: highest similarity, then greatest key (score.py's max by (quality, key))
    names = batch.key_names
    distinct = np.unique(kid)
    by_name = np.empty(len(distinct), np.int64)
    by_name[np.argsort(np.array([names[k] for k in distinct.tolist()], dtype=object))] = np.arange(len(distinct))
    name_rank = by_name[np.searchsorted(distinct, kid)]
    last = np.lexsort((name_rank, sim, owner))
    best = np.zeros(len(cells), np.int64)
    best[owner[last]] = kid[last]  # in ascending order: the last write per cell is its best hit
    idf = np.array(batch.key_idf, np.float64)[best]
    left = np.isin(np.arange(len(cells)), tied)
    good = (x > 0) & ~left
    score = idf[good] * x[good] * (K1 + 1) / (x[good] + K1)
    return cells[good], score, cells[left]


def _scalar_cells(batch: Batch, leaves: Sequence[Leaf], cells: Ints) -> tuple[Ints, Floats]:
    """The scalar scorer's results on the (clause, paper) ``cells`` (ascending) where the clause matches."""
    n = len(batch.docs)
    out_keys: list[int] = []
    out_scores: list[float] = []
    uids = cells // n
    bounds = np.flatnonzero(np.concatenate([[True], uids[1:] != uids[:-1], [True]])) if len(cells) else np.zeros(1, np.int64)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        u = int(uids[lo])
        for p, sc in batch.scalar_scores(leaves[u], (cells[lo:hi] % n).tolist()).items():
            out_keys.append(u * n + p)
            out_scores.append(sc)
    return np.array(out_keys, np.int64), np.array(out_scores, np.float64)


def _cells(batch: Batch, entries: list[Entry]) -> Ints:
    """The distinct ``uid * papers + paper`` of the papers holding the entries' keys."""
    cols = _columns(entries)
    owner, at = batch.key_rows(cols.kid)
    return np.unique(cols.uid[owner] * len(batch.docs) + batch.paper[at])


def _rescore_variants(batch: Batch, leaves: Sequence[Leaf], keys: Ints, scores: Floats,
                      odd: list[Entry], adjacent: list[Entry]) -> tuple[Ints, Floats]:
    """Fuzzy two-word phrases: the exact pair's result stands where no near variant of a word
    occurs; where one does, the scalar scorer decides, on the papers where some accepted form of
    each word follows the other (elsewhere the phrase cannot match)."""
    redo = _cells(batch, odd)
    keep = ~np.isin(keys, redo, assume_unique=True)
    keys, scores = keys[keep], scores[keep]
    extra_keys, extra_scores = _scalar_cells(batch, leaves, np.intersect1d(redo, _cells(batch, adjacent), assume_unique=True))
    keys = np.concatenate([keys, extra_keys])
    scores = np.concatenate([scores, extra_scores])
    order = np.argsort(keys, kind="stable")
    return keys[order], scores[order]


def _weighted(quality: Floats, fs: Ints, fields: list[tuple[str, ...]]) -> Floats:
    """Per row, ``sum(FIELD_WEIGHTS[f] * quality[f])`` over the row's fields, added in field order."""
    x = np.zeros(len(quality), np.float64)
    for f, names in enumerate(fields):
        rows = np.flatnonzero(fs == f) if len(fields) > 1 else np.arange(len(quality))
        xf = np.zeros(len(rows), np.float64)
        for name in names:
            xf = xf + FIELD_WEIGHTS[name] * quality[rows, FIELD_INDEX[name]]
        x[rows] = xf
    return x

