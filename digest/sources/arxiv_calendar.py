"""arXiv's announcement calendar: when a new daily batch is due, so a feed can be called stale or quiet.

Two clocks matter, both in US Eastern time (America/New_York, so DST shifts them in UTC):

* Announcements happen Sunday to Thursday at 20:00 Eastern; there are none on Friday and Saturday
  (https://info.arxiv.org/help/availability.html).
* The rss.arxiv.org feeds are rebuilt "daily at midnight Eastern Standard Time"
  (https://info.arxiv.org/help/rss.html); a feed's ``pubDate`` is the announcement (mailing) date,
  Monday to Friday. Saturday and Sunday feeds are empty (``skipDays``), as are occasional holidays.

Public: :func:`is_announcement_day`, :func:`next_announcement`, :func:`next_feed_update`,
:func:`feed_updates`, :func:`shows_current_listing`, :func:`expected_batch_changed`, :data:`EASTERN`.
Holidays are not known in advance, so an empty feed on a weekday dated as the listing due is reported
as "quiet", never as an error; one dated before it is the old feed still served, "stale" (see
digest.store.feeds).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
#: Evening announcement time (Eastern) on Sunday-Thursday.
ANNOUNCE_TIME = time(20, 0)
#: The RSS rebuild runs at midnight Eastern; the observed lastBuildDate is a few seconds later, but
#: mirrors and caches lag, so a batch is only "expected" this long after midnight.
FEED_GRACE = timedelta(hours=1)

_MON, _THU, _FRI, _SUN = 0, 3, 4, 6


def is_announcement_day(day: date) -> bool:
    """True if the daily listing dated ``day`` (Eastern) carries papers: Monday to Friday.

    That listing is announced the previous evening (Sunday-Thursday 20:00 Eastern) and appears in
    the RSS feed from midnight of ``day``.
    """
    return day.weekday() <= _FRI


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("arxiv_calendar needs timezone-aware datetimes")
    return moment


def next_announcement(after: datetime) -> datetime:
    """The first announcement (Sun-Thu 20:00 Eastern) strictly after ``after``, in UTC."""
    local = _aware(after).astimezone(EASTERN)
    day = local.date()
    for _ in range(8):
        # Combining with the zone (not adding hours) keeps 20:00 wall time across DST changes.
        candidate = datetime.combine(day, ANNOUNCE_TIME, tzinfo=EASTERN)
        if (day.weekday() == _SUN or day.weekday() <= _THU) and candidate > local:
            return candidate.astimezone(timezone.utc)
        day += timedelta(days=1)
    raise AssertionError("unreachable: an announcement happens every week")


def next_feed_update(after: datetime) -> datetime:
    """The first RSS rebuild carrying a new batch (Mon-Fri 00:00 Eastern + grace) after ``after``, in UTC."""
    local = _aware(after).astimezone(EASTERN)
    day = local.date()
    for _ in range(8):
        candidate = datetime.combine(day, time(0, 0), tzinfo=EASTERN) + FEED_GRACE
        if is_announcement_day(day) and candidate > local:
            return candidate.astimezone(timezone.utc)
        day += timedelta(days=1)
    raise AssertionError("unreachable: a feed update happens every week")


def feed_updates(start: datetime, end: datetime) -> list[datetime]:
    """The RSS rebuilds carrying a new batch (:func:`next_feed_update`) in (``start``, ``end``], in UTC.
    None in a period means arXiv announced nothing a reader could have had in it (a weekend)."""
    found: list[datetime] = []
    moment = next_feed_update(start)
    while moment <= _aware(end):
        found.append(moment)
        moment = next_feed_update(moment)
    return found


def shows_current_listing(feed_date: datetime, now: datetime) -> bool:
    """Whether a feed dated ``feed_date`` (its channel's pubDate) is the listing the feed should show
    at ``now``: dated the day of the latest rebuild with a batch, or later. A poll between midnight
    and the grace hour may already have read that listing; seen again after the grace hour, it is
    the current batch, not a stale one."""
    local = _aware(now).astimezone(EASTERN)
    day = local.date()
    for _ in range(8):
        if is_announcement_day(day) and datetime.combine(day, time(0, 0), tzinfo=EASTERN) + FEED_GRACE <= local:
            break
        day -= timedelta(days=1)
    return _aware(feed_date).astimezone(EASTERN).date() >= day


def expected_batch_changed(prev_success: datetime | None, now: datetime) -> bool:
    """Should an arXiv RSS feed fetched successfully at ``prev_success`` show a new batch by ``now``?

    True when a feed rebuild with a new listing (Mon-Fri) has happened in between; a same batch is
    then "stale". False over weekends, so the Friday batch seen again on Sunday is not stale.
    """
    if prev_success is None:
        return False
    return next_feed_update(prev_success) <= _aware(now)
