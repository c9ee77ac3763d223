"""Starting a procedure: the processes this official may start, for their unit or one below it."""

from __future__ import annotations

from flask import redirect, request

from engine.errors import GovflowError
from web.messages import error_sentence
from web.workspace import bp, engine, me, page, signed_in


@bp.get("/start")
@signed_in
def start_page():  # noqa: ANN201
    return page("start.html", **engine().startable(me()))


@bp.post("/start")
@signed_in
def start():  # noqa: ANN201
    by = me()
    key = request.form.get("process_key", "")
    unit = request.form.get("org_unit", "")
    business_key = request.form.get("business_key", "").strip()[:200] or None
    try:
        started = engine().start(key, unit, by=by, business_key=business_key)
    except GovflowError as exc:
        offer = engine().startable(by)
        return page("start.html", exc.status, notice=error_sentence(exc), tone="error", chosen=key, **offer)
    for task in started["tasks"]:
        candidate = task["candidate"]
        if by.person.holds(candidate["role"] or "", candidate["org_unit"] or ""):
            return redirect(f"/tasks/{task['id']}?did=start", code=303)
    return redirect(f"/inbox?did=start&instance={started['id']}", code=303)
