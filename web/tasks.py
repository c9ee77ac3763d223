"""The task page: the form (form-js, pre-filled), the actions on the task, why it is mine, the case's
timeline, comments and a small diagram; and bulk completion of identical confirmations.

Completing posts JSON (the form-js data) and answers JSON: field errors by form-js component id, a
sentence for conflicts. The other actions are plain HTML forms that come back to the page.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, redirect, render_template, request

from engine.errors import Conflict, FormInvalid, GovflowError, NotAllowed, RuleBroken
from web import i18n
from web.case import case_view, field_ids
from web.inbox import DONE_NOTICES, failure, selected_ids
from web.messages import conflict_sentence, field_message
from web.workspace import bp, engine, me, page, signed_in


@bp.get("/tasks/<task_id>")
@signed_in
def task_page(task_id: str):  # noqa: ANN201
    return render_task(task_id)


def render_task(task_id: str, notice: str | None = None, tone: str = "info", status: int = 200) -> Any:
    did = request.args.get("did")
    if notice is None and did in DONE_NOTICES:
        notice, tone = i18n.t(DONE_NOTICES[did]), "success"
    context = case_view(task_id)
    return page("task.html", status, notice=notice, tone=tone, **context)


# --- completing ---------------------------------------------------------------------------------


@bp.post("/tasks/<task_id>/complete")
@signed_in
def complete(task_id: str):  # noqa: ANN201
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return answer(False, i18n.t("form.bad_submission"), 400)
    by = me()
    try:
        task = engine().get_task(task_id, by)
        result = engine().complete(task_id, by, data)
    except FormInvalid as exc:
        schema = (task.get("form") or {}).get("schema") or {}
        return answer(False, i18n.t("form.has_errors"), 422, errors=form_errors(exc, schema))
    except Conflict as exc:
        return answer(False, conflict_sentence(engine(), task_id, by, exc), 409)
    return answer(True, i18n.t("notice.completed_named", task=task["name"]), 200, redirect=after_completion(result))


def after_completion(result: dict) -> str:
    """Straight on to the next step when it is this official's to work, else back to the inbox."""
    by = me()
    for task in result["next_tasks"]:
        candidate = task["candidate"]
        mine = task["assignee"] == by.username or (
            task["assignee"] is None and by.person.holds(candidate["role"] or "", candidate["org_unit"] or "")
        )
        if mine:
            return f"/tasks/{task['id']}?did=complete"
    return "/inbox?did=complete"


def form_errors(exc: FormInvalid, schema: dict) -> list[dict]:
    """Each field error with the form-js component it belongs to (None: show it above the form)."""
    ids = field_ids(schema)
    return [{"field": e.field, "id": ids.get(e.field), "message": field_message(e)} for e in exc.errors]


def answer(ok: bool, message: str, status: int, **extra: Any) -> Any:
    response = jsonify(ok=ok, message=message, **extra)
    response.status_code = status
    return response


# --- the other actions: HTML forms that come back to the task page or go to the inbox ------------


@bp.post("/tasks/<task_id>/<action>")
@signed_in
def act(task_id: str, action: str):  # noqa: ANN201
    form = request.form
    by = me()
    operations = {
        "claim": lambda: engine().claim(task_id, by),
        "unclaim": lambda: engine().unclaim(task_id, by),
        "transfer": lambda: engine().transfer(task_id, by, form.get("to", ""), form.get("comment", "")),
        "delegate": lambda: engine().delegate(task_id, by, form.get("to", ""), form.get("comment", "")),
        "return": lambda: engine().return_task(task_id, by, form.get("reason", ""), form.get("to_element") or None),
        "comment": lambda: engine().add_comment(task_id, by, form.get("text", "")),
        "urge": lambda: engine().urge(task_id, by, form.get("comment", "")),
        "copy": lambda: engine().copy_task(task_id, by, split_names(form.get("to", "")), form.get("note", "")),
    }
    if action not in operations:
        return render_task(task_id, i18n.t("error.not_found"), "error", 404)
    try:
        operations[action]()
    except (Conflict, RuleBroken, NotAllowed) as exc:
        return render_task(task_id, conflict_sentence(engine(), task_id, by, exc), "error", exc.status)
    if action in ("transfer", "delegate", "return"):
        return redirect(f"/inbox?did={action}&task={task_id}", code=303)
    return redirect(f"/tasks/{task_id}?did={action}", code=303)


def split_names(text: str) -> list[str]:
    return [n for n in text.replace("，", ",").replace(",", " ").split() if n]


# --- bulk completion of identical confirmations ---------------------------------------------------


@bp.get("/inbox/complete")
@signed_in
def bulk_complete_page():  # noqa: ANN201
    """One form for several tasks of the same step: filled once, submitted to each."""
    ids = selected_ids(request.args.getlist("ids"))
    by = me()
    tasks = [engine().get_task(i, by) for i in ids]
    steps = {(t["process_key"], t["element_id"], (t.get("form") or {}).get("key")) for t in tasks}
    if len(steps) > 1:
        raise RuleBroken(i18n.t("bulk.different_steps"))
    return page("bulk_complete.html", tasks=tasks, form=tasks[0].get("form"), ids=ids)


@bp.post("/inbox/complete")
@signed_in
def bulk_complete():  # noqa: ANN201
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict) or not isinstance(body.get("ids"), list):
        return answer(False, i18n.t("form.bad_submission"), 400)
    shared = {k: v for k, v in body["data"].items() if v not in ("", None, [])}
    by = me()
    report = []
    for task_id in selected_ids([i for i in body["ids"] if isinstance(i, str)]):
        try:
            task = engine().get_task(task_id, by)
            engine().complete(task_id, by, task["data"] | shared)
            report.append(
                {"ok": True, "name": task["name"], "key": task["business_key"], "text": i18n.t("bulk.completed")}
            )
        except FormInvalid as exc:
            text = "；".join(f"{e.field}: {field_message(e)}" if e.field else field_message(e) for e in exc.errors)
            report.append({"ok": False, "name": task["name"], "key": task["business_key"], "text": text})
        except GovflowError as exc:
            report.append(failure(task_id, exc))
    done = sum(1 for r in report if r["ok"])
    return answer(
        done == len(report),
        i18n.t("bulk.summary", done=done, total=len(report)),
        200,
        html=render_template("_bulk_report.html", report=report),
    )
