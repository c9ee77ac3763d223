"""What an instance waits on, kept in step with its workflow inside the command's own transaction.

After every run (`InstanceCommands._advance`) the engine writes:
- one `job` row per waiting timer (id = the timer's task id), due when the timer is; a row whose timer
  is gone is deleted, one whose due time moved (the next round of a cycle) starts afresh;
- the due date of each open user task, from the boundary timers attached to it;
- one `message_subscription` row per message the instance waits for;
- one `message` job per message the run threw outward, for the worker to deliver (an outbox);
- a reminder (催办) on the user task a non-interrupting boundary timer fired on.

The job rows are a projection of the workflow: written with it, never ahead of it or behind it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import views
from engine.audit import ENGINE_ACTOR, AuditLog, canonical_json
from engine.models import HumanTask, Job, MessageSubscription, ProcessInstance, utcnow
from engine.spiff import messages as spiff_messages
from engine.spiff import timer_events
from engine.spiff.timer_events import WaitingTimer
from engine.store import LiveWorkflow

TIMER, MESSAGE, START_TIMER = "timer", "message", "start_timer"
# The daily purge of finished instances older than the retention (engine/commands/auditing.py): one row.
RETENTION_PURGE = "retention_purge"
WAITING, RETRYING, INCIDENT = "waiting", "retrying", "incident"
# The waits of an instance that has none written yet (a new one): no timer jobs, no subscriptions.
NOTHING_WRITTEN: tuple = ({}, frozenset())


def sync_waits(
    session: Session, instance: ProcessInstance, live: LiveWorkflow, audit: AuditLog, happened: list
) -> None:
    """Bring the instance's jobs, task due dates and subscriptions in line with its workflow."""
    timers = timer_events.waiting_timers(live.workflow)
    messages = spiff_messages.waiting_messages(live.workflow)
    waits = ({t.task_id: views.iso(t.due_at) for t in timers}, frozenset(m.name for m in messages))
    if live.waits != waits:  # most commands change neither: no need to read the rows
        _sync_timer_jobs(session, instance, timers)
        _sync_subscriptions(session, instance, messages)
        live.waits = waits
    if any(t.attached_to for t in timers):
        _sync_due_dates(session, instance, timers)
    _queue_thrown_messages(session, instance, audit, spiff_messages.thrown_messages(live.workflow))
    _remind(session, instance, audit, happened)


def _sync_timer_jobs(session: Session, instance: ProcessInstance, timers: list[WaitingTimer]) -> None:
    rows = {
        j.id: j for j in session.execute(select(Job).where(Job.instance_id == instance.id, Job.kind == TIMER)).scalars()
    }
    waiting = {t.task_id: t for t in timers}
    gone = [job_id for job_id in rows if job_id not in waiting]
    if gone:
        session.execute(delete(Job).where(Job.id.in_(gone)))
    now = utcnow()
    for task_id, timer in waiting.items():
        due = views.iso(timer.due_at)
        row = rows.get(task_id)
        if row is None:
            session.add(
                Job(
                    id=task_id,
                    instance_id=instance.id,
                    kind=TIMER,
                    element_id=timer.element_id,
                    status=WAITING,
                    due_at=timer.due_at or now,
                    attempts=0,
                    payload={"due": due, "name": timer.name},
                    created_at=now,
                )
            )
        elif row.payload.get("due") != due:
            # A new round of a cycle, or a timer started over: the earlier attempts are history.
            row.due_at, row.status, row.attempts, row.last_error = timer.due_at or now, WAITING, 0, None
            row.locked_by = row.locked_until = None
            row.payload = {"due": due, "name": timer.name}


def task_deadline(timers: list[WaitingTimer], task_id: str) -> datetime | None:
    """A user task's due date: its earliest interrupting boundary timer (the timeout path), else the
    latest non-interrupting one (reminders come before the deadline, an escalation at it)."""
    attached = [t for t in timers if t.covers(task_id) and t.due_at is not None]
    interrupting = [t.due_at for t in attached if t.interrupting]
    if interrupting:
        return min(interrupting)
    others = [t.due_at for t in attached if not t.cycle]
    return max(others) if others else None


def _sync_due_dates(session: Session, instance: ProcessInstance, timers: list[WaitingTimer]) -> None:
    session.flush()  # the user tasks this run created
    open_tasks = session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ).scalars()
    for task in open_tasks:
        due = task_deadline(timers, task.id)
        # Once its deadline timer has fired the task keeps that due date: it is overdue from then on.
        if due is not None and due != task.due_at:
            task.due_at = due


def _sync_subscriptions(
    session: Session, instance: ProcessInstance, waiting: list[spiff_messages.WaitingMessage]
) -> None:
    rows = {
        s.name: s
        for s in session.execute(
            select(MessageSubscription).where(MessageSubscription.instance_id == instance.id)
        ).scalars()
    }
    wanted = {m.name: m for m in waiting}
    gone = [name for name in rows if name not in wanted]
    if gone:
        session.execute(
            delete(MessageSubscription).where(
                MessageSubscription.instance_id == instance.id, MessageSubscription.name.in_(gone)
            )
        )
    for name, message in wanted.items():
        if name not in rows:
            session.add(
                MessageSubscription(
                    instance_id=instance.id,
                    name=name,
                    element_id=message.element_id,
                    business_key=instance.business_key,
                    created_at=utcnow(),
                )
            )


def _queue_thrown_messages(
    session: Session, instance: ProcessInstance, audit: AuditLog, thrown: list[spiff_messages.ThrownMessage]
) -> None:
    now = utcnow()
    for message in thrown:
        job_id = str(uuid.uuid4())
        audit.append_instance(
            instance,
            ENGINE_ACTOR,
            "message_thrown",
            None,
            {"name": message.name, "payload": message.payload, "job_id": job_id},
        )
        session.add(
            Job(
                id=job_id,
                instance_id=instance.id,
                kind=MESSAGE,
                element_id=message.name,
                status=WAITING,
                due_at=now,
                attempts=0,
                payload={
                    "name": message.name,
                    "payload": json_safe(message.payload),
                    "correlations": json_safe(message.correlations),
                    "business_key": instance.business_key,
                    "org_unit": instance.org_code,
                },
                created_at=now,
            )
        )


def retry_at(backoff: float, attempts: int) -> datetime:
    """When a job that failed `attempts` times runs again: backoff x 4^(attempts-1) seconds from now."""
    return utcnow() + timedelta(seconds=backoff * 4 ** (attempts - 1))


def locked_job(session: Session, job_id: str, dialect: str) -> Job | None:
    """A job row read afresh and, on PostgreSQL, locked until the transaction ends."""
    query = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    if dialect == "postgresql":
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def json_safe(value: Any) -> Any:
    """What a JSON column stores of a value (dates become text), as the audit trail stores it."""
    return json.loads(canonical_json(value))


def _remind(session: Session, instance: ProcessInstance, audit: AuditLog, happened: list) -> None:
    """催办 by the engine: a non-interrupting boundary timer fired on a user task that is still open (on
    each open instance of a multi-instance one)."""
    for event in happened:
        data = event.data if event.action == "timer_fired" else {}
        if data.get("interrupting") is not False or not data.get("attached_to"):
            continue
        for task_id in [data["attached_to"], *data.get("instances", [])]:
            task = session.get(HumanTask, task_id)
            if task is not None and task.status == "open" and task.instance_id == instance.id:
                _urge(instance, task, event, audit)


def _urge(instance: ProcessInstance, task: HumanTask, event: Any, audit: AuditLog) -> None:
    from engine.commands.remarks import URGE_CAP, URGE_STEP

    task.priority = min(URGE_CAP, (task.priority or 0) + URGE_STEP)
    task.urged_count = (task.urged_count or 0) + 1
    task.last_urged_at = utcnow()
    audit.append_instance(
        instance,
        ENGINE_ACTOR,
        "task_urged",
        task.element_id,
        {
            "task_id": task.id,
            "comment": f"{event.data.get('name') or event.element_id}: the time set for this step has passed",
            "priority": task.priority,
            "urged_count": task.urged_count,
            "timer": event.element_id,
        },
    )
