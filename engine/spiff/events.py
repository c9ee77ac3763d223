"""Timers and messages of a live workflow: what fired during a run, what waits, what was thrown.

SpiffWorkflow fires a timer only when something calls `refresh_timers()`; a timer or a catch event
completes as a task (seen by `did_complete_task`), but a cycle timer stays waiting and only counts its
rounds down. This module turns both into govflow words (`TimerFired`), lists the timers and messages an
instance waits on (for the job and subscription tables) and collects the messages a run threw.

It also fixes two behaviours govflow's procedures meet:
- a process with several start events (a message, a yearly timer) starts by one of them; the others
  stop waiting, or every instance would also wait for next year's timer;
- a non-interrupting event subprocess whose start event still waits (quarterly monitoring) would keep
  the process from ever completing: once everything else is done, its waiting start is cancelled, as
  BPMN says.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, StartEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

from engine import clock

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_SECOND = timedelta(seconds=1)


def element_of(task: Any) -> tuple[str | None, str | None]:
    spec = task.task_spec
    return getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None)


# --- timers ---------------------------------------------------------------------------------------


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

    def as_data(self) -> dict:
        data = {"task_id": self.task_id, "name": self.name, "due_at": self.due_at}
        if self.cycle:
            data["cycle"] = True
        if self.attached_to is not None:
            data |= {"attached_to": self.attached_to, "interrupting": self.interrupting}
        return data


def timer_definition(task: Any) -> TimerEventDefinition | None:
    definition = getattr(task.task_spec, "event_definition", None)
    return definition if isinstance(definition, TimerEventDefinition) else None


def _attachment(task: Any) -> tuple[str | None, bool | None]:
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None, None
    if not isinstance(task.parent.task_spec, BoundaryEventSplit):
        return None, None
    for sibling in task.parent.children:
        if sibling is not task and not isinstance(sibling.task_spec, BoundaryEvent):
            return str(sibling.id), bool(task.task_spec.cancel_activity)
    return None, bool(task.task_spec.cancel_activity)


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
    return [t for t in workflow.get_tasks(state=TaskState.WAITING) if timer_definition(t) is not None]


def waiting_timers(workflow: Any) -> list[WaitingTimer]:
    """Every timer the workflow waits on, with its due time once SpiffWorkflow has computed it."""
    timers = []
    for task in _waiting_timer_tasks(workflow):
        element_id, name = element_of(task)
        attached_to, interrupting = _attachment(task)
        is_cycle = isinstance(timer_definition(task), CycleTimerEventDefinition)
        timers.append(
            WaitingTimer(str(task.id), element_id or "", name, _due(task), is_cycle, attached_to, interrupting)
        )
    return timers


def _fired(task: Any, due_at: str | None) -> TimerFired:
    element_id, name = element_of(task)
    attached_to, interrupting = _attachment(task)
    is_cycle = isinstance(timer_definition(task), CycleTimerEventDefinition)
    return TimerFired(str(task.id), element_id or "", name, due_at, is_cycle, attached_to, interrupting)


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
        if definition is not None and not isinstance(definition, CycleTimerEventDefinition):
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


def fire_with_data(workflow: Any, task_id: str, variables: dict) -> None:
    """Let a due timer fire now with fixed process data for the steps after it (an admin retrying an
    incident). The data is set once the timer is ready, as a waiting task takes its parent's data."""
    workflow.refresh_timers()
    for task in workflow.get_tasks(state=TaskState.READY):
        if str(task.id) == task_id:
            task.data.update(copy.deepcopy(variables))


# --- start events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartEventSpec:
    """A start event of a process as deployed: plain, waiting for a timer, or for a message."""

    element_id: str
    kind: str  # none, timer, message, other
    lane: str | None
    expression: str | None = None  # a timer's value (an ISO text, quoted by the parser, or an expression)
    message: str | None = None


def start_event_specs(spec: Any) -> list[StartEventSpec]:
    """The top-level start events of a process spec."""
    found = []
    for task_spec in getattr(spec, "bpmn_start_events", []):
        definition = getattr(task_spec, "event_definition", None)
        element_id = getattr(task_spec, "bpmn_id", None) or task_spec.name
        lane = getattr(task_spec, "lane", None)
        if isinstance(definition, TimerEventDefinition):
            found.append(StartEventSpec(element_id, "timer", lane, expression=definition.expression))
        elif isinstance(definition, MessageEventDefinition):
            found.append(StartEventSpec(element_id, "message", lane, message=definition.name))
        elif type(definition).__name__ == "NoneEventDefinition":
            found.append(StartEventSpec(element_id, "none", lane))
        else:
            found.append(StartEventSpec(element_id, "other", lane))
    return found


def start_events(workflow: Any) -> list[Any]:
    """The top-level process's start event tasks (its event subprocesses have their own)."""
    first = workflow.task_tree
    found = []
    pending = list(first.children)
    while pending:
        task = pending.pop(0)
        if isinstance(task.task_spec, StartEventSplit):
            pending.extend(task.children)
        elif isinstance(task.task_spec, StartEvent) and task.workflow is workflow:
            found.append(task)
    return found


def trigger_start_event(workflow: Any, element_id: str) -> bool:
    """Let the start event `element_id` (a timer start) go now, once; False if the process has none."""
    for task in start_events(workflow):
        if element_of(task)[0] != element_id or not task.has_state(TaskState.WAITING):
            continue
        definition = timer_definition(task)
        if definition is None:
            return False
        past = (clock.now().replace(microsecond=0) - _SECOND).isoformat()
        if isinstance(definition, CycleTimerEventDefinition):
            # One round, then the start event is done: a timer-started instance is one occurrence.
            value = task._get_internal_data("event_value") or {"duration": 0}
            value |= {"cycles": 1, "next": past}
            task._set_internal_data(event_value=value)
        else:
            task._set_internal_data(event_value=past)
        return True
    return False


def _has_started(task: Any) -> bool:
    if task.has_state(TaskState.COMPLETED):
        return True
    return any(c.has_state(TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK) for c in task.children)


def stop_other_start_events(workflow: Any) -> None:
    """Once one start event has started the process, the others stop waiting."""
    events = start_events(workflow)
    if len(events) < 2 or not any(_has_started(t) for t in events):
        return
    for task in events:
        if task.has_state(TaskState.WAITING) and not _has_started(task):
            task.cancel()


# --- event subprocesses ------------------------------------------------------------------------------


def _is_event_subprocess(task: Any) -> bool:
    # The stored spec comes back as a plain SubWorkflowTask; what gives an event subprocess away is that
    # no sequence flow leads to it: it hangs off the process's start.
    spec = task.task_spec
    if not isinstance(spec, SubWorkflowTask):
        return False
    return type(spec).__name__ == "EventSubprocess" or all(i is spec._wf_spec.start for i in spec.inputs)


def _idle(workflow: Any, task: Any) -> bool:
    """An event subprocess nothing has started in: only its start event waits."""
    subprocess = workflow.subprocesses.get(task.id)
    if subprocess is None:
        return True
    for inner in subprocess.get_tasks(state=ACTIVE):
        waiting = inner.has_state(TaskState.WAITING)
        if not (waiting and isinstance(inner.task_spec, StartEvent | _EndJoin)):
            return False
    return True


def close_idle_event_subprocesses(workflow: Any) -> bool:
    """When a process has reached its end but for event subprocesses still waiting to start, end them."""
    closed = False
    for process in [workflow, *workflow.subprocesses.values()]:
        active = [t for t in process.get_tasks(state=ACTIVE) if t.workflow is process]
        joins = [t for t in active if isinstance(t.task_spec, _EndJoin) and t.has_state(TaskState.WAITING)]
        others = [t for t in active if t not in joins]
        if not joins or not others or not all(_is_event_subprocess(t) and _idle(workflow, t) for t in others):
            continue
        for task in others:
            task.cancel()
        for join in joins:
            join.task_spec._update(join)
        closed = True
    return closed


# --- messages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingMessage:
    name: str
    element_id: str


@dataclass(frozen=True)
class ThrownMessage:
    """A message a run threw that nothing in the instance caught: it goes to other instances."""

    name: str
    element_id: str | None
    payload: Any
    correlations: dict = field(default_factory=dict)


def _message_names(task: Any) -> list[str]:
    definition = getattr(task.task_spec, "event_definition", None)
    candidates = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return [d.name for d in candidates if isinstance(d, MessageEventDefinition)]


def waiting_messages(workflow: Any) -> list[WaitingMessage]:
    """The messages the workflow waits for (catch, boundary and start events, event-based gateways)."""
    found: dict[str, WaitingMessage] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        for name in _message_names(task):
            found.setdefault(name, WaitingMessage(name, element_of(task)[0] or ""))
    return list(found.values())


def thrown_messages(workflow: Any) -> list[ThrownMessage]:
    """Take the messages the run threw outward (SpiffWorkflow keeps them until asked)."""
    thrown = []
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, MessageEventDefinition):
            thrown.append(ThrownMessage(definition.name, None, event.payload, dict(event.correlations or {})))
    return thrown
