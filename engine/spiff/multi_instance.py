"""Multi-instance elements that have nothing sound to loop over fail naming the element, not deep in the library.

SpiffWorkflow 3.2 says "Missing data input" for a sequential multi-instance without its collection (not
which), but a parallel one missing
its collection raises a bare `TypeError: 'NoneType' object is not iterable`, and a loop cardinality that
is not a whole number (`"3"`, `-1`, `2.5`) a bare TypeError or nothing at all; a cardinality of a billion
would create a billion task objects in one command. Here each is a `WorkflowDataException` on the
element's task, which the engine turns into a failed instance naming the element (engine/spiff/runtime.py).

Also fixed: a sequential multi-instance without an output collection merges each instance's data back,
its input item included, and then refuses the next instance because that item "already exists": it
stopped after one round. The items of the instance before are dropped before the next one is created,
which leaves the same data at the end as the parallel form (the last instance's items).

And `init_data_output_with_cardinality` misspells its variable (`data_ouput`), so a cardinality
loop whose output collection already exists raised a NameError.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, MutableSequence
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    MultiInstanceTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)

MAX_INSTANCES = 10_000  # instances one multi-instance element may run: each is a task row of its own


def check_cardinality(spec: MultiInstanceTask, my_task: Any, count: Any) -> None:
    """Refuse a loop cardinality that is not a whole number from 0 to MAX_INSTANCES."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise WorkflowDataException(
            f"The loop cardinality '{spec.cardinality}' gave {_show(count)}; it must be a whole number, 0 or more.",
            my_task,
        )
    if count > MAX_INSTANCES:
        raise WorkflowDataException(
            f"The loop cardinality '{spec.cardinality}' gave {count:,}; "
            f"an element may run at most {MAX_INSTANCES:,} times.",
            my_task,
        )


def check_collection(spec: MultiInstanceTask, my_task: Any) -> None:
    """Refuse a missing input collection, or one that is not a list or a map."""
    data_input = spec.data_input
    exists = getattr(data_input, "exists", None)
    if exists is not None and not exists(my_task):
        raise WorkflowDataException(
            f"The collection '{data_input.bpmn_id}' that this element runs once per item of is missing "
            "from the process data.",
            my_task,
            data_input=data_input,
        )
    value = data_input.get(my_task)
    if not isinstance(value, Iterable):
        raise WorkflowDataException(
            f"The collection '{data_input.bpmn_id}' that this element runs once per item of is "
            f"{_show(value)}, not a list or a map.",
            my_task,
            data_input=data_input,
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_parallel_create_children = ParallelMultiInstanceTask.create_children
_sequential_remaining_items = SequentialMultiInstanceTask.init_remaining_items
_sequential_next_index = SequentialMultiInstanceTask.get_next_index
_sequential_add_next_child = SequentialMultiInstanceTask.add_next_child


def _create_children(self: ParallelMultiInstanceTask, my_task: Any) -> None:
    if self.data_input is not None:
        check_collection(self, my_task)
    else:
        check_cardinality(self, my_task, my_task.workflow.script_engine.evaluate(my_task, self.cardinality))
    _parallel_create_children(self, my_task)


def _init_remaining_items(self: SequentialMultiInstanceTask, my_task: Any) -> list:
    check_collection(self, my_task)
    return _sequential_remaining_items(self, my_task)


def _get_next_index(self: SequentialMultiInstanceTask, my_task: Any) -> tuple[Any, Any]:
    check_cardinality(self, my_task, my_task.internal_data.get("cardinality"))
    return _sequential_next_index(self, my_task)


def _add_next_child(self: SequentialMultiInstanceTask, my_task: Any) -> None:
    if self.data_output is None or self.output_item is None:  # else instances are collected, not merged
        for item in (self.input_item, self.output_item):
            if item is not None and my_task.internal_data.get("merged"):
                my_task.data.pop(item.bpmn_id, None)
    _sequential_add_next_child(self, my_task)


def _init_data_output_with_cardinality(self: MultiInstanceTask, my_task: Any) -> None:
    """The library's method with its variable spelled right."""
    if not self.data_output.exists(my_task):
        self.data_output.set(my_task, [])
    else:
        data_output = self.data_output.get(my_task)
        if not isinstance(data_output, MutableMapping | MutableSequence):
            self.raise_data_exception("Only a mutable map (dict) or sequence (list) can be used for output", my_task)
        if not isinstance(data_output, MutableMapping) and len(data_output) > 0:
            self.raise_data_exception(
                "If loop cardinality is specificied, the output must be a map (dict) or empty sequence (list)",
                my_task,
            )


def apply() -> None:
    ParallelMultiInstanceTask.create_children = _create_children
    SequentialMultiInstanceTask.init_remaining_items = _init_remaining_items
    SequentialMultiInstanceTask.get_next_index = _get_next_index
    SequentialMultiInstanceTask.add_next_child = _add_next_child
    MultiInstanceTask.init_data_output_with_cardinality = _init_data_output_with_cardinality
