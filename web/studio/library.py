"""The process library (/studio): every process with its versions (who deployed, when, instances running on
each), the designer's drafts, a diff of two versions; opening a version, starting or importing a process."""

from __future__ import annotations

from flask import redirect, request

from engine.errors import RuleBroken
from web import i18n
from web.studio.access import designers_only
from web.studio.problems import shown_problem
from web.workspace import bp, engine, me, page

FIELD_KEYS = (
    "type", "name", "lane", "form", "timer", "condition", "source", "target", "default", "script",
    "called_element", "decision", "message", "attached_to", "properties",
)  # fmt: skip


@bp.get("/studio")
@designers_only
def studio_library():  # noqa: ANN201
    entries = engine().process_library(me())
    people = {v["deployed_by"] for e in entries for v in e["versions"]} | {
        d["owner"] for e in entries for d in e["drafts"]
    }
    names = engine().display_names(people)
    return page("studio/library.html", entries=entries, names=names)


@bp.post("/studio/open")
@designers_only
def studio_open():  # noqa: ANN201
    key = (request.form.get("process_key") or "").strip()
    version = request.form.get("version") or None
    draft = engine().create_draft(me(), process_key=key, version=int(version) if version else None)
    return redirect(f"/studio/drafts/{draft['id']}", code=303)


@bp.post("/studio/new")
@designers_only
def studio_new():  # noqa: ANN201
    key = (request.form.get("process_id") or "").strip()
    if not key:
        raise RuleBroken(i18n.t("studio.new.need_id"))
    draft = engine().create_draft(me(), new_process=key, title=(request.form.get("title") or "").strip() or None)
    return redirect(f"/studio/drafts/{draft['id']}", code=303)


@bp.post("/studio/import")
@designers_only
def studio_import():  # noqa: ANN201
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise RuleBroken(i18n.t("studio.import.need_file"))
    draft = engine().import_draft(me(), upload.filename, upload.read())
    warnings = [shown_problem(w, "warning") for w in draft["warnings"]]
    return page("studio/imported.html", draft=draft, warnings=warnings)


@bp.post("/studio/drafts/<draft_id>/delete")
@designers_only
def studio_delete_draft(draft_id: str):  # noqa: ANN201
    engine().delete_draft(draft_id, me())
    return redirect("/studio", code=303)


@bp.get("/studio/processes/<key>/diff")
@designers_only
def studio_diff(key: str):  # noqa: ANN201
    try:
        before, after = int(request.args.get("from", "")), int(request.args.get("to", ""))
    except ValueError as exc:
        raise RuleBroken(i18n.t("studio.diff.need_versions")) from exc
    diff = engine().diff_versions(key, before, after, me())
    return page("studio/diff.html", diff=diff, fields={f: i18n.t(f"studio.field.{f}") for f in FIELD_KEYS})
