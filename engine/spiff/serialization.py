"""SpiffWorkflow state <-> storage: specs once per hash, workflows as a small state dict plus task rows.

SpiffWorkflow's own serializer writes the whole workflow (spec included) as one document, so a
command's cost grows with the instance's history. Here the spec is stored once per deployment and the
workflow is split: workflow-level attributes (data, correlations, subprocess headers) in one dict, and
one row per task. A `TaskLedger` remembers what was persisted so a save writes only new and changed
tasks and deletes removed ones; finished tasks that did not change are never rewritten.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.spiff.task_index import index_of

REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
SERIALIZER = BpmnWorkflowSerializer(REGISTRY)
_ENCODER = SERIALIZER._encoder_cls
TOP = ""  # workflow_id of the top-level workflow's tasks


def _dumps(obj: Any) -> str:
    REGISTRY._encoder_mode = True
    try:
        return json.dumps(obj, cls=_ENCODER, ensure_ascii=False, separators=(",", ":"))
    finally:
        REGISTRY._encoder_mode = False


# --- specs ---------------------------------------------------------------------------------------


def spec_to_json(spec: Any, subprocess_specs: dict[str, Any]) -> bytes:
    dct = {
        "spec": REGISTRY.convert(spec),
        "subprocess_specs": {name: REGISTRY.convert(sp) for name, sp in subprocess_specs.items()},
    }
    return json.dumps(dct, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def spec_from_json(blob: bytes) -> tuple[Any, dict[str, Any]]:
    dct = json.loads(blob)
    spec = REGISTRY.restore(dct["spec"])
    subprocess_specs = {name: REGISTRY.restore(sp) for name, sp in dct["subprocess_specs"].items()}
    return spec, subprocess_specs


# --- workflows -----------------------------------------------------------------------------------


@dataclass
class TaskRow:
    """One task as stored: which workflow it belongs to, its creation order, state and serialized body."""

    id: str
    workflow_id: str
    seq: int
    state: int
    body: str


@dataclass
class TaskChanges:
    inserted: list[TaskRow] = field(default_factory=list)
    updated: list[TaskRow] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class TaskLedger:
    """What is in the database for one instance's tasks, to compute the next save's changes."""

    seq_by_id: dict[UUID, int] = field(default_factory=dict)
    # Bodies of unfinished tasks only: they can change data without changing state.
    open_bodies: dict[UUID, str] = field(default_factory=dict)
    next_seq: int = 0
    mark: float = 0.0
    # The workflows (top "" and subprocess ids) the ledger's rows belong to; None: not known yet, scan.
    workflow_ids: set[str] | None = None


def _task_body(task: Any) -> str:
    return _dumps(REGISTRY.convert(task))


def _workflow_header(workflow: Any) -> dict:
    return {
        "data": REGISTRY.convert(REGISTRY.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "root": str(workflow.task_tree.id),
    }


def workflow_state(workflow: BpmnWorkflow) -> dict:
    """The workflow-level state without spec and tasks; JSON-safe."""
    top = _workflow_header(workflow)
    top["bpmn_events"] = REGISTRY.convert(workflow.bpmn_events)
    subprocesses = {}
    for sp_id, sp in workflow.subprocesses.items():
        header = _workflow_header(sp)
        header["parent_task_id"] = str(sp.parent_task_id)
        header["spec"] = sp.spec.name
        subprocesses[str(sp_id)] = header
    return json.loads(_dumps({"workflow": top, "subprocesses": subprocesses}))


def _all_workflows(workflow: BpmnWorkflow) -> list[tuple[str, Any]]:
    return [(TOP, workflow)] + [(str(sp_id), sp) for sp_id, sp in workflow.subprocesses.items()]


def collect_changes(workflow: BpmnWorkflow, ledger: TaskLedger) -> TaskChanges:
    """Tasks to insert, update and delete since the ledger's last save; updates the ledger.

    The task index (engine/spiff/task_index.py) names the tasks created, changed in state or removed since
    the last save; with the open tasks (whose data can change without their state), those are all a save
    must look at. When a subprocess appeared or went, every task is looked at, as before the index.
    """
    workflows = _all_workflows(workflow)
    if ledger.workflow_ids is not None and ledger.workflow_ids == {wid for wid, _ in workflows}:
        changes = _indexed_changes(workflows, ledger)
    else:
        changes = _scanned_changes(workflows, ledger)
    ledger.workflow_ids = {wid for wid, _ in workflows}
    for _wid, wf in workflows:
        index_of(wf).forget_changes()
    ledger.mark = time.time()
    return changes


def _indexed_changes(workflows: list[tuple[str, Any]], ledger: TaskLedger) -> TaskChanges:
    changes = TaskChanges()
    for workflow_id, wf in workflows:
        index = index_of(wf)
        look_at = index.changed | (ledger.open_bodies.keys() & wf.tasks.keys())
        # A task can leave the tree without _remove_task (SpiffWorkflow pops some directly): gone is gone.
        gone = index.removed | {task_id for task_id in look_at if task_id not in wf.tasks}
        for task_id in gone:
            if ledger.seq_by_id.pop(task_id, None) is not None:
                ledger.open_bodies.pop(task_id, None)
                changes.deleted.append(str(task_id))
        present = [wf.tasks[task_id] for task_id in look_at if task_id in wf.tasks]
        for task in sorted(present, key=lambda t: t.__dict__.get("_govflow_seq", 0)):
            _note_task(workflow_id, task.id, task, ledger, changes)
    return changes


def _scanned_changes(workflows: list[tuple[str, Any]], ledger: TaskLedger) -> TaskChanges:
    changes = TaskChanges()
    seen: set[UUID] = set()
    for workflow_id, wf in workflows:
        for task_id, task in wf.tasks.items():
            seen.add(task_id)
            if (
                task_id in ledger.seq_by_id
                and task.last_state_change < ledger.mark
                and task.has_state(TaskState.FINISHED_MASK)
            ):
                continue
            _note_task(workflow_id, task_id, task, ledger, changes)
    for task_id in [t for t in ledger.seq_by_id if t not in seen]:
        del ledger.seq_by_id[task_id]
        ledger.open_bodies.pop(task_id, None)
        changes.deleted.append(str(task_id))
    return changes


def _note_task(workflow_id: str, task_id: UUID, task: Any, ledger: TaskLedger, changes: TaskChanges) -> None:
    """Record one task as inserted or updated (when its body differs from what was saved)."""
    finished = task.has_state(TaskState.FINISHED_MASK)
    seq = ledger.seq_by_id.get(task_id)
    body = _task_body(task)
    if seq is None:
        seq = ledger.next_seq
        ledger.next_seq += 1
        ledger.seq_by_id[task_id] = seq
        changes.inserted.append(TaskRow(str(task_id), workflow_id, seq, task.state, body))
    elif ledger.open_bodies.get(task_id) == body:
        return
    else:
        changes.updated.append(TaskRow(str(task_id), workflow_id, seq, task.state, body))
    if finished:
        ledger.open_bodies.pop(task_id, None)
    else:
        ledger.open_bodies[task_id] = body


def restore_workflow(
    spec: Any,
    subprocess_specs: dict[str, Any],
    state: dict,
    rows: list[TaskRow],
    script_engine: Any,
) -> tuple[BpmnWorkflow, TaskLedger]:
    """Rebuild a live workflow from its state dict and task rows (any order; sorted by seq here)."""
    rows = sorted(rows, key=lambda r: r.seq)
    by_workflow: dict[str, list[TaskRow]] = {}
    for row in rows:
        by_workflow.setdefault(row.workflow_id, []).append(row)

    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
    _restore_tasks(workflow, by_workflow.get(TOP, []))
    top = dict(state["workflow"])
    workflow.task_tree = workflow.tasks[UUID(top["root"])]
    _restore_header(workflow, top)
    workflow.bpmn_events = REGISTRY.restore(top.get("bpmn_events", []))
    _restore_subprocesses(workflow, workflow, dict(state.get("subprocesses", {})), by_workflow)

    ledger = TaskLedger(next_seq=(rows[-1].seq + 1) if rows else 0, mark=time.time())
    ledger.workflow_ids = {workflow_id for workflow_id, _ in _all_workflows(workflow)}
    for _workflow_id, wf in _all_workflows(workflow):
        index_of(wf).forget_changes()
    for row in rows:
        task_id = UUID(row.id)
        ledger.seq_by_id[task_id] = row.seq
        if not row.state & TaskState.FINISHED_MASK:
            ledger.open_bodies[task_id] = row.body
    return workflow, ledger


def new_ledger() -> TaskLedger:
    return TaskLedger(mark=time.time())


def _restore_tasks(workflow: Any, rows: list[TaskRow]) -> None:
    workflow.tasks = {}
    for row in rows:
        # The Task constructor registers the task in workflow.tasks, so parents (earlier seq) are
        # found when a child's data delta is applied.
        REGISTRY.restore(json.loads(row.body), workflow=workflow)


def _restore_header(workflow: Any, header: dict) -> None:
    # Mirrors SpiffWorkflow's WorkflowConverter.set_default_attributes.
    workflow.success = header["success"]
    workflow.completed = header.get("completed", False)
    workflow.correlations = header.get("correlations", {})
    last_task = header.get("last_task")
    workflow.last_task = workflow.tasks.get(UUID(last_task)) if isinstance(last_task, str) else None
    workflow.data = REGISTRY.restore(header.get("data", {}))


def _restore_subprocesses(
    top: BpmnWorkflow, parent: Any, headers: dict[str, dict], by_workflow: dict[str, list[TaskRow]]
) -> None:
    for task in list(parent.tasks.values()):
        header = headers.pop(str(task.id), None)
        if header is None or not isinstance(task.task_spec, SubWorkflowTask):
            continue
        sp_spec = top.subprocess_specs.get(task.task_spec.spec)
        subprocess = BpmnSubWorkflow(sp_spec, task.id, top, deserializing=True)
        _restore_tasks(subprocess, by_workflow.get(str(task.id), []))
        subprocess.task_tree = subprocess.tasks[UUID(header["root"])]
        _restore_header(subprocess, dict(header))
        top.subprocesses[task.id] = subprocess
        subprocess.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
        _restore_subprocesses(top, subprocess, headers, by_workflow)
