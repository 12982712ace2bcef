"""Papers, their sources ("via"), the ingest sequence and source signals.

Writes go through :meth:`PaperStore.ingest_records` (feeds) and :meth:`PaperStore.bulk_import`
(snapshots); both process records in batches with set-based lookups (``WHERE arxiv_id IN (...)``)
and ``executemany`` writes, one transaction per batch. The merge rules live in
:mod:`digest.store.merge`.

Canonical ids are stable. A paper keeps the id it was first stored under even when a later source
tells us more: a journal-RSS paper stored as ``doi:10.1/x`` that later arrives from arXiv gains
``arxiv_id`` but stays ``doi:10.1/x``. Re-keying would orphan every reference downstream (matches,
sent papers, digests already mailed, feed entry ids). Lookups by ``arxiv:``/``doi:``/``openreview:``
resolve through the identifier columns, so either name finds the paper; names that fit no column
(a preprint's journal DOI, the DOI of a record merged into a paper that had another) are kept in
``paper_aliases`` and resolve the same way, at ingest and in :meth:`PaperStore.get_paper`.

Merging, in order: a known via, the arXiv id, the DOI, the canonical id, the OpenReview id, an
alias, then a fuzzy title match confirmed by author overlap among candidates that share the first
author's surname (one shared name may confirm) or the exact title key (two must), via
``papers.title_hash`` (:mod:`digest.store.merge`).

Two stored papers found to be one (a preprint whose next record names the journal DOI another
stored paper has) are combined at the end of the batch (:meth:`PaperStore._combine`): the paper the
record belongs to survives, everything referring to the other moves to it, and the other's id
becomes an alias. This is the one exception to stable ids, and the alias keeps the old one working.

Ingest sequence: every new paper and every higher arXiv version appends one ``paper_events`` row;
``papers.seq`` holds the paper's latest event. Sequence numbers are allocated while the batch holds
the write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE paper_events``), so they become
visible in commit order and a watermark never skips a number that commits late.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from itertools import chain, islice
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any

from sqlalchemy import (JSON, Column, Connection, Row, Table, and_, bindparam, case, delete, exists, func, insert, or_,
                        select, text, update)

from digest.errors import NotFoundError
from digest.ids import canonical_id, parse_paper_ref
from digest.models import SOURCE_KINDS, IngestStats, Paper, PaperRecord, Via, via_label
from digest.store import merge
from digest.gcpause import gc_paused
from digest.store.base import StoreBase, utcnow
from digest.store.engine import SQLITE_CACHE_KIB
from digest.store.search_index import mark_search_pending
from digest.store.schema import (MatchRow, PaperAliasRow, PaperEventRow, PaperRow, PaperSourceRow, PaperTagRow,
                                 SentPaperRow, SignalRow, TagRow, UserLabelRow, UTCDateTime)

_P: Table = PaperRow.__table__  # type: ignore[assignment]
_S: Table = PaperSourceRow.__table__  # type: ignore[assignment]
_E: Table = PaperEventRow.__table__  # type: ignore[assignment]
_G: Table = SignalRow.__table__  # type: ignore[assignment]
_A: Table = PaperAliasRow.__table__  # type: ignore[assignment]
_SENT: Table = SentPaperRow.__table__  # type: ignore[assignment]
_T: Table = TagRow.__table__  # type: ignore[assignment]
_PT: Table = PaperTagRow.__table__  # type: ignore[assignment]
#: What refers to a paper, for combining two stored papers found to be one (_combine): the tables
#: whose rows simply move, and those with a unique key beside paper_id (the survivor's row wins).
_MOVED: tuple[Table, ...] = (_S, _E, _G, _A)
_MOVED_UNIQUE: tuple[tuple[Table, tuple[str, ...]], ...] = tuple(
    (row.__table__, keys) for row, keys in ((PaperTagRow, ("tag_id",)), (UserLabelRow, ("user_id", "tag")),  # type: ignore[misc]
                                            (MatchRow, ("subscription_id",)), (SentPaperRow, ("user_id",))))
#: Rows per IN (...) list: far below SQLite's 32,766 host parameters.
#: Larger version numbers are damage (arXiv's highest are in the tens).
_MAX_VERSION = 100_000
_IN_CHUNK = 2000
#: (surname, length window) terms per OR query: "a OR b OR c ..." parses into a tree one level
#: deeper per term, and SQLite refuses trees deeper than 1,000 (SQLITE_MAX_EXPR_DEPTH).
_OR_CHUNK = 200
_ID_LEN, _EXT_LEN = 300, 500
#: SQLite page cache during :meth:`PaperStore.bulk_import`, in KiB (see :func:`_page_cache`); with
#: the importer's own ~110 MB this stays well under the 500 MB budget of issue #2 at 1M records.
BULK_CACHE_KIB = 128 * 1024
#: Records per transaction of :meth:`PaperStore.bulk_import`.
BULK_BATCH = 5000
#: What ingest loads of a known paper (all of it: merging may change any column) and of a via.
_PAPER_COLUMNS = tuple(_P.columns)
_VIA_COLUMNS = (_S.c.id, _S.c.paper_id, _S.c.source_kind, _S.c.external_id, _S.c.signals, _S.c.announce_type)
#: paper_events columns, in table order (the order of the tuples _flush writes).
_EVENT_COLUMNS = ("seq", "paper_id", "kind", "version", "created")


@dataclass(frozen=True, slots=True)
class SignalPoint:
    """One observation of a paper's source signals (for trending velocity)."""

    observed: datetime
    source_kind: str
    upvotes: int | None
    comments: int | None
    stars: int | None


def _forget_sent_numbers(conn: Connection, paper_ids: Sequence[str]) -> None:
    """The versions readers were sent of papers arXiv now numbers were another server's numbers
    (bioRxiv v3 is not arXiv v3), or none: 0 stands for "an earlier version", so arXiv's next
    version is an update to them, as :func:`digest.digests.select` compares."""
    conn.execute(update(_SENT).where(_SENT.c.paper_id.in_(paper_ids)).values(version=0))


@lru_cache(maxsize=4096)  # a batch shares "now" and, for arXiv, one announcement date
def _sqlite_datetime(value: datetime | None) -> str | None:
    """The text form SQLAlchemy's SQLite DATETIME stores (naive UTC, microseconds), so raw and ORM writes agree."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _raw_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver: the hot path of ingest skips per-value type processing.

    Values are converted here exactly as the column types would (UTC datetimes, JSON text), which
    the round-trip tests on both backends check. Columns that are None in every row of the batch
    (an arXiv listing has no tldr, code_url, venue, openreview_id or updated, often no DOI) are
    left out of the statement and store NULL without being bound: the sqlite3 driver binds a None
    through its adapter lookup (~0.45 us, three times a string), and these are 5-7 of a paper row's
    25 values. The work is done column-wise (one transpose each way, in C), so each conversion is
    one ``map`` over a column instead of a list and a tuple per row.
    """
    if not rows:
        return
    dialect, paramstyle = conn.dialect.name, conn.dialect.paramstyle
    names, getter, converters, bound = _insert_plan(dialect, table, tuple(rows[0]))
    columns = list(zip(*map(getter, rows)))
    for i, convert in converters:
        columns[i] = tuple(map(convert, columns[i]))
    n = len(rows)
    keep = tuple(i for i, col in enumerate(columns) if i in bound or col.count(None) != n)
    if len(keep) < len(names):
        names, columns = tuple(names[i] for i in keep), [columns[i] for i in keep]
    conn.exec_driver_sql(_insert_sql(paramstyle, table.name, names), list(zip(*columns)))


_Plan = tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]], tuple[tuple[int, Callable[[Any], Any]], ...],
              frozenset[int]]


@lru_cache(maxsize=64)
def _insert_plan(dialect: str, table: Table, keys: tuple[str, ...]) -> _Plan:
    """The columns in table order, a row -> values getter, the columns needing conversion and those
    always bound (made once per shape).

    A column with a server default is always bound (none has one today): leaving out its None
    would store the default instead of NULL.
    """
    names = tuple(c.name for c in table.columns if c.name in keys)
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(names):
        ctype = table.c[name].type
        if isinstance(ctype, UTCDateTime) and dialect == "sqlite":
            converters.append((i, _sqlite_datetime))
        elif isinstance(ctype, JSON):
            converters.append((i, _json))
    getter = itemgetter(*names)
    # itemgetter of one name returns the bare value; executemany wants a sequence per row.
    bound = frozenset(i for i, name in enumerate(names) if table.c[name].server_default is not None)
    return names, (getter if len(names) > 1 else lambda row: (getter(row),)), tuple(converters), bound


@lru_cache(maxsize=256)  # one per table and set of non-None columns: a handful per source
def _insert_sql(paramstyle: str, table: str, names: tuple[str, ...]) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"


def _json(value: Any) -> str:
    """``json.dumps(value)``, as SQLAlchemy's JSON type calls it, with the usual lists of strings
    (authors, categories) joined directly: ~4x faster than the encoder, which builds itself anew per call."""
    if type(value) is list:
        if not value:  # keywords of nearly every paper
            return "[]"
        try:
            return "[" + ", ".join(map(_quote, value)) + "]"
        except TypeError:  # not all strings: the encoder decides
            pass
    elif type(value) is dict:
        if not value:
            return "{}"
        try:  # the snapshot's {"comment": "..."} signals: string keys and values
            return "{" + ", ".join([f"{_quote(k)}: {_quote(v)}" for k, v in value.items()]) + "}"
        except TypeError:
            pass
    return _dumps(value)


_quote = encode_basestring_ascii  # json.dumps' own quoting (ensure_ascii=True)
_dumps = json.JSONEncoder().encode  # what json.dumps(value) calls, minus its keyword checks


def _rows_where(conn: Connection, columns: Sequence[Column[Any]], column: Column[Any], values: Sequence[Any],
                equal: Sequence[tuple[Column[Any], Any]] = ()) -> list[dict[str, Any]]:
    """Rows (as dicts of ``columns``) whose ``column`` is one of ``values`` and each ``equal``
    column equals its value: what ``select(*columns).where(...)`` returns, with the same types.

    The counterpart of :func:`_raw_insert` for the lookups of ingest, which load every known paper
    of a batch: on SQLite the driver's rows are converted here (JSON text, naive UTC text), about
    4x faster than SQLAlchemy's per-row result processing; other backends take the usual path.
    """
    if conn.dialect.name != "sqlite":
        query = select(*columns).where(column.in_(values), *(c == v for c, v in equal))
        return [dict(r._mapping) for r in conn.execute(query)]
    names, table = tuple(c.name for c in columns), column.table.name  # type: ignore[attr-defined]
    where, params = _where_in(conn, column, values, equal)
    rows = conn.exec_driver_sql(f"SELECT {', '.join(names)} FROM {table} WHERE {where}", params).all()
    converters = _read_plan(tuple(columns))
    out: list[dict[str, Any]] = []
    for row in rows:
        fields = list(row)
        for i, convert in converters:
            if fields[i] is not None:
                fields[i] = convert(fields[i])
        out.append(dict(zip(names, fields)))
    return out


def _where_in(conn: Connection, column: Column[Any], values: Sequence[Any],
              equal: Sequence[tuple[Column[Any], Any]] = ()) -> tuple[str, tuple[Any, ...]]:
    """``column IN (?, ...) AND c = ? ...`` (``IS NULL`` for a None value) and its parameters, in
    the driver's parameter style: the raw lookups' WHERE clause."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    terms = [f"{column.name} IN ({', '.join([mark] * len(values))})",
             *(f"{c.name} IS NULL" if v is None else f"{c.name} = {mark}" for c, v in equal)]
    return " AND ".join(terms), (*values, *(v for _, v in equal if v is not None))


@lru_cache(maxsize=16)
def _read_plan(columns: tuple[Column[Any], ...]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The SQLite columns :func:`_rows_where` converts: JSON text and UTC datetimes stored naive."""
    plan: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        if isinstance(c.type, UTCDateTime):
            plan.append((i, _utc_from_sqlite))
        elif isinstance(c.type, JSON):
            plan.append((i, json.loads))
    return tuple(plan)


@lru_cache(maxsize=4096)  # a batch's rows share first_seen, and arXiv papers their announcement dates
def _utc_from_sqlite(text: str) -> datetime:
    """The inverse of :func:`_sqlite_datetime`, as UTCDateTime reads it back (aware, UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _present(conn: Connection, column: Column[Any], values: set[str],
             where: Sequence[tuple[Column[Any], str | None]] = ()) -> list[str]:
    """Which of ``values`` occur in ``column`` (sorted), only among rows where each ``where`` column
    equals its value (``IS NULL`` for None).

    A raw key-only query: a new batch (the bulk of every import) finds nothing, so the full typed
    row query, whose SQLAlchemy IN expansion costs more than SQLite's index lookups, runs only for
    keys that exist. Callers pass the found keys to the same query as before, so rows arrive in the
    same order.
    """
    if not values:
        return []
    found: set[str] = set()
    for chunk in _chunks(sorted(values)):
        clause, params = _where_in(conn, column, chunk, where)
        sql = f"SELECT {column.name} FROM {column.table.name} WHERE {clause}"  # type: ignore[attr-defined]
        found.update(r[0] for r in conn.exec_driver_sql(sql, params))
    return sorted(found)


@contextmanager
def _page_cache(conn: Connection, kib: int | None) -> Iterator[None]:
    """SQLite: a page cache of ``kib`` KiB on this connection while the block runs, then the usual one.

    A bulk import probes and extends indexes that outgrow the usual cache (at 1M papers the
    identifier, via and first-author indexes are ~200 MB); SQLite sizes the cache per connection
    and frees pages beyond a lowered limit (https://www.sqlite.org/pragma.html#pragma_cache_size),
    so the connection goes back to the pool at its usual size. Runs on the driver connection,
    outside any transaction.
    """
    if kib is None or conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA cache_size=-{kib}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def _title_windows(unmatched: Iterable[_Prep]) -> list[tuple[str, int, int]]:
    """(first-author key, shortest, longest title key) a stored paper needs to be a fuzzy candidate.

    :func:`merge.titles_match` allows at most ``edit_budget`` edits, measured on the shorter key,
    and an edit changes the length by at most one; the budget grows with the length, so the record's
    own budget bounds it from above. Overlapping windows of one surname are merged.
    """
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for prep in unmatched:
        budget = merge.edit_budget(prep.tkey)
        windows[prep.akey].append((len(prep.tkey) - budget, len(prep.tkey) + budget))
    out: list[tuple[str, int, int]] = []
    for akey, spans in sorted(windows.items()):
        spans.sort()
        low, high = spans[0]
        for start, end in spans[1:]:
            if start > high + 1:
                out.append((akey, low, high))
                low = start
            high = max(high, end)
        out.append((akey, low, high))
    return out


def _alias_owner(state: _Batch, prep: _Prep) -> str | None:
    """The paper an alias ties this record to: one of the record's names is a stored alias, or one
    of the record's aliases names a paper (by alias or by identifier). Two arXiv ids stay two papers."""
    owner = next((state.by_alias[n] for n in prep.names() if n in state.by_alias), None)
    for alias in prep.aliases:
        if owner is not None:
            break
        kind, _, value = alias.partition(":")
        owner = ((state.by_doi.get(value) if kind == "doi" else None)
                 or (state.by_arxiv.get(value) if kind == "arxiv" else None)
                 or (alias if alias in state.rows else None))
        if owner is not None and prep.doi and state.doi_aliases.get(owner, set()) - {f"doi:{prep.doi}"}:
            owner = None  # another preprint already joined that paper (see below)
        shared = state.by_alias.get(alias)
        if owner is None and shared in state.rows and not _other_doi(prep, state.rows[shared]):
            # Another record's alias: two preprint DOIs naming one journal DOI (a mislink, or one
            # article from two preprints) are two preprints, as two arXiv ids are two papers.
            owner = shared
    if owner is None or owner not in state.rows:
        return None
    row = state.rows[owner]
    if _conflicting(prep.arxiv_id, row["arxiv_id"]):
        return None
    # An alias is the word of one source (bioRxiv's "published" link): the authors must not contradict it.
    return owner if _authors_agree(prep.rec.authors, row["authors"]) else None


def _authors_agree(one: Sequence[str], other: Sequence[str]) -> bool:
    """No author list to compare, or the two overlap (merge.authors_overlap)."""
    return not one or not other or merge.authors_overlap(one, other)


def _conflicting(one: str | None, other: str | None) -> bool:
    """Both set and different: two identifiers of one kind (arXiv ids, DOIs) that say two papers."""
    return bool(one and other and one != other)


def _other_doi(prep: _Prep, row: dict[str, Any]) -> bool:
    return _conflicting(prep.doi, row["doi"])


def _bounded_id(pid: str) -> str:
    """Very long URL ids are shortened with a hash so they fit the key column."""
    if len(pid) <= _ID_LEN:
        return pid
    return f"{pid[:_ID_LEN - 18]}#{hashlib.sha1(pid.encode()).hexdigest()[:16]}"


#: signal_values() of signals without numbers, shared read-only: most records carry none.
_NO_SIGNALS: dict[str, int | None] = merge.signal_values({})


@dataclass(slots=True)
class _Batch:
    """Working state of one batch: loaded and new rows, identifier indexes, pending writes."""

    feed: str
    now: datetime
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_ids: list[str] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)
    #: Known papers whose source labels (models.via_label) changed: a bioRxiv-kind source now naming medRxiv.
    relabelled: set[str] = field(default_factory=set)
    by_arxiv: dict[str, str] = field(default_factory=dict)
    by_doi: dict[str, str] = field(default_factory=dict)
    by_openreview: dict[str, str] = field(default_factory=dict)
    #: Fuzzy-merge candidates by first-author key (dicts as ordered sets: first indexed, first tried).
    by_author: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    #: The same, only papers stored without an arXiv id when indexed: the only ones an arXiv record
    #: may fuzzy-merge with (a different arXiv id is a different paper), so arXiv records skip the rest.
    by_author_unnumbered: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    #: Fuzzy-merge candidates by exact title key, and the same for papers without an arXiv id: a
    #: source that drops or reorders the first author still meets the paper by its title.
    by_title: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    by_title_unnumbered: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    #: First-author blocks that outgrew _GUARD_SPLIT, split by the titles' guard tokens
    #: (merge.guard_tokens): only titles with the same numbers and negations can match, so a lab
    #: feed of "Report 1" ... "Report 40000" by one author compares each title with its few
    #: namesakes, not with every title of the block (quadratic: 40,000 such items took > 11 minutes).
    #: Keyed by (unnumbered index?, first-author key); kept up to date by index() once built.
    guard_blocks: dict[tuple[bool, str], dict[tuple[str, ...], dict[str, None]]] = field(default_factory=dict)
    #: Known aliases (``paper_aliases``) of this batch's names, and the ones this batch adds.
    by_alias: dict[str, str] = field(default_factory=dict)
    new_aliases: list[dict[str, Any]] = field(default_factory=list)
    #: The "doi:" aliases of the papers this batch's aliases name, stored and added by the batch
    #: (a preprint already joined them): _alias_owner and _combine join no second preprint.
    doi_aliases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: Stored papers found to be another paper of this batch (absorbed id -> surviving id).
    combines: dict[str, str] = field(default_factory=dict)
    #: Papers whose versions arXiv numbers from this batch on (merge.take_arxiv_numbering).
    renumbered: set[str] = field(default_factory=set)
    vias: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    new_vias: list[dict[str, Any]] = field(default_factory=list)
    changed_vias: list[dict[str, Any]] = field(default_factory=list)
    touched_vias: list[int] = field(default_factory=list)
    events: list[tuple[str, str, int | None]] = field(default_factory=list)
    #: Where each paper first stored by this batch has its "new" event in ``events``.
    new_events: dict[str, int] = field(default_factory=dict)
    signals: list[dict[str, Any]] = field(default_factory=list)
    new: int = 0
    versions: int = 0
    merged: int = 0
    unchanged: int = 0

    def index(self, row: dict[str, Any]) -> None:
        pid = row["id"]
        self.rows[pid] = row
        for column, idx in (("arxiv_id", self.by_arxiv), ("doi", self.by_doi), ("openreview_id", self.by_openreview)):
            if row[column]:
                idx.setdefault(row[column], pid)
        akey, tkey, unnumbered = row["first_author_key"], row["title_key"], not row["arxiv_id"]
        if akey:
            self.by_author[akey][pid] = None
            if unnumbered:
                self.by_author_unnumbered[akey][pid] = None
            if self.guard_blocks:  # none at all in nearly every batch
                guards = merge.guard_tokens(tkey)
                for split in ((False, akey), (True, akey)) if unnumbered else ((False, akey),):
                    if split in self.guard_blocks:
                        self.guard_blocks[split].setdefault(guards, {})[pid] = None
        if tkey:
            self.by_title[tkey][pid] = None
            if unnumbered:
                self.by_title_unnumbered[tkey][pid] = None


    def author_block(self, akey: str, *, unnumbered: bool, tkey: str) -> dict[str, None]:
        """Fuzzy-merge candidates sharing the first author ``akey`` (only papers without an arXiv id
        when ``unnumbered``); from a large block only those whose title has ``tkey``'s guard tokens."""
        block = (self.by_author_unnumbered if unnumbered else self.by_author).get(akey, {})
        if len(block) <= _GUARD_SPLIT:
            return block
        split = self.guard_blocks.get((unnumbered, akey))
        if split is None:
            split = self.guard_blocks[(unnumbered, akey)] = {}
            for pid in block:
                split.setdefault(merge.guard_tokens(self.rows[pid]["title_key"]), {})[pid] = None
        return split.get(merge.guard_tokens(tkey), {})


#: Size of a first-author block from which candidates are looked up by guard tokens (_Batch.guard_blocks).
_GUARD_SPLIT = 64


class _Prep:
    """A record with its identifiers and merge keys computed once."""

    __slots__ = ("rec", "pid", "arxiv_id", "doi", "via_key", "tkey", "akey", "aliases")

    def __init__(self, rec: PaperRecord) -> None:
        self.rec = rec
        self.doi = rec.doi.lower() if rec.doi else None
        self.arxiv_id = rec.arxiv_id
        # canonical_id() of the usual arXiv record inline: it is "arxiv:" + the id.
        self.pid = _bounded_id(f"arxiv:{rec.arxiv_id}" if rec.arxiv_id else
                               canonical_id(doi=self.doi, openreview_id=rec.openreview_id, url=rec.url))
        self.via_key = (rec.source_kind, rec.external_id[:_EXT_LEN])
        self.tkey = merge.title_key(rec.title)
        self.akey = merge.first_author_key(rec.authors)
        self.aliases = tuple(dict.fromkeys(filter(None, map(_alias_key, rec.aliases)))) if rec.aliases else ()

    def names(self) -> Iterator[str]:
        """The canonical forms this record's own identifiers take (what an alias may be)."""
        yield self.pid
        if self.doi:
            yield f"doi:{self.doi}"
        if self.arxiv_id:
            yield f"arxiv:{self.arxiv_id}"


def _alias_key(alias: object) -> str | None:
    """An alias as the store keeps it (DOIs are case-insensitive: canonical ids lower-case them), or
    None for one that names nothing: no "kind:" prefix, no value, or too long to be an identifier."""
    if not isinstance(alias, str):
        return None
    kind, sep, value = alias.strip().partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not (sep and kind and value) or len(kind) + len(value) >= _ID_LEN:
        return None
    return f"{kind}:{value.lower() if kind == 'doi' else value}"


class PaperStore(StoreBase):
    """Papers and everything attached to them. Public methods are listed in the module docstring."""

    # --- writing -------------------------------------------------------------------------------

    def ingest_records(self, feed_name: str, records: Iterable[PaperRecord], *,
                       now: datetime | None = None, batch_size: int = 2000) -> IngestStats:
        """Store one document's records: merge, append events, keep every via. Idempotent."""
        return self._ingest(feed_name, records, batch_size, now=now or utcnow(), progress=None)

    def bulk_import(self, feed_name: str, records: Iterable[PaperRecord], *, batch_size: int = BULK_BATCH,
                    progress: Callable[[int], None] | None = None, now: datetime | None = None) -> IngestStats:
        """Stream a large import (the arXiv snapshot) in constant memory; ``progress(n)`` after each batch."""
        return self._ingest(feed_name, records, batch_size, now=now or utcnow(), progress=progress,
                            cache_kib=BULK_CACHE_KIB)

    def _ingest(self, feed_name: str, records: Iterable[PaperRecord], batch_size: int, *, now: datetime,
                progress: Callable[[int], None] | None, cache_kib: int | None = None) -> IngestStats:
        totals = [0, 0, 0, 0, 0]
        iterator = iter(records)
        # One connection for every batch (each batch is still its own transaction), so a bulk
        # import keeps its page cache warm from batch to batch.
        with self.engine.connect() as plain:
            conn = plain.execution_options(sqlite_immediate=True)
            with _page_cache(conn, cache_kib):
                while True:
                    # Reading a batch (a streaming source builds its records here) and storing it
                    # allocate ~30 container objects per record, all alive until the batch ends.
                    with gc_paused():
                        batch = list(islice(iterator, batch_size))
                        if not batch:
                            break
                        with conn.begin():
                            state = _Batch(feed_name, now)
                            self._process(conn, state, batch)
                            self._flush(conn, state)
                        counts = (len(batch), state.new, state.versions, state.merged, state.unchanged)
                        # Freed here, so the collector's next pass finds only a few young objects.
                        del batch, state
                    for i, n in enumerate(counts):
                        totals[i] += n
                    if progress:
                        progress(counts[0])
        return IngestStats(feed_name, seen=totals[0], new=totals[1], new_versions=totals[2], merged=totals[3],
                           unchanged=totals[4])

    def _process(self, conn: Connection, state: _Batch, batch: list[PaperRecord]) -> None:
        if self.dialect == "postgresql":
            # Serialise ingests so sequence numbers commit in order (see module docstring).
            conn.execute(text("LOCK TABLE paper_events IN SHARE ROW EXCLUSIVE MODE"))
        # A version number no server gives ("v99999999999999999999" in a damaged guid) would not fit
        # the column: the record is kept without it.
        prepared = [_Prep(rec if rec.version is None or 0 <= rec.version <= _MAX_VERSION else replace(rec, version=None))
                    for rec in batch]
        # Every via belongs to a paper (foreign key), so a store without papers has nothing to look
        # up: the first batch of a new installation skips the key lookups (~5 ms of a 1,500-item
        # listing). Checked per batch, inside its transaction and under the write lock.
        if self._has_papers(conn):
            self._load_vias(conn, state, prepared)
            self._load_known(conn, state, prepared)
        for prep in prepared:
            self._apply(state, prep)

    def _load_vias(self, conn: Connection, state: _Batch, prepared: list[_Prep]) -> None:
        # One lookup per source kind: with source_kind, feed_name and external_id all given, SQLite
        # searches the unique index on exactly those columns; without the leading source_kind it
        # could only scan the whole index (https://www.sqlite.org/optoverview.html#the_skip_scan_optimization
        # needs ANALYZE statistics), once per batch: quadratic over a large import.
        by_kind: dict[str, set[str]] = defaultdict(set)
        for p in prepared:
            by_kind[p.via_key[0]].add(p.via_key[1])
        for kind, external_ids in sorted(by_kind.items()):
            found = _present(conn, _S.c.external_id, external_ids, ((_S.c.source_kind, kind), (_S.c.feed_name, state.feed)))
            for chunk in _chunks(found):
                for via in _rows_where(conn, _VIA_COLUMNS, _S.c.external_id, chunk,
                                       ((_S.c.source_kind, kind), (_S.c.feed_name, state.feed))):
                    state.vias[(via["source_kind"], via["external_id"])] = via

    def _load_known(self, conn: Connection, state: _Batch, prepared: list[_Prep]) -> None:
        ids = {p.pid for p in prepared} | {v["paper_id"] for v in state.vias.values()}
        arxiv_ids, dois = {p.arxiv_id for p in prepared if p.arxiv_id}, {p.doi for p in prepared if p.doi}
        aliases = {a for p in prepared for a in p.aliases}
        if aliases or self._has_aliases(conn):
            # The aliases of this batch's own names, and the owners of the aliases records carry.
            names = {name for p in prepared for name in p.names()} | aliases
            for chunk in _chunks(_present(conn, _A.c.alias, names)):
                for row in _rows_where(conn, (_A.c.alias, _A.c.paper_id), _A.c.alias, chunk):
                    state.by_alias[row["alias"]] = row["paper_id"]
            ids |= set(state.by_alias.values())
            # An alias may name a paper by its identifier columns (the journal entry came first).
            for alias in aliases:
                kind, _, value = alias.partition(":")
                if kind == "doi":
                    dois.add(value)
                elif kind == "arxiv":
                    arxiv_ids.add(value)
                else:
                    ids.add(alias)
        lookups = ((_P.c.id, ids, state.rows),
                   (_P.c.arxiv_id, arxiv_ids, state.by_arxiv),
                   (_P.c.doi, dois, state.by_doi),
                   (_P.c.openreview_id, {p.rec.openreview_id for p in prepared if p.rec.openreview_id},
                    state.by_openreview))
        for column, values, loaded in lookups:
            # A value a row loaded by an earlier lookup already holds is answered (the identifier
            # columns are unique): re-ingesting known papers reads each row once, not once per column.
            wanted = {v for v in values if v not in loaded}
            for chunk in _chunks(_present(conn, column, wanted)):
                for row in _rows_where(conn, _PAPER_COLUMNS, column, chunk):
                    if row["id"] not in state.rows:
                        state.index(row)
        owners = {owner for a in aliases if a.startswith("doi:") and (owner := state.by_doi.get(a[4:])) is not None}
        for chunk in _chunks(sorted(owners)):
            for row in _rows_where(conn, (_A.c.alias, _A.c.paper_id), _A.c.paper_id, chunk):
                if row["alias"].startswith("doi:"):
                    state.doi_aliases[row["paper_id"]].add(row["alias"])
        # Fuzzy candidates: only for records no identifier, alias or via matched, blocked by
        # first-author surname and by exact title key.
        unmatched = [p for p in prepared
                     if p.via_key not in state.vias and p.pid not in state.rows
                     and not (p.arxiv_id and p.arxiv_id in state.by_arxiv) and not (p.doi and p.doi in state.by_doi)
                     and not ((state.by_alias or p.aliases) and _alias_owner(state, p) is not None)]
        # A paper with a different arXiv id is a different paper, so arXiv records only look at rows without one.
        only_unnumbered = all(p.arxiv_id for p in unmatched)
        if only_unnumbered and unmatched and not self._any_unnumbered(conn):
            return  # a store of arXiv papers only (a snapshot import) has no candidate for them at all
        # ix_papers_author_arxiv answers both forms from the index (migration 0002).
        keys = set(_present(conn, _P.c.first_author_key, {p.akey for p in unmatched} - {""},
                            ((_P.c.arxiv_id, None),) if only_unnumbered else ()))
        # Within a surname, only titles of a length the fuzzy match can reach: a common surname has
        # thousands of papers in a big store, and reading them all for one journal entry cost ~40 us
        # each (see _title_windows).
        # The arXiv-id test goes inside every term, so each one is a search of ix_papers_author_arxiv
        # (outside, SQLite would pick the arxiv_id index and scan every paper without an id).
        unnumbered = (_P.c.arxiv_id.is_(None),) if only_unnumbered else ()
        terms = [and_(_P.c.first_author_key == akey, *unnumbered, func.length(_P.c.title_key).between(low, high))
                 for akey, low, high in _title_windows(p for p in unmatched if p.akey in keys)]
        for chunk in _chunks(terms, _OR_CHUNK):
            for candidate in conn.execute(select(_P).where(or_(*chunk))):
                if candidate.id not in state.rows:
                    state.index(dict(candidate._mapping))
        # The same title under another first author (dropped, reordered, transliterated): an exact
        # title key, as only titles_match can accept it, and only where authors can confirm it.
        # Generic titles ("Editorial") never match, and a journal has thousands of them.
        hashes = {merge.title_hash(p.tkey) for p in unmatched if p.akey and p.tkey and not merge.is_generic_title(p.tkey)}
        where = ((_P.c.arxiv_id, None),) if only_unnumbered else ()
        for chunk in _chunks(sorted(hashes)):
            for row in _rows_where(conn, _PAPER_COLUMNS, _P.c.title_hash, chunk, where):
                if row["id"] not in state.rows:  # a hash collision is indexed under its own key
                    state.index(row)

    def _has_papers(self, conn: Connection) -> bool:
        return conn.exec_driver_sql("SELECT 1 FROM papers LIMIT 1").first() is not None

    def _has_aliases(self, conn: Connection) -> bool:
        return conn.exec_driver_sql("SELECT 1 FROM paper_aliases LIMIT 1").first() is not None

    def _any_unnumbered(self, conn: Connection) -> bool:
        """Whether any paper lacks an arXiv id (one probe of the arxiv_id index)."""
        return conn.execute(select(_P.c.id).where(_P.c.arxiv_id.is_(None)).limit(1)).first() is not None

    def _resolve(self, state: _Batch, prep: _Prep) -> str | None:
        rec, pid, arxiv_id, doi = prep.rec, prep.pid, prep.arxiv_id, prep.doi
        via = state.vias.get(prep.via_key)
        if via:
            return str(via["paper_id"])
        if arxiv_id and arxiv_id in state.by_arxiv:
            return state.by_arxiv[arxiv_id]
        if doi and doi in state.by_doi:
            owner = state.by_doi[doi]
            # Two arXiv ids are two papers even when they carry one DOI (a proceedings volume's, an
            # erratum's): merging them would lose the second id. It is stored on its own, and the
            # DOI stays with the paper that had it first.
            if not _conflicting(arxiv_id, state.rows[owner]["arxiv_id"]):
                return owner
        if pid in state.rows:
            return pid
        if rec.openreview_id and rec.openreview_id in state.by_openreview:
            return state.by_openreview[rec.openreview_id]
        if state.by_alias or prep.aliases:  # both empty for nearly every batch: skip the generator
            aliased = _alias_owner(state, prep)
            if aliased is not None:
                return aliased
        tkey = prep.tkey
        # A row's arxiv_id only ever goes from None to a value, so the unnumbered indexes hold every
        # candidate the arxiv_id check below would let through (the check still runs).
        by_author = state.author_block(prep.akey, unnumbered=bool(arxiv_id), tkey=tkey)
        candidates: Iterable[tuple[str, int]] = ((cand, 1) for cand in by_author)
        same_title = (state.by_title_unnumbered if arxiv_id else state.by_title).get(tkey)
        if same_title:
            # Found by title alone (another first author): two shared names, not one, confirm it. A
            # descriptive title is reused by other groups, and "Zhang, W." or "Liu, Y." is many people.
            candidates = chain(candidates, ((cand, 2) for cand in same_title if cand not in by_author))
        for cand, shared in candidates:
            row = state.rows[cand]
            if (_conflicting(arxiv_id, row["arxiv_id"]) or _conflicting(doi, row["doi"])
                    or _conflicting(rec.openreview_id, row["openreview_id"])):
                continue
            if (merge.titles_match(tkey, row["title_key"])
                    and merge.authors_overlap(rec.authors, row["authors"], minimum=shared)):
                return cand
        return None

    def _apply(self, state: _Batch, prep: _Prep) -> None:
        rec, pid, arxiv_id, doi = prep.rec, prep.pid, prep.arxiv_id, prep.doi
        found = self._resolve(state, prep)
        created = found is None
        if found is None:
            row = merge.new_row(pid, rec, arxiv_id=arxiv_id, doi=doi, now=state.now, tkey=prep.tkey, akey=prep.akey)
            # An identifier another paper already owns stays with that paper (unique columns).
            for column, idx in (("arxiv_id", state.by_arxiv), ("doi", state.by_doi),
                                ("openreview_id", state.by_openreview)):
                if row[column] and row[column] in idx:
                    row[column] = None
            state.index(row)
            state.new_ids.append(pid)
            state.created.add(pid)
            state.new_events[pid] = len(state.events)
            state.events.append((pid, "new", rec.version))
            found = pid
            version_event = False
        else:
            row = state.rows[found]
            changed, new_version = merge.apply_record(row, rec)
            changed |= self._adopt_ids(state, row, rec, arxiv_id, doi)
            # A paper first stored in this very batch gets one "new" event carrying its latest version.
            version_event = new_version and found not in state.created
            if version_event:
                state.events.append((found, "version", rec.version))
            elif new_version:  # first stored by this batch: its one "new" event carries the latest version
                state.events[state.new_events[found]] = (found, "new", row["version"])
            if changed and found not in state.created:
                state.dirty.add(found)
        if prep.aliases or prep.doi:
            self._record_aliases(state, prep, row)
        via_new = self._record_via(state, rec, prep.via_key, found)
        if created:
            state.new += 1
        elif version_event:
            state.versions += 1
        elif via_new:
            state.merged += 1
        else:
            state.unchanged += 1

    def _adopt_ids(self, state: _Batch, row: dict[str, Any], rec: PaperRecord, arxiv_id: str | None,
                   doi: str | None) -> bool:
        """A merged record lends the paper identifiers it lacked, unless another paper owns them."""
        changed = False
        for column, value, idx in (("arxiv_id", arxiv_id, state.by_arxiv), ("doi", doi, state.by_doi),
                                   ("openreview_id", rec.openreview_id, state.by_openreview)):
            if value and not row[column] and value not in idx:
                row[column] = value
                idx[value] = row["id"]
                changed = True
                if column == "arxiv_id" and (row["version"] or rec.version):
                    merge.take_arxiv_numbering(row, rec)
                    state.renumbered.add(row["id"])
        return changed

    def _record_aliases(self, state: _Batch, prep: _Prep, row: dict[str, Any]) -> None:
        """Keep the names another source may know this paper by: the record's aliases, and its DOI
        when the paper already has another one (a preprint merged into its journal version). An
        alias that is another stored paper's own DOI marks that paper for combining (:meth:`_combine`,
        which also checks that no other preprint joined it and that the authors agree)."""
        other_doi = _other_doi(prep, row)
        pid = row["id"]
        # The record's own DOI, owned by another stored paper: a journal entry stored on its own
        # before the preprint (arXiv's DOI field) named it.
        doi_elsewhere = bool(prep.doi) and state.by_doi.get(prep.doi or "", pid) != pid
        if not prep.aliases and not other_doi and not doi_elsewhere:
            return  # the usual record: nothing to keep
        names = [*prep.aliases, f"doi:{prep.doi}"] if other_doi or doi_elsewhere else list(prep.aliases)
        for alias in names:
            kind, _, value = alias.partition(":")
            owner = state.by_doi.get(value) if kind == "doi" and (alias in prep.aliases or value == prep.doi) else None
            if owner is not None and owner != pid and owner in state.rows:
                # The record names another stored paper's own DOI (a preprint, now published, whose
                # journal entry came first and was stored on its own): the two are one paper.
                if not _conflicting(row["arxiv_id"], state.rows[owner]["arxiv_id"]):
                    state.combines.setdefault(owner, pid)
                continue
            owned = (alias in state.by_alias or alias in state.rows
                     or (kind == "doi" and value in state.by_doi) or (kind == "arxiv" and value in state.by_arxiv))
            if not owned and len(alias) <= _ID_LEN:  # an identifier or alias a paper has stays where it is
                state.by_alias[alias] = pid
                if kind == "doi":
                    state.doi_aliases[pid].add(alias)
                state.new_aliases.append({"alias": alias, "paper_id": pid, "created": state.now})

    def _record_via(self, state: _Batch, rec: PaperRecord, key: tuple[str, str], pid: str) -> bool:
        signals = rec.signals
        values = _NO_SIGNALS if not signals or merge.SIGNAL_KEYS.isdisjoint(signals) else merge.signal_values(signals)
        via = state.vias.get(key)
        if via is None:
            via = {"paper_id": pid, "source_kind": rec.source_kind, "feed_name": state.feed, "external_id": key[1],
                   "first_seen": state.now, "last_seen": state.now, "announce_type": rec.announce_type,
                   "signals": dict(rec.signals)}
            state.vias[key] = via
            state.new_vias.append(via)
            if values is not _NO_SIGNALS and any(v is not None for v in values.values()):
                state.signals.append({"paper_id": pid, "source_kind": rec.source_kind, "observed": state.now, **values})
            return True
        if "id" not in via:  # a via created earlier in this batch: keep its first values
            return False
        if via["signals"] != rec.signals or via["announce_type"] != rec.announce_type:
            if merge.signal_values(via["signals"] or {}) != values and any(v is not None for v in values.values()):
                state.signals.append({"paper_id": via["paper_id"], "source_kind": rec.source_kind,
                                      "observed": state.now, **values})
            if via_label(rec.source_kind, state.feed, via["signals"]) != via_label(rec.source_kind, state.feed, rec.signals):
                state.relabelled.add(str(via["paper_id"]))  # "via bioRxiv" became "via medRxiv": src: reads it
            via.update(signals=dict(rec.signals), announce_type=rec.announce_type)
            state.changed_vias.append({"b_id": via["id"], "signals": via["signals"],
                                       "announce_type": rec.announce_type, "last_seen": state.now})
        else:
            state.touched_vias.append(via["id"])
        return False

    def _allocate_seqs(self, conn: Connection, n: int) -> list[int]:
        if n == 0:
            return []
        if self.dialect == "postgresql":
            rows = conn.execute(text("SELECT nextval(pg_get_serial_sequence('paper_events', 'seq')) "
                                     "FROM generate_series(1, :n)"), {"n": n})
            return sorted(int(r[0]) for r in rows)
        # SQLite: the batch holds the write lock (BEGIN IMMEDIATE), and events are append-only.
        start = conn.execute(select(func.coalesce(func.max(_E.c.seq), 0))).scalar_one() + 1
        return list(range(start, start + n))

    def _flush(self, conn: Connection, state: _Batch) -> None:
        seqs = self._allocate_seqs(conn, len(state.events))
        rows = state.rows
        for seq, (pid, _, _) in zip(seqs, state.events):
            rows[pid]["seq"] = seq
        _raw_insert(conn, _P, [state.rows[pid] for pid in state.new_ids])
        dirty = state.dirty | {pid for pid, kind, _ in state.events if kind == "version"}
        if dirty:
            columns: dict[str, Any] = {name: bindparam(name) for name in (*merge.MUTABLE_FIELDS, "seq")}
            conn.execute(update(_P).where(_P.c.id == bindparam("b_id")).values(columns),
                         [{"b_id": pid, **{k: state.rows[pid][k] for k in columns}} for pid in sorted(dirty)])
        _raw_insert(conn, _S, state.new_vias)
        _raw_insert(conn, _A, state.new_aliases)
        if state.changed_vias:
            conn.execute(update(_S).where(_S.c.id == bindparam("b_id"))
                         .values(signals=bindparam("signals"), announce_type=bindparam("announce_type"),
                                 last_seen=bindparam("last_seen")), state.changed_vias)
        for chunk in _chunks(state.touched_vias):
            conn.execute(update(_S).where(_S.c.id.in_(chunk)).values(last_seen=state.now))
        if seqs:
            created = _sqlite_datetime(state.now) if self.dialect == "sqlite" else state.now
            sql = _insert_sql(conn.dialect.paramstyle, _E.name, _EVENT_COLUMNS)
            conn.exec_driver_sql(sql, [(seq, pid, kind, version, created)
                                       for seq, (pid, kind, version) in zip(seqs, state.events)])
        _raw_insert(conn, _G, state.signals)
        if state.combines:
            self._combine(conn, state)
        # What search must check directly until it is indexed again: papers whose matching document
        # changed without a new sequence number (those with one are above the index's watermark).
        fresh = state.created
        changed = state.dirty | state.relabelled | set(state.combines.values())
        changed.update(via["paper_id"] for via in state.new_vias if via["paper_id"] not in fresh)
        changed -= fresh
        if changed:
            changed -= {pid for pid, _, _ in state.events}
            mark_search_pending(conn, changed)
        for chunk in _chunks(sorted(state.renumbered)):
            _forget_sent_numbers(conn, chunk)

    def _combine(self, conn: Connection, state: _Batch) -> None:
        """Fold each absorbed paper into its survivor: everything that refers to it moves (where the
        survivor already has the same tag, label, match or sent record, the survivor's stays), its
        fields fill the survivor's gaps, and its names (canonical id, DOI) become the survivor's
        aliases, so every link, feed entry and lookup by them still finds the paper."""
        for absorbed, survivor in state.combines.items():
            seen = {absorbed}
            while survivor in state.combines and survivor not in seen:  # a chain within one batch
                seen.add(survivor)
                survivor = state.combines[survivor]
            if (survivor in seen or absorbed not in state.rows or state.doi_aliases.get(absorbed)
                    or not _authors_agree(state.rows[survivor]["authors"], state.rows[absorbed]["authors"])):
                # Another preprint already joined the absorbed paper (two preprints naming one
                # journal DOI are two papers), or no author is shared: see _alias_owner.
                continue
            row, other = state.rows[survivor], state.rows.pop(absorbed)
            if absorbed in state.created:
                # First stored by this very batch: it was never a paper of its own downstream, so its
                # "new" event goes (the survivor has one) and its record counts as merged, not new.
                conn.execute(delete(_E).where(_E.c.paper_id == absorbed))
                state.new, state.merged, other["seq"] = state.new - 1, state.merged + 1, 0
            if other["arxiv_id"] and not row["arxiv_id"]:
                _forget_sent_numbers(conn, [survivor])  # before the absorbed paper's (arXiv's) move in
            for table in _MOVED:
                conn.execute(update(table).where(table.c.paper_id == absorbed).values(paper_id=survivor))
            for table, keys in _MOVED_UNIQUE:
                twin = table.alias("twin")
                taken = exists().where(twin.c.paper_id == survivor, *(twin.c[k] == table.c[k] for k in keys))
                conn.execute(delete(table).where(table.c.paper_id == absorbed, taken))
                conn.execute(update(table).where(table.c.paper_id == absorbed).values(paper_id=survivor))
            conn.execute(delete(_P).where(_P.c.id == absorbed))  # before its unique identifiers move
            merge.absorb_row(row, other)
            columns: dict[str, Any] = {name: row[name] for name in (*merge.MUTABLE_FIELDS, "seq")}
            conn.execute(update(_P).where(_P.c.id == survivor).values(columns))
            names = [absorbed, *([f"doi:{other['doi']}"] if other["doi"] else [])]
            known = set(conn.execute(select(_A.c.alias).where(_A.c.alias.in_(names))).scalars())
            for name in dict.fromkeys(names):
                if name not in known and len(name) <= _ID_LEN:
                    conn.execute(insert(_A).values(alias=name, paper_id=survivor, created=state.now))
                    if name.startswith("doi:"):
                        state.doi_aliases[survivor].add(name)
            # The absorbed paper's aliases moved with it (a later combine in this batch reads them here).
            state.doi_aliases[survivor] |= state.doi_aliases.pop(absorbed, set())
            state.combines[absorbed] = survivor

    # --- reading -------------------------------------------------------------------------------

    def _vias(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[Via]]:
        vias: dict[str, list[Via]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            rows = conn.execute(select(_S).where(_S.c.paper_id.in_(chunk)).order_by(_S.c.first_seen, _S.c.id))
            for r in rows:
                vias[r.paper_id].append(Via(source_kind=r.source_kind, feed_name=r.feed_name,
                                            external_id=r.external_id, first_seen=r.first_seen,
                                            announce_type=r.announce_type, signals=dict(r.signals or {})))
        return vias

    def _papers(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Paper]:
        vias = self._vias(conn, [r.id for r in rows])
        return [_paper(r, vias.get(r.id, ())) for r in rows]

    def paper_aliases(self, ids: Iterable[str]) -> dict[str, list[str]]:
        """The other names of these papers (``doi:...``: a preprint's journal DOI, the DOI of a record
        merged into a paper that had another), oldest first; papers without any are left out.

        Not a field of :class:`Paper`: only what shows a paper's names asks, and digests, feeds and
        matching read thousands of papers per run without needing them."""
        out: dict[str, list[str]] = defaultdict(list)
        with self.read() as conn:
            for chunk in _chunks(sorted(set(ids))):
                for r in conn.execute(select(_A.c.paper_id, _A.c.alias).where(_A.c.paper_id.in_(chunk))
                                      .order_by(_A.c.created, _A.c.alias)):
                    out[r.paper_id].append(r.alias)
        return dict(out)

    def get_paper(self, ref: str) -> Paper:
        """A paper by canonical id or alias (``arxiv:…``, ``doi:…``, a bare arXiv id, a link); NotFoundError."""
        cid = parse_paper_ref(ref)
        prefix, _, rest = cid.partition(":")
        alias = {"arxiv": _P.c.arxiv_id, "doi": _P.c.doi, "openreview": _P.c.openreview_id}.get(prefix)
        condition = _P.c.id == cid
        if alias is not None and rest:
            condition = or_(condition, alias == (rest.lower() if prefix == "doi" else rest))
        with self.read() as conn:
            rows = conn.execute(select(_P).where(condition).order_by((_P.c.id == cid).desc()).limit(1)).all()
            if not rows:  # another name of a paper: a preprint's journal DOI, a merged record's DOI
                owner = select(_A.c.paper_id).where(_A.c.alias == _alias_key(cid)).scalar_subquery()
                rows = conn.execute(select(_P).where(_P.c.id == owner)).all()
            if not rows:
                raise NotFoundError("paper", ref)
            return self._papers(conn, rows)[0]

    def papers_by_ids(self, ids: Iterable[str]) -> dict[str, Paper]:
        wanted = sorted(set(ids))
        with self.read() as conn:
            rows: list[Row[Any]] = []
            for chunk in _chunks(wanted):
                rows.extend(conn.execute(select(_P).where(_P.c.id.in_(chunk))))
            return {p.id: p for p in self._papers(conn, rows)}

    def list_papers(self, *, limit: int | None = None, offset: int = 0, source: str | None = None) -> list[Paper]:
        """Newest first (by ingest sequence); ``source`` is a feed name or a source kind."""
        newest_first = (_P.c.seq.desc(), _P.c.id)
        if not source:
            query = select(_P).order_by(*newest_first).offset(offset).limit(limit)
        else:
            # Through the unique index (source_kind, feed_name, external_id): as a kind, or as a feed
            # of any kind (every kind named, so the index is searched, not scanned). Walking papers
            # newest first with a lookup each read the whole table for a small or quiet feed (1.6 s
            # at 400,000 papers). Only ids are sorted, then the page's rows read: for a source of a
            # bulk import's 400,000 papers that sort takes 0.65 s, against 1.6 s for whole rows.
            of_source = or_(_S.c.source_kind == source,
                            and_(_S.c.source_kind.in_(SOURCE_KINDS), _S.c.feed_name == source))
            page = (select(_P.c.id).where(_P.c.id.in_(select(_S.c.paper_id).where(of_source)))
                    .order_by(*newest_first).offset(offset).limit(limit))
            query = select(_P).where(_P.c.id.in_(page)).order_by(*newest_first)
        with self.read() as conn:
            return self._papers(conn, conn.execute(query).all())

    def newest_papers(self, limit: int, *, up_to: int | None = None) -> list[Paper]:
        """The ``limit`` papers ingested last (by ingest sequence, through its index), newest first;
        with ``up_to``, only papers whose latest event is at or below that sequence."""
        query = select(_P).order_by(_P.c.seq.desc(), _P.c.id).limit(limit)
        if up_to is not None:
            query = query.where(_P.c.seq <= up_to)
        with self.read() as conn:
            return self._papers(conn, conn.execute(query).all())

    def papers_with_tag_newest(self, tag: str, *, now: datetime, limit: int, offset: int = 0) -> list[Paper]:
        """Papers of topic tag ``tag``, most recently changed first, as a feed lists them: by their
        update time unless it is ahead of ``now`` (else when first seen), then newest ingest first.
        Ordered and cut in SQL: an arXiv category tag holds tens of thousands of papers."""
        changed = case((and_(_P.c.updated.is_not(None), _P.c.updated <= now), _P.c.updated), else_=_P.c.first_seen)
        query = (select(_P).join(_PT, _PT.c.paper_id == _P.c.id).join(_T, _T.c.id == _PT.c.tag_id)
                 .where(_T.c.name == tag).order_by(changed.desc(), _P.c.seq.desc(), _P.c.id.desc())
                 .offset(offset).limit(limit))
        with self.read() as conn:
            return self._papers(conn, conn.execute(query).all())

    def latest_paper_day(self, *, before: datetime) -> datetime | None:
        """The latest time a stored paper is dated at (published, else first seen: as
        :func:`digest.match.search.paper_day` reads a paper's day) that is earlier than ``before``."""
        with self.read() as conn:
            return conn.execute(select(func.max(_paper_day_column())).where(_paper_day_column() < before)).scalar()

    def papers_dated_between(self, start: datetime, end: datetime) -> list[Paper]:
        """Papers dated (as :meth:`latest_paper_day` reads it) at or after ``start`` and before
        ``end``, selected in SQL: a window of recent days never loads the back catalogue."""
        day = _paper_day_column()
        with self.read() as conn:
            return self._papers(conn, conn.execute(select(_P).where(day >= start, day < end).order_by(_P.c.id)).all())

    def papers_after(self, seq: int, *, limit: int | None = None) -> list[tuple[int, str, Paper]]:
        """Events after watermark ``seq`` in order: (event seq, "new" | "version", paper)."""
        query = (select(_E.c.seq.label("event_seq"), _E.c.kind.label("event_kind"), _P)
                 .join(_P, _P.c.id == _E.c.paper_id).where(_E.c.seq > seq).order_by(_E.c.seq).limit(limit))
        with self.read() as conn:
            rows = conn.execute(query).all()
            papers = self._papers(conn, rows)
            return [(int(r.event_seq), str(r.event_kind), p) for r, p in zip(rows, papers)]

    def papers_by_seqs(self, seqs: Iterable[int]) -> list[Paper]:
        """The papers whose latest ingest sequence number is one of ``seqs`` (others name nothing:
        an older version's number), by id."""
        wanted = sorted({int(s) for s in seqs})
        with self.read() as conn:
            rows: list[Row[Any]] = []
            for chunk in _chunks(wanted):
                rows.extend(conn.execute(select(_P).where(_P.c.seq.in_(chunk))))
            rows.sort(key=lambda r: r.id)
            return self._papers(conn, rows)

    def papers_above_seq(self, seq: int, *, limit: int, up_to: int | None = None) -> list[Paper]:
        """Up to ``limit`` papers whose latest ingest sequence number is above ``seq`` (and at most
        ``up_to``), in sequence order (keyset pagination through ix_papers_seq)."""
        query = select(_P).where(_P.c.seq > seq).order_by(_P.c.seq).limit(limit)
        if up_to is not None:
            query = query.where(_P.c.seq <= up_to)
        with self.read() as conn:
            return self._papers(conn, conn.execute(query).all())

    def paper_seqs(self, ids: Iterable[str]) -> dict[str, int]:
        """Paper id -> its latest ingest sequence number, for the stored ones of ``ids``."""
        out: dict[str, int] = {}
        with self.read() as conn:
            for chunk in _chunks(sorted(set(ids))):
                out.update((r.id, int(r.seq)) for r in conn.execute(select(_P.c.id, _P.c.seq).where(_P.c.id.in_(chunk))))
        return out

    def max_seq(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(_E.c.seq), 0))).scalar_one())

    def paper_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(_P)).scalar_one())

    def iter_papers(self, batch: int = 1000) -> Iterator[Paper]:
        """Every paper, by id, in pages of ``batch`` (keyset pagination: constant memory)."""
        last = ""
        while True:
            with self.read() as conn:
                rows = conn.execute(select(_P).where(_P.c.id > last).order_by(_P.c.id).limit(batch)).all()
                papers = self._papers(conn, rows)
            yield from papers
            if len(rows) < batch:
                return
            last = rows[-1].id

    def signal_history(self, paper_ids: Iterable[str]) -> dict[str, list[SignalPoint]]:
        """Observed upvotes/comments/stars per paper, oldest first."""
        out: dict[str, list[SignalPoint]] = defaultdict(list)
        with self.read() as conn:
            for chunk in _chunks(sorted(set(paper_ids))):
                rows = conn.execute(select(_G).where(_G.c.paper_id.in_(chunk)).order_by(_G.c.observed, _G.c.id))
                for r in rows:
                    out[r.paper_id].append(SignalPoint(r.observed, r.source_kind, r.upvotes, r.comments, r.stars))
        return dict(out)


def _paper_day_column() -> Any:
    """A paper's date as SQL: published, else first seen (typed, so datetimes compare and come back aware)."""
    return func.coalesce(_P.c.published, _P.c.first_seen, type_=_P.c.first_seen.type)


def _paper(r: Row[Any], vias: Sequence[Via]) -> Paper:
    return Paper(id=r.id, title=r.title, authors=tuple(r.authors or ()), abstract=r.abstract or "", tldr=r.tldr,
                 categories=tuple(r.categories or ()), keywords=tuple(r.keywords or ()), arxiv_id=r.arxiv_id,
                 version=r.version, doi=r.doi, openreview_id=r.openreview_id, url=r.url, pdf_url=r.pdf_url,
                 code_url=r.code_url, published=r.published, updated=r.updated, license=r.license,
                 journal_ref=r.journal_ref, venue=r.venue, title_original=r.title_original,
                 first_seen=r.first_seen, seq=int(r.seq or 0), sources=tuple(vias))
