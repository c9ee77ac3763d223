"""An index of each workflow's unfinished tasks, so that a step does not walk the whole history.

SpiffWorkflow 3.2 answers `get_tasks(state=READY)`, `is_completed()`, `update_waiting_tasks()`,
`manual_input_required()` and `cancel()` by walking the task tree from the root through every finished
task, several times per engine step: a command on an instance with a long history (a review repeated
every week) costs O(history). Here every workflow keeps, beside its task dict:

- `unfinished`: the tasks that were unfinished when their state last changed (pruned lazily), so a query
  for unfinished states looks only at those (and at the unfinished tasks of the subprocesses they run);
- `changed` / `removed`: the tasks created, changed in state or removed since the last save, so a save
  writes them without scanning every task (engine/spiff/serialization.py).

Results come in creation order rather than depth-first tree order. Both orders agree along one path;
they differ only among tasks of parallel branches, whose order BPMN leaves open. Queries the index
cannot answer exactly (finished states, a start task, an end spec, breadth-first) walk the tree as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

NOT_FINISHED = TaskState.NOT_FINISHED_MASK
# Arguments of get_tasks() the index can answer; anything else falls back to the tree walk.
_INDEXED_ARGUMENTS = frozenset(
    {"state", "manual", "spec_name", "spec_class", "lane", "catches_event", "updated_ts", "skip_subprocesses"}
)


class TaskIndex:
    __slots__ = ("unfinished", "changed", "removed", "next_seq", "ordered", "tasks_seen")

    def __init__(self) -> None:
        self.unfinished: dict[UUID, Task] = {}
        self.changed: set[UUID] = set()
        self.removed: set[UUID] = set()
        self.next_seq = 0
        # `unfinished` pruned and in creation order, until a task is created, changes state or is removed:
        # an engine step asks several times between two such changes.
        self.ordered: list[Task] | None = None
        self.tasks_seen: dict | None = None  # the workflow's task dict `ordered` was pruned against

    def forget_changes(self) -> None:
        """After a save (or a restore): what the database holds is what the workflow holds."""
        self.changed.clear()
        self.removed.clear()


def index_of(workflow: Any) -> TaskIndex:
    index = workflow.__dict__.get("_govflow_index")
    if index is None:
        index = workflow.__dict__["_govflow_index"] = TaskIndex()
    return index


def unfinished_tasks(workflow: Any, with_subprocesses: bool = False) -> list[Task]:
    """The workflow's unfinished tasks in creation order (and those of subprocesses they run)."""
    index = index_of(workflow)
    found = index.ordered
    if found is None or workflow.tasks is not index.tasks_seen:
        found = index.ordered = _pruned(index, workflow.tasks)
    if not with_subprocesses:
        return list(found)
    subprocesses = workflow.top_workflow.subprocesses
    result: list[Task] = []
    for task in found:
        result.append(task)
        subprocess = subprocesses.get(task.id)
        if subprocess is not None:
            result.extend(unfinished_tasks(subprocess, with_subprocesses=True))
    return result


def _pruned(index: TaskIndex, tasks: dict) -> list[Task]:
    """Drop the tasks finished or gone from the workflow since they were indexed; the rest in creation order."""
    stale = [
        task_id
        for task_id, task in index.unfinished.items()
        if not task._state & NOT_FINISHED or tasks.get(task_id) is not task
    ]
    for task_id in stale:
        del index.unfinished[task_id]
    index.tasks_seen = tasks
    return sorted(index.unfinished.values(), key=_creation_order)


def _creation_order(task: Task) -> int:
    return task.__dict__.get("_govflow_seq", 0)


# --- the hooks that keep the index -------------------------------------------------------------------

_task_init = Task.__init__
_task_set_state = Task._set_state
_workflow_remove_task = Workflow._remove_task


def _init(self: Task, *args: Any, **kwargs: Any) -> None:
    _task_init(self, *args, **kwargs)
    index = index_of(self.workflow)
    self._govflow_seq = index.next_seq
    index.next_seq += 1
    index.changed.add(self.id)
    index.ordered = None
    if self._state & NOT_FINISHED:
        index.unfinished[self.id] = self


def _set_state(self: Task, value: int) -> None:
    before = self._state
    _task_set_state(self, value)
    if self._state != before:
        index = index_of(self.workflow)
        index.changed.add(self.id)
        index.ordered = None
        if self._state & NOT_FINISHED:
            index.unfinished[self.id] = self


def _remove_task(self: Workflow, task_id: UUID) -> None:
    parent_id = self.tasks[task_id]._parent
    _workflow_remove_task(self, task_id)
    index = index_of(self)
    index.removed.add(task_id)
    index.changed.discard(task_id)
    index.unfinished.pop(task_id, None)
    index.ordered = None
    if parent_id in self.tasks:
        index.changed.add(parent_id)  # its stored list of children changed


# --- the queries answered from the index ---------------------------------------------------------------


def _indexable(first_task: Any, workflow: Any, kwargs: dict) -> bool:
    if first_task is not None and first_task is not workflow.task_tree:
        return False
    if not kwargs.keys() <= _INDEXED_ARGUMENTS:
        return False
    state = kwargs.get("state")
    return isinstance(state, int) and state != 0 and not state & ~NOT_FINISHED


def _get_tasks_iterator(self: Any, first_task: Task | None = None, **kwargs: Any) -> Iterator[Task]:
    if not _indexable(first_task, self, kwargs):
        return BpmnTaskIterator(first_task or self.task_tree, **kwargs)
    skip_subprocesses = kwargs.pop("skip_subprocesses", False)
    task_filter = BpmnTaskIterator(self.task_tree, **kwargs).task_filter
    candidates = unfinished_tasks(self, with_subprocesses=not skip_subprocesses)
    return iter([task for task in candidates if task_filter.matches(task)])


def _is_completed(self: Workflow) -> bool:
    if not self.completed and not unfinished_tasks(self):
        self.completed = True
    return self.completed


def _manual_input_required(self: Workflow) -> bool:
    return not any(t._state == TaskState.READY and not t.task_spec.manual for t in unfinished_tasks(self))


def _update_waiting_tasks(self: Workflow) -> None:
    for task in [t for t in unfinished_tasks(self) if t._state == TaskState.WAITING]:
        if task._state == TaskState.WAITING:  # an earlier update may have moved it on
            task.task_spec._update(task)


def _cancel(self: Workflow, success: bool = False) -> list[Task]:
    self.success = success
    self.completed = True
    cancelled = unfinished_tasks(self)
    for task in cancelled:
        task.cancel()
    return cancelled


def apply() -> None:
    if getattr(Task, "_govflow_indexed", False):
        return
    Task.__init__ = _init
    Task._set_state = _set_state
    Workflow._remove_task = _remove_task
    Workflow.is_completed = _is_completed
    Workflow.manual_input_required = _manual_input_required
    Workflow.update_waiting_tasks = _update_waiting_tasks
    Workflow.cancel = _cancel
    BpmnBaseWorkflow.get_tasks_iterator = _get_tasks_iterator
    Task._govflow_indexed = True
