"""Jobs an admin runs by hand: firing a waiting timer now."""

from __future__ import annotations

from engine import reach, views
from engine.audit import AuditLog
from engine.commands.instances import InstanceCommands
from engine.errors import Conflict, NotAllowed
from engine.models import ProcessDefinition
from engine.principal import Principal
from engine.roles import ADMIN
from engine.spiff import timer_jobs


class JobCommands(InstanceCommands):
    def execute_job(self, instance_id: str, job_id: str, by: Principal | None = None) -> dict:
        """Fire a waiting timer of the instance now (admins); the instance runs on from it."""
        by = by or Principal.system()
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if not reach.reaches(session, by, instance.org_path, {ADMIN}):
                raise NotAllowed("Only an admin may fire a job by hand.")
            if instance.status != "running":
                raise Conflict(f"The instance is {instance.status}; its jobs do not run.")
            live = self.store.load(session, instance)
            fired = timer_jobs.fire_now(live.workflow, job_id)
            audit = AuditLog(session)
            audit.append_instance(
                instance,
                by.actor(ADMIN, instance.org_code),
                "job_executed",
                fired.element_id,
                {"job_id": job_id, "kind": "timer", "due_at": views.iso(fired.due_at)},
            )
            definition = session.get(ProcessDefinition, instance.definition_id)
            self._advance(session, instance, live, definition, audit)
            return {
                "id": job_id,
                "element_id": fired.element_id,
                "kind": "timer",
                "due_at": views.iso(fired.due_at),
                "attempts": 1,
                "last_error": None,
            }
