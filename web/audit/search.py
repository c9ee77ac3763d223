"""Finding cases: the search form (procedure, org unit, status, dates, actor, business key, missed
deadline), its results page by page, and each auditor's saved searches."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request

from engine.errors import GovflowError, RuleBroken
from web import i18n
from web.audit.access import auditors_only
from web.audit.verifications import POLL_SECONDS, shown_run
from web.messages import error_sentence
from web.workspace import bp, engine, me, page

PAGE_SIZE = 20
STATUSES = ("running", "completed", "cancelled", "suspended", "failed")
TEXT_FILTERS = ("process_key", "org_unit", "status", "actor", "q", "started_from", "started_to")
MISSED = {"yes": True, "no": False}


def form_filters(values: Any) -> dict[str, Any]:
    """The filters as the form and saved searches hold them: texts, and missed_deadline as true/false."""
    found: dict[str, Any] = {}
    for name in TEXT_FILTERS:
        value = (values.get(name) or "").strip()[:200]
        if value:
            found[name] = value
    if values.get("missed_deadline") in MISSED:
        found["missed_deadline"] = MISSED[values.get("missed_deadline")]
    elif isinstance(values.get("missed_deadline"), bool):
        found["missed_deadline"] = values.get("missed_deadline")
    return found


def query_string(filters: dict[str, Any]) -> str:
    shown = {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in filters.items()}
    return urlencode(shown)


def _day(text: str, field: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise RuleBroken(i18n.t("audit.search.bad_date", field=i18n.t(f"audit.search.{field}"))) from exc
    return datetime(day.year, day.month, day.day, tzinfo=i18n.BEIJING)


def engine_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """The engine's arguments: dates are whole days in Beijing time, the end day included."""
    found = {k: v for k, v in filters.items() if k not in ("started_from", "started_to")}
    if filters.get("started_from"):
        found["started_from"] = _day(filters["started_from"], "started_from")
    if filters.get("started_to"):
        found["started_to"] = _day(filters["started_to"], "started_to") + timedelta(days=1)
    if found.get("status") and found["status"] not in STATUSES:
        raise RuleBroken(i18n.t("audit.search.bad_status"))
    return found


@bp.get("/audit")
@auditors_only
def audit_search():  # noqa: ANN201
    filters = form_filters(request.args)
    cursor = request.args.get("cursor") or None
    notice, tone = None, "info"
    if request.args.get("saved"):
        notice, tone = i18n.t("audit.search.saved_notice", name=request.args["saved"][:100]), "success"
    try:
        found = engine().list_instances(me(), cursor=cursor, limit=PAGE_SIZE, **engine_filters(filters))
    except GovflowError as exc:
        found, notice, tone = {"items": [], "next_cursor": None}, error_sentence(exc), "error"
    definitions = {d["key"]: d["name"] for d in engine().list_definitions(latest=True)}
    names = engine().org_unit_names(i["org_unit"] for i in found["items"])
    people = engine().display_names(i["started_by"] for i in found["items"])
    rows = [
        item
        | {
            "procedure": definitions.get(item["process_key"], item["process_key"]),
            "unit": names.get(item["org_unit"], item["org_unit"]),
            "starter": people.get(item["started_by"], item["started_by"]),
        }
        for item in found["items"]
    ]
    return page(
        "audit/search.html",
        filters=filters,
        missed=("yes" if filters["missed_deadline"] else "no") if "missed_deadline" in filters else "",
        definitions=definitions,
        units=engine().unit_choices(me(), filters.get("org_unit")),
        statuses=STATUSES,
        rows=rows,
        next_cursor=found["next_cursor"],
        next_query=query_string(filters | {"cursor": found["next_cursor"]}) if found["next_cursor"] else "",
        saved=[s | {"query": query_string(s["filters"])} for s in engine().saved_searches(me())],
        last_run=next((shown_run(run) for run in engine().verifications(me(), limit=1)), None),
        poll=POLL_SECONDS,
        current_query=query_string(filters),
        notice=notice,
        tone=tone,
    )


@bp.post("/audit/searches")
@auditors_only
def save_search():  # noqa: ANN201
    filters = form_filters(request.form)
    name = request.form.get("name", "")
    saved = engine().save_search(me(), name, filters)
    return redirect(f"/audit?{query_string(filters | {'saved': saved['name']})}", code=303)


@bp.post("/audit/searches/<int:search_id>/delete")
@auditors_only
def delete_search(search_id: int):  # noqa: ANN201
    engine().delete_saved_search(me(), search_id)
    return redirect(f"/audit?{query_string(form_filters(request.form))}", code=303)
