"""The arXiv metadata snapshot (Kaggle/Cornell "arxiv-metadata-oai-snapshot"), kind "arxiv-snapshot".

JSON Lines, one paper per line (sample: tests/data/corpus/arxivSpider_...first200.jsonl)::

    {"id": "0704.0001", "submitter": ..., "authors": "C. Bal\\'azs, E. L. Berger, ...",
     "title": ..., "comments": ..., "journal-ref": ..., "doi": ..., "report-no": ...,
     "categories": "hep-ph math.CO", "license": null, "abstract": ...,
     "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, ...],
     "update_date": "2008-11-26", "authors_parsed": [["Balázs", "C.", ""], ...]}

This is the bulk import for a new installation (issue #2): the full snapshot has ~2.7M lines, so
:func:`iter_records` streams line by line in constant memory, and a bad line is skipped and counted
(:class:`SnapshotStats`) rather than ending the import.

Public names: :data:`KIND`, :func:`iter_records`, :func:`read_path`, :func:`open_snapshot`,
:data:`DAMAGED_ERRORS`, :class:`SnapshotStats`, :func:`parse`, :func:`record_from_json`.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, cast

from digest.errors import ParseError
from digest.ids import normalize_doi, parse_arxiv_id
from digest.models import PaperRecord, ParsedFeed
from digest.sources.sniff import GZIP_MAGIC, ZIP_MAGIC
from digest.sources.arxiv_rss import plain_title
from digest.text import collapse_ws, normalize_author, split_authors

__all__ = ["KIND", "SnapshotStats", "iter_records", "read_path", "open_snapshot", "DAMAGED_ERRORS", "parse",
           "record_from_json"]

KIND = "arxiv-snapshot"
#: Warnings kept per import; the count goes on past it.
MAX_WARNINGS = 20
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}


@dataclass(slots=True)
class SnapshotStats:
    """What one pass over a snapshot saw: lines read, records made, lines skipped and why."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    #: Why the input stopped before its end (a truncated or corrupt compressed file), if it did.
    ended_early: str | None = None

    def skip(self, line_no: int, reason: str) -> None:
        self.skipped += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(f"line {line_no}: {reason}; skipped")

    def summary(self) -> tuple[str, ...]:
        """Warnings for a ParsedFeed: the first few reasons and the total, and an early end."""
        end = (self.ended_early,) if self.ended_early else ()
        if not self.skipped:
            return end
        more = [f"{self.skipped - len(self.warnings)} more bad line(s) not listed"] if self.skipped > len(self.warnings) else []
        return (f"skipped {self.skipped} of {self.lines} line(s)", *self.warnings, *more, *end)


def iter_records(stream: Iterable[bytes], *, stats: SnapshotStats | None = None,
                 source: str | None = None) -> Iterator[PaperRecord]:
    """Records from a snapshot stream, one line at a time (memory does not grow with the file).

    Pass a :class:`SnapshotStats` to learn how many lines were skipped and why.
    """
    stats = stats if stats is not None else SnapshotStats()
    for line_no, line in enumerate(stream, 1):
        stats.lines = line_no
        if not line.strip():
            continue
        try:
            # json.loads(bytes) first sniffs the encoding; a line opening with '{"' is UTF-8 to that
            # sniffing, so decode it the same way directly (saves ~1 us a line over 2.7M lines).
            obj = _decode(line.decode("utf-8", "surrogatepass")) if line[:2] == b'{"' else json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            stats.skip(line_no, f"not JSON ({exc.__class__.__name__}: {str(exc)[:80]})")
            continue
        try:
            rec = record_from_json(obj)
        except ParseError as exc:
            stats.skip(line_no, exc.reason)
            continue
        stats.records += 1
        yield rec


_decode = json.JSONDecoder().decode  # what json.loads(text) calls


#: What reading a truncated or corrupt gzip/ZIP stream raises.
DAMAGED_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile)


def read_path(path: Path, stats: SnapshotStats) -> Generator[PaperRecord, None, None]:
    """:func:`iter_records` of a file by path, plain, gzip or ZIP (see :func:`open_snapshot`): the
    reader :mod:`digest.sources.background` runs. A truncated or corrupt compressed file yields the
    records before the damage and sets ``stats.ended_early``."""
    with open_snapshot(path) as stream:
        try:
            yield from iter_records(stream, stats=stats, source=str(path))
        except DAMAGED_ERRORS as exc:
            # Like a truncated feed: what came before is kept, and the stats say where it ended.
            stats.ended_early = (f"the compressed file ends early, damaged after line {stats.lines} ({exc}); "
                                 "the lines before it were read")


@contextmanager
def open_snapshot(path: Path) -> Iterator[IO[bytes]]:
    """The snapshot's JSON Lines as a binary stream, decompressed on the fly when the file is gzip
    or a ZIP archive holding one ``.json``/``.jsonl`` file (memory stays constant either way):
    Kaggle distributes the snapshot as a ZIP archive, and people gzip it."""
    with path.open("rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield cast(IO[bytes], unzipped)  # a binary file object; typeshed types it apart
        elif magic == ZIP_MAGIC:
            try:
                archive = zipfile.ZipFile(raw)
            except zipfile.BadZipFile as exc:
                raise ParseError(KIND, f"not a readable ZIP archive ({exc})", source=str(path)) from None
            with archive, archive.open(_snapshot_member(archive, path)) as member:
                yield member
        else:
            yield raw


def _snapshot_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    files = [m for m in archive.infolist() if not m.is_dir()]
    if len(files) > 1:
        files = [m for m in files if m.filename.lower().endswith((".json", ".jsonl"))]
    if len(files) != 1:
        names = ", ".join(m.filename for m in archive.infolist()[:5]) or "nothing"
        raise ParseError(KIND, f"the ZIP archive should hold one .json or .jsonl snapshot file; it holds {names}",
                         source=str(path))
    return files[0]


def parse(data: bytes, *, source: str | None = None) -> ParsedFeed:
    """A whole (small) snapshot file in memory -> ParsedFeed; use :func:`iter_records` for big ones."""
    import io

    stats = SnapshotStats()
    records = tuple(iter_records(io.BytesIO(data), stats=stats, source=source))
    if not records and stats.skipped:
        raise ParseError(KIND, f"no line is a snapshot record ({stats.warnings[0]})", source=source)
    return ParsedFeed(kind=KIND, records=records, status="ok" if records else "empty",
                      message=None if records else "no records", warnings=stats.summary())


def record_from_json(obj: Any) -> PaperRecord:
    """One decoded snapshot line -> a record; ParseError(reason) if it is not a usable one."""
    if not isinstance(obj, dict):
        raise ParseError(KIND, f"a line holds a JSON {type(obj).__name__}, not an object")
    get = obj.get  # ~20 lookups per record of a 2.7M-line import
    raw_id = get("id")
    parsed = parse_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if parsed is None:
        raise ParseError(KIND, f"id {raw_id!r} is not an arXiv id")
    arxiv_id = parsed[0]
    title_raw = _str(get("title"))
    if not title_raw.strip():
        raise ParseError(KIND, f"{arxiv_id} has no title")
    version, first_created = _versions(get("versions"))
    version = version or parsed[1]
    comment = collapse_ws(_str(get("comments")))
    doi_field = _str(get("doi"))
    return PaperRecord(
        source_kind=KIND,
        external_id=arxiv_id,
        title=plain_title(title_raw),
        title_original=title_raw.strip(),
        authors=_authors(obj),
        abstract=collapse_ws(_str(get("abstract"))),
        categories=tuple(dict.fromkeys(_str(get("categories")).split())),
        arxiv_id=arxiv_id,
        version=version,
        # Some lines list several DOIs separated by spaces; the first is the paper's.
        doi=normalize_doi(doi_field.split()[0]) if doi_field.strip() else None,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v{version}" if version else f"https://arxiv.org/pdf/{arxiv_id}",
        published=first_created,
        updated=_day(get("update_date")),
        license=_str(get("license")).strip() or None,
        journal_ref=collapse_ws(_str(get("journal-ref"))) or None,
        signals={"comment": comment} if comment else {},
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


_NEEDS_NORMALIZING = re.compile(r"[\\&,;{$]")


def _authors(obj: dict[str, Any]) -> tuple[str, ...]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names: list[str] = []
        for parts in parsed:
            if not isinstance(parts, list) or not parts:
                continue
            # [last, first, suffix] -> "First Last Suffix" ("Neal J. Evans II")
            if len(parts) == 3 and type(parts[0]) is type(parts[1]) is type(parts[2]) is str:
                last, first, suffix = parts  # the usual shape, without building padded copies
            else:
                last, first, suffix = (list(map(_str, parts)) + ["", ""])[:3]
            name = " ".join(f"{first} {last} {suffix}".split())
            # Most parsed names are already clean; only TeX, entities or stray separators need the
            # full normalize_author (this loop runs ~4 times per record of a 2.7M-line import).
            if _NEEDS_NORMALIZING.search(name):
                name = normalize_author(name)
            if name:
                names.append(name)
        if names:
            return tuple(names)
    return tuple(split_authors(_str(obj.get("authors"))))


def _versions(value: Any) -> tuple[int | None, datetime | None]:
    """Latest version number and the first version's submission time."""
    if not isinstance(value, list):
        return None, None
    latest: int | None = None
    first: datetime | None = None
    for v in value:
        if not isinstance(v, dict):
            continue
        label = _str(v.get("version")).lstrip("v")
        if label.isdigit():
            n = int(label)
            if latest is None or n > latest:
                latest = n
            if n == 1 or first is None:
                created = _rfc2822(_str(v.get("created")))
                first = created if n == 1 else (first or created)
    return latest, first


def _rfc2822(text: str) -> datetime | None:
    """``Mon, 2 Apr 2007 19:18:42 GMT`` (the snapshot's only form) parsed by hand: email.utils is 4x
    slower and this runs once per record of a 2.7M-line import. Anything else goes to email.utils."""
    parts = text.split()
    try:
        if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
            h, m, s = parts[4].split(":")
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(h), int(m), int(s),
                            tzinfo=timezone.utc)
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _day(value: Any) -> datetime | None:
    return _utc_day(value) if isinstance(value, str) else None


# update_date is a day since 2007: at most ~6,600 values, so the cache holds them all and a hit
# replaces ~1 us of parsing per line (records share the immutable datetime).
@lru_cache(maxsize=8192)
def _utc_day(text: str) -> datetime | None:
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
