"""The path an instance took through its diagram, from its stored tasks and the definition's flows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from engine.spiff import runtime


def diagram_path(tasks: list[runtime.StoredTask], sequence_flows: list[list[str]]) -> dict:
    """Completed and active elements, and the flows taken: a flow counts when its source's task completed
    and a task of its target hangs below it (through SpiffWorkflow's own bookkeeping tasks, if any)."""
    by_id = {t.id: t for t in tasks}
    flow_between: dict[tuple[str, str], str] = {}
    for flow_id, source, target in sequence_flows:
        flow_between.setdefault((source, target), flow_id)
    completed: dict[str, None] = {}  # dicts as ordered sets: first visit first
    active: dict[str, None] = {}
    flows: dict[str, None] = {}
    visits: Counter[str] = Counter()
    for task in tasks:
        if task.element_id is None:
            continue
        if task.state == "completed":
            completed[task.element_id] = None
        elif task.state == "active":
            active[task.element_id] = None
        if task.state in ("completed", "active"):
            visits[task.element_id] += 1
        # A task withdrawn after it was reached (by an interrupting boundary event, a cancelled instance,
        # a branch arriving first at a join) still shows the flow into it; predictions do not.
        source = _shown_parent(task, by_id)
        if task.state != "predicted" and source is not None and source.state == "completed":
            flow = flow_between.get((source.element_id or "", task.element_id))
            if flow is not None:
                flows[flow] = None
    return {
        "completed": list(completed),
        "active": list(active),
        "flows": list(flows),
        "counts": {element: n for element, n in visits.items() if n > 1},
    }


# Audit actions that each mark one arrival at an element: a step created or reopened, a gateway passed.
ARRIVALS = frozenset({"task_created", "task_reopened", "gateway_taken"})


def with_recorded_visits(path: dict, arrived_at: Iterable[str | None]) -> dict:
    """The path with visit counts that survive a return: going back to a step drops SpiffWorkflow's tasks
    after it, so visits are also counted from the audit trail's arrivals (`arrived_at`: the element of
    each ARRIVALS event, in any order); the larger count of the two wins."""
    recorded = Counter(e for e in arrived_at if e)
    counts = dict(path["counts"])
    for element, n in recorded.items():
        if n > 1 and n > counts.get(element, 0):
            counts[element] = n
    return path | {"counts": counts}


def _shown_parent(task: runtime.StoredTask, by_id: dict[str, runtime.StoredTask]) -> runtime.StoredTask | None:
    """The nearest ancestor that is a BPMN element (skipping SpiffWorkflow's own tasks)."""
    parent = by_id.get(task.parent_id) if task.parent_id else None
    for _ in range(len(by_id)):
        if parent is None or parent.element_id is not None:
            return parent
        parent = by_id.get(parent.parent_id) if parent.parent_id else None
    return None
