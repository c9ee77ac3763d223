"""Errors raised while SpiffWorkflow runs a case, turned into failures that name the element, and retried.

A step can fail in two places. A task's own work (a script, a decision) fails while it runs: the library
puts the task in ERROR and a retry runs it again. But the library also does work for the following
elements the moment a task completes: a multi-instance element reads its collection and creates its
instances while it is being *reached*, still FUTURE. An error there used to escape from
`complete_user_task` (a 500 for the official, a case nobody could move) or leave the element FUTURE,
with nothing for a retry to run again. Here that element is put in ERROR too, marked so that a retry
reaches it again (with the fixed variables) instead of running it.

Errors from a library call outside `run_engine` (completing a user task, delivering a message) are held
on the workflow and reported by the `run_engine` that every command calls next, so the command commits
what the official did and the case fails at the element, as when the error happens inside the run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import GovflowError
from engine.spiff.elements import element_of

_HELD = "_govflow_failure"  # workflow attribute: a failure met outside run_engine, reported by it
_REACH_AGAIN = "govflow_failed_when_reached"  # task internal data: retry by reaching the task again


@dataclass(frozen=True)
class Failure:
    """Why an instance stopped: the element, the script line and the message."""

    element_id: str | None
    element_name: str | None
    line: int | None
    message: str

    def as_dict(self) -> dict:
        return {
            "element_id": self.element_id,
            "element_name": self.element_name,
            "line": self.line,
            "message": self.message,
        }


def failure_from(exc: BaseException, workflow: Any) -> Failure:
    """The failure for an error raised while the workflow ran; the element it names is left in ERROR."""
    task = getattr(exc, "task", None) or _task_in_traceback(exc)
    if task is None:
        task = next(iter(workflow.get_tasks(state=TaskState.ERROR)), None)
    elif not task.has_state(TaskState.FINISHED_MASK):
        task.internal_data[_REACH_AGAIN] = True
        task._set_state(TaskState.ERROR)
    element_id, name = element_of(task) if task is not None else (None, None)
    line = getattr(exc, "line_number", None) or None
    if isinstance(exc, SpiffWorkflowException):
        # str() of a library error is its message, ". " and its notes joined by ". "
        message = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else "") or exc.__class__.__name__
        notes = [str(n).strip() for n in getattr(exc, "notes", None) or [] if str(n).strip() not in message]
        if notes:
            message = f"{message} ({'; '.join(notes)})"
    else:
        # A library error with no sentence of its own (a TypeError deep in SpiffWorkflow): say where it
        # happened and what Python said, so that an admin can fix the data and retry.
        where = f"“{name or element_id}”" if element_id else "a step of the process"
        detail = str(exc).strip() or exc.__class__.__name__
        message = f"The engine could not run {where}: {exc.__class__.__name__}: {detail}"
    return Failure(
        element_id,
        name,
        int(line) if isinstance(line, int | str) and str(line).isdigit() else None,
        str(message).strip(),
    )


def _task_in_traceback(exc: BaseException) -> Task | None:
    """The SpiffWorkflow task the library was working on when `exc` was raised (innermost frame first)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for name in ("my_task", "task", "self"):
            candidate = frame.f_locals.get(name)
            if isinstance(candidate, Task) and getattr(candidate.task_spec, "bpmn_id", None):
                return candidate
    return None


def hold_failures(workflow: Any, action: Callable[[], None]) -> None:
    """Run a library call that may go on into the following elements; hold what fails for `take_held`.

    govflow's own errors (a refused value, a task that is not waiting) still reach the caller: the
    command is refused and nothing is written.
    """
    try:
        action()
    except GovflowError:
        raise
    except Exception as exc:  # noqa: BLE001 - a library error must become an incident, not a crash
        hold(workflow, exc)


def hold(workflow: Any, exc: BaseException) -> None:
    """Keep the failure for `exc` until the next `take_held` (the start of the next engine run)."""
    workflow.__dict__[_HELD] = failure_from(exc, workflow)


def take_held(workflow: Any) -> Failure | None:
    return workflow.__dict__.pop(_HELD, None)


def retry_failed(workflow: Any, variables: dict | None) -> list[str]:
    """Put failed tasks back (with their input data, plus fixes) so the next run retries them."""
    retried = []
    for task in workflow.get_tasks(state=TaskState.ERROR):
        retried.append(element_of(task)[0] or "")
        if task.internal_data.pop(_REACH_AGAIN, False) and task.parent is not None:
            task._set_state(TaskState.FUTURE)
            with _seen_with(task.parent, variables):
                hold_failures(workflow, lambda task=task: task.task_spec._update(task))
            continue
        task.data = copy.deepcopy(task.parent.data) if task.parent is not None else dict(task.data)
        if variables:
            task.data.update(copy.deepcopy(variables))
        task._set_state(TaskState.READY)
    return retried


@contextmanager
def _seen_with(parent: Task, variables: dict | None) -> Iterator[None]:
    """The task before a failed one, showing `variables` to it while it is reached again, then as it was.

    A task reached again copies its data from the task before; that one is finished and its stored row
    never changes, so the fixed values are lent to it for the moment the failed task copies them.
    """
    if not variables:
        yield
        return
    kept = parent.data
    parent.data = copy.deepcopy(kept) | copy.deepcopy(variables)
    try:
        yield
    finally:
        parent.data = kept
