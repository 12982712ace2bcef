"""Ingest orchestration: fetch the feeds that are due, parse, store, record each feed's state.

The flow is the house's one-way data flow: :func:`digest.sources.fetch_feed` (which calls the one
network function, :func:`digest.fetch.fetch`, and a parser) -> :meth:`Store.ingest_records`. One feed's failure never stops the run:
whatever goes wrong (fetch error, HTML page, binary garbage, malformed or hostile XML, oversize body,
timeout, HTTP 500, a parser bug) is recorded on that feed with a one-line reason, and the next feed
is fetched. Good entries of a partly broken document are kept (parsers return them with warnings).

Public: :func:`ingest_due`, :func:`ingest_feed`, :func:`ingest_file`, :class:`FeedRun`, :func:`batch_hash`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.config import FeedSettings, Settings
from digest.errors import DigestError, ParseError, one_line
from digest.models import IngestStats, ParsedFeed, PaperRecord
from digest.store.base import utcnow

if TYPE_CHECKING:
    from digest.backfill import BackfillRun
    from digest.store import Store

log = logging.getLogger(__name__)

_SNIFF_HEAD = 64 * 1024
#: Files up to this size are read whole for kind detection; larger ones are only sniffed.
_WHOLE_FILE_LIMIT = 64 * 1024 * 1024
#: Snapshots from this size on are read in a helper process (digest.sources.background). Starting
#: one costs ~0.2 s, what this process spends reading ~8,000 snapshot lines (~12 MB).
BACKGROUND_READ_MIN_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeedRun:
    """What one feed did in one ingest run. ``status`` is the feed's health word (ok, empty, quiet,
    stale, not-modified, error); ``error`` the one-line reason when it failed."""

    feed_name: str
    status: str
    stats: IngestStats
    error: str | None = None
    warnings: tuple[str, ...] = ()
    #: The backfill run before this poll, when the poll could no longer read every day since the
    #: previous one (digest.backfill.catch_up).
    backfill: BackfillRun | None = None

    @property
    def failed(self) -> bool:
        return self.status == "error"


def batch_hash(records: Iterable[PaperRecord]) -> str:
    """Identity of a batch: the sorted (external id, version) pairs. Same hash = same batch."""
    keys = sorted(f"{r.source_kind}:{r.external_id}v{r.version or 0}" for r in records)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _check_parsed(parsed: ParsedFeed, kind: str, source: str) -> None:
    """A feed reporting an error, or a damaged one with no intact entry, is an error, not "0 papers"."""
    if parsed.status == "error":
        raise ParseError(kind, parsed.message or "the document reports an error", source=source)
    if not parsed.records and parsed.warnings:
        raise ParseError(kind, parsed.warnings[0], source=source)


def ingest_feed(settings: Settings, store: Store, feed: FeedSettings, *, now: datetime,
                unrecovered: str | None = None, retry_after: float | None = None) -> FeedRun:
    """Fetch, parse and store one configured feed; any failure is recorded and returned, not raised.

    ``unrecovered`` says why days before this poll are still missing (a failed backfill): the poll
    is stored, but the feed's ``last_success`` stays, so the next run reads those days again, not
    before ``retry_after`` seconds when the backfill's source asked for that. A later page's
    Retry-After (a paged source answering 429/503 part way) delays the next attempt too."""
    from digest import sources

    empty = IngestStats(feed.name)
    state = store.get_feed_state(feed.name)
    try:
        # fetch_feed goes through digest.fetch.fetch and follows bioRxiv/OpenReview pages.
        result, maybe_parsed = sources.fetch_feed(feed, settings.fetch, etag=state.etag,
                                                  last_modified=state.last_modified, today=now.date(),
                                                  since=state.last_success,
                                                  openreview_password=settings.openreview_password)
        if maybe_parsed is None:
            new_state = store.record_fetch(feed.name, now=now, outcome="not-modified", etag=result.etag,
                                           last_modified=result.last_modified, complete=not unrecovered,
                                           error=unrecovered, retry_after=retry_after)
            return FeedRun(feed.name, new_state.health, empty)
        parsed = maybe_parsed
        _check_parsed(parsed, feed.kind, feed.name)
        stats = store.ingest_records(feed.name, parsed.records, now=now)
    except Exception as exc:  # noqa: BLE001 - one feed's failure of any kind must not stop the run
        if not isinstance(exc, DigestError):
            log.exception("feed %s failed unexpectedly", feed.name)
        reason = one_line(exc)
        new_state = store.record_fetch(feed.name, now=now, outcome="error", error=reason,
                                       retry_after=getattr(exc, "retry_after", None))
        return FeedRun(feed.name, "error", empty, error=reason)
    new_state = store.record_fetch(
        feed.name, now=now, outcome="ok" if parsed.records else "empty", etag=result.etag,
        last_modified=result.last_modified, entry_count=len(parsed.records), batch_hash=batch_hash(parsed.records),
        feed_date=parsed.feed_date, complete=not (parsed.pages_failed or unrecovered),
        error=unrecovered or parsed.pages_failed, retry_after=_longest(retry_after, result.retry_after))
    return FeedRun(feed.name, new_state.health, stats, warnings=parsed.warnings)


def _longest(*delays: float | None) -> float | None:
    """The longest of the waits sources asked for (seconds), or None when none did."""
    return max((d for d in delays if d is not None), default=None)


def ingest_due(settings: Settings, store: Store, *, now: datetime | None = None,
               progress: Callable[[FeedRun], None] | None = None) -> list[FeedRun]:
    """Fetch every enabled feed whose next attempt has come, first backfilling the days a feed's poll
    can no longer read (:func:`digest.backfill.catch_up`); ``progress`` is called after each feed."""
    from digest.backfill import catch_up

    now = now or utcnow()
    store.sync_feeds(settings.feeds)
    configured = {f.name: f for f in settings.feeds}
    runs: list[FeedRun] = []
    for state in store.due_feeds(now):
        feed = configured.get(state.name)
        if feed is None:
            continue
        run = catch_up(settings, store, feed, now=now, state=state)
        runs.append(run)
        if progress:
            progress(run)
    return runs


def _read_head(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise IsADirectoryError
        if path.exists() and not path.is_file():
            # A device (/dev/zero) or a pipe has no end to read to, or no size to judge it by.
            raise ParseError("file", "is not a regular file (a device or a pipe), not a feed file", source=str(path))
        with path.open("rb") as fh:
            return fh.read(_SNIFF_HEAD)
    except IsADirectoryError:
        raise ParseError("file", "is a directory, not a feed file", source=str(path)) from None
    except OSError as exc:
        raise ParseError("file", exc.strerror or str(exc), source=str(path)) from None


def ingest_file(store: Store, path: str | Path, *, kind: str | None = None, feed_name: str | None = None,
                progress: Callable[[int], None] | None = None, now: datetime | None = None,
                background: bool | None = None) -> IngestStats:
    """Ingest a local capture. ParseError (one line) when it cannot be read as the kind of feed.

    ``feed_name`` defaults to ``file:<file name>``, so re-ingesting the same capture adds nothing.
    Snapshots (``arxiv-snapshot``) are streamed into :meth:`Store.bulk_import`; ``progress(n)`` is
    called after each batch. ``background`` reads a snapshot in a helper process while this one
    stores it (default: for files of :data:`BACKGROUND_READ_MIN_BYTES` and more, when at least two
    CPUs are usable). The returned stats carry the parser's warnings (skipped lines, damaged entries).
    """
    from digest import sources
    from digest.sources import arxiv_snapshot
    from digest.sources.sniff import GZIP_MAGIC, ZIP_MAGIC

    path = Path(path)
    head = _read_head(path)
    if not head.strip():
        raise ParseError(kind or "feed", "the file is empty", source=str(path))
    if head.startswith((GZIP_MAGIC, ZIP_MAGIC)):
        # Only the snapshot comes compressed (Kaggle's ZIP, a gzipped dump): judge it by what it holds.
        head = _read_snapshot_head(path)
        kind = kind or _detect_kind(head, head, path.name)
        if kind != arxiv_snapshot.KIND:
            raise ParseError(kind, "only an arXiv snapshot is read compressed; decompress this file first",
                             source=str(path))
    if kind is None:
        # Detection of a JSON document needs all of it; a snapshot (gigabytes) is told by its first lines.
        small = path.stat().st_size <= _WHOLE_FILE_LIMIT
        kind = _detect_kind(path.read_bytes() if small else head, head, path.name)
    name = feed_name or f"file:{path.name}"
    if kind == "arxiv-snapshot":
        _refuse_other_than_snapshot(head, path)
        return _import_snapshot(store, path, name, progress=progress, now=now, background=background)
    data = path.read_bytes()
    parsed: ParsedFeed = sources.parse_document(kind, data, source=str(path))
    _check_parsed(parsed, kind, str(path))
    stats = store.ingest_records(name, parsed.records, now=now)
    if progress:
        progress(len(parsed.records))
    return replace(stats, warnings=parsed.warnings)


#: Lines of a file's head looked at to tell JSON Lines (a snapshot's first line may be the damaged one).
_HEAD_LINES = 50


def _detect_kind(data: bytes, head: bytes, filename: str) -> str:
    """:func:`digest.sources.detect_kind`, which tells a snapshot by its first line only; a snapshot
    whose first line is damaged is told by the next ones (the import then skips that line)."""
    from digest import sources
    from digest.sources import arxiv_snapshot

    try:
        return sources.detect_kind(data, filename)
    except ParseError:
        if any("id" in obj and "authors_parsed" in obj for obj in _head_objects(head)):
            return arxiv_snapshot.KIND
        raise


def _refuse_other_than_snapshot(head: bytes, path: Path) -> None:
    """A file given as a snapshot that plainly is something else (a page, a PDF, an XML feed, text)
    is refused at once with what it is, not read to its end to find no snapshot line in it."""
    from digest.sources import arxiv_snapshot
    from digest.sources.sniff import reject_non_feed

    if any(True for _ in _head_objects(head)):
        return  # JSON Lines: each line is judged (and skipped with its reason) as it is read
    kind, source = arxiv_snapshot.KIND, str(path)
    text = reject_non_feed(head, kind=kind, source=source).lstrip()  # empty, binary, HTML
    if text.startswith("<"):
        raise ParseError(kind, "this is XML, not the arXiv snapshot (JSON Lines)", source=source)
    if not text.startswith(("{", "[")):
        raise ParseError(kind, "this is plain text, not the arXiv snapshot (JSON Lines)", source=source)


def _head_objects(head: bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects among the first lines of a head (its cut last line fails to decode)."""
    for line in head.removeprefix(codecs.BOM_UTF8).split(b"\n", _HEAD_LINES)[:_HEAD_LINES]:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            yield obj


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, as in containers)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _read_snapshot_head(path: Path) -> bytes:
    from digest.sources import arxiv_snapshot

    head = b""
    try:
        with arxiv_snapshot.open_snapshot(path) as stream:
            while len(head) < _SNIFF_HEAD and (chunk := stream.read(8192)):
                head += chunk
    except (*arxiv_snapshot.DAMAGED_ERRORS, OSError) as exc:
        if not head:  # a truncated file still shows what it holds: the import reports where it ends
            raise ParseError("file", f"cannot decompress it ({exc})", source=str(path)) from None
    return head


def _import_snapshot(store: Store, path: Path, name: str, *, progress: Callable[[int], None] | None,
                     now: datetime | None, background: bool | None) -> IngestStats:
    """Stream a snapshot into :meth:`Store.bulk_import`; big ones are read in a helper process."""
    from digest.sources import arxiv_snapshot
    from digest.sources.background import records_in_background

    stats = arxiv_snapshot.SnapshotStats()
    if background is None:
        # A helper only helps with a second CPU to run on (and an interpreter to start).
        background = (path.stat().st_size >= BACKGROUND_READ_MIN_BYTES and _usable_cpus() >= 2
                      and bool(sys.executable))
    records = (records_in_background(arxiv_snapshot.read_path, path, stats, kind=arxiv_snapshot.KIND)
               if background else arxiv_snapshot.read_path(path, stats))
    with closing(records):  # a failed import stops the helper process now, not when collected
        result = store.bulk_import(name, records, progress=progress, now=now)
    if not result.seen and (stats.skipped or stats.ended_early):
        reason = stats.warnings[0] if stats.warnings else stats.ended_early
        raise ParseError(arxiv_snapshot.KIND, f"no line is a snapshot record ({reason})", source=str(path))
    return replace(result, warnings=stats.summary())
