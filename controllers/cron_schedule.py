"""Cron schedules as CronJobs write them, and the times they fire.

The CronJob controller asks two questions of a schedule: "when does it fire next after t?" and
"what was the last time it should have fired up to now?". Upstream answers them with
robfig/cron's ``ParseStandard``: five fields (minute hour day-of-month month day-of-week) with
``*``, ``?``, lists, ranges, ``/step`` and the month/day names, or a descriptor (``@yearly``
``@annually`` ``@monthly`` ``@weekly`` ``@daily`` ``@midnight`` ``@hourly``). Day-of-month and
day-of-week combine with OR when both are restricted and AND when either starts with ``*``/``?``
(robfig's star bit), so ``0 0 1 * MON`` fires on the 1st *and* on Mondays. Times are computed on
the wall clock of the CronJob's ``spec.timeZone`` (zoneinfo), UTC by default; a wall time that does
not exist (DST gap) is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {name: index + 1 for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_WEEKDAYS = {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
# robfig/cron gives up after five years without a match (e.g. "0 0 30 2 *").
_SEARCH_YEARS = 5


class ScheduleError(ValueError):
    """An unparseable schedule or unknown time zone."""


@dataclass(frozen=True, slots=True)
class _Field:
    values: frozenset[int]
    star: bool  # the field began with * or ?: it does not restrict (for the DOM/DOW rule)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: _Field
    months: frozenset[int]
    days_of_week: _Field
    zone: tzinfo

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing time strictly after ``moment`` (an aware datetime), in UTC."""
        local = moment.astimezone(self.zone).replace(second=0, microsecond=0, tzinfo=None)
        candidate = local + timedelta(minutes=1)
        limit = candidate.replace(year=candidate.year + _SEARCH_YEARS)
        while candidate < limit:
            if candidate.month not in self.months:
                candidate = _first_of_next_month(candidate)
                continue
            if not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
                continue
            if candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
                continue
            aware = _existing_wall_time(candidate, self.zone)
            if aware is not None and aware > moment:
                return aware.astimezone(UTC)
            candidate += timedelta(minutes=1)
        return None

    def _day_matches(self, day: datetime) -> bool:
        dom = day.day in self.days_of_month.values
        dow = (day.isoweekday() % 7) in self.days_of_week.values
        if self.days_of_month.star or self.days_of_week.star:
            return dom and dow
        return dom or dow


def parse_schedule(text: str, time_zone: str | None = None) -> CronSchedule:
    """Parses a CronJob's ``spec.schedule`` (and ``spec.timeZone``); raises `ScheduleError`."""
    zone = _zone(time_zone)
    spec = text.strip()
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    minute, hour, dom, month, dow = fields
    day_of_week = _parse_field(dow, 0, 7, _WEEKDAYS)
    # 7 is Sunday too, as in robfig/cron's day-of-week bounds (0-6, with 7 accepted by many crons).
    weekdays = frozenset(v % 7 for v in day_of_week.values)
    return CronSchedule(
        minutes=_parse_field(minute, 0, 59).values, hours=_parse_field(hour, 0, 23).values,
        days_of_month=_parse_field(dom, 1, 31), months=_parse_field(month, 1, 12, _MONTHS).values,
        days_of_week=_Field(weekdays, day_of_week.star), zone=zone)


def _zone(time_zone: str | None) -> tzinfo:
    if not time_zone:
        return UTC
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(f"unknown time zone {time_zone}") from e


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> _Field:
    values: set[int] = set()
    star = text.startswith(("*", "?"))
    for part in text.split(","):
        values |= _parse_range(part, low, high, names or {})
    return _Field(frozenset(values), star)


def _parse_range(part: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    range_text, _, step_text = part.partition("/")
    step = 1
    if step_text:
        step = _number(step_text, names)
        if step <= 0:
            raise ScheduleError(f"step of range should be a positive number: {part}")
    if range_text in ("*", "?"):
        start, end = low, high
    else:
        first, dash, last = range_text.partition("-")
        start = _number(first, names)
        end = _number(last, names) if dash else (high if step_text else start)
    if start < low or end > high or start > end:
        raise ScheduleError(f"value out of range ({low} - {high}): {part}")
    return set(range(start, end + 1, step))


def _number(text: str, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _first_of_next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1, day=1, hour=0, minute=0)
    return moment.replace(month=moment.month + 1, day=1, hour=0, minute=0)


def _existing_wall_time(wall: datetime, zone: tzinfo) -> datetime | None:
    """``wall`` in ``zone``, or None when the clock skipped it (a DST gap)."""
    aware = wall.replace(tzinfo=zone)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return aware if round_trip == wall else None


def most_recent_time(schedule: CronSchedule, *, earliest: datetime,
                     now: datetime) -> tuple[datetime | None, int]:
    """The latest firing time in (earliest, now] and how many firings that interval held
    (upstream's ``mostRecentScheduleTime``; counting stops at 101, "too many missed")."""
    latest: datetime | None = None
    missed = 0
    moment = schedule.next_after(earliest)
    while moment is not None and moment <= now:
        latest = moment
        missed += 1
        if missed > 100:
            # Jump to the end: only the most recent time matters once we know there were many.
            return _last_before(schedule, now) or latest, missed
        moment = schedule.next_after(moment)
    return latest, missed


def _last_before(schedule: CronSchedule, now: datetime) -> datetime | None:
    """The last firing at or before ``now``, searched back a day at a time (bounded)."""
    for days in (1, 7, 31, 366, 366 * _SEARCH_YEARS):
        moment = schedule.next_after(now - timedelta(days=days))
        latest = None
        while moment is not None and moment <= now:
            latest = moment
            moment = schedule.next_after(moment)
        if latest is not None:
            return latest
    return None
