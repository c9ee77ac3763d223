"""The officials' hand-on operations: transfer, delegate, return, withdraw, comment, urge.

Each is one command (one transaction, under the instance's lock) that writes the task row, an audit
event and, where a text is given, a `TaskComment` of the matching kind. Return and withdraw go back in
the workflow itself (SpiffWorkflow resets to the earlier task); the others change only the work queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import people, reach, views
from engine.audit import Actor, AuditLog
from engine.commands.base import CANCELLED, COMPLETED, OPEN, RUNNING
from engine.commands.tasks import DELEGATION_PENDING, DELEGATION_RESOLVED, TaskCommands
from engine.errors import Conflict, NotAllowed, NotFound, RuleBroken, TaskClosed, UnknownUser
from engine.models import (
    HumanTask,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    TaskComment,
    UserAccount,
    utcnow,
)
from engine.people import Person
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES
from engine.spiff import runtime
from engine.store import LiveWorkflow

TEXT_LIMIT = 2000
URGE_STEP, URGE_CAP = 10, 100
URGE_INTERVAL = timedelta(minutes=10)
# The same comment by the same official on the same task this soon again is a double click.
REPEAT_WINDOW = timedelta(seconds=30)
BEIJING = timezone(timedelta(hours=8), "Beijing")


class TaskOperations(TaskCommands):
    """转办, 委派, 退回, 撤回, 审批意见 and 催办 on human tasks."""

    # --- 转办 and 委派 --------------------------------------------------------------------------

    def transfer(self, task_id: str, by: Principal, to: str, comment: str = "") -> dict:
        """转办: `to`, another candidate of the task, now holds it instead of its assignee."""
        comment = clean_text(comment, "The comment")
        with self._working(task_id) as (session, instance):
            task = self._open_task(session, task_id)
            actor = self._handler(session, by, task)
            self._check_instance_active(instance)
            if task.assignee == to and task.delegation != DELEGATION_PENDING:
                return views.task_summary(task)  # a double click: it is theirs already
            _require_in_hand(task, by, overrule=actor.role == ADMIN)
            target = _person(session, to, task, "transfer")
            if not is_candidate(target, task):
                raise RuleBroken(
                    f"{to} is not a candidate for “{task.name}”: it is for {_for_whom(session, task)}, "
                    "so it cannot be transferred to them.",
                    code="transfer_not_candidate",
                    user=to,
                    task=task.name,
                    role=task.role,
                    unit=task.org_code,
                )
            before = task.assignee
            task.assignee, task.claimed_at = to, utcnow()
            if task.delegation == DELEGATION_RESOLVED:
                task.owner = to  # the delegate's draft now waits for the new official to confirm
            self._record(
                session, instance, task, actor, "task_transferred", {"from": before, "to": to, "comment": comment}
            )
            self._note(session, instance, task, actor, "transfer", comment)
            return views.task_summary(task)

    def delegate(self, task_id: str, by: Principal, to: str, comment: str = "") -> dict:
        """委派: a colleague of the task's unit works it; it then comes back to `by` to confirm."""
        comment = clean_text(comment, "The comment")
        with self._working(task_id) as (session, instance):
            task = self._open_task(session, task_id)
            actor = self._authorize_task(by, task)
            self._check_instance_active(instance)
            if task.delegation == DELEGATION_PENDING and task.owner == by.username and task.assignee == to:
                return views.task_summary(task)  # a double click
            _require_in_hand(task, by, overrule=False)
            if to == by.username:
                raise RuleBroken(
                    f"“{task.name}” cannot be delegated to yourself.", code="delegate_to_self", task=task.name
                )
            colleague = _person(session, to, task, "delegate")
            if not any(h.org_code == task.org_code and h.role in LANE_ROLES for h in colleague.holdings):
                unit = session.get(OrgUnit, task.org_code)
                raise RuleBroken(
                    f"{to} holds no official role at {unit.name if unit else task.org_code}, "
                    f"so “{task.name}” cannot be delegated to them.",
                    code="delegate_not_colleague",
                    user=to,
                    task=task.name,
                    unit=task.org_code,
                )
            task.owner, task.assignee, task.delegation = by.username, to, DELEGATION_PENDING
            task.claimed_at = utcnow()
            self._record(
                session, instance, task, actor, "task_delegated", {"from": by.username, "to": to, "comment": comment}
            )
            self._note(session, instance, task, actor, "delegate", comment)
            return views.task_summary(task)

    # --- 退回 and 撤回 --------------------------------------------------------------------------

    def return_task(self, task_id: str, by: Principal, reason: str, to_element: str | None = None) -> dict:
        """退回: back to an earlier user task of the case, which goes to whoever completed it before."""
        reason = clean_text(reason, "The reason", required=True)
        if to_element is not None and not isinstance(to_element, str):
            raise RuleBroken("to_element must be the id of a user task.", code="bad_return_target")
        with self._working(task_id) as (session, instance):
            task = self._open_task(session, task_id)
            actor = self._authorize_task(by, task)
            self._check_instance_active(instance)
            _require_in_hand(task, by, overrule=False)
            definition = self._definition(session, instance.definition_id)
            live = self.store.load(session, instance)
            target = _return_target(session, definition, live, task, to_element)
            audit = AuditLog(session)
            audit.append_instance(
                instance,
                actor,
                "task_returned",
                task.element_id,
                {"task_id": task.id, "to_element": target.element_id, "to_task_id": target.id, "reason": reason},
            )
            # The reason is kept with the step that must be done again: that is where it is read.
            self._note(session, instance, target, actor, "return", reason)
            runtime.reset_to(live.workflow, target.id)
            self._advance(session, instance, live, definition, audit)
            return self._moved_on(session, instance)

    def withdraw(self, task_id: str, by: Principal, reason: str = "") -> dict:
        """撤回: take back a task `by` completed, while nothing after it has been touched."""
        reason = clean_text(reason, "The reason")
        with self._working(task_id) as (session, instance):
            task = session.get(HumanTask, task_id)
            if task.status == OPEN:
                if task.assignee == by.username:
                    raise Conflict(
                        f"“{task.name}” is already back with you; there is nothing to withdraw.",
                        code="withdraw_already_back",
                        task=task.name,
                    )
                raise Conflict(
                    f"“{task.name}” has not been completed, so there is nothing to withdraw.",
                    code="withdraw_not_completed",
                    task=task.name,
                )
            if task.status == CANCELLED:
                raise TaskClosed(
                    f"“{task.name}” was withdrawn by the process and needs no action.",
                    code="task_cancelled",
                    task=task.name,
                )
            if task.completed_by != by.username and not by.is_system:
                raise NotAllowed(
                    f"Only {task.completed_by}, who completed “{task.name}”, may withdraw it.",
                    code="withdraw_not_yours",
                    user=task.completed_by,
                    task=task.name,
                )
            actor = self._authorize_task(by, task)
            if instance.status != RUNNING:
                raise Conflict(
                    f"The case is {instance.status}; a completed step can be withdrawn only while it runs.",
                    code="withdraw_case_ended",
                    status=instance.status,
                )
            live = self.store.load(session, instance)
            if not runtime.is_completed_user_task(live.workflow, task.id):
                raise Conflict(
                    f"“{task.name}” is no longer on the case's path (the case was returned to an earlier step), "
                    "so it cannot be withdrawn.",
                    code="withdraw_off_path",
                    task=task.name,
                )
            after = _followers(session, live, task)
            for follower in after:
                _require_untouched(session, task, follower)
            audit = AuditLog(session)
            audit.append_instance(
                instance,
                actor,
                "task_withdrawn",
                task.element_id,
                {"task_id": task.id, "reason": reason, "followers": [f.id for f in after]},
            )
            self._note(session, instance, task, actor, "withdraw", reason)
            runtime.reset_to(live.workflow, task.id)
            definition = self._definition(session, instance.definition_id)
            self._advance(session, instance, live, definition, audit)
            return self._moved_on(session, instance)

    # --- the commands' common steps ---------------------------------------------------------------

    @contextmanager
    def _working(self, task_id: str) -> Iterator[tuple[Session, ProcessInstance]]:
        """One command on a task's instance: its lock, one transaction, the instance row locked."""
        instance_id = self._task_instance_id(task_id)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            yield session, self._lock_instance(session, instance_id, task_id)

    def _task(self, session: Session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
        return task

    def _record(
        self, session: Session, instance: ProcessInstance, task: HumanTask, actor: Actor, action: str, data: dict
    ) -> None:
        """Audit a change to the work queue only; the cached workflow stays valid."""
        instance.updated_at = utcnow()
        AuditLog(session).append_instance(instance, actor, action, task.element_id, {"task_id": task.id} | data)
        self._bump_cached_version(session, instance)

    def _note(
        self, session: Session, instance: ProcessInstance, task: HumanTask, actor: Actor, kind: str, text: str
    ) -> TaskComment | None:
        """Keep a text with the task (nothing when no text was given)."""
        if not text:
            return None
        comment = TaskComment(
            instance_id=instance.id,
            task_id=task.id,
            element_id=task.element_id,
            kind=kind,
            username=actor.username,
            role=actor.role,
            org_code=actor.org_code,
            text=text,
            at=utcnow(),
        )
        session.add(comment)
        session.flush()
        return comment

    def _moved_on(self, session: Session, instance: ProcessInstance) -> dict:
        """Where the case stands after it went back: as `complete` answers."""
        open_tasks = session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
            .order_by(HumanTask.created_at)
        ).scalars()
        return {
            "instance": {"id": instance.id, "status": instance.status, "error": instance.error},
            "next_tasks": [views.task_summary(t) for t in open_tasks],
        }

    # --- who may --------------------------------------------------------------------------------

    def _handler(self, session: Session, by: Principal, task: HumanTask) -> Actor:
        """Who may hand a task on: its candidates (the assignee among them) and admins above it."""
        try:
            return self._authorize_task(by, task)
        except NotAllowed:
            admin = reach.reaching(session, by, task_path(session, task), {ADMIN})
            if admin is None:
                raise
            return by.actor(ADMIN, admin.org_code)


# --- helpers ---------------------------------------------------------------------------------------


def clean_text(value: object, what: str, *, required: bool = False) -> str:
    """`what` names the text ("The reason"); its last word is the field a translation names."""
    field = what.rsplit(" ", 1)[-1].lower()
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RuleBroken(f"{what} must be text.", code="text_not_text", field=field)
    text = value.strip()
    if required and not text:
        raise RuleBroken(
            f"{what} is empty: write what the other officials should know.", code="text_empty", field=field
        )
    if len(text) > TEXT_LIMIT:
        raise RuleBroken(
            f"{what} has {len(text)} characters; at most {TEXT_LIMIT} are kept.",
            code="text_too_long",
            field=field,
            length=len(text),
            limit=TEXT_LIMIT,
        )
    return text


def _person(session: Session, username: object, task: HumanTask, verb: str) -> Person:
    if not isinstance(username, str) or not username:
        raise RuleBroken(
            f"Name the official to {verb} “{task.name}” to.", code="name_official", verb=verb, task=task.name
        )
    try:
        return people.load_person(session, username)
    except UnknownUser:
        raise RuleBroken(
            f"There is no active user {username!r} to {verb} “{task.name}” to.",
            code="no_user_to_hand_to",
            user=username,
            verb=verb,
            task=task.name,
        ) from None


def _display_name(session: Session, username: str | None) -> str:
    user = session.get(UserAccount, username) if username else None
    return user.display_name if user is not None else (username or "someone")


def is_candidate(person: Person, task: HumanTask) -> bool:
    if task.role is None:
        return any(h.org_code == task.org_code and h.role in LANE_ROLES for h in person.holdings)
    return person.holds(task.role, task.org_code)


def role_at(person: Person, task: HumanTask) -> str | None:
    """The role a person acts in at the task's unit: the task's own role if they hold it."""
    held = [h.role for h in person.holdings if h.org_code == task.org_code and h.role in LANE_ROLES]
    return task.role if task.role in held else (held[0] if held else None)


def _for_whom(session: Session, task: HumanTask) -> str:
    unit = session.get(OrgUnit, task.org_code) if task.org_code else None
    return f"{task.role or 'officials'} of {unit.name if unit else task.org_code}"


def task_path(session: Session, task: HumanTask) -> str:
    if task.org_path:
        return task.org_path
    unit = session.get(OrgUnit, task.org_code) if task.org_code else None
    return unit.path if unit is not None else ""


def _require_in_hand(task: HumanTask, by: Principal, *, overrule: bool) -> None:
    """The task must be the caller's, or nobody's yet; an admin may overrule a claim but not a delegation."""
    if task.delegation == DELEGATION_PENDING:
        raise Conflict(
            f"“{task.name}” is delegated to {task.assignee} by {task.owner}; "
            f"it can be handed on once it is back with {task.owner}.",
            code="delegated_not_handed_on",
            task=task.name,
            assignee=task.assignee,
            owner=task.owner,
        )
    if task.assignee not in (None, by.username) and not (overrule or by.is_system):
        raise Conflict(
            f"The task “{task.name}” is already claimed by {task.assignee}.",
            code="task_claimed",
            task=task.name,
            assignee=task.assignee,
        )


def _return_target(
    session: Session, definition: ProcessDefinition, live: LiveWorkflow, task: HumanTask, to_element: str | None
) -> HumanTask:
    """The most recently completed user task on the path that led to `task` (of `to_element`, if named)."""
    on_path = set(runtime.path_to(live.workflow, task.id))
    query = select(HumanTask).where(HumanTask.instance_id == task.instance_id, HumanTask.status == COMPLETED)
    if to_element is not None:
        query = query.where(HumanTask.element_id == to_element)
    for row in session.execute(query.order_by(HumanTask.completed_at.desc())).scalars():
        if row.id in on_path:
            return row
    if to_element is None:
        raise RuleBroken(
            f"No one worked a step of this case before “{task.name}”, so there is nothing to return it to.",
            code="nothing_to_return_to",
            task=task.name,
        )
    known = definition.user_tasks.get(to_element)
    if known is None:
        raise RuleBroken(
            f"The process has no user task {to_element!r} to return “{task.name}” to.",
            code="no_return_step",
            step=to_element,
            task=task.name,
        )
    raise RuleBroken(
        f"“{known.get('name') or to_element}” was not completed on the way to “{task.name}”, "
        "so the task cannot be returned there.",
        code="return_step_not_on_path",
        step=known.get("name") or to_element,
        task=task.name,
    )


def _followers(session: Session, live: LiveWorkflow, task: HumanTask) -> list[HumanTask]:
    """The user tasks that came after `task` and would be undone by going back to it."""
    after = runtime.followers(live.workflow, task.id)
    rows = session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == task.instance_id,
            HumanTask.id != task.id,
            (HumanTask.status == OPEN) | (HumanTask.completed_at >= task.completed_at),
        )
    ).scalars()
    return [row for row in rows if row.id in after and row.status in (OPEN, COMPLETED)]


def _require_untouched(session: Session, withdrawn: HumanTask, follower: HumanTask) -> None:
    """Withdrawing is for second thoughts before anyone acted on the next step."""
    step = f"The next step “{follower.name}”"
    who = None
    if follower.status == COMPLETED:
        who, code = _display_name(session, follower.completed_by), "withdraw_next_completed"
        done = f"has already been completed by {who}"
    elif follower.delegation is not None:
        who, code = _display_name(session, follower.assignee), "withdraw_next_delegated"
        done = f"has already been delegated to {who}"
    elif follower.assignee is not None:
        who, code = _display_name(session, follower.assignee), "withdraw_next_claimed"
        done = f"has already been claimed by {who}"
    elif follower.urged_count:
        done, code = "has already been urged", "withdraw_next_urged"
    else:
        commented = session.execute(
            select(TaskComment.username).where(TaskComment.task_id == follower.id).limit(1)
        ).scalar_one_or_none()
        if commented is None:
            return
        who, code = _display_name(session, commented), "withdraw_next_commented"
        done = f"has already been commented on by {who}"
    raise Conflict(
        f"{step} {done}, so “{withdrawn.name}” can no longer be withdrawn.",
        code=code,
        next=follower.name,
        name=who,
        task=withdrawn.name,
    )
