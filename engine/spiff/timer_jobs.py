"""Waiting timers of a live workflow: when each is due, and firing one now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine.errors import NotFound
from engine.spiff.runtime import element_of


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    element_id: str
    due_at: datetime | None


def _timer_task(workflow: Any, task_id: str) -> Any:
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except Exception as exc:  # noqa: BLE001 - unknown or malformed id
        raise NotFound(f"There is no waiting timer {task_id} in this instance.") from exc
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition) or not task.has_state(TaskState.WAITING):
        raise NotFound(f"There is no waiting timer {task_id} in this instance.")
    return task


def _due(task: Any) -> datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # a cycle: the next occurrence
        value = value.get("next") if value.get("cycles") != 0 else None
    if not value:
        return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except (TypeError, ValueError):
        return None


def waiting_timers(workflow: Any) -> list[WaitingTimer]:
    """Every timer the workflow waits on, with its due time once SpiffWorkflow has computed it."""
    timers = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            timers.append(WaitingTimer(str(task.id), element_of(task)[0] or "", _due(task)))
    return timers


def fire_now(workflow: Any, task_id: str) -> WaitingTimer:
    """Make a waiting timer due now and let SpiffWorkflow notice; the caller runs the engine after."""
    task = _timer_task(workflow, task_id)
    before = WaitingTimer(str(task.id), element_of(task)[0] or "", _due(task))
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
        value = task._get_internal_data("event_value")
        if isinstance(value, dict):
            value["next"] = past
    else:
        task._set_internal_data(event_value=past)
    workflow.refresh_timers()
    return before
