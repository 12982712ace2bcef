"""Due periods per user: local hour in the user's IANA zone, DST in both directions, ISO weeks, catch-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from digest.digests.periods import due_periods, period_for, scheduled_at
from digest.models import User

UTC = timezone.utc


def user(tz: str = "UTC", hour: int = 7, weekday: int = 0, created: datetime | None = None) -> User:
    return User(id=1, email="a@example.org", name=None, timezone=tz, hour=hour, weekday=weekday, created=created)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_before_and_after_the_local_hour() -> None:
    u = user("Europe/Berlin", hour=7)  # CET = UTC+1 in November
    before = period_for(u, "daily", utc(2026, 11, 24, 5, 59))
    after = period_for(u, "daily", utc(2026, 11, 24, 6, 0))
    assert before.key == "2026-11-23"
    assert after.key == "2026-11-24"
    assert after.end == utc(2026, 11, 24, 6, 0)
    assert after.start == utc(2026, 11, 23, 6, 0)


def test_key_is_the_local_date_not_the_utc_date() -> None:
    # 07:00 in Auckland (UTC+13 in November) is 18:00 UTC the day before.
    u = user("Pacific/Auckland", hour=7)
    p = period_for(u, "daily", utc(2026, 11, 23, 18, 30))
    assert p.key == "2026-11-24"
    assert p.end == utc(2026, 11, 23, 18, 0)


def test_spring_forward_nonexistent_hour_is_sent_once_an_hour_later() -> None:
    # 2026-03-08 02:00 does not exist in New York: clocks jump 02:00 EST -> 03:00 EDT (07:00 UTC).
    u = user("America/New_York", hour=2)
    assert scheduled_at(datetime(2026, 3, 8).date(), 2, __import__("zoneinfo").ZoneInfo("America/New_York")) \
        == utc(2026, 3, 8, 7, 0)
    keys = {period_for(u, "daily", utc(2026, 3, 8, 0, 0) + timedelta(minutes=15 * i)).key for i in range(48)}
    assert keys == {"2026-03-07", "2026-03-08"}
    assert period_for(u, "daily", utc(2026, 3, 8, 6, 59)).key == "2026-03-07"
    assert period_for(u, "daily", utc(2026, 3, 8, 7, 0)).key == "2026-03-08"
    # The day after, 02:00 EDT = 06:00 UTC again.
    assert period_for(u, "daily", utc(2026, 3, 9, 6, 0)).key == "2026-03-09"


def test_fall_back_hour_that_occurs_twice_is_sent_once() -> None:
    # 2026-11-01 01:00-02:00 happens twice in New York; the first 01:00 is EDT (05:00 UTC).
    u = user("America/New_York", hour=1)
    first = period_for(u, "daily", utc(2026, 11, 1, 5, 0))
    second_occurrence = period_for(u, "daily", utc(2026, 11, 1, 6, 0))  # 01:00 EST
    assert first.key == second_occurrence.key == "2026-11-01"
    assert first.end == second_occurrence.end == utc(2026, 11, 1, 5, 0)
    # The period that follows is 25 hours long.
    nxt = period_for(u, "daily", utc(2026, 11, 2, 6, 0))
    assert nxt.key == "2026-11-02" and nxt.end - nxt.start == timedelta(hours=25)


def test_dst_changes_walked_hour_by_hour_give_one_key_per_local_day() -> None:
    for tz in ("Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"):
        for hour in (0, 1, 2, 3, 23):
            u = user(tz, hour=hour)
            seen: dict[str, datetime] = {}
            t = utc(2026, 3, 1)
            while t < utc(2026, 11, 30):
                p = period_for(u, "daily", t)
                assert p.start < p.end <= t
                seen.setdefault(p.key, p.end)
                assert seen[p.key] == p.end  # one send instant per key
                t += timedelta(minutes=30)
            days = sorted(seen)
            assert len(days) == len(set(days))
            # No local day is skipped, not even the DST ones.
            first, last = datetime.fromisoformat(days[0]), datetime.fromisoformat(days[-1])
            assert len(days) == (last - first).days + 1


def test_weekly_iso_week_and_weekday_boundary() -> None:
    u = user("Europe/Berlin", hour=7, weekday=0)  # Mondays 07:00 local
    # Monday 2026-11-23 07:00 CET = 06:00 UTC, ISO week 48.
    assert period_for(u, "weekly", utc(2026, 11, 23, 5, 59)).key == "2026-W47"
    p = period_for(u, "weekly", utc(2026, 11, 23, 6, 0))
    assert p.key == "2026-W48" and p.end - p.start == timedelta(days=7)
    assert period_for(u, "weekly", utc(2026, 11, 29, 22, 59)).key == "2026-W48"  # Sunday 23:59 local


def test_weekly_across_the_year_boundary() -> None:
    u = user("UTC", hour=7, weekday=3)  # Thursdays
    # Thursday 2026-12-31 is in ISO week 2026-W53; Thursday 2027-01-07 is 2027-W01.
    assert period_for(u, "weekly", utc(2027, 1, 2, 12)).key == "2026-W53"
    assert period_for(u, "weekly", utc(2027, 1, 7, 7)).key == "2027-W01"


def test_catch_up_after_downtime_until_the_next_period() -> None:
    u = user("Europe/Paris", hour=7)
    # The service was down at 07:00; at 15:00 the 24th is still due, at 07:00 on the 25th that one.
    assert period_for(u, "daily", utc(2026, 11, 24, 14)).key == "2026-11-24"
    assert period_for(u, "daily", utc(2026, 11, 25, 6)).key == "2026-11-25"


def test_due_periods_skip_inactive_users_and_periods_before_the_user_existed() -> None:
    now = utc(2026, 11, 24, 12)
    assert [p.key for p in due_periods(user(hour=7), now)] == ["2026-11-24", "2026-W48"]
    new = user(hour=7, created=utc(2026, 11, 24, 9))
    assert due_periods(new, now) == []
    inactive = User(id=2, email="b@example.org", name=None, active=False)
    assert due_periods(inactive, now) == []


def test_frozen_clock_and_naive_now_rejected() -> None:
    with time_machine.travel(utc(2026, 3, 29, 1, 30), tick=False):  # London springs forward at 01:00 UTC
        now = datetime.now(UTC)
        # 01:00 local does not exist that day: it is read as 01:00 GMT, as is 02:00 BST; both are due.
        assert period_for(user("Europe/London", hour=1), "daily", now).key == "2026-03-29"
        assert period_for(user("Europe/London", hour=2), "daily", now).key == "2026-03-29"
        assert period_for(user("Europe/London", hour=3), "daily", now).key == "2026-03-28"
    with pytest.raises(ValueError):
        period_for(user(), "daily", datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        period_for(user(), "monthly", now)
