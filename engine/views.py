"""The shapes the REST API and the CLI's --json print (API.md), built from rows."""

from __future__ import annotations

from datetime import datetime

from engine.models import (
    AuditEvent,
    HumanTask,
    Job,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    TaskComment,
    UserAccount,
    utcnow,
)


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
        "owner": task.owner,
        "delegation": task.delegation,
        "priority": task.priority,
        "urged_count": task.urged_count,
        "candidate": {"role": task.role, "org_unit": task.org_code},
        "due_at": iso(task.due_at),
        "overdue": task.status == "open" and task.due_at is not None and task.due_at <= utcnow(),
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


def instance_detail(instance: ProcessInstance, tasks: list[HumanTask], incidents: list[Job] | None = None) -> dict:
    return instance_summary(instance) | {
        "variables": instance.variables,
        "error": instance.error,
        "tasks": [task_summary(t) for t in tasks],
        "incidents": [incident(j) for j in incidents or []],
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


def user_account(user: UserAccount, roles: list[dict]) -> dict:
    """A user as admins see them: whether enabled, and every role held with its org unit."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "active": user.active,
        "roles": roles,
        "created_at": iso(user.created_at),
    }


def org_unit(unit: OrgUnit) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent": unit.parent_code,
        "kind": unit.kind,
        "status": unit.status or "active",
        "successor": unit.successor_code,
    }


def inbox_item(task: HumanTask) -> dict:
    """A task summary with what the inbox sorts and marks by (priority, urges, delegation)."""
    return task_summary(task) | {
        "owner": task.owner,
        "delegation": task.delegation,
        "priority": task.priority,
        "urged_count": task.urged_count,
    }


def task_record(task: HumanTask) -> dict:
    """Everything the work queue holds about a task, for case exports."""
    return inbox_item(task) | {
        "why": task.why,
        "form_key": task.form_key,
        "claimed_at": iso(task.claimed_at),
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
        "last_urged_at": iso(task.last_urged_at),
    }


def case_comment(comment: TaskComment) -> dict:
    return {
        "id": comment.id,
        "task_id": comment.task_id,
        "element_id": comment.element_id,
        "kind": comment.kind,
        "text": comment.text,
        "at": iso(comment.at),
        "author": {"username": comment.username, "role": comment.role, "org_unit": comment.org_code},
    }


def definition_detail(definition: ProcessDefinition) -> dict:
    return definition_summary(definition) | {
        "bpmn_sha256": definition.bpmn_sha256,
        "user_tasks": definition.user_tasks,
        "forms": definition.forms,
        "sequence_flows": definition.sequence_flows,
    }


def case_export(
    instance: ProcessInstance,
    definition: ProcessDefinition,
    tasks: list[HumanTask],
    events: list[AuditEvent],
    comments: list[TaskComment],
    bpmn_xml: str | None = None,
) -> dict:
    """The whole case as JSON: what an auditor files, with the head of its audit chain and the BPMN it ran on."""
    return {
        "instance": instance_summary(instance) | {"variables": instance.variables, "error": instance.error},
        "definition": {
            "key": definition.key,
            "version": definition.version,
            "name": definition.name,
            "bpmn_sha256": definition.bpmn_sha256,
            "bpmn_xml": bpmn_xml,
        },
        "tasks": [task_record(t) for t in tasks],
        "events": [audit_event(e) for e in events],
        "comments": [case_comment(c) for c in comments],
        "chain_head": instance.audit_head,
    }


# --- jobs (time and events) ---------------------------------------------------------------------------


def job(row: Job) -> dict:
    """A waiting timer, a message on its way, or a timer start event: when, how often tried, last error."""
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "process": row.definition_id,
        "element_id": row.element_id,
        "name": (row.payload or {}).get("name"),
        "kind": row.kind,
        "status": row.status,
        "due_at": iso(row.due_at),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "locked_by": row.locked_by if row.locked_until is not None and row.locked_until > utcnow() else None,
    }


def incident(row: Job) -> dict:
    """A job that failed every attempt, as the instance shows it until an admin retries or cancels."""
    return {
        "job_id": row.id,
        "element_id": row.element_id,
        "kind": row.kind,
        "error": row.last_error,
        "attempts": row.attempts,
    }
