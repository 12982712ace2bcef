"""A paper prepared for matching: built once, then evaluated against any number of queries.

Public: :class:`Document`, :class:`FieldText`, :class:`AuthorRef`, :func:`word_similarity`.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from digest.match.normalize import Term, joined_terms, single_terms
from digest.match.query import ACRONYM_MARK, TEXT_FIELDS, Word, acronym_key, is_acronym, source_key
from digest.models import SOURCE_LABELS, Paper
from digest.text import name_parts, surname_forms

__all__ = ["Document", "FieldText", "AuthorRef", "word_similarity", "meta_atoms"]


def word_similarity(word: Word, candidate: str) -> float | None:
    """How well a document key (or form, for prefixes) satisfies a query word, or None.

    The one definition of a word match: documents and the query index both call it, which is what
    makes the index return exactly what brute-force evaluation returns.
    """
    if word.prefix:
        return 1.0 if candidate.startswith(word.form) else None
    if candidate == word.key:
        return 1.0
    if candidate.startswith(ACRONYM_MARK):  # acronym marker keys are met exactly, never fuzzily
        return None
    if not word.dist or abs(len(candidate) - len(word.key)) > word.dist:
        return None
    if word.anchored and candidate[:1] != word.key[:1]:
        return None
    if OSA.distance(word.key, candidate, score_cutoff=word.dist) > word.dist:
        return None
    # Exact beats fuzzy: a fuzzy hit counts by its similarity (Indel ratio, 0..1).
    return fuzz.ratio(word.key, candidate) / 100.0


class FieldText:
    """One text field: its original text, single-token terms in order, and postings.

    A token written in capitals ("GAN", "GANs", "GPT4") is also posted under its acronym marker key
    ("^gan"), at the same position, but not in ``seq``: acronym query words look that key up.
    """

    __slots__ = ("text", "seq", "postings", "form_postings", "term_keys", "term_positions")

    def __init__(self, text: str) -> None:
        self.text = text
        seq = single_terms(text)
        joined = joined_terms(text, seq)
        self.seq: list[Term] = seq
        #: key -> terms with that key (single tokens and joined pairs)
        self.postings: dict[str, list[Term]] = {}
        #: form -> terms with that form, for prefix words
        self.form_postings: dict[str, list[Term]] = {}
        postings, form_postings = self.postings, self.form_postings
        for t in chain(seq, joined):
            # get-then-append: setdefault(key, []) would build an empty list for every term.
            found = postings.get(t.key)
            if found is None:
                postings[t.key] = [t]
            else:
                found.append(t)
            found = form_postings.get(t.form)
            if found is None:
                form_postings[t.form] = [t]
            else:
                found.append(t)
        # A token in capitals, or a pair joined from one and a number or another ("GPT-4",
        # "COVID-19": the same acronym as "GPT4", "COVID19"). A token in lower case (nearly all)
        # has no capital letter, so it is no acronym: is_acronym is asked about the others only.
        capitals = [not (surface := text[t.start:t.end]).islower() and is_acronym(surface) for t in seq]
        acronyms: list[Term] = []
        if True in capitals:
            acronyms += [t._replace(key=acronym_key(t.key)) for t in seq if capitals[t.pos]]
            acronyms += [t._replace(key=acronym_key(t.key)) for t in joined
                         if capitals[t.pos] and (capitals[t.pos + 1] or seq[t.pos + 1].form.isdigit())]
            for t in acronyms:
                postings.setdefault(t.key, []).append(t)
        #: the key and token position of every posted term (the postings, flat), for batch matching
        all_terms = [*seq, *joined, *acronyms]
        self.term_keys: list[str] = list(map(itemgetter(0), all_terms))
        self.term_positions: list[int] = list(map(itemgetter(2), all_terms))


@dataclass(frozen=True, slots=True)
class AuthorRef:
    name: str
    surname: str
    start: int
    end: int
    #: The given names in order, each written out or an initial (digest.text.name_parts).
    givens: tuple[str, ...] = ()
    #: What an author clause may name the surname by (digest.text.surname_forms).
    forms: frozenset[str] = frozenset()


class Document:
    """Per-field normalised terms of one paper plus caches shared by every query evaluated on it."""

    __slots__ = ("paper_id", "fields", "authors", "authors_text", "categories", "sources", "ids",
                 "vocab_keys", "vocab_forms", "_key_counts", "_pair_counts", "leaf_cache", "note_cache", "cache_owner", "_expansions", "_expanded", "_key_list",
                 "_form_list")

    def __init__(self, paper_id: str, texts: dict[str, str], authors: Iterable[str] = (),
                 categories: Iterable[str] = (), sources: Iterable[str] = (), ids: Iterable[str] = (), *,
                 batch: bool = True) -> None:
        self.paper_id = paper_id
        self.fields = {name: FieldText(texts.get(name) or "") for name in TEXT_FIELDS}
        names = [a for a in authors if a]
        self.authors_text = ", ".join(names)
        refs, offset = [], 0
        for name in names:
            surname, givens = name_parts(name)
            refs.append(AuthorRef(name, surname, offset, offset + len(name), givens, surname_forms(surname)))
            offset += len(name) + 2
        self.authors: tuple[AuthorRef, ...] = tuple(refs)
        self.categories = tuple(dict.fromkeys(c.strip().lower() for c in categories if c.strip()))
        self.sources = frozenset(k for k in (source_key(s) for s in sources) if k)
        self.ids = frozenset(i.lower() for i in ids if i)
        self.vocab_keys = frozenset(k for f in self.fields.values() for k in f.postings)
        self.vocab_forms = frozenset(k for f in self.fields.values() for k in f.form_postings)
        # Batch matching's counts: made now unless ``batch`` is false (search evaluates one query per
        # document and never reads them: a third of building one), else when first asked for.
        self._key_counts: dict[str, tuple[int, int, int, int]] | None = None
        self._pair_counts: dict[str, list[int]] | None = None
        if batch:
            self.key_counts, self.pair_counts  # noqa: B018 (the properties fill the two caches)
        self._expansions: dict[Word, dict[str, float]] = {}
        self._expanded: Container[Word] = ()
        #: digest.match.score's per-clause results, valid for the stats named by cache_owner
        self.leaf_cache: dict[int, Any] = {}
        self.note_cache: dict[int, Any] = {}
        self.cache_owner: tuple[int, int] = (0, -1)
        self._key_list: list[str] | None = None
        self._form_list: list[str] | None = None

    @property
    def key_counts(self) -> dict[str, tuple[int, int, int, int]]:
        """key -> its number of terms (single and joined) in each of TEXT_FIELDS, for batch matching."""
        if self._key_counts is None:
            p0, p1, p2, p3 = (f.postings.get for f in self.fields.values())  # the four TEXT_FIELDS
            self._key_counts = {key: (len(p0(key, ())), len(p1(key, ())), len(p2(key, ())), len(p3(key, ())))
                                for key in self.vocab_keys}
        return self._key_counts

    @property
    def pair_counts(self) -> dict[str, list[int]]:
        """For two-word phrases, per field: "a b" -> start positions of a term keyed a directly
        followed by a term keyed b; "a " -> single-token terms keyed a (a joined word written as one
        token). For batch matching."""
        if self._pair_counts is None:
            counts: dict[str, list[int]] = {}
            for fi, f in enumerate(self.fields.values()):
                starts: dict[int, list[Term]] = {}
                for found in f.postings.values():
                    for t in found:
                        starts.setdefault(t.pos, []).append(t)
                pairs: dict[str, set[int]] = {}
                for t in f.seq:
                    pairs.setdefault(t.key + " ", set()).add(t.pos)
                for pos, here in starts.items():
                    for t in here:
                        for u in starts.get(pos + t.width, ()):
                            pairs.setdefault(f"{t.key} {u.key}", set()).add(pos)
                for pair, where in pairs.items():
                    counts.setdefault(pair, [0, 0, 0, 0])[fi] = len(where)
            self._pair_counts = counts
        return self._pair_counts

    @classmethod
    def from_paper(cls, paper: Paper, *, tags: Iterable[str] = (), batch: bool = True) -> "Document":
        """Build the document of a stored paper; ``tags`` (topic tag names) join its keywords."""
        sources: list[str] = []
        for via in paper.sources:
            # src: names a feed, a kind, its label or the server ("src:medrxiv")
            sources += [via.feed_name, via.source_kind, SOURCE_LABELS.get(via.source_kind, ""), via.label]
        ids = [paper.id]
        if paper.arxiv_id:
            ids += [f"arxiv:{paper.arxiv_id}"]
        if paper.doi:
            ids += [f"doi:{paper.doi}"]
        if paper.openreview_id:
            ids += [f"openreview:{paper.openreview_id}"]
        texts = {"title": paper.title, "tldr": paper.tldr or "", "abstract": paper.abstract,
                 "keywords": "; ".join([*paper.keywords, *tags])}
        return cls(paper.id, texts, paper.authors, paper.categories, sources, ids, batch=batch)

    def preset(self, expansions: dict[Word, dict[str, float]], covered: Container[Word]) -> None:
        """Take fuzzy/prefix expansions computed elsewhere (the query index's vocabulary cache):
        ``expansions`` must hold every document key accepted by every word in ``covered``."""
        self._expansions.update(expansions)
        self._expanded = covered

    def set_expansion(self, word: Word, found: dict[str, float]) -> None:
        """Take the expansion of one word computed elsewhere: every document key (form, for a
        prefix word) that ``word`` accepts, with its similarity."""
        self._expansions[word] = found

    def has_expansion(self, word: Word) -> bool:
        return word in self._expansions

    def expand(self, word: Word) -> dict[str, float]:
        """The document keys (forms, for a prefix word) that ``word`` accepts, with similarity.

        Cached per document: many saved queries share words.
        """
        found = self._expansions.get(word)
        if found is not None:
            return found
        found = {}
        if word in self._expanded:  # preset() covered it and it hit nothing here
            self._expansions[word] = found
            return found
        if word.prefix:
            if self._form_list is None:
                self._form_list = list(self.vocab_forms)
            found = {f: 1.0 for f in self._form_list if f.startswith(word.form)}
        elif not word.dist:
            if word.key in self.vocab_keys:
                found = {word.key: 1.0}
        else:
            if self._key_list is None:
                self._key_list = list(self.vocab_keys)
            # rapidfuzz prefilters in C; word_similarity stays the one judge.
            for cand, _, _ in process.extract_iter(word.key, self._key_list, scorer=OSA.distance,
                                                   score_cutoff=word.dist):
                sim = word_similarity(word, cand)
                if sim is not None:
                    found[cand] = sim
        self._expansions[word] = found
        return found


def meta_atoms(doc: Document) -> set[tuple[str, str]]:
    """Index atoms of the structured fields: author surnames (each word), categories and their
    archive and prefixes, sources and their prefixes, ids."""
    atoms: set[tuple[str, str]] = set()
    for a in doc.authors:
        atoms.update(("au", form) for form in a.forms)
    for c in doc.categories:
        atoms.add(("cat", c))
        atoms.update(("cat", c[:i]) for i, ch in enumerate(c) if ch == ".")
        atoms.update(("catp", c[:i]) for i in range(1, len(c) + 1))
    for s in doc.sources:
        atoms.add(("src", s))
        atoms.update(("srcp", s[:i]) for i in range(1, len(s) + 1))
    atoms.update(("id", i) for i in doc.ids)
    return atoms
