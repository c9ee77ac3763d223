"""`Engine`: the one door the API, the pages, the worker and the CLI use. One transaction per command."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import deployments, org, people, views
from engine.audit import ENGINE_ACTOR, Actor, AuditLog, Verification, verify
from engine.config import Settings
from engine.db import dialect_name, make_session_factory, make_sql_engine
from engine.errors import (
    Conflict,
    FormInvalid,
    GovflowError,
    NotAllowed,
    NotFound,
    RuleBroken,
    StaleInstance,
    TaskClosed,
)
from engine.forms_registry import FormRegistry
from engine.models import (
    AuditEvent,
    HumanTask,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    RoleAssignment,
    UserAccount,
    utcnow,
)
from engine.people import Person
from engine.roles import ADMIN, AUDITOR, DESIGNER, LANE_ROLES, role_of_lane
from engine.spiff import runtime
from engine.spiff.sandbox import SandboxedScriptEngine
from engine.store import InstanceStore, LiveCache, LiveWorkflow, SpecCache
from forms import SubmissionInvalid

OPEN, COMPLETED, CANCELLED = "open", "completed", "cancelled"
RUNNING, FAILED, SUSPENDED = "running", "failed", "suspended"
ENDED = {"completed", "cancelled"}
LIFECYCLE_ACTIONS = {
    "suspend": "instance_suspended",
    "resume": "instance_resumed",
    "cancel": "instance_cancelled",
}


class DatabaseUnavailable(GovflowError):
    status = 503


@dataclass(frozen=True)
class Principal:
    """Who calls a command: a person, or the operator's CLI acting for the system (trusted)."""

    person: Person | None
    system_name: str | None = None

    @classmethod
    def system(cls, name: str = "cli") -> Principal:
        return cls(None, name)

    @property
    def username(self) -> str:
        return self.person.username if self.person else (self.system_name or "system")

    @property
    def is_system(self) -> bool:
        return self.person is None

    def actor(self, role: str | None = None, org_code: str | None = None) -> Actor:
        return Actor(self.username, role if self.person else "system", org_code)


class Engine:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.dialect = dialect_name(self.settings.database_url)
        self.sql = make_sql_engine(self.settings.database_url, self.settings.sqlite_synchronous)
        self.sql_read = (
            make_sql_engine(self.settings.database_url, self.settings.sqlite_synchronous, readonly=True)
            if self.dialect == "sqlite"
            else self.sql
        )
        self._sessions = make_session_factory(self.sql)
        self._read_sessions = make_session_factory(self.sql_read)
        self.specs = SpecCache()
        self.live = LiveCache(self.settings.live_cache_size)
        self.script_engine = SandboxedScriptEngine(time_limit=self.settings.script_time_limit)
        self.store = InstanceStore(self.specs, self.live, self.script_engine)
        self.forms = FormRegistry()

    def close(self) -> None:
        self.sql.dispose()
        if self.sql_read is not self.sql:
            self.sql_read.dispose()

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One command: everything it writes commits together or not at all."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except StaleDataError as exc:
            raise StaleInstance("The instance was changed by someone else meanwhile; reload and retry.") from exc
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
                raise DatabaseUnavailable(f"The database is not available: {_first_line(exc)}") from exc
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"The database is not available: {_first_line(exc)}") from exc
        finally:
            session.close()

    def _lock_instance(self, session: Session, instance_id: str) -> ProcessInstance:
        query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        instance = session.execute(query).scalar_one_or_none()
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.")
        return instance

    def principal(self, username: str) -> Principal:
        with self.reading() as session:
            return Principal(people.load_person(session, username))

    # --- org and people ------------------------------------------------------------------------

    def add_org_unit(
        self,
        code: str,
        name: str,
        level: str,
        parent: str | None,
        kind: str | None = None,
        by: Principal | None = None,
    ) -> dict:
        by = by or Principal.system()
        with self.transaction() as session:
            self._require_admin(session, by, parent)
            org.validate_new_unit(session, code, level, parent)
            if kind not in (None, "residents", "villagers"):
                raise RuleBroken("kind must be residents or villagers.")
            unit = OrgUnit(code=code, name=name, level=level, parent_code=parent, kind=kind)
            session.add(unit)
            AuditLog(session).append_system(by.actor(), "org_unit_added", code, _org_dict(unit))
            return _org_dict(unit)

    def list_org_units(self) -> list[dict]:
        with self.reading() as session:
            units = session.execute(select(OrgUnit).order_by(OrgUnit.code)).scalars()
            return [_org_dict(u) for u in units]

    def add_user(
        self,
        username: str,
        password: str,
        holdings: list[tuple[str, str]],
        display_name: str | None = None,
        by: Principal | None = None,
    ) -> dict:
        by = by or Principal.system()
        with self.transaction() as session:
            if session.get(UserAccount, username) is not None:
                raise RuleBroken(f"A user {username!r} already exists.")
            people.validate_roles([role for role, _ in holdings])
            for _role, code in holdings:
                org.get_unit(session, code)
                self._require_admin(session, by, code)
            session.add(
                UserAccount(
                    username=username,
                    display_name=display_name or username,
                    password_hash=people.hash_password(password, self.settings.password_profile),
                )
            )
            session.flush()
            for role, code in sorted(set(holdings)):
                session.add(RoleAssignment(username=username, role=role, org_code=code))
            roles = [{"role": r, "org_unit": c} for r, c in sorted(set(holdings))]
            AuditLog(session).append_system(by.actor(), "user_added", username, {"roles": roles})
            return {"username": username, "display_name": display_name or username, "roles": roles}

    def authenticate(self, username: str, password: str) -> Person | None:
        with self.reading() as session:
            user = session.get(UserAccount, username)
            if user is None or not user.active or not people.check_password(user.password_hash, password):
                return None
            return people.load_person(session, username)

    def _require_admin(self, session: Session, by: Principal, org_code: str | None) -> None:
        if by.is_system:
            return
        for holding in by.person.holdings:
            if holding.role == ADMIN and (org_code is None or org.is_within(session, org_code, holding.org_code)):
                return
        raise NotAllowed("Only an admin of this org unit may manage org units and users.")

    # --- deployments ---------------------------------------------------------------------------

    def validate_bundle(self, files: dict[str, bytes]) -> dict:
        from engine.errors import BundleInvalid

        with self.reading() as session:
            try:
                parsed = deployments.validate(session, files)
            except BundleInvalid as exc:
                return {"ok": False, "errors": [p.as_dict() for p in exc.problems], "warnings": []}
            return {"ok": True, "errors": [], "warnings": [w.as_dict() for w in parsed.warnings]}

    def deploy(self, files: dict[str, bytes], by: Principal | None = None) -> dict:
        by = by or Principal.system()
        if not by.is_system and not by.person.has_role(DESIGNER) and not by.person.has_role(ADMIN):
            raise NotAllowed("Only process designers may deploy.")
        with self.transaction() as session:
            return deployments.deploy(session, files, by.actor(DESIGNER), self.specs).as_dict()

    def list_definitions(self, key: str | None = None, latest: bool = False) -> list[dict]:
        with self.reading() as session:
            query = select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)
            if key:
                query = query.where(ProcessDefinition.key == key)
            rows = list(session.execute(query).scalars())
            if latest:
                newest: dict[str, ProcessDefinition] = {}
                for row in rows:
                    newest[row.key] = row
                rows = list(newest.values())
            return [views.definition_summary(r) for r in rows]

    def _definition(self, session: Session, key: str, version: int | None) -> ProcessDefinition:
        query = select(ProcessDefinition).where(ProcessDefinition.key == key)
        if version is not None:
            query = query.where(ProcessDefinition.version == version)
        definition = session.execute(query.order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
        if definition is None:
            pinned = f" version {version}" if version is not None else ""
            raise NotFound(f"There is no deployed process {key!r}{pinned}.")
        return definition

    # --- instances -----------------------------------------------------------------------------

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
            raise RuleBroken("variables must be a JSON object.")
        with self.transaction() as session:
            definition = self._definition(session, process_key, version)
            unit = org.get_unit(session, org_code)
            actor = self._starter(session, by, unit)
            instance = ProcessInstance(
                id=str(uuid.uuid4()),
                definition_id=definition.id,
                process_key=definition.key,
                process_version=definition.version,
                status=RUNNING,
                business_key=business_key,
                org_code=unit.code,
                started_by=by.username,
                started_at=utcnow(),
                updated_at=utcnow(),
                lock_version=0,
                state={},
                variables={},
                next_task_seq=0,
                audit_seq=0,
                audit_head="",
            )
            session.add(instance)
            session.flush()  # rows that reference the instance are written by later flushes
            live = self.store.new(session, definition)
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
                },
            )
            self._advance(session, instance, live, definition, audit)
            return self._instance_view(session, instance)

    def _starter(self, session: Session, by: Principal, unit: OrgUnit) -> Actor:
        if by.is_system:
            return by.actor(org_code=unit.code)
        for holding in by.person.holdings:
            if holding.role in (AUDITOR,):
                continue
            if org.is_within(session, unit.code, holding.org_code) or org.is_within(
                session, holding.org_code, unit.code
            ):
                return by.actor(holding.role, holding.org_code)
        raise NotAllowed(f"{by.username} holds no role that reaches {unit.name}, so may not start a procedure there.")

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
        for event in events:
            audit.append_instance(instance, ENGINE_ACTOR, event.action, event.element_id, event.data)
        self._sync_human_tasks(session, instance, live, definition, audit)
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
        from sqlalchemy import event

        instance_id = instance.id

        def keep(_session: Session) -> None:
            live.lock_version = instance.lock_version
            self.live.keep(instance_id, live)

        event.listen(session, "after_commit", keep, once=True)

    def _bump_cached_version(self, session: Session, instance: ProcessInstance) -> None:
        """A command that did not touch the workflow keeps its cached copy valid at the new version."""
        from sqlalchemy import event

        instance_id, before = instance.id, instance.lock_version

        def bump(_session: Session) -> None:
            self.live.bump(instance_id, before, instance.lock_version)

        event.listen(session, "after_commit", bump, once=True)

    def _sync_human_tasks(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        definition: ProcessDefinition,
        audit: AuditLog,
    ) -> None:
        session.flush()  # the task this command completed must not read back as open
        open_rows = {
            t.id: t
            for t in session.execute(
                select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
            ).scalars()
        }
        ready = runtime.ready_user_tasks(live.workflow)
        ready_ids = {t.id for t in ready}
        unit = None
        for task in ready:
            if task.id in open_rows:
                continue
            unit = unit or org.get_unit(session, instance.org_code)
            info = definition.user_tasks.get(task.element_id, {})
            role = info.get("role") or role_of_lane(None, task.lane)
            explicit = task.data.get(f"{role}_org_unit") if role else None
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
                why=candidate.why,
                form_key=info.get("form_key") or task.form_key,
                status=OPEN,
                created_at=utcnow(),
            )
            session.add(row)
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
        for task_id, row in open_rows.items():
            if task_id not in ready_ids:
                row.status = CANCELLED
                audit.append_instance(instance, ENGINE_ACTOR, "task_cancelled", row.element_id, {"task_id": task_id})

    def _instance_view(self, session: Session, instance: ProcessInstance) -> dict:
        tasks = session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
            .order_by(HumanTask.created_at)
        ).scalars()
        return views.instance_detail(instance, list(tasks))

    def get_instance(self, instance_id: str, by: Principal | None = None) -> dict:
        by = by or Principal.system()
        with self.reading() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            self._require_reach(session, by, instance.org_code)
            return self._instance_view(session, instance)

    def _require_reach(self, session: Session, by: Principal, org_code: str) -> None:
        """Readers see instances at or below the units where they hold a role, or above them (their superiors)."""
        if by.is_system:
            return
        for holding in by.person.holdings:
            if org.is_within(session, org_code, holding.org_code):
                return
        raise NotAllowed(f"{by.username} may not see instances of org unit {org_code}.")

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
            if not by.is_system and not any(
                h.role == ADMIN and org.is_within(session, instance.org_code, h.org_code) for h in by.person.holdings
            ):
                raise NotAllowed(f"Only an admin may {action} an instance.")
            actor = by.actor(ADMIN, instance.org_code)
            audit = AuditLog(session)
            if instance.status in ENDED:
                raise Conflict(f"The instance is already {instance.status}; it cannot {action}.")
            if action == "suspend":
                if instance.status == SUSPENDED:
                    raise Conflict("The instance is already suspended.")
                instance.status = SUSPENDED
            elif action == "resume":
                if instance.status != SUSPENDED:
                    raise Conflict("Only a suspended instance can be resumed.")
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
                self.store.save(session, instance, live)
                self._keep_after_commit(session, instance, live)
            elif action == "retry":
                if instance.status != FAILED:
                    raise Conflict("Only a failed instance can be retried.")
                live = self.store.load(session, instance)
                retried = runtime.retry_failed(live.workflow, data["variables"])
                instance.status = RUNNING
                instance.error = None
                audit.append_instance(instance, actor, "instance_retried", data={"elements": retried} | data)
                definition = session.get(ProcessDefinition, instance.definition_id)
                self._advance(session, instance, live, definition, audit)
                return self._instance_view(session, instance)
            instance.updated_at = utcnow()
            audit.append_instance(instance, actor, LIFECYCLE_ACTIONS[action], data=data)
            if action != "cancel":
                self._bump_cached_version(session, instance)
            return self._instance_view(session, instance)

    # --- human tasks ---------------------------------------------------------------------------

    def _task_instance_id(self, task_id: str) -> str:
        with self.reading() as session:
            task = session.get(HumanTask, task_id)
            if task is None:
                raise NotFound(f"There is no task {task_id}.")
            return task.instance_id

    def _open_task(self, session: Session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"There is no task {task_id}.")
        if task.status == COMPLETED:
            by = task.completed_by or "someone"
            at = task.completed_at.strftime("%Y-%m-%d %H:%M") if task.completed_at else ""
            raise TaskClosed(f"The task “{task.name}” was already completed by {by} at {at}.".replace(" at .", "."))
        if task.status == CANCELLED:
            raise TaskClosed(f"The task “{task.name}” was withdrawn by the process and needs no action.")
        return task

    def _authorize_task(self, by: Principal, task: HumanTask) -> Actor:
        if by.is_system:
            return by.actor(task.role, task.org_code)
        if task.role is None:
            if any(h.org_code == task.org_code for h in by.person.holdings):
                return by.actor(None, task.org_code)
        elif by.person.holds(task.role, task.org_code):
            return by.actor(task.role, task.org_code)
        who = task.role or "officials"
        raise NotAllowed(f"{by.username} is not a candidate for “{task.name}”: it is for {who} of {task.org_code}.")

    def _check_instance_active(self, instance: ProcessInstance) -> None:
        if instance.status == SUSPENDED:
            raise Conflict("The instance is suspended; its tasks cannot be worked until it is resumed.")
        if instance.status in ENDED:
            raise TaskClosed(f"The instance is {instance.status}.")

    def claim(self, task_id: str, by: Principal) -> dict:
        return self._assign(task_id, by, claim=True)

    def unclaim(self, task_id: str, by: Principal) -> dict:
        return self._assign(task_id, by, claim=False)

    def _assign(self, task_id: str, by: Principal, claim: bool) -> dict:
        instance_id = self._task_instance_id(task_id)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            task = self._open_task(session, task_id)
            actor = self._authorize_task(by, task)
            self._check_instance_active(instance)
            if claim:
                if task.assignee == by.username:
                    return views.task_summary(task)
                if task.assignee is not None:
                    raise Conflict(f"The task “{task.name}” is already claimed by {task.assignee}.")
                task.assignee, task.claimed_at = by.username, utcnow()
            else:
                if task.assignee is None:
                    return views.task_summary(task)
                if task.assignee != by.username and not by.is_system:
                    raise Conflict(f"The task “{task.name}” is claimed by {task.assignee}, not by {by.username}.")
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
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise RuleBroken("The task data must be a JSON object.")
        instance_id = self._task_instance_id(task_id)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            task = self._open_task(session, task_id)
            actor = self._authorize_task(by, task)
            self._check_instance_active(instance)
            if task.assignee is not None and task.assignee != by.username and not by.is_system:
                raise Conflict(f"The task “{task.name}” is claimed by {task.assignee}.")
            definition = session.get(ProcessDefinition, instance.definition_id)
            values = self._validate_form(session, definition, task, data)
            live = self.store.load(session, instance)
            runtime.complete_user_task(live.workflow, task.id, values)
            task.status, task.completed_at, task.completed_by = COMPLETED, utcnow(), by.username
            task.assignee = task.assignee or by.username
            audit = AuditLog(session)
            audit.append_instance(
                instance, actor, "task_completed", task.element_id, {"task_id": task.id, "data": values}
            )
            self._advance(session, instance, live, definition, audit)
            next_tasks = session.execute(
                select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
            ).scalars()
            return {
                "instance": {"id": instance.id, "status": instance.status, "error": instance.error},
                "next_tasks": [views.task_summary(t) for t in next_tasks],
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
                raise NotFound(f"There is no task {task_id}.")
            instance = session.get(ProcessInstance, task.instance_id)
            self._require_reach(session, by, task.org_code or instance.org_code)
            definition = session.get(ProcessDefinition, instance.definition_id)
            form = None
            data: dict[str, Any] = {}
            if task.form_key and task.form_key in definition.forms:
                compiled = self.forms.get(session, definition.forms[task.form_key])
                form = compiled.schema
                data = compiled.prefill(instance.variables)
            return views.task_detail(task, form, data)

    def list_tasks(
        self,
        by: Principal,
        scope: str = "mine",
        status: str = OPEN,
        process_key: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """Tasks of one official: mine (assigned to me), candidate (my roles, unclaimed), all (both)."""
        with self.reading() as session:
            query = select(HumanTask).where(HumanTask.status == status)
            if process_key:
                query = query.where(HumanTask.process_key == process_key)
            if by.is_system:
                rows = session.execute(query.order_by(HumanTask.created_at).limit(limit)).scalars()
                return [views.task_summary(t) for t in rows]
            from sqlalchemy import and_, or_

            holdings = [
                and_(HumanTask.role == h.role, HumanTask.org_code == h.org_code)
                for h in by.person.holdings
                if h.role in LANE_ROLES
            ]
            mine = HumanTask.assignee == by.username
            candidate = and_(or_(*holdings), HumanTask.assignee.is_(None)) if holdings else None
            if status != OPEN:
                cond = or_(HumanTask.completed_by == by.username, mine)
            elif scope == "mine":
                cond = mine
            elif scope == "candidate":
                if candidate is None:
                    return []
                cond = candidate
            elif scope == "all":
                cond = or_(mine, candidate) if candidate is not None else mine
            else:
                raise RuleBroken("scope must be mine, candidate or all.")
            rows = session.execute(query.where(cond).order_by(HumanTask.created_at).limit(limit)).scalars()
            return [views.task_summary(t) for t in rows]

    # --- audit ---------------------------------------------------------------------------------

    def history(self, instance_id: str, by: Principal | None = None) -> list[dict]:
        by = by or Principal.system()
        with self.reading() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            self._require_reach(session, by, instance.org_code)
            rows = session.execute(
                select(AuditEvent).where(AuditEvent.stream == instance_id).order_by(AuditEvent.seq)
            ).scalars()
            return [views.audit_event(e) for e in rows]

    def verify_audit(self, instance_id: str | None = None) -> Verification:
        with self.reading() as session:
            return verify(session, instance_id)


def _org_dict(unit: OrgUnit) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent": unit.parent_code,
        "kind": unit.kind,
    }


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return text.strip().splitlines()[0][:200]
