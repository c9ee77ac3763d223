"""Fixes to SpiffWorkflow 3.2 behaviour that govflow depends on, applied once on import.

The task iterators stop descending at depth 1,000 by default: a loop of more than ~500 rounds makes
`is_completed()` true and hides READY tasks below that depth, so the instance silently "ends". The
iterators are not recursive, so an unbounded depth costs nothing but the walk itself.

The walks themselves are avoided where they can be: engine/spiff/task_index.py answers the queries for
unfinished tasks from an index, so a step's cost does not grow with the instance's history.
"""

from __future__ import annotations

import sys

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

from engine.spiff import task_index

LIBRARY_MAX_DEPTH = 1000


def _lift_depth_limit(cls: type) -> None:
    init = cls.__init__
    defaults = init.__defaults__ or ()
    if LIBRARY_MAX_DEPTH not in defaults:
        return  # already lifted, or the library changed: tests/test_long_loops.py will tell
    init.__defaults__ = tuple(sys.maxsize if d == LIBRARY_MAX_DEPTH else d for d in defaults)


def apply() -> None:
    _lift_depth_limit(TaskIterator)
    _lift_depth_limit(BpmnTaskIterator)
    task_index.apply()


apply()
