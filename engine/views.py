"""The shapes the REST API and the CLI's --json print (API.md), built from rows."""

from __future__ import annotations

from datetime import datetime

from engine.models import AuditEvent, HumanTask, OrgUnit, ProcessDefinition, ProcessInstance


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def task_summary(task: HumanTask) -> dict:
    return {
        "id": task.id,
        "name": task.name,
        "element_id": task.element_id,
        "instance_id": task.instance_id,
        "process_key": task.process_key,
        "business_key": task.business_key,
        "status": task.status,
        "assignee": task.assignee,
        "candidate": {"role": task.role, "org_unit": task.org_code},
        "due_at": iso(task.due_at),
        "created_at": iso(task.created_at),
    }


def task_detail(task: HumanTask, form: dict | None, data: dict) -> dict:
    return task_summary(task) | {
        "why": task.why,
        "form": {"key": task.form_key, "schema": form} if task.form_key else None,
        "data": data,
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
    }


def instance_summary(instance: ProcessInstance) -> dict:
    return {
        "id": instance.id,
        "status": instance.status,
        "process_key": instance.process_key,
        "version": instance.process_version,
        "org_unit": instance.org_code,
        "business_key": instance.business_key,
        "started_by": instance.started_by,
        "started_at": iso(instance.started_at),
        "ended_at": iso(instance.ended_at),
    }


def instance_detail(instance: ProcessInstance, tasks: list[HumanTask]) -> dict:
    return instance_summary(instance) | {
        "variables": instance.variables,
        "error": instance.error,
        "tasks": [task_summary(t) for t in tasks],
    }


def definition_summary(definition: ProcessDefinition) -> dict:
    return {
        "key": definition.key,
        "version": definition.version,
        "name": definition.name,
        "deployment_id": definition.deployment_id,
        "deployed_at": iso(definition.deployed_at),
        "deployed_by": definition.deployed_by,
    }


def audit_event(event: AuditEvent) -> dict:
    return {
        "instance_id": event.instance_id,
        "stream": event.stream,
        "seq": event.seq,
        "at": iso(event.at),
        "actor": {"username": event.actor, "role": event.actor_role, "org_unit": event.actor_org},
        "action": event.action,
        "element_id": event.element_id,
        "data": event.data,
        "hash": event.hash,
        "prev_hash": event.prev_hash,
    }


def org_unit(unit: OrgUnit) -> dict:
    return {"code": unit.code, "name": unit.name, "level": unit.level, "parent": unit.parent_code, "kind": unit.kind}
