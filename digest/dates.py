"""Dates and times as digest keeps them: aware datetimes in UTC.

:func:`utcnow` is the clock every module reads (tests freeze it with time-machine), and
:func:`rfc5322_date` the one reader of the date form e-mail, RSS 2.0 and HTTP share.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["utcnow", "rfc5322_date", "as_utc"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rfc5322_date(text: str) -> datetime | None:
    """An RFC 5322 §3.3 date-time as an aware UTC datetime, or None for anything else.

    This is RSS 2.0's ``pubDate`` (the RSS spec cites RFC 822, which RFC 5322 obsoletes) and HTTP's
    IMF-fixdate with its obsolete RFC 850 and asctime forms (RFC 9110 §5.6.7), all of which
    ``email.utils`` reads. No zone (asctime) and RFC 5322's "-0000" (time in UTC, zone unknown) are
    UTC. A date that a zone moves past year 9999 is None: a damaged date, not a damaged document.
    """
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # Overflow: a year past C's int
        return None
    return as_utc(value)


def as_utc(value: datetime) -> datetime | None:
    """``value`` in UTC, a naive one taken as UTC; None when its zone moves it past year 9999 (a
    damaged date, not a damaged document)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        return None
