"""ISO 8601 timer values: what designers write in timeDate, timeDuration and timeCycle.

SpiffWorkflow evaluates a timer's text as a Python expression, so a bare `P3D` would fail at run time as
an unknown name. Designers should not need quotes around an ISO value: the bundle parser recognises plain
ISO text with `parse_iso_timer` and turns it into a quoted string literal on the parsed spec. The timer
worker reuses `parse_iso_timer` to read the values back.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)


class TimerKind(StrEnum):
    """What a timer value says: when (date), after how long (duration), how often (cycle)."""

    DATE = "date"
    DURATION = "duration"
    CYCLE = "cycle"


# The BPMN element each kind belongs in, and the SpiffWorkflow event definition it becomes.
ELEMENT_KIND = {"timeDate": TimerKind.DATE, "timeDuration": TimerKind.DURATION, "timeCycle": TimerKind.CYCLE}
DEFINITION_KIND = {
    TimeDateEventDefinition: TimerKind.DATE,
    DurationTimerEventDefinition: TimerKind.DURATION,
    CycleTimerEventDefinition: TimerKind.CYCLE,
}
EXAMPLES = {
    TimerKind.DATE: "2026-01-01 or 2026-01-01T09:00:00+08:00",
    TimerKind.DURATION: "P3D (3 days), PT1H (1 hour), P2W (2 weeks) or P1Y2M10DT2H30M",
    TimerKind.CYCLE: "R/P1Y (every year), R3/PT10M (3 times, every 10 minutes) or R/2026-01-01T00:00:00/P1D",
}

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER})S)?)?"
)
_DATE = re.compile(r"\d{4}-?(?:\d{2}-?\d{2}|W\d{2}-?\d)(?:T[0-9:.,]+(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")
_CYCLE = re.compile(r"R(?P<count>\d*)/(?P<first>[^/]+)(?:/(?P<second>[^/]+))?")
# What a designer starts to type when they mean an ISO value: P1..., PT..., R/..., R3/..., 2026-...
_ISO_LOOKING = re.compile(r"(?:P(?:\d|T|$)|R\d*/|\d{4}-?(?:\d{2}|W\d)|\d{8})")
# A timer that waits longer than this is almost certainly a typo (and SpiffWorkflow adds up months one
# by one at run time, so an absurd value would also cost real time).
_LONGEST = timedelta(days=100 * 366)


def parse_iso_timer(text: str) -> TimerKind:
    """The kind of a plain ISO 8601 timer value (no quotes); ValueError with a readable reason if invalid.

    Accepts what SpiffWorkflow can run: dates and date-times (`2026-01-01`, `2026-01-01T09:00:00+08:00`,
    week dates), durations (`P3D`, `PT1H`, `P2W`, `P1Y2M10DT2H30M`) and repeating cycles (`R/P1Y`,
    `R3/PT10M`, `R/2026-01-01T00:00:00/P1D`, `R/P1D/2026-12-31`).
    """
    value = text.strip()
    if not value:
        raise ValueError("the value is empty")
    if value.startswith("R"):
        _parse_cycle(value)
        return TimerKind.CYCLE
    if value.startswith("P"):
        _parse_duration(value)
        return TimerKind.DURATION
    _parse_date(value)
    return TimerKind.DATE


def looks_like_iso_timer(text: str) -> bool:
    """True if the text reads as an attempt at an ISO 8601 value rather than a Python expression."""
    return bool(_ISO_LOOKING.match(text.strip()))


def string_literal(text: str) -> str | None:
    """The string a Python string literal stands for (`"P3D"` -> `P3D`), else None."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def literal_of_other_type(text: str) -> str | None:
    """The type name of a non-string literal (`3600` -> 'number'), else None: timers need text values."""
    try:
        value = ast.literal_eval(text.strip())
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, str):
        return None
    if isinstance(value, bool):
        return "true/false value"
    if isinstance(value, int | float | complex):
        return "number"
    return type(value).__name__


def quoted(text: str) -> str:
    """The Python expression SpiffWorkflow evaluates to the plain ISO value."""
    return repr(text.strip())


def _parse_duration(value: str) -> timedelta:
    match = _DURATION.fullmatch(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise ValueError(
            f"'{value}' is not a duration: write P, then numbers with the units Y, M, W, D and, after T, H, M, S"
        )
    parts = {unit: amount for unit, amount in match.groupdict().items() if amount is not None}
    if "weeks" in parts and len(parts) > 1:
        raise ValueError(f"'{value}': weeks (W) cannot be combined with other units; write days instead")
    fractional = [unit for unit, amount in parts.items() if not amount.isdigit()]
    if fractional and fractional != [list(parts)[-1]]:
        raise ValueError(f"'{value}': only the last number of a duration may have a fraction")
    return _duration_length(value, parts)


def _duration_length(value: str, parts: dict[str, str]) -> timedelta:
    years = float(parts.get("years", "0").replace(",", "."))
    months = float(parts.get("months", "0").replace(",", "."))
    if years * 12 + months > _LONGEST.days / 28:
        raise ValueError(f"'{value}' is longer than 100 years")
    try:
        # The same arithmetic SpiffWorkflow does at run time, so what passes here runs there.
        parsed = TimerEventDefinition.parse_iso_duration(value)
        length = TimerEventDefinition.get_timedelta_from_start(parsed, datetime(2026, 1, 1, tzinfo=UTC))
    except (OverflowError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"'{value}' is too long to be a duration") from exc
    except Exception as exc:  # SpiffWorkflow raises a bare Exception for what it cannot read
        raise ValueError(f"'{value}' is not a duration SpiffWorkflow can read") from exc
    if length > _LONGEST:
        raise ValueError(f"'{value}' is longer than 100 years")
    return length


def _parse_date(value: str) -> datetime:
    if not _DATE.fullmatch(value):
        raise ValueError(f"'{value}' is not a date: write 2026-01-01 or 2026-01-01T09:00:00+08:00")
    try:
        # What TimeDateEventDefinition does at run time (week dates included).
        moment = TimerEventDefinition.parse_time_or_duration(value)
    except Exception as exc:  # ValueError from datetime, AttributeError from a failed week-date match
        raise ValueError(f"'{value}' is not a valid date or time ({exc})") from exc
    if not isinstance(moment, datetime):
        raise ValueError(f"'{value}' is not a date")
    return moment


def _parse_cycle(value: str) -> None:
    match = _CYCLE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"'{value}' is not a cycle: write R, an optional number of repetitions, then /duration, "
            "/start/duration or /duration/end"
        )
    try:
        _check_cycle_parts(value, match["first"], match["second"])
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid cycle: {exc}") from None
    try:
        TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # SpiffWorkflow raises a bare Exception for what it cannot read
        raise ValueError(f"'{value}' is not a cycle SpiffWorkflow can run ({exc})") from exc


def _check_cycle_parts(value: str, first: str, second: str | None) -> None:
    first_is_duration = first.startswith("P")
    if first_is_duration:
        _parse_duration(first)
    else:
        _parse_date(first)
    if second is None:
        if not first_is_duration:
            raise ValueError("a cycle with a start date also needs a duration (R/start/P1D)")
    elif second.startswith("P"):
        if first_is_duration:
            raise ValueError("a cycle has one duration, not two")
        _parse_duration(second)
    else:
        if not first_is_duration:
            raise ValueError("a cycle needs a duration between its dates (R/start/P1D)")
        _parse_date(second)


def without_offset(text: str) -> bool:
    """True for a date-time (or a cycle starting at one) that names no UTC offset.

    SpiffWorkflow reads such a time in the server's local time zone, which need not be Beijing time.
    """
    value = text.strip()
    match = _CYCLE.fullmatch(value)
    parts = [match["first"], match["second"] or ""] if match else [value]
    for part in parts:
        if _DATE.fullmatch(part) and "W" not in part:
            try:
                moment = datetime.fromisoformat(part)
            except ValueError:
                continue
            if moment.tzinfo is None:
                return True
    return False


# --- when a timer start event falls due (the worker starts instances then) ----------------------------


def _iso_duration(value: str, start: datetime) -> timedelta:
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value), start)


def first_due(text: str, now: datetime) -> tuple[datetime, int] | None:
    """When a timer start event with this plain ISO value first falls due after `now`, and how many
    rounds follow it (-1: for ever). A date already past falls due at once; a cycle whose start lies in
    the past begins at its next round, not with the rounds it missed before it was deployed, and one
    whose rounds all lie in the past never falls due (None)."""
    value = text.strip()
    kind = parse_iso_timer(value)
    if kind is TimerKind.DATE:
        return TimerEventDefinition.get_datetime(_plain_date(value)), 0
    if kind is TimerKind.DURATION:
        return now + _iso_duration(value, now), 0
    match = _CYCLE.fullmatch(value)
    assert match is not None
    rounds = int(match["count"]) if match["count"] else -1
    first, second = match["first"], match["second"]
    if first.startswith("P") and second is None:  # R/P1Y: a period from now, then every period
        return now + _iso_duration(first, now), _less(rounds)
    if first.startswith("P"):  # R/P1D/2026-12-31: the period ending at that date
        end = TimerEventDefinition.get_datetime(second)
        return end - TimerEventDefinition.get_timedelta_from_end(TimerEventDefinition.parse_iso_duration(first), end), 0
    due = TimerEventDefinition.get_datetime(first)  # R/2026-01-01T09:00:00+08:00/P1Y
    while due < now and rounds != 0:
        due, rounds = due + _iso_duration(second, due), rounds - 1 if rounds > 0 else rounds
    if rounds == 0:  # R2/2026-01-01T09:00:00+08:00/P1M deployed in 2027: both rounds are over
        return None
    return due, _less(rounds)


def next_due(text: str, previous: datetime) -> datetime | None:
    """The round after `previous` of a cycle (calendar months and years, not a fixed number of seconds)."""
    match = _CYCLE.fullmatch(text.strip())
    if match is None:
        return None
    period = match["first"] if match["first"].startswith("P") else match["second"]
    if not period or not period.startswith("P"):
        return None
    return previous + _iso_duration(period, previous)


def _less(rounds: int) -> int:
    return rounds - 1 if rounds > 0 else rounds


def _plain_date(value: str) -> str:
    return value if "W" not in value.upper() else TimerEventDefinition.parse_iso_week(value).isoformat()
