"""BPMN messages delivered to a waiting instance (a meeting's result, a reply from another office)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import org
from engine.audit import Actor, AuditLog
from engine.commands.base import RUNNING
from engine.commands.instances import InstanceCommands
from engine.errors import Conflict, NotAllowed, RuleBroken
from engine.models import ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES
from engine.spiff import runtime


class MessageCommands(InstanceCommands):
    def deliver_message(self, instance_id: str, name: str, payload: dict | None, by: Principal) -> dict:
        """Hand a message to the catch event waiting for it; the instance runs to its next wait state.

        Admins, and officials holding a role at the instance's org unit or above, may send. Nothing
        waiting for that name is a Conflict, and nothing changes.
        """
        if not isinstance(name, str) or not name.strip():
            raise RuleBroken("A message needs a name.")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise RuleBroken("The message payload must be a JSON object.")
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            actor = self._sender(session, by, instance)
            if instance.status != RUNNING:
                raise Conflict(f"The instance is {instance.status}; it receives no messages.")
            live = self.store.load(session, instance)
            caught = runtime.deliver_message(live.workflow, name, payload)
            if not caught:
                self.live.keep(instance.id, live)  # untouched: still valid at this version
                raise Conflict(f"Nothing in this instance waits for message {name}.")
            audit = AuditLog(session)
            audit.append_instance(instance, actor, "message_received", caught[0], {"name": name, "payload": payload})
            definition = session.get(ProcessDefinition, instance.definition_id)
            self._advance(session, instance, live, definition, audit)
            return self._instance_view(session, instance)

    def _sender(self, session: Session, by: Principal, instance: ProcessInstance) -> Actor:
        if by.is_system:
            return by.actor(org_code=instance.org_code)
        unit = org.get_unit(session, instance.org_code)
        at_or_above = {u.code for u in org.ancestors(session, unit)}
        for holding in by.person.holdings:
            if holding.org_code in at_or_above and (holding.role in LANE_ROLES or holding.role == ADMIN):
                return by.actor(holding.role, holding.org_code)
        raise NotAllowed(
            f"{by.username} may not send messages to instances of {unit.name}: "
            "only its officials, officials above it and admins may."
        )
