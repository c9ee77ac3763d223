"""The working-day calendar: weekends, public holidays and make-up working days (调休).

Only the exceptions to "Monday to Friday" are data: a holiday on a weekday, or a weekend day that is
worked to make up for one. The State Council publishes each year's schedule late in the year before,
so a year the calendar has no data for falls back to plain weekends; callers are told which years
were assumed (`assumed_years`) instead of getting an error.

Deadline rule: "within N working days" counts from the day after the start (the start day itself is
not counted, as in 《行政许可法》 Art. 42 practice) and ends on the Nth working day at the same time of
day as the start. Days are Beijing dates: a moment given in another zone (the engine's clock is UTC) is
counted from its date in Beijing, so a start at 03:00 on a Saturday in Beijing (19:00 on Friday in UTC)
counts from the Saturday.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

log = logging.getLogger(__name__)

# Working days are days in Beijing: a deadline counts the dates of China Standard Time (no daylight saving).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# A year is scanned at most this far; beyond it a count of working days is a typo, not a deadline.
MAX_WORKING_DAYS = 3660


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a day off, whatever weekday it falls on
    WORKDAY = "workday"  # a weekend day that is worked (调休)


@dataclass(frozen=True)
class CalendarDay:
    day: date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days from the exceptions of the years the calendar knows."""

    exceptions: Mapping[date, CalendarDay] = field(default_factory=dict)
    known_years: frozenset[int] = frozenset()

    @classmethod
    def of(cls, days: Iterable[CalendarDay], known_years: Iterable[int]) -> WorkingCalendar:
        return cls({d.day: d for d in days}, frozenset(known_years))

    def is_working_day(self, day: date) -> bool:
        exception = self.exceptions.get(day)
        if exception is not None:
            return exception.kind is DayKind.WORKDAY
        return day.weekday() < 5

    def day_off_reason(self, day: date) -> str | None:
        """Why a day is not worked ("National Day", "weekend"), or None for a working day."""
        if self.is_working_day(day):
            return None
        exception = self.exceptions.get(day)
        return exception.name if exception is not None else "weekend"

    def working_days_after(self, start: date | datetime, count: int) -> date | datetime:
        """The Nth working day after `start` (same time of day for a datetime); `count` 0 is `start`.

        A timezone-aware datetime is counted on its Beijing date and answered in its own zone."""
        if count < 0 or count > MAX_WORKING_DAYS:
            raise ValueError(f"A number of working days must be between 0 and {MAX_WORKING_DAYS}, not {count}.")
        if isinstance(start, datetime) and start.tzinfo is not None:
            local = self.working_days_after(start.astimezone(BEIJING).replace(tzinfo=None), count)
            assert isinstance(local, datetime)
            return local.replace(tzinfo=BEIJING).astimezone(start.tzinfo)
        day = start.date() if isinstance(start, datetime) else start
        left = count
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        if isinstance(start, datetime):
            return datetime.combine(day, start.timetz())
        return day

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """How many working days lie after `start` up to and including `end` (0 when end <= start)."""
        first, last = beijing_date(start), beijing_date(end)
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def assumed_years(self, start: date | datetime, end: date | datetime) -> list[int]:
        """The years between start and end that had no data, so plain weekends were assumed."""
        first, last = beijing_date(start).year, beijing_date(end).year
        return [year for year in range(min(first, last), max(first, last) + 1) if year not in self.known_years]

    def deadline(self, start: datetime, count: int) -> datetime:
        """`working_days_after` for a datetime, logging a warning when a year's schedule was assumed."""
        due = self.working_days_after(start, count)
        assert isinstance(due, datetime)
        assumed = self.assumed_years(start, due)
        if assumed:
            log.warning(
                "No holiday schedule for %s: counted %d working days from %s with weekends only.",
                ", ".join(map(str, assumed)),
                count,
                beijing_date(start).isoformat(),
            )
        return due


def beijing_date(moment: date | datetime) -> date:
    """The date a moment falls on in Beijing (a naive datetime is taken as Beijing time already)."""
    if isinstance(moment, datetime):
        return (moment.astimezone(BEIJING) if moment.tzinfo is not None else moment).date()
    return moment


def published_schedule() -> tuple[list[CalendarDay], list[int]]:
    """The holidays and make-up working days the `chinese-calendar` package knows, and their years."""
    from chinese_calendar import constants

    days = [CalendarDay(d, DayKind.HOLIDAY, str(name)) for d, name in constants.holidays.items()]
    days += [CalendarDay(d, DayKind.WORKDAY, str(name)) for d, name in constants.workdays.items()]
    years = sorted({d.day.year for d in days})
    return sorted(days, key=lambda d: d.day), years
