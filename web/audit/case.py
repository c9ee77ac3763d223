"""One case as an auditor reads it: the diagram with the path taken, every audit event on a timeline
(who, in which role and unit, did what, with which data, how long it took, whether it was late), the
chain verified on demand, and the case exported: signed JSON and CSV, and the printable case file."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response, render_template, request
from markupsafe import Markup

from engine.models import utcnow
from web import i18n
from web.audit.access import auditors_only
from web.audit.diagram_svg import diagram_svg
from web.case import TIMELINE_ACTIONS
from web.workspace import bp, engine, me, page

# Submitted data shown on a timeline entry: at most this many fields, each cut to this many characters.
SHOWN_FIELDS, SHOWN_CHARS = 12, 300


def duration_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return i18n.t("audit.duration.seconds", n=int(seconds))
    if minutes < 60:
        return i18n.t("audit.duration.minutes", n=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return i18n.t("audit.duration.hours", h=hours, m=minutes)
    return i18n.t("audit.duration.days", d=hours // 24, h=hours % 24)


def action_text(event: dict, step: str, names: dict[str, str]) -> str:
    data = event.get("data") or {}
    to = data.get("to")
    to_names = ", ".join(names.get(u, str(u)) for u in ([to] if isinstance(to, str) else list(to or [])))
    action = event["action"]
    key = f"timeline.{action}" if action in TIMELINE_ACTIONS else f"audit.action.{action}"
    return i18n.t_or(key, action, step=step, to=to_names, target=data.get("to_element") or "")


def submitted(event: dict) -> list[tuple[str, str]]:
    """What the actor submitted, as key: value lines (a completed step's form data, a message's payload)."""
    data = event.get("data") or {}
    values = data.get("data") if event["action"] == "task_completed" else data.get("payload")
    if not isinstance(values, dict):
        return []
    lines = []
    for key, value in list(values.items())[:SHOWN_FIELDS]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append((str(key), text[:SHOWN_CHARS]))
    return lines


def case_context(instance_id: str) -> dict[str, Any]:
    by = me()
    case = engine().export_case(instance_id, by)
    instance = case["instance"]
    definition = engine().get_definition(instance["process_key"], instance["version"])
    path = engine().path(instance_id, by)
    events = case["events"]
    tasks = {t["id"]: t for t in case["tasks"]}
    steps = {element: info.get("name") or element for element, info in definition["user_tasks"].items()}
    for event in events:
        name = (event.get("data") or {}).get("name")
        if event.get("element_id") and isinstance(name, str) and name:
            steps.setdefault(event["element_id"], name)
    names = engine().display_names(
        [e["actor"]["username"] for e in events]
        + [u for e in events for u in _listed((e.get("data") or {}).get("to"))]
        + [instance["started_by"]]
    )
    units = engine().org_unit_names([e["actor"]["org_unit"] for e in events] + [instance["org_unit"]])
    created_at: dict[str, datetime] = {}
    closed_at = _cancellations(events, instance)
    timeline = []
    for index, event in enumerate(events):
        data = event.get("data") or {}
        at = datetime.fromisoformat(event["at"])
        task = tasks.get(data.get("task_id") or "")
        if event["action"] == "task_created" and data.get("task_id"):
            created_at[data["task_id"]] = at
        took = None
        if event["action"] == "task_completed" and data.get("task_id") in created_at:
            took = duration_text((at - created_at[data["task_id"]]).total_seconds())
        due = datetime.fromisoformat(task["due_at"]) if task and task.get("due_at") else None
        late = lateness(event["action"], task, at, due, closed_at)
        actor = event["actor"]
        element = event.get("element_id") or ""
        timeline.append(
            {
                "index": index,
                "seq": event["seq"],
                "at": i18n.when(event["at"], with_year=True),
                "at_iso": event["at"],
                "who": i18n.t("people.process")
                if actor["username"] == "engine"
                else names.get(actor["username"], actor["username"]),
                "username": actor["username"],
                "role": i18n.role_label(actor["role"]) if actor.get("role") else "",
                "unit": units.get(actor.get("org_unit") or "", actor.get("org_unit") or ""),
                "action": event["action"],
                "text": action_text(event, steps.get(element, element), names),
                "element_id": element,
                "data": submitted(event),
                "comment": data.get("reason") or data.get("comment") or data.get("text") or data.get("note") or "",
                "took": took,
                "late": late,
                "due": i18n.when(due, with_year=True) if due else "",
                "hash": event["hash"],
            }
        )
    return {
        "case": case,
        "instance": instance,
        "procedure": definition["name"],
        "unit": units.get(instance["org_unit"], instance["org_unit"]),
        "starter": names.get(instance["started_by"], instance["started_by"]),
        "path": path,
        "timeline": timeline,
        "replay": [{"element": e.get("element_id"), "action": e["action"]} for e in events],
        "flows": definition["sequence_flows"],
        "steps": steps,
        "xml_url": f"/api/v1/process-definitions/{instance['process_key']}/xml?version={instance['version']}",
        "export_url": f"/api/v1/process-instances/{instance_id}/export",
        "late_count": sum(1 for e in timeline if e["late"]),
    }


def lateness(action: str, task: dict | None, at: datetime, due: datetime | None, closed_at: dict) -> str | None:
    """Whether the event marks a late step: "completed" (done after its due time), "open" (the step's
    creation, when it is still open past its due time) or "cancelled" (withdrawn only after it was due)."""
    if task is None or due is None:
        return None
    if action == "task_completed":
        return "completed" if at > due else None
    if action != "task_created" or task["status"] == "completed":
        return None
    until = utcnow() if task["status"] == "open" else closed_at.get(task["id"], closed_at.get(None, utcnow()))
    return task["status"] if until > due else None


def _cancellations(events: list[dict], instance: dict) -> dict[str | None, datetime]:
    """When each cancelled step was withdrawn (by its task id; None: when the case ended, for the rest)."""
    found: dict[str | None, datetime] = {}
    for event in events:
        if event["action"] == "task_cancelled" and (event.get("data") or {}).get("task_id"):
            found[event["data"]["task_id"]] = datetime.fromisoformat(event["at"])
    if instance.get("ended_at"):
        found[None] = datetime.fromisoformat(instance["ended_at"])
    return found


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value or [] if isinstance(v, str)] if isinstance(value, list) else []


@bp.get("/audit/instances/<instance_id>")
@auditors_only
def audit_instance(instance_id: str):  # noqa: ANN201
    return page("audit/instance.html", **case_context(instance_id))


@bp.get("/audit/instances/<instance_id>/verify")
@auditors_only
def audit_verify_instance(instance_id: str):  # noqa: ANN201
    result = engine().verify(me(), instance_id)
    return page("audit/_verification.html", result=shown_verification(result), scope="instance")


@bp.get("/audit/verify")
@auditors_only
def audit_verify_all():  # noqa: ANN201
    result = engine().verify(me())
    return page("audit/_verification.html", result=shown_verification(result), scope="all")


def shown_verification(result: dict) -> dict:
    """Each broken row with when it was written and why, in the page's language (by the engine's code)."""
    broken = []
    for link in result["broken"]:
        since = i18n.when(link["at"], with_year=True) if link.get("at") else ""
        reason = i18n.t_or(f"audit.reason.{link.get('code')}", link["reason"])
        broken.append(link | {"since": since, "reason": reason})
    return result | {"broken": broken}


@bp.get("/audit/instances/<instance_id>/case-file")
@auditors_only
def audit_case_file(instance_id: str):  # noqa: ANN201
    """The printable case file: one self-contained HTML page, signed, with the diagram drawn in SVG."""
    from engine.case_file import embedded_case

    context = case_context(instance_id)
    xml = context["case"]["definition"].get("bpmn_xml") or ""
    html = render_template(
        "audit/case_file.html",
        diagram=diagram_svg(xml, context["path"], context["steps"]),
        embedded=Markup(embedded_case(context["case"])),
        key=engine().export_public_key(),
        printed_at=i18n.when(datetime.now(i18n.BEIJING), with_year=True),
        **context,
    )
    body = engine().sign_case_file(html)
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"}
    if request.args.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="case-{instance_id}.html"'
    return Response(body, mimetype="text/html", headers=headers)
