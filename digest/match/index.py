"""A percolator: saved queries indexed by the terms they require, so a paper meets only the queries
that could match it.

Each query is reduced to a set of *atoms* of which any match must contain at least one: for an AND
the cheapest child's set (one rarest required word suffices), for an OR the union of its branches,
for a phrase its rarest word plus the joined forms that could stand in for it. Queries with no such
set (pure NOT, ``a OR -b``) are checked against every paper. Fuzzy and prefix words are expanded
against a batch's whole vocabulary at once, not once per (query, paper) pair
(:class:`digest.match.vocab.WordSet`, a vectorised SymSpell-style deletion index). Candidates are
then evaluated by the same :meth:`CompiledQuery.evaluate` as brute force, which is why the two agree
exactly (tests/test_match_index.py checks it).

Public: :class:`QueryIndex`, :func:`match_all` (the brute-force reference).
"""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from digest.gcpause import gc_paused
from digest.match.batch import Batch
from digest.match.plans import PlanBook, evaluate_plans, shape_of
from digest.match.ranges import ranges
from digest.match.document import Document, meta_atoms
from digest.match.query import And, MetaClause, Node, Not, TextClause, Word
from digest.match.score import DEFAULT_THRESHOLD, SCORE_DIGITS, CompiledQuery, MatchResult, author_forms, scoring_form
from digest.match.stats import CorpusStats
from digest.match.vocab import WordSet

__all__ = ["QueryIndex", "Ranked", "match_all", "Atom", "atom_cost", "leaf_atoms"]

# An atom: ("k", key) exact document key, ("w", Word) fuzzy or prefix word, or a structured-field
# atom from digest.match.document.meta_atoms.
Atom = tuple[str, object]
# Keys are any hashable the caller chooses (Any: Mapping is invariant in its key type).
Thresholds = Mapping[Any, float] | float
# Scores are rounded to 6 decimals before the threshold: bounds keep this margin.
_EPS = 1e-6
_EMPTY: frozenset[Any] = frozenset()


def _threshold(thresholds: Thresholds, key: Hashable) -> float:
    if isinstance(thresholds, (int, float)):
        return float(thresholds)
    return thresholds.get(key, DEFAULT_THRESHOLD)


class Ranked(Sequence[tuple[Any, float]]):
    """One paper's matches, best first: a sequence of (key, score) pairs kept as two lists. A batch
    has a million of them; as pairs made only when read, they are no objects for the cycle
    collector to sweep (as a million tuples would be, ~0.1 s per batch)."""

    __slots__ = ("_keys", "_scores")  # not "keys": dict() would take a Ranked for a mapping

    def __init__(self, keys: list[Any], scores: list[float]) -> None:
        self._keys = keys
        self._scores = scores

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, i: int) -> tuple[Any, float]: ...
    @overload
    def __getitem__(self, i: slice) -> "Ranked": ...

    def __getitem__(self, i: int | slice) -> "tuple[Any, float] | Ranked":
        if isinstance(i, slice):
            return Ranked(self._keys[i], self._scores[i])
        return self._keys[i], self._scores[i]

    def __iter__(self) -> Iterator[tuple[Any, float]]:
        return zip(self._keys, self._scores)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Ranked({list(self)!r})"


def match_all(queries: Mapping[Any, CompiledQuery], doc: Document, stats: CorpusStats,
              thresholds: Thresholds = DEFAULT_THRESHOLD) -> list[tuple[Any, MatchResult]]:
    """Brute force: evaluate every query on ``doc``. The reference the index must equal."""
    out = []
    for key, query in queries.items():
        res = query.evaluate(doc, stats)
        if res is not None and res.score >= _threshold(thresholds, key):
            out.append((key, res))
    out.sort(key=lambda kr: -kr[1].score)
    return out


class QueryIndex:
    """Saved queries indexed for matching many papers.

    Queries with the same parsed form share a *plan* (evaluated once per paper). Each plan is
    triggered by clauses (leaves) it requires; each leaf by the atoms it requires. Per paper: atoms
    present -> leaves to score (each once) -> plans whose triggering leaf matched -> full evaluation.
    ``stats`` only steers the choice of rarest term (any choice is correct).
    """

    def __init__(self, stats: CorpusStats | None = None) -> None:
        self._stats = stats
        self._queries: dict[Any, CompiledQuery] = {}
        self._plan_of: dict[Any, int] = {}
        self._plan_ids: dict[Node, int] = {}
        # plan id -> (its scoring form, the keys of its queries, its trigger clauses)
        self._plans: dict[int, tuple[Node, set[Any], tuple[Node, ...]]] = {}
        self._next_plan = 0
        self._always: set[int] = set()
        # trigger leaves: id(leaf) -> (leaf, plans it triggers, its atoms)
        self._leaves: dict[int, tuple[Node, set[int], tuple[Atom, ...]]] = {}
        self._exact: dict[str, set[int]] = {}
        self._words: dict[Word, set[int]] = {}
        self._meta: dict[Atom, set[int]] = {}
        # every fuzzy/prefix word of every plan, so documents can be preset with full expansions
        self._registered: dict[Word, int] = {}
        # the same words, to expand a vocabulary against in bulk (digest.match.vocab)
        self._vocab = WordSet()
        # what the plans' phrases look up in a batch (see _phrase_pairs), with how many plans need each
        self._pair_users: Counter[str] = Counter()
        self._fuzzy_phrases: Counter[TextClause] = Counter()  # two words, one fuzzy: see Batch
        self._pairs: frozenset[str] | None = None
        # the plans by shape (digest.match.plans), and per plan its queries' keys, flat (see _flat_keys)
        self._book = PlanBook()
        self._flat: tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]] | None = None

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, key: object) -> bool:
        return key in self._queries

    @property
    def queries(self) -> Mapping[Any, CompiledQuery]:
        return self._queries

    # --- adding and removing ----------------------------------------------------------------------

    def add(self, key: Hashable, query: CompiledQuery) -> None:
        """Index ``query`` under ``key`` (replacing any query already there)."""
        if key in self._queries:
            self.remove(key)
        self._queries[key] = query
        root = scoring_form(query.root)
        pid = self._plan_ids.get(root)
        if pid is None:
            pid = self._new_plan(root)
        self._plans[pid][1].add(key)
        self._plan_of[key] = pid
        self._flat = None

    def _new_plan(self, root: Node) -> int:
        self._count_pairs(root, 1)
        pid = self._next_plan
        self._next_plan += 1
        self._plan_ids[root] = pid
        triggers = _triggers(root, self._leaf_cost)
        self._plans[pid] = (root, set(), tuple(triggers or ()))
        slots: list[TextClause | MetaClause] = []
        self._book.add(pid, shape_of(root, slots), slots)
        for word in _fuzzy_words(root):
            self._registered[word] = self._registered.get(word, 0) + 1
            if self._registered[word] == 1:
                self._vocab.add(word)
        if triggers is None:
            self._always.add(pid)
            return pid
        for leaf in triggers:
            entry = self._leaves.get(id(leaf))
            if entry is None:
                atoms = tuple(leaf_atoms(leaf, self._cost))
                entry = self._leaves[id(leaf)] = (leaf, set(), atoms)
                for atom in atoms:
                    self._table(atom).setdefault(_lookup(atom), set()).add(id(leaf))
            entry[1].add(pid)
        return pid

    def remove(self, key: Hashable) -> None:
        """Forget the query under ``key`` (no error if there is none)."""
        if self._queries.pop(key, None) is None:
            return
        pid = self._plan_of.pop(key)
        root, keys, triggers = self._plans[pid]
        keys.discard(key)
        self._flat = None
        if keys:
            return
        del self._plans[pid]
        self._book.remove(pid)
        self._count_pairs(root, -1)
        del self._plan_ids[root]
        self._always.discard(pid)
        for word in _fuzzy_words(root):
            self._registered[word] -= 1
            if not self._registered[word]:
                del self._registered[word]
                self._vocab.discard(word)
        for leaf in triggers:
            _, plans, atoms = self._leaves[id(leaf)]
            plans.discard(pid)
            if not plans:
                del self._leaves[id(leaf)]
                for atom in atoms:
                    table = self._table(atom)
                    holders = table.get(_lookup(atom))
                    if holders is not None:
                        holders.discard(id(leaf))
                        if not holders:
                            del table[_lookup(atom)]

    def _table(self, atom: Atom) -> dict[Any, set[int]]:
        kind = atom[0]
        return self._exact if kind == "k" else self._words if kind == "w" else self._meta  # type: ignore[return-value]

    def _cost(self, atom: Atom) -> float:
        return atom_cost(atom, self._stats)

    def _leaf_cost(self, leaf: Node) -> float:
        return sum(map(self._cost, leaf_atoms(leaf, self._cost)))

    # --- matching ---------------------------------------------------------------------------------

    def _triggered_leaves(self, doc: Document) -> set[int]:
        """Trigger leaves whose atoms ``doc`` carries; presets the document's fuzzy expansions."""
        out: set[int] = set()
        exact, words = self._exact, self._words
        expansions = self.expansions(doc.vocab_keys, doc.vocab_forms)
        doc.preset(expansions, self._registered)
        for key in doc.vocab_keys:
            holders = exact.get(key)
            if holders:
                out |= holders
        for w in expansions:
            out |= words.get(w, _EMPTY)
        if self._meta:
            for atom in meta_atoms(doc):
                out |= self._meta.get(atom, _EMPTY)
        return out

    def candidates(self, doc: Document) -> set[Any]:
        """Keys of the queries whose required terms ``doc`` carries (a superset of the matches)."""
        pids = set(self._always)
        for lid in self._triggered_leaves(doc):
            pids |= self._leaves[lid][1]
        return {k for pid in pids for k in self._plans[pid][1]}

    def expansions(self, keys: Iterable[str], forms: Iterable[str]) -> dict[Word, dict[str, float]]:
        """Every fuzzy word of the index -> the ``keys`` it accepts with their similarity, and every
        prefix word -> the ``forms`` it accepts (a batch's vocabulary, looked up once per batch)."""
        return self._vocab.expand(keys, forms)

    def match_batch(self, docs: Sequence[Document], stats: CorpusStats,
                    thresholds: Thresholds = DEFAULT_THRESHOLD) -> list[Ranked]:
        """Per document, ``(key, score)`` of the queries matching it at or above their threshold,
        best first: the scores :func:`match_all` gives, without explanations (see :meth:`explain`)."""
        with gc_paused():
            return self._match_batch(docs, stats, thresholds)

    def _match_batch(self, docs: Sequence[Document], stats: CorpusStats,
                     thresholds: Thresholds) -> list[Ranked]:
        out = [Ranked([], []) for _ in docs]
        if not docs:
            return out
        batch = Batch(docs, stats, self.expansions, self._phrase_pairs(), self._fuzzy_phrases)
        hot = np.zeros(self._next_plan, np.bool_)
        hot[list(self._triggered_plans(batch))] = True
        # Every plan's queries, flat, plan after plan (in plan-id order, so that ties keep the
        # order of the plans' ids whatever else is in the batch), with their thresholds
        flat_keys, first = self._flat_keys()
        if isinstance(thresholds, (int, float)):
            limits = np.full(len(flat_keys), float(thresholds))
        else:
            limits = np.fromiter(map(thresholds.get, flat_keys.tolist(), repeat(DEFAULT_THRESHOLD)), np.float64,
                                 len(flat_keys))
        sizes = np.diff(first)
        lowest = np.full(len(sizes), np.inf)
        lowest[sizes > 0] = np.minimum.reduceat(limits, first[:-1][sizes > 0]) if len(limits) else []
        floors = np.where(lowest > _EPS, lowest - _EPS, -np.inf)
        plan, paper, raw = evaluate_plans(batch, self._book, hot, floors)
        score = _round_scores(raw)
        # one row per (query, paper) at or above the query's threshold
        entry, row = ranges(first[plan], sizes[plan])
        paper, score = paper[row], score[row]
        keep = score >= limits[entry]
        entry, paper, score = entry[keep], paper[keep], score[keep]
        # best first per paper; ties in plan order, then in the plan's key order
        order = _best_first(paper, score, entry, len(docs), len(flat_keys))
        keys_sorted = flat_keys[entry[order]].tolist()
        scores_sorted = score[order].tolist()
        bounds = np.searchsorted(paper[order], np.arange(len(docs) + 1)).tolist()
        return [Ranked(keys_sorted[a:b], scores_sorted[a:b]) for a, b in zip(bounds, bounds[1:])]

    def _flat_keys(self) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
        """Every plan's query keys, plan after plan (plan ids ascending), and where each plan's
        begin: plan ``pid`` has ``keys[first[pid]:first[pid + 1]]``. Made again after a change."""
        if self._flat is None:
            keys: list[Any] = []
            first = np.zeros(self._next_plan + 1, np.int64)
            plans = self._plans
            for pid in range(self._next_plan):
                found = plans.get(pid)
                if found is not None:
                    keys += found[1]
                first[pid + 1] = len(keys)
            self._flat = (np.fromiter(keys, dtype=object, count=len(keys)), first)
        return self._flat

    def _count_pairs(self, root: Node, step: int) -> None:
        """Count in (``step`` 1) or out (-1) what the phrases of a plan look up in a batch: "a b"
        for consecutive words, and "joined " for their joined forms written as one token (see
        digest.match.clauses and Batch._phrase_candidates; fuzzy words count with their own keys;
        the pairs of their near variants are added per batch, see Batch)."""
        for leaf in _leaves_of(root):
            if len(leaf.words) > 1 and not any(w.prefix for w in leaf.words):
                pairs = [f"{a.key} {b.key}" for a, b in zip(leaf.words, leaf.words[1:])]
                for pair in pairs + [j + " " for j in leaf.joins if j]:
                    self._pair_users[pair] += step
                    if not self._pair_users[pair]:
                        del self._pair_users[pair]
                self._pairs = None
                if len(leaf.words) == 2 and any(w.dist for w in leaf.words):
                    self._fuzzy_phrases[leaf] += step
                    if not self._fuzzy_phrases[leaf]:
                        del self._fuzzy_phrases[leaf]

    def _phrase_pairs(self) -> frozenset[str]:
        if self._pairs is None:
            self._pairs = frozenset(self._pair_users)
        return self._pairs

    def _triggered_plans(self, batch: Batch) -> set[int]:
        """Plans with a trigger clause whose atoms the batch holds (others cannot match)."""
        lids: set[int] = set()
        exact = self._exact
        for key in exact.keys() & batch.key_ids.keys():  # a set operation: walks the smaller side
            lids |= exact[key]
        for w in batch.expansions:
            lids |= self._words.get(w, _EMPTY)
        if self._meta:
            for doc in batch.docs:
                for atom in meta_atoms(doc):
                    lids |= self._meta.get(atom, _EMPTY)
        pids = set(self._always)
        for lid in lids:
            pids |= self._leaves[lid][1]
        return pids

    def explain(self, key: Hashable, doc: Document, stats: CorpusStats) -> MatchResult:
        """The full result (score and explanation) of the query under ``key`` on ``doc``; for a
        match that :meth:`match_batch` returned."""
        res = self._queries[key].evaluate(doc, stats)
        assert res is not None, f"query {key!r} does not match {doc.paper_id}"
        return res

    def match(self, doc: Document, stats: CorpusStats,
              thresholds: Thresholds = DEFAULT_THRESHOLD) -> list[tuple[Any, MatchResult]]:
        """Queries matching ``doc`` at or above their threshold, best first; equals :func:`match_all`."""
        return [(k, self.explain(k, doc, stats)) for k, _ in self.match_batch([doc], stats, thresholds)[0]]


def _best_first(paper: npt.NDArray[np.int64], score: npt.NDArray[np.float64], entry: npt.NDArray[np.int64],
                papers: int, entries: int) -> npt.NDArray[np.int64]:
    """The order of rows by paper, then score descending, then entry: ``np.lexsort``, or when the
    three fit in one int64 (scores are multiples of 10**-SCORE_DIGITS) a single argsort of that."""
    if not len(score):
        return np.zeros(0, np.int64)
    steps = np.rint(score * 10.0**SCORE_DIGITS)
    top, low = float(steps.max()), float(steps.min())
    span = top - low + 1
    if low >= 0 and papers * span * entries < 2.0**62:
        composite = (paper * int(span) + (int(top) - steps.astype(np.int64))) * entries + entry
        return np.argsort(composite, kind="stable")
    return np.lexsort((entry, -score, paper))


def _round_scores(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``round(x, SCORE_DIGITS)`` of every score, as Python rounds (the scalar scorer's rounding).

    numpy rounds by ``rint(x * 10**d) / 10**d``; the division is exact to the nearest double, as is
    Python's conversion of the rounded decimal, so the two differ only where ``x * 10**d`` lies
    within its own rounding error of a half: those few scores (and any huge one) are rounded by
    Python itself."""
    scaled = raw * 10.0**SCORE_DIGITS
    out = np.round(raw, SCORE_DIGITS)
    risky = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | ~(np.abs(raw) < 1e6)
    for i in np.flatnonzero(risky).tolist():
        out[i] = round(float(raw[i]), SCORE_DIGITS)
    return out


# --- What a query requires ----------------------------------------------------------------------------


def atom_cost(atom: Atom, stats: CorpusStats | None) -> float:
    """Expected number of papers carrying ``atom`` (lower is better), from the corpus stats: which
    of a clause's options and an AND's children to look up (any choice is correct)."""
    n = stats.doc_count if stats else 0
    kind, value = atom
    if kind == "k":
        assert isinstance(value, str)
        return stats.df.get(value, 0) + 1.0 if stats else 1.0 + 10.0 / max(len(value), 1)
    if kind == "w":
        assert isinstance(value, Word)
        if value.prefix:
            return 0.05 * n + 20.0
        return 2.0 * (stats.df.get(value.key, 0) if stats else 0) + 5.0
    if kind in ("au", "id"):
        return 1.0
    if kind in ("cat", "catp"):
        return 0.2 * n + 50.0
    return 0.5 * n + 100.0


def _word_atom(word: Word) -> Atom:
    return ("w", word) if word.dist or word.prefix else ("k", word.key)


def _meta_atoms(clause: MetaClause) -> list[Atom]:
    if clause.field == "authors":
        return [("au", form) for form in author_forms(clause)]
    if clause.field == "categories":
        return [("catp" if clause.prefix else "cat", clause.value)]
    if clause.field == "sources":
        return [("srcp" if clause.prefix else "src", clause.value)]
    return [("id", clause.value)]


def leaf_atoms(leaf: Node, cost: Callable[[Atom], float]) -> list[Atom]:
    """Atoms of which every document matching the clause carries at least one."""
    if isinstance(leaf, MetaClause):
        return _meta_atoms(leaf)
    assert isinstance(leaf, TextClause)
    options = []
    for r, word in enumerate(leaf.words):
        atoms = [_word_atom(word)]
        # The phrase can meet word r inside a joined token (word r-1 or r+1 written with it).
        atoms += [("k", j) for j in (leaf.joins[r - 1] if r else None,
                                      leaf.joins[r] if r < len(leaf.joins) else None) if j]
        options.append(atoms)
    return min(options, key=lambda atoms: sum(map(cost, atoms)))


def _triggers(node: Node, cost: Callable[[Node], float]) -> list[Node] | None:
    """Clauses of which every match of ``node`` matches at least one, or None (check always)."""
    if isinstance(node, (TextClause, MetaClause)):
        return [node]
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        found = [t for c in node.children if (t := _triggers(c, cost)) is not None]
        return min(found, key=lambda leaves: sum(map(cost, leaves))) if found else None
    branches = [_triggers(c, cost) for c in node.children]
    if any(b is None for b in branches):
        return None
    return list({id(leaf): leaf for b in branches if b for leaf in b}.values())


def _leaves_of(node: Node) -> list[TextClause]:
    if isinstance(node, TextClause):
        return [node]
    if isinstance(node, MetaClause):
        return []
    if isinstance(node, Not):
        return _leaves_of(node.child)
    return [leaf for c in node.children for leaf in _leaves_of(c)]


def _fuzzy_words(node: Node) -> set[Word]:
    if isinstance(node, TextClause):
        return {w for w in node.words if w.dist or w.prefix}
    if isinstance(node, MetaClause):
        return set()
    if isinstance(node, Not):
        return _fuzzy_words(node.child)
    return {w for c in node.children for w in _fuzzy_words(c)}


def _lookup(atom: Atom) -> Any:
    return atom[1] if atom[0] in ("k", "w") else atom
