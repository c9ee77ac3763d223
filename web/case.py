"""What the task page shows about the task and its case, gathered from engine reads: the official's
relation to the task, the sentence saying why it is theirs, the timeline, comments and the diagram path."""

from __future__ import annotations

from typing import Any

from engine.errors import NotAllowed
from engine.principal import Principal
from web import i18n
from web.workspace import engine, me

# Audit actions the timeline shows; the engine's bookkeeping (gateways, end events) stays in the audit view.
TIMELINE_ACTIONS = {
    "instance_started",
    "task_created",
    "task_claimed",
    "task_unclaimed",
    "task_completed",
    "task_transferred",
    "task_delegated",
    "task_resolved",
    "task_returned",
    "task_withdrawn",
    "task_reopened",
    "task_commented",
    "task_urged",
    "task_copied",
    "task_cancelled",
    "instance_completed",
    "instance_failed",
    "instance_cancelled",
    "instance_suspended",
    "instance_resumed",
}


def case_view(task_id: str) -> dict[str, Any]:
    by = me()
    task = engine().get_task(task_id, by)
    instance = engine().get_instance(task["instance_id"], by)
    definition = engine().get_definition(instance["process_key"], instance["version"])
    history = engine().history(instance["id"], by)
    comments = engine().instance_comments(instance["id"], by)
    path = engine().path(instance["id"], by)
    try:
        people = engine().task_people(task_id, by)
    except NotAllowed:  # a copy opens the case to read, not the people who work it
        people = None
    step_names = {element: info.get("name") or element for element, info in definition["user_tasks"].items()}
    for event in history:
        if event["action"] == "task_created" and event["data"].get("name"):
            step_names.setdefault(event["element_id"], event["data"]["name"])
    usernames = [e["actor"]["username"] for e in history] + [c["author"]["username"] for c in comments]
    usernames += [task.get("assignee"), task.get("owner"), task.get("completed_by"), instance["started_by"]]
    usernames += [to for e in history for to in _targets(e)]
    names = engine().display_names(usernames)
    units = engine().org_unit_names([task["candidate"]["org_unit"], instance["org_unit"]])
    relation = relation_to(by, task, people is not None, engine().task_rights(task_id, by))
    return {
        "task": task,
        "instance": instance,
        "procedure": definition["name"],
        "relation": relation,
        "why": why_sentence(by, task, instance, relation, history, names, units),
        "unit": units.get(task["candidate"]["org_unit"] or "", task["candidate"]["org_unit"] or ""),
        "timeline": timeline(history, step_names, names),
        "comments": [c | {"who": names.get(c["author"]["username"], c["author"]["username"])} for c in comments],
        "path": path,
        "people": people,
        "return_targets": return_targets(task, history, step_names),
        "due": i18n.when(task["due_at"], with_year=True) if task.get("due_at") else "",
        "xml_url": f"/api/v1/process-definitions/{instance['process_key']}/xml?version={instance['version']}",
        "current_step": ", ".join(step_names.get(a, a) for a in path["active"]),
    }


def relation_to(by: Principal, task: dict, reaches: bool, rights: dict[str, bool]) -> dict[str, bool]:
    """What this official may do with the task, as far as the page offers it (the engine has the last word:
    `rights` is its answer on commenting, copying and urging, so an auditor is offered none of them)."""
    candidate = task["candidate"]
    is_candidate = (
        by.person.holds(candidate["role"], candidate["org_unit"])
        if candidate["role"]
        else any(h.org_code == candidate["org_unit"] for h in by.person.holdings)
    )
    is_open = task["status"] == "open"
    mine = task["assignee"] == by.username
    delegated_away = task.get("delegation") == "pending" and not mine
    can_work = is_open and not delegated_away and (mine or (task["assignee"] is None and is_candidate))
    return {
        "open": is_open,
        "candidate": is_candidate,
        "mine": mine,
        "can_work": can_work,
        "can_claim": is_open and is_candidate and task["assignee"] is None,
        "can_unclaim": is_open and mine and task.get("delegation") != "pending",
        "can_delegate": can_work and task.get("delegation") is None,
        "can_urge": is_open and reaches and rights["urge"],
        "can_comment": is_open and reaches and rights["comment"],
        "can_copy": reaches and rights["copy"] and (is_candidate or mine),
        "read_only_copy": not reaches,
    }


def why_sentence(
    by: Principal,
    task: dict,
    instance: dict,
    relation: dict[str, bool],
    history: list[dict],
    names: dict[str, str],
    units: dict[str, str],
) -> str:
    """ "Why is this task mine", in one sentence."""

    def name(username: str | None) -> str:
        return names.get(username or "", username or i18n.t("people.someone"))

    unit = units.get(task["candidate"]["org_unit"] or "", task["candidate"]["org_unit"] or "")
    role = i18n.role_label(task["candidate"]["role"])
    case_unit = units.get(instance["org_unit"], instance["org_unit"])
    if task["status"] == "completed":
        return i18n.t("why.completed", who=name(task["completed_by"]), at=i18n.when(task["completed_at"], True))
    if task["status"] == "cancelled":
        return i18n.t("why.cancelled")
    if relation["read_only_copy"] or (not relation["candidate"] and not relation["mine"]):
        copied = [e for e in history if e["action"] == "task_copied" and by.username in e["data"].get("to", [])]
        if copied:
            who = copied[-1]["actor"]["username"]
            return i18n.t("why.copied", who=i18n.t("people.process") if who == "engine" else name(who))
        return i18n.t("why.others", unit=unit, role=role)
    if relation["mine"]:
        if task.get("delegation") == "pending":
            return i18n.t("why.delegated_to_me", owner=name(task["owner"]))
        if task.get("delegation") == "resolved":
            return i18n.t("why.delegation_back")
        moved = [
            e
            for e in history
            if e["action"] == "task_transferred"
            and e["data"].get("task_id") == task["id"]
            and e["data"].get("to") == by.username
        ]
        if moved:
            return i18n.t("why.transferred_to_me", who=name(moved[-1]["actor"]["username"]))
        return i18n.t("why.claimed", unit=unit, role=role)
    if task.get("delegation") == "pending" and task.get("owner") == by.username:
        return i18n.t("why.delegated_by_me", who=name(task["assignee"]))
    if task["assignee"]:
        return i18n.t("why.claimed_by_other", who=name(task["assignee"]), unit=unit, role=role)
    return i18n.t("why.candidate", unit=unit, role=role, case_unit=case_unit)


def _targets(event: dict) -> list[str]:
    data = event.get("data") or {}
    found = [data.get("to")] if isinstance(data.get("to"), str) else list(data.get("to") or [])
    return [u for u in found + [data.get("from")] if isinstance(u, str)]


def timeline(history: list[dict], step_names: dict[str, str], names: dict[str, str]) -> list[dict]:
    shown = []
    for event in history:
        action = event["action"]
        if action not in TIMELINE_ACTIONS:
            continue
        actor = event["actor"]["username"]
        data = event.get("data") or {}
        to = data.get("to")
        to_names = ", ".join(names.get(u, u) for u in ([to] if isinstance(to, str) else list(to or [])))
        shown.append(
            {
                "at": i18n.when(event["at"]),
                "at_iso": event["at"],
                "who": i18n.t("people.process") if actor == "engine" else names.get(actor, actor),
                "text": i18n.t_or(
                    f"timeline.{action}",
                    action,
                    step=step_names.get(event.get("element_id") or "", event.get("element_id") or ""),
                    to=to_names,
                    target=step_names.get(data.get("to_element") or "", data.get("to_element") or ""),
                ),
                "detail": data.get("reason") or data.get("comment") or data.get("text") or data.get("note") or "",
            }
        )
    return shown


def return_targets(task: dict, history: list[dict], step_names: dict[str, str]) -> list[dict]:
    """The earlier steps of the case that were completed, most recent first (where 退回 may send it)."""
    seen: dict[str, None] = {}
    for event in reversed(history):
        element = event.get("element_id")
        if event["action"] == "task_completed" and element and element != task["element_id"]:
            seen.setdefault(element, None)
    return [{"element_id": e, "name": step_names.get(e, e)} for e in seen]


def field_ids(schema: dict) -> dict[str, str]:
    """The dotted data path of every keyed form-js component -> its component id (groups with a `path`
    prefix their children; a dynamic list's rows are not mapped and show their errors above the form)."""
    found: dict[str, str] = {}

    def walk(components: list, prefix: str) -> None:
        for component in components or []:
            if not isinstance(component, dict):
                continue
            if component.get("key") and component.get("id"):
                found[prefix + str(component["key"])] = str(component["id"])
            if isinstance(component.get("components"), list) and not component.get("isRepeating"):
                path = component.get("path")
                walk(component["components"], f"{prefix}{path}." if path else prefix)

    walk(schema.get("components", []), "")
    return found
