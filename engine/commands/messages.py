"""BPMN messages: to one instance by id, by correlation (business key or process variables), thrown by
one process to another (through a `message` job), and message start events that create instances."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import deployments, org
from engine.audit import ENGINE_ACTOR, Actor, AuditLog
from engine.commands.base import RUNNING
from engine.commands.instances import InstanceCommands
from engine.errors import Conflict, NotAllowed, RuleBroken
from engine.models import Job, MessageSubscription, OrgUnit, ProcessDefinition, ProcessInstance
from engine.principal import Principal
from engine.roles import ADMIN, LANE_ROLES
from engine.spiff import runtime, starts


def _check_message(name: object, payload: object) -> dict:
    if not isinstance(name, str) or not name.strip():
        raise RuleBroken("A message needs a name.")
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        raise RuleBroken("The message payload must be a JSON object.")
    return payload


class MessageCommands(InstanceCommands):
    def deliver_message(self, instance_id: str, name: str, payload: dict | None, by: Principal) -> dict:
        """Hand a message to the catch event waiting for it; the instance runs to its next wait state.

        Admins, and officials holding a role at the instance's org unit or above, may send. Nothing
        waiting for that name is a Conflict, and nothing changes.
        """
        payload = _check_message(name, payload)
        with self.live.instance_lock(instance_id), self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            actor = self._sender(session, by, instance)
            self._deliver(session, instance, name, payload, actor, {})
            return self._instance_view(session, instance)

    def correlate_message(
        self,
        name: str,
        correlation: dict | None,
        payload: dict | None,
        by: Principal,
        org_unit: str | None = None,
        business_key: str | None = None,
    ) -> tuple[dict, bool]:
        """`POST /messages`: deliver to the one running instance the correlation names (its business key,
        or process variables equal to the given values), else start the processes whose start event
        catches the message. (view of the instance, whether it was started); Conflict when nothing
        waits for it, or when the correlation fits more than one instance."""
        payload = _check_message(name, payload)
        correlation = {} if correlation is None else correlation
        if not isinstance(correlation, dict):
            raise RuleBroken("The correlation must be a JSON object (business_key, or process variables).")
        target = self._correlated(name, correlation)
        if target is not None:
            return self.deliver_message(target, name, payload, by), False
        with self.transaction() as session:
            starting = self._message_starts(session, name)
            if not starting:
                raise Conflict(_nothing_waits(name, correlation))
            unit = self._sending_unit(session, by, org_unit)
            actor = self._starter(session, by, unit)
            key = business_key or correlation.get("business_key")
            first = None
            for definition, element_id in starting:
                instance = self._create_instance(
                    session,
                    definition,
                    unit,
                    actor,
                    by.username,
                    str(key) if key is not None else None,
                    {},
                    begin=runtime.begin_with_message(name, payload),
                    started_data={"message": name, "start_event": element_id},
                )
                first = first or instance
            return self._instance_view(session, first), True

    # --- finding the receiver ----------------------------------------------------------------------

    def _correlated(self, name: str, correlation: dict, exclude: str | None = None) -> str | None:
        with self.reading() as session:
            return self._correlate(session, name, correlation, exclude)

    def _correlate(self, session: Session, name: str, correlation: dict, exclude: str | None = None) -> str | None:
        """The id of the one running instance that waits for `name` and fits the correlation, or None."""
        query = (
            select(MessageSubscription.instance_id, ProcessInstance.variables)
            .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
            .where(MessageSubscription.name == name, ProcessInstance.status == RUNNING)
        )
        if "business_key" in correlation:
            query = query.where(MessageSubscription.business_key == str(correlation["business_key"]))
        if "instance_id" in correlation:
            query = query.where(MessageSubscription.instance_id == str(correlation["instance_id"]))
        if exclude is not None:
            query = query.where(MessageSubscription.instance_id != exclude)
        properties = {k: v for k, v in correlation.items() if k not in ("business_key", "instance_id")}
        by_value = {}  # compared in Python too: the SQL narrows, the exact JSON value decides
        for key, value in properties.items():
            stored = ProcessInstance.variables[key]
            if isinstance(value, bool):
                query = query.where(stored.as_boolean() == value)
            elif isinstance(value, int):
                query = query.where(stored.as_integer() == value)
            elif isinstance(value, float):
                query = query.where(stored.as_float() == value)
            elif isinstance(value, str):
                query = query.where(stored.as_string() == value)
            else:
                by_value[key] = value
        found = [
            instance_id
            for instance_id, variables in session.execute(query if by_value else query.limit(1001))
            if all((variables or {}).get(k) == v for k, v in properties.items())
        ][:1001]
        if len(found) > 1:
            raise Conflict(
                f"{len(found) if len(found) <= 1000 else 'More than 1000'} instances wait for message {name}"
                + (" and fit the correlation" if correlation else "")
                + "; name the instance by its business_key or by more process variables."
            )
        return found[0] if found else None

    def _message_starts(self, session: Session, name: str) -> list[tuple[ProcessDefinition, str]]:
        """The latest versions whose top-level start event catches message `name`."""
        starting = []
        for definition in deployments.latest_definitions(session):
            spec, _ = self.store.spec_for(session, definition)
            for start in starts.start_event_specs(spec):
                if start.kind == "message" and start.message == name:
                    starting.append((definition, start.element_id))
        return starting

    def _sending_unit(self, session: Session, by: Principal, code: str | None) -> OrgUnit:
        if code:
            return org.get_unit(session, code)
        units = [] if by.is_system else sorted({h.org_code for h in by.person.holdings if h.role in LANE_ROLES})
        if len(units) != 1:
            raise RuleBroken(
                "The message starts a new case: say for which org unit (org_unit), "
                + ("as you work at several." if units else "as you hold no official role at one.")
            )
        return org.get_unit(session, units[0])

    # --- delivering -----------------------------------------------------------------------------------

    def _deliver(
        self, session: Session, instance: ProcessInstance, name: str, payload: dict, actor: Actor, extra: dict
    ) -> None:
        if instance.status != RUNNING:
            raise Conflict(f"The instance is {instance.status}; it receives no messages.")
        live = self.store.load(session, instance)
        caught = runtime.deliver_message(live.workflow, name, payload)
        if not caught:
            self.live.keep(instance.id, live)  # untouched: still valid at this version
            raise Conflict(f"Nothing in this instance waits for message {name}.")
        audit = AuditLog(session)
        audit.append_instance(
            instance, actor, "message_received", caught[0], {"name": name, "payload": payload} | extra
        )
        definition = self._definition(session, instance.definition_id)
        self._advance(session, instance, live, definition, audit)

    def _deliver_thrown(self, session: Session, row: Job) -> str:
        """A message one instance threw: to the instance waiting for it, or to a new instance of a process
        that starts on it. Raises Conflict (the job is retried) while nothing waits for it."""
        message = row.payload or {}
        name, payload = message.get("name") or row.element_id, message.get("payload") or {}
        if not isinstance(payload, dict):
            payload = {"value": payload}
        correlation = {
            prop: value for key in (message.get("correlations") or {}).values() for prop, value in key.items()
        }
        if not correlation and message.get("business_key"):
            correlation = {"business_key": message["business_key"]}
        target = self._correlate(session, name, correlation, exclude=row.instance_id)
        sender = {"from_instance": row.instance_id}
        if target is not None:
            with self.live.instance_lock(target):
                receiver = self._lock_instance(session, target)
                self._deliver(session, receiver, name, payload, ENGINE_ACTOR, sender)
            session.delete(row)
            return f"delivered {name} to instance {target}"
        starting = self._message_starts(session, name)
        if not starting:
            raise Conflict(_nothing_waits(name, correlation))
        unit = org.get_unit(session, message.get("org_unit") or "")
        for definition, element_id in starting:
            self._create_instance(
                session,
                definition,
                unit,
                ENGINE_ACTOR,
                "engine",
                message.get("business_key"),
                {},
                begin=runtime.begin_with_message(name, payload),
                started_data={"message": name, "start_event": element_id} | sender,
            )
        session.delete(row)
        return f"started {', '.join(d.key for d, _ in starting)} on {name}"

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


def _nothing_waits(name: str, correlation: dict) -> str:
    fits = f" that fits {correlation}" if correlation else ""
    return f"Nothing waits for message {name}: no running instance{fits} waits for it and no process starts on it."
