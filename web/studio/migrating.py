"""Moving running instances to a newer version (/studio/processes/<key>/migrate): the dry run as a table
(each instance ok or blocked, and why), then the migration of the instances the designer ticks."""

from __future__ import annotations

from flask import request

from web import i18n
from web.studio.access import designers_only
from web.studio.problems import shown_reason
from web.workspace import bp, engine, me, page


def _shown(report: dict) -> dict:
    units = engine().org_unit_names(o["org_unit"] for o in report["instances"])
    rows = []
    for outcome in report["instances"]:
        rows.append(
            outcome
            | {
                "unit": units.get(outcome["org_unit"], outcome["org_unit"]),
                "status_label": i18n.t_or(f"audit.status.{outcome['status']}", outcome["status"]),
                "outcome_label": i18n.t(f"studio.migrate.outcome.{outcome['outcome']}"),
                "reason_texts": [shown_reason(r) for r in outcome["reasons"]],
            }
        )
    return report | {"rows": rows}


def _version(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("/studio/processes/<key>/migrate")
@designers_only
def studio_migrate(key: str):  # noqa: ANN201
    report = engine().migrate_instances(key, me(), to_version=_version(request.args.get("to")), dry_run=True)
    return page("studio/migrate.html", key=key, report=_shown(report), done=False)


@bp.post("/studio/processes/<key>/migrate")
@designers_only
def studio_migrate_run(key: str):  # noqa: ANN201
    chosen = request.form.getlist("instance_id")
    to_version = _version(request.form.get("to"))
    if not chosen:
        report = engine().migrate_instances(key, me(), to_version=to_version, dry_run=True)
        notice = i18n.t("studio.migrate.none_chosen")
        return page("studio/migrate.html", 422, key=key, report=_shown(report), done=False, notice=notice, tone="error")
    report = engine().migrate_instances(key, me(), to_version=to_version, instance_ids=chosen, dry_run=False)
    notice = i18n.t("studio.migrate.done", n=report["counts"]["migrated"], blocked=report["counts"]["blocked"])
    return page("studio/migrate.html", key=key, report=_shown(report), done=True, notice=notice, tone="success")
