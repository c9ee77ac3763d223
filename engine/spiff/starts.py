"""How a process begins and ends around its events: start events and idle event subprocesses.

- a process with several start events (a message, a yearly timer) starts by one of them; the others
  stop waiting, or every case would also wait for next year's timer;
- a case started by a timer start event or a message begins at that start event, once;
- a non-interrupting event subprocess whose start event still waits (quarterly monitoring) would keep
  the process from ever completing: once everything else is done, its waiting start is cancelled, as
  BPMN says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BpmnStartTask, StartEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.errors import RuleBroken
from engine.spiff.elements import ACTIVE, element_of
from engine.spiff.timer_events import timer_definition


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


def arm_start_timer(workflow: Any, element_id: str) -> bool:
    """Make the timer start event `element_id` go once, the moment the new case reaches it (its round fell
    due); False if the process has no such timer start event.

    It is set before the case reaches it: once reached, a cycle whose start date lies in the past would
    let every round it missed through, and a case started by a timer is one occurrence."""
    for task in start_events(workflow):
        if element_of(task)[0] != element_id:
            continue
        definition = timer_definition(task)
        if definition is None:
            return False
        past = (clock.now().replace(microsecond=0) - timedelta(seconds=1)).isoformat()
        if isinstance(definition, CycleTimerEventDefinition):
            task._set_internal_data(event_value={"cycles": 1, "next": past, "duration": 0})
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


# --- how a case begins -----------------------------------------------------------------------------


def begin_by_hand(workflow: Any) -> None:
    """Started by hand: a process whose start events all wait for timers begins at the first one now
    (an official starts what the schedule would). A plain start event, or only message start events
    (the instance waits for its message), are left to SpiffWorkflow."""
    starts = start_event_specs(workflow.spec)
    timers = [s for s in starts if s.kind == "timer"]
    if not timers or any(s.kind == "none" for s in starts):
        return
    begin_with_timer(timers[0].element_id)(workflow)


def to_start_events(workflow: Any) -> None:
    """Bring a new case up to its start events without running any of them: a case begun by a timer or
    a message begins there, not also at a plain start event beside it (the one officials start by hand)."""
    while ready := [
        t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, BpmnStartTask | StartEventSplit)
    ]:
        for task in ready:
            task.run()
    for task in start_events(workflow):
        plain = type(getattr(task.task_spec, "event_definition", None)).__name__ == "NoneEventDefinition"
        if plain and not task.has_state(TaskState.FINISHED_MASK):
            task.cancel()


def begin_with_timer(element_id: str) -> Callable[[Any], None]:
    """Begin at the timer start event `element_id`, once, now (the timer fell due)."""

    def begin(workflow: Any) -> None:
        if not arm_start_timer(workflow, element_id):
            raise RuleBroken(f"The process has no timer start event {element_id}.")
        to_start_events(workflow)

    return begin
