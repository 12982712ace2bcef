"""Evaluating many query plans on a batch of papers at once, in numpy (used by
:meth:`digest.match.index.QueryIndex.match_batch`).

Plans are grouped by *shape* -- their And/Or/Not tree with the clauses replaced by numbered slots
-- so that a group of thousands of plans ("a -b", "(a OR b OR "c d") e", ...) is evaluated with a
few dozen array operations instead of a Python call per (plan, paper) pair:

1. every clause the plans use gets a row block in one table of clause results, keyed
   ``uid * papers + paper`` and sorted, so "does clause u match paper p, with which score" is a
   ``searchsorted`` (a *probe*);
2. per group, candidate rows (plan, paper) are enumerated from the cheapest required part of each
   plan: a clause's papers, the union of an OR's branches, the smallest positive child of an AND;
3. the whole tree is then probed on the candidate rows, with the same arithmetic, in the same
   order, as :func:`digest.match.score._score` (so the floats are bit-identical): AND averages its
   scoring children times the proximity bonus, OR adds ``OR_OTHERS`` times the others (in
   descending order) to the best, NOT filters.

The proximity bonus needs token positions: they come from the clause results on each paper
(:meth:`~digest.match.batch.Batch.hit_positions`) for the few rows where an AND has two or more
scoring children that match, and the closest pair is found by a vectorised cross join.

Private to :mod:`digest.match.index`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from digest.match.batch import HIT_FIELD, Batch
from digest.match.clauses import clause_table
from digest.match.positions import Positions, is_word
from digest.match.ranges import ranges
from digest.match.query import And, MetaClause, Node, Not, TextClause
from digest.match.score import OR_OTHERS, PROXIMITY_BONUS, PROXIMITY_WINDOW

__all__ = ["evaluate_plans", "PlanBook", "shape_of"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
# A shape: ("L", slot) | ("N", shape) | ("A", shapes) | ("O", shapes)
Shape = tuple[Any, ...]
Leaf = Union[TextClause, MetaClause]
_FAR = 1 << 30
_NO_ROWS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


def shape_of(node: Node, slots: list[Leaf]) -> Shape:
    """The shape of ``node``; its clauses are appended to ``slots`` in slot order."""
    if isinstance(node, (TextClause, MetaClause)):
        slots.append(node)
        return ("L", len(slots) - 1)
    if isinstance(node, Not):
        return ("N", shape_of(node.child, slots))
    tag = "A" if isinstance(node, And) else "O"
    return (tag, tuple(shape_of(c, slots) for c in node.children))


class _Table:
    """Every clause's result on the batch in one sorted key array (``uid * n + paper``)."""

    def __init__(self, batch: Batch, leaves: Sequence[Leaf]) -> None:
        n = self.n = len(batch.docs)
        self.batch = batch
        self.leaves = leaves
        self.keys, self.scores = clause_table(batch, leaves)
        bounds = np.searchsorted(self.keys, np.arange(len(leaves) + 1, dtype=np.int64) * n)
        self.start = bounds[:-1]
        self.size = np.diff(bounds)
        # the filter flag of a clause is one per clause (cat:/src: clauses), not per paper
        self.filters = np.array([batch.is_filter(leaf) for leaf in leaves] or [False], np.bool_)
        self.word = np.array([is_word(leaf) for leaf in leaves] or [False], np.bool_)
        self._other: dict[tuple[int, int], list[int]] = {}

    def probe(self, uids: Ints, papers: Ints) -> tuple[Bools, Floats]:
        if not len(self.keys):
            return np.zeros(len(papers), np.bool_), np.zeros(len(papers), np.float64)
        want = uids * self.n + papers
        at = np.minimum(np.searchsorted(self.keys, want), len(self.keys) - 1)
        found = self.keys[at] == want
        return found, np.where(found, self.scores[at], 0.0)

    def rows(self, uids: Ints) -> tuple[Ints, Ints]:
        """(index into ``uids``, paper) for every paper of every clause in ``uids``."""
        at, owner = self.spans(uids)
        return owner, self.keys[at] - uids[owner] * self.n

    def spans(self, uids: Ints) -> tuple[Ints, Ints]:
        """Positions in the table of every row of the clauses ``uids``, and each one's index into ``uids``."""
        return ranges(self.start[uids], self.size[uids])

    def hits(self, uids: Ints, rows: Ints, papers: Ints) -> tuple[Ints, Ints, Ints]:
        """(row, field, token position) of every hit of clause ``uids[i]`` on ``papers[i]``
        (where it matches), for ``rows[i]``."""
        word = self.word[uids]
        at = np.flatnonzero(word)
        owner, field, pos, _, _ = Positions.of(self.batch).word_hits(self.leaves, uids[at], papers[at])
        out = [(rows[at][owner], field, pos)]
        for i in np.flatnonzero(~word).tolist():  # phrases and prefix words: read off their hits
            key = (int(uids[i]), int(papers[i]))
            packed = self._other.get(key)
            if packed is None:
                packed = self._other[key] = self.batch.hit_positions(self.leaves[key[0]], key[1])
            hits = np.array(packed, np.int64)
            out.append((np.full(len(hits), rows[i]), hits // HIT_FIELD, hits % HIT_FIELD))
        return (np.concatenate([r for r, _, _ in out]), np.concatenate([f for _, f, _ in out]),
                np.concatenate([q for _, _, q in out]))


class _Group:
    """Plans of one shape: ``slots[g, s]`` is the clause uid of slot ``s`` in plan ``g``."""

    def __init__(self, table: _Table, slots: Ints) -> None:
        self.t = table
        self.slots = slots
        #: False: score every AND without its proximity bonus (a lower bound; see evaluate_plans)
        self.proximity = True

    # --- cost and candidates ---------------------------------------------------------------------

    def estimate(self, sh: Shape, g: Ints) -> Floats:
        """Per plan, how many papers enumerating ``sh`` yields (NOT: every paper)."""
        tag = sh[0]
        if tag == "L":
            return self.t.size[self.slots[g, sh[1]]].astype(np.float64)
        if tag == "N":
            return np.full(len(g), float(self.t.n))
        parts = [self.estimate(c, g) for c in sh[1]]
        if tag == "O":
            return np.sum(parts, axis=0)  # type: ignore[no-any-return]
        positive = [p for c, p in zip(sh[1], parts) if c[0] != "N"]
        return np.min(positive, axis=0) if positive else np.full(len(g), float(self.t.n))

    def enumerate(self, sh: Shape, g: Ints) -> tuple[Ints, Ints]:
        """Candidate rows (plan, paper), possibly repeated: a superset of where ``sh`` matches."""
        tag = sh[0]
        if tag == "L":
            owner, papers = self.t.rows(self.slots[g, sh[1]])
            return g[owner], papers
        if tag == "O":
            parts = [self.enumerate(c, g) for c in sh[1]]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        positive = [c for c in sh[1] if c[0] != "N"] if tag == "A" else []
        if not positive:  # NOT, or an AND of NOTs: every paper
            n = self.t.n
            return np.repeat(g, n), np.tile(np.arange(n, dtype=np.int64), len(g))
        if len(positive) == 1:
            return self.enumerate(positive[0], g)
        costs = np.stack([self.estimate(c, g) for c in positive])
        best = np.argmin(costs, axis=0)
        gs, ps = [], []
        for i, child in enumerate(positive):
            mine = g[best == i]
            if len(mine):
                a, b = self.enumerate(child, mine)
                gs.append(a)
                ps.append(b)
        return np.concatenate(gs), np.concatenate(ps)

    # --- probing ---------------------------------------------------------------------------------

    def probe(self, sh: Shape, g: Ints, p: Ints) -> tuple[Bools, Floats, Bools]:
        """(matches, score, is a filter) of ``sh`` on rows (g, p): score._score, row-wise."""
        tag = sh[0]
        if tag == "L":
            uids = self.slots[g, sh[1]]
            found, score = self.t.probe(uids, p)
            return found, score, found & self.t.filters[uids]
        if tag == "N":
            found = self.probe(sh[1], g, p)[0]
            return ~found, np.zeros(len(g), np.float64), ~found
        if tag == "O":
            return self._probe_or(sh, g, p)
        return self._probe_and(sh, g, p)

    def _probe_or(self, sh: Shape, g: Ints, p: Ints) -> tuple[Bools, Floats, Bools]:
        results = [self.probe(c, g, p) for c in sh[1]]
        found_each = np.stack([r[0] for r in results])
        found: Bools = np.asarray(found_each.any(axis=0), np.bool_)
        # sorted(scores, reverse=True); best + OR_OTHERS * sum(the rest), summed in that order
        ranked = -np.sort(-np.where(found_each, np.stack([r[1] for r in results]), -np.inf), axis=0)
        rest = np.zeros(len(g), np.float64)
        for row in ranked[1:]:
            rest = rest + np.where(np.isfinite(row), row, 0.0)
        score = np.where(found, ranked[0] + OR_OTHERS * rest, 0.0)
        filters = found & np.all(np.stack([r[2] for r in results]) | ~found_each, axis=0)
        return found, score, filters

    def _probe_and(self, sh: Shape, g: Ints, p: Ints) -> tuple[Bools, Floats, Bools]:
        children = sh[1]
        positive = [c for c in children if c[0] != "N"]
        found = np.ones(len(g), np.bool_)
        results: list[tuple[Bools, Floats, Bools]] = []
        for c in positive:  # narrow the rows as children fail, as score._score_and returns early
            r = self.probe(c, g, p)
            found &= r[0]
            results.append(r)
        for c in children:
            if c[0] == "N" and found.any():
                found &= ~self.probe(c[1], g, p)[0]
        if not positive:
            return found, np.zeros(len(g), np.float64), found.copy()
        filt = np.stack([r[2] for r in results])
        scoring = ~filt
        none_scoring = ~scoring.any(axis=0)
        scoring[:, none_scoring] = True  # only filters matched: they all count
        total = np.zeros(len(g), np.float64)
        for r, mask in zip(results, scoring):
            total = total + np.where(mask, r[1], 0.0)
        count = scoring.sum(axis=0)
        score = total / count
        near = found & (count > 1)
        if self.proximity and near.any():
            score[near] = score[near] * self._proximity([c for c in positive], scoring[:, near], g[near], p[near])
        return found, np.where(found, score, 0.0), found & filt.all(axis=0)

    # --- proximity -------------------------------------------------------------------------------

    def _proximity(self, children: list[Shape], scoring: Bools, g: Ints, p: Ints) -> Floats:
        """score._proximity on rows where the AND matched with two or more scoring children."""
        per_child = []
        for c, mask in zip(children, scoring):
            rows = np.flatnonzero(mask)
            per_child.append(self._positions(c, rows, g[rows], p[rows]))
        best = np.full(len(g), _FAR, np.int64)
        for i, a in enumerate(per_child):
            for b in per_child[i + 1:]:
                _closest(a, b, best)
        near = (best > 0) & (best <= PROXIMITY_WINDOW)
        return np.where(near, 1.0 + PROXIMITY_BONUS / np.where(near, best, 1), 1.0)

    def _positions(self, sh: Shape, rows: Ints, g: Ints, p: Ints) -> tuple[Ints, Ints, Ints]:
        """(row, field, token position) of the hits of the clauses that make ``sh`` match on
        the rows (score._positions: not under a NOT, not in an OR branch that failed)."""
        uids, rows, papers = self._matched(sh, rows, g, p)
        return self.t.hits(uids, rows, papers)

    def _matched(self, sh: Shape, rows: Ints, g: Ints, p: Ints) -> tuple[Ints, Ints, Ints]:
        """(clause uid, row, paper) of the clauses that make ``sh`` match on the rows."""
        tag = sh[0]
        if tag == "L":
            return self.slots[g, sh[1]], rows, p
        if tag == "N":
            return _NO_ROWS
        parts = []
        for c in sh[1]:
            if tag == "A":
                parts.append(self._matched(c, rows, g, p))
            else:
                hit = self.probe(c, g, p)[0]
                parts.append(self._matched(c, rows[hit], g[hit], p[hit]))
        return (np.concatenate([u for u, _, _ in parts]), np.concatenate([r for _, r, _ in parts]),
                np.concatenate([q for _, _, q in parts]))


def _closest(a: tuple[Ints, Ints, Ints], b: tuple[Ints, Ints, Ints], best: Ints) -> None:
    """Lower ``best[row]`` to the smallest non-zero gap between a hit of ``a`` and one of ``b``
    in the same row and field (score._min_gap)."""
    a_key = a[0] * 8 + a[1]
    b_key = b[0] * 8 + b[1]
    order = np.argsort(b_key, kind="stable")
    b_key, b_pos = b_key[order], b[2][order]
    lo = np.searchsorted(b_key, a_key, "left")
    counts = np.searchsorted(b_key, a_key, "right") - lo
    if not counts.any():
        return
    at, which = ranges(lo, counts)
    gaps = np.abs(a[2][which] - b_pos[at])
    gaps[gaps == 0] = _FAR
    np.minimum.at(best, a[0][which], gaps)


def distinct_rows(g: Ints, p: Ints, plans: int, papers: int, cells: int = 1 << 24) -> tuple[Ints, Ints]:
    """The distinct rows (plan ``g`` < ``plans``, paper ``p`` < ``papers``), sorted by plan then
    paper: marked in a plans x papers bitmap of at most ``cells`` bytes per block of plans, which
    beats sorting or hashing millions of candidate rows."""
    block = max(1, cells // max(papers, 1))
    if plans <= block:
        seen = np.zeros(plans * papers, np.bool_)
        seen[g * papers + p] = True
        flat = np.flatnonzero(seen)
        return flat // papers, flat % papers
    order = np.argsort(g, kind="stable")
    g, p = g[order], p[order]
    bounds = np.searchsorted(g, np.arange(0, plans + block, block))
    parts = [distinct_rows(g[a:b] - lo, p[a:b], min(block, plans - lo), papers, cells)
             for lo, a, b in zip(range(0, plans, block), bounds[:-1], bounds[1:])]
    return (np.concatenate([pg + lo for (pg, _), lo in zip(parts, range(0, plans, block))]),
            np.concatenate([pp for _, pp in parts]))


def _and_depth(sh: Shape) -> int:
    """The most ANDs with two or more positive children on one path down ``sh``."""
    if sh[0] == "L":
        return 0
    if sh[0] == "N":
        return _and_depth(sh[1])
    below = max(_and_depth(c) for c in sh[1])
    return below + (sh[0] == "A" and sum(c[0] != "N" for c in sh[1]) > 1)


class PlanBook:
    """The index's plans filed by shape as arrays (plan id, clause ids of its slots), so that a
    batch selects and evaluates thousands of plans without a Python step per plan. Clauses get
    ids on first sight and keep them (scoring forms are interned for good, score.scoring_form)."""

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self._leaf_ids: dict[Leaf, int] = {}
        # shape -> (plan ids, slot clause ids per plan); pid -> (shape, its row there)
        self._shelves: dict[Shape, tuple[list[int], list[tuple[int, ...]]]] = {}
        self._where: dict[int, tuple[Shape, int]] = {}
        self._arrays: dict[Shape, tuple[Ints, Ints]] = {}

    def add(self, pid: int, shape: Shape, slots: Sequence[Leaf]) -> None:
        ids = []
        for leaf in slots:
            lid = self._leaf_ids.get(leaf)
            if lid is None:
                lid = self._leaf_ids[leaf] = len(self.leaves)
                self.leaves.append(leaf)
            ids.append(lid)
        pids, rows = self._shelves.setdefault(shape, ([], []))
        self._where[pid] = (shape, len(pids))
        pids.append(pid)
        rows.append(tuple(ids))
        self._arrays.pop(shape, None)

    def remove(self, pid: int) -> None:
        shape, row = self._where.pop(pid)
        pids, rows = self._shelves[shape]
        # the last plan of the shelf takes the freed row
        pids[row], rows[row] = pids[-1], rows[-1]
        if pids[row] != pid:
            self._where[pids[row]] = (shape, row)
        pids.pop()
        rows.pop()
        if not pids:
            del self._shelves[shape]
        self._arrays.pop(shape, None)

    def select(self, hot: Bools) -> list[tuple[Shape, Ints, Ints]]:
        """Per shape, the plans with ``hot[pid]`` and their slots' clause ids."""
        out = []
        for shape, (pids, rows) in self._shelves.items():
            arrays = self._arrays.get(shape)
            if arrays is None:
                arrays = self._arrays[shape] = (np.array(pids, np.int64),
                                                np.array(rows, np.int64).reshape(len(pids), -1))
            mine = hot[arrays[0]]
            if mine.any():
                out.append((shape, arrays[0][mine], arrays[1][mine]))
        return out


def evaluate_plans(batch: Batch, book: PlanBook, hot: Bools, floors: Floats) -> tuple[Ints, Ints, Floats]:
    """For each plan of ``book`` with ``hot[pid]``: the rows (plan id, paper, raw score) where it
    matches with a score of at least ``floors[pid]``, in no particular order."""
    selected = book.select(hot)
    if not selected:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    used = np.unique(np.concatenate([slots.ravel() for _, _, slots in selected]))
    table = _Table(batch, [book.leaves[i] for i in used.tolist()])
    out: list[tuple[Ints, Ints, Floats]] = []
    for shape, plan_ids, slot_ids in selected:
        slot_uids = np.searchsorted(used, slot_ids)
        if shape == ("L", 0):  # a single clause: its rows of the table, as they are
            at, owner = table.spans(slot_uids[:, 0])
            g, p, score = plan_ids[owner], table.keys[at] % table.n, table.scores[at]
            keep = score >= floors[g]
            out.append((g[keep], p[keep], score[keep]))
            continue
        group = _Group(table, slot_uids)
        g, p = group.enumerate(shape, np.arange(len(plan_ids), dtype=np.int64))
        if not len(g):
            continue
        g, p = distinct_rows(g, p, len(plan_ids), table.n)
        group_floors = floors[plan_ids]
        # Proximity needs token positions, the dear part: first score without it, which is a lower
        # bound, and times the largest product of bonuses an upper one (scores grow with their
        # children's); then score with it only the rows that bound keeps.
        growth = (1.0 + PROXIMITY_BONUS) ** _and_depth(shape) * (1.0 + 1e-9)
        group.proximity = False
        found, score, _ = group.probe(shape, g, p)
        keep = found & (score * growth >= group_floors[g])
        g, p = g[keep], p[keep]
        group.proximity = True
        found, score, _ = group.probe(shape, g, p)
        keep = found & (score >= group_floors[g])
        out.append((plan_ids[g[keep]], p[keep], score[keep]))
    if not out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    g, p, score = (np.concatenate(parts) for parts in zip(*out))
    return g, p, score
