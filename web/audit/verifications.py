"""Verifying everything in reach in the background: the search page asks, `govflow worker` replays the
chains, and the page follows its progress until the result (engine/commands/verifications.py)."""

from __future__ import annotations

from web import i18n
from web.audit.access import auditors_only
from web.audit.case import shown_verification
from web.workspace import bp, engine, me, page

POLL_SECONDS = 2


def shown_run(run: dict) -> dict:
    """A verification as the page shows it: its times in the page's language, its breaks explained."""
    shown = run | {"asked": i18n.when(run["requested_at"], with_year=True)}
    if run["finished_at"]:
        shown["finished"] = i18n.when(run["finished_at"], with_year=True)
    if run["status"] == "done":
        shown = shown | shown_verification(run)
    return shown


@bp.post("/audit/verifications")
@auditors_only
def ask_verification():  # noqa: ANN201
    run = engine().request_verification(me())
    return page("audit/_verification_run.html", run=shown_run(run), poll=POLL_SECONDS, status=202)


@bp.get("/audit/verifications/<verification_id>")
@auditors_only
def verification_run(verification_id: str):  # noqa: ANN201
    run = engine().verification(me(), verification_id)
    return page("audit/_verification_run.html", run=shown_run(run), poll=POLL_SECONDS)
