"""The engine's sentences as officials read them, in the page's language: an engine error carries a code
and the values its sentence names (engine/errors.py), the catalogues hold `error.<code>` (web/i18n/errors),
and the values are shown as officials know them (names instead of usernames and unit codes, Beijing
times, the words of the page's language). Conflicts name who and when, never an error page."""

from __future__ import annotations

from datetime import datetime

from engine import Engine, Principal
from engine.errors import Conflict, GovflowError, NotFound
from forms.errors import FieldError
from web import i18n

# Parameters that name people, units, roles, states, times or words of the engine's English sentence.
PERSON_PARAMS = ("user", "assignee", "owner")
UNIT_PARAMS = ("unit", "successor")
TIME_PARAMS = ("at", "again")
WORD_PARAMS = ("field", "verb")  # -> error.<param>.<value>


def error_sentence(error: GovflowError) -> str:
    """The sentence for an engine error in the page's language (the engine's own sentence only for an
    error without a code, such as the pages' own, which are written in the page's language already)."""
    key = f"error.{error.code}" if error.code else None
    if key and key in i18n.catalogue(i18n.DEFAULT_LANGUAGE):
        return i18n.t(key, **shown_params(error.params))
    if isinstance(error, NotFound):
        return i18n.t("error.not_found")
    return str(error)


def shown_params(params: dict[str, object]) -> dict[str, object]:
    """An error's values as the page shows them: 张伟 for zhang, 五里桥街道 for wlq, 10:02, 理由."""
    people = [str(params[p]) for p in PERSON_PARAMS if params.get(p)]
    units = [str(params[p]) for p in UNIT_PARAMS if params.get(p)]
    known = (_engine().display_names(people) if people else {}) | (_engine().org_unit_names(units) if units else {})
    return {name: _shown(name, value, known) for name, value in params.items()}


def _shown(name: str, value: object, known: dict[str, str]) -> object:
    if name in PERSON_PARAMS:
        return known.get(str(value), value) if value else i18n.t("people.someone")
    if name in UNIT_PARAMS:
        return known.get(str(value), value) if value else ""
    if name == "role":
        return i18n.role_label(value if isinstance(value, str) else None)
    if name == "status":
        return i18n.t_or(f"audit.status.{value}", str(value))
    if name in TIME_PARAMS and isinstance(value, datetime | str):
        return i18n.clock(value)
    if name in WORD_PARAMS:
        return i18n.t_or(f"error.{name}.{value}", str(value))
    return value


def _engine() -> Engine:
    from web.workspace import engine

    return engine()


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
