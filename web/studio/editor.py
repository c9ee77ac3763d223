"""The editors of a draft: the BPMN modeler with govflow's properties panel (/studio/drafts/<id>), the form-js
editor and the dmn-js decision-table editor for the draft's other files, and the validation the editor asks
for (the engine's findings in the page's language). Saving and deploying go through the REST API."""

from __future__ import annotations

from flask import jsonify

from engine.errors import NotFound
from engine.roles import LANE_ROLES
from web import i18n
from web.studio.access import designers_only
from web.studio.problems import shown_report
from web.workspace import bp, engine, me, page

# The texts the editors' scripts show, handed to them as one JSON object in the page's language.
SCRIPT_TEXTS = (
    "saved", "saving", "save_failed", "unsaved", "validating", "no_problems", "deployed", "deploy_failed",
    "import_warnings", "leave_unsaved", "panel.process", "panel.id", "panel.name", "panel.executable",
    "panel.matter_kind", "panel.matter_none", "panel.matter_self", "panel.matter_assisted", "panel.assisted_matter",
    "panel.lane", "panel.lane_role", "panel.lane_none", "panel.role", "panel.role_pick", "panel.form",
    "panel.form_pick", "panel.form_hint", "panel.timer", "panel.timer_kind", "panel.timer_value", "panel.timer_hint",
    "panel.timer_ok", "panel.timer_checking", "panel.timer_value_now", "panel.deadline", "panel.add_deadline",
    "panel.condition", "panel.condition_hint", "panel.default_flow", "panel.default_none", "panel.is_default",
    "panel.script", "panel.decision", "panel.called_element", "panel.message", "panel.message_hint",
    "panel.nothing", "panel.id_taken", "panel.id_bad", "panel.type", "panel.interrupting",
    "kind.timeDate", "kind.timeDuration", "kind.timeCycle", "severity.error", "severity.warning",
    "problems.count", "problems.title", "file.saved", "file.form_id", "file.dmn_id",
)  # fmt: skip


def _texts() -> dict[str, str]:
    return {key: i18n.t(f"studio.js.{key}") for key in SCRIPT_TEXTS}


def _draft_context(draft_id: str) -> dict:
    draft = engine().get_draft(draft_id, me())
    choices = engine().studio_choices(me(), draft_id)
    files = draft["files"]
    bpmn = next((f["filename"] for f in files if f["kind"] == "bpmn"), None)
    return {
        "draft": draft,
        "bpmn_file": bpmn,
        "files": files,
        "roles": [{"id": r, "label": i18n.role_label(r)} for r in sorted(LANE_ROLES)],
        "forms": choices["forms"],
        "decisions": choices["decisions"],
        "processes": sorted({d["key"] for d in engine().list_definitions(latest=True)}),
        "texts": _texts(),
    }


@bp.get("/studio/drafts/<draft_id>")
@designers_only
def studio_editor(draft_id: str):  # noqa: ANN201
    context = _draft_context(draft_id)
    return page("studio/editor.html", **context)


@bp.get("/studio/drafts/<draft_id>/edit/<filename>")
@designers_only
def studio_file_editor(draft_id: str, filename: str):  # noqa: ANN201
    context = _draft_context(draft_id)
    kinds = {f["filename"]: f["kind"] for f in context["files"]}
    if kinds.get(filename) not in ("form", "dmn"):
        raise NotFound(i18n.t("studio.file.unknown", file=filename))
    return page("studio/file_editor.html", filename=filename, kind=kinds[filename], **context)


@bp.post("/studio/drafts/<draft_id>/problems")
@designers_only
def studio_problems(draft_id: str):  # noqa: ANN201
    return jsonify(shown_report(engine().validate_draft(draft_id, me())))
