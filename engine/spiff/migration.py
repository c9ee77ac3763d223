"""Moving a running workflow onto a newer version of its process, with SpiffWorkflow 3.2's diff and migrate.

`plan` compares the workflow with the new specs (SpiffWorkflow.bpmn.util.diff: SpecDiff, WorkflowDiff) and
says whether the move is allowed: not when the case is at, or has passed, an element the new version
removes, nor when it is inside a subprocess the new version no longer has. `migrate` then does it with
`migrate_workflow`: tasks are pointed at the new specs and the waiting and ready branches are predicted
again. A task whose element did not change keeps its data and its timer's due time (SpiffWorkflow would
start both afresh); one whose element changed starts as the new version says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.spiff.elements import element_of
from engine.spiff.serialization import REGISTRY

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR
RESET = TaskState.READY | TaskState.WAITING  # what migrate_workflow predicts again


@dataclass(frozen=True)
class Obstacle:
    """Why a workflow cannot move: a code for the studio's catalogues, the element, an English sentence."""

    code: str
    element_id: str
    name: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "element_id": self.element_id, "name": self.name, "message": self.message}


@dataclass
class Plan:
    obstacles: list[Obstacle] = field(default_factory=list)
    active: list[str] = field(default_factory=list)  # element ids the case is at now
    changed_active: list[str] = field(default_factory=list)  # of those, the ones the new version changes

    @property
    def ok(self) -> bool:
        return not self.obstacles


def plan(workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict[str, Any]) -> Plan:
    """What moving `workflow` to `spec` would do, without changing it."""
    top, subprocesses = diff_workflow(REGISTRY, workflow, spec, subprocess_specs)
    result = Plan()
    _look_at(top, workflow, result)
    for subprocess_id, diff in subprocesses.items():
        subprocess = workflow.subprocesses[subprocess_id]
        if diff is None:
            owner = _find(workflow, subprocess_id)
            element, name = element_of(owner) if owner is not None else (subprocess.spec.name, None)
            result.obstacles.append(
                Obstacle(
                    "subprocess-removed",
                    element or "",
                    name or element or "",
                    f"The case is inside {name or element}, whose process '{subprocess.spec.name}' the new version "
                    "no longer has.",
                )
            )
            continue
        _look_at(diff, subprocess, result)
    return result


def _look_at(diff: WorkflowDiff, workflow: Any, result: Plan) -> None:
    for task in diff.removed:
        element, name = element_of(task)
        if not getattr(task.task_spec, "bpmn_id", None) or task.has_state(TaskState.PREDICTED_MASK):
            continue  # SpiffWorkflow's own helper specs, or a path not taken yet: predicted again
        label = name or element
        if task.has_state(ACTIVE):
            result.obstacles.append(
                Obstacle(
                    "active-removed",
                    element,
                    label,
                    f"The case is at {label}, which the new version removes.",
                )
            )
        elif task.has_state(FINISHED):
            result.obstacles.append(
                Obstacle(
                    "passed-removed",
                    element,
                    label,
                    f"The case has passed {label}, which the new version removes; its history would not fit.",
                )
            )
        elif task.parent is not None and task.parent.has_state(TaskState.STARTED):
            result.obstacles.append(
                Obstacle(
                    "next-removed",
                    element,
                    label,
                    f"The case goes on to {label} after a running subprocess, and the new version removes it.",
                )
            )
    changed = {task.id for task in diff.changed}
    for task in workflow.get_tasks(state=ACTIVE, skip_subprocesses=True):
        element, _name = element_of(task)
        if not getattr(task.task_spec, "bpmn_id", None) or element in result.active:
            continue
        result.active.append(element)
        if task.id in changed:
            result.changed_active.append(element)


def migrate(workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict[str, Any]) -> Plan:
    """Move the workflow onto the new specs in place; call only when `plan` found no obstacle."""
    result = plan(workflow, spec, subprocess_specs)
    if not result.ok:
        raise ValueError("the workflow cannot move: " + "; ".join(o.message for o in result.obstacles))
    top, subprocesses = diff_workflow(REGISTRY, workflow, spec, subprocess_specs)
    kept = _unchanged_waits(workflow, top)
    for subprocess_id, diff in subprocesses.items():
        kept |= _unchanged_waits(workflow.subprocesses[subprocess_id], diff)
    workflow.subprocess_specs = subprocess_specs
    migrate_workflow(top, workflow, spec)
    for subprocess_id, diff in subprocesses.items():
        subprocess = workflow.subprocesses[subprocess_id]
        migrate_workflow(diff, subprocess, subprocess_specs[subprocess.spec.name])
    for task_id, (data, internal) in kept.items():
        task = _find(workflow, task_id)
        if task is not None and task.has_state(RESET):
            task.data, task.internal_data = data, internal
    return result


def _unchanged_waits(workflow: Any, diff: WorkflowDiff) -> dict[Any, tuple[dict, dict]]:
    """Data and internal data (drafts, timers' due times) of ready and waiting tasks whose element did not change."""
    changed = {task.id for task in diff.changed}
    return {
        task.id: (dict(task.data), dict(task.internal_data))
        for task in workflow.get_tasks(state=RESET, skip_subprocesses=True)
        if task.id not in changed
    }


def _find(workflow: BpmnWorkflow, task_id: Any) -> Any:
    if task_id in workflow.tasks:
        return workflow.tasks[task_id]
    for subprocess in workflow.subprocesses.values():
        if task_id in subprocess.tasks:
            return subprocess.tasks[task_id]
    return None
