"""The engine's one clock: every "now" in govflow comes from `now()`.

Models' defaults, token expiry, due dates, timer firing inside SpiffWorkflow (engine/spiff/fixes.py) and
job claiming all ask here, so a test can move time forward instead of sleeping for days:

- in a test process, `freeze(at)`, `advance(delta)` and `reset()` (the `clock` fixture does this);
- in a subprocess (a worker or server started by a test, or a rehearsal of a procedure), the
  environment variable GOVFLOW_CLOCK_OFFSET shifts the real time by that many seconds or by an ISO
  8601 duration (`P20D`), read when the process starts.

Time never stands still unless frozen: a shifted clock keeps ticking, so a worker running "20 days
ahead" still claims its jobs in due order.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from engine.config import clock_offset_from_env

_lock = threading.Lock()
_offset: timedelta = clock_offset_from_env()
_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    """How far the clock runs ahead of the real time (zero in production)."""
    return now() - datetime.now(UTC)


def freeze(at: datetime | None = None) -> datetime:
    """Stop the clock at `at` (default: now); `advance` moves it from there."""
    global _frozen
    moment = (at or now()).astimezone(UTC)
    with _lock:
        _frozen = moment
    return moment


def advance(delta: timedelta) -> datetime:
    """Move the clock forward (frozen or not) by `delta`; the new now."""
    global _frozen, _offset
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta
    return now()


def reset() -> None:
    """Back to the real time (plus GOVFLOW_CLOCK_OFFSET, if the process was started with one)."""
    global _frozen, _offset
    with _lock:
        _frozen = None
        _offset = clock_offset_from_env()
