"""Moving running instances to a newer version of their process: a dry run that says, per instance, what
would happen (ok, or blocked and why), and the migration itself, one command per instance.

A migrated instance is pinned to the new definition; its task rows are written afresh, its open user tasks
take the new version's name, form and role, its jobs and message waits follow the new waits, and the move
is audited (`instance_migrated`). Instances that are completed or cancelled are never moved.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import deployments, org, reach, waits
from engine.audit import AuditLog
from engine.commands.base import CANCELLED, COMPLETED, OPEN, RUNNING
from engine.commands.deploying import require_designer
from engine.commands.instances import InstanceCommands
from engine.errors import NotAllowed, NotFound, RuleBroken
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, WorkflowTask, utcnow
from engine.principal import Principal
from engine.roles import ADMIN, DESIGNER
from engine.spiff import migration, runtime
from engine.spiff.serialization import collect_changes, new_ledger, restore_workflow, workflow_state
from engine.store import LiveWorkflow

MIGRATED, BLOCKED, OK = "migrated", "blocked", "ok"


class MigrationCommands(InstanceCommands):
    def migrate_instances(
        self,
        process_key: str,
        by: Principal,
        to_version: int | None = None,
        from_version: int | None = None,
        instance_ids: list[str] | None = None,
        dry_run: bool = True,
    ) -> dict:
        """Every unfinished instance of the process on an older version (or those named), moved to
        `to_version` (default: the latest), or with `dry_run` only what would happen to each."""
        require_designer(by)
        with self.reading() as session:
            target = deployments.find_definition(session, process_key, to_version)
            query = select(ProcessInstance.id).where(
                ProcessInstance.process_key == process_key,
                ProcessInstance.status.not_in([COMPLETED, CANCELLED]),
                ProcessInstance.process_version != target.version,
            )
            if from_version is not None:
                query = query.where(ProcessInstance.process_version == from_version)
            if instance_ids:
                query = query.where(ProcessInstance.id.in_(instance_ids))
            found = list(session.execute(query.order_by(ProcessInstance.started_at)).scalars())
        if instance_ids:
            missing = sorted(set(instance_ids) - set(found))
            if missing:
                raise NotFound(
                    f"No unfinished instance of {process_key} on another version than {target.version}: "
                    f"{', '.join(missing[:5])}."
                )
        outcomes = [self.migrate_instance(i, target.version, by, dry_run=dry_run) for i in found]
        counts = {word: sum(1 for o in outcomes if o["outcome"] == word) for word in (OK, MIGRATED, BLOCKED)}
        return {
            "process_key": process_key,
            "to_version": target.version,
            "dry_run": dry_run,
            "instances": outcomes,
            "counts": counts,
        }

    def migrate_instance(self, instance_id: str, to_version: int, by: Principal, dry_run: bool = False) -> dict:
        """One instance: what would happen (dry run), or the move itself in one transaction."""
        require_designer(by)
        if dry_run:
            with self.reading() as session:
                instance, target = self._migration_subjects(session, instance_id, to_version, by)
                live = self._fresh_workflow(session, instance)
                return self._trial(session, instance, live, target)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance, target = self._migration_subjects(session, instance_id, to_version, by, lock=True)
            self.live.forget(instance_id)
            live = self._fresh_workflow(session, instance)
            spec, subprocess_specs = self.store.spec_for(session, target)
            plan = migration.plan(live.workflow, spec, subprocess_specs)
            if not plan.ok:
                return self._outcome(instance, target, plan, BLOCKED)
            migration.migrate(live.workflow, spec, subprocess_specs)
            self._pin(session, instance, live, target, plan, by)
            return self._outcome(instance, target, plan, MIGRATED, before=instance.process_version)

    def _migration_subjects(
        self, session: Session, instance_id: str, to_version: int, by: Principal, lock: bool = False
    ) -> tuple[ProcessInstance, ProcessDefinition]:
        instance = self._lock_instance(session, instance_id) if lock else session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.")
        if not by.is_system and not reach.reaches(session, by, instance.org_path, {DESIGNER, ADMIN}):
            raise NotAllowed(f"{by.username} may not move the cases of org unit {instance.org_code}.")
        target = deployments.find_definition(session, instance.process_key, to_version)
        if instance.status in (COMPLETED, CANCELLED):
            raise RuleBroken(f"The instance is {instance.status}; only unfinished instances move to a new version.")
        if target.version == instance.process_version:
            raise RuleBroken(f"The instance already runs on version {target.version}.")
        return instance, target

    def _fresh_workflow(self, session: Session, instance: ProcessInstance) -> LiveWorkflow:
        """The workflow restored from its rows, never the cached copy: a migration changes it in place."""
        self.live.forget(instance.id)
        return self.store.load(session, instance)

    def _trial(
        self, session: Session, instance: ProcessInstance, live: LiveWorkflow, target: ProcessDefinition
    ) -> dict:
        """The dry run: the plan, then the move made on a copy and stored and restored, to be sure it holds."""
        spec, subprocess_specs = self.store.spec_for(session, target)
        plan = migration.plan(live.workflow, spec, subprocess_specs)
        if not plan.ok:
            return self._outcome(instance, target, plan, BLOCKED)
        try:
            migration.migrate(live.workflow, spec, subprocess_specs)
            changes = collect_changes(live.workflow, new_ledger())
            state = workflow_state(live.workflow)
            restore_workflow(spec, subprocess_specs, state, changes.inserted, self.script_engine)
        except Exception as exc:  # noqa: BLE001 - whatever SpiffWorkflow raises, the case stays where it is
            plan.obstacles.append(
                migration.Obstacle(
                    "engine-refused",
                    "",
                    "",
                    f"The engine could not move this case ({exc.__class__.__name__}: {str(exc)[:200]}).",
                )
            )
            return self._outcome(instance, target, plan, BLOCKED)
        return self._outcome(instance, target, plan, OK)

    def _pin(
        self,
        session: Session,
        instance: ProcessInstance,
        live: LiveWorkflow,
        target: ProcessDefinition,
        plan: migration.Plan,
        by: Principal,
    ) -> None:
        """Pin the instance to the new definition and write everything that follows from the move."""
        before = instance.process_version
        instance.definition_id, instance.process_version = target.id, target.version
        session.execute(delete(WorkflowTask).where(WorkflowTask.instance_id == instance.id))
        # Every task row is written afresh; the next projection searches the open rows.
        live.ledger, live.waits, live.open_tasks, live.task_rows = new_ledger(), None, None, None
        audit = AuditLog(session)
        holding = reach.reaching(session, by, instance.org_path, {DESIGNER, ADMIN})
        actor = by.actor(holding.role if holding else DESIGNER, instance.org_code)
        audit.append_instance(
            instance,
            actor,
            "instance_migrated",
            data={
                "from_version": before,
                "to_version": target.version,
                "active": plan.active,
                "changed": plan.changed_active,
            },
        )
        self._reproject_open_tasks(session, instance, live, target)
        if instance.status == RUNNING:
            self._advance(session, instance, live, target, audit)
            return
        # Suspended or failed: nothing runs until an admin resumes or retries it.
        self._sync_human_tasks(session, instance, live, target, audit)
        waits.sync_waits(session, instance, live, audit, [])
        instance.updated_at = utcnow()
        self.store.save(session, instance, live)
        session.flush()
        self._keep_after_commit(session, instance, live)

    def _reproject_open_tasks(
        self, session: Session, instance: ProcessInstance, live: LiveWorkflow, target: ProcessDefinition
    ) -> None:
        """Open user tasks take the new version's name, form and role; due dates are worked out again."""
        ready = {t.id: t for t in runtime.ready_user_tasks(live.workflow)}
        unit = None
        for row in session.execute(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == OPEN)
        ).scalars():
            row.due_at = None  # sync_waits sets it again from the boundary timers the new version has
            task = ready.get(row.id)
            if task is None:
                continue  # no longer ready: _sync_human_tasks cancels the row
            info = target.user_tasks.get(row.element_id, {})
            row.name = task.name
            row.form_key = info.get("form_key") or task.form_key
            role = info.get("role")
            if role and role != row.role:
                unit = unit or org.get_unit(session, instance.org_code)
                candidate = org.resolve_candidate(session, role, unit, None)
                row.role, row.org_code, row.org_path, row.why = (
                    candidate.role,
                    candidate.org_code,
                    candidate.org_path,
                    candidate.why,
                )
                row.assignee = row.claimed_at = None

    def _outcome(
        self,
        instance: ProcessInstance,
        target: ProcessDefinition,
        plan: migration.Plan,
        outcome: str,
        before: int | None = None,
    ) -> dict:
        return {
            "instance_id": instance.id,
            "business_key": instance.business_key,
            "org_unit": instance.org_code,
            "status": instance.status,
            "from_version": before if before is not None else instance.process_version,
            "to_version": target.version,
            "outcome": outcome,
            "active": plan.active,
            "changed": plan.changed_active,
            "reasons": [o.as_dict() for o in plan.obstacles],
        }
