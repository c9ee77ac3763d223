"""Naming SpiffWorkflow's tasks in govflow's words: the BPMN element a task stands for, waiting events."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def element_of(task: Any) -> tuple[str | None, str | None]:
    """The BPMN id and name of the element a task stands for."""
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    inner = getattr(spec, "task_spec", None)  # a loop or multi-instance: the name is on the element it repeats
    if name is None and isinstance(inner, str):
        name = getattr(spec._wf_spec.task_specs.get(inner), "bpmn_name", None)
    return getattr(spec, "bpmn_id", None) or spec.name, name


def waiting_event_tasks(workflow: Any) -> list[Any]:
    """The catch events the workflow waits on (timers, messages, event-based gateways).

    SpiffWorkflow keeps them in its event manager (rebuilt when a workflow is restored): reading it costs
    nothing, where walking the task tree grows with the case's history.
    """
    return [t for t in list(workflow.event_manager.tasks.values()) if t.has_state(TaskState.WAITING)]
