"""The statistics page: instances by status, step durations (median, p90), overdue rates and the task
load pushed to each committee per month by department, as SVG charts with the figures in tables."""

from __future__ import annotations

from flask import request

from engine.errors import GovflowError
from web import i18n
from web.audit import charts
from web.audit.access import auditors_only
from web.audit.case import duration_text
from web.audit.search import STATUSES, engine_filters, form_filters
from web.messages import error_sentence
from web.workspace import bp, engine, me, page

SHOWN_COMMITTEES = 8  # the most burdened committees get a chart each
# ... and the table lists the most burdened: a city's 6,000 committees made a page of several megabytes.
# The others are a unit filter away.
TABLE_COMMITTEES = 50


def department_label(code: str) -> str:
    return i18n.t_or(f"audit.department.{code}", code)


@bp.get("/audit/statistics")
@auditors_only
def audit_statistics():  # noqa: ANN201
    filters = {
        k: v
        for k, v in form_filters(request.args).items()
        if k in ("process_key", "org_unit", "started_from", "started_to")
    }
    notice = None
    try:
        stats = engine().procedure_statistics(me(), **engine_filters(filters))
    except GovflowError as exc:
        stats, notice = (
            {
                "instances": dict.fromkeys(STATUSES, 0),
                "steps": [],
                "committee_load": {"months": [], "departments": [], "committees": []},
            },
            error_sentence(exc),
        )
    definitions = {d["key"]: d["name"] for d in engine().list_definitions(latest=True)}
    steps = [
        s
        | {
            "procedure": definitions.get(s["process_key"], s["process_key"]),
            "median": duration_text(s["median_seconds"]) if s["median_seconds"] is not None else "—",
            "p90": duration_text(s["p90_seconds"]) if s["p90_seconds"] is not None else "—",
            "rate": f"{s['overdue_rate'] * 100:.0f}%" if s["overdue_rate"] is not None else "—",
        }
        for s in stats["steps"]
    ]
    status_chart = charts.bar_chart(
        i18n.t("audit.stats.by_status"),
        [charts.Bar(i18n.t(f"audit.status.{k}"), v, str(v)) for k, v in stats["instances"].items()],
    )
    timed = [s for s in steps if s["median_seconds"] is not None]
    duration_chart = charts.paired_bar_chart(
        i18n.t("audit.stats.durations"),
        [
            (s["name"], s["median_seconds"] / 3600, s["p90_seconds"] / 3600, f"{s['median']} / {s['p90']}")
            for s in timed
        ],
        (i18n.t("audit.stats.median"), i18n.t("audit.stats.p90")),
    )
    rated = [s for s in steps if s["overdue_rate"] is not None]
    overdue_chart = charts.bar_chart(
        i18n.t("audit.stats.overdue_rate"),
        [charts.Bar(s["name"], s["overdue_rate"] * 100, s["rate"]) for s in rated],
        charts.PALETTE[2],
    )
    load = stats["committee_load"]
    labels = {d: department_label(d) for d in load["departments"]}
    committees = []
    for committee in load["committees"][:TABLE_COMMITTEES]:
        months = {m: {labels[d]: n for d, n in per.items()} for m, per in committee["months"].items()}
        committees.append(committee | {"by_month": months})
    load_charts = [
        (
            c["name"],
            charts.stacked_columns(
                i18n.t("audit.stats.load_of", committee=c["name"]), load["months"], list(labels.values()), c["by_month"]
            ),
        )
        for c in committees[:SHOWN_COMMITTEES]
    ]
    return page(
        "audit/statistics.html",
        filters=filters,
        definitions=definitions,
        units=engine().unit_choices(me(), filters.get("org_unit")),
        as_of=i18n.when(stats["as_of"], with_year=True) if stats.get("as_of") else None,
        instances=stats["instances"],
        steps=steps,
        status_chart=status_chart,
        duration_chart=duration_chart if timed else None,
        overdue_chart=overdue_chart if rated else None,
        months=load["months"],
        committees=committees,
        committees_total=len(load["committees"]),
        load_charts=load_charts,
        notice=notice,
        tone="error",
    )
