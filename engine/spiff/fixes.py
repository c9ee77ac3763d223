"""Fixes to SpiffWorkflow 3.2 behaviour that govflow depends on, applied once on import.

The task iterators stop descending at depth 1,000 by default: a loop of more than ~500 rounds makes
`is_completed()` true and hides READY tasks below that depth, so the instance silently "ends". The
iterators are not recursive, so an unbounded depth costs nothing but the walk itself.

SpiffWorkflow's timers ask `datetime.now()` themselves; govflow has one clock (engine/clock.py) that
tests move forward, so the timer module's `datetime` is replaced by one whose `now()` asks that clock.
"""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

from engine import clock

LIBRARY_MAX_DEPTH = 1000


def _lift_depth_limit(cls: type) -> None:
    init = cls.__init__
    defaults = init.__defaults__ or ()
    if LIBRARY_MAX_DEPTH not in defaults:
        return  # already lifted, or the library changed: tests/test_long_loops.py will tell
    init.__defaults__ = tuple(sys.maxsize if d == LIBRARY_MAX_DEPTH else d for d in defaults)


class _AnyDatetime(type):
    # `isinstance(x, datetime)` in the timer module must still hold for plain datetimes.
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, datetime)


class ClockedDatetime(datetime, metaclass=_AnyDatetime):
    """`datetime` whose `now()` is the engine's clock; everything else is the standard class."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def _clock_the_timers() -> None:
    timer_module.datetime = ClockedDatetime


def apply() -> None:
    _lift_depth_limit(TaskIterator)
    _lift_depth_limit(BpmnTaskIterator)
    _clock_the_timers()


apply()
