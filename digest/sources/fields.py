"""Small, strict readers for values in untrusted JSON documents (shared by the JSON sources).

API answers change shape without notice (bioRxiv sends counts as strings, Hugging Face drops keys
when empty); these helpers turn "whatever is there" into the one type a record field needs, or
None, so one odd entry never breaks a whole document.

Public names: :func:`load_json`, :func:`storable`, :func:`text`, :func:`integer`, :func:`timestamp`,
:func:`strings`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from typing import Any

from digest.dates import as_utc
from digest.errors import ParseError
from digest.sources.sniff import reject_non_feed

__all__ = ["load_json", "storable", "text", "integer", "timestamp", "strings"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: JSON escapes that decode to what no database or XML document may hold: a lone UTF-16 surrogate
#: ("\ud800" without its pair) or NUL. json.loads accepts both (RFC 8259 §8.2 leaves them to the reader).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:[dD][89abAB][0-9a-fA-F]{2}|[dD][c-fC-F][0-9a-fA-F]{2}|0000)")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


def load_json(data: bytes, *, kind: str, source: str | None = None) -> Any:
    """Decode a JSON document (UTF-8/16/32, BOM or not) or raise ParseError."""
    if not data or data.isspace():  # isspace stops at the first other byte; strip() would copy it all
        raise ParseError(kind, "the document is empty", source=source)
    try:
        doc = json.loads(data)
    except RecursionError:
        raise ParseError(kind, "JSON nested too deeply", source=source) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        # A sign-in or error page answered for the API says so, rather than "Expecting value".
        reject_non_feed(data, kind=kind, source=source, expected="JSON")
        raise ParseError(kind, f"not valid JSON: {exc}", source=source) from None
    # One scan of the bytes; the decoded document is walked only when an escape could have made one
    # (UTF-16/32 documents, whose escapes this scan cannot see, are always walked).
    if _UNSTORABLE_ESCAPE.search(data) or b"\x00" in data[:4]:
        doc = storable(doc)
    return doc


def storable(value: Any) -> Any:
    """Decoded JSON with every lone surrogate replaced by U+FFFD and every NUL dropped, in strings and
    keys: SQLite and PostgreSQL refuse such text, and one bad value must not fail a whole document
    (or, in a snapshot, the batch being stored)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(_replacement, value)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def _replacement(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def text(value: Any) -> str | None:
    """A non-empty string, or None ("NA", "" and non-strings count as missing)."""
    if isinstance(value, str):
        value = value.strip()
        return value if value and value.upper() not in ("NA", "N/A", "NULL", "NONE") else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


#: Integers a source may give (counts, cursors, versions, upvotes) fit a signed 32-bit column; a
#: larger one is damage, and would fail the store's insert (or Python's 4,300-digit int() limit).
_INT_LIMIT = 2**31


def integer(value: Any, *, bounded: bool = True) -> int | None:
    """An int from an int, a whole float or a numeric string ("522"), else None; None too for one
    out of the 32-bit range, unless not ``bounded``: then any size (a caller that names a huge value
    as too large), text of more digits than Python converts (4,300) aside."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and (not bounded or abs(value) < _INT_LIMIT):
        value = int(value)  # NaN and infinity are not whole
    elif isinstance(value, str):
        text = value.strip()
        # ASCII digits only: str.isdigit() also takes "²" (which int() refuses: a ValueError) and
        # other scripts' digits ("٣"), which no API we read writes for a count.
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit() and (not bounded or len(text) <= 12)):
            return None
        try:
            value = int(text)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            return None
    if not isinstance(value, int):
        return None
    return value if not bounded or -_INT_LIMIT < value < _INT_LIMIT else None


def timestamp(value: Any, *, millis: bool = False) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text ("2026-07-29T00:00:00.000Z", "2026-07-15") or,
    with ``millis``, from an epoch in milliseconds (OpenReview's cdate/mdate)."""
    try:
        if millis and isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        if not isinstance(value, str) or not value.strip():
            return None
        raw = value.strip()
        if _DATE_ONLY.match(raw):
            d = date.fromisoformat(raw)
            return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        return None
    return as_utc(parsed)  # None when a zone moves it past year 9999 (it used to raise)


def strings(value: Any) -> tuple[str, ...]:
    """A tuple of non-empty strings from a list (other items dropped) or a single string."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    out = (text(v) for v in value)
    return tuple(v for v in out if v)
