"""The search index's tables: postings of paper terms, and papers waiting to be indexed again
(migration 0005). What a term is, and which papers a query needs, is digest.match.search_index's
business; this module only stores and reads sets of ingest sequence numbers.

Postings are written one *segment* at a time (one indexing batch, thousands of papers): per term,
one row holding the batch's papers that carry it, packed as sorted sequence numbers: a width byte
``w`` (1, 2, 4 or 8), the first number (8 bytes, little-endian), then the differences between
consecutive numbers, ``w`` bytes each. A term of one paper costs 9 bytes; a common term ~1 byte per
paper. Rows are never updated, so writing a batch is plain inserts and reading a term is one range
of the primary key per segment.

Public (through :class:`digest.store.Store`): :meth:`SearchIndexStore.save_search_segment`,
:meth:`SearchIndexStore.search_postings`, :meth:`SearchIndexStore.search_postings_by_term`,
:meth:`SearchIndexStore.search_prefix_postings`,
:meth:`SearchIndexStore.search_terms_in`, :meth:`SearchIndexStore.search_pending`,
:meth:`SearchIndexStore.clear_search_pending`, :meth:`SearchIndexStore.search_index_size`; and
:func:`mark_search_pending` for the paper writers of this package.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, text

from digest.store.base import StoreBase
from digest.store.schema import SearchPendingRow, SearchPostingRow

if TYPE_CHECKING:  # numpy is imported where postings are read: every other command starts without it
    import numpy as np
    import numpy.typing as npt

_SP: Table = SearchPostingRow.__table__  # type: ignore[assignment]
_SQ: Table = SearchPendingRow.__table__  # type: ignore[assignment]

#: The longest term stored (the column's width); longer ones are cut to it, and a lookup of a longer
#: one looks up its cut form (which finds a superset: search checks every candidate anyway).
TERM_LENGTH = 128

#: The smallest array typecode holding each width, little-endian on disk whatever the machine.
_TYPECODES = ((1, "B", "<u1"), (2, "H", "<u2"), (4, "I", "<u4"), (8, "Q", "<u8"))
_FIRST = struct.Struct("<q")
_IN_CHUNK = 500


def cut_term(term: str) -> str:
    return term[:TERM_LENGTH]


def pack_seqs(seqs: Sequence[int]) -> bytes:
    """Sorted, distinct sequence numbers -> the packed form (module docstring)."""
    first = seqs[0]
    if len(seqs) == 1:
        return b"\x01" + _FIRST.pack(first)
    deltas = [b - a for a, b in zip(seqs, seqs[1:])]
    largest = max(deltas)
    for width, code, _ in _TYPECODES:
        if largest < 1 << (8 * width) and array(code).itemsize == width:
            packed = array(code, deltas)
            if sys.byteorder == "big":
                packed.byteswap()
            return bytes((width,)) + _FIRST.pack(first) + packed.tobytes()
    raise ValueError("sequence numbers out of range")  # pragma: no cover (deltas fit 8 bytes)


def unpack_seqs(blob: bytes) -> "npt.NDArray[np.int64]":
    import numpy as np

    width, first = blob[0], _FIRST.unpack_from(blob, 1)[0]
    dtype = next(d for w, _, d in _TYPECODES if w == width)
    deltas = np.frombuffer(blob, dtype=dtype, offset=9).astype(np.int64)
    out = np.empty(len(deltas) + 1, np.int64)
    out[0] = first
    np.cumsum(deltas, out=out[1:])
    out[1:] += first
    return out


def _union(parts: "list[npt.NDArray[np.int64]]") -> "npt.NDArray[np.int64]":
    import numpy as np

    if not parts:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]


def mark_search_pending(conn: Connection, paper_ids: Iterable[str]) -> None:
    """Note papers whose matching document changed without a new sequence number (the paper
    writers call this in their own transaction)."""
    ids = sorted(set(paper_ids))
    if ids:
        conn.execute(insert(_SQ), [{"paper_id": pid} for pid in ids])


def _prefix_range(prefix: str) -> tuple[str, str] | None:
    """The half-open range of strings starting with ``prefix`` (None: no upper bound needed)."""
    if not prefix:
        return None
    last = prefix[-1]
    if ord(last) >= sys.maxunicode:
        return None
    return prefix, prefix[:-1] + chr(ord(last) + 1)


class SearchIndexStore(StoreBase):
    # --- writing -----------------------------------------------------------------------------

    def save_search_segment(self, postings: Mapping[str, Iterable[int]], *, conn: Connection) -> int:
        """Write one segment: ``term -> sequence numbers`` (terms longer than :data:`TERM_LENGTH`
        are cut). Returns the segment's number. Run inside the caller's write transaction."""
        if self.dialect == "postgresql":
            # Two indexing passes at once must not take the same segment number.
            conn.execute(text("LOCK TABLE search_postings IN SHARE ROW EXCLUSIVE MODE"))
        segment = int(conn.execute(select(func.coalesce(func.max(_SP.c.segment), 0))).scalar_one()) + 1
        merged: dict[str, set[int]] = {}
        for term, seqs in postings.items():
            cut = cut_term(term)
            if cut in merged:
                merged[cut].update(seqs)
            else:
                merged[cut] = set(seqs)
        rows = [(term, segment, pack_seqs(sorted(seqs))) for term, seqs in sorted(merged.items()) if seqs]
        if rows:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            conn.exec_driver_sql(f"INSERT INTO search_postings (term, segment, papers) VALUES ({mark}, {mark}, {mark})",
                                 rows)
        return segment

    def clear_search_pending(self, through: int, *, conn: Connection) -> None:
        """Forget the pending marks up to and including mark ``through`` (those a pass read)."""
        conn.execute(delete(_SQ).where(_SQ.c.id <= through))

    # --- reading -----------------------------------------------------------------------------

    def search_pending(self) -> tuple[int, list[str]]:
        """(the newest mark, the distinct paper ids marked up to it), or (0, []) when none."""
        with self.read() as conn:
            rows = conn.execute(select(_SQ.c.id, _SQ.c.paper_id).order_by(_SQ.c.id)).all()
        if not rows:
            return 0, []
        return int(rows[-1].id), list(dict.fromkeys(r.paper_id for r in rows))

    def search_postings(self, terms: Iterable[str]) -> "npt.NDArray[np.int64]":
        """The sorted, distinct sequence numbers posted under any of ``terms`` (exact terms)."""
        return _union(list(self.search_postings_by_term(terms).values()))

    def search_postings_by_term(self, terms: Iterable[str]) -> "dict[str, npt.NDArray[np.int64]]":
        """Per stored term of ``terms`` (as stored: cut to :data:`TERM_LENGTH`), its sorted, distinct
        sequence numbers; terms nobody carries are left out."""
        wanted = sorted({cut_term(t) for t in terms})
        parts: "dict[str, list[npt.NDArray[np.int64]]]" = {}
        with self.read() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                rows = conn.execute(select(_SP.c.term, _SP.c.papers).where(_SP.c.term.in_(wanted[i:i + _IN_CHUNK])))
                for term, blob in rows:
                    parts.setdefault(term, []).append(unpack_seqs(bytes(blob)))
        return {term: _union(found) for term, found in parts.items()}

    def search_prefix_postings(self, prefix: str) -> "npt.NDArray[np.int64]":
        """The sorted, distinct sequence numbers posted under any term starting with ``prefix``."""
        prefix = cut_term(prefix)
        bounds = _prefix_range(prefix)
        where = _SP.c.term >= prefix if bounds is None else and_(_SP.c.term >= bounds[0], _SP.c.term < bounds[1])
        with self.read() as conn:
            parts = [unpack_seqs(bytes(blob)) for (blob,) in conn.execute(select(_SP.c.papers).where(where))]
        return _union(parts)

    def search_terms_in(self, prefix: str, *, min_length: int, max_length: int) -> list[str]:
        """The distinct stored terms starting with ``prefix`` whose length is within the bounds
        (a fuzzy word's candidates: digest.match.search_index compares them itself)."""
        bounds = _prefix_range(cut_term(prefix))
        length = func.length(_SP.c.term)
        conditions = [length >= min_length, length <= max_length]
        if bounds is not None:
            conditions += [_SP.c.term >= bounds[0], _SP.c.term < bounds[1]]
        with self.read() as conn:
            return list(conn.execute(select(_SP.c.term).where(*conditions).distinct()).scalars())

    def search_index_size(self) -> tuple[int, int, int]:
        """(segments, posting rows, pending marks): for `digest status`."""
        with self.read() as conn:
            # Segments are numbered from 1 and never removed: the highest is their count.
            segments, rows = conn.execute(select(func.max(_SP.c.segment), func.count()).select_from(_SP)).one()
            pending = conn.execute(select(func.count()).select_from(_SQ)).scalar_one()
        return int(segments or 0), int(rows or 0), int(pending or 0)
