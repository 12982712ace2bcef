"""Due periods per user: local hour in the user's IANA zone, DST in both directions, ISO weeks, catch-up,
and users who move (time zone, weekly day) or add an alert: never a second, older digest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from store_helpers import arxiv_papers, matched

from digest.config import Settings
from digest.digests.periods import DuePeriod, after_last_digest, due_periods, period_for, scheduled_at
from digest.digests.send import send_due
from digest.models import User
from digest.store import Store

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
    # Monday 2026-11-23 07:00 CET = 06:00 UTC, ISO week 48: the key is the send day's ISO week date.
    assert period_for(u, "weekly", utc(2026, 11, 23, 5, 59)).key == "2026-W47-1"
    p = period_for(u, "weekly", utc(2026, 11, 23, 6, 0))
    assert p.key == "2026-W48-1" and p.end - p.start == timedelta(days=7)
    assert period_for(u, "weekly", utc(2026, 11, 29, 22, 59)).key == "2026-W48-1"  # Sunday 23:59 local


def test_weekly_across_the_year_boundary() -> None:
    u = user("UTC", hour=7, weekday=3)  # Thursdays
    # Thursday 2026-12-31 is in ISO week 2026-W53; Thursday 2027-01-07 is 2027-W01.
    assert period_for(u, "weekly", utc(2027, 1, 2, 12)).key == "2026-W53-4"
    assert period_for(u, "weekly", utc(2027, 1, 7, 7)).key == "2027-W01-4"


def test_catch_up_after_downtime_until_the_next_period() -> None:
    u = user("Europe/Paris", hour=7)
    # The service was down at 07:00; at 15:00 the 24th is still due, at 07:00 on the 25th that one.
    assert period_for(u, "daily", utc(2026, 11, 24, 14)).key == "2026-11-24"
    assert period_for(u, "daily", utc(2026, 11, 25, 6)).key == "2026-11-25"


def test_due_periods_skip_inactive_users_and_periods_before_the_user_existed() -> None:
    now = utc(2026, 11, 24, 12)
    assert [p.key for p in due_periods(user(hour=7), now)] == ["2026-11-24", "2026-W48-1"]
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


def test_a_period_ending_at_or_before_the_last_digest_recorded_is_not_owed() -> None:
    due = DuePeriod(1, "daily", "2026-11-23", utc(2026, 11, 22, 16), utc(2026, 11, 23, 16))
    assert after_last_digest(due, None)
    assert after_last_digest(due, utc(2026, 11, 23, 15, 59))
    assert not after_last_digest(due, utc(2026, 11, 23, 16))
    assert not after_last_digest(due, utc(2026, 11, 23, 23, 5))


# --- users who move or change their delivery day (digest send, SQLite) ------------------------------------


def papers(store: Store, first: int, n: int, now: datetime) -> list[str]:
    return arxiv_papers(store, first, n, now, title="Denoising diffusion models for protein design {i}")


def due_now(store: Store, settings: Settings, now: datetime) -> list[tuple[str, str, str, int]]:
    """What `digest send --now NOW` records (built into the outbox, not delivered)."""
    report = send_due(store, settings, now=now, match_first=False, deliver=False)
    return [(p.period, p.period_key, p.outcome, p.papers) for p in report.planned]


def test_moving_west_sends_no_second_daily_digest_dated_the_day_before(sqlite_store: Store, tmp_path: Path) -> None:
    """Taro gets his 08:00 digest in Tokyo (Tue 24 Nov, 23:00 UTC on the 23rd), then sets his time
    zone to Los Angeles, keeping 08:00. An hour later it is Mon 23 Nov 16:00 there: that local day's
    period ended before his last digest was recorded, so no digest dated the day before the one he
    has goes out. What was matched meanwhile comes with a later digest at his new 08:00 (Tue 24 Nov
    in Los Angeles is a date already sent, so Wed 25 Nov)."""
    store, settings = sqlite_store, Settings(data_dir=tmp_path)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        taro = store.upsert_user("taro@example.jp", name="Taro Yamada", timezone="Asia/Tokyo", hour=8)
        sub = store.add_subscription(taro.id, "diffusion", query="diffusion")
    with time_machine.travel(utc(2026, 11, 23, 22), tick=False):
        matched(store, sub.id, papers(store, 1, 2, utc(2026, 11, 23, 22)))
    assert due_now(store, settings, utc(2026, 11, 23, 23, 5)) == [("daily", "2026-11-24", "enqueued", 2)]

    store.set_delivery_time(taro.id, timezone="America/Los_Angeles", hour=8, weekday=0)
    with time_machine.travel(utc(2026, 11, 23, 23, 30), tick=False):
        matched(store, sub.id, papers(store, 3, 1, utc(2026, 11, 23, 23, 30)))
    one_hour_later = due_now(store, settings, utc(2026, 11, 24, 0, 5))  # Mon 23 Nov 16:05 in LA
    assert one_hour_later == [], "a second digest, dated the day before the one just sent, went out at 4 pm"
    later = due_now(store, settings, utc(2026, 11, 24, 16, 5)) + due_now(store, settings, utc(2026, 11, 25, 16, 5))
    assert [n for _, _, outcome, n in later if outcome == "enqueued"] == [1]


def test_moving_west_sends_no_second_weekly_digest(sqlite_store: Store, tmp_path: Path) -> None:
    """A weekly reader in Tokyo gets Monday's digest (Mon 23 Nov 08:00 JST = Sun 22 Nov 23:00 UTC)
    and switches to Los Angeles, Mondays 08:00. Within the hour it is still Sunday there and "last
    Monday" (16 Nov) has no digest under its key, but it ended before the one just recorded:
    nothing is sent until a Monday 08:00 in Los Angeles."""
    store, settings = sqlite_store, Settings(data_dir=tmp_path)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        taro = store.upsert_user("taro@example.jp", timezone="Asia/Tokyo", hour=8, weekday=0)
        sub = store.add_subscription(taro.id, "diffusion", query="diffusion", every="weekly")
    with time_machine.travel(utc(2026, 11, 22, 12), tick=False):
        matched(store, sub.id, papers(store, 1, 2, utc(2026, 11, 22, 12)))
    assert due_now(store, settings, utc(2026, 11, 22, 23, 5)) == [("weekly", "2026-W48-1", "enqueued", 2)]
    store.set_delivery_time(taro.id, timezone="America/Los_Angeles", hour=8, weekday=0)
    with time_machine.travel(utc(2026, 11, 22, 23, 30), tick=False):
        matched(store, sub.id, papers(store, 3, 1, utc(2026, 11, 22, 23, 30)))
    assert due_now(store, settings, utc(2026, 11, 23, 0, 5)) == []


def test_weekly_reader_who_moves_from_monday_to_sunday_gets_the_sunday_digest(sqlite_store: Store,
                                                                             tmp_path: Path) -> None:
    """Ann (London) reads her weekly digest on Monday 23 Nov, then changes her weekly day to Sunday.
    Sunday 29 Nov is in the same ISO week as that Monday, but its period is another (keyed by the
    send day's ISO week date): she gets the Sunday digest with the papers since Monday's."""
    store, settings = sqlite_store, Settings(data_dir=tmp_path)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        ann = store.upsert_user("ann@example.org", timezone="Europe/London", hour=7, weekday=0)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion", every="weekly")
    with time_machine.travel(utc(2026, 11, 22, 22), tick=False):
        matched(store, sub.id, papers(store, 1, 2, utc(2026, 11, 22, 22)))
    assert due_now(store, settings, utc(2026, 11, 23, 7, 5)) == [("weekly", "2026-W48-1", "enqueued", 2)]
    store.set_delivery_time(ann.id, timezone="Europe/London", hour=7, weekday=6)
    with time_machine.travel(utc(2026, 11, 25, 22), tick=False):
        matched(store, sub.id, papers(store, 3, 1, utc(2026, 11, 25, 22)))
    sunday = due_now(store, settings, utc(2026, 11, 29, 7, 5))
    assert sunday == [("weekly", "2026-W48-7", "enqueued", 1)]


def test_a_weekly_alert_added_on_a_wednesday_waits_for_the_users_weekday(sqlite_store: Store,
                                                                         tmp_path: Path) -> None:
    """Ann (London, weekly day Monday) has had a daily alert for weeks and adds a weekly alert on
    Wednesday 25 Nov. No weekly digest goes out at once for the week of 16 Nov, in which the alert
    did not exist: a period that ended before the user's first subscription of its cadence is not
    due. The first weekly digest comes on her weekday, Monday 30 Nov."""
    store, settings = sqlite_store, Settings(data_dir=tmp_path)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        ann = store.upsert_user("ann@example.org", timezone="Europe/London", hour=7, weekday=0)
        store.add_subscription(ann.id, "diffusion daily", query="diffusion")
    with time_machine.travel(utc(2026, 11, 25, 10), tick=False):
        weekly = store.add_subscription(ann.id, "protein design", query="protein", every="weekly")
    with time_machine.travel(utc(2026, 11, 25, 10, 30), tick=False):
        matched(store, weekly.id, papers(store, 1, 1, utc(2026, 11, 25, 10, 30)))
    wednesday = due_now(store, settings, utc(2026, 11, 25, 11))
    assert [w for w in wednesday if w[0] == "weekly" and w[2] == "enqueued"] == []
    monday = due_now(store, settings, utc(2026, 11, 30, 7, 5))
    assert [(p, outcome, n) for p, _, outcome, n in monday if p == "weekly"] == [("weekly", "enqueued", 1)]


def test_a_weekly_digest_recorded_under_the_old_week_key_is_not_sent_again(sqlite_store: Store,
                                                                           tmp_path: Path) -> None:
    """Weekly keys were ISO weeks ("2026-W48") and are now the send day's ISO week date
    ("2026-W48-1"). A digest recorded under the old key before an upgrade is not sent again under
    the new one: its period ends before that digest was recorded. The next week's comes as usual."""
    store, settings = sqlite_store, Settings(data_dir=tmp_path)
    with time_machine.travel(utc(2026, 11, 1), tick=False):
        ann = store.upsert_user("ann@example.org", timezone="Europe/London", hour=7, weekday=0)
        store.add_subscription(ann.id, "diffusion", query="diffusion", every="weekly")
    store.enqueue_digest(ann.id, "weekly", "2026-W48", "", "", ann.email, None, (), 0, 0, now=utc(2026, 11, 23, 7, 5))
    assert due_now(store, settings, utc(2026, 11, 23, 9)) == []
    assert [(p, key) for p, key, _, _ in due_now(store, settings, utc(2026, 11, 30, 7, 5))] == [("weekly", "2026-W49-1")]
