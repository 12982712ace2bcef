"""Refusing saved queries that are valid but useless: they cannot match, or match nearly everything.

Checked on save (``digest subscribe``, ``digest query check``, config ``[[tags]]``), in this order,
each error pointing at the clause concerned:

1. the query matches papers only by what they lack (``NOT x``, ``a OR -b``), or excludes what it
   requires (``diffusion -diffusion``);
2. what it requires is only stop words (``the``, ``"of the"``, ``using OR the``, ``papers``; a word
   written in capitals is an acronym, no stop word: ``ALL``, ``WHO``);
3. an ``id:`` value that names no paper (no arXiv id, DOI, ``openreview:`` id or link); a ``cat:`` value that is no arXiv category and was never seen, or a ``src:`` value that names no
   source kind, label, configured feed or feed seen in the corpus;
4. with at least :data:`MIN_DOCS_FOR_ESTIMATE` papers in the corpus, an estimated match fraction
   above :data:`MAX_MATCH_FRACTION`.

Public: :func:`validate_for_save`, :func:`estimate_fraction`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from digest.errors import QueryError
from digest.ids import ARXIV_ARCHIVES, is_arxiv_category
from digest.match.normalize import STOP_KEYS
from digest.match.query import And, MetaClause, Node, Not, Or, TextClause, parse, source_key
from digest.match.stats import CorpusStats
from digest.models import SOURCE_KINDS, SOURCE_LABELS

__all__ = ["validate_for_save", "estimate_fraction", "only_exclusions", "MAX_MATCH_FRACTION", "EXCLUSIONS_ONLY"]

#: Why a query of exclusions alone is refused (saved) or finds nothing (searched).
EXCLUSIONS_ONLY = "the query only says what to exclude; add a word to look for"

# A word in half the papers is a fair subscription in a feed about it ("quantum" in a physics feed);
# one in nearly every paper ("model" in an ML feed, ~80%) is not.
MAX_MATCH_FRACTION = 0.70
MIN_DOCS_FOR_ESTIMATE = 50
#: An id: value the query language resolved to a paper's canonical id (digest.ids.parse_paper_ref).
_KNOWN_ID = re.compile(r"^(arxiv|doi|openreview|url):.")


def validate_for_save(text: str, stats: CorpusStats, *, sources: Iterable[str] = (), breadth: bool = True) -> None:
    """Raise :class:`QueryError` when ``text`` is invalid or would be a useless subscription.

    ``sources`` names configured feeds, so ``src:`` may name a feed that has not delivered yet.
    ``breadth=False`` skips check 4, for a query saved before and kept unchanged: a corpus that grew
    towards it must not refuse what was accepted (``digest init`` re-applies the config at every start).
    """
    root = parse(text).root
    negation = _matches_by_absence(root)
    if negation is not None:
        raise QueryError(text, negation, EXCLUSIONS_ONLY)
    contradiction = _excludes_what_it_requires(root)
    if contradiction is not None:
        raise QueryError(text, contradiction, "this excludes what the query asks for: nothing can match")
    stop = _only_stop_words(root)
    if stop is not None:
        raise QueryError(text, stop.column, f"{stop.text!r} has only stop words: it would match almost every paper")
    known_sources = {source_key(s) for s in (*SOURCE_KINDS, *SOURCE_LABELS.values(), *stats.sources, *sources)}
    for clause in _positive_meta(root):
        if clause.field == "ids" and not _KNOWN_ID.match(clause.value):
            raise QueryError(text, clause.column, f"{clause.text!r} names no paper (use an arXiv id, a DOI, "
                                                  "openreview:ID or a link)")
        if clause.field == "categories" and not _category_exists(clause, stats):
            raise QueryError(text, clause.column, f"no category {clause.text!r} exists (try cat:cs.LG or cat:cs.*)")
        if clause.field == "sources" and not any(
                s.startswith(clause.value) if clause.prefix else s == clause.value for s in known_sources):
            raise QueryError(text, clause.column, f"no source {clause.text!r} is configured or known")
    if breadth and stats.doc_count >= MIN_DOCS_FOR_ESTIMATE:
        share = estimate_fraction(root, stats)
        if share > MAX_MATCH_FRACTION:
            raise QueryError(text, 1, f"the query would match about {share:.0%} of papers; make it more specific")


def _matches_by_absence(node: Node) -> int | None:
    """Column of a NOT that lets a paper match without any positive clause, else None."""
    if isinstance(node, Not):
        return node.column
    if isinstance(node, And):
        cols = [_matches_by_absence(c) for c in node.children]
        return cols[0] if all(c is not None for c in cols) else None
    if isinstance(node, Or):
        return next((c for c in map(_matches_by_absence, node.children) if c is not None), None)
    return None


def only_exclusions(node: Node) -> int | None:
    """Column of the first NOT when every part of the query is a NOT (``NOT quantum``, ``-survey
    -review``, ``-a OR -b``), else None: such a query scores 0 on every paper it matches, so a
    search with a threshold finds nothing, whatever the papers."""
    if isinstance(node, Not):
        return node.column
    if isinstance(node, (And, Or)):
        cols = [only_exclusions(c) for c in node.children]
        return cols[0] if cols and all(c is not None for c in cols) else None
    return None


def _excludes_what_it_requires(node: Node) -> int | None:
    """Column of a NOT whose clause the same AND requires (``diffusion -diffusion``), else None."""
    if not isinstance(node, And):
        return None
    required = [_clause_key(c) for c in node.children if not isinstance(c, Not)]
    for child in node.children:
        if isinstance(child, Not) and _clause_key(child.child) in required:
            return child.column
    return None


def _clause_key(node: Node) -> object:
    """What decides a clause's matches: its text and column aside ("diffusion" typed twice is one clause)."""
    if isinstance(node, TextClause):
        return ("text", node.fields, tuple((w.key, w.dist, w.prefix) for w in node.words), node.quoted)
    if isinstance(node, MetaClause):
        return ("meta", node.field, node.value, node.prefix, node.givens)
    return node


def _only_stop_words(node: Node) -> TextClause | None:
    """A stop-word clause that suffices for the whole query to match, else None. Stop words are
    compared by key, so their inflections count too ("papers", "proposed")."""
    if isinstance(node, TextClause):
        return node if all(w.key in STOP_KEYS and not w.prefix and not w.acronym for w in node.words) else None
    if isinstance(node, And):
        positive = [c for c in node.children if not isinstance(c, Not)]
        found = [_only_stop_words(c) for c in positive]
        return found[0] if found and all(f is not None for f in found) else None
    if isinstance(node, Or):
        return next((f for f in map(_only_stop_words, node.children) if f is not None), None)
    return None


def _positive_meta(node: Node) -> list[MetaClause]:
    if isinstance(node, MetaClause):
        return [node]
    if isinstance(node, (And, Or)):
        return [m for c in node.children for m in _positive_meta(c)]
    return []


def _category_exists(clause: MetaClause, stats: CorpusStats) -> bool:
    value = clause.value
    seen = stats.categories
    if clause.prefix:
        if any(c.startswith(value) for c in seen):
            return True
        archive = value.split(".", 1)[0]
        return any(a.startswith(archive) for a in ARXIV_ARCHIVES) if "." not in value else archive in ARXIV_ARCHIVES
    if value in seen or any(c.startswith(value + ".") for c in seen):
        return True
    return is_arxiv_category(value)


def estimate_fraction(node: Node, stats: CorpusStats) -> float:
    """Rough share of the corpus ``node`` matches (independence assumed where it must be)."""
    n = max(stats.doc_count, 1)
    if isinstance(node, TextClause):
        shares = [_word_share(w.form, w.key, w.prefix, stats) for w in node.words]
        return min(shares) if len(shares) == 1 else min(shares) * 0.5
    if isinstance(node, MetaClause):
        if node.field == "categories":
            return _category_share(node, stats) / n
        if node.field == "sources":  # as the matcher compares: equal, or starting with a prefix
            if not node.prefix:
                return stats.sources.get(node.value, 0) / n
            return min(1.0, sum(v for s, v in stats.sources.items() if s.startswith(node.value)) / n)
        return 1.0 / n
    if isinstance(node, Not):
        return 1.0 - estimate_fraction(node.child, stats)
    parts = [estimate_fraction(c, stats) for c in node.children]
    if isinstance(node, Or):
        return min(1.0, sum(parts))
    share = min(p for c, p in zip(node.children, parts) if not isinstance(c, Not)) if any(
        not isinstance(c, Not) for c in node.children) else 1.0
    for c, p in zip(node.children, parts):
        if isinstance(c, Not):
            share *= p
    return share


def _category_share(clause: MetaClause, stats: CorpusStats) -> float:
    """Papers a ``cat:`` clause matches: the archive's own count for ``cat:cs`` and ``cat:cs.*``
    (each paper counted once, however many cs.* categories it has), else the categories' counts
    summed (an upper bound; also what statistics saved before archives were counted give)."""
    value = clause.value
    archive = value[:-1] if clause.prefix and value.endswith(".") else value if "." not in value else None
    if archive is not None and archive in stats.categories:
        return stats.categories[archive]
    if clause.prefix:
        return sum(v for c, v in stats.categories.items() if c.startswith(value))
    return stats.categories.get(value, 0) + sum(v for c, v in stats.categories.items() if c.startswith(value + "."))


def _word_share(form: str, key: str, prefix: bool, stats: CorpusStats) -> float:
    if prefix:
        # Upper bound: papers may hold several keys with the prefix.
        stem = form.rstrip("e")  # keys are stems: "encode*" must count "encod"
        return min(1.0, sum(v for k, v in stats.df.items() if k.startswith(stem)) / max(stats.doc_count, 1))
    return stats.fraction(key)
