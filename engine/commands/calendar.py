"""The working-day calendar as data: read a year, set a year's schedule (city admins), seed from the package."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import calendar as cal
from engine import clock
from engine.audit import AuditLog
from engine.commands.base import EngineBase
from engine.errors import NotAllowed, RuleBroken
from engine.models import CalendarDay, CalendarYear, OrgUnit, RoleAssignment, utcnow
from engine.principal import Principal
from engine.roles import ADMIN, Level

FIRST_YEAR, LAST_YEAR = 1990, 2200


class CalendarCommands(EngineBase):
    _calendar_lock = threading.Lock()

    def expression_helpers(self) -> dict[str, Callable[..., Any]]:
        return super().expression_helpers() | {
            "working_days_after": self._working_days_after,
            "working_days": self._working_days,
        }

    def _working_days(self, count: int) -> str:
        """For timer expressions: `working_days(15)` is the ISO duration from now (the engine's clock) to
        the same time of day on the 15th working day after today in Beijing, e.g. "P21D" across the
        National Day holiday. Use it as a timer's timeDuration."""
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"working_days needs a whole number of working days, not {count!r}")
        now = clock.now().astimezone(cal.BEIJING)
        due = self.working_calendar().deadline(now, count)
        return f"P{(due.date() - now.date()).days}D"

    def _working_days_after(self, start: date | datetime | str, count: int) -> date | datetime:
        """For BPMN expressions: the Nth working day after a date, a datetime or an ISO text of one."""
        if isinstance(start, str):
            start = datetime.fromisoformat(start) if "T" in start else date.fromisoformat(start)
        if isinstance(start, datetime):
            return self.working_calendar().deadline(start, int(count))
        return self.working_calendar().working_days_after(start, int(count))

    def working_calendar(self) -> cal.WorkingCalendar:
        """The calendar as the database holds it now; reloaded only when a year was seeded or changed."""
        with self.reading() as session:
            fingerprint = session.execute(select(func.count(), func.max(CalendarYear.changed_at))).one()
            cached = getattr(self, "_calendar_cache", None)
            if cached is not None and cached[0] == tuple(fingerprint):
                return cached[1]
            working = load_calendar(session)
        with self._calendar_lock:
            self._calendar_cache = (tuple(fingerprint), working)
        return working

    def calendar_year(self, year: int) -> dict:
        """A year's exceptions to Monday-Friday, and whether its schedule is known or weekends are assumed."""
        _check_year(year)
        with self.reading() as session:
            return _year_view(year, session.get(CalendarYear, year), _days_of(session, year))

    def set_calendar_year(self, year: int, days: list[dict], by: Principal) -> dict:
        """Replace a year's holidays and make-up working days (a city admin, when the State Council publishes)."""
        _check_year(year)
        parsed = _parse_days(year, days)
        with self.transaction() as session:
            _require_city_admin(session, by)
            session.execute(delete(CalendarDay).where(CalendarDay.year == year))
            row = session.get(CalendarYear, year)
            if row is None:
                row = CalendarYear(year=year, source="admin")
                session.add(row)
            row.source, row.changed_by, row.changed_at = "admin", by.username, utcnow()
            session.flush()
            session.add_all(CalendarDay(day=d.day, year=year, kind=d.kind.value, name=d.name) for d in parsed.values())
            summary = {
                "year": year,
                "holidays": sorted(str(d.day) for d in parsed.values() if d.kind is cal.DayKind.HOLIDAY),
                "workdays": sorted(str(d.day) for d in parsed.values() if d.kind is cal.DayKind.WORKDAY),
            }
            AuditLog(session).append_system(by.actor(ADMIN), "calendar_changed", str(year), summary)
            return _year_view(year, row, _days_of(session, year))

    def seed_calendar(self) -> list[int]:
        """Add the years the published schedule knows and the database does not; never touches a known year."""
        with self.transaction() as session:
            return seed_calendar(session)


def seed_calendar(session: Session) -> list[int]:
    """Insert the package's schedule for the years not in the database yet; the years added."""
    days, years = cal.published_schedule()
    have = set(session.execute(select(CalendarYear.year)).scalars())
    new = [y for y in years if y not in have]
    for year in new:
        session.add(CalendarYear(year=year, source="seed", changed_at=utcnow()))
    session.flush()
    session.add_all(
        CalendarDay(day=d.day, year=d.day.year, kind=d.kind.value, name=d.name) for d in days if d.day.year in new
    )
    return new


def load_calendar(session: Session) -> cal.WorkingCalendar:
    years = session.execute(select(CalendarYear.year)).scalars()
    rows = session.execute(select(CalendarDay)).scalars()
    return cal.WorkingCalendar.of((cal.CalendarDay(r.day, cal.DayKind(r.kind), r.name) for r in rows), years)


def _days_of(session: Session, year: int) -> list[CalendarDay]:
    session.flush()
    return list(
        session.execute(select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.day)).scalars()
    )


def _require_city_admin(session: Session, by: Principal, what: str = "change the working-day calendar") -> None:
    if by.is_system:
        return
    query = (
        select(RoleAssignment.id)
        .join(OrgUnit, OrgUnit.code == RoleAssignment.org_code)
        .where(RoleAssignment.username == by.username, RoleAssignment.role == ADMIN, OrgUnit.level == Level.CITY.value)
    )
    if session.execute(query).first() is None:
        raise NotAllowed(f"Only an admin at city level may {what}.", code="city_admin_only")


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RuleBroken(f"The calendar covers the years {FIRST_YEAR} to {LAST_YEAR}, not {year}.")


def _parse_days(year: int, days: list[dict]) -> dict[date, cal.CalendarDay]:
    parsed: dict[date, cal.CalendarDay] = {}
    for number, item in enumerate(days, 1):
        try:
            day = date.fromisoformat(str(item["day"]))
            kind = cal.DayKind(item["kind"])
        except (KeyError, TypeError, ValueError):
            raise RuleBroken(
                f"Day {number} needs a date (YYYY-MM-DD) and a kind (holiday or workday), not {item!r}."
            ) from None
        if day.year != year:
            raise RuleBroken(f"{day} is not in {year}.")
        if day in parsed:
            raise RuleBroken(f"{day} is listed twice.")
        if kind is cal.DayKind.WORKDAY and day.weekday() < 5:
            raise RuleBroken(f"{day} is a weekday: only a Saturday or Sunday can be a make-up working day.")
        name = str(item.get("name") or "").strip()[:100] or ("调休" if kind is cal.DayKind.WORKDAY else "节假日")
        parsed[day] = cal.CalendarDay(day, kind, name)
    return parsed


def _year_view(year: int, known: CalendarYear | None, days: list[CalendarDay]) -> dict:
    return {
        "year": year,
        "known": known is not None,
        "source": known.source if known else None,
        "changed_by": known.changed_by if known else None,
        "days": [{"day": d.day.isoformat(), "kind": d.kind, "name": d.name} for d in days],
        "note": None
        if known
        else f"No holiday schedule for {year}: only weekends are days off until an admin sets it.",
    }
