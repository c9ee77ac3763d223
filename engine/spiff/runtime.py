"""Running SpiffWorkflow: the only module (with its siblings in engine/spiff) that touches the library.

The rest of the engine speaks of instances, user tasks, failures and engine events; this module turns
those into SpiffWorkflow calls and back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import EndEvent, ExclusiveGateway, InclusiveGateway
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import NotFound, RuleBroken
from engine.spiff.elements import element_of
from engine.spiff.failures import Failure, failure_from, hold, hold_failures, take_held
from engine.spiff.failures import retry_failed as retry_failed  # the retry command's step, with failures
from engine.spiff.serialization import REGISTRY
from engine.spiff.starts import close_idle_event_subprocesses, stop_other_start_events, to_start_events
from engine.spiff.timer_events import TimerWatch


@dataclass(frozen=True)
class ReadyUserTask:
    id: str
    element_id: str
    name: str
    lane: str | None
    form_key: str | None
    process_id: str
    data: dict


@dataclass(frozen=True)
class EngineEvent:
    """Something the engine did on its own that the audit trail records (gateway taken, end reached)."""

    action: str
    element_id: str | None
    data: dict = field(default_factory=dict)


def new_workflow(spec: Any, subprocess_specs: dict[str, Any], script_engine: Any) -> BpmnWorkflow:
    return BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)


def set_variables(workflow: BpmnWorkflow, variables: dict) -> None:
    """Start variables: put into the start task so they flow to every task."""
    workflow.task_tree.data.update(copy.deepcopy(variables))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(copy.deepcopy(variables))


# A run stops after this many rounds of "fire due timers, run engine steps": a cycle overdue by years
# catches up a few rounds per command instead of all at once.
MAX_ROUNDS = 25


def run_engine(workflow: BpmnWorkflow, events: list[EngineEvent]) -> Failure | None:
    """Fire the timers that are due by the engine's clock and run engine steps to the next wait state;
    record what the audit needs (gateways, end events, timers fired); a failure stops the run."""
    watch = TimerWatch(workflow, lambda f: events.append(EngineEvent("timer_fired", f.element_id, f.as_data())))

    def did_complete(task: Any) -> None:
        spec = task.task_spec
        watch.did_complete(task)
        if isinstance(spec, ExclusiveGateway | InclusiveGateway):
            chosen = [
                element_of(child)[0]
                for child in task.children
                if child.has_state(TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK)
            ]
            element_id, name = element_of(task)
            events.append(EngineEvent("gateway_taken", element_id, {"name": name, "to": chosen}))
        elif isinstance(spec, EndEvent):
            element_id, name = element_of(task)
            events.append(EngineEvent("end_event_reached", element_id, {"name": name}))

    held = take_held(workflow)  # the command's own library call failed already (see engine/spiff/failures.py)
    if held is not None:
        return held
    try:
        for round_ in range(MAX_ROUNDS):
            workflow.refresh_timers()
            watch.look()
            if round_ and not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
                break
            workflow.do_engine_steps(did_complete_task=did_complete)
            watch.look()
            stop_other_start_events(workflow)
            close_idle_event_subprocesses(workflow)
    except Exception as exc:  # noqa: BLE001 - a library bug must become an incident, not a crash
        return failure_from(exc, workflow)
    return None


def status_of(workflow: BpmnWorkflow) -> str:
    if workflow.is_completed():
        return "completed"
    return "running"


def ready_user_tasks(workflow: BpmnWorkflow) -> list[ReadyUserTask]:
    tasks = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        element_id, name = element_of(task)
        props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
        tasks.append(
            ReadyUserTask(
                id=str(task.id),
                element_id=element_id or "",
                name=name or element_id or "",
                lane=getattr(task.task_spec, "lane", None),
                form_key=props.get("formKey"),
                process_id=task.workflow.spec.name,
                data=task.data,
            )
        )
    return tasks


def _task(workflow: BpmnWorkflow, task_id: str) -> Any:
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError) as exc:
        raise NotFound(f"Task {task_id} is not part of this instance.", code="task_not_in_case") from exc


def complete_user_task(workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
    task = _task(workflow, task_id)
    if task.state != TaskState.READY or not task.task_spec.manual:
        raise RuleBroken(f"Task {task_id} is not waiting for a person.", code="task_not_waiting")
    task.data.update(copy.deepcopy(data))
    hold_failures(workflow, task.run)  # what fails in the elements after it fails the case, in run_engine


def task_data(workflow: BpmnWorkflow, task_id: str) -> dict:
    return _task(workflow, task_id).data


def cancel(workflow: BpmnWorkflow) -> None:
    workflow.cancel()


def variables_of(workflow: BpmnWorkflow) -> dict:
    """The process variables a reader sees: the workflow's data once it ended, else the newest task's."""
    if workflow.is_completed():
        return dict(workflow.data)
    last = workflow.last_task
    if last is not None and last.workflow is workflow:
        return dict(last.data)
    return dict(workflow.task_tree.data)


# --- messages ------------------------------------------------------------------------------------


def _message_definition(task: Any, name: str) -> MessageEventDefinition | None:
    """The definition of message `name` a waiting task catches (an event-based gateway holds several)."""
    definition = getattr(task.task_spec, "event_definition", None)
    for candidate in getattr(definition, "event_definitions", None) or [definition]:
        if isinstance(candidate, MessageEventDefinition) and candidate.name == name:
            return candidate
    return None


def deliver_message(workflow: BpmnWorkflow, name: str, payload: dict) -> list[str]:
    """Hand a message to the catch events waiting for it: the element ids that caught it, [] if none waits.

    Nothing changes when nothing waits. The payload reaches the process data through the catch event's
    `spiffworkflow:messageVariable`, as SpiffWorkflow does it; the instance is addressed by id, so the
    message carries the workflow's own correlations.
    """
    waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING) if _message_definition(t, name) is not None]
    if not waiting:
        return []
    event = BpmnEvent(
        _message_definition(waiting[0], name),
        copy.deepcopy(payload),
        correlations=copy.deepcopy(dict(waiting[0].workflow.correlations)),
    )
    catching = [t for t in waiting if t.task_spec.catches(t, event)]
    if not catching:
        return []
    try:
        workflow.send_event(event)
    except Exception as exc:  # noqa: BLE001
        if any(t.has_state(TaskState.FINISHED_MASK) for t in catching):
            hold(workflow, exc)  # delivered; an element after the catch event failed: the case fails there
        elif isinstance(exc, WorkflowException):
            return []
        else:  # a correlation expression that fails on this payload
            raise RuleBroken(f"The message {name} could not be delivered: {exc}") from exc
    return [element_of(t)[0] or "" for t in catching]


def begin_with_message(name: str, payload: dict) -> Callable[[BpmnWorkflow], None]:
    """Begin at the start event that catches message `name`, with its payload."""

    def begin(workflow: BpmnWorkflow) -> None:
        to_start_events(workflow)
        if not deliver_message(workflow, name, payload):
            raise RuleBroken(f"The process does not start on message {name}.")

    return begin


# --- reading stored task rows without restoring the workflow ------------------------------------

_STATE_WORDS = {
    TaskState.COMPLETED: "completed",
    TaskState.READY: "active",
    TaskState.STARTED: "active",
    TaskState.WAITING: "active",
    TaskState.ERROR: "active",
    TaskState.FUTURE: "future",
    TaskState.LIKELY: "predicted",
    TaskState.MAYBE: "predicted",
    TaskState.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class StoredTask:
    """One stored task, decoded only as far as the path on the diagram needs."""

    id: str
    element_id: str | None  # None for SpiffWorkflow's own bookkeeping tasks (Start, End, boundary splits)
    state: str  # completed, active, future, predicted or cancelled
    parent_id: str | None


def stored_tasks(
    spec: Any, subprocess_specs: dict[str, Any], state: dict, rows: Iterable[tuple[str, str, int, str]]
) -> list[StoredTask]:
    """Decode task rows (id, workflow id, state, body) in creation order, without building the workflow."""
    headers = state.get("subprocesses", {}) if isinstance(state, dict) else {}
    decoded = []
    for task_id, workflow_id, task_state, body in rows:
        wf_spec = spec if not workflow_id else subprocess_specs.get(headers.get(workflow_id, {}).get("spec"))
        dct = json.loads(body)
        task_spec = wf_spec.task_specs.get(dct.get("task_spec")) if wf_spec is not None else None
        decoded.append(
            StoredTask(
                id=task_id,
                element_id=getattr(task_spec, "bpmn_id", None),
                state=_STATE_WORDS.get(task_state, "predicted"),
                parent_id=dct.get("parent"),
            )
        )
    return decoded


# --- hand-on operations: drafts, the path of a case, going back -----------------------------------

# A draft's field names, kept in the task's internal data (not passed on to the tasks after it).
_DRAFT_FIELDS = "govflow_draft_fields"


def update_task_data(workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
    """Store values on a waiting user task without running it (a delegate's draft for the owner)."""
    task = _task(workflow, task_id)
    if task.state != TaskState.READY or not task.task_spec.manual:
        raise RuleBroken(f"Task {task_id} is not waiting for a person.", code="task_not_waiting")
    task.data.update(copy.deepcopy(data))
    task.internal_data[_DRAFT_FIELDS] = sorted(set(task.internal_data.get(_DRAFT_FIELDS, [])) | set(data))


def task_draft(workflow: BpmnWorkflow, task_id: str) -> dict:
    """The values stored on a waiting task by `update_task_data`."""
    task = _task(workflow, task_id)
    fields = task.internal_data.get(_DRAFT_FIELDS, [])
    return {key: copy.deepcopy(task.data[key]) for key in fields if key in task.data}


def stored_task_draft(body: str) -> dict:
    """The draft of a waiting task read from its stored row, without restoring the workflow.

    The row keeps the task's data as changes to its parent's: a draft value equal to what the task
    received is not among them (the process variables show it already).
    """
    dct = json.loads(body)
    fields = (dct.get("internal_data") or {}).get(_DRAFT_FIELDS) or []
    updates = REGISTRY.restore((dct.get("delta") or {}).get("updates") or {})
    return {key: updates[key] for key in fields if isinstance(updates, dict) and key in updates}


def path_to(workflow: BpmnWorkflow, task_id: str) -> list[str]:
    """The ids of the tasks that led to `task_id`, nearest first, through the tasks owning its subprocesses."""
    path: list[str] = []
    current = _task(workflow, task_id)
    while current is not None:
        parent = current.parent
        if parent is None:
            owner = getattr(current.workflow, "parent_task_id", None)
            parent = workflow.get_task_from_id(owner) if owner is not None else None
        if parent is not None:
            path.append(str(parent.id))
        current = parent
    return path


def followers(workflow: BpmnWorkflow, task_id: str) -> set[str]:
    """The ids of every task that came or will come after `task_id`, inside subprocesses too."""
    start = _task(workflow, task_id)
    found: set[str] = set()
    branches = [start]
    while branches:
        for task in branches.pop():  # the branch's first task and everything below it
            found.add(str(task.id))
            subprocess = workflow.subprocesses.get(task.id)
            if subprocess is not None:
                branches.append(subprocess.task_tree)
    found.discard(str(start.id))
    return found


def is_completed_user_task(workflow: BpmnWorkflow, task_id: str) -> bool:
    """Whether `task_id` is a user task of the case that a person completed and that is still on its path."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return False
    return task.state == TaskState.COMPLETED and bool(task.task_spec.manual)


def reset_to(workflow: BpmnWorkflow, task_id: str) -> list[str]:
    """Go back to a completed user task: everything after it is dropped and it waits for a person again.

    SpiffWorkflow keeps the task's id; the task starts over with the data it first received. Returns the
    ids of the tasks that were dropped.
    """
    if not is_completed_user_task(workflow, task_id):
        raise RuleBroken(f"Task {task_id} is not a completed step of this case.", code="not_completed_step")
    try:
        dropped = workflow.reset_from_task_id(UUID(task_id))
    except SpiffWorkflowException as exc:
        raise RuleBroken(f"The case cannot go back to task {task_id}: {exc}", code="cannot_go_back") from exc
    return [str(t.id) for t in dropped]
