"""Timer start events: a process version whose start event waits for a timer (the yearly agenda, the
yearly size review) gets a `start_timer` job when it is deployed. When it falls due the worker starts one
instance for every org unit that works the start event's lane (a residents_committee lane: every
committee), outside any lane one for the city, and schedules the next round of a cycle.

Deploying a new version of the process moves its start timers to the new version.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import deployments, org, views, waits
from engine.audit import ENGINE_ACTOR, AuditLog
from engine.commands.instances import InstanceCommands
from engine.errors import NotFound, RuleBroken
from engine.models import Blob, Job, ProcessDefinition, utcnow
from engine.spiff import starts, timers
from engine.waits import INCIDENT, RETRYING, START_TIMER, WAITING


class StartTimerCommands(InstanceCommands):
    def _deployed(self, session: Session, deployment_id: str) -> None:
        super()._deployed(session, deployment_id)
        new = session.execute(
            select(ProcessDefinition).where(ProcessDefinition.deployment_id == deployment_id)
        ).scalars()
        for definition in list(new):
            self._schedule_start_timers(session, definition)

    def _schedule_start_timers(self, session: Session, definition: ProcessDefinition) -> None:
        older = select(ProcessDefinition.id).where(
            ProcessDefinition.key == definition.key, ProcessDefinition.id != definition.id
        )
        session.execute(delete(Job).where(Job.kind == START_TIMER, Job.definition_id.in_(older)))
        spec, _ = self.store.spec_for(session, definition)
        timed = [s for s in starts.start_event_specs(spec) if s.kind == "timer"]
        if not timed:
            return
        xml = session.get(Blob, definition.bpmn_sha256).content
        roles = deployments.lane_roles(xml, definition.key)
        now = utcnow()
        for start in timed:
            value = self._start_timer_value(start)
            try:
                first = timers.first_due(value, now)
            except ValueError as exc:
                raise RuleBroken(f"The timer start event {start.element_id} cannot be scheduled: {exc}.") from exc
            if first is None:
                continue  # every round of its cycle is over: it starts nothing
            due, rounds = first
            session.add(
                Job(
                    id=str(uuid.uuid4()),
                    instance_id=None,
                    definition_id=definition.id,
                    kind=START_TIMER,
                    element_id=start.element_id,
                    status=WAITING,
                    due_at=due,
                    attempts=0,
                    payload={"value": value, "rounds": rounds, "role": roles.get(start.element_id)},
                    created_at=now,
                )
            )

    def _start_timer_value(self, start: starts.StartEventSpec) -> str:
        """The ISO text of a timer start event: its (quoted) value, or what its expression gives now."""
        expression = start.expression or ""
        value = timers.string_literal(expression)
        if value is None:
            try:
                value = self.script_engine.environment.evaluate(expression, {})
            except Exception as exc:  # noqa: BLE001 - the designer's expression, reported at deploy
                raise RuleBroken(f"The expression of the timer start event {start.element_id} failed: {exc}.") from exc
        if not isinstance(value, str):
            raise RuleBroken(f"The timer start event {start.element_id} gives {value!r}, not an ISO 8601 text.")
        return value

    def _run_start_timer(self, session: Session, row: Job) -> str:
        """Start the instances of a due timer start event and schedule its next round (one transaction)."""
        definition = session.get(ProcessDefinition, row.definition_id)
        if definition is None:
            raise NotFound(f"The process version {row.definition_id} of this timer is gone.")
        started = []
        for unit in org.units_working(session, row.payload.get("role")):
            instance = self._create_instance(
                session,
                definition,
                unit,
                ENGINE_ACTOR,
                "engine",
                None,
                {},
                begin=starts.begin_with_timer(row.element_id),
                started_data={"start_timer": row.element_id, "due_at": views.iso(row.due_at)},
            )
            started.append(instance.id)
        AuditLog(session).append_system(
            ENGINE_ACTOR,
            "start_timer_fired",
            row.element_id,
            {"process": definition.id, "due_at": views.iso(row.due_at), "instances": started},
        )
        self._schedule_next_round(session, row)
        return f"started {len(started)} instances of {definition.key}"

    def _schedule_next_round(self, session: Session, row: Job) -> None:
        value, rounds = row.payload.get("value") or "", row.payload.get("rounds", 0)
        following = timers.next_due(value, row.due_at) if rounds != 0 else None
        if following is None:
            session.delete(row)
            return
        row.due_at, row.status, row.attempts, row.last_error = following, WAITING, 0, None
        row.locked_by = row.locked_until = None
        row.payload = row.payload | {"rounds": rounds - 1 if rounds > 0 else rounds}

    def _record_start_timer_failure(self, row_id: str, message: str) -> str:
        """A failed start timer: retried after a back-off, then an incident on the system stream."""
        with self.transaction() as session:
            row = waits.locked_job(session, row_id, self.dialect)
            if row is None:
                return "skipped"
            row.attempts += 1
            row.last_error = message
            row.locked_by = row.locked_until = None
            data = {"job_id": row.id, "process": row.definition_id, "attempt": row.attempts, "error": message}
            if row.attempts >= self.settings.job_max_attempts:
                row.status = INCIDENT
                AuditLog(session).append_system(ENGINE_ACTOR, "incident_raised", row.element_id, data)
                return "incident"
            row.status = RETRYING
            row.due_at = waits.retry_at(self.settings.job_backoff, row.attempts)
            AuditLog(session).append_system(ENGINE_ACTOR, "job_failed", row.element_id, data)
            return "retrying"
