"""Retention (admins at city level): how long finished instances are kept, the purge that applies it,
and the tombstones purges left. Auditors read the setting and the tombstones."""

from __future__ import annotations

from flask import redirect, request

from engine.errors import RuleBroken
from web import i18n
from web.audit.access import auditors_only
from web.workspace import bp, engine, me, page

DONE = {"saved": "audit.retention.saved", "purged": "audit.retention.purged"}


@bp.get("/audit/retention")
@auditors_only
def audit_retention():  # noqa: ANN201
    did = request.args.get("did")
    notice = i18n.t(DONE[did], n=request.args.get("n", "0")) if did in DONE else None
    return page(
        "audit/retention.html",
        retention=engine().retention(),
        tombstones=engine().tombstones(me(), limit=50),
        may_change=me().person.has_role("admin"),
        notice=notice,
        tone="success",
    )


@bp.post("/audit/retention")
@auditors_only
def audit_set_retention():  # noqa: ANN201
    keep = request.form.get("keep")
    days: int | None = None
    if keep != "forever":
        try:
            days = int(request.form.get("days", ""))
        except ValueError as exc:
            raise RuleBroken(i18n.t("audit.retention.bad_days")) from exc
    engine().set_retention(me(), days)
    return redirect("/audit/retention?did=saved", code=303)


@bp.post("/audit/purge")
@auditors_only
def audit_purge():  # noqa: ANN201
    result = engine().purge_finished(me())
    return redirect(f"/audit/retention?did=purged&n={result['purged']}", code=303)
