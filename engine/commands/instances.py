"""Starting instances, running them to the next wait state, and their lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from engine import deployments, org, paging, reach, views, waits
from engine.audit import ENGINE_ACTOR, Actor, AuditLog, Verification, verify
from engine.case_ids import new_case_id
from engine.commands.base import CANCELLED, COMPLETED, ENDED, FAILED, OPEN, RUNNING, SUSPENDED, EngineBase
from engine.db import AFTER_COMMIT
from engine.errors import (
    Conflict,
    NotAllowed,
    NotFound,
    RuleBroken,
)
from engine.models import (
    AuditEvent,
    HumanTask,
    Job,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    RoleAssignment,
    UserAccount,
    utcnow,
)
from engine.paging import SortKey, check_limit
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES, role_of_lane
from engine.spiff import runtime, starts
from engine.store import LiveWorkflow

# session.info key: instance id -> its open human task rows as the last projection left them.
OPEN_TASKS = "govflow_open_tasks"

# Built once (building a statement costs more than running it from the compiled cache).
_OPEN_OR_READY = select(HumanTask).where(
    or_(
        and_(HumanTask.instance_id == bindparam("instance_id"), HumanTask.status == OPEN),
        HumanTask.id.in_(bindparam("ready", expanding=True)),
    )
)
# The same when the cached workflow knows which rows its last projection left open: reads by key only, so
# neither the number of open tasks nor the index entries their updates left behind cost anything here.
_BY_IDS = select(HumanTask).where(HumanTask.id.in_(bindparam("ids", expanding=True)))

LIFECYCLE_ACTIONS = {
    "suspend": "instance_suspended",
    "resume": "instance_resumed",
    "cancel": "instance_cancelled",
}


class InstanceCommands(EngineBase):
    def start(
        self,
        process_key: str,
        org_code: str,
        by: Principal | None = None,
        business_key: str | None = None,
        variables: dict | None = None,
        version: int | None = None,
    ) -> dict:
        by = by or Principal.system()
        if variables is not None and not isinstance(variables, dict):
            raise RuleBroken("variables must be a JSON object.", code="variables_not_object")
        with self.transaction() as session:
            definition = self._definition(session, deployments.find_definition_id(session, process_key, version))
            unit = org.get_unit_and_ancestors(session, org_code)
            actor = self._starter(session, by, unit)
            instance = self._create_instance(session, definition, unit, actor, by.username, business_key, variables)
            # Incidents are jobs the worker gave up on: a case started in this transaction has none.
            return self._instance_view(session, instance, incidents=[])

    def _create_instance(
        self,
        session: Session,
        definition: ProcessDefinition,
        unit: OrgUnit,
        actor: Actor,
        started_by: str,
        business_key: str | None,
        variables: dict | None,
        begin: Callable[[Any], object] | None = None,
        started_data: dict | None = None,
    ) -> ProcessInstance:
        """A new instance run to its first wait state, in the caller's transaction.

        `begin(workflow)` says how it begins when it was not started by hand: by a message its start
        event catches, or by a timer start event that fell due.
        """
        instance = ProcessInstance(
            id=new_case_id(),
            definition_id=definition.id,
            process_key=definition.key,
            process_version=definition.version,
            status=RUNNING,
            business_key=business_key,
            org_code=unit.code,
            org_path=unit.path,
            started_by=started_by,
            started_at=utcnow(),
            updated_at=utcnow(),
            lock_version=0,
            state={},
            variables={},
            next_task_seq=0,
            audit_seq=0,
            audit_head="",
        )
        session.add(instance)  # inserted with the command's first writes (engine/row_writes.py), once
        live = self.store.new(session, definition)
        live.waits, live.open_tasks, live.task_rows = waits.NOTHING_WRITTEN, frozenset(), set()
        start_vars = dict(variables or {})
        start_vars.setdefault("org_unit", unit.code)
        if business_key:
            start_vars.setdefault("business_key", business_key)
        runtime.set_variables(live.workflow, start_vars)
        audit = AuditLog(session)
        audit.append_instance(
            instance,
            actor,
            "instance_started",
            data={
                "process_key": definition.key,
                "version": definition.version,
                "business_key": business_key,
                "org_unit": unit.code,
                "variables": variables or {},
            }
            | (started_data or {}),
        )
        (begin or starts.begin_by_hand)(live.workflow)
        self._advance(session, instance, live, definition, audit)
        return instance

    def _starter(self, session: Session, by: Principal, unit: OrgUnit) -> Actor:
        if by.is_system:
            return by.actor(org_code=unit.code)
        # Officials start procedures for their own unit or units below it; admins anywhere in their reach.
        # Designers and auditors do not create cases.
        holding = reach.reaching(session, by, unit.path, LANE_ROLES.keys() | {ADMIN})
        if holding is not None:
            return by.actor(holding.role, holding.org_code)
        raise NotAllowed(
            f"{by.username} holds no official role that reaches {unit.name}, so may not start a procedure there.",
            code="may_not_start",
            user=by.username,
            unit=unit.code,
        )

    def _advance(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        definition: ProcessDefinition,
        audit: AuditLog,
    ) -> None:
        """Run to the next wait state, project user tasks, record what happened, save once."""
        events: list[runtime.EngineEvent] = []
        failure = runtime.run_engine(live.workflow, events)
        for happened in events:
            audit.append_instance(instance, ENGINE_ACTOR, happened.action, happened.element_id, happened.data)
        self._sync_human_tasks(session, instance, live, definition, audit)
        waits.sync_waits(session, instance, live, audit, events)
        now = utcnow()
        if failure is not None:
            instance.status = FAILED
            instance.error = failure.as_dict() | {"at": now.isoformat()}
            audit.append_instance(instance, ENGINE_ACTOR, "instance_failed", failure.element_id, failure.as_dict())
        elif runtime.status_of(live.workflow) == COMPLETED:
            instance.status = COMPLETED
            instance.ended_at = now
            audit.append_instance(instance, ENGINE_ACTOR, "instance_completed")
        instance.updated_at = now
        self.store.save(session, instance, live)
        session.flush()
        self._keep_after_commit(session, instance, live)

    def _keep_after_commit(self, session: Session, instance: ProcessInstance, live: LiveWorkflow) -> None:

        instance_id = instance.id

        def keep(_session: Session) -> None:
            live.lock_version = instance.lock_version
            self.live.keep(instance_id, live)

        session.info.setdefault(AFTER_COMMIT, []).append(keep)

    def _bump_cached_version(self, session: Session, instance: ProcessInstance) -> None:
        """A command that did not touch the workflow keeps its cached copy valid at the new version."""

        instance_id, before = instance.id, instance.lock_version

        def bump(_session: Session) -> None:
            self.live.bump(instance_id, before, instance.lock_version)

        session.info.setdefault(AFTER_COMMIT, []).append(bump)

    def _sync_human_tasks(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        definition: ProcessDefinition,
        audit: AuditLog,
    ) -> list[runtime.ReadyUserTask]:
        """Open a row for each user task that became ready, cancel the rows of those no more ready; returns the ready.

        The open rows are read without flushing first: what this command changed in memory (the task it
        completed, rows it added) is taken from the session, so the instance row is written once, at the
        end of the command. `session.info[OPEN_TASKS][instance id]` keeps the open rows for the reply.
        """
        ready = runtime.ready_user_tasks(live.workflow)
        ready_ids = {t.id for t in ready}
        # At most one read: the open rows, and any earlier row of a ready task (returned to, withdrawn to).
        if live.open_tasks is None:
            found = session.execute(_OPEN_OR_READY, {"instance_id": instance.id, "ready": list(ready_ids)})
            rows = {t.id: t for t in found.scalars()}
        else:
            # By key, but not the rows this session holds (current: the instance's lock covers them), nor
            # ready tasks the cached workflow knows have no row.
            returned_to = ready_ids if live.task_rows is None else ready_ids & live.task_rows
            in_session = {h.id for h in session.identity_map.values() if isinstance(h, HumanTask)}
            wanted = (live.open_tasks | returned_to) - in_session
            rows = {t.id: t for t in session.execute(_BY_IDS, {"ids": list(wanted)}).scalars()} if wanted else {}
        deleted = session.deleted
        for held in [*session.identity_map.values(), *session.new]:
            if isinstance(held, HumanTask) and held.instance_id == instance.id and held not in deleted:
                rows.setdefault(held.id, held)
        # In memory the session's changes are already applied: a row's status there is the truth.
        open_rows = {t.id: t for t in rows.values() if t.status == OPEN and t.instance_id == instance.id}
        unit = None
        for task in ready:
            if task.id in open_rows:
                continue
            earlier = rows.get(task.id)
            if earlier is not None:
                # Returned or withdrawn to: SpiffWorkflow reuses the task's id, so the row opens again,
                # straight with the official who completed it before while they still hold its role.
                previous = earlier.completed_by
                holder = (
                    select(RoleAssignment.id)
                    .join(UserAccount, UserAccount.username == RoleAssignment.username)
                    .where(
                        RoleAssignment.username == previous,
                        RoleAssignment.org_code == earlier.org_code,
                        UserAccount.active.is_(True),
                    )
                )
                if earlier.role is not None:
                    holder = holder.where(RoleAssignment.role == earlier.role)
                still_holds = previous is not None and session.execute(holder.limit(1)).first() is not None
                earlier.status = OPEN
                earlier.assignee = previous if still_holds else None
                earlier.claimed_at = utcnow() if still_holds else None
                earlier.completed_at = earlier.completed_by = None
                earlier.owner = earlier.delegation = None
                earlier.priority, earlier.urged_count, earlier.last_urged_at = 50, 0, None  # as when created
                audit.append_instance(
                    instance,
                    ENGINE_ACTOR,
                    "task_reopened",
                    task.element_id,
                    {
                        "task_id": task.id,
                        "name": earlier.name,
                        "role": earlier.role,
                        "org_unit": earlier.org_code,
                        "assignee": earlier.assignee,
                    },
                )
                open_rows[task.id] = earlier
                continue
            if unit is None:
                # The units on the instance's path, in at most one read: the walks below find them held.
                org.hold_path(session, instance.org_path)
                unit = org.get_unit(session, instance.org_code)
            info = definition.user_tasks.get(task.element_id, {})
            role = info.get("role") or role_of_lane(None, task.lane)
            # The process data may name the unit: for this step (`<element id>_org_unit`, e.g. the item of a
            # multi-instance step, one per committee) or for every step of the role (`<role>_org_unit`).
            explicit = task.data.get(f"{task.element_id}_org_unit") or (
                task.data.get(f"{role}_org_unit") if role else None
            )
            candidate = org.resolve_candidate(session, role, unit, explicit if isinstance(explicit, str) else None)
            row = HumanTask(
                id=task.id,
                instance_id=instance.id,
                process_key=instance.process_key,
                business_key=instance.business_key,
                element_id=task.element_id,
                name=task.name,
                role=candidate.role,
                org_code=candidate.org_code,
                org_path=candidate.org_path,
                why=candidate.why,
                form_key=info.get("form_key") or task.form_key,
                status=OPEN,
                created_at=utcnow(),
            )
            session.add(row)
            open_rows[row.id] = row
            self._task_instances.put(row.id, instance.id)
            audit.append_instance(
                instance,
                ENGINE_ACTOR,
                "task_created",
                task.element_id,
                {
                    "task_id": task.id,
                    "name": task.name,
                    "role": candidate.role,
                    "org_unit": candidate.org_code,
                    "why": candidate.why,
                },
            )
        for task_id, row in list(open_rows.items()):
            if task_id not in ready_ids:
                row.status = CANCELLED
                del open_rows[task_id]
                audit.append_instance(instance, ENGINE_ACTOR, "task_cancelled", row.element_id, {"task_id": task_id})
        session.info.setdefault(OPEN_TASKS, {})[instance.id] = list(open_rows.values())
        live.open_tasks = frozenset(open_rows)
        if live.task_rows is not None:
            live.task_rows.update(open_rows)
        return ready

    def _open_tasks(self, session: Session, instance: ProcessInstance) -> list[HumanTask]:
        """The instance's open human tasks in creation order: as this command's projection left them, else read."""
        known = session.info.get(OPEN_TASKS, {}).get(instance.id)
        if known is not None:
            return sorted(known, key=lambda t: t.created_at)
        session.flush()
        return list(
            session.execute(
                select(HumanTask)
                .where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
                .order_by(HumanTask.created_at)
            ).scalars()
        )

    def _instance_view(self, session: Session, instance: ProcessInstance, incidents: list[Job] | None = None) -> dict:
        tasks = self._open_tasks(session, instance)
        session.flush()
        if incidents is None:
            incidents = list(
                session.execute(
                    select(Job).where(Job.instance_id == instance.id, Job.status == waits.INCIDENT).order_by(Job.due_at)
                ).scalars()
            )
        return views.instance_detail(instance, list(tasks), incidents)

    def get_instance(self, instance_id: str, by: Principal | None = None) -> dict:
        by = by or Principal.system()
        with self.reading() as session:
            instance = self._instance_in_reach(session, by, instance_id)
            return self._instance_view(session, instance)

    def _instance_in_reach(self, session: Session, by: Principal, instance_id: str) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.", code="no_instance", id=instance_id)
        self._require_reach(session, by, instance.org_path)
        return instance

    def _require_reach(self, session: Session, by: Principal, org_path: str) -> None:
        """Readers see what lies at or below the units where they hold a role."""
        if not reach.reaches(session, by, org_path):
            unit = org_path.rstrip("/").rsplit("/", 1)[-1]
            raise NotAllowed(
                f"{by.username} may not see the cases of org unit {unit}.",
                code="out_of_reach",
                user=by.username,
                unit=unit,
            )

    def cancel(self, instance_id: str, reason: str, by: Principal | None = None) -> dict:
        return self._lifecycle(instance_id, "cancel", by, {"reason": reason})

    def suspend(self, instance_id: str, by: Principal | None = None) -> dict:
        return self._lifecycle(instance_id, "suspend", by, {})

    def resume(self, instance_id: str, by: Principal | None = None) -> dict:
        return self._lifecycle(instance_id, "resume", by, {})

    def retry(self, instance_id: str, by: Principal | None = None, variables: dict | None = None) -> dict:
        return self._lifecycle(instance_id, "retry", by, {"variables": variables or {}})

    def _lifecycle(self, instance_id: str, action: str, by: Principal | None, data: dict) -> dict:
        by = by or Principal.system()
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if not reach.reaches(session, by, instance.org_path, {ADMIN}):
                raise NotAllowed(f"Only an admin may {action} an instance.", code="admins_only")
            actor = by.actor(ADMIN, instance.org_code)
            audit = AuditLog(session)
            if instance.status in ENDED:
                raise Conflict(
                    f"The instance is already {instance.status}; it cannot {action}.",
                    code="instance_ended",
                    status=instance.status,
                )
            if action == "suspend":
                if instance.status == SUSPENDED:
                    raise Conflict("The instance is already suspended.", code="instance_suspended")
                instance.status = SUSPENDED
            elif action == "resume":
                if instance.status != SUSPENDED:
                    raise Conflict("Only a suspended instance can be resumed.", code="not_suspended")
                instance.status = FAILED if instance.error else RUNNING
            elif action == "cancel":
                live = self.store.load(session, instance)
                runtime.cancel(live.workflow)
                instance.status = CANCELLED
                instance.ended_at = utcnow()
                for row in session.execute(
                    select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
                ).scalars():
                    row.status = CANCELLED
                waits.sync_waits(session, instance, live, audit, [])
                self.store.save(session, instance, live)
                self._keep_after_commit(session, instance, live)
            elif action == "retry":
                if instance.status != FAILED:
                    raise Conflict("Only a failed instance can be retried.", code="not_failed")
                live = self.store.load(session, instance)
                retried = runtime.retry_failed(live.workflow, data["variables"])
                instance.status = RUNNING
                instance.error = None
                audit.append_instance(instance, actor, "instance_retried", data={"elements": retried} | data)
                definition = self._definition(session, instance.definition_id)
                self._advance(session, instance, live, definition, audit)
                return self._instance_view(session, instance)
            instance.updated_at = utcnow()
            audit.append_instance(instance, actor, LIFECYCLE_ACTIONS[action], data=data)
            if action != "cancel":
                self._bump_cached_version(session, instance)
            return self._instance_view(session, instance)

    # --- history ---------------------------------------------------------------------------------

    def history(self, instance_id: str, by: Principal | None = None) -> list[dict]:
        """Every audit event of an instance, in order."""
        by = by or Principal.system()
        with self.reading() as session:
            self._instance_in_reach(session, by, instance_id)
            rows = session.execute(_history_of(instance_id).order_by(AuditEvent.seq)).scalars()
            return [views.audit_event(e) for e in rows]

    def history_page(
        self, instance_id: str, by: Principal | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict:
        """The same, one page: {items, next_cursor}."""
        by = by or Principal.system()
        check_limit(limit)
        with self.reading() as session:
            self._instance_in_reach(session, by, instance_id)
            query = _history_of(instance_id)
            return paging.page(
                session, query, HISTORY_ORDER, f"history:{instance_id}", cursor, limit, views.audit_event
            )

    def verify_audit(self, instance_id: str | None = None) -> Verification:
        with self.reading() as session:
            return verify(session, instance_id)


HISTORY_ORDER = (SortKey(AuditEvent.seq),)


def _history_of(instance_id: str) -> Select:
    return select(AuditEvent).where(AuditEvent.stream == instance_id)
