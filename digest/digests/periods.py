"""Which digest periods are due at a given instant, in each user's own time zone.

A user gets the daily digest at ``hour`` o'clock local time (IANA zone, :mod:`zoneinfo`) and the weekly
one at that hour on ``weekday`` (Monday = 0). A period is named by its key, the local date it is sent
on: "2026-11-24" for a daily digest, and the ISO 8601 week date for a weekly one ("2026-W48-1", the
Monday of week 48), so a user who moves their weekly day from Monday to Sunday gets the Sunday
digest of the same ISO week. (Weekly keys were "2026-W48" before; the rule on recorded digests below
keeps a digest recorded under an old key from going out again under the new one.)

Due means: the latest scheduled instant at or before ``now`` belongs to this key, no outbox row exists
for it yet, and it ends after the user's last recorded digest of that cadence
(:func:`after_last_digest`; the caller checks those two). So a digest whose hour passed while the
service was down is still sent late (catch-up) until the next period begins; then only the newer one
is due, and the watermark makes it carry every paper the missed one would have had.

Instants, not keys, order the periods: a user who moves west (Tokyo to Los Angeles) is an hour later
in a local day *before* the one of the digest just sent; that period ends before the digest was
recorded, so no second, older digest goes out, and the next one comes at the new local hour. Nor is
a period due that ended before the user existed, or before their first subscription of that cadence
was made (a weekly alert added on a Wednesday first arrives on the user's weekday).

Daylight-saving changes: the local send time is resolved with :pep:`495` ``fold=0``. A wall time that
does not exist (spring forward: 02:30 in America/New_York on the second Sunday of March) maps to the
instant one hour later in wall-clock terms (03:30 EDT); a wall time that occurs twice (fall back) maps to
its first occurrence. The key is the local date either way, so the digest is sent once.

Public: :class:`DuePeriod`, :func:`due_periods`, :func:`after_last_digest`, :func:`next_to_send`,
:func:`period_for`, :func:`period_after`, :func:`scheduled_at`, :func:`period_key`, :func:`check_instant`,
:data:`PERIODS`, :data:`EARLIEST`, :data:`LATEST`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """The key of the period sent on ``local_day``: its date, ISO 8601 calendar or week date."""
    if period == "daily":
        return local_day.isoformat()
    if period == "weekly":
        year, week, weekday = local_day.isocalendar()
        return f"{year}-W{week:02d}-{weekday}"
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


def due_periods(user: User, now: datetime, periods: tuple[str, ...] = PERIODS, *,
                subscribed: Mapping[str, datetime] | None = None) -> list[DuePeriod]:
    """The user's latest period of each kind in ``periods`` whose send instant has come.

    The caller drops the ones that already have an outbox row or end before the user's last
    recorded digest (:func:`after_last_digest`), and the ones the user has no subscription for.
    Periods whose send instant lies before the user existed are not due: a new user gets the next
    digest, not one for yesterday. Nor before ``subscribed[period]``, when the user's first
    subscription of that cadence was made: a weekly alert added on a Wednesday waits for the
    user's weekday instead of bringing a digest at once for a week it did not exist in.
    """
    if not user.active:
        return []
    out = []
    for period in periods:
        due = period_for(user, period, now)
        if not _subscribed_by(user, due, (subscribed or {}).get(period)):
            continue
        out.append(due)
    return out


def _subscribed_by(user: User, due: DuePeriod, first_subscription: datetime | None) -> bool:
    return all(since is None or due.end >= since for since in (user.created, first_subscription))


def after_last_digest(due: DuePeriod, last_recorded: datetime | None) -> bool:
    """Whether ``due`` ends after ``last_recorded``, the instant the user's latest digest of that
    cadence was recorded in the outbox (None: never).

    That instant is at or after the end of the period it was for, and that digest holds every
    match up to it; an earlier period's digest could hold nothing new and would arrive dated before
    one already received (the user moved west, or changed their weekday). Its papers are not lost:
    the watermark carries them into the next period that is due."""
    return last_recorded is None or due.end > last_recorded


def next_to_send(user: User, period: str, now: datetime, *, recorded: Callable[[DuePeriod], bool],
                 last_recorded: datetime | None, subscribed: datetime | None = None) -> DuePeriod:
    """The period whose digest ``user`` gets next for ``period``, as of ``now``: the latest one
    while it is still owed, else the first after it that is (a preview shows that one).
    ``recorded(due)`` says whether the outbox holds a row for ``due``'s key."""
    due = period_for(user, period, now)
    # A period is passed over for its key (recorded), its end (at or before the last digest) or its
    # start (before the subscription): a handful of steps, as each of those lies at most a period
    # or a time zone move (a day) away.
    for _ in range(8):
        if _subscribed_by(user, due, subscribed) and after_last_digest(due, last_recorded) and not recorded(due):
            break
        due = period_after(user, due)
    return due
