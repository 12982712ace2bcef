"""arXiv announcement calendar: Sun-Thu 20:00 Eastern announcements, Mon-Fri midnight feeds, DST-aware."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import time_machine

from digest.sources.arxiv_calendar import (EASTERN, expected_batch_changed, is_announcement_day,
                                           next_announcement, next_feed_update)
from digest.store.base import utcnow

UTC = timezone.utc


@pytest.mark.parametrize("day,expected", [
    (date(2024, 11, 25), True), (date(2024, 11, 29), True),   # Monday, Friday listings
    (date(2024, 11, 30), False), (date(2024, 12, 1), False),  # weekend: empty feeds
])
def test_is_announcement_day(day: date, expected: bool) -> None:
    assert is_announcement_day(day) is expected


def test_next_announcement_skips_friday_and_saturday() -> None:
    # Thursday 21:00 Eastern (after that evening's announcement) -> Sunday 20:00 Eastern.
    thu = datetime(2024, 11, 28, 21, 0, tzinfo=EASTERN)
    assert next_announcement(thu) == datetime(2024, 12, 1, 20, 0, tzinfo=EASTERN).astimezone(UTC)
    # Just before an announcement: the same evening.
    mon = datetime(2024, 11, 25, 19, 59, tzinfo=EASTERN)
    assert next_announcement(mon) == datetime(2024, 11, 26, 1, 0, tzinfo=UTC)


def test_announcement_stays_at_20_eastern_across_dst() -> None:
    # US DST began Sunday 2025-03-09: 20:00 EST is 01:00 UTC, 20:00 EDT is 00:00 UTC.
    assert next_announcement(datetime(2025, 3, 6, 12, tzinfo=UTC)) == datetime(2025, 3, 7, 1, 0, tzinfo=UTC)
    assert next_announcement(datetime(2025, 3, 7, 12, tzinfo=UTC)) == datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
    # DST ended Sunday 2025-11-02.
    assert next_announcement(datetime(2025, 11, 1, 12, tzinfo=UTC)) == datetime(2025, 11, 3, 1, 0, tzinfo=UTC)


def test_feed_update_is_weekday_midnight_eastern_plus_grace() -> None:
    fri_noon = datetime(2025, 3, 7, 12, tzinfo=EASTERN)
    # Next listing is Monday (after the DST change: 00:00 EDT = 04:00 UTC, plus one hour of grace).
    assert next_feed_update(fri_noon) == datetime(2025, 3, 10, 5, 0, tzinfo=UTC)


def test_expected_batch_changed_over_a_weekend_and_a_weekday() -> None:
    fri = datetime(2024, 11, 29, 9, 0, tzinfo=EASTERN)
    assert not expected_batch_changed(fri, datetime(2024, 12, 1, 23, 0, tzinfo=EASTERN))  # Sunday night
    assert expected_batch_changed(fri, datetime(2024, 12, 2, 1, 30, tzinfo=EASTERN))  # Monday's listing is out
    assert not expected_batch_changed(None, datetime(2024, 12, 2, 9, 0, tzinfo=EASTERN))


@time_machine.travel(datetime(2025, 3, 9, 6, 30, tzinfo=UTC), tick=False)  # Sun 01:30 EST, DST starts at 02:00
def test_frozen_clock_on_dst_night() -> None:
    now = utcnow()
    assert next_announcement(now) == datetime(2025, 3, 10, 0, 0, tzinfo=UTC)  # Sunday 20:00 EDT
    assert not is_announcement_day(now.astimezone(EASTERN).date())


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_announcement(datetime(2025, 3, 9, 12))
