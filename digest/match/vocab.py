"""Fuzzy and prefix query words matched against a whole vocabulary at once (a batch's keys and forms).

A fuzzy word within ``d`` edits of a key shares with it a string made by at most ``d`` deletions
from each (SymSpell). For distance 1 this runs in numpy: strings become rows of code points, each
string and each one-deletion variant a 64-bit polynomial hash (from prefix sums, no per-string
Python), and key hashes meet word hashes through a bitmap and ``searchsorted``. Prefix words meet
forms the same way: the hash of a form's first ``n`` letters against the hashes of the prefixes of
length ``n``. Words allowing 2 or more edits (``word~2``, rare) are compared with every key by
rapidfuzz's OSA distance with a cutoff (in C, but once per such word and key). Each candidate (word, key) pair found so is then judged by
:func:`digest.match.document.word_similarity`, the one definition of a word match: hash collisions
and SymSpell's farther candidates (two deletions, one per side) are rejected there, and nothing the
judge accepts can be missed, since every pair it accepts shares a variant.

:class:`NearKeys` is the same idea the other way round, in plain Python: a fixed set of keys (the
corpus's frequent words) filed under their one-deletion variants, asked about one word at a time.

Public: :class:`WordSet`, :class:`NearKeys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA

from digest.gcpause import gc_paused
from digest.match.document import word_similarity
from digest.match.query import Word
from digest.match.ranges import ranges

__all__ = ["WordSet", "NearKeys"]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# Polynomial hashing modulo 2**64 (numpy's uint64 arithmetic wraps): h(s) = sum s[j] * P**j. An odd
# P is invertible, so dropping letter i shifts the tail down by one power: multiply it by P**-1.
_P = 0x9E3779B97F4A7C15
_P_INV = pow(_P, -1, 1 << 64)
# Rows of OSA distances computed at once for the words allowing 2 or more edits (bounds memory).
_CDIST_ROWS = 64


def _weighted(texts: Sequence[str], width: int) -> U64:
    """Per text, ``s[j] * P**j`` for j < ``width``: zero past its end, and longer texts are cut.

    A trailing zero adds nothing, so a hash does not tell "ab" from "ab\\0": such collisions, like
    any other, only add a candidate that the judge turns down."""
    width = max(width, 1)
    powers = np.array([pow(_P, j, 1 << 64) for j in range(width)], np.uint64)
    codes = np.array(texts, dtype=f"U{width}").view(np.uint32).reshape(len(texts), width)
    with np.errstate(over="ignore"):
        return codes.astype(np.uint64) * powers


def _prefix_hashes(texts: Sequence[str], width: int) -> U64:
    """Per text, the hashes of its first 1..``width`` letters (column j: the first j + 1; the whole
    text where it is shorter)."""
    return np.cumsum(_weighted(texts, width), axis=1, dtype=np.uint64)


def _variants(texts: Sequence[str], width: int) -> U64:
    """Per text, column j: the hash of the text without its letter j; the text's own hash for j
    past its end. ``width`` > the length of a text gives its own hash and all its one-deletion
    variants; the row of a longer text is that of its first ``width`` letters."""
    weighted = _weighted(texts, width)
    sums = np.cumsum(weighted, axis=1, dtype=np.uint64)
    # the letters after j moved down one place, plus those before j (in place: no temporaries)
    out = sums[:, -1:] - sums
    with np.errstate(over="ignore"):
        out *= np.uint64(_P_INV)
    out += sums
    out -= weighted
    return out


def _lengths(texts: Iterable[str]) -> I64:
    return np.fromiter(map(len, texts), np.int64)


class _HashTable:
    """Hashes with an owner each (several may share a hash), to find the owners of many probes.

    A bitmap on the top bits of the hashes turns away most probes (a batch's one-deletion variants
    are about 20 times the words' ones, and most meet none) before the binary search."""

    def __init__(self, hashes: U64, owners: I64) -> None:
        order = np.lexsort((owners, hashes))
        hashes, owners = hashes[order], owners[order]
        new = np.ones(len(hashes), np.bool_)
        new[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
        hashes, self.owners = hashes[new], owners[new]
        self.values, self.starts = np.unique(hashes, return_index=True)
        self.ends = np.append(self.starts[1:], len(hashes))
        bits = max(16, min(24, (64 * len(self.values)).bit_length()))
        self.shift = np.uint64(64 - bits)
        self.bitmap = np.zeros(1 << bits, np.bool_)
        self.bitmap[self.values >> self.shift] = True

    def find(self, probes: U64) -> tuple[I64, I64]:
        """Every (i, owner) with probes.flat[i] == a hash of ``owner``."""
        probes = probes.ravel()
        maybe = np.flatnonzero(self.bitmap[probes >> self.shift])
        at = np.searchsorted(self.values, probes[maybe])
        found = at < len(self.values)
        found[found] = self.values[at[found]] == probes[maybe[found]]
        maybe, at = maybe[found], at[found]
        # the owners of each match: its group's slice of self.owners
        slots, match = ranges(self.starts[at], self.ends[at] - self.starts[at])
        return maybe[match], self.owners[slots]


class _Compiled:
    """The words' side of the lookups, rebuilt whenever the set of words changes.

    Words are grouped by what they are compared on: fuzzy words by key (``groups`` first those of
    distance 1, then those allowing more), prefix words by form (``form_groups``)."""

    def __init__(self, words: Iterable[Word]) -> None:
        near: dict[str, list[Word]] = {}
        far: dict[tuple[int, str], list[Word]] = {}
        by_form: dict[str, list[Word]] = {}
        for w in words:
            if w.prefix:
                by_form.setdefault(w.form, []).append(w)
            elif w.dist == 1:
                near.setdefault(w.key, []).append(w)
            elif w.dist > 1:
                far.setdefault((w.dist, w.key), []).append(w)
        self.groups = [*near.values(), *far.values()]
        #: distance 1: the keys' hashes and one-deletion hashes (owner: the group); a key longer
        #: than ``near_width`` is more than one edit from them all
        self.near_width = max(map(len, near), default=0) + 2
        if near:
            hashes = _variants(list(near), self.near_width - 1)
            owners = np.repeat(np.arange(len(near), dtype=np.int64), hashes.shape[1])
            self.near: _HashTable | None = _HashTable(hashes.ravel(), owners)
        else:
            self.near = None
        #: distance >= 2: per distance, its keys and their groups
        far_groups: dict[int, tuple[list[str], list[int]]] = {}
        for g, (dist, key) in enumerate(far, len(near)):
            keys, groups = far_groups.setdefault(dist, ([], []))
            keys.append(key)
            groups.append(g)
        self.far = {dist: (keys, np.array(groups, np.int64)) for dist, (keys, groups) in far_groups.items()}
        #: prefixes: per length, the hashes of the forms of that length (owner: the group)
        self.form_groups = list(by_form.values())
        lengths = _lengths(by_form)
        self.form_width = int(lengths.max()) if by_form else 0
        self.by_length: dict[int, _HashTable] = {}
        if by_form:
            sums = _prefix_hashes(list(by_form), self.form_width)
            # the hash of "" is 0 (an empty prefix, which no query has, accepts every form)
            whole = np.where(lengths > 0, sums[np.arange(len(lengths)), lengths - 1], np.uint64(0))
            for n in np.unique(lengths).tolist():
                mine = np.flatnonzero(lengths == n)
                self.by_length[n] = _HashTable(whole[mine], mine)


class WordSet:
    """The fuzzy (``dist`` >= 1) and prefix words of a query index, to expand a vocabulary against.

    :meth:`expand` finds for every word the keys (forms, for a prefix word) that
    :func:`word_similarity` accepts, as a loop over every word and key would. Words with neither
    ``dist`` nor ``prefix`` may be added but are never expanded (they match their own key only).
    """

    def __init__(self) -> None:
        self._words: dict[Word, None] = {}  # an insertion-ordered set
        self._compiled: _Compiled | None = None

    def add(self, word: Word) -> None:
        if word not in self._words:
            self._words[word] = None
            self._compiled = None

    def discard(self, word: Word) -> None:
        if word in self._words:
            del self._words[word]
            self._compiled = None

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def expand(self, keys: Iterable[str], forms: Iterable[str]) -> dict[Word, dict[str, float]]:
        """Every fuzzy word -> {key it accepts: similarity}, every prefix word -> {form it accepts:
        1.0}; words accepting none are left out. Each dict lists its keys in the order given."""
        out: dict[Word, dict[str, float]] = {}
        if self._compiled is None:
            self._compiled = _Compiled(self._words)
        c = self._compiled
        if c.groups:
            key_list = keys if isinstance(keys, list) else list(keys)
            _judge(c.groups, key_list, *_fuzzy_candidates(c, key_list), out)
        if c.form_groups:
            form_list = forms if isinstance(forms, list) else list(forms)
            _judge(c.form_groups, form_list, *_prefix_candidates(c, form_list), out)
        return out


def _fuzzy_candidates(c: _Compiled, keys: list[str]) -> tuple[I64, I64]:
    """(key index, group) pairs that may be within the group's distance (a superset)."""
    found_keys, found_groups = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if c.near is not None and keys:
        # A key within one edit of a word is at most one letter longer, so a row as wide as the
        # longest word + 2 holds its whole hash and variants; a longer key's (cut) row meets a
        # word's hash only by collision, since no string that long equals a word's variant.
        probe, group = c.near.find(_variants(keys, c.near_width))
        found_keys.append(probe // c.near_width)
        found_groups.append(group)
    for dist, (far_keys, groups) in c.far.items():
        for start in range(0, len(far_keys) if keys else 0, _CDIST_ROWS):
            chunk = far_keys[start:start + _CDIST_ROWS]
            # OSA distance within ``dist`` is one of word_similarity's own conditions
            d = process.cdist(chunk, keys, scorer=OSA.distance, score_cutoff=dist, dtype=np.int32)
            row, col = np.nonzero(d <= dist)
            found_keys.append(col.astype(np.int64))
            found_groups.append(groups[row + start])
    return np.concatenate(found_keys), np.concatenate(found_groups)


def _prefix_candidates(c: _Compiled, forms: list[str]) -> tuple[I64, I64]:
    """(form index, group) pairs where the form may start with the group's form (a superset)."""
    found_forms, found_groups = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if forms:
        # a form shorter than n gives its whole hash in column n - 1: a prefix of length n meets it
        # only by collision
        sums = _prefix_hashes(forms, c.form_width)
        for n, table in c.by_length.items():
            probe, group = table.find(sums[:, n - 1] if n else np.zeros(len(forms), np.uint64))
            found_forms.append(probe)
            found_groups.append(group)
    return np.concatenate(found_forms), np.concatenate(found_groups)


def _judge(groups: list[list[Word]], texts: list[str], text_ix: I64, group_ix: I64,
           out: dict[Word, dict[str, float]]) -> None:
    """Put into ``out`` the candidate pairs that word_similarity accepts, with its similarity.

    Per group, its candidate texts in the order given (a text can be a candidate twice: two of its
    variants may meet two of the word's); groups by their first candidate."""
    pair = np.sort(group_ix * max(len(texts), 1) + text_ix)  # by group, then text
    pair = pair[np.diff(pair, prepend=-1) != 0]
    group_ix, text_ix = pair // max(len(texts), 1), pair % max(len(texts), 1)
    starts = np.flatnonzero(np.diff(group_ix, prepend=-1))
    ends = np.append(starts[1:], len(pair))
    order = np.argsort(text_ix[starts], kind="stable")
    cand = [texts[i] for i in text_ix.tolist()]
    for g, a, b in zip(group_ix[starts[order]].tolist(), starts[order].tolist(), ends[order].tolist()):
        mine = cand[a:b]
        for word in groups[g]:
            found = {t: sim for t in mine if (sim := word_similarity(word, t)) is not None}
            if found:
                out[word] = found


class NearKeys:
    """A fixed set of keys, to find those one automatic typo away from a word: the keys an
    anchored query word allowing one edit (what :func:`digest.match.query._words` makes of a long
    word) would match, its own key aside.

    SymSpell with one deletion: each key is filed under itself and every string one deletion makes
    of it. Two strings within one edit (OSA: an insertion, deletion, substitution or transposition
    of neighbours) always share such a string, so probing a word's own variants finds every key
    within one edit of it; :func:`word_similarity` judges the few candidates. Building costs 4 to 6
    microseconds a key (23 ms for the 6,464 frequent words of 3,603 captured arXiv papers); a
    look-up, about 20 microseconds.
    """

    __slots__ = ("_first", "_more")

    def __init__(self, keys: Iterable[str]) -> None:
        # Most variants belong to one key: it is filed as is and only the others go to lists (a list
        # per variant would double the objects). Nothing built here forms a cycle, so the collector's
        # passes, which a few hundred thousand new objects trigger over the whole heap, only cost
        # time (5 times the build's own on a 1,000,000-key vocabulary).
        first: dict[str, str] = {}
        more: dict[str, list[str]] = {}
        with gc_paused():
            for key in keys:
                for variant in _one_deletion(key):
                    if first.setdefault(variant, key) != key:
                        more.setdefault(variant, []).append(key)
        self._first, self._more = first, more

    def one_edit_from(self, key: str) -> list[str]:
        """The keys other than ``key`` that keep its first letter and are one edit from it, sorted."""
        word = Word(key, key, key, 1, anchored=True)
        found = set()
        for variant in _one_deletion(key):
            owner = self._first.get(variant)
            if owner is not None:
                for candidate in (owner, *self._more.get(variant, ())):
                    if candidate != key and word_similarity(word, candidate) is not None:
                        found.add(candidate)
        return sorted(found)


def _one_deletion(key: str) -> set[str]:
    """``key`` and every string one deletion makes of it."""
    return {key, *(key[:i] + key[i + 1:] for i in range(len(key)))}
