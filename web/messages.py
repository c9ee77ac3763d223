"""The engine's sentences as officials read them: translated where the workspace knows the situation,
the engine's own sentence where it does not. Conflicts name who and when, never an error page."""

from __future__ import annotations

from engine import Engine, Principal
from engine.commands.access import BadCredentials, TooManyAttempts
from engine.errors import Conflict, FormInvalid, GovflowError, NotAllowed, NotFound
from forms.errors import FieldError
from web import i18n


def error_sentence(error: GovflowError) -> str:
    if isinstance(error, BadCredentials):
        return i18n.t("signin.bad_credentials")
    if isinstance(error, TooManyAttempts):
        return i18n.t("signin.too_many", minutes=max(1, error.retry_after // 60 + 1))
    if isinstance(error, NotAllowed) and "CSRF" in str(error):
        return i18n.t("error.csrf")
    if isinstance(error, FormInvalid):
        return i18n.t("form.has_errors")
    if isinstance(error, NotFound):
        return i18n.t_or("error.not_found", str(error))
    return str(error)


def field_message(error: FieldError) -> str:
    return i18n.t_or(f"form.error.{error.code}", error.message, **error.params)


def conflict_sentence(engine: Engine, task_id: str, by: Principal, error: GovflowError) -> str:
    """What changed under the official, from the task as it is now: "「街道审核」已由 张伟 于 10:02 办结。"."""
    if not isinstance(error, Conflict):
        return error_sentence(error)
    try:
        task = engine.get_task(task_id, by)
    except GovflowError:
        return error_sentence(error)
    names = engine.display_names([task.get("completed_by"), task.get("assignee"), task.get("owner")])

    def name(username: str | None) -> str:
        return names.get(username or "", username or i18n.t("people.someone"))

    if task["status"] == "completed":
        return i18n.t(
            "conflict.completed", task=task["name"], who=name(task["completed_by"]), at=i18n.clock(task["completed_at"])
        )
    if task["status"] == "cancelled":
        return i18n.t("conflict.cancelled", task=task["name"])
    if task.get("delegation") == "pending" and task.get("assignee") != by.username:
        return i18n.t("conflict.delegated", task=task["name"], who=name(task["assignee"]), owner=name(task["owner"]))
    if task.get("assignee") and task["assignee"] != by.username:
        return i18n.t("conflict.claimed", task=task["name"], who=name(task["assignee"]))
    return error_sentence(error)
