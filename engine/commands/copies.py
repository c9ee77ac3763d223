"""抄送: copying a step of a case to officials for their information.

An official who works a step (or one above its unit) copies it to colleagues; a process copies its steps
by setting the variable `copy_to` (a username or a list of them): every step that becomes ready while
it is set is copied to them. A copy is audited (`task_copied`), shows in the recipient's 抄送 tab and
lets them read the case (task, history, comments, path), never work it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import views
from engine.audit import ENGINE_ACTOR, Actor, AuditLog
from engine.commands.base import ENDED
from engine.commands.operations import clean_text
from engine.commands.remarks import RemarkCommands
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import (
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskCopy,
    UserAccount,
    utcnow,
)
from engine.paging import SortKey, check_limit, page
from engine.principal import Principal
from engine.roles import AUDITOR
from engine.spiff import runtime
from engine.store import LiveWorkflow

T = TypeVar("T")
COPY_VARIABLE = "copy_to"
MAX_RECIPIENTS = 20
COPY_ORDER = (SortKey(TaskCopy.copied_at, descending=True), SortKey(TaskCopy.id, descending=True))


class CopyCommands(RemarkCommands):
    """抄送 by officials and by the process, the 抄送 inbox, and reading a case one was copied on."""

    def copy_task(self, task_id: str, by: Principal, to: Iterable[str], note: str = "") -> dict:
        """Copy a step to officials: {task_id, copied_to: [new recipients], already: [had it before]}."""
        note = clean_text(note, "The note")
        recipients = _recipients(to)
        with self._working(task_id) as (session, instance):
            task = self._task(session, task_id)
            actor = self._copier(session, by, task)
            if by.username in recipients:
                raise RuleBroken(f"“{task.name}” cannot be copied to yourself.", code="copy_to_self", task=task.name)
            active = set(
                session.execute(
                    select(UserAccount.username).where(
                        UserAccount.username.in_(recipients), UserAccount.active.is_(True)
                    )
                ).scalars()
            )
            unknown = [u for u in recipients if u not in active]
            if unknown:
                raise RuleBroken(
                    f"There is no active user {', '.join(unknown)} to copy “{task.name}” to.",
                    code="no_user_to_copy_to",
                    users=", ".join(unknown),
                    task=task.name,
                )
            new, already = self._add_copies(session, instance, task, recipients, actor, note)
            if new and note:
                self._note(session, instance, task, actor, "copy", note)
            return {"task_id": task.id, "copied_to": new, "already": already}

    def copied_tasks(
        self,
        by: Principal,
        process_key: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict:
        """The steps copied to the caller, newest copy first: inbox items with {copy: {by, at, note}}."""
        check_limit(limit)
        with self.reading() as session:
            query = (
                select(TaskCopy)
                .join(HumanTask, HumanTask.id == TaskCopy.task_id)
                .where(TaskCopy.username == by.username)
            )
            if process_key:
                query = query.where(HumanTask.process_key == process_key)
            if q and q.strip():
                text = q.strip()
                query = query.where(
                    or_(
                        HumanTask.name.icontains(text, autoescape=True),
                        HumanTask.business_key.icontains(text, autoescape=True),
                    )
                )

            def item(copy: TaskCopy) -> dict:
                task = session.get(HumanTask, copy.task_id)
                return views.inbox_item(task) | {"copy": copy_view(copy)}

            return page(session, query, COPY_ORDER, "copies", cursor, limit, item)

    def copied_count(self, by: Principal) -> int:
        """How many steps were copied to the caller (the 抄送 tab's count)."""
        with self.reading() as session:
            return session.execute(
                select(func.count()).select_from(TaskCopy).where(TaskCopy.username == by.username)
            ).scalar_one()

    def task_copies(self, task_id: str, by: Principal) -> list[dict]:
        """Who a step was copied to, in order (for whoever may read the task)."""
        self.get_task(task_id, by)  # the same check as reading the task
        with self.reading() as session:
            rows = session.execute(
                select(TaskCopy).where(TaskCopy.task_id == task_id).order_by(TaskCopy.copied_at, TaskCopy.id)
            ).scalars()
            return [copy_view(c) | {"to": c.username} for c in rows]

    # --- reading a case one was copied on -----------------------------------------------------

    def get_task(self, task_id: str, by: Principal | None = None) -> dict:
        return self._read_copied(partial(super().get_task, task_id), by, task_id=task_id)

    def get_instance(self, instance_id: str, by: Principal | None = None) -> dict:
        return self._read_copied(partial(super().get_instance, instance_id), by, instance_id=instance_id)

    def history(self, instance_id: str, by: Principal | None = None) -> list[dict]:
        return self._read_copied(partial(super().history, instance_id), by, instance_id=instance_id)

    def history_page(
        self, instance_id: str, by: Principal | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict:
        read = partial(super().history_page, instance_id, cursor=cursor, limit=limit)
        return self._read_copied(read, by, instance_id=instance_id)

    def path(self, instance_id: str, by: Principal) -> dict:
        return self._read_copied(partial(super().path, instance_id), by, instance_id=instance_id)

    def instance_comments(self, instance_id: str, by: Principal) -> list[dict]:
        return self._read_copied(partial(super().instance_comments, instance_id), by, instance_id=instance_id)

    def _read_copied(self, read: Callable[[Principal | None], T], by: Principal | None, **case: str) -> T:
        """A read as the caller may do it, or, refused that, as the case's reader when it was copied to them."""
        try:
            return read(by)
        except NotAllowed:
            if by is None or not self._copied_on(by, **case):
                raise
            return read(Principal.system())

    def _copied_on(self, by: Principal, *, task_id: str | None = None, instance_id: str | None = None) -> bool:
        """Whether a step of the case (the task's, or the instance) was copied to the caller."""
        if by.is_system:
            return False
        with self.reading() as session:
            if task_id is not None:
                task = session.get(HumanTask, task_id)
                if task is None:
                    raise NotFound(f"There is no task {task_id}.", code="no_task", id=task_id)
                instance_id = task.instance_id
            found = session.execute(
                select(TaskCopy.id).where(TaskCopy.instance_id == instance_id, TaskCopy.username == by.username)
            ).first()
            return found is not None

    # --- copies the process asks for ------------------------------------------------------------

    def _sync_human_tasks(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        definition: ProcessDefinition,
        audit: AuditLog,
    ) -> list[runtime.ReadyUserTask]:
        ready = super()._sync_human_tasks(session, instance, live, definition, audit)
        if instance.status in ENDED:
            return ready
        wanted = {t.id: t.data.get(COPY_VARIABLE) for t in ready}
        wanted = {task_id: value for task_id, value in wanted.items() if value}
        if not wanted:
            return ready
        session.flush()  # the rows of the steps that just became ready
        for task_id, value in wanted.items():
            task = session.get(HumanTask, task_id)
            names = value if isinstance(value, list) else [value]
            names = list(dict.fromkeys(n for n in names if isinstance(n, str) and n))[:MAX_RECIPIENTS]
            if task is None or not names:
                continue
            active = set(
                session.execute(
                    select(UserAccount.username).where(UserAccount.username.in_(names), UserAccount.active.is_(True))
                ).scalars()
            )
            known = [n for n in names if n in active]
            # A name the process got wrong is recorded, never a reason to stop the case.
            self._add_copies(
                session, instance, task, known, ENGINE_ACTOR, "", unknown=[n for n in names if n not in active]
            )
        return ready

    # --- the common steps -----------------------------------------------------------------------

    def _add_copies(
        self,
        session: Session,
        instance: ProcessInstance,
        task: HumanTask,
        recipients: list[str],
        actor: Actor,
        note: str,
        unknown: list[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        had = set(
            session.execute(
                select(TaskCopy.username).where(TaskCopy.task_id == task.id, TaskCopy.username.in_(recipients))
            ).scalars()
        )
        new = [u for u in recipients if u not in had]
        already = [u for u in recipients if u in had]
        if not new and not unknown:
            return new, already
        now = utcnow()
        for username in new:
            session.add(
                TaskCopy(
                    instance_id=instance.id,
                    task_id=task.id,
                    element_id=task.element_id,
                    username=username,
                    copied_by=actor.username,
                    note=note,
                    copied_at=now,
                )
            )
        data: dict = {"task_id": task.id, "to": new, "note": note}
        if unknown:
            data["unknown"] = unknown
        instance.updated_at = now
        AuditLog(session).append_instance(instance, actor, "task_copied", task.element_id, data)
        if actor is not ENGINE_ACTOR:  # inside _advance the workflow is saved and cached by the caller
            self._bump_cached_version(session, instance)
        session.flush()
        return new, already

    def _copier(self, session: Session, by: Principal, task: HumanTask) -> Actor:
        actor = self._may_comment(session, by, task)
        if actor is not None:
            return actor
        if by.person is not None and by.person.has_role(AUDITOR):
            raise NotAllowed("Auditors read cases but do not copy them to anyone.", code="auditor_no_copy")
        raise NotAllowed(
            f"{by.username} may not copy “{task.name}”: its officials and those of the units above it may.",
            code="may_not_copy",
            user=by.username,
            task=task.name,
        )


def copy_view(copy: TaskCopy) -> dict:
    return {"by": copy.copied_by, "at": views.iso(copy.copied_at), "note": copy.note}


def _recipients(to: Iterable[str]) -> list[str]:
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, Iterable):
        raise RuleBroken("Name the officials to copy the step to.", code="copy_names_missing")
    names = list(dict.fromkeys(to))
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise RuleBroken("Name the officials to copy the step to, by their usernames.", code="copy_names_missing")
    if len(names) > MAX_RECIPIENTS:
        raise RuleBroken(
            f"A step can be copied to at most {MAX_RECIPIENTS} officials at once.",
            code="copy_too_many",
            limit=MAX_RECIPIENTS,
        )
    return [n.strip() for n in names]
