"""Corpus statistics the scorer needs: how many papers, and how many contain each term.

Document frequencies count single-token keys of the text fields and acronym marker keys (joined pairs are left out: they
would double the table for little gain), plus categories and sources seen, so a saved query can be
checked against values that exist. The whole thing round-trips through a JSON-able dict, which is
how the store persists it. The statistics also answer which frequent words lie one typo from a
word (:meth:`CorpusStats.frequent_near`), for automatic typo tolerance (digest.match.score).

Public: :class:`CorpusStats`, :func:`idf_weight`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from digest.match.document import Document
from digest.match.query import ACRONYM_MARK
from digest.match.vocab import NearKeys

__all__ = ["CorpusStats", "idf_weight"]

#: idf is divided by this so that a term in ~5% of papers weighs 1.0.
IDF_REFERENCE = 3.0
IDF_MIN, IDF_MAX = 0.25, 1.5
#: Small corpora give noisy idf: blend with a neutral 1.0 as if this many papers agreed.
IDF_PRIOR_DOCS = 50


def idf_weight(df: int, doc_count: int) -> float:
    """Normalised BM25 idf of a term in ``df`` of ``doc_count`` papers, in [IDF_MIN, IDF_MAX]."""
    raw = math.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)) / IDF_REFERENCE
    clipped = min(IDF_MAX, max(IDF_MIN, raw))
    return (doc_count * clipped + IDF_PRIOR_DOCS) / (doc_count + IDF_PRIOR_DOCS)


class CorpusStats:
    __slots__ = ("doc_count", "df", "categories", "sources", "version", "_near")

    def __init__(self, doc_count: int = 0, df: dict[str, int] | None = None,
                 categories: dict[str, int] | None = None, sources: dict[str, int] | None = None) -> None:
        self.doc_count = doc_count
        self.df: Counter[str] = Counter(df or {})
        self.categories: Counter[str] = Counter(categories or {})
        self.sources: Counter[str] = Counter(sources or {})
        #: bumped by update(): documents drop scores cached under an older version
        self.version = 0
        #: ((version, min_df), index) of :meth:`frequent_near`, built on first use
        self._near: tuple[tuple[int, float], NearKeys] | None = None

    @classmethod
    def from_documents(cls, docs: Iterable[Document]) -> "CorpusStats":
        stats = cls()
        for doc in docs:
            stats.update(doc)
        return stats

    def update(self, doc: Document) -> None:
        """Count one more paper (call once per paper, not per version)."""
        self.doc_count += 1
        self.version += 1
        keys = {t.key for f in doc.fields.values() for t in f.seq}
        keys.update(k for f in doc.fields.values() for k in f.postings if k.startswith(ACRONYM_MARK))
        self.df.update(keys)
        # Each paper counts once for its archive too ("cs" for cs.LG and cs.AI), so the share of
        # `cat:cs` is a count of papers, not the sum of its categories' counts.
        archives = {c.split(".", 1)[0] for c in doc.categories if "." in c}
        self.categories.update(archives.union(doc.categories))
        self.sources.update(doc.sources)

    def count(self, key: str) -> int:
        """Papers containing ``key``; an acronym marker key ("^gan") not yet counted (stats saved
        before markers existed) falls back to its plain key."""
        found = self.df.get(key)
        if found is None and key.startswith(ACRONYM_MARK):
            found = self.df.get(key[len(ACRONYM_MARK):])
        return found or 0

    def idf(self, key: str) -> float:
        return idf_weight(self.count(key), self.doc_count)

    def idf_many(self, keys: Sequence[str]) -> npt.NDArray[np.float64]:
        """:meth:`idf` of every key, the very same floats: computed once per distinct count (a
        batch's ~100,000 keys have a few hundred), with Python's own ``math.log``."""
        get, mark = self.df.get, ACRONYM_MARK
        counts = [self.count(k) if k.startswith(mark) else get(k, 0) for k in keys]
        weights = {c: idf_weight(c, self.doc_count) for c in set(counts)}
        return np.fromiter(map(weights.__getitem__, counts), np.float64, len(counts))

    def frequent_near(self, key: str, min_df: float) -> dict[str, int]:
        """The keys in at least ``min_df`` papers that keep the first letter of ``key`` and are one
        edit from it (as an automatically fuzzy word would match them), with their counts.

        The index of those keys is built on the first call and again after :meth:`update` or for
        another ``min_df``: a few milliseconds per thousand keys, once per statistics object."""
        near = self._near
        if near is None or near[0] != (self.version, min_df):
            index = NearKeys(k for k, n in self.df.items() if n >= min_df and not k.startswith(ACRONYM_MARK))
            near = self._near = ((self.version, min_df), index)
        return {k: self.df[k] for k in near[1].one_edit_from(key)}

    def fraction(self, key: str) -> float:
        """Share of papers containing ``key`` (0 when the corpus is empty)."""
        return self.count(key) / self.doc_count if self.doc_count else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"doc_count": self.doc_count, "df": dict(self.df), "categories": dict(self.categories),
                "sources": dict(self.sources)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CorpusStats":
        return cls(int(data.get("doc_count", 0)), data.get("df"), data.get("categories"), data.get("sources"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorpusStats) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
