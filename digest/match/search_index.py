"""The search index: which stored papers a search query could match, without reading the others.

The saved-query index (:mod:`digest.match.index`) answers "which queries could match this paper";
search asks the reverse, once, over every stored paper: evaluating the query on each of them took
~1-2 ms a paper (~8 minutes at 400,000 papers), nearly all of it building the paper's
:class:`~digest.match.document.Document`. So `digest match`, which builds those documents anyway,
also stores each paper's *terms* (digest.store.search_index keeps them as postings of ingest sequence
numbers):

- ``t:<key>`` for every key and form of its text fields (single tokens, joined pairs, acronym keys),
- ``au:<surname form>``, ``cat:<category or archive>``, ``src:<source>``, ``id:<identifier>``,

which are exactly the *atoms* the query index files queries under (:func:`~digest.match.index.leaf_atoms`,
:func:`~digest.match.document.meta_atoms`). A query needs, per clause, one of its atoms (the option
the query index would choose); an AND needs all of its positive children, an OR one of its branches,
a NOT nothing. The papers posted under those atoms are the *candidates*; every candidate is then
evaluated by the same :meth:`~digest.match.score.CompiledQuery.evaluate` as before, so the hits are
exactly those of evaluating every paper (tests/test_search_index.py checks it on both backends).
Each paper is also posted under *heavy* terms, ``h1:<key>`` and ``h2:<key>`` for the keys whose
weighted hits in its text fields reach 1 and 2 (:func:`heavy_terms`): for a one-word query they leave
out the candidates that mention the word too lightly to reach the threshold (:func:`_reaching`;
tests/test_search_heavy_terms.py).

What the postings cannot know is checked directly, every time:

- papers above the index's watermark (ingested since the last `digest match`, or a new version);
- papers whose document changed without a new sequence number (``search_pending``: a record from
  another source filled a field, a new source, a merge);
- topic tags, which join a paper's keywords in search (digest.match.search) but not in the indexed
  document: a tag whose own words meet a clause's atom adds the papers it tags.

Postings are only added: a paper's older version leaves terms under a sequence number no paper has
any more (they find nothing), or under the one it still has (an extra candidate, evaluated).

Public: :data:`WATERMARK`, :func:`document_terms`, :func:`postings_of`, :func:`catch_up`,
:func:`candidate_papers`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from digest.gcpause import gc_paused
from digest.match.document import Document, FieldText, meta_atoms, word_similarity
from digest.match.index import Atom, atom_cost, leaf_atoms
from digest.match.query import And, MetaClause, Node, Not, Or, TextClause, Word
from digest.match.score import (FIELD_WEIGHTS, FILTER_FIELDS, SCORE_DIGITS, CompiledQuery, clause_idf, saturate,
                                scoring_form)
from digest.match.stats import CorpusStats
from digest.match.validate import only_exclusions
from digest.models import Paper
from digest.store.search_index import TERM_LENGTH

__all__ = ["WATERMARK", "document_terms", "postings_of", "catch_up", "candidate_papers"]

#: The ingest sequence up to which every paper's current terms are posted.
WATERMARK = "search"
#: Papers read per indexing batch and per page of papers checked directly.
BATCH = 2000
_META_KINDS = frozenset({"au", "cat", "src", "id"})
#: The weighted-hit levels of heavy terms (:func:`heavy_terms`): 1 is a title, tl;dr or keyword hit
#: or two abstract mentions; 2 a title hit or four abstract mentions. Stored in the index: changing
#: them (or FIELD_WEIGHTS) needs a migration that rebuilds it (as 0007 does).
HEAVY_LEVELS = (1.0, 2.0)

Seqs = npt.NDArray[np.int64]


def document_terms(doc: Document) -> set[str]:
    """The terms a paper is posted under (module docstring)."""
    found = {"t:" + k for k in doc.vocab_keys}
    found.update("t:" + f for f in doc.vocab_forms)
    found.update(heavy_terms(doc))
    # catp/srcp (prefixes of categories and sources) are answered by prefix ranges of cat:/src:.
    found.update(f"{kind}:{value}" for kind, value in meta_atoms(doc) if kind in _META_KINDS)
    return found


def heavy_terms(doc: Document) -> Iterator[str]:
    """``h<L>:<key>`` for each of :data:`HEAVY_LEVELS` that the key's weighted hits reach: its
    terms in each text field times the field's weight (digest.match.score.FIELD_WEIGHTS), summed,
    which is what a one-word clause on that exact key adds up (:func:`_reaching` reads them)."""
    weighted: dict[str, float] = defaultdict(float)
    for name, field in doc.fields.items():
        weight = FIELD_WEIGHTS[name]
        for key, found in field.postings.items():
            weighted[key] += weight * len(found)
    low = HEAVY_LEVELS[0]
    for key, total in weighted.items():
        if total >= low:
            yield from (_heavy_term(level, key) for level in HEAVY_LEVELS if total >= level)


def _heavy_term(level: float, key: str) -> str:
    return f"h{level:g}:{key}"


def _postings_of_papers(papers: Iterable[Paper]) -> dict[str, list[int]]:
    """:func:`postings_of` the papers' documents (as indexed: without topic tags or batch counts)."""
    with gc_paused():  # documents are many small containers in no cycle (see digest.match.run)
        return postings_of((p.seq, Document.from_paper(p, batch=False)) for p in papers)


def postings_of(pairs: Iterable[tuple[int, Document]]) -> dict[str, list[int]]:
    """term -> the sequence numbers of the documents carrying it (each paper once, by its latest)."""
    postings: dict[str, list[int]] = defaultdict(list)
    for seq, doc in pairs:
        for term in document_terms(doc):
            postings[term].append(seq)
    return postings


# --- keeping the index current ------------------------------------------------------------------

def catch_up(store: Any, *, up_to: int, batch: int = BATCH, progress: Callable[[int, int], None] | None = None) -> int:
    """Index the pending papers, and every paper above the search watermark up to ``up_to`` (the
    match watermark: later papers are indexed by the `digest match` batches that match them).
    Returns how many papers were indexed; ``progress(done, total)`` in sequence numbers, after each
    batch above the watermark (an upgraded installation indexes its whole store once, ~1 ms a
    paper). Idempotent; safe beside another pass (it yields)."""
    indexed = 0
    mark, pending = store.search_pending()
    watermark = store.get_watermark(WATERMARK)
    for i in range(0, len(pending), batch):
        # Those above the watermark are indexed below, or by the `digest match` batch that matches them.
        papers = [p for p in store.papers_by_ids(pending[i:i + batch]).values() if p.seq <= watermark]
        postings = _postings_of_papers(papers)
        last = i + batch >= len(pending)
        with store.write() as conn:
            if postings:
                store.save_search_segment(postings, conn=conn)
            if last:
                store.clear_search_pending(mark, conn=conn)
        indexed += len(papers)
    start = watermark
    while watermark < up_to:
        papers = store.papers_above_seq(watermark, limit=batch, up_to=up_to)
        reached = up_to if len(papers) < batch else papers[-1].seq
        postings = _postings_of_papers(papers)
        with store.write() as conn:
            if store.get_watermark(WATERMARK, conn=conn) != watermark:  # another pass got there first
                watermark = store.get_watermark(WATERMARK, conn=conn)
                continue
            if postings:
                store.save_search_segment(postings, conn=conn)
            store.set_watermark(WATERMARK, reached, conn=conn)
        watermark = reached
        indexed += len(papers)
        if progress:
            progress(min(watermark, up_to) - start, up_to - start)
    return indexed


# --- searching ----------------------------------------------------------------------------------

def candidate_papers(store: Any, compiled: CompiledQuery, stats: CorpusStats,
                     tags: Mapping[str, Iterable[str]], *, cutoff: float | None = None) -> Iterator[Paper]:
    """Every stored paper ``compiled`` could match (a superset of its matches), each once: the
    indexed candidates, then the papers the index does not cover yet. ``tags`` is what search adds
    to papers' keywords (paper id -> topic tag names). With ``cutoff``, indexed papers that cannot
    score that much are left out where the heavy terms tell (:func:`_reaching`)."""
    watermark = store.get_watermark(WATERMARK)
    lookup = _Lookup(store, stats, tags)
    root = scoring_form(compiled.root)
    # With a positive cutoff, only papers that score can be found: an OR's branch of exclusions
    # alone (``quantum OR -model``) scores 0 and adds no candidate.
    required = _required(root, lookup, scoring=bool(cutoff and cutoff > 0)) if watermark else None
    if required is None:  # nothing to narrow by (a NOT query, an index not built yet): every paper
        yield from store.iter_papers()
        return
    reaching = _reaching(root, lookup, stats, cutoff) if cutoff is not None else None
    if reaching is not None:
        required = np.intersect1d(required, reaching, assume_unique=True)
    seen: set[str] = set()
    for i in range(0, len(required), BATCH):
        for paper in store.papers_by_seqs(required[i:i + BATCH].tolist()):
            if paper.seq <= watermark:  # above it, the pages below read it
                seen.add(paper.id)
                yield paper
    # Pending papers are read whatever the index says (their text changed since it was indexed).
    _, pending = store.search_pending()
    for paper in store.papers_by_ids([pid for pid in pending if pid not in seen]).values():
        seen.add(paper.id)
        yield paper
    after = watermark
    while True:
        page = store.papers_above_seq(after, limit=BATCH)
        for paper in page:
            if paper.id not in seen:
                yield paper
        if len(page) < BATCH:
            return
        after = page[-1].seq


def _required(node: Node, lookup: "_Lookup", *, scoring: bool = False) -> Seqs | None:
    """The papers every match of ``node`` is among (sorted sequence numbers), or None for any paper;
    with ``scoring``, every match of ``node`` that scores more than 0. An OR scores what its branches
    do, so a branch of exclusions alone (score 0) adds no such match; inside an AND a 0 can be a
    filter's, which does not stop the AND from scoring, so there every match counts again."""
    if isinstance(node, (TextClause, MetaClause)):
        return lookup.leaf(node)
    if isinstance(node, Not):
        return None
    scoring = scoring and isinstance(node, Or)
    kept = [c for c in node.children if not (scoring and only_exclusions(c) is not None)]
    children = [_required(c, lookup, scoring=scoring) for c in kept]
    if isinstance(node, And):  # every positive child must match
        known = [c for c in children if c is not None]
        if not known:
            return None
        found = min(known, key=len)
        for other in known:
            if other is not found:
                found = np.intersect1d(found, other, assume_unique=True)
        return found
    assert isinstance(node, Or)
    if any(c is None for c in children):
        return None
    return np.unique(np.concatenate(children)) if children else np.zeros(0, np.int64)  # type: ignore[arg-type]


class _Lookup:
    """A search's reads of the index: atoms -> sequence numbers, tags included."""

    def __init__(self, store: Any, stats: CorpusStats, tags: Mapping[str, Iterable[str]]) -> None:
        self._store = store
        self._stats = stats
        self._tagged: dict[str, list[str]] = defaultdict(list)  # tag name -> paper ids
        for paper_id, names in tags.items():
            for name in names:
                self._tagged[name].append(paper_id)
        self._tag_vocab: dict[str, frozenset[str]] = {}
        self._near: dict[Word, dict[str, float] | None] = {}
        self._near_postings: dict[Word, dict[str, Seqs]] = {}

    @property
    def store(self) -> Any:
        return self._store

    def leaf(self, leaf: TextClause | MetaClause) -> Seqs | None:
        atoms = leaf_atoms(leaf, self._cost)
        parts: list[Seqs] = []
        for atom in atoms:
            seqs = self._atom(atom)
            if seqs is None:
                return None
            parts.append(seqs)
        parts.append(self._tagged_seqs(atoms))
        return np.unique(np.concatenate(parts))

    def tagged_seqs(self, leaf: TextClause | MetaClause) -> Seqs:
        """The papers whose topic tags hold one of ``leaf``'s atoms."""
        return self._tagged_seqs(leaf_atoms(leaf, self._cost))

    def _tagged_seqs(self, atoms: list[Atom]) -> Seqs:
        tagged = self._tagged_papers(atoms)
        if not tagged:
            return np.zeros(0, np.int64)
        return np.asarray(sorted(self._store.paper_seqs(tagged).values()), np.int64)

    def _atom(self, atom: Atom) -> Seqs | None:
        kind, value = atom
        store = self._store
        if kind == "k":
            return store.search_postings(["t:" + str(value)])  # type: ignore[no-any-return]
        if kind == "w":
            assert isinstance(value, Word)
            if value.prefix:
                return store.search_prefix_postings("t:" + value.form)  # type: ignore[no-any-return]
            found = self.near_postings(value)
            if found is None:
                return None
            return np.unique(np.concatenate(list(found.values()))) if found else np.zeros(0, np.int64)
        if kind in ("catp", "srcp"):
            return store.search_prefix_postings(f"{kind[:-1]}:{value}")  # type: ignore[no-any-return]
        return store.search_postings([f"{kind}:{value}"])  # type: ignore[no-any-return]

    def near_terms(self, word: Word) -> dict[str, float] | None:
        """Every indexed term a fuzzy ``word`` accepts, with its similarity; None when one could be
        stored cut (:data:`TERM_LENGTH`): then the word constrains nothing."""
        found = self._near.get(word)
        if found is not None or word in self._near:
            return found
        longest = len(word.key) + word.dist + 2
        if longest > TERM_LENGTH:
            self._near[word] = None
            return None
        start = "t:" + (word.key[:1] if word.anchored else "")
        found = {}
        for term in self._store.search_terms_in(start, min_length=len(word.key) - word.dist + 2, max_length=longest):
            sim = word_similarity(word, term[2:])
            if sim is not None:
                found[term[2:]] = sim
        self._near[word] = found
        return found

    def near_postings(self, word: Word) -> dict[str, Seqs] | None:
        """The papers posted under each indexed term a fuzzy ``word`` accepts (``t:<term>`` -> its
        sequence numbers), read once per search; None as for :meth:`near_terms`."""
        near = self.near_terms(word)
        if near is None:
            return None
        found = self._near_postings.get(word)
        if found is None:
            found = self._near_postings[word] = self._store.search_postings_by_term(["t:" + t for t in near]) if near else {}
        return found

    def _tagged_papers(self, atoms: list[Atom]) -> list[str]:
        """Papers whose topic tags hold one of ``atoms`` (tags join the keywords field: text atoms)."""
        out: list[str] = []
        for name, papers in self._tagged.items():
            vocab = self._tag_vocab.get(name)
            if vocab is None:
                field = FieldText(name)
                vocab = self._tag_vocab[name] = frozenset(field.postings) | frozenset(field.form_postings)
            if any(_in_vocab(atom, vocab) for atom in atoms):
                out += papers
        return out

    def _cost(self, atom: Atom) -> float:
        return atom_cost(atom, self._stats)


def _reaching(root: Node, lookup: _Lookup, stats: CorpusStats, cutoff: float) -> Seqs | None:
    """The indexed papers that may score ``cutoff`` on a query whose score is one word's (the word
    alone, or ANDed with category/source filters and NOTs, which do not change it: digest.match.score),
    or None when the heavy terms cannot tell (another query, a rare word, a low cutoff).

    A common word is in thousands of papers and most mention it once or twice in the abstract,
    which its rarity factor keeps under the threshold; evaluating each costs ~1 ms (its document).
    A paper not posted under ``h<L>:`` for any key the word accepts has, for each, weighted hits
    ``W < L`` (:func:`heavy_terms`); with one such key its clause's weighted hits are ``sim x W < L``,
    so when even ``L`` cannot reach the cutoff at the largest rarity factor those keys get, it
    cannot match. Papers carrying two or more of the keys are kept (their hits add up), as are
    tagged ones (tags join keywords in search, not in the index)."""
    clause: Node | None = root
    if isinstance(root, And):
        scoring = [c for c in root.children if not isinstance(c, Not)
                   and not (isinstance(c, MetaClause) and c.field in FILTER_FIELDS)]
        clause = scoring[0] if len(scoring) == 1 else None
    if not isinstance(clause, TextClause) or len(clause.words) != 1 or clause.words[0].prefix:
        return None
    word = clause.words[0]
    near = lookup.near_terms(word) if word.dist else {word.key: 1.0}
    if not near:
        return None
    idf = max(clause_idf(stats, key) for key in near)
    # Scores are compared rounded (SCORE_DIGITS), so one just under the cutoff may still count;
    # the relative slack covers summing the same floats in another order.
    # The levels L at which "weighted hits under L" already means "under the cutoff".
    telling = [level for level in HEAVY_LEVELS if saturate(idf, level) * (1 + 1e-9) < cutoff - 10.0 ** -SCORE_DIGITS]
    if not telling:
        return None
    level = telling[-1]
    store = lookup.store
    parts = [store.search_postings([_heavy_term(level, key) for key in near])]
    carried = lookup.near_postings(word) if word.dist else None
    if carried and len(carried) > 1:  # papers with two or more of the keys (each term's list is distinct)
        seqs, counts = np.unique(np.concatenate(list(carried.values())), return_counts=True)
        parts.append(seqs[counts > 1])
    parts.append(lookup.tagged_seqs(clause))
    return np.unique(np.concatenate(parts))


def _in_vocab(atom: Atom, vocab: frozenset[str]) -> bool:
    kind, value = atom
    if kind == "k":
        return value in vocab
    if kind == "w":
        assert isinstance(value, Word)
        return any(word_similarity(value, t) is not None for t in vocab)
    return False

