"""Timers of a live workflow: what waits and when, what fired during a run, firing one now.

SpiffWorkflow fires a timer only when something calls `refresh_timers()`; a timer completes as a task
(seen by `did_complete_task`), but a cycle timer stays waiting and only counts its rounds down.
`TimerWatch` turns both into `TimerFired`, one per firing (one per round of a cycle).

An event-based gateway (a reply or a time-out, whichever comes first) waits itself, holding the events
of the catch events after it: its timer is named after the catch event it leads to, and it fired only
if the gateway went on by that timer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.spiff.elements import element_of, waiting_event_tasks

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class WaitingTimer:
    """A timer the workflow waits on, as the job table and the inbox need it."""

    task_id: str
    element_id: str
    name: str | None
    due_at: datetime | None
    cycle: bool = False
    # For a boundary timer: the task it is attached to (a user task's deadline) and whether it interrupts.
    attached_to: str | None = None
    interrupting: bool | None = None
    # Attached to a multi-instance task: its instances, the user tasks officials see.
    instances: tuple[str, ...] = ()

    def covers(self, task_id: str) -> bool:
        """Whether this timer is the deadline of the user task `task_id`."""
        return task_id == self.attached_to or task_id in self.instances


@dataclass(frozen=True)
class TimerFired:
    """One firing of a timer during a run (one round, for a cycle)."""

    task_id: str
    element_id: str
    name: str | None
    due_at: str | None
    cycle: bool
    attached_to: str | None
    interrupting: bool | None
    instances: tuple[str, ...] = ()

    def as_data(self) -> dict:
        data = {"task_id": self.task_id, "name": self.name, "due_at": self.due_at}
        if self.cycle:
            data["cycle"] = True
        if self.attached_to is not None:
            data |= {"attached_to": self.attached_to, "interrupting": self.interrupting}
        if self.instances:
            data["instances"] = list(self.instances)
        return data


def timer_definition(task: Any) -> TimerEventDefinition | None:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):  # an event-based gateway
        return next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
    return definition if isinstance(definition, TimerEventDefinition) else None


def _timer_element(task: Any) -> tuple[str | None, str | None]:
    """The BPMN element of a waiting timer: the timer event, or for an event-based gateway the timer
    catch event it leads to (the gateway holds its followers' events in the order of its outputs)."""
    definition = getattr(task.task_spec, "event_definition", None)
    timer = timer_definition(task)
    if isinstance(definition, MultipleEventDefinition) and timer is not None:
        index = next(i for i, d in enumerate(definition.event_definitions) if d is timer)
        outputs = getattr(task.task_spec, "outputs", [])
        if index < len(outputs):
            spec = outputs[index]
            return getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None)
    return element_of(task)


def _went_on_by_timer(task: Any) -> bool:
    """Whether a completed timer task completed because its time came (a gateway may go on by a message)."""
    if not isinstance(getattr(task.task_spec, "event_definition", None), MultipleEventDefinition):
        return True
    seen = task.internal_data.get("seen_events") or []
    return any(isinstance(getattr(e, "event_definition", None), TimerEventDefinition) for e in seen)


def _attachment(task: Any) -> tuple[str | None, bool | None, tuple[str, ...]]:
    """For a boundary timer: the task it is attached to, whether it interrupts, and the instances of
    that task when it is a multi-instance one (one user task per committee, say)."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None, None, ()
    if not isinstance(task.parent.task_spec, BoundaryEventSplit):
        return None, None, ()
    interrupting = bool(task.task_spec.cancel_activity)
    for sibling in task.parent.children:
        if sibling is not task and not isinstance(sibling.task_spec, BoundaryEvent):
            return str(sibling.id), interrupting, _instances(sibling)
    return None, interrupting, ()


def _instances(task: Any) -> tuple[str, ...]:
    inner = getattr(task.task_spec, "task_spec", None)  # a multi-instance task names its instances' spec
    if not isinstance(inner, str):
        return ()
    return tuple(str(child.id) for child in task.children if child.task_spec.name == inner)


def _due_text(task: Any) -> str | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # a cycle: the next round, unless its rounds are used up
        return value.get("next") if value.get("cycles") != 0 else None
    return value if isinstance(value, str) else None


def _due(task: Any) -> datetime | None:
    text = _due_text(task)
    if not text:
        return None
    try:
        return TimerEventDefinition.get_datetime(text)
    except (TypeError, ValueError):
        return None


def _waiting_timer_tasks(workflow: Any) -> list[Any]:
    return [t for t in waiting_event_tasks(workflow) if timer_definition(t) is not None]


def waiting_timers(workflow: Any) -> list[WaitingTimer]:
    """Every timer the workflow waits on, with its due time once SpiffWorkflow has computed it."""
    timers = []
    for task in _waiting_timer_tasks(workflow):
        element_id, name = _timer_element(task)
        attached_to, interrupting, instances = _attachment(task)
        is_cycle = isinstance(timer_definition(task), CycleTimerEventDefinition)
        timers.append(
            WaitingTimer(
                str(task.id), element_id or "", name, _due(task), is_cycle, attached_to, interrupting, instances
            )
        )
    return timers


def _fired(task: Any, due_at: str | None) -> TimerFired:
    element_id, name = _timer_element(task)
    attached_to, interrupting, instances = _attachment(task)
    is_cycle = isinstance(timer_definition(task), CycleTimerEventDefinition)
    return TimerFired(str(task.id), element_id or "", name, due_at, is_cycle, attached_to, interrupting, instances)


class TimerWatch:
    """Notes every timer that fires while a run goes on: completed timer tasks and cycle rounds."""

    def __init__(self, workflow: Any, on_fire: Callable[[TimerFired], None]) -> None:
        self.workflow = workflow
        self.on_fire = on_fire
        self._due: dict[str, str | None] = {}
        self._rounds: dict[str, tuple[Any, int, str | None]] = {}
        self.look()

    def look(self) -> None:
        """Remember each waiting timer's due time and each cycle's rounds, then note what changed."""
        due, rounds = {}, {}
        for task in _waiting_timer_tasks(self.workflow):
            key = str(task.id)
            due[key] = _due_text(task)
            value = task._get_internal_data("event_value")
            if isinstance(value, dict) and isinstance(value.get("cycles"), int):
                rounds[key] = (task, value["cycles"], value.get("next"))
        for key, (task, before, next_due) in self._rounds.items():
            after = rounds.get(key, (task, _rounds_left(task), None))[1]
            if after is None:
                continue
            # SpiffWorkflow counts every round down by one (an endless cycle starts at -1 and goes on down).
            for _ in range(max(0, before - after)):
                self.on_fire(_fired(task, next_due))
        self._due |= due
        self._rounds = rounds

    def did_complete(self, task: Any) -> None:
        definition = timer_definition(task)
        if definition is not None and not isinstance(definition, CycleTimerEventDefinition) and _went_on_by_timer(task):
            self.on_fire(_fired(task, self._due.get(str(task.id))))


def _rounds_left(task: Any) -> int | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict) and isinstance(value.get("cycles"), int):
        return value["cycles"]
    return None


def fire_now(workflow: Any, task_id: str) -> WaitingTimer | None:
    """Make a waiting timer due now (an admin's "run now"); the next run fires it. None if no such timer."""
    task = next((t for t in _waiting_timer_tasks(workflow) if str(t.id) == task_id), None)
    if task is None:
        return None
    before = next(t for t in waiting_timers(workflow) if t.task_id == task_id)
    past = (clock.now().replace(microsecond=0) - _SECOND).isoformat()
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # a cycle: this round now, the next one a period later
        value["next"] = past
    else:
        task._set_internal_data(event_value=past)
    return before


def due_at_last(workflow: Any, task_id: str) -> None:
    """A timer due this very microsecond counts as due: SpiffWorkflow fires only once its time has
    passed, while the worker runs a job at its due time (which a frozen test clock hits exactly)."""
    task = next((t for t in _waiting_timer_tasks(workflow) if str(t.id) == task_id), None)
    now = clock.now()
    if task is None or _due(task) != now:
        return
    earlier = (now - timedelta(microseconds=1)).isoformat()
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):
        value["next"] = earlier
    else:
        task._set_internal_data(event_value=earlier)


def fire_with_data(workflow: Any, task_id: str, variables: dict) -> None:
    """Let a due timer fire now with fixed process data for the steps after it (an admin retrying an
    incident). The data is set once the timer is ready, as a waiting task takes its parent's data."""
    workflow.refresh_timers()
    for task in workflow.get_tasks(state=TaskState.READY):
        if str(task.id) == task_id:
            task.data.update(copy.deepcopy(variables))
