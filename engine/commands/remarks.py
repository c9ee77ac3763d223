"""审批意见 and 催办: comments kept with a task, and urging a task up its officials' inbox."""

from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine import paging, reach, views
from engine.audit import Actor
from engine.commands.operations import TaskOperations, clean_text, is_candidate, role_at, task_path
from engine.errors import Conflict, NotAllowed, NotFound
from engine.models import HumanTask, OrgUnit, ProcessInstance, TaskComment, utcnow
from engine.paging import SortKey, check_limit
from engine.principal import Principal
from engine.roles import ADMIN, AUDITOR, LANE_ROLES

URGE_STEP, URGE_CAP = 10, 100
URGE_INTERVAL = timedelta(minutes=10)
# The same comment by the same official on the same task this soon again is a double click.
REPEAT_WINDOW = timedelta(seconds=30)
BEIJING = timezone(timedelta(hours=8), "Beijing")
COMMENT_ORDER = (SortKey(TaskComment.at), SortKey(TaskComment.id))


class RemarkCommands(TaskOperations):
    """Comments and urges change the work queue and the record, never the workflow."""

    # --- 审批意见 ---------------------------------------------------------------------------------

    def add_comment(self, task_id: str, by: Principal, text: str) -> dict:
        """审批意见 on an open task, by its officials or those of the units above it."""
        text = clean_text(text, "A comment", required=True)
        with self._working(task_id) as (session, instance):
            task = self._open_task(session, task_id)
            actor = self._commenter(session, by, task)
            last = session.execute(
                select(TaskComment)
                .where(TaskComment.task_id == task.id)
                .order_by(TaskComment.at.desc(), TaskComment.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if (
                last is not None
                and (last.kind, last.username, last.text) == ("comment", by.username, text)
                and utcnow() - last.at < REPEAT_WINDOW
            ):
                return views.case_comment(last)  # a double click
            self._record(session, instance, task, actor, "task_commented", {"text": text})
            return views.case_comment(self._note(session, instance, task, actor, "comment", text))

    def comments(self, task_id: str, by: Principal) -> list[dict]:
        """The comments and reasons kept with one task, in order."""
        with self.reading() as session:
            query = self._comments_of(session, task_id, by).order_by(*(k.order() for k in COMMENT_ORDER))
            return [views.case_comment(c) for c in session.execute(query).scalars()]

    def comments_page(self, task_id: str, by: Principal, cursor: str | None = None, limit: int = 50) -> dict:
        """The same, one page: {items, next_cursor}."""
        check_limit(limit)
        with self.reading() as session:
            query = self._comments_of(session, task_id, by)
            return paging.page(session, query, COMMENT_ORDER, f"comments:{task_id}", cursor, limit, views.case_comment)

    def _comments_of(self, session: Session, task_id: str, by: Principal) -> Select:
        task = self._task(session, task_id)
        instance = session.get(ProcessInstance, task.instance_id)
        if not (by.is_system or self._may_comment(session, by, task)):
            self._require_case_reader(session, by, instance, [task_path(session, task)])
        return select(TaskComment).where(TaskComment.task_id == task.id)

    def instance_comments(self, instance_id: str, by: Principal) -> list[dict]:
        """Every comment and reason of a case, in order."""
        with self.reading() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"There is no process instance {instance_id}.", code="no_instance", id=instance_id)
            paths = session.execute(
                select(HumanTask.org_path).where(HumanTask.instance_id == instance.id).distinct()
            ).scalars()
            self._require_case_reader(session, by, instance, [p for p in paths if p])
            rows = session.execute(
                select(TaskComment)
                .where(TaskComment.instance_id == instance.id)
                .order_by(TaskComment.at, TaskComment.id)
            ).scalars()
            return [views.case_comment(c) for c in rows]

    # --- 催办 -----------------------------------------------------------------------------------

    def urge(self, task_id: str, by: Principal, comment: str = "") -> dict:
        """催办: the case's initiator, officials above the task's unit or an admin push it up the inbox."""
        comment = clean_text(comment, "The comment")
        with self._working(task_id) as (session, instance):
            task = self._open_task(session, task_id)
            actor = self._urger(session, by, task, instance)
            self._check_instance_active(instance)
            now = utcnow()
            if task.last_urged_at is not None and now - task.last_urged_at < URGE_INTERVAL:
                at = task.last_urged_at.astimezone(BEIJING)
                again = (task.last_urged_at + URGE_INTERVAL).astimezone(BEIJING)
                raise Conflict(
                    f"“{task.name}” was already urged at {at:%H:%M}; it can be urged again after {again:%H:%M}.",
                    code="urged_recently",
                    task=task.name,
                    at=task.last_urged_at,
                    again=task.last_urged_at + URGE_INTERVAL,
                )
            task.priority = min(URGE_CAP, (task.priority or 0) + URGE_STEP)
            task.urged_count = (task.urged_count or 0) + 1
            task.last_urged_at = now
            self._record(
                session,
                instance,
                task,
                actor,
                "task_urged",
                {"comment": comment, "priority": task.priority, "urged_count": task.urged_count},
            )
            self._note(session, instance, task, actor, "urge", comment)
            return views.task_summary(task)

    # --- who may ------------------------------------------------------------------------------

    def task_rights(self, task_id: str, by: Principal) -> dict[str, bool]:
        """Whether `by` may comment on (and so copy) and urge the task: what the task page offers them."""
        with self.reading() as session:
            task = self._task(session, task_id)
            instance = session.get(ProcessInstance, task.instance_id)
            may_comment = self._may_comment(session, by, task) is not None
            try:
                self._urger(session, by, task, instance)
            except NotAllowed:
                return {"comment": may_comment, "copy": may_comment, "urge": False}
            return {"comment": may_comment, "copy": may_comment, "urge": True}

    def _may_comment(self, session: Session, by: Principal, task: HumanTask) -> Actor | None:
        if by.is_system:
            return by.actor(task.role, task.org_code)
        if by.username in (task.assignee, task.owner) or is_candidate(by.person, task):
            return by.actor(role_at(by.person, task), task.org_code)
        holding = reach.reaching(session, by, task_path(session, task), LANE_ROLES.keys() | {ADMIN})
        return by.actor(holding.role, holding.org_code) if holding is not None else None

    def _commenter(self, session: Session, by: Principal, task: HumanTask) -> Actor:
        actor = self._may_comment(session, by, task)
        if actor is not None:
            return actor
        if by.person.has_role(AUDITOR):
            raise NotAllowed("Auditors read the comments on a task but do not add them.", code="auditor_no_comment")
        raise NotAllowed(
            f"{by.username} may not comment on “{task.name}”: its officials and those of the units above it may.",
            code="may_not_comment",
            user=by.username,
            task=task.name,
        )

    def _require_case_reader(
        self, session: Session, by: Principal, instance: ProcessInstance, task_paths: list[str]
    ) -> None:
        """Comments are read by the case's initiator and by anyone holding a role that reaches the case."""
        if by.is_system or by.username == instance.started_by:
            return
        paths = [instance.org_path, *task_paths]
        if reach.reaching(session, by, paths, None) is None:
            raise NotAllowed(
                f"{by.username} may not read the comments of this case.", code="may_not_read_comments", user=by.username
            )

    def _urger(self, session: Session, by: Principal, task: HumanTask, instance: ProcessInstance) -> Actor:
        if by.is_system:
            return by.actor(None, task.org_code)
        if is_candidate(by.person, task) or by.username in (task.assignee, task.owner):
            raise NotAllowed(
                f"{by.username} works “{task.name}” and cannot urge it; complete or hand it on instead.",
                code="urge_own_task",
                user=by.username,
                task=task.name,
            )
        admin = reach.reaching(session, by, task_path(session, task), {ADMIN})
        if admin is not None:
            return by.actor(ADMIN, admin.org_code)
        above = reach.reaching(session, by, task_path(session, task), LANE_ROLES.keys(), strictly_above=True)
        if above is not None:
            return by.actor(above.role, above.org_code)
        if by.username == instance.started_by:
            mine = reach.reaching(session, by, instance.org_path, None)
            return by.actor(mine.role, mine.org_code) if mine else by.actor()
        unit = session.get(OrgUnit, task.org_code) if task.org_code else None
        raise NotAllowed(
            f"{by.username} may not urge “{task.name}”: the case's initiator, officials of the units above "
            f"{unit.name if unit else task.org_code} and admins may.",
            code="may_not_urge",
            user=by.username,
            task=task.name,
            unit=task.org_code,
        )
