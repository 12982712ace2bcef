"""Which digest periods are due at a given instant, in each user's own time zone.

A user gets the daily digest at ``hour`` o'clock local time (IANA zone, :mod:`zoneinfo`) and the weekly
one at that hour on ``weekday`` (Monday = 0). A period is named by its key: the local date for daily
digests ("2026-11-24") and the ISO 8601 week of the local send date for weekly ones ("2026-W48").

Due means: the latest scheduled instant at or before ``now`` belongs to this key, and no outbox row
exists for it yet (the caller checks that). So a digest whose hour passed while the service was down
is still sent late (catch-up) until the next period begins; then only the newer one is due, and the
watermark makes it carry every paper the missed one would have had.

Daylight-saving changes: the local send time is resolved with :pep:`495` ``fold=0``. A wall time that
does not exist (spring forward: 02:30 in America/New_York on the second Sunday of March) maps to the
instant one hour later in wall-clock terms (03:30 EDT); a wall time that occurs twice (fall back) maps to
its first occurrence. The key is the local date either way, so the digest is sent once.

Public: :class:`DuePeriod`, :func:`due_periods`, :func:`period_for`, :func:`period_after`, :func:`scheduled_at`,
:func:`period_key`, :func:`check_instant`, :data:`PERIODS`, :data:`EARLIEST`, :data:`LATEST`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from digest.models import User

PERIODS = ("daily", "weekly")
#: The instants periods can be worked out for: a period reaches back up to three weeks from ``now``
#: and a time zone shifts it by up to a day, which years 1 and 9999 (the ends of ``datetime``) leave
#: no room for.
EARLIEST = datetime(2, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9998, 12, 31, tzinfo=timezone.utc)


def check_instant(now: datetime) -> None:
    """ValueError unless ``now`` is an aware time between :data:`EARLIEST` and :data:`LATEST`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not EARLIEST <= now <= LATEST:
        raise ValueError(f"{now.isoformat()} is outside the years {EARLIEST.year} to {LATEST.year} "
                         "that digest periods are worked out for")


@dataclass(frozen=True, slots=True)
class DuePeriod:
    """One period of one user: ``start`` (exclusive) and ``end`` are its scheduled send instants (UTC)."""

    user_id: int
    period: str
    key: str
    start: datetime
    end: datetime


def scheduled_at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``hour``:00 local time on ``day`` (DST rules in the module docstring)."""
    local = datetime.combine(day, time(hour), tzinfo=zone)  # fold=0
    return local.astimezone(timezone.utc)


def period_key(period: str, local_day: date) -> str:
    if period == "daily":
        return local_day.isoformat()
    if period == "weekly":
        year, week, _ = local_day.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")


def _send_day(period: str, local_today: date, weekday: int, back: int) -> date:
    """The ``back``-th send day at or before ``local_today`` (0 = the latest one)."""
    if period == "daily":
        return local_today - timedelta(days=back)
    offset = (local_today.weekday() - weekday) % 7
    return local_today - timedelta(days=offset + 7 * back)


def period_for(user: User, period: str, now: datetime) -> DuePeriod:
    """The latest period of ``user`` whose send instant is at or before ``now``."""
    check_instant(now)
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    zone = ZoneInfo(user.timezone)
    local_today = now.astimezone(zone).date()
    # The send instant of today's (this week's) slot may still lie ahead: then the previous one counts.
    # Two steps back always suffice (one day or one week), also across DST changes.
    for back in range(3):
        day = _send_day(period, local_today, user.weekday, back)
        end = scheduled_at(day, user.hour, zone)
        if end <= now:
            prev_day = day - timedelta(days=1 if period == "daily" else 7)
            start = scheduled_at(prev_day, user.hour, zone)
            return DuePeriod(user.id, period, period_key(period, day), start, end)
    raise AssertionError("unreachable: a send instant at most 8 days back always exists")


def period_after(user: User, due: DuePeriod) -> DuePeriod:
    """The period of ``user`` that follows ``due``: it starts at ``due``'s send instant and ends at the
    next one (what a preview shows once ``due``'s digest is in the outbox)."""
    zone = ZoneInfo(user.timezone)
    day = due.end.astimezone(zone).date() + timedelta(days=1 if due.period == "daily" else 7)
    return DuePeriod(user.id, due.period, period_key(due.period, day), due.end, scheduled_at(day, user.hour, zone))


def due_periods(user: User, now: datetime, periods: tuple[str, ...] = PERIODS) -> list[DuePeriod]:
    """The user's latest period of each kind in ``periods`` whose send instant has come.

    The caller drops the ones that already have an outbox row and the ones the user has no
    subscription for. Periods whose send instant lies before the user existed are not due: a new user
    gets the next digest, not one for yesterday.
    """
    if not user.active:
        return []
    out = []
    for period in periods:
        due = period_for(user, period, now)
        if user.created is not None and due.end < user.created:
            continue
        out.append(due)
    return out
