"""The arXiv metadata snapshot (Kaggle/Cornell "arxiv-metadata-oai-snapshot"), kind "arxiv-snapshot".

JSON Lines, one paper per line (sample: tests/data/corpus/arxivSpider_...first200.jsonl)::

    {"id": "0704.0001", "submitter": ..., "authors": "C. Bal\\'azs, E. L. Berger, ...",
     "title": ..., "comments": ..., "journal-ref": ..., "doi": ..., "report-no": ...,
     "categories": "hep-ph math.CO", "license": null, "abstract": ...,
     "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, ...],
     "update_date": "2008-11-26", "authors_parsed": [["Balázs", "C.", ""], ...]}

This is the bulk import for a new installation (issue #2): the full snapshot has ~2.7M lines, so
:func:`iter_records` streams line by line in constant memory, and a bad line is skipped and counted
(:class:`SnapshotStats`) rather than ending the import. A line whose JSON escapes decode to what no
database stores (an unpaired surrogate such as ``\\ud800``: U+FFFD instead; ``\\u0000``: dropped) is
kept. A gzip or ZIP file that is cut short or fails its check keeps the lines before the damage.

Public names: :data:`KIND`, :func:`iter_records`, :func:`read_path`, :func:`open_snapshot`,
:data:`DAMAGED_ERRORS`, :class:`SnapshotStats`, :func:`parse`, :func:`record_from_json`.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from digest.dates import rfc5322_date
from digest.errors import ParseError
from digest.ids import normalize_doi, parse_arxiv_id
from digest.models import PaperRecord, ParsedFeed
from digest.sources.fields import storable
from digest.sources.sniff import GZIP_MAGIC, ZIP_MAGIC
from digest.text import clean_title, collapse_ws, normalize_author, split_authors

__all__ = ["KIND", "SnapshotStats", "iter_records", "read_path", "open_snapshot", "DAMAGED_ERRORS", "parse",
           "record_from_json"]

KIND = "arxiv-snapshot"
#: Warnings kept per import; the count goes on past it.
MAX_WARNINGS = 20
_MONTHS = {m: f"{i:02d}" for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                                "Oct", "Nov", "Dec"), 1)}


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
    line_no = 0
    try:
        for line_no, line in enumerate(stream, 1):
            usual = line[:2] == b'{"'  # every line of a real snapshot: not blank, no BOM
            if not usual and (not line or line.isspace()):
                continue
            try:
                obj = _decode(line.decode("utf-8")) if usual else _decode_odd(line)
            except (ValueError, RecursionError) as exc:  # strict UTF-8: no surrogates, as JSON requires
                stats.skip(line_no, _not_json(line, exc))
                continue
            try:
                rec = record_from_json(obj)
                if _unstorable(rec):  # rare: read the line again without what cannot be stored
                    rec = record_from_json(storable(obj))
            except ParseError as exc:
                stats.skip(line_no, exc.reason)
                continue
            except RecursionError as exc:  # storable walking a deeply nested value
                stats.skip(line_no, _not_json(line, exc))
                continue
            except Exception as exc:  # noqa: BLE001 - one odd line (or a bug it hits) costs that line, not the import
                stats.skip(line_no, f"cannot be read ({exc.__class__.__name__}: {str(exc)[:80]})")
                continue
            stats.records += 1
            yield rec
    finally:
        # Set once, not per line; also when the stream fails or the reader is closed early.
        stats.lines = line_no


_decode = json.JSONDecoder().decode  # what json.loads(text) calls


def _decode_odd(line: bytes) -> Any:
    """A line that does not open with '{"': leading blanks, the file's BOM, or not an object."""
    text = line.decode("utf-8")
    return _decode(text[1:] if text[:1] == "\ufeff" else text)


def _not_json(line: bytes, exc: BaseException) -> str:
    """Why a line could not be decoded, for its warning."""
    if isinstance(exc, UnicodeDecodeError):  # strict: encoded surrogates (ED A0 80...) land here too
        return f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
    if isinstance(exc, RecursionError):  # the decoder recurses once per nested array or object
        return "not JSON (nested too deeply)"
    return f"not JSON ({exc.__class__.__name__}: {str(exc)[:80]})"


def _unstorable(rec: PaperRecord) -> bool:
    """Whether a record holds a character no database stores: an unpaired UTF-16 surrogate (valid
    JSON escapes like \\ud800 decode to one; SQLite and PostgreSQL cannot encode it) or NUL
    (PostgreSQL refuses it in text). Either used to fail the store's whole batch with a traceback.
    Checked on the record, not on the
    line: a regex for the escapes costs ~1.5 us on a Kaggle line (every accent is a \\u escape),
    one join and two C-speed tests about half of that."""
    text = "".join((rec.title_original or "", rec.abstract, rec.doi or "", rec.license or "",
                    rec.journal_ref or "", *rec.authors, *rec.categories, *rec.signals.values()))
    if "\x00" in text:
        return True
    if text.isascii():  # O(1): CPython records it when it builds the string
        return False
    try:
        text.encode("utf-8")  # fails exactly on an unpaired surrogate (a pair decodes to one character)
    except UnicodeEncodeError:
        return True
    return False


#: What reading a truncated or corrupt gzip/ZIP stream raises: gzip's own check (a CRC-32 that does
#: not match, bytes appended after the data) fails with BadGzipFile, an OSError.
DAMAGED_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile)


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
            with _zip_member(raw, path) as member:
                yield member
        else:
            yield raw


@contextmanager
def _zip_member(raw: IO[bytes], path: Path) -> Iterator[IO[bytes]]:
    """The archive's snapshot file; from an archive cut short, its first file up to the cut."""
    try:
        archive: zipfile.ZipFile | None = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as exc:
        archive, reason = None, f"not a readable ZIP archive ({exc})"
    if archive is None:
        # The central directory, at the end, is missing: most likely a download cut short (Kaggle's
        # arxiv.zip is ~1.5 GB). Its one file can still be read from its local header on.
        raw.seek(0)
        yield _first_member(raw, path, reason=reason)
        return
    with archive:
        info = _snapshot_member(archive, path)
        _check_readable(info.filename, info.flag_bits, info.compress_type, path)
        with archive.open(info) as member:
            yield member


#: Compression methods zipfile reads; others are named in the error (APPNOTE 4.4.5).
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "XZ", 98: "PPMd"}


def _check_readable(name: str, flags: int, method: int, path: Path) -> None:
    """A one-line ParseError for a member zipfile would refuse with NotImplementedError/RuntimeError
    (Windows' "Compressed folder" writes Deflate64 for large files; 7-Zip can encrypt)."""
    extract = "; extract it (unzip, 7z) and ingest the extracted file"
    if flags & 0x1:
        raise ParseError(KIND, f"{name} in the ZIP archive is encrypted{extract}", source=str(path))
    if method not in _ZIP_METHODS:
        what = f"method {method} ({_ZIP_METHOD_NAMES[method]})" if method in _ZIP_METHOD_NAMES else f"method {method}"
        raise ParseError(KIND, f"{name} in the ZIP archive is compressed with {what}, which cannot be read here"
                               f"{extract}", source=str(path))


#: A ZIP local file header: signature, version, flags, method, time, date, CRC-32, compressed and
#: uncompressed sizes, name and extra field lengths (APPNOTE 4.3.7).
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def _first_member(raw: IO[bytes], path: Path, *, reason: str) -> IO[bytes]:
    """The first member of a ZIP archive without its central directory, inflated from its local
    header on; ParseError(``reason``) unless it is a deflated .json/.jsonl file."""
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size:
        raise ParseError(KIND, reason, source=str(path))
    magic, _, flags, method, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(header)
    name = raw.read(name_len).decode("utf-8" if flags & 0x800 else "cp437", "replace")
    raw.read(extra_len)
    if magic != ZIP_MAGIC or not name.lower().endswith((".json", ".jsonl")):
        raise ParseError(KIND, reason, source=str(path))
    _check_readable(name, flags, method, path)
    if method != zipfile.ZIP_DEFLATED:  # what every ZIP tool writes; a stored one has no end mark
        raise ParseError(KIND, reason, source=str(path))
    return io.BufferedReader(_Inflate(raw))


class _Inflate(io.RawIOBase):
    """Raw deflate data inflated as it is read, in bounded pieces; EOFError when the file ends first."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        inflater = self._inflater
        while not inflater.eof:
            data = inflater.unconsumed_tail or self._raw.read(_INFLATE_CHUNK)
            if not data:
                raise EOFError("the ZIP archive ends before the file it holds does")
            out = inflater.decompress(data, len(buffer))  # at most what fits: memory stays bounded
            if out:
                buffer[:len(out)] = out
                return len(out)
        return 0


_INFLATE_CHUNK = 256 * 1024


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
    if isinstance(raw_id, str) and _NEW_ID.fullmatch(raw_id):
        parsed: tuple[str, int | None] | None = (raw_id, None)  # what parse_arxiv_id returns, 2x faster
    else:
        parsed = parse_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if parsed is None:
        raise ParseError(KIND, f"id {raw_id!r} is not an arXiv id")
    arxiv_id = parsed[0]
    title_raw = _str(get("title"))
    if not title_raw.strip():
        raise ParseError(KIND, f"{arxiv_id} has no title")
    version, first_created, latest_created = _versions(get("versions"))
    version = version or parsed[1]
    comment = collapse_ws(_str(get("comments")))
    doi_field = _str(get("doi"))
    return PaperRecord(
        source_kind=KIND,
        external_id=arxiv_id,
        title=clean_title(title_raw),
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
        updated=latest_created,
        license=_str(get("license")).strip() or None,
        journal_ref=collapse_ws(_str(get("journal-ref"))) or None,
        signals={"comment": comment} if comment else {},
    )


#: A new-style id exactly as the snapshot writes ~95% of them ("0704.0001", "2401.12345"): no prefix,
#: version or blanks, so parse_arxiv_id's general pattern need not run.
_NEW_ID = re.compile(r"\d{4}\.\d{4,5}")


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
            if ". -" in first:  # authors_parsed splits "C.-P. Yuan" as ["Yuan", "C. -P.", ""]
                first = first.replace(". -", ".-")
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


def _versions(value: Any) -> tuple[int | None, datetime | None, datetime | None]:
    """Latest version number, the first version's submission time, and the latest version's when it
    is a later one (None for a paper with one version).

    The latter is the paper's ``updated``, as the arXiv API's <updated> and an announcement of a
    replacement give it. Not the line's ``update_date``: that is the day arXiv last edited the
    metadata (a journal reference or DOI added, often in a bulk pass), which 0704.0001's v2 of
    2007-07-24 shows as 2008-11-26 and a never revised paper of 1996 as 2010-11-19.
    """
    if not isinstance(value, list):
        return None, None, None
    latest: int | None = None
    first: datetime | None = None
    latest_entry: dict[str, Any] | None = None
    for v in value:
        if not isinstance(v, dict):
            continue
        label = _str(v.get("version")).lstrip("v")
        if label.isdecimal():  # what int() reads; isdigit() also takes "²", which int() refuses
            n = int(label)
            if latest is None or n > latest:
                latest, latest_entry = n, v
            if n == 1 or first is None:
                created = _rfc2822(_str(v.get("created")))
                first = created if n == 1 else (first or created)
    if latest is None or latest == 1 or latest_entry is None:
        return latest, first, None
    return latest, first, _rfc2822(_str(latest_entry.get("created")))


def _rfc2822(text: str) -> datetime | None:
    """``Mon, 2 Apr 2007 19:18:42 GMT`` (the snapshot's only form) parsed by hand: email.utils is 4x
    slower and this runs once per record of a 2.7M-line import. Anything else goes to email.utils."""
    parts = text.split()
    try:
        if len(parts) == 6 and parts[5] == "GMT" and (month := _MONTHS.get(parts[2])) is not None:
            # Rewritten as ISO 8601 for the C parser: ~0.9 us less than six int() calls and datetime().
            return datetime.fromisoformat(f"{parts[3]}-{month}-{parts[1].zfill(2)}T{parts[4]}+00:00")
    except (ValueError, OverflowError):  # a day or time out of range; Overflow: a year past C's long
        return None
    return rfc5322_date(text)

