"""The officials' task operations: claim, unclaim, complete, read the inbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import views
from engine.audit import Actor, AuditLog
from engine.commands.base import CANCELLED, COMPLETED, ENDED, OPEN, SUSPENDED
from engine.commands.instances import InstanceCommands
from engine.errors import (
    Conflict,
    FormInvalid,
    NotAllowed,
    NotFound,
    RuleBroken,
    TaskClosed,
)
from engine.models import (
    AuditEvent,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    WorkflowTask,
    utcnow,
)
from engine.principal import Principal
from engine.roles import LANE_ROLES
from engine.spiff import runtime
from forms import SubmissionInvalid

# 委派: a delegated task is "pending" while the delegate works it, "resolved" once it is back with its owner.
DELEGATION_PENDING, DELEGATION_RESOLVED = "pending", "resolved"


class TaskCommands(InstanceCommands):
    def _open_task(self, session: Session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
        if task.status == COMPLETED:
            by = task.completed_by or "someone"
            at = task.completed_at.strftime("%Y-%m-%d %H:%M") if task.completed_at else ""
            raise TaskClosed(
                f"The task “{task.name}” was already completed by {by} at {at}.".replace(" at .", "."),
                code="task_completed",
                task=task.name,
                user=task.completed_by,
                at=task.completed_at,
            )
        if task.status == CANCELLED:
            raise TaskClosed(
                f"The task “{task.name}” was withdrawn by the process and needs no action.",
                code="task_cancelled",
                task=task.name,
            )
        return task

    def _authorize_task(self, by: Principal, task: HumanTask) -> Actor:
        if by.is_system:
            return by.actor(task.role, task.org_code)
        if task.delegation == DELEGATION_PENDING and task.assignee == by.username:
            # 委派: a colleague of the unit works the task for its owner, whatever lane role they hold there.
            held = [h.role for h in by.person.holdings if h.org_code == task.org_code and h.role in LANE_ROLES]
            if held:
                return by.actor(task.role if task.role in held else held[0], task.org_code)
        if task.role is None:
            if any(h.org_code == task.org_code for h in by.person.holdings):
                return by.actor(None, task.org_code)
        elif by.person.holds(task.role, task.org_code):
            return by.actor(task.role, task.org_code)
        who = task.role or "officials"
        raise NotAllowed(
            f"{by.username} is not a candidate for “{task.name}”: it is for {who} of {task.org_code}.",
            code="not_candidate",
            user=by.username,
            task=task.name,
            role=task.role,
            unit=task.org_code,
        )

    def _check_instance_active(self, instance: ProcessInstance) -> None:
        if instance.status == SUSPENDED:
            raise Conflict(
                "The instance is suspended; its tasks cannot be worked until it is resumed.", code="instance_suspended"
            )
        if instance.status in ENDED:
            raise TaskClosed(f"The instance is {instance.status}.", code="instance_ended", status=instance.status)

    def claim(self, task_id: str, by: Principal) -> dict:
        return self._assign(task_id, by, claim=True)

    def unclaim(self, task_id: str, by: Principal) -> dict:
        return self._assign(task_id, by, claim=False)

    def _assign(self, task_id: str, by: Principal, claim: bool) -> dict:
        instance_id = self._task_instance_id(task_id)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id, task_id)
            task = self._open_task(session, task_id)
            actor = self._authorize_task(by, task)
            self._check_instance_active(instance)
            if claim:
                if task.assignee == by.username:
                    return views.task_summary(task)
                if task.assignee is not None:
                    raise Conflict(
                        f"The task “{task.name}” is already claimed by {task.assignee}.",
                        code="task_claimed",
                        task=task.name,
                        assignee=task.assignee,
                    )
                task.assignee, task.claimed_at = by.username, utcnow()
            else:
                if task.assignee is None:
                    return views.task_summary(task)
                if task.delegation == DELEGATION_PENDING:
                    raise Conflict(
                        f"“{task.name}” is delegated to {task.assignee} by {task.owner}; it goes back to "
                        f"{task.owner} when {task.assignee} completes it, not by releasing it.",
                        code="delegated_not_released",
                        task=task.name,
                        assignee=task.assignee,
                        owner=task.owner,
                    )
                if task.assignee != by.username and not by.is_system:
                    raise Conflict(
                        f"The task “{task.name}” is claimed by {task.assignee}, not by {by.username}.",
                        code="task_claimed",
                        task=task.name,
                        assignee=task.assignee,
                    )
                task.assignee, task.claimed_at = None, None
            instance.updated_at = utcnow()
            AuditLog(session).append_instance(
                instance,
                actor,
                "task_claimed" if claim else "task_unclaimed",
                task.element_id,
                {"task_id": task.id},
            )
            self._bump_cached_version(session, instance)
            return views.task_summary(task)

    def complete(self, task_id: str, by: Principal, data: dict | None = None) -> dict:
        """Complete a task with its form data (a delegate's submission is a draft for the owner to confirm)."""
        result = self._complete(task_id, by, data)
        if all(t["id"] != task_id for t in result["next_tasks"]):  # completed, not handed back still open
            for listener in list(self.task_completed_listeners):
                listener()
        return result

    def _complete(self, task_id: str, by: Principal, data: dict | None) -> dict:
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise RuleBroken("The task data must be a JSON object.", code="data_not_object")
        instance_id = self._task_instance_id(task_id)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id, task_id)
            task = self._open_task(session, task_id)
            try:
                actor = self._authorize_task(by, task)
            except NotAllowed:
                if task.delegation == DELEGATION_RESOLVED:
                    # A delegate who holds no candidate role clicks again after handing the task back.
                    handed_back = session.execute(
                        select(AuditEvent.actor, AuditEvent.data)
                        .where(
                            AuditEvent.stream == task.instance_id,
                            AuditEvent.action == "task_resolved",
                            AuditEvent.element_id == task.element_id,
                        )
                        .order_by(AuditEvent.seq.desc())
                    ).all()
                    delegates = [who for who, event in handed_back if event.get("task_id") == task.id]
                    if delegates[:1] == [by.username]:
                        raise Conflict(
                            f"You already handed “{task.name}” back to {task.assignee or task.owner}; "
                            "it needs nothing more from you.",
                            code="already_handed_back",
                            task=task.name,
                            owner=task.assignee or task.owner,
                        ) from None
                raise
            self._check_instance_active(instance)
            if task.delegation == DELEGATION_PENDING and task.assignee != by.username:
                raise Conflict(
                    f"The task “{task.name}” is delegated to {task.assignee}; "
                    f"it comes back to {task.owner} to confirm once they have worked it.",
                    code="task_delegated",
                    task=task.name,
                    assignee=task.assignee,
                    owner=task.owner,
                )
            if task.assignee is not None and task.assignee != by.username and not by.is_system:
                raise Conflict(
                    f"The task “{task.name}” is claimed by {task.assignee}.",
                    code="task_claimed",
                    task=task.name,
                    assignee=task.assignee,
                )
            definition = self._definition(session, instance.definition_id)
            audit = AuditLog(session)
            if task.delegation == DELEGATION_PENDING:
                # The delegate's work is a draft: kept on the task, not run; the owner confirms it.
                values = self._validate_form(session, definition, task, data)
                live = self.store.load(session, instance)
                runtime.update_task_data(live.workflow, task.id, values)
                task.assignee, task.delegation, task.claimed_at = task.owner, DELEGATION_RESOLVED, utcnow()
                instance.updated_at = utcnow()
                audit.append_instance(
                    instance,
                    actor,
                    "task_resolved",
                    task.element_id,
                    {"task_id": task.id, "data": values, "to": task.owner},
                )
                self.store.save(session, instance, live)
                self._keep_after_commit(session, instance, live)
                return {
                    "instance": {"id": instance.id, "status": instance.status, "error": instance.error},
                    "next_tasks": [views.task_summary(task)],
                }
            live = self.store.load(session, instance)
            if task.delegation == DELEGATION_RESOLVED:
                # The owner confirms the delegate's draft, changing what they submit.
                data = runtime.task_draft(live.workflow, task.id) | data
            values = self._validate_form(session, definition, task, data)
            runtime.complete_user_task(live.workflow, task.id, values)
            task.status, task.completed_at, task.completed_by = COMPLETED, utcnow(), by.username
            task.assignee = task.assignee or by.username
            audit.append_instance(
                instance, actor, "task_completed", task.element_id, {"task_id": task.id, "data": values}
            )
            self._advance(session, instance, live, definition, audit)
            return {
                "instance": {"id": instance.id, "status": instance.status, "error": instance.error},
                "next_tasks": [views.task_summary(t) for t in self._open_tasks(session, instance)],
            }

    def _validate_form(self, session: Session, definition: ProcessDefinition, task: HumanTask, data: dict) -> dict:
        if not task.form_key:
            return data
        sha = definition.forms.get(task.form_key)
        if sha is None:
            return data
        compiled = self.forms.get(session, sha)
        try:
            return compiled.validate(data)
        except SubmissionInvalid as exc:
            raise FormInvalid(exc.errors) from exc

    def get_task(self, task_id: str, by: Principal | None = None) -> dict:
        by = by or Principal.system()
        with self.reading() as session:
            task = session.get(HumanTask, task_id)
            if task is None:
                raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
            instance = session.get(ProcessInstance, task.instance_id)
            self._require_reach(session, by, task.org_path or instance.org_path)
            definition = self._definition(session, instance.definition_id)
            form = None
            data: dict[str, Any] = {}
            if task.form_key and task.form_key in definition.forms:
                compiled = self.forms.get(session, definition.forms[task.form_key])
                form = compiled.schema
                data = compiled.prefill(instance.variables)
            if task.delegation is not None and task.status == OPEN:
                # 委派: what the delegate worked out shows as the form's values until the owner confirms.
                stored = session.get(WorkflowTask, (task.instance_id, task.id))
                if stored is not None:
                    data = data | runtime.stored_task_draft(stored.body)
            return views.task_detail(task, form, data)
