"""The inbox: 待办 (mine), 待认领 (my group's), 已办 (done by me), 抄送 (copied to me); filters, search,
paging, counts per tab, refreshed in place by htmx polling; bulk claim and bulk completion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, request

from engine.errors import GovflowError, RuleBroken
from engine.models import utcnow
from web import i18n
from web.messages import conflict_sentence, error_sentence
from web.workspace import bp, engine, me, page, signed_in

TABS = ("mine", "candidate", "done", "copied")
SORTS = ("priority", "created", "-created", "due")
PAGE_SIZE = 20
POLL_SECONDS = 5
MAX_BULK = 50
# ?did=<action> after a redirect -> the notice the page then shows
DONE_NOTICES = {
    "claim": "notice.claimed",
    "unclaim": "notice.unclaimed",
    "transfer": "notice.transferred",
    "delegate": "notice.delegated",
    "return": "notice.returned",
    "comment": "notice.commented",
    "urge": "notice.urged",
    "copy": "notice.copied",
    "complete": "notice.completed",
    "start": "notice.started",
}


@bp.get("/")
def home():  # noqa: ANN201
    return redirect("/inbox")


@bp.get("/inbox")
@signed_in
def inbox():  # noqa: ANN201
    return page("inbox.html", **inbox_context())


@bp.get("/inbox/rows")
@signed_in
def inbox_rows():  # noqa: ANN201
    """The table, the pager and the tab counts (out of band): what the poll swaps in."""
    return page("_inbox_results.html", oob=True, **inbox_context())


def inbox_context() -> dict[str, Any]:
    tab = request.args.get("tab") if request.args.get("tab") in TABS else "mine"
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "priority"
    process_key = request.args.get("process") or None
    q = (request.args.get("q") or "").strip()[:100] or None
    overdue = request.args.get("overdue") == "1"
    cursor = request.args.get("cursor") or None
    definitions = {d["key"]: d["name"] for d in engine().list_definitions(latest=True)}
    did = request.args.get("did")
    notice = i18n.t(DONE_NOTICES[did]) if did in DONE_NOTICES else None
    try:
        found = tab_items(tab, process_key, q, overdue, sort, cursor)
    except RuleBroken as exc:  # a cursor edited by hand, a filter the engine refuses
        found, notice, did = {"items": [], "next_cursor": None}, error_sentence(exc), None
    return {
        "tab": tab,
        "tabs": TABS,
        "sort": sort,
        "sorts": SORTS,
        "process": process_key or "",
        "q": q or "",
        "overdue": overdue,
        "cursor": cursor,
        "definitions": definitions,
        "rows": rows(found["items"], definitions),
        "next_cursor": found["next_cursor"],
        "counts": counts(),
        "poll_seconds": POLL_SECONDS,
        "notice": notice,
        "tone": "success" if did in DONE_NOTICES else "error",
    }


def tab_items(tab: str, process_key: str | None, q: str | None, overdue: bool, sort: str, cursor: str | None) -> dict:
    by = me()
    if tab == "copied":
        return engine().copied_tasks(by, process_key=process_key, q=q, cursor=cursor, limit=PAGE_SIZE)
    status = "completed" if tab == "done" else "open"
    return engine().inbox(
        by,
        scope="mine" if tab == "done" else tab,
        status=status,
        process_key=process_key,
        q=q,
        due_before=utcnow() if overdue and status == "open" else None,
        sort="-created" if tab == "done" and sort == "priority" else sort,
        cursor=cursor,
        limit=PAGE_SIZE,
    )


def counts() -> dict[str, int]:
    by = me()
    counted = engine().task_counts(by)
    return {
        "mine": counted["mine"],
        "candidate": counted["candidate"],
        "done": counted["completed"],
        "copied": engine().copied_count(by),
    }


def rows(items: list[dict], definitions: dict[str, str]) -> list[dict]:
    """Inbox items with what the table shows: names instead of codes, Beijing times, overdue marked."""
    units = engine().org_unit_names(i["candidate"]["org_unit"] for i in items)
    people = engine().display_names(
        [i.get("assignee") for i in items] + [i.get("copy", {}).get("by") for i in items if i.get("copy")]
    )
    now = utcnow()
    shown = []
    for item in items:
        due = datetime.fromisoformat(item["due_at"]) if item.get("due_at") else None
        copy = item.get("copy")
        shown.append(
            item
            | {
                "procedure": definitions.get(item["process_key"], item["process_key"]),
                "unit": units.get(item["candidate"]["org_unit"], item["candidate"]["org_unit"] or ""),
                "received": i18n.when(copy["at"] if copy else item["created_at"]),
                "due": i18n.when(due) if due else "",
                "overdue": due is not None and due < now and item["status"] == "open",
                "assignee_name": people.get(item.get("assignee") or "", item.get("assignee") or ""),
                "copied_by": (
                    people.get(copy["by"], copy["by"]) if copy["by"] != "engine" else i18n.t("people.process")
                )
                if copy
                else "",
            }
        )
    return shown


# --- bulk actions: each item reported on its own ---------------------------------------------------


def selected_ids(values: list[str]) -> list[str]:
    ids = list(dict.fromkeys(v for v in values if v))
    if not ids:
        raise RuleBroken(i18n.t("bulk.none_selected"))
    if len(ids) > MAX_BULK:
        raise RuleBroken(i18n.t("bulk.too_many", max=MAX_BULK))
    return ids


@bp.post("/inbox/claim")
@signed_in
def bulk_claim():  # noqa: ANN201
    """认领所选: claim each selected task; one line per task, whether it worked or why not."""
    by = me()
    report = []
    for task_id in selected_ids(request.form.getlist("ids")):
        try:
            task = engine().claim(task_id, by)
            report.append(
                {"ok": True, "name": task["name"], "key": task["business_key"], "text": i18n.t("bulk.claimed")}
            )
        except GovflowError as exc:
            report.append(failure(task_id, exc))
    response = page("_bulk_report.html", report=report)
    return response[0], response[1], {"HX-Trigger": "inbox-changed"}


def failure(task_id: str, exc: GovflowError) -> dict:
    """One line of a bulk report for a task that could not be done, with its name when it can be read."""
    try:
        task = engine().get_task(task_id, me())
        name, key = task["name"], task["business_key"]
    except GovflowError:
        name, key = task_id, None
    return {"ok": False, "name": name, "key": key, "text": conflict_sentence(engine(), task_id, me(), exc)}
