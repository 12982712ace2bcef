"""Evaluating a compiled query on a document: whether it matches, its score, and why.

The score (docs/queries.md has the worked version):

* A text clause (a word or phrase) sums its hits per field, each hit counting its quality (1 for
  an exact hit, the rapidfuzz similarity for a fuzzy one), weights the fields (title 2.5, tl;dr 1.8,
  keywords 1.5, abstract 0.5), saturates like BM25 (``x (k1 + 1) / (x + k1)``, k1 = 1.2) and
  multiplies by the term's normalised idf (:func:`digest.match.stats.idf_weight`; phrases use 0.7
  times the sum of their words' idf, capped), floored at :data:`IDF_FLOOR`: rarity ranks but never
  vetoes. One mention in an abstract therefore stays below :data:`DEFAULT_THRESHOLD` however rare
  the word, and one title hit of any word clears it.
* ``au:`` and ``id:`` clauses score 2.0, ``cat:`` and ``src:`` 1.0 and act as filters: in an AND
  they do not dilute the text clauses' score.
* AND averages its scoring children and adds a proximity bonus ``1 + 0.25 / gap`` when two of them
  hit within 5 tokens of each other in one field; OR takes the best child plus 0.2 of the others;
  NOT only filters.

Public: :func:`compile_query`, :class:`CompiledQuery`, :class:`MatchResult`, :data:`DEFAULT_THRESHOLD`,
:func:`highlight`; :func:`~digest.match.validate.validate_for_save` and
:class:`~digest.match.stats.CorpusStats` are re-exported for callers that import from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

from digest.match.authors import author_matches
from digest.match.document import Document, FieldText
from digest.match.normalize import Term
from digest.match.query import (AUTO_FUZZY_MIN_KEY, And, MetaClause, Node, Not, Or, Query, TextClause, parse,
                                 vocabulary_words)
from digest.match.stats import IDF_MAX, CorpusStats
from digest.match.validate import validate_for_save
from digest.text import surname_form

__all__ = ["compile_query", "CompiledQuery", "MatchResult", "DEFAULT_THRESHOLD", "FIELD_WEIGHTS", "highlight",
           "validate_for_save", "CorpusStats"]

# Tuned on the "tune" needs of tests/data/eval (docs/benchmarks.md, "Relevance"): the best F1 with
# micro precision >= 0.85. Abstract 0.5 keeps one abstract mention (at most 1.5 x sat(0.5) = 0.97)
# under the threshold while two mentions of a fairly rare word pass.
DEFAULT_THRESHOLD = 1.0
#: Also stored: the search index's heavy terms are weighed with these when a paper is indexed
#: (digest.match.search_index.heavy_terms), so changing them needs a migration that rebuilds the
#: index, as 0007 does; else search could leave out papers that now match.
FIELD_WEIGHTS = {"title": 2.5, "tldr": 1.8, "keywords": 1.5, "abstract": 0.5}
META_SCORES = {"authors": 2.0, "ids": 2.0, "categories": 1.0, "sources": 1.0}
#: The structured fields whose clauses filter: in an AND they do not dilute the text clauses' score.
FILTER_FIELDS = ("categories", "sources")
K1 = 1.2
PHRASE_IDF_FACTOR = 0.7
OR_OTHERS = 0.2
PROXIMITY_BONUS, PROXIMITY_WINDOW = 0.25, 5
#: The smallest rarity factor: with it one title hit (0.7 x sat(2.5) = 1.04) passes the default
#: threshold even for a word in most papers ("quantum" in a physics feed).
IDF_FLOOR = 0.7


@dataclass(frozen=True, slots=True)
class MatchResult:
    score: float
    explanation: dict[str, Any]


class _Hit(NamedTuple):
    pos: int
    start: int
    end: int
    quality: float
    key: str
    kind: str


class _Leaf(NamedTuple):
    """A clause's result on one document. ``fields`` holds (field, hits, all exact) per field with
    hits; exact single words keep the document's own postings list (no copy)."""

    score: float
    filter: bool
    fields: tuple[tuple[str, Sequence[Term | _Hit], bool], ...]
    meta: tuple[list[str], list[list[int]]] | None = None


class CompiledQuery:
    """A parsed query ready to evaluate; immutable and safe to share.

    Its leaves are interned: equal clauses of different queries are one object, so a document
    scores each distinct clause once however many saved queries contain it.
    """

    __slots__ = ("text", "query", "root")

    def __init__(self, query: Query) -> None:
        self.text = query.text
        self.query = query
        self.root: Node = _intern(query.root)

    def score(self, doc: Document, stats: CorpusStats) -> float | None:
        """The score alone (cheap: no explanation), or None when the query does not match."""
        bind_document(doc, stats)
        found = _score(self.root, doc, stats)
        return None if found is None else round(found[0], SCORE_DIGITS)

    def evaluate(self, doc: Document, stats: CorpusStats) -> MatchResult | None:
        """The match of this query on ``doc`` with its explanation, or None. Pure NOT queries
        match with score 0. Clause dicts are shared by queries evaluated on the same document:
        treat explanations as read-only."""
        score = self.score(doc, stats)
        if score is None:
            return None
        return MatchResult(score, {"kind": "query", "score": score, "clauses": _explain(self.root, doc, stats)})

    def __repr__(self) -> str:
        return f"CompiledQuery({self.text!r})"


#: Scores are rounded to this many decimals (stored and compared with thresholds so).
SCORE_DIGITS = 6

#: Below this many papers the vocabulary says too little to call a word a typo.
VOCAB_MIN_DOCS = 50
#: A word in at least this many papers (and this share of them) is a word in its own right, not a
#: typo: "simulation", "topology" mean themselves. A typo repeated by a few papers stays below it.
COMMON_MIN_DF = 3
COMMON_MIN_SHARE = 0.0005
#: A word the corpus knows but uses less often than that is taken for a typo (and keeps its
#: tolerance) only when a word this many times as frequent, and itself used often, is one edit
#: away: the noisy channel of spell checkers, where a typo is much rarer than the word it
#: misspells. "apporach" (1 paper) beside "approach" (1,558 of 3,603) stays tolerant; "graphene"
#: beside "grapheme", both rare, does not. Measured on the arXiv captures (tests/data/corpus):
#: of their rare long words with a frequent neighbour, 39 misspellings and 102 real words (labelled
#: by hand), a ratio of 10 keeps 35 misspellings tolerant (the 4 others misspell words themselves
#: in at most 6 papers) and makes 51 real words exact; 5 keeps the same 35 but makes only 26
#: exact, while above 10 both fall together (20: 33 and 59; 50: 29 and 74).
TYPO_RATIO = 10


def compile_query(text: str, stats: CorpusStats | None = None) -> CompiledQuery:
    """Parse ``text`` (raises QueryError) into a reusable :class:`CompiledQuery`.

    With ``stats``, a word of 5 to 7 letters that is no word of the corpus gets one edit of
    tolerance, and a word of 8 or more gets none when it means itself: the corpus uses it often, or
    knows it and has no much more frequent word one edit away (:func:`means_itself`;
    docs/queries.md, "Typos"). The result is a function of the text and of the statistics alone,
    so the same text and statistics always compile to the same query, wherever it is compiled
    (subscriptions and tags in the query index, search, eval).
    """
    unknown: frozenset[str] = frozenset()
    common: frozenset[str] = frozenset()
    if stats is not None and stats.doc_count >= VOCAB_MIN_DOCS:
        words = vocabulary_words(text)
        unknown = frozenset(k for k in words if not stats.df.get(k))
        often = often_df(stats)
        common = frozenset(k for k in words if means_itself(k, stats, often))
    return _compile(text, unknown, common)


def often_df(stats: CorpusStats) -> float:
    """The number of papers from which the corpus uses a word often (a word in its own right)."""
    return max(COMMON_MIN_DF, stats.doc_count * COMMON_MIN_SHARE)


def means_itself(key: str, stats: CorpusStats, often: float | None = None) -> bool:
    """Whether a (long) query word the corpus knows is taken as written, without automatic typo
    tolerance: the corpus uses it ``often``, or uses it less but has no word one edit away (first
    letter kept) in at least ``often`` and :data:`TYPO_RATIO` times as many papers. Unknown words
    (in no paper) never do: they can only be typos."""
    if often is None:
        often = often_df(stats)
    df = stats.df.get(key, 0)
    if df >= often:
        return True
    if not df or len(key) < AUTO_FUZZY_MIN_KEY:  # shorter keys never get the long words' tolerance
        return False
    bar = max(often, TYPO_RATIO * df)
    return not any(n >= bar for n in stats.frequent_near(key, often).values())


@lru_cache(maxsize=8192)
def _compile(text: str, unknown: frozenset[str], common: frozenset[str]) -> CompiledQuery:
    return CompiledQuery(parse(text, unknown, common))


# Distinct leaves ever compiled (bounded by the distinct clauses of saved queries); documents key
# their per-leaf cache on the interned object's id, which this table keeps alive.
_LEAVES: dict[Node, Node] = {}


def _intern(node: Node) -> Node:
    if isinstance(node, (TextClause, MetaClause)):
        return _LEAVES.setdefault(node, node)
    if isinstance(node, Not):
        return Not(_intern(node.child), node.column)
    children = tuple(_intern(c) for c in node.children)
    return And(children) if isinstance(node, And) else Or(children)


def scoring_form(node: Node) -> Node:
    """``node`` without what cannot change a score -- clause texts and columns, words' surfaces --
    interned: queries that score alike on every paper ("Transformer" and "transformer", a word at
    column 1 or 12) get the very same tree, which the query index evaluates once for all of them.
    Explanations quote the clause texts: build them from the query itself."""
    if isinstance(node, TextClause):
        words = tuple(replace(w, surface="") for w in node.words)
        text = replace(node, words=words, quoted=False, text="", column=0)
        return _LEAVES.setdefault(text, text)
    if isinstance(node, MetaClause):
        meta = replace(node, text="", column=0)
        return _LEAVES.setdefault(meta, meta)
    if isinstance(node, Not):
        return Not(scoring_form(node.child), 0)
    children = tuple(scoring_form(c) for c in node.children)
    return And(children) if isinstance(node, And) else Or(children)


def bind_document(doc: Document, stats: CorpusStats) -> None:
    """Drop the document's cached clause scores unless they were made with this version of ``stats``."""
    owner = (id(stats), stats.version)
    if doc.cache_owner != owner:
        doc.leaf_cache.clear()
        doc.note_cache.clear()
        doc.cache_owner = owner


def leaf_result(leaf: TextClause | MetaClause, doc: Document, stats: CorpusStats) -> _Leaf | None:
    """The cached result of one (interned) clause on ``doc``."""
    cache = doc.leaf_cache
    key = id(leaf)
    try:
        return cache[key]  # type: ignore[no-any-return]
    except KeyError:
        res = _eval_text(leaf, doc, stats) if isinstance(leaf, TextClause) else _eval_meta(leaf, doc)
        cache[key] = res
        return res


def _score(node: Node, doc: Document, stats: CorpusStats) -> tuple[float, bool] | None:
    """(score, is a filter) of ``node`` on ``doc``, or None."""
    if isinstance(node, (TextClause, MetaClause)):
        leaf = leaf_result(node, doc, stats)
        return None if leaf is None else (leaf.score, leaf.filter)
    if isinstance(node, And):
        return _score_and(node, doc, stats)
    if isinstance(node, Or):
        found = [r for c in node.children if (r := _score(c, doc, stats)) is not None]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        scores = sorted((r[0] for r in found), reverse=True)
        return scores[0] + OR_OTHERS * sum(scores[1:]), all(r[1] for r in found)
    return None if _score(node.child, doc, stats) is not None else (0.0, True)


def _score_and(node: And, doc: Document, stats: CorpusStats) -> tuple[float, bool] | None:
    found: list[tuple[float, bool]] = []
    positive: list[Node] = []
    for child in node.children:  # positive children first: they fail fastest
        if not isinstance(child, Not):
            r = _score(child, doc, stats)
            if r is None:
                return None
            found.append(r)
            positive.append(child)
    for child in node.children:
        if isinstance(child, Not) and _score(child.child, doc, stats) is not None:
            return None
    if not found:
        return 0.0, True
    scoring = [i for i, r in enumerate(found) if not r[1]] or list(range(len(found)))
    score = sum(found[i][0] for i in scoring) / len(scoring)
    if len(scoring) > 1:
        score *= _proximity([_positions(positive[i], doc, stats) for i in scoring])
    return score, all(r[1] for r in found)


def _positions(node: Node, doc: Document, stats: CorpusStats) -> dict[str, list[int]]:
    """Token positions per field of the clauses that make ``node`` (a matched node) match."""
    out: dict[str, list[int]] = {}
    for leaf in _matched_leaves(node, doc, stats):
        if isinstance(leaf, TextClause):
            res = doc.leaf_cache[id(leaf)]
            for name, hits, _ in res.fields:
                out.setdefault(name, []).extend(h.pos for h in hits)
    return out


def _matched_leaves(node: Node, doc: Document, stats: CorpusStats) -> list[TextClause | MetaClause]:
    """Leaves of a matched ``node`` that take part in the match: not under a NOT, not in an OR
    branch that failed (a clause may have matched inside a failed AND: it does not count)."""
    if isinstance(node, (TextClause, MetaClause)):
        return [node]
    if isinstance(node, Not):
        return []
    children = node.children if isinstance(node, And) else [
        c for c in node.children if _score(c, doc, stats) is not None]
    return [leaf for c in children for leaf in _matched_leaves(c, doc, stats)]


def _proximity(positions: Sequence[dict[str, list[int]]]) -> float:
    """1 + 0.25/gap for the closest pair of hits of two different children in one field."""
    best = PROXIMITY_WINDOW + 1
    for i, a in enumerate(positions):
        for b in positions[i + 1:]:
            for field, pa in a.items():
                pb = b.get(field)
                if pb:
                    best = min(best, _min_gap(pa, pb))
    return 1.0 + PROXIMITY_BONUS / best if 0 < best <= PROXIMITY_WINDOW else 1.0


def _min_gap(a: list[int], b: list[int]) -> int:
    """The smallest non-zero distance between a position in ``a`` and one in ``b`` (a token hit by
    both children is no evidence of proximity); ``1 << 30`` when there is none."""
    return min((abs(x - y) for x in a for y in b if x != y), default=1 << 30)


def _explain(node: Node, doc: Document, stats: CorpusStats) -> list[dict[str, Any]]:
    """Clause dicts of the leaves that make a matched ``node`` match (built once per leaf and document)."""
    out: list[dict[str, Any]] = []
    for leaf in _matched_leaves(node, doc, stats):
        notes = doc.note_cache.get(id(leaf))
        if notes is None:
            notes = doc.note_cache[id(leaf)] = _clause_notes(leaf, doc.leaf_cache[id(leaf)], doc)
        out.extend(notes)
    return out


# --- Text clauses -----------------------------------------------------------------------------------


def _eval_text(clause: TextClause, doc: Document, stats: CorpusStats) -> _Leaf | None:
    words = clause.words
    if len(words) == 1 and not words[0].dist and not words[0].prefix:
        return _eval_exact_word(clause, doc, stats)
    expansions = [doc.expand(w) for w in words]
    if len(words) == 1 and not expansions[0]:
        return None
    per_field: list[tuple[str, Sequence[Term | _Hit], bool]] = []
    x = 0.0
    best: _Hit | None = None
    for name in clause.fields:
        ft = doc.fields[name]
        hits = _word_hits(clause, ft, expansions[0]) if len(words) == 1 else _phrase_hits(clause, ft, expansions)
        if hits:
            per_field.append((name, hits, False))
            x += FIELD_WEIGHTS[name] * sum(h.quality for h in hits)
            top = max(hits, key=lambda h: (h.quality, h.key))
            if best is None or (top.quality, top.key) > (best.quality, best.key):
                best = top
    if best is None:
        return None
    if len(words) == 1:
        idf = clause_idf(stats, best.key)
    else:
        # Rarity of what was found, not of what was typed: a typo is rare, the word it meant is not.
        idf = max(IDF_FLOOR, min(IDF_MAX, PHRASE_IDF_FACTOR * sum(
            stats.idf(max(e.items(), key=lambda kv: (kv[1], kv[0]))[0] if e else w.key)
            for w, e in zip(words, expansions))))
    return _Leaf(saturate(idf, x), False, tuple(per_field))


def saturate(idf: float, x: float) -> float:
    """A text clause's score from its weighted hits ``x`` and rarity factor (module docstring):
    increasing in both, so search can bound a score from bounds on them."""
    return idf * x * (K1 + 1) / (x + K1)


def clause_idf(stats: CorpusStats, key: str) -> float:
    """The rarity factor of a word clause: the normalised idf, floored so that idf ranks and never
    vetoes (a word in half the papers still passes with one title hit)."""
    return max(IDF_FLOOR, stats.idf(key))


def _eval_exact_word(clause: TextClause, doc: Document, stats: CorpusStats) -> _Leaf | None:
    key = clause.words[0].key
    if key not in doc.vocab_keys:
        return None
    per_field = []
    x = 0.0
    for name in clause.fields:
        found = doc.fields[name].postings.get(key)
        if found:
            per_field.append((name, found, True))
            x += FIELD_WEIGHTS[name] * len(found)
    if not per_field:
        return None
    return _Leaf(saturate(clause_idf(stats, key), x), False, tuple(per_field))  # type: ignore[arg-type]


def _word_hits(clause: TextClause, ft: FieldText, expansion: dict[str, float]) -> list[_Hit]:
    word = clause.words[0]
    postings = ft.form_postings if word.prefix else ft.postings
    kind_default = "prefix" if word.prefix else "exact"
    hits = []
    for cand, sim in expansion.items():
        kind = kind_default if word.prefix or cand == word.key else "fuzzy"
        for t in postings.get(cand, ()):
            hits.append(_Hit(t.pos, t.start, t.end, sim, t.key, kind))
    hits.sort()
    return hits


def _phrase_hits(clause: TextClause, ft: FieldText, expansions: list[dict[str, float]]) -> list[_Hit]:
    """Occurrences of the words in order at consecutive tokens. A word may cover a joined pair of
    tokens ("selfsupervised" on "self supervised") and two words one token (the reverse)."""
    words, n = clause.words, len(clause.words)
    # options[i][pos] -> [(width, similarity, inexact)] where word i matches starting at token pos
    options: list[dict[int, list[tuple[int, float, bool]]]] = []
    joins: list[set[int]] = [{t.pos for t in ft.postings.get(j, ()) if t.width == 1} if j else set()
                             for j in clause.joins]
    for i, (word, expansion) in enumerate(zip(words, expansions)):
        opts: dict[int, list[tuple[int, float, bool]]] = {}
        postings = ft.form_postings if word.prefix else ft.postings
        for cand, sim in expansion.items():
            for t in postings.get(cand, ()):
                opts.setdefault(t.pos, []).append((t.width, sim, word.prefix or cand != word.key))
        if not opts and not (i and joins[i - 1]) and not (i < n - 1 and joins[i]):
            return []  # this word is nowhere in the field, not even inside a joined token
        for choices in opts.values():  # best first, whatever order the expansion came in
            choices.sort(key=lambda o: (-o[1], o[0]))
        options.append(opts)
    seq = ft.seq
    hits = []
    for start in sorted(set(options[0]) | joins[0]):
        found = _phrase_at(options, joins, n, 0, start)
        if found is not None:
            end, quality, inexact = found
            kind = "prefix" if any(w.prefix for w in words) else "fuzzy" if inexact else "exact"
            hits.append(_Hit(start, seq[start].start, seq[end - 1].end, quality / n, seq[start].key, kind))
    return hits


def _phrase_at(options: list[dict[int, list[tuple[int, float, bool]]]], joins: list[set[int]], n: int,
               i: int, pos: int) -> tuple[int, float, bool] | None:
    """(end token, summed similarity, any inexact word) of words i.. matched from token pos."""
    if i == n:
        return pos, 0.0, False
    for width, sim, inexact in options[i].get(pos, ()):
        rest = _phrase_at(options, joins, n, i + 1, pos + width)
        if rest is not None:
            return rest[0], rest[1] + sim, rest[2] or inexact
    if i + 1 < n and pos in joins[i]:
        rest = _phrase_at(options, joins, n, i + 2, pos + 1)
        if rest is not None:
            return rest[0], rest[1] + 2.0, rest[2]
    return None


def _clause_notes(clause: TextClause | MetaClause, leaf: _Leaf, doc: Document) -> list[dict[str, Any]]:
    if isinstance(clause, MetaClause):
        matched, spans = leaf.meta or ([], [])
        return [{"clause": clause.text, "field": clause.field, "kind": "prefix" if clause.prefix else "exact",
                 "phrase": False, "matched": matched, "similarity": 1.0, "spans": spans,
                 "score": round(leaf.score, 4)}]
    notes = []
    for name, hits, exact in leaf.fields:
        text = doc.fields[name].text
        if exact:
            kinds, best = {"exact"}, 1.0
        else:
            kinds = {h.kind for h in hits}  # type: ignore[union-attr]
            best = max(h.quality for h in hits)  # type: ignore[union-attr]
        notes.append({
            "clause": clause.text,
            "field": name,
            "kind": "exact" if "exact" in kinds else "prefix" if "prefix" in kinds else "fuzzy",
            "phrase": len(clause.words) > 1,
            "matched": sorted({text[h.start:h.end] for h in hits}),
            "similarity": round(best, 4),
            "spans": [[h.start, h.end] for h in hits],
            "score": round(leaf.score, 4),
        })
    return notes


# --- Structured clauses -----------------------------------------------------------------------------


def _eval_meta(clause: MetaClause, doc: Document) -> _Leaf | None:
    spans: list[list[int]] = []
    matched: list[str] = []
    if clause.field == "authors":
        for a in doc.authors:
            if author_matches(clause, a):
                spans.append([a.start, a.end])
                matched.append(a.name)
    elif clause.field == "categories":
        offset = 0
        for c in doc.categories:
            if _category_matches(clause, c):
                spans.append([offset, offset + len(c)])
                matched.append(c)
            offset += len(c) + 2
    elif clause.field == "sources":
        matched = sorted(s for s in doc.sources
                         if (s.startswith(clause.value) if clause.prefix else s == clause.value))
    else:
        matched = [clause.value] if clause.value in doc.ids else []
    if not matched:
        return None
    return _Leaf(META_SCORES[clause.field], clause.field in FILTER_FIELDS, (), (matched, spans))


def author_forms(clause: MetaClause) -> list[str]:
    """The surname forms an author clause looks for: every author it matches has one of them among
    its ``forms`` (what the query index files authors under)."""
    return list(dict.fromkeys(surname_form(surname) for surname, _ in clause.readings()))


def _category_matches(clause: MetaClause, category: str) -> bool:
    if clause.prefix:
        return category.startswith(clause.value)
    # "cat:cs" names the archive: every cs.* category.
    return category == clause.value or category.startswith(clause.value + ".")


# --- Highlighting -----------------------------------------------------------------------------------


def highlight(text: str, spans: Iterable[Sequence[int]]) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, highlighted) pieces; overlapping spans merge."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((text[start:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces
