"""Fixes to SpiffWorkflow 3.2 behaviour that govflow depends on, applied once on import.

The task iterators stop descending at depth 1,000 by default: a loop of more than ~500 rounds makes
`is_completed()` true and hides READY tasks below that depth, so the instance silently "ends". The
iterators are not recursive, so an unbounded depth costs nothing but the walk itself.

Predicting a branch (`TaskSpec._predict`, run when a workflow is created and after each step) recurses
once per element along the branch, so a case whose process is a chain of ~1,000 elements failed to start
with a RecursionError. The same walk is done here with a stack of its own.

Multi-instance elements with nothing sound to loop over are checked in engine/spiff/multi_instance.py.

The walks themselves are avoided where they can be: engine/spiff/task_index.py answers the queries for
unfinished tasks from an index, so a step's cost does not grow with the instance's history.

SpiffWorkflow's timers ask `datetime.now()` themselves; govflow has one clock (engine/clock.py) that
tests move forward, so the timer module's `datetime` is replaced by one whose `now()` asks that clock.

A cycle timer turns its period into a fixed number of seconds once (P3M from 1 January: 90 days) and
adds that every round, so "every quarter" drifts off the first of the month and "every year" off its
date across leap years. Each round is counted in calendar months and years from the one before instead.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine import clock
from engine.spiff import multi_instance, task_index

LIBRARY_MAX_DEPTH = 1000


def _lift_depth_limit(cls: type) -> None:
    init = cls.__init__
    defaults = init.__defaults__ or ()
    if LIBRARY_MAX_DEPTH not in defaults:
        return  # already lifted, or the library changed: tests/test_long_loops.py will tell
    init.__defaults__ = tuple(sys.maxsize if d == LIBRARY_MAX_DEPTH else d for d in defaults)


def _predict(
    self: TaskSpec, my_task: Any, seen: list | None = None, looked_ahead: int = 0, mask: int = TaskState.PREDICTED_MASK
) -> None:
    """SpiffWorkflow's `TaskSpec._predict`, walking the branch with an explicit stack instead of recursion.

    The same tasks are visited in the same (depth-first, children in order) order, and each child's state
    is looked at just before it is visited, after its elder siblings' branches, as the recursive version
    does. The library's `seen` list holds task specs and is tested against tasks, which never compare equal
    to them, so it never stops a visit and is not kept.
    """
    stack: list[tuple[Any, int, bool]] = [(my_task, looked_ahead, True)]
    while stack:
        task, ahead, first = stack.pop()
        in_mask = task.has_state(mask)
        if not first and not in_mask:
            continue
        spec = task.task_spec
        if in_mask:
            spec._predict_hook(task)
        if task.has_state(TaskState.DEFINITE_MASK) or ahead + 1 < spec.lookahead:
            stack.extend((child, ahead + 1, False) for child in reversed(task.children))


def _predict_without_recursion() -> None:
    TaskSpec._predict = _predict


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


def _cycle_complete(self: CycleTimerEventDefinition, my_task: Any) -> bool:
    """SpiffWorkflow's `cycle_complete`, with each round a calendar period after the one before."""
    from engine.spiff.timers import next_due

    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
        event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        if isinstance(expression, str):
            event_value["cycle"] = expression
    ready = False
    if event_value["cycles"] != 0:
        next_event = datetime.fromisoformat(event_value["next"])
        if next_event < clock.now():
            following = next_due(event_value["cycle"], next_event) if event_value.get("cycle") else None
            following = following or next_event + timedelta(seconds=event_value["duration"])
            event_value["next"] = following.isoformat()
            event_value["cycles"] -= 1
            ready = True
    else:
        my_task.internal_data.pop("event_value", None)
        my_task.internal_data["event_fired"] = True
    my_task._set_internal_data(event_value=event_value)
    return ready


def _count_cycles_in_calendar_periods() -> None:
    CycleTimerEventDefinition.cycle_complete = _cycle_complete


def apply() -> None:
    _lift_depth_limit(TaskIterator)
    _lift_depth_limit(BpmnTaskIterator)
    _predict_without_recursion()
    multi_instance.apply()
    task_index.apply()
    _clock_the_timers()
    _count_cycles_in_calendar_periods()


apply()
