"""Cron schedules (`controllers.cron_schedule`): the five-field syntax with names, ranges, steps and
descriptors, robfig/cron's day-of-month/day-of-week rule, time zones across DST, missed-time
counting, and refusals.

Leaves out: ``@every`` (robfig accepts it; Kubernetes validation refuses it) and ``TZ=`` prefixes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controllers.cron_schedule import ScheduleError, most_recent_time, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "after", "expected"), [
    ("* * * * *", "2024-05-01T10:00:30", "2024-05-01T10:01:00"),
    ("*/15 * * * *", "2024-05-01T10:01:00", "2024-05-01T10:15:00"),
    ("5 4 * * *", "2024-05-01T04:05:00", "2024-05-02T04:05:00"),
    ("0 0 1 JAN *", "2024-05-01T00:00:00", "2025-01-01T00:00:00"),
    ("0 9 * * MON-FRI", "2024-05-03T10:00:00", "2024-05-06T09:00:00"),  # Friday → Monday
    ("30 2 * * 7", "2024-05-01T00:00:00", "2024-05-05T02:30:00"),  # 7 is Sunday
    ("@hourly", "2024-05-01T10:59:59", "2024-05-01T11:00:00"),
    ("@daily", "2024-12-31T23:00:00", "2025-01-01T00:00:00"),
    ("@weekly", "2024-05-01T00:00:00", "2024-05-05T00:00:00"),
    ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("0 12 1,15 * *", "2024-05-02T00:00:00", "2024-05-15T12:00:00"),
    ("10-20/5 * * * *", "2024-05-01T10:16:00", "2024-05-01T10:20:00"),
    ("5/20 * * * *", "2024-05-01T10:26:00", "2024-05-01T10:45:00"),
])
def test_next_firing_time(schedule: str, after: str, expected: str) -> None:
    assert parse_schedule(schedule).next_after(at(after)) == at(expected)


def test_day_of_month_and_day_of_week_are_or_when_both_restricted() -> None:
    either = parse_schedule("0 0 13 * FRI")
    assert either.next_after(at("2024-05-01T00:00:00")) == at("2024-05-03T00:00:00")  # a Friday
    both = parse_schedule("0 0 */1 * FRI")  # a * field: AND
    assert both.next_after(at("2024-05-01T00:00:00")) == at("2024-05-03T00:00:00")
    only_13th = parse_schedule("0 0 13 * *")
    assert only_13th.next_after(at("2024-05-01T00:00:00")) == at("2024-05-13T00:00:00")


def test_time_zone_wall_clock_and_dst_gap() -> None:
    new_york = parse_schedule("0 9 * * *", "America/New_York")
    assert new_york.next_after(at("2024-01-10T00:00:00")) == at("2024-01-10T14:00:00")
    assert new_york.next_after(at("2024-07-10T00:00:00")) == at("2024-07-10T13:00:00")
    gap = parse_schedule("30 2 * * *", "America/New_York")  # 2:30 did not exist on 2024-03-10
    assert gap.next_after(at("2024-03-10T05:00:00")) == at("2024-03-11T06:30:00")


def test_most_recent_time_counts_missed_runs() -> None:
    every_minute = parse_schedule("* * * * *")
    now = at("2024-05-01T10:05:30")
    latest, missed = most_recent_time(every_minute, earliest=at("2024-05-01T10:00:00"), now=now)
    assert latest == at("2024-05-01T10:05:00") and missed == 5
    assert most_recent_time(every_minute, earliest=at("2024-05-01T10:05:00"), now=now) == (None, 0)
    latest, missed = most_recent_time(every_minute, earliest=now - timedelta(days=2), now=now)
    assert latest == at("2024-05-01T10:05:00") and missed > 100


@pytest.mark.parametrize(("schedule", "zone"), [
    ("* * * *", None), ("61 * * * *", None), ("* * * * MOO", None), ("@every 5m", None),
    ("*/0 * * * *", None), ("5-1 * * * *", None), ("* * * * *", "Mars/Olympus"),
])
def test_refuses_bad_schedules(schedule: str, zone: str | None) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(schedule, zone)
