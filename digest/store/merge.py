"""Pure rules for merging records into papers: keys, fuzzy title matching, field fill-in.

No SQL here; :mod:`digest.store.papers` loads candidates and applies these rules. Merge order
(issue #2): arXiv id, then DOI, then the canonical id (OpenReview / URL), then a fuzzy title match
among papers whose first author has the same folded surname, confirmed by author overlap.

Fuzzy titles: both titles are reduced to :func:`title_key` (ASCII-folded, lower case, punctuation
dropped), so case and punctuation never matter. The remaining difference must be a few typing
slips: an optimal-string-alignment distance (a swapped pair of letters counts once) within
:func:`edit_budget`, and every changed word a slip of its counterpart
(see :func:`_slip`): one edit can make another word ("mice"/"rice", "self"/"semi"), and that is
another paper, not a typo. Tokens that change what a paper is (numbers, also inside words as in
"YOLOv3" or "3D"; roman numerals; "not"/"without") must agree exactly, so "Scaling Laws II" never
merges into "Scaling Laws", nor "Attention Is Not All You Need" into "Attention Is All You Need".
Titles that name a kind of item ("Introduction", "Erratum") never identify a paper.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any

from rapidfuzz.distance import OSA, Levenshtein

from digest.models import PaperRecord
from digest.text import COLLECTIVE_WORDS, author_key, fold, surname_form, surname_key

TITLE_KEY_LEN = 500
AUTHOR_KEY_LEN = 120
#: Shortest title key that may match fuzzily; shorter ones ("Introduction") must match exactly.
MIN_FUZZY_LEN = 12
#: Share of the shorter author list that must appear in the other list.
AUTHOR_OVERLAP = 0.5

_DIGITS = re.compile(r"[0-9]+")
_ROMAN_VALUES = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8",
                 "ix": "9", "x": "10"}
_NEGATIONS = frozenset({"not", "no", "non", "without", "beyond", "un"})
#: Whole words :func:`guard_tokens` keeps (numbers inside words are found apart).
_GUARD_WORDS = frozenset(_ROMAN_VALUES) | _NEGATIONS
#: Shortest word in which one changed, added or dropped inner letter is taken for a slip
#: ("widgetz", "colour"/"color"); in shorter words it is usually another word ("mice"/"rice").
_MIN_SLIP_WORD = 6
_ARTICLES = frozenset({"a", "an"})
_VOWELS = frozenset("aeiouy")
#: Letters British and American spelling exchange inside a word (-ise/-ize, -yse/-yze, -ence/-ense).
_SPELLING_VARIANTS = frozenset({frozenset("sz"), frozenset("cs")})
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
#: Pairs of letters next to each other on a QWERTY keyboard, in a row or diagonally between rows.
_KEY_NEIGHBOURS = frozenset(
    {frozenset((row[i], row[i + 1])) for row in _KEYBOARD_ROWS for i in range(len(row) - 1)}
    | {frozenset((upper[i + d], lower[i])) for upper, lower in zip(_KEYBOARD_ROWS, _KEYBOARD_ROWS[1:])
       for i in range(len(lower)) for d in (0, 1) if i + d < len(upper)})
#: Title keys that name a kind of item, not a paper: one author writes many of them, so an equal
#: title proves nothing (a journal's "Editorial" by its editor every month).
_GENERIC_TITLES = frozenset({
    "introduction", "preface", "foreword", "editorial", "guest editorial", "editor s note", "editors note",
    "erratum", "errata", "corrigendum", "correction", "corrections", "retraction", "retraction note",
    "expression of concern", "addendum", "reply", "response", "comment", "commentary", "discussion",
    "rejoinder", "conclusion", "conclusions", "summary", "abstract", "abstracts", "index", "author index",
    "subject index", "contents", "table of contents", "front matter", "back matter", "book review",
    "book reviews", "review", "news", "obituary", "in memoriam", "acknowledgments", "acknowledgements",
    "acknowledgment", "acknowledgement", "letter to the editor", "overview", "epilogue", "prologue",
    "appendix", "references", "bibliography", "masthead", "issue information", "cover", "front cover",
    "back cover", "call for papers", "announcement", "announcements", "correspondence", "untitled",
})

#: Columns of ``papers`` that merging may change after insert (besides ``seq``).
MUTABLE_FIELDS = ("arxiv_id", "doi", "openreview_id", "url", "title", "title_original", "title_key", "title_hash",
                  "first_author_key", "authors", "abstract", "tldr", "categories", "keywords", "pdf_url",
                  "code_url", "published", "updated", "version", "license", "journal_ref", "venue")
#: Sources that number the versions of what they publish: arXiv's (by arXiv id) and bioRxiv/medRxiv (by DOI).
_ARXIV_KINDS = frozenset({"arxiv-rss", "arxiv-atom", "arxiv-snapshot"})
#: Fields a richer source fills in when the paper lacks them (no event: the paper is not new).
_FILL_FIELDS = ("tldr", "code_url", "pdf_url", "url", "license", "journal_ref", "venue", "published",
                "abstract", "title_original")


# ASCII bytes -> the same byte lower-cased if a letter or digit, else a space: on ASCII titles one
# bytes.translate does what lower() and _NON_WORD do (~3x faster than the regex; runs per record).
_ASCII_TITLE = bytes(c if 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 else c + 32 if 0x41 <= c <= 0x5A else 0x20
                     for c in range(256))


#: Lower-case Greek letters (fold lower-cases; NFKD makes the micro sign a mu) as their names.
_GREEK_NAMES = str.maketrans({chr(0x3B1 + i): f" {name} " for i, name in enumerate((
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
    "xi", "omicron", "pi", "rho", "sigma", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"))})
_NON_WORD = re.compile(r"[\W_]+")


def title_hash(key: str) -> int:
    """A 31-bit hash of a title key, stored and indexed as ``papers.title_hash``: exact-title merge
    candidates are looked up by it. An index of the keys themselves (~90 bytes each, in random
    order) is several times larger and, at a million papers, no longer fits the page cache of a bulk
    import (docs/benchmarks.md, round 6). Collisions only add candidates, which compare their keys."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) & 0x7FFFFFFF  # fits a signed 32-bit INTEGER


#: "+" and "#" ending a word name a language or a grade ("C++", "C#", "A+"): spelled out, so "C" and
#: "C++" stay two words; between words ("Vision+Language") they separate like other punctuation.
_SYMBOL_SUFFIX = re.compile(r"(?<=[^\W_])(\+\+|\+|#)(?![^\W_])")
_SYMBOL_WORDS = {"++": "plusplus", "+": "plus", "#": "sharp"}


def title_key(title: str) -> str:
    """Comparable form of a title (see the module docstring); stored as ``papers.title_key``."""
    if "+" in title or "#" in title:
        title = _SYMBOL_SUFFIX.sub(lambda m: _SYMBOL_WORDS[m.group(1)], title)
    if title.isascii():  # no folding needed beyond lower-casing: the common case (bulk ingest)
        return " ".join(title.encode("ascii").translate(_ASCII_TITLE).decode("ascii").split())[:TITLE_KEY_LEN]
    # Greek letters are spelled out, so "α-Divergences" keeps its letter (and meets "Alpha-Divergences"
    # and the TeX "$\\alpha$" of another source), and letters of other scripts stay: only
    # punctuation and symbols separate words.
    folded = fold(title).translate(_GREEK_NAMES)
    return " ".join(_NON_WORD.sub(" ", folded).split())[:TITLE_KEY_LEN]


@lru_cache(maxsize=65536)
def _surname(name: str) -> str:
    return surname_key(name)[:AUTHOR_KEY_LEN]


def first_author_key(authors: Sequence[str]) -> str:
    return _surname(authors[0]) if authors else ""


def guard_tokens(key: str) -> tuple[str, ...]:
    """What must agree exactly between two titles of one paper: every number, in order (roman
    numerals as digits, so "Part I" is "Part 1"), and every negation.

    Digit runs are taken from inside words as well: "YOLOv2"/"YOLOv3", "3D"/"2D" and "DINOv2"/"DINO"
    are one edit apart, and different papers.
    """
    return _guards(key.split())


def _guards(words: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    number = False  # the previous word was a number: "1 000" is "1,000" with its comma dropped
    for word in words:
        if word in _GUARD_WORDS:
            out.append(_ROMAN_VALUES.get(word, word))
        elif word.startswith("non") and len(word) >= 6 and word[3:4] not in ("e", "s"):
            out.append("non")  # "nonconvex" is "non convex" (not "none", "nonsense")
        elif not word.isalpha():  # a digit in it (keys hold only letters and digits); one C scan
            if number and len(word) == 3 and word.isdigit():
                out[-1] += word
                continue
            out.extend(_DIGITS.findall(word))
            number = word.isdigit()
            continue
        number = False
    return tuple(out)


def edit_budget(key: str) -> int:
    """Typing slips allowed between two title keys: 2 for ordinary titles, one more per 40 characters."""
    return 2 + max(0, len(key) - 80) // 40


def is_generic_title(key: str) -> bool:
    """Whether a title key is one many unrelated items share ("editorial", "erratum"): never a match."""
    return key in _GENERIC_TITLES


def titles_match(a: str, b: str) -> bool:
    """Same paper title up to case, punctuation and a few typing slips (see module docstring)."""
    if a == b:
        return bool(a) and a not in _GENERIC_TITLES
    if min(len(a), len(b)) < MIN_FUZZY_LEN:
        return False
    # The distance (C, with a cutoff) first: it turns away nearly every candidate, so the Python
    # checks below run only for near matches.
    budget = edit_budget(min(a, b, key=len))
    if OSA.distance(a, b, score_cutoff=budget) > budget:
        return False
    wa, wb = a.split(), b.split()
    if _guards(wa) != _guards(wb) or a in _GENERIC_TITLES or b in _GENERIC_TITLES:
        return False
    # The usual retyping keeps the words in place: compare them in pairs before aligning.
    if len(wa) == len(wb) and all(_slip(x, y) for x, y in zip(wa, wb) if x != y):
        return True
    return all(_slips(x, y) for x, y in _changed_words(wa, wb))


def _changed_words(wa: list[str], wb: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """The runs of words that differ between two titles, aligned (consecutive edits form one run)."""
    run: list[int] = []  # i1, j1 of the run's first edit, then i2, j2 of its last
    for op in Levenshtein.opcodes(wa, wb):
        if op.tag != "equal":
            run = [*(run[:2] or (op.src_start, op.dest_start)), op.src_end, op.dest_end]
        elif run:
            yield wa[run[0]:run[2]], wb[run[1]:run[3]]
            run = []
    if run:
        yield wa[run[0]:run[2]], wb[run[1]:run[3]]


def _slips(xs: list[str], ys: list[str]) -> bool:
    """Whether one run of differing words is typing slips: each word a slip of its counterpart, or
    the run the same letters spaced differently ("GPT 4"/"GPT4", "pre training"/"pretraining") up to one slip."""
    if len(xs) == len(ys) and all(_slip(x, y) for x, y in zip(xs, ys)):
        return True
    # "A Synchronous"/"Asynchronous", "A Typical"/"Atypical": an article written apart is no spacing slip.
    if any(w in _ARTICLES for w in xs) or any(w in _ARTICLES for w in ys):
        return False
    return _slip("".join(xs), "".join(ys))


def _slip(x: str, y: str) -> bool:
    """Whether word ``y`` is ``x`` retyped: one slip at most, of a kind that rarely makes another word.

    A swapped pair of letters; a doubled letter added or dropped ("Neeed", "Al"); a plural "s"; "a"
    for "an"; a numeral written as a digit; or, in a word of :data:`_MIN_SLIP_WORD` letters or more,
    one inner letter changed, added or dropped ("regularisation", "colour"). Never a changed first
    letter ("walk"/"talk"), a letter put in front ("symmetric"/"asymmetric") or a letter added at the
    end other than "s" ("large"/"larger").
    """
    if x == y or {x, y} == _ARTICLES or _ROMAN_VALUES.get(x, x) == _ROMAN_VALUES.get(y, y):
        return True
    if len(x) == len(y):
        return _swap_or_substitution(x, y)
    if abs(len(x) - len(y)) == 1:
        return _inserted_slip(*((x, y) if len(x) < len(y) else (y, x)))
    return False


def _swap_or_substitution(x: str, y: str) -> bool:
    """Two words of one length: a swapped pair of neighbours, or one changed inner letter of a long
    word that a slip makes: a key's neighbour on the keyboard, or a spelling variant (s/z as in
    "regularisation", c/s as in "defence"). A vowel for another vowel, or a letter far from it on the
    keyboard, makes another word: "Ferromagnetic"/"Ferrimagnetic", "Photon"/"Phonon", "Alkyne"/"Alkene"."""
    diff = [i for i, (p, q) in enumerate(zip(x, y)) if p != q]
    if len(diff) == 2:
        i, j = diff
        return j == i + 1 and x[i] == y[j] and x[j] == y[i]
    if len(diff) != 1 or diff[0] == 0 or len(x) < _MIN_SLIP_WORD:
        return False
    pair = frozenset((x[diff[0]], y[diff[0]]))
    return pair in _SPELLING_VARIANTS or (pair in _KEY_NEIGHBOURS and not pair <= _VOWELS)


def _inserted_slip(short: str, long: str) -> bool:
    """``long`` is ``short`` with one letter more: a doubled letter, a plural "s", or an inner letter of a long word."""
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    if long[i + 1:] != short[i:]:
        return False  # more than one letter differs
    letter = long[i]
    if (i > 0 and long[i - 1] == letter) or (i + 1 < len(long) and long[i + 1] == letter):
        return True  # a doubled letter
    if i == len(short):
        return letter == "s"
    return i > 0 and len(long) >= _MIN_SLIP_WORD


def authors_overlap(a: Sequence[str], b: Sequence[str], *, minimum: int = 1) -> bool:
    """At least half of the shorter author list (by "surname initial" key), and at least
    ``minimum`` names, are in the other one.

    Names are compared by every key :func:`_name_keys` gives them, and "et al." is no one: on both
    sides it used to count as a shared author.
    """
    ka = [keys for keys in map(_name_keys, a) if keys[0]]
    kb = [keys for keys in map(_name_keys, b) if keys[0]]
    if not ka or not kb:
        return False
    # A name read in the other order only meets a name read as written: two reversed readings
    # agreeing says only that the given names and the surnames' initials do ("Ashish Vaswani" and
    # "Ashish Vaswini" are both "ashish v" reversed).
    as_written = {k for written, _ in kb for k in written}
    either = as_written.union(*(reversed_ for _, reversed_ in kb))
    needed = max(minimum, math.ceil(min(len(ka), len(kb)) * AUTHOR_OVERLAP))
    shared = sum(1 for written, reversed_ in ka if not either.isdisjoint(written) or not as_written.isdisjoint(reversed_))
    return shared >= needed


_ET_AL = re.compile(r"^(?:et\.?\s*al\.?|and\s+others|others)$", re.IGNORECASE)
#: German umlauts written out ("Mueller" for "Müller", which folds to "muller"), inside a name only:
#: final "ue" is a name of its own ("Xue", "Yue" are not "Xu", "Yu").
_NO_KEYS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


@lru_cache(maxsize=65536)
def _name_keys(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The "surname initial" keys one person's name may be written under (none for "et al."): as
    written, and, for a name of two full words, read in the other order, as Chinese names are
    written both ways ("Wang Xiaoming" / "Xiaoming Wang"); see :func:`_key_forms` for the rest.
    """
    if _ET_AL.match(name.strip()):
        return _NO_KEYS
    written = frozenset(_key_forms(author_key(name)))
    words = name.split()
    if (len(words) == 2 and "," not in name and all(len(w) > 1 and "." not in w for w in words)
            and words[1].lower() not in COLLECTIVE_WORDS):  # "ATLAS Collaboration" has no other order
        return written, frozenset(_key_forms(author_key(f"{words[1]} {words[0]}")))
    return written, frozenset()


def _key_forms(key: str) -> set[str]:
    """An :func:`~digest.text.author_key` with its surname as :func:`~digest.text.surname_form`
    compares it: particles joined ("le cun y" is "lecun y"), umlauts spelled out folded ("mueller" is "muller")."""
    if not key:
        return set()
    surname, initial = (key[:-2], key[-1]) if key[-2:-1] == " " else (key, "")
    return {f"{surname_form(surname)} {initial}".rstrip()}


def aware(moment: datetime | None) -> datetime | None:
    """Sources should give aware datetimes; a naive one is taken as UTC rather than refused."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def new_row(pid: str, rec: PaperRecord, *, arxiv_id: str | None, doi: str | None, now: datetime,
            tkey: str | None = None, akey: str | None = None) -> dict[str, Any]:
    """The ``papers`` row for a paper first seen as ``rec`` (keys may be passed in when already computed)."""
    return {
        "id": pid, "arxiv_id": arxiv_id, "doi": doi, "openreview_id": rec.openreview_id, "url": rec.url,
        "title": rec.title, "title_original": rec.title_original, "title_key": (key := title_key(rec.title) if tkey is None else tkey), "title_hash": title_hash(key),
        "first_author_key": first_author_key(rec.authors) if akey is None else akey, "authors": list(rec.authors),
        "abstract": rec.abstract or "", "tldr": rec.tldr, "categories": _distinct(rec.categories),
        "keywords": _distinct(rec.keywords), "pdf_url": rec.pdf_url, "code_url": rec.code_url,
        "published": aware(rec.published), "updated": aware(rec.updated), "version": rec.version,
        "license": rec.license, "journal_ref": rec.journal_ref, "venue": rec.venue, "first_seen": now, "seq": 0,
    }


def _distinct(items: Sequence[str]) -> list[str]:
    """``items`` without case duplicates, first spelling kept: one record can carry both "LLM" and
    "llm" (Hugging Face's keywords), and merging later records already drops such duplicates."""
    # One set of lower-cased items (~0.4 us) settles the usual record; _union costs 3x that.
    if len(items) < 2 or len(set(map(str.lower, items))) == len(items):
        return list(items)
    return _union([], items)


def _union(old: list[Any], new: Sequence[str]) -> list[Any]:
    merged = list(old)
    seen = {str(x).lower() for x in merged}
    for item in new:
        if item.lower() not in seen:
            seen.add(item.lower())
            merged.append(item)
    return merged


def absorb_row(row: dict[str, Any], other: dict[str, Any]) -> None:
    """Merge ``other``, a stored paper found to be the same as ``row``, into ``row`` in place: gaps
    filled, categories and keywords joined, identifiers ``row`` lacks taken (its DOI stays; the
    caller keeps the other one as an alias). ``row``'s title and text win, as the paper it is."""
    if other["arxiv_id"] and not row["arxiv_id"]:
        row["version"] = other["version"]  # arXiv numbers the versions of a paper it has (_versions_own)
    elif other["version"] and not row["version"] and not row["arxiv_id"]:
        row["version"] = other["version"]
    for name in ("arxiv_id", "openreview_id"):
        if other[name] and not row[name]:
            row[name] = other[name]
    _fill_gaps(row, _row_gap_fields(other))
    row["seq"] = max(row["seq"] or 0, other["seq"] or 0)


def _versions_own(row: dict[str, Any], rec: PaperRecord) -> bool:
    """Whether ``rec`` comes from the server that numbers this paper's versions.

    Only that server says what a new version is. A journal or blog entry linking
    ".../abs/2405.00001v2" names a version, but its title and text are its own and must not replace
    the paper's; nor does a bioRxiv v2 make a paper stored from arXiv v1 a new version.

    A paper posted to both arXiv and bioRxiv is numbered by arXiv alone: ``version`` is the latest
    arXiv version (the public ``version`` field), and one counter cannot follow two servers (bioRxiv
    v3 would hide arXiv v2, or pass itself off as arXiv v3).
    """
    if rec.source_kind in _ARXIV_KINDS:
        return bool(rec.arxiv_id) and rec.arxiv_id == row["arxiv_id"]
    if rec.source_kind == "biorxiv" and rec.doi and row["doi"] and not row["arxiv_id"]:
        return rec.doi.lower() == str(row["doi"]).lower()
    return False


def take_arxiv_numbering(row: dict[str, Any], rec: PaperRecord) -> None:
    """``row`` has just taken its arXiv id from ``rec``: from now on arXiv numbers its versions
    (:func:`_versions_own`), so a number another server gave it goes, and ``rec``'s counts only if
    ``rec`` is arXiv's own (a journal's link to ".../abs/2405.00001v2" is not)."""
    row["version"] = rec.version if rec.source_kind in _ARXIV_KINDS else None


#: The version a server's page link names at its end ("...582999v2"), if any.
_VERSION_SUFFIX = re.compile(r"v\d+/?$")


def apply_record(row: dict[str, Any], rec: PaperRecord) -> tuple[bool, bool]:
    """Merge ``rec`` into ``row`` in place; returns (changed, new_version).

    A higher version from the server that numbers the paper's versions (see :func:`_versions_own`)
    replaces the text fields (the newer version is what readers get); any other record only fills gaps and adds categories/keywords. Identifier columns are set by the
    caller, which knows whether another paper already owns them.
    """
    before = dict(row)
    # arXiv announcing a replacement of a paper we hold without its arXiv version (first seen on
    # Hugging Face, or on bioRxiv before arXiv numbered it) is a new version too: what we hold is older.
    new_version = bool(rec.version and _versions_own(row, rec) and (
        rec.version > row["version"] if row["version"] else (rec.announce_type or "").startswith("replace")))
    if new_version:
        row["version"] = rec.version
        for name in ("title", "abstract", "pdf_url", "title_original"):
            value = getattr(rec, name)
            if value:
                row[name] = value
        if rec.url and row["url"] and _VERSION_SUFFIX.sub("", rec.url) == _VERSION_SUFFIX.sub("", row["url"]):
            row["url"] = rec.url  # the server's page of this version (bioRxiv's links name it), no other link
        if rec.authors:
            row["authors"] = list(rec.authors)
        row["title_key"], row["first_author_key"] = title_key(row["title"]), first_author_key(row["authors"])
        row["title_hash"] = title_hash(row["title_key"])
    elif rec.version and not row["version"] and (not row["arxiv_id"] or _versions_own(row, rec)):
        row["version"] = rec.version  # a paper arXiv has takes no other server's number
    _fill_gaps(row, _record_gap_fields(rec))
    return row != before, new_version


#: What :func:`_fill_gaps` reads, in its order, from a record and from a stored paper's row.
_GAP_FIELDS = (*_FILL_FIELDS, "authors", "updated", "categories", "keywords")
_record_gap_fields = attrgetter(*_GAP_FIELDS)
_row_gap_fields = itemgetter(*_GAP_FIELDS)


def _fill_gaps(row: dict[str, Any], values: tuple[Any, ...]) -> None:
    """What any record or paper found to be ``row`` adds to it (``values`` of :data:`_GAP_FIELDS`):
    the fields ``row`` lacks, its authors if ``row`` has none, a later update, more categories and keywords."""
    for name, value in zip(_FILL_FIELDS, values):
        if value and not row[name]:
            row[name] = aware(value) if isinstance(value, datetime) else value
    authors, updated, categories, keywords = values[-4:]
    if not row["authors"] and authors:
        row["authors"] = list(authors)
        row["first_author_key"] = first_author_key(row["authors"])
    updated = aware(updated)
    if updated and (row["updated"] is None or updated > row["updated"]):
        row["updated"] = updated
    if categories:
        row["categories"] = _union(row["categories"], categories)
    if keywords:
        row["keywords"] = _union(row["keywords"], keywords)


_SIGNAL_NAMES = {"upvotes": "upvotes", "comments": "comments", "github_stars": "stars", "stars": "stars"}
#: The only keys signal_values() reads: signals without any of them give all None.
SIGNAL_KEYS = frozenset(_SIGNAL_NAMES)


def signal_values(signals: dict[str, Any]) -> dict[str, int | None]:
    """The numeric signals kept in the ``paper_signals`` time series."""
    out: dict[str, int | None] = {"upvotes": None, "comments": None, "stars": None}
    for key, column in _SIGNAL_NAMES.items():
        value = signals.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[column] = int(value)
    return out
