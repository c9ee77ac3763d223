"""What must hold in a govflow database whatever happened to it: the checks the fault and property suites share.

`problems(db_url)` reads the database with a fresh engine (nothing cached: every workflow is restored from its
rows, as a restarted server would) and returns a sentence per broken invariant, [] when all hold:

- every open human task is a READY user task of its case's workflow, and every READY user task has an open
  human task (the inbox and the engine agree);
- a case's status agrees with its workflow: a running or suspended case's workflow is not finished, a
  completed one's is, a cancelled or completed case has no open task, a failed case names its error;
- per task, the audit trail alternates: it opens (task_created or task_reopened), then closes once
  (task_completed or task_cancelled, or the case is cancelled); never completed twice without reopening;
  and the task's row says what its last event says;
- every audit chain verifies.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from engine import Engine
from engine.config import Settings
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.spiff import runtime

OPENS = {"task_created", "task_reopened"}
CLOSES = {"task_completed": "completed", "task_cancelled": "cancelled"}


def checker(db_url: str) -> Engine:
    """An engine that keeps no live workflow in memory: every look restores from the database's rows."""
    return Engine(Settings(database_url=db_url, password_profile="fast", live_cache_size=0))


def problems(db_url: str, engine: Engine | None = None) -> list[str]:
    """The broken invariants, read through `engine` (a `checker`; by default one made for this look)."""
    own = engine is None
    engine = engine or checker(db_url)
    try:
        found: list[str] = []
        with engine.reading() as session:
            instances = session.execute(select(ProcessInstance)).scalars().all()
            tasks = session.execute(select(HumanTask)).scalars().all()
            events = session.execute(
                select(AuditEvent).where(AuditEvent.stream != "system").order_by(AuditEvent.stream, AuditEvent.seq)
            ).scalars()
            by_instance: dict[str, list[HumanTask]] = defaultdict(list)
            for task in tasks:
                by_instance[task.instance_id].append(task)
            trail: dict[str, list[str]] = defaultdict(list)
            cancelled_cases = {i.id for i in instances if i.status == "cancelled"}
            for event in events:
                task_id = (event.data or {}).get("task_id") if isinstance(event.data, dict) else None
                if task_id and (event.action in OPENS or event.action in CLOSES):
                    trail[task_id].append(event.action)
            for instance in instances:
                found += _case_problems(engine, session, instance, by_instance[instance.id])
            for task in tasks:
                found += _trail_problems(task, trail.get(task.id, []), task.instance_id in cancelled_cases)
        verification = engine.verify_audit()
        if not verification.ok:
            found.append(f"the audit chains do not verify: {verification.broken}")
        return found
    finally:
        if own:
            engine.close()


def _case_problems(engine: Engine, session, instance: ProcessInstance, tasks: list[HumanTask]) -> list[str]:  # noqa: ANN001
    found = []
    case = f"case {instance.id} ({instance.status})"
    workflow = engine.store.load(session, instance).workflow
    ready = {t.id for t in runtime.ready_user_tasks(workflow)}
    open_rows = {t.id for t in tasks if t.status == "open"}
    finished = runtime.status_of(workflow) == "completed"
    if instance.status in ("completed", "cancelled"):
        if open_rows:
            found.append(f"{case} has open tasks {sorted(open_rows)}")
        if instance.status == "completed" and not finished:
            found.append(f"{case}: its workflow has not finished")
        return found
    if open_rows != ready:
        found.append(
            f"{case}: open human tasks {sorted(open_rows - ready)} are not READY in the workflow and READY user "
            f"tasks {sorted(ready - open_rows)} have no open human task"
        )
    if instance.status in ("running", "suspended") and finished:
        found.append(f"{case}: its workflow has finished")
    if instance.status == "failed" and not instance.error:
        found.append(f"{case} names no error")
    return found


def _trail_problems(task: HumanTask, trail: list[str], case_cancelled: bool) -> list[str]:
    where = f"task {task.id} ({task.element_id}, {task.status})"
    state = None
    for action in trail:
        if action in OPENS:
            if state == "open":
                return [f"{where} opened twice without closing: {trail}"]
            state = "open"
        else:
            if state != "open":
                return [f"{where} closed ({action}) while not open: {trail}"]
            state = CLOSES[action]
    if state is None:
        return [f"{where} has no audit event opening it"]
    if state == "open" and task.status == "cancelled" and case_cancelled:
        return []  # cancelling a case closes its tasks without an event per task
    if state != task.status:
        return [f"{where}: its last audit event says {state}: {trail}"]
    return []
