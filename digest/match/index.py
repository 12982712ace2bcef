"""A percolator: saved queries indexed by the terms they require, so a paper meets only the queries
that could match it.

Each query is reduced to a set of *atoms* of which any match must contain at least one: for an AND
the cheapest child's set (one rarest required word suffices), for an OR the union of its branches,
for a phrase its rarest word plus the joined forms that could stand in for it. Queries with no such
set (pure NOT, ``a OR -b``) are checked against every paper. Fuzzy and prefix words are expanded
against the vocabulary once per new document key, not once per (query, paper) pair: fuzzy words
sit in a SymSpell-style deletion index (a key within d edits of a word shares a string obtained by
at most d deletions from each), prefix words under their first three letters, and the expansion of
each vocabulary key is cached. Candidates are then evaluated by the same :meth:`CompiledQuery.evaluate`
as brute force, which is why the two agree exactly (tests/test_match_index.py checks it).

Public: :class:`QueryIndex`, :func:`match_all` (the brute-force reference).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from digest.match.batch import Batch
from digest.match.plans import Shape, evaluate_plans, shape_of
from digest.match.document import Document, meta_atoms, word_similarity
from digest.match.query import And, MetaClause, Node, Not, TextClause, Word
from digest.match.score import DEFAULT_THRESHOLD, CompiledQuery, MatchResult
from digest.match.stats import CorpusStats

__all__ = ["QueryIndex", "match_all"]

# An atom: ("k", key) exact document key, ("w", Word) fuzzy or prefix word, or a structured-field
# atom from digest.match.document.meta_atoms.
Atom = tuple[str, object]
# Keys are any hashable the caller chooses (Any: Mapping is invariant in its key type).
Thresholds = Mapping[Any, float] | float
PREFIX_BUCKET = 3
# Scores are rounded to 6 decimals before the threshold: bounds keep this margin.
_EPS = 1e-6
_EMPTY: frozenset[Any] = frozenset()


def _deletions(text: str, depth: int) -> set[str]:
    """``text`` and every string made from it by deleting up to ``depth`` characters."""
    out, frontier = {text}, {text}
    for _ in range(depth):
        frontier = {s[:i] + s[i + 1:] for s in frontier for i in range(len(s))}
        out |= frontier
    return out


def _threshold(thresholds: Thresholds, key: Hashable) -> float:
    if isinstance(thresholds, (int, float)):
        return float(thresholds)
    return thresholds.get(key, DEFAULT_THRESHOLD)


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
        self._plans: dict[int, tuple[CompiledQuery, set[Any], tuple[Node, ...]]] = {}
        self._next_plan = 0
        self._always: set[int] = set()
        # trigger leaves: id(leaf) -> (leaf, plans it triggers, its atoms)
        self._leaves: dict[int, tuple[Node, set[int], tuple[Atom, ...]]] = {}
        self._exact: dict[str, set[int]] = {}
        self._words: dict[Word, set[int]] = {}
        self._meta: dict[Atom, set[int]] = {}
        # every fuzzy/prefix word of every plan, so documents can be preset with full expansions
        self._registered: dict[Word, int] = {}
        self._deletion: dict[int, dict[str, set[Word]]] = {1: {}, 2: {}}
        self._prefixes: dict[str, set[Word]] = {}
        self._key_cache: dict[str, tuple[tuple[Word, float], ...]] = {}
        self._form_cache: dict[str, tuple[Word, ...]] = {}
        self._pairs: frozenset[str] | None = None
        # plan id -> its shape and clauses (digest.match.plans), made once per plan
        self._shapes: dict[int, tuple[Shape, tuple[TextClause | MetaClause, ...]]] = {}

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
        pid = self._plan_ids.get(query.root)
        if pid is None:
            pid = self._new_plan(query)
        self._plans[pid][1].add(key)
        self._plan_of[key] = pid

    def _new_plan(self, query: CompiledQuery) -> int:
        self._pairs = None
        pid = self._next_plan
        self._next_plan += 1
        self._plan_ids[query.root] = pid
        triggers = _triggers(query.root, self._leaf_cost)
        self._plans[pid] = (query, set(), tuple(triggers or ()))
        slots: list[TextClause | MetaClause] = []
        self._shapes[pid] = (shape_of(query.root, slots), tuple(slots))
        for word in _fuzzy_words(query.root):
            self._registered[word] = self._registered.get(word, 0) + 1
            if self._registered[word] == 1:
                self._register_word(word)
        if triggers is None:
            self._always.add(pid)
            return pid
        for leaf in triggers:
            entry = self._leaves.get(id(leaf))
            if entry is None:
                atoms = tuple(_leaf_atoms(leaf, self._cost))
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
        query, keys, triggers = self._plans[pid]
        keys.discard(key)
        if keys:
            return
        del self._plans[pid]
        del self._shapes[pid]
        self._pairs = None
        del self._plan_ids[query.root]
        self._always.discard(pid)
        for word in _fuzzy_words(query.root):
            self._registered[word] -= 1
            if not self._registered[word]:
                del self._registered[word]  # its deletion entries stay; lookups check _registered
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

    def _register_word(self, word: Word) -> None:
        if word.prefix:
            self._prefixes.setdefault(word.form[:PREFIX_BUCKET], set()).add(word)
            self._form_cache.clear()
        else:
            table = self._deletion[word.dist]
            for variant in _deletions(word.key, word.dist):
                table.setdefault(variant, set()).add(word)
            self._key_cache.clear()

    def _cost(self, atom: Atom) -> float:
        """Expected number of papers carrying ``atom`` (lower is better), from the corpus stats."""
        stats = self._stats
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

    def _leaf_cost(self, leaf: Node) -> float:
        return sum(map(self._cost, _leaf_atoms(leaf, self._cost)))

    # --- matching ---------------------------------------------------------------------------------

    def _fuzzy_words_for(self, key: str) -> tuple[tuple[Word, float], ...]:
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        found: set[Word] = set()
        for depth, table in self._deletion.items():
            if table:
                for variant in _deletions(key, depth):
                    found.update(table.get(variant, ()))
        result = tuple((w, sim) for w in found if (sim := word_similarity(w, key)) is not None)
        self._key_cache[key] = result
        return result

    def _prefix_words_for(self, form: str) -> tuple[Word, ...]:
        cached = self._form_cache.get(form)
        if cached is not None:
            return cached
        bucket = self._prefixes.get(form[:PREFIX_BUCKET], ())
        result = tuple(w for w in bucket if form.startswith(w.form))
        self._form_cache[form] = result
        return result

    def _triggered_leaves(self, doc: Document) -> set[int]:
        """Trigger leaves whose atoms ``doc`` carries; presets the document's fuzzy expansions."""
        out: set[int] = set()
        exact, words = self._exact, self._words
        expansions: dict[Word, dict[str, float]] = {}
        if any(self._deletion.values()):
            for key in doc.vocab_keys:
                for w, sim in self._fuzzy_words_for(key):
                    expansions.setdefault(w, {})[key] = sim
        if self._prefixes:
            for form in doc.vocab_forms:
                for w in self._prefix_words_for(form):
                    expansions.setdefault(w, {})[form] = 1.0
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
        out: dict[Word, dict[str, float]] = {}
        if any(self._deletion.values()):
            for key in keys:
                for w, sim in self._fuzzy_words_for(key):
                    out.setdefault(w, {})[key] = sim
        if self._prefixes:
            for form in forms:
                for w in self._prefix_words_for(form):
                    out.setdefault(w, {})[form] = 1.0
        return out

    def match_batch(self, docs: Sequence[Document], stats: CorpusStats,
                    thresholds: Thresholds = DEFAULT_THRESHOLD) -> list[list[tuple[Any, float]]]:
        """Per document, ``(key, score)`` of the queries matching it at or above their threshold,
        best first: the scores :func:`match_all` gives, without explanations (see :meth:`explain`)."""
        out: list[list[tuple[Any, float]]] = [[] for _ in docs]
        if not docs:
            return out
        batch = Batch(docs, stats, self.expansions, self._phrase_pairs())
        roots: list[tuple[Node, float | None]] = []
        limits_of: list[tuple[float, list[tuple[Any, float]]]] = []
        pids = sorted(self._triggered_plans(batch))
        for pid in pids:
            query, keys, _ = self._plans[pid]
            if isinstance(thresholds, (int, float)):
                limits = [(k, float(thresholds)) for k in keys]
            else:
                limits = [(k, thresholds.get(k, DEFAULT_THRESHOLD)) for k in keys]
            lowest = min(t for _, t in limits)
            roots.append((query.root, lowest - _EPS if lowest > _EPS else None))
            limits_of.append((lowest, limits))

        def found() -> Iterable[tuple[int, Any, Any]]:
            trees = []
            for i, (root, floor) in enumerate(roots):
                if isinstance(root, (TextClause, MetaClause)):  # one clause: its batch result
                    papers, scores = batch.result(root)
                    if floor is not None:
                        keep = scores >= floor
                        papers, scores = papers[keep], scores[keep]
                    yield i, papers, scores
                else:
                    trees.append(i)
            shaped = [(*self._shapes[pids[i]], roots[i][1]) for i in trees]
            for j, papers, scores in evaluate_plans(batch, shaped):
                yield trees[j], papers, scores

        # In plan order (roots are sorted by plan id), so that ties keep the order of the plans'
        # ids whatever else is in the batch (another batch triggers other plans, in another order)
        results: list[tuple[Any, Any] | None] = [None] * len(roots)
        for i, papers, scores in found():
            results[i] = (papers, scores)
        for i, result in enumerate(results):
            if result is None:
                continue
            lowest, limits = limits_of[i]
            for p, raw in zip(result[0].tolist(), result[1].tolist()):
                score = round(raw, 6)
                if score >= lowest:
                    out[p] += [(k, score) for k, t in limits if score >= t]
        by_score = itemgetter(1)
        for hits in out:
            hits.sort(key=by_score, reverse=True)  # stable, also reversed: ties keep plan order
        return out

    def _phrase_pairs(self) -> frozenset[str]:
        """What phrases look up in a batch: "a b" for consecutive words, and "joined " for their
        joined forms written as one token (see Batch._phrase2 and Batch._phrase_candidates; fuzzy words count with their own
        keys, which is all they accept in a batch without near variants)."""
        if self._pairs is None:
            found: set[str] = set()
            for query, _, _ in self._plans.values():
                for leaf in _leaves_of(query.root):
                    if len(leaf.words) > 1 and not any(w.prefix for w in leaf.words):
                        found.update(f"{a.key} {b.key}" for a, b in zip(leaf.words, leaf.words[1:]))
                        found.update(j + " " for j in leaf.joins if j)
            self._pairs = frozenset(found)
        return self._pairs

    def _triggered_plans(self, batch: Batch) -> set[int]:
        """Plans with a trigger clause whose atoms the batch holds (others cannot match)."""
        lids: set[int] = set()
        exact = self._exact
        for key in batch.key_ids:
            holders = exact.get(key)
            if holders:
                lids |= holders
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


# --- What a query requires ----------------------------------------------------------------------------


def _word_atom(word: Word) -> Atom:
    return ("w", word) if word.dist or word.prefix else ("k", word.key)


def _meta_atom(clause: MetaClause) -> Atom:
    if clause.field == "authors":
        return ("au", clause.value.split()[-1])
    if clause.field == "categories":
        return ("catp" if clause.prefix else "cat", clause.value)
    if clause.field == "sources":
        return ("srcp" if clause.prefix else "src", clause.value)
    return ("id", clause.value)


def _leaf_atoms(leaf: Node, cost: Callable[[Atom], float]) -> list[Atom]:
    """Atoms of which every document matching the clause carries at least one."""
    if isinstance(leaf, MetaClause):
        return [_meta_atom(leaf)]
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
