"""Token positions of a batch's word keys, in numpy arrays, for the proximity bonus of AND
queries (used by :mod:`digest.match.plans`).

The batch's inverted index (:class:`~digest.match.batch.Batch`) holds one row per (key, paper)
with the key's hit count in each field. This adds the hits themselves: every posted term of every
paper (:attr:`FieldText.term_keys <digest.match.document.FieldText.term_keys>` and
``term_positions``), sorted by (key, paper, field), so that row ``r`` of the index owns
the slice ``start[r]:start[r + 1]`` -- the same terms, counted the same way (in a field: single
tokens by position, then joined terms, then acronym markers; readers needing position order sort).
The hits of a word clause on a paper are then the slices of the keys it accepts: score._word_hits
for many (clause, paper) pairs in a few array operations.

Private to :mod:`digest.match`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np
import numpy.typing as npt

from digest.match.batch import FIELD_INDEX, Batch
from digest.match.query import MetaClause, TextClause
from digest.match.ranges import ranges

__all__ = ["Positions", "is_word"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Leaf = Union[TextClause, MetaClause]


def is_word(leaf: Leaf) -> bool:
    """A one-word clause whose hits are the postings of the keys it accepts (not a prefix word,
    whose hits are forms)."""
    return isinstance(leaf, TextClause) and len(leaf.words) == 1 and not leaf.words[0].prefix


class Positions:
    """The hits of every word key of a batch, row-aligned with the batch's inverted index."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        n = len(batch.docs)
        kids: list[int] = []
        positions: list[int] = []
        runs: list[tuple[int, int, int]] = []  # (paper, field, terms) of each field's run
        get = batch.key_ids.__getitem__
        for i, doc in enumerate(batch.docs):
            for fi, ft in enumerate(doc.fields.values()):
                if ft.term_keys:
                    kids += map(get, ft.term_keys)  # C-level passes: no Python step per term
                    positions += ft.term_positions
                    runs.append((i, fi, len(ft.term_keys)))
        run = np.array(runs, np.int64).reshape(-1, 3)
        kid = np.array(kids, np.int64)
        pos = np.array(positions, np.int64)
        field = np.repeat(run[:, 1], run[:, 2])
        # Terms come paper by paper, field by field: a stable sort by key alone gives (key, paper,
        # field) order, as the index's rows and counts are. Two 16-bit passes: numpy sorts 16-bit
        # integers stably by radix, wider ones by timsort (3-4x slower here).
        order = np.argsort((kid & 0xFFFF).astype(np.uint16), kind="stable")
        if batch.word_keys > 0xFFFF:
            order = order[np.argsort((kid[order] >> 16).astype(np.uint16 if batch.word_keys < 2**32 else np.uint64),
                                     kind="stable")]
        self.field, self.pos = field[order], pos[order]
        # the index's word rows come first (word keys have the lowest ids), each with its hits
        rows = int(batch.offsets[batch.word_keys])
        self.start = np.concatenate([[0], np.cumsum(batch.counts[:rows].sum(axis=1))]).astype(np.int64)
        assert self.start[-1] == len(order), "term lists and key counts disagree"
        row_kid = np.repeat(np.arange(batch.word_keys, dtype=np.int64), np.diff(batch.offsets[:batch.word_keys + 1]))
        self.row_key = row_kid * n + batch.paper[:rows]  # ascending: rows are sorted by key, then paper
        self._leaf_keys: dict[int, tuple[list[int], list[float], int]] = {}

    @classmethod
    def of(cls, batch: Batch) -> "Positions":
        """The batch's positions, built on first use."""
        if batch.positions is None:
            batch.positions = cls(batch)
        assert isinstance(batch.positions, cls)
        return batch.positions

    def _accepted(self, leaf: TextClause) -> tuple[list[int], list[float], int]:
        """Key ids the word accepts in the batch, their similarities, and its fields as a bit mask."""
        found = self._leaf_keys.get(id(leaf))
        if found is None:
            word = leaf.words[0]
            keys = self.batch.expansions.get(word, {}) if word.dist else {word.key: 1.0}
            ids, sims = [], []
            for k, sim in keys.items():
                kid = self.batch.key_ids.get(k)
                if kid is not None:
                    ids.append(kid)
                    sims.append(sim)
            mask = sum(1 << FIELD_INDEX[name] for name in leaf.fields)
            found = self._leaf_keys[id(leaf)] = (ids, sims, mask)
        return found

    def word_hits(self, leaves: Sequence[Leaf], uids: Ints, papers: Ints) -> tuple[Ints, Ints, Ints, Ints, Floats]:
        """(request index, field index, token position, key id, similarity) of every hit of the
        word clause ``leaves[uids[i]]`` on paper ``papers[i]`` (score._word_hits: every posting of
        every accepted key, in the clause's fields)."""
        distinct, which = np.unique(uids, return_inverse=True)
        accepted = [self._accepted(leaves[u]) for u in distinct.tolist()]  # type: ignore[arg-type]
        sizes = np.fromiter((len(ids) for ids, _, _ in accepted), np.int64, len(accepted))
        flat = np.fromiter((k for ids, _, _ in accepted for k in ids), np.int64, int(sizes.sum()))
        flat_sim = np.fromiter((s for _, sims, _ in accepted for s in sims), np.float64, int(sizes.sum()))
        mask = np.fromiter((m for _, _, m in accepted), np.int64, len(accepted))
        # one probe per (request, accepted key)
        entry, request = ranges((np.cumsum(sizes) - sizes)[which], sizes[which])
        kid = flat[entry]
        want = kid * len(self.batch.docs) + papers[request]
        if not len(self.row_key):
            return (*(np.zeros(0, np.int64),) * 4, np.zeros(0, np.float64))
        row = np.minimum(np.searchsorted(self.row_key, want), len(self.row_key) - 1)
        present = self.row_key[row] == want
        request, row, entry = request[present], row[present], entry[present]
        # the rows' hits, filtered by the clause's fields
        at, probe = ranges(self.start[row], self.start[row + 1] - self.start[row])
        owner, field, pos, entry = request[probe], self.field[at], self.pos[at], entry[probe]
        keep = (mask[which[owner]] >> field) & 1 == 1
        return owner[keep], field[keep], pos[keep], flat[entry[keep]], flat_sim[entry[keep]]
